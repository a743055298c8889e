// One director's half of the lease: a proposer and a local acceptor, stepped by
// messages and time. No sockets, no threads, no clock of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "lease/acceptor.h"
#include "lease/messages.h"
#include "lease/timing.h"

namespace quorate::lease {

enum class Role {
  kQuarantine,  // just started: silent until every lease granted before a restart is over
  kStandby,     // someone else holds, or nobody and we wait to campaign
  kCandidate,   // running a round to acquire the lease
  kHolder,      // holds the lease: may own the VIPs until leaseEnd()
};
const char* toString(Role r);

struct NodeConfig {
  NodeId self = kDirectorA;
  Timing timing;
  std::optional<NodeId> preferred;       // like keepalived's higher priority
  std::optional<Duration> preemptDelay;  // unset: never preempt a healthy holder
  std::uint64_t seed = 1;                // for campaign back-off jitter
  Instance instance = 1;                 // this process; draw it at random at every start
  AcceptorFaults acceptorFaults;         // simulation only
};

struct RoleChange {
  Role from;
  Role to;
  std::uint64_t epoch;
  std::string reason;
};

struct Output {
  std::vector<Message> send;  // to other nodes; never to self
  bool persist = false;       // durable() changed: persist before sending
  // This node stopped holding the tenure of this epoch and released it: once its VIPs are
  // really dark, the caller frees its own acceptor's grant with releaseOwn() (as the Release in
  // `send` frees the others'). While they may still answer, it must keep that grant, and drop
  // the Release and Handover, so that the lease lapses on every acceptor no earlier than ours.
  std::optional<std::uint64_t> releaseLocal;
  std::vector<RoleChange> changes;
  // This node stopped for good: its next round or epoch would pass kMaxCounter. The daemon logs
  // it as critical; the node neither campaigns nor holds again until it is restarted (and then
  // stops again unless an operator fixes what pushed the counter there).
  std::optional<std::string> halt;

  void append(Output&& o);
};

// A value: a caller whose persist of durable() fails restores the copy it took before the
// step and sends nothing of that step's output, so the step never happened.
class DirectorNode {
 public:
  DirectorNode(NodeConfig cfg, DurableState restored, Time now);

  // A message from another node.
  Output receive(Time now, const Message& m);
  // Timers: call at (or after) nextDeadline(), and whenever convenient.
  Output tick(Time now);
  // Planned handover. Fails (returns nullopt) when this node does not hold.
  std::optional<Output> stepDown(Time now, const std::string& reason);
  // Frees our own acceptor's grant of `epoch` (see Output::releaseLocal).
  void releaseOwn(Time now, std::uint64_t epoch);

  // The director's own health (tracked interfaces and scripts). An ineligible node keeps
  // voting as an acceptor but never campaigns, preempts or answers a handover; a holder that
  // becomes ineligible releases at once and hands over; a campaign in progress is abandoned.
  Output setEligible(Time now, bool eligible, const std::string& reason);
  // Maintenance (step-down --hold): no preemption of another holder before `until` (a time at
  // or before now clears it). Kept in memory only; campaigns for a free lease are unaffected.
  void holdPreemption(Time until) { preemptHoldUntil_ = until; }
  std::optional<Time> preemptionHeldUntil(Time now) const {
    return preemptHoldUntil_ > now ? std::optional<Time>(preemptHoldUntil_) : std::nullopt;
  }
  bool eligible() const { return eligible_; }

  // The transport could not deliver `sent` to `peer` (or got no answer): for the
  // current round that acceptor counts as a "no", so a lost round ends early.
  Output peerUnreachable(Time now, NodeId peer, const Message& sent);

  Time nextDeadline() const;

  Role role() const { return role_; }
  // True only while this node holds the lease and its clock is before leaseEnd().
  bool holds(Time now) const { return role_ == Role::kHolder && now < leaseEnd_; }
  Time leaseEnd() const { return leaseEnd_; }
  std::uint64_t epoch() const { return epoch_; }
  const std::string& reason() const { return reason_; }
  // The lease as this director knows it: its own if it holds, else its local acceptor's.
  std::optional<LeaseView> knownLease(Time now) const;
  // When a message from `peer` last arrived (nullopt: never).
  std::optional<Time> lastSeen(NodeId peer) const;
  // What must survive a restart: the acceptor's epoch floor and our incarnation.
  DurableState durable() const;
  const NodeConfig& config() const { return cfg_; }
  const Acceptor& acceptor() const { return acceptor_; }
  // Why this node stopped (Output::halt), if it did.
  const std::optional<std::string>& halted() const { return halted_; }
  // The highest round and epoch this node adopts from a message now (see rangeLimit); a
  // message that carries more is ignored as malformed (Counters::outOfRange).
  std::uint64_t roundLimit(Time now) const;
  std::uint64_t epochLimit(Time now) const;

  struct Counters {
    std::uint64_t roundsStarted = 0;
    std::uint64_t roundsWon = 0;
    std::uint64_t roundsFailed = 0;
    std::uint64_t renewals = 0;
    std::uint64_t leaseLost = 0;
    std::uint64_t outOfRange = 0;  // messages ignored for an absurd round or epoch
  };
  const Counters& counters() const { return counters_; }

 private:
  enum class Phase { kIdle, kPrepare, kAccept };
  struct Round {
    Phase phase = Phase::kIdle;
    Ballot ballot;
    Time start{};     // taken before the round's first message
    Time deadline{};  // give the round up after this
    std::uint64_t epoch = 0;
    bool renewal = false;
    std::set<NodeId> promised;
    std::set<NodeId> accepted;
    std::set<NodeId> rejected;
    bool localAsked = false;             // a campaign's Accept went to our own acceptor
    std::optional<Duration> retryAfter;  // when a refusing acceptor's lease lapses
    std::uint64_t maxEpochSeen = 0;
  };

  Output startRound(Time now, bool renewal, const std::string& why);
  Output sendAccepts(Time now);
  Output deliverLocal(Time now, const Message& m);  // to our own acceptor
  Output handle(Time now, const Message& m);        // dispatch, without timers
  Output onPromise(Time now, NodeId from, const Promise& p);
  Output onAccepted(Time now, NodeId from, const Accepted& a);
  Output onReject(Time now, NodeId from, const Reject& r);
  Output noVote(Time now, NodeId from);
  Output onHandover(Time now, const Message& m, const Handover& h);
  // Whether `l` is this process's own lease (not one of another process with our id).
  bool mine(const LeaseView& l) const {
    return l.owner == cfg_.self && l.instance == cfg_.instance;
  }
  Message local(Body body) const {
    return Message{cfg_.self, cfg_.self, std::move(body), cfg_.instance};
  }
  Output onPreempt(Time now, NodeId from);
  Output release(Time now, const std::string& reason, bool handover);
  void failRound(Time now, Duration retryAfter);
  void setRole(Output& out, Role to, const std::string& reason);
  std::optional<Ballot> nextBallot();
  void learnRound(Time now, std::uint64_t round);
  void learnEpoch(Time now, std::uint64_t epoch);
  void halt(Output& out, Time now, const std::string& why);
  Duration backoff();
  bool preemptEnabled() const { return cfg_.preemptDelay.has_value() && cfg_.preferred; }
  Output maybeCampaign(Time now);
  Output maybePreempt(Time now);
  Output heartbeats(Time now);
  Output finish(Output out);  // adds the pending persist of a new incarnation
  Duration heartbeatInterval() const { return 2 * cfg_.timing.renewInterval; }
  void send(Output& out, Time now, NodeId to, Body body);
  void noteSeen(NodeId from, Time now) { lastSeen_[from] = now; }

  NodeConfig cfg_;
  Acceptor acceptor_;
  Role role_ = Role::kQuarantine;
  std::string reason_ = "starting: quarantine";
  std::uint64_t epoch_ = 0;
  Time leaseEnd_{};
  Time nextRenewal_{};  // when the holder starts its next renewal round
  Round round_;
  std::uint64_t highestRound_ = 0;
  std::uint64_t highestEpochSeen_ = 0;
  Time roundSince_;  // when highestRound_ last grew
  Time epochSince_;  // when highestEpochSeen_ last grew
  std::optional<std::string> halted_;
  bool haltUnreported_ = false;
  std::uint64_t incarnation_;
  bool incarnationUnsaved_ = true;
  Time campaignNotBefore_{};
  Time preemptHoldUntil_{};           // no preemption before this (step-down --hold)
  std::optional<Time> preemptSince_;  // since when we (preferred) see another holder
  std::optional<Time> lastPreemptSent_;
  std::optional<Time> lastSeen_[kNodeCount];
  std::optional<Time> lastSent_[kNodeCount];
  std::mt19937_64 rng_;
  bool eligible_ = true;
  Counters counters_;
};

}  // namespace quorate::lease
