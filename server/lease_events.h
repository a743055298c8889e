// What the lease host tells the layers above it about each lease, and how they may hold a claim
// back: transitions as operators' scripts see them (holder, standby, fault, quorum lost,
// stopping) and a gate that must pass before the VIPs of a newly won lease are claimed. The
// host's thread calls both; neither may block it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace quorate::server {

// keepalived's states, as this director's hold on one lease moves between them.
enum class LeaseState { kNone, kHolder, kStandby, kFault, kStopping };
inline const char* toString(LeaseState s) {
  switch (s) {
    case LeaseState::kNone:
      return "none";
    case LeaseState::kHolder:
      return "holder";
    case LeaseState::kStandby:
      return "standby";
    case LeaseState::kFault:
      return "fault";
    case LeaseState::kStopping:
      return "stopping";
  }
  return "?";
}

struct Transition {
  std::size_t lease = 0;  // index into config.leases
  LeaseState from = LeaseState::kNone;
  LeaseState to = LeaseState::kStandby;
  // Set on the one kFault of a loss of quorum: a holder that could not renew (its VIPs are
  // already withdrawn), or a standby that lost contact with the majority. Reported once per
  // loss: the next one needs contact with the majority first.
  bool quorumLost = false;
  std::uint64_t epoch = 0;     // the lease's epoch: held, lost, or the holder's as known
  std::string previousHolder;  // node name of the holder before this transition ("" unknown)
  std::string reason;          // for people
};

class TransitionSink {
 public:
  virtual ~TransitionSink() = default;
  virtual void transition(const Transition& t) = 0;
};

// Work that must succeed between winning a lease and claiming its VIPs: fencing the holder
// before us when it vanished without releasing, and the pre-claim hooks.
class ClaimGate {
 public:
  virtual ~ClaimGate() = default;
  // Whether lease `lease` won at some epoch must wait for beforeClaim() (false: claim at once).
  // `unreleased`: the director that held the lease before us and never released it.
  virtual bool gates(std::size_t lease, const std::optional<std::string>& unreleased) const = 0;
  using Done = std::function<void(bool ok, const std::string& why)>;
  // Starts the work and returns at once; `done` is called exactly once, later, on the host's
  // thread (never from inside this call), unless cancel() came first.
  virtual void beforeClaim(std::size_t lease, std::uint64_t epoch,
                           const std::optional<std::string>& unreleased, Done done) = 0;
  // The lease was lost while the gate ran: stop it; its `done` is not called.
  virtual void cancel(std::size_t lease) = 0;
  // A planned release (step-down, stop) of `lease` waits for pre-release work when this is true.
  virtual bool hasPreRelease(std::size_t lease) const = 0;
  // Runs it and then calls `done` (whatever it returned), later, on the host's thread.
  virtual void beforeRelease(std::size_t lease, std::uint64_t epoch,
                             std::function<void()> done) = 0;
};

}  // namespace quorate::server
