// What the metrics count of each lease from the lease host's steps: campaign rounds won and
// lost, tenures acquired and lost (and why), and how long each renewal round took. Fed by
// LeaseHost::step() and read on the same (loop) thread: no lock, no atomics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics/histogram.h"
#include "lease/director_node.h"

namespace quorate::server {

class LeaseStats {
 public:
  struct Lease {
    std::uint64_t electionsWon = 0;   // campaign rounds that won the lease
    std::uint64_t electionsLost = 0;  // campaign rounds that failed
    std::uint64_t acquired = 0;       // tenures begun
    // Tenures ended, by why: "released" (step-down, handover, ill health, preemption),
    // "expired" (the renewals did not reach a majority before the end), "refused" (a renewal
    // met another holder's live lease), "halted" (a counter reached its limit).
    std::map<std::string, std::uint64_t> lost;
    // Seconds from a renewal round's start to its majority.
    metrics::Histogram renewal{metrics::latencyBuckets()};
    std::optional<lease::Time> renewalStarted;
  };

  explicit LeaseStats(std::size_t leases) : leases_(leases) {}

  // After a step of lease `i` that took its node from `before` to `after` with `out` (a step
  // undone for a failed write passes an empty output and the restored node: nothing counted).
  void stepped(std::size_t i, const lease::DirectorNode& before, const lease::DirectorNode& after,
               const lease::Output& out, lease::Time now);

  const Lease& lease(std::size_t i) const { return leases_.at(i); }
  void add() { leases_.emplace_back(); }  // a lease added by a reload, at the next index
  std::size_t size() const { return leases_.size(); }

 private:
  std::vector<Lease> leases_;
};

}  // namespace quorate::server
