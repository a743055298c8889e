// The acceptor of PaxosLease: diskless for the lease, durable only for epochs.
#pragma once

#include <optional>

#include "lease/messages.h"

namespace quorate::lease {

// Deliberate protocol bugs, used only to show that the simulation's checker
// catches them. Production code never sets these.
struct AcceptorFaults {
  bool overwriteLiveLease = false;  // accept another owner while a lease is live
};

class Acceptor {
 public:
  struct Result {
    std::optional<Message> reply;
    bool persist = false;  // durable() changed: persist it before sending `reply`
  };

  // `maxLease` caps the lease an Accept may ask for; it must not exceed the
  // quarantine, or a restart could forget a lease that is still live.
  // The acceptor stays silent until startedAt + quarantine.
  Acceptor(NodeId self, Duration maxLease, Duration quarantine, DurableState restored,
           Time startedAt, AcceptorFaults faults = {});

  // Handles Prepare, Accept, Release and Ping; other bodies are ignored (no reply).
  Result handle(Time now, const Message& in);

  bool inQuarantine(Time now) const { return now < quietUntil_; }
  Time quarantineEnd() const { return quietUntil_; }
  std::optional<LeaseView> lease(Time now) const;
  // When the live lease (if any) ends, on this acceptor's clock.
  std::optional<Time> leaseExpiry(Time now) const;
  const DurableState& durable() const { return durable_; }
  Ballot promised() const { return promised_; }

 private:
  Result handlePrepare(Time now, NodeId from, const Prepare& p);
  Result handleAccept(Time now, NodeId from, const Accept& a);
  void handleRelease(Time now, NodeId from, const Release& r);
  Message reply(NodeId to, Body body) const { return Message{self_, to, std::move(body)}; }
  Reject reject(Time now, const Ballot& b, RejectReason why) const;

  struct Granted {
    NodeId owner;
    std::uint64_t epoch;
    Time expiry;
  };

  NodeId self_;
  Duration maxLease_;
  Time quietUntil_;
  DurableState durable_;
  AcceptorFaults faults_;
  Ballot promised_{};
  std::optional<Granted> granted_;
};

}  // namespace quorate::lease
