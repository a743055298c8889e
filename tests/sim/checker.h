// Safety oracle for simulated histories: one holder per real instant, tenure epochs that grow.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lease/types.h"
#include "sim/clock.h"

namespace quorate::sim {

// The simulated processes. Processes 0..2 run nodes 0..2 (directors A and B, the
// arbiter); process kCloneProc is a second process that believes it is director A
// (a cloned VM, a copied config). Safety is judged per process, never per node id:
// two processes with one id holding at once are two holders.
using ProcId = std::uint32_t;
inline constexpr ProcId kCloneProc = 3;
inline constexpr ProcId kMaxProcs = 4;
// "n0", "n1", "n2", and "n0'" for the clone.
std::string procName(ProcId p);

// A director process that holds the lease at some real instant (holds(its local now)).
struct HolderView {
  ProcId proc = 0;
  std::uint64_t epoch = 0;
  lease::Duration remaining{0};  // leaseEnd() minus the node's local now
};

struct Violation {
  RealTime at = 0;
  std::string what;  // one line
};

// Fed by the simulator after every event; remembers the first violation.
//
// History model: a tenure starts when a director reports a RoleChange to kHolder;
// the set of holders is sampled at real instants in non-decreasing order.
class Checker {
 public:
  // Without `checkEpochOrder` tenure epochs may repeat or go back (a lost disk loses
  // the epoch floor); one holder at a time is judged all the same.
  explicit Checker(lease::Duration holderLease, bool checkEpochOrder = true)
      : holderLease_(holderLease), checkEpochOrder_(checkEpochOrder) {}

  // A director process became holder with `epoch`. Every tenure, across processes
  // and restarts, must have an epoch above all earlier tenures'.
  void onTenure(RealTime at, ProcId proc, std::uint64_t epoch);
  // The process lost its state (crash): it has no current tenure any more.
  void onCrash(ProcId proc);
  // Everyone who holds at real instant `at`. At most one may; each must hold the
  // epoch of its current tenure and for no longer than holderLease from now.
  void onHolders(RealTime at, std::span<const HolderView> holders);

  // The data plane, kept simple: a director answers for the VIPs exactly while it
  // holds (its fence is timed by its own lease end, on its own clock), so answering is
  // judged by onHolders. Announcements (gratuitous ARP, NA) are frames the process sends
  // at its announce timer, past the fence; `proc` sent one at `at`, when `holders` hold.
  // A frame from a process that does not hold while another process holds pulls the
  // traffic to the wrong director: a violation.
  void onAnnounce(RealTime at, ProcId proc, std::span<const HolderView> holders);

  // Anything else the simulator finds broken (liveness, API contract).
  void fail(RealTime at, std::string what);

  bool ok() const { return !violation_.has_value(); }
  const std::optional<Violation>& violation() const { return violation_; }
  std::size_t tenureCount() const { return tenureCount_; }

 private:
  struct Tenure {
    RealTime at = 0;
    ProcId proc = 0;
    std::uint64_t epoch = 0;
  };

  lease::Duration holderLease_;
  bool checkEpochOrder_;
  std::optional<Violation> violation_;
  std::optional<Tenure> highest_;                    // the tenure with the highest epoch so far
  std::optional<std::uint64_t> current_[kMaxProcs];  // each process's tenure epoch
  std::size_t tenureCount_ = 0;
  RealTime lastSample_ = std::numeric_limits<RealTime>::min();
};

}  // namespace quorate::sim
