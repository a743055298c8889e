// Counting from the difference between a node before and after a step, so the lease core needs
// no hook of its own.
#include "server/metrics/lease_stats.h"

#include <algorithm>
#include <variant>

namespace quorate::server {

void LeaseStats::stepped(std::size_t i, const lease::DirectorNode& before,
                         const lease::DirectorNode& after, const lease::Output& out,
                         lease::Time now) {
  Lease& l = leases_.at(i);
  const auto& was = before.counters();
  const auto& is = after.counters();
  using lease::Role;
  // A renewal round runs while the node holds, before and after its start; a campaign's node is
  // a candidate.
  if (is.roundsStarted > was.roundsStarted && before.role() == Role::kHolder &&
      after.role() == Role::kHolder) {
    l.renewalStarted = now;
  }
  if (is.renewals > was.renewals && l.renewalStarted) {
    l.renewal.observe(now - *l.renewalStarted);
    l.renewalStarted.reset();
  }
  l.electionsWon += is.roundsWon - was.roundsWon;
  if (before.role() == Role::kCandidate) l.electionsLost += is.roundsFailed - was.roundsFailed;
  const bool released = std::any_of(out.send.begin(), out.send.end(), [](const lease::Message& m) {
    return std::holds_alternative<lease::Release>(m.body) ||
           std::holds_alternative<lease::Handover>(m.body);
  });
  for (const auto& c : out.changes) {
    if (c.to == Role::kHolder && c.from != Role::kHolder) ++l.acquired;
    if (c.from != Role::kHolder || c.to == Role::kHolder) continue;
    l.renewalStarted.reset();
    if (out.halt) {
      ++l.lost["halted"];
    } else if (released) {
      ++l.lost["released"];
    } else if (before.leaseEnd() <= now) {
      ++l.lost["expired"];
    } else {
      ++l.lost["refused"];  // cut short while time was left: another holder's lease was seen
    }
  }
}

}  // namespace quorate::server
