// Names of protocol values, for logs and traces.
#include "lease/messages.h"

#include <string>

namespace quorate::lease {

std::string toString(const Ballot& b) {
  std::string s =
      std::to_string(b.round) + "." + std::to_string(b.node) + "." + std::to_string(b.incarnation);
  // Only a clone needs the instance to tell ballots apart; keep traces short otherwise.
  if (b.instance != 0) s += "#" + std::to_string(b.instance % 1000);
  return s;
}

std::uint64_t rangeLimit(std::uint64_t known, Time since, Time now) {
  if (known >= kMaxCounter) return kMaxCounter;
  const auto elapsed = now > since ? (now - since) / kAllowancePerStep : 0;
  const std::uint64_t room = kMaxCounter - known;
  const std::uint64_t allowance = kMaxStep + static_cast<std::uint64_t>(elapsed);
  return allowance >= room ? kMaxCounter : known + allowance;
}

std::optional<std::uint64_t> nextCounter(std::uint64_t x) {
  if (x >= kMaxCounter) return std::nullopt;
  return x + 1;
}

const char* toString(RejectReason r) {
  switch (r) {
    case RejectReason::kBallot:
      return "higher ballot promised";
    case RejectReason::kLiveLease:
      return "another owner holds a live lease";
    case RejectReason::kStaleEpoch:
      return "epoch not above the acceptor's highest";
    case RejectReason::kLeaseTooLong:
      return "lease longer than the acceptor grants";
    case RejectReason::kOutOfRange:
      return "round or epoch out of range";
  }
  return "unknown";
}

const char* bodyName(const Body& b) {
  static constexpr const char* kNames[] = {"Prepare", "Promise",  "Accept",  "Accepted", "Reject",
                                           "Release", "Handover", "Preempt", "Ping",     "Pong"};
  static_assert(std::size(kNames) == std::variant_size_v<Body>);
  return kNames[b.index()];
}

}  // namespace quorate::lease
