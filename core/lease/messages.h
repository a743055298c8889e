// Lease protocol messages as plain values; the transport converts them to protobuf.
#pragma once

#include <optional>
#include <variant>
#include <vector>

#include "lease/types.h"

namespace quorate::lease {

struct Prepare {
  Ballot ballot;
  bool operator==(const Prepare&) const = default;
};
struct Promise {
  Ballot ballot;
  std::optional<LeaseView> lease;
  std::uint64_t maxEpoch = 0;
  bool operator==(const Promise&) const = default;
};
struct Accept {
  Ballot ballot;
  std::uint64_t epoch = 0;
  Duration lease{0};  // acceptor-side lease length, timed from receipt
  bool operator==(const Accept&) const = default;
};
struct Accepted {
  Ballot ballot;
  std::uint64_t epoch = 0;
  bool operator==(const Accepted&) const = default;
};
// kOutOfRange: a round or epoch beyond what the acceptor admits (see kMaxStep); nothing changed.
enum class RejectReason { kBallot, kLiveLease, kStaleEpoch, kLeaseTooLong, kOutOfRange };
struct Reject {
  Ballot ballot;    // the ballot being rejected
  Ballot promised;  // the acceptor's highest promise
  std::uint64_t maxEpoch = 0;
  std::optional<LeaseView> lease;
  RejectReason reason = RejectReason::kBallot;
  bool operator==(const Reject&) const = default;
};
struct Release {
  std::uint64_t epoch = 0;
  bool operator==(const Release&) const = default;
};
struct Handover {
  std::uint64_t epoch = 0;
  bool operator==(const Handover&) const = default;
};
struct Preempt {
  bool operator==(const Preempt&) const = default;
};
struct Ping {
  bool operator==(const Ping&) const = default;
};
struct Pong {
  bool operator==(const Pong&) const = default;
};

using Body = std::variant<Prepare, Promise, Accept, Accepted, Reject, Release, Handover, Preempt,
                          Ping, Pong>;

struct Message {
  NodeId from = 0;
  NodeId to = 0;
  Body body;
  Instance instance = 0;  // the sending process (a director's; 0 from the arbiter)
  bool operator==(const Message&) const = default;
};

const char* toString(RejectReason r);
const char* bodyName(const Body& b);

}  // namespace quorate::lease
