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
