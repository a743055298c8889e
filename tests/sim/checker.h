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

// A director that holds the lease at some real instant (holds(its local now) is true).
struct HolderView {
  lease::NodeId node = 0;
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
  explicit Checker(lease::Duration holderLease) : holderLease_(holderLease) {}

  // A director became holder with `epoch`. Every tenure, across directors and
  // restarts, must have an epoch above all earlier tenures'.
  void onTenure(RealTime at, lease::NodeId node, std::uint64_t epoch);
  // The director lost its state (crash): it has no current tenure any more.
  void onCrash(lease::NodeId node);
  // Everyone who holds at real instant `at`. At most one may; each must hold the
  // epoch of its current tenure and for no longer than holderLease from now.
  void onHolders(RealTime at, std::span<const HolderView> holders);

  // Anything else the simulator finds broken (liveness, API contract).
  void fail(RealTime at, std::string what);

  bool ok() const { return !violation_.has_value(); }
  const std::optional<Violation>& violation() const { return violation_; }
  std::size_t tenureCount() const { return tenureCount_; }

 private:
  struct Tenure {
    RealTime at = 0;
    lease::NodeId node = 0;
    std::uint64_t epoch = 0;
  };

  lease::Duration holderLease_;
  std::optional<Violation> violation_;
  std::optional<Tenure> highest_;  // the tenure with the highest epoch so far
  std::optional<std::uint64_t> current_[lease::kNodeCount];  // each director's tenure epoch
  std::size_t tenureCount_ = 0;
  RealTime lastSample_ = std::numeric_limits<RealTime>::min();
};

}  // namespace quorate::sim
