// The acceptor of PaxosLease: diskless for the lease, durable only for epochs.
#pragma once

#include <algorithm>
#include <optional>

#include "lease/messages.h"

namespace quorate::lease {

// Deliberate protocol bugs, used only to show that the simulation's checker
// catches them. Production code never sets these.
struct AcceptorFaults {
  bool overwriteLiveLease = false;  // accept another owner while a lease is live
  bool ignoreInstance = false;      // the owner is the node id alone (clones share a lease)
  bool moveExpiryEarlier = false;   // a reordered renewal may shorten a live lease
  bool forgetLongestLease = false;  // quarantine from the configuration only
  bool ignoreRange = false;         // adopt any round or epoch an insider sends (kMaxStep)
};

class Acceptor {
 public:
  struct Result {
    std::optional<Message> reply;
    bool persist = false;  // durable() changed: persist it before sending `reply`
  };

  // `maxLease` caps the lease an Accept may ask for; it must not exceed the
  // quarantine, or a restart could forget a lease that is still live.
  // The acceptor stays silent until startedAt + max(quarantine, restored.maxLease): a lease
  // granted before the restart under longer timers is outwaited too.
  //
  // An Acceptor is a value: a caller whose persist of durable() fails restores the copy it
  // took before handle(), so that nothing it failed to write is ever acted on.
  Acceptor(NodeId self, Duration maxLease, Duration quarantine, DurableState restored,
           Time startedAt, AcceptorFaults faults = {});

  // Handles Prepare, Accept, Release and Ping; other bodies are ignored (no reply). The
  // owner of a lease is the process (in.from, in.instance).
  Result handle(Time now, const Message& in);

  bool inQuarantine(Time now) const { return now < quietUntil_; }
  Time quarantineEnd() const { return quietUntil_; }
  std::optional<LeaseView> lease(Time now) const;
  // When the live lease (if any) ends, on this acceptor's clock.
  std::optional<Time> leaseExpiry(Time now) const;
  const DurableState& durable() const { return durable_; }
  // The highest epoch accepted (since the restart: the reserved ceiling on disk at start).
  std::uint64_t maxEpoch() const { return acceptedMax_; }
  Ballot promised() const { return promised_; }
  // The highest round this acceptor knows of: its promise, or before the first promise of this
  // life the reserve on disk (at most kRoundReserve above the promises of the last life).
  std::uint64_t knownRound() const {
    return promised_.round != 0 ? promised_.round : durable_.maxRound;
  }
  // The highest round and epoch it admits now (see rangeLimit); above them it rejects with
  // kOutOfRange and changes nothing.
  std::uint64_t roundLimit(Time now) const { return rangeLimit(knownRound(), roundSince_, now); }
  std::uint64_t epochLimit(Time now) const { return rangeLimit(acceptedMax_, epochSince_, now); }

 private:
  Result handlePrepare(Time now, NodeId from, const Prepare& p);
  Result handleAccept(Time now, const Message& in, const Accept& a);
  void handleRelease(Time now, const Message& in, const Release& r);
  // Whether the live lease `l` belongs to the process that sent `in`.
  bool ownedBy(const LeaseView& l, const Message& in) const;
  Message reply(NodeId to, Body body) const { return Message{self_, to, std::move(body)}; }
  Reject reject(Time now, const Ballot& b, RejectReason why) const;
  bool outOfRange(Time now, std::uint64_t round, std::optional<std::uint64_t> epoch) const;
  // Raises promised_ to `b` (if higher), its round's reserve on disk, and the time of the raise.
  bool promise(Time now, const Ballot& b);

  struct Granted {
    NodeId owner;
    Instance instance;
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
  std::uint64_t acceptedMax_ = 0;
  Time roundSince_;  // when knownRound() last grew
  Time epochSince_;  // when acceptedMax_ last grew
  bool grantedThisLife_ = false;
};

}  // namespace quorate::lease
