// Proposer logic of a director: campaign, renew, release, hand over; plus its local acceptor.
//
// Safety rests on the acceptors: each keeps at most one live lease and never gives
// it to another owner while it is live, so at most one director can hold a majority
// of live leases. A holder times its lease from before the round's first message and
// its lease is shorter (after drift) than any acceptor's, so it stops acting first.
// Ballots order competing acquisitions; promises teach the proposer the highest epoch.
#include "lease/director_node.h"

#include <algorithm>

namespace quorate::lease {
namespace {
constexpr Duration kRetryMargin = std::chrono::milliseconds(2);
}  // namespace

const char* toString(Role r) {
  switch (r) {
    case Role::kQuarantine:
      return "quarantine";
    case Role::kStandby:
      return "standby";
    case Role::kCandidate:
      return "candidate";
    case Role::kHolder:
      return "holder";
  }
  return "unknown";
}

void Output::append(Output&& o) {
  for (auto& m : o.send) send.push_back(std::move(m));
  persist = persist || o.persist;
  for (auto& c : o.changes) changes.push_back(std::move(c));
  if (o.releaseLocal) releaseLocal = o.releaseLocal;
  if (o.halt) halt = std::move(o.halt);
}

DirectorNode::DirectorNode(NodeConfig cfg, DurableState restored, Time now)
    : cfg_(std::move(cfg)),
      // A director's acceptor never grants more than its quarantine covers.
      acceptor_(cfg_.self, cfg_.timing.quarantine, cfg_.timing.quarantine, restored, now,
                cfg_.acceptorFaults),
      highestRound_(restored.maxRound),
      highestEpochSeen_(restored.maxEpoch),
      roundSince_(now),
      epochSince_(now),
      incarnation_(nextCounter(restored.incarnation).value_or(kMaxCounter)),
      rng_(cfg_.seed ^ (0x9e3779b97f4a7c15ULL * (cfg_.self + 1))) {
  if (restored.incarnation >= kMaxCounter) {
    // Reported by the first step (finish()); the state file refuses such a value already.
    halted_ = "incarnation " + std::to_string(restored.incarnation) + " is at the limit";
    haltUnreported_ = true;
  }
  campaignNotBefore_ = acceptor_.quarantineEnd();
  // At a cold start the preferred director gets the first try.
  if (cfg_.preferred && *cfg_.preferred != cfg_.self)
    campaignNotBefore_ += cfg_.timing.renewInterval;
}

std::optional<LeaseView> DirectorNode::knownLease(Time now) const {
  if (holds(now)) return LeaseView{cfg_.self, epoch_, leaseEnd_ - now};
  if (auto l = acceptor_.lease(now); l && !mine(*l)) return l;
  return std::nullopt;
}

std::optional<Time> DirectorNode::lastSeen(NodeId peer) const {
  if (peer >= kNodeCount) return std::nullopt;
  return lastSeen_[peer];
}

void DirectorNode::setRole(Output& out, Role to, const std::string& reason) {
  reason_ = reason;
  if (to == role_) return;
  out.changes.push_back(RoleChange{role_, to, epoch_, reason});
  role_ = to;
}

void DirectorNode::send(Output& out, Time now, NodeId to, Body body) {
  lastSent_[to] = now;
  out.send.push_back(Message{cfg_.self, to, std::move(body), cfg_.instance});
}

std::optional<Ballot> DirectorNode::nextBallot() {
  const auto round = nextCounter(highestRound_);
  if (!round) return std::nullopt;
  highestRound_ = *round;
  return Ballot{*round, cfg_.self, incarnation_, cfg_.instance};
}

std::uint64_t DirectorNode::roundLimit(Time now) const {
  return rangeLimit(std::max(highestRound_, acceptor_.knownRound()), roundSince_, now);
}

std::uint64_t DirectorNode::epochLimit(Time now) const {
  return rangeLimit(std::max(highestEpochSeen_, acceptor_.maxEpoch()), epochSince_, now);
}

void DirectorNode::learnRound(Time now, std::uint64_t round) {
  if (round <= highestRound_) return;
  highestRound_ = round;
  roundSince_ = now;
}

void DirectorNode::learnEpoch(Time now, std::uint64_t epoch) {
  if (epoch <= highestEpochSeen_) return;
  highestEpochSeen_ = epoch;
  epochSince_ = now;
}

void DirectorNode::halt(Output& out, Time now, const std::string& why) {
  halted_ = why;
  leaseEnd_ = std::min(leaseEnd_, now);  // stop acting at once; the acceptors let it lapse
  round_ = Round{};
  setRole(out, Role::kStandby, "halted: " + why);
  out.halt = why;
}

DurableState DirectorNode::durable() const {
  DurableState d = acceptor_.durable();
  d.incarnation = incarnation_;
  return d;
}

Output DirectorNode::finish(Output out) {
  // The first output after a start carries the new incarnation to disk, before
  // any ballot of this incarnation can leave the node.
  if (incarnationUnsaved_) {
    out.persist = true;
    incarnationUnsaved_ = false;
  }
  if (haltUnreported_) {
    haltUnreported_ = false;
    out.halt = halted_;
  }
  return out;
}

Duration DirectorNode::backoff() {
  const auto r = cfg_.timing.renewInterval.count();
  std::uniform_int_distribution<Duration::rep> d(r / 4, r);
  Duration b(d(rng_));
  if (cfg_.preferred && *cfg_.preferred != cfg_.self) b += cfg_.timing.renewInterval / 2;
  return b;
}

Output DirectorNode::deliverLocal(Time now, const Message& m) {
  auto r = acceptor_.handle(now, m);
  Output out;
  out.persist = r.persist;
  if (r.reply) out.append(handle(now, *r.reply));
  return out;
}

Output DirectorNode::startRound(Time now, bool renewal, const std::string& why) {
  Output out;
  round_ = Round{};
  const auto ballot = nextBallot();
  if (!ballot) {
    halt(out, now,
         "the next ballot round would pass " + std::to_string(kMaxCounter) +
             " (a peer or a state file carried an absurd round)");
    return out;
  }
  round_.ballot = *ballot;
  round_.start = now;  // before the first message: the lease is timed from here
  round_.deadline = now + cfg_.timing.renewInterval;
  round_.renewal = renewal;
  ++counters_.roundsStarted;
  if (renewal) {
    round_.epoch = epoch_;
    return sendAccepts(now);
  }
  if (role_ != Role::kCandidate) setRole(out, Role::kCandidate, why);
  round_.phase = Phase::kPrepare;
  for (NodeId n = 0; n < kNodeCount; ++n) {
    if (n != cfg_.self) send(out, now, n, Prepare{round_.ballot});
  }
  out.append(deliverLocal(now, local(Prepare{round_.ballot})));
  return out;
}

Output DirectorNode::sendAccepts(Time now) {
  Output out;
  round_.phase = Phase::kAccept;
  const Accept a{round_.ballot, round_.epoch, cfg_.timing.acceptorLease};
  for (NodeId n = 0; n < kNodeCount; ++n) {
    if (n != cfg_.self) send(out, now, n, a);
  }
  // A renewal keeps our own acceptor's lease going at once. A campaign asks our own
  // acceptor only after a remote one agreed: a campaign that fails everywhere else
  // must not leave a lease for us behind that would block the real holder here.
  if (round_.renewal) out.append(deliverLocal(now, local(a)));
  return out;
}

Output DirectorNode::receive(Time now, const Message& m) {
  if (m.from >= kNodeCount || m.from == cfg_.self || m.to != cfg_.self) return {};
  noteSeen(m.from, now);
  Output out = handle(now, m);
  // A message may have changed what is due (a released lease, a foreign lease seen).
  out.append(tick(now));
  return finish(std::move(out));
}

Output DirectorNode::handle(Time now, const Message& m) {
  Output out;
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, Prepare> || std::is_same_v<T, Accept>) {
          // Learn the ballots in use, so our next round starts above them; not an absurd one,
          // which our acceptor refuses too.
          if (body.ballot.round <= roundLimit(now)) {
            learnRound(now, body.ballot.round);
          } else {
            ++counters_.outOfRange;
          }
        }
        if constexpr (!std::is_same_v<T, Prepare> && !std::is_same_v<T, Accept> &&
                      !std::is_same_v<T, Release> && !std::is_same_v<T, Ping>) {
          if (halted_) return;  // a halted node answers as an acceptor, nothing more
        }
        if constexpr (std::is_same_v<T, Prepare> || std::is_same_v<T, Accept> ||
                      std::is_same_v<T, Release> || std::is_same_v<T, Ping>) {
          auto r = acceptor_.handle(now, m);
          out.persist = r.persist;
          if (r.reply) send(out, now, m.from, std::move(r.reply->body));
        } else if constexpr (std::is_same_v<T, Promise>) {
          out.append(onPromise(now, m.from, body));
        } else if constexpr (std::is_same_v<T, Accepted>) {
          out.append(onAccepted(now, m.from, body));
        } else if constexpr (std::is_same_v<T, Reject>) {
          out.append(onReject(now, m.from, body));
        } else if constexpr (std::is_same_v<T, Handover>) {
          out.append(onHandover(now, m, body));
        } else if constexpr (std::is_same_v<T, Preempt>) {
          out.append(onPreempt(now, m.from));
        }
      },
      m.body);
  return out;
}

Output DirectorNode::onPromise(Time now, NodeId from, const Promise& p) {
  Output out;
  if (p.ballot.round > roundLimit(now) || p.maxEpoch > epochLimit(now)) {
    ++counters_.outOfRange;  // malformed: not a vote, nothing learned
    return out;
  }
  learnRound(now, p.ballot.round);
  learnEpoch(now, p.maxEpoch);
  if (round_.phase != Phase::kPrepare || p.ballot != round_.ballot) return out;
  round_.promised.insert(from);
  round_.maxEpochSeen = std::max(round_.maxEpochSeen, p.maxEpoch);
  if (round_.promised.size() < kMajority) return out;
  // A foreign live lease in a promise does not stop us: the acceptors refuse to
  // replace a live lease, so the Accept phase cannot win while it lasts.
  const auto epoch = nextCounter(std::max(round_.maxEpochSeen, highestEpochSeen_));
  if (!epoch) {
    halt(out, now,
         "the next epoch would pass " + std::to_string(kMaxCounter) +
             " (an acceptor or a state file carried an absurd epoch)");
    return out;
  }
  round_.epoch = *epoch;
  return sendAccepts(now);
}

Output DirectorNode::onAccepted(Time now, NodeId from, const Accepted& a) {
  Output out;
  if (round_.phase != Phase::kAccept || a.ballot != round_.ballot || a.epoch != round_.epoch) {
    return out;
  }
  round_.accepted.insert(from);
  if (!round_.renewal && from != cfg_.self && !round_.accepted.count(cfg_.self) &&
      !round_.localAsked) {
    round_.localAsked = true;
    const Accept local{round_.ballot, round_.epoch, cfg_.timing.acceptorLease};
    out.append(deliverLocal(now, this->local(local)));
    if (round_.phase == Phase::kIdle) return out;  // the local answer completed the round
  }
  if (round_.accepted.size() < kMajority) return out;
  const Time end = round_.start + cfg_.timing.holderLease;
  const bool renewal = round_.renewal;
  const std::uint64_t epoch = round_.epoch;
  const Time start = round_.start;
  round_ = Round{};
  if (now >= end) return out;              // too late: this lease is already over
  if (renewal && !holds(now)) return out;  // lost meanwhile: a new tenure needs a new epoch
  epoch_ = epoch;
  learnEpoch(now, epoch);
  leaseEnd_ = end;
  nextRenewal_ = start + cfg_.timing.renewInterval;
  if (renewal) {
    ++counters_.renewals;
  } else {
    ++counters_.roundsWon;
    setRole(out, Role::kHolder, "acquired the lease with a majority of acceptors");
  }
  return out;
}

Output DirectorNode::onReject(Time now, NodeId from, const Reject& r) {
  Output out;
  if (r.promised.round > roundLimit(now) || r.maxEpoch > epochLimit(now)) {
    ++counters_.outOfRange;  // malformed: not a vote, nothing learned
    return out;
  }
  learnRound(now, r.promised.round);
  learnEpoch(now, r.maxEpoch);
  if (round_.phase == Phase::kIdle || r.ballot != round_.ballot) return out;
  if (round_.renewal && r.lease && !mine(*r.lease) && role_ == Role::kHolder) {
    // Another process holds a live lease at an acceptor we are renewing with. While our lease
    // is live no acceptor of our majority grants another: either our clock has lied (a paused VM
    // stops every clock of the guest, a slew beyond the bound), or the grant is a stray one, left
    // at an acceptor outside our majority by a campaign that ran with ours. The epoch cannot tell
    // them apart (with stopped clocks a renewal can bring an old epoch back to a majority, and a
    // lost disk or a clone can repeat one: issue 15's review), so stop acting now rather than at
    // our own leaseEnd_. The cost: when both directors campaign at once and the loser's Accept
    // reached one acceptor first, the winner steps down once at its first renewal.
    ++counters_.leaseLost;
    leaseEnd_ = std::min(leaseEnd_, now);
    round_ = Round{};
    // No campaign while that lease lives (its remaining time is on the acceptor's clock).
    campaignNotBefore_ =
        std::max(campaignNotBefore_,
                 now + std::min(r.lease->remaining, cfg_.timing.acceptorLease) + kRetryMargin);
    setRole(out, Role::kStandby,
            "renewal refused: another owner holds a live lease (this node's clock stopped or "
            "slewed?)");
    return out;
  }
  if (r.reason == RejectReason::kBallot && !round_.retryAfter) {
    // Outbid, not blocked: retry soon with a higher ballot, with a little jitter so
    // that two candidates do not keep outbidding each other.
    std::uniform_int_distribution<Duration::rep> d(0, cfg_.timing.renewInterval.count() / 10);
    round_.retryAfter = kRetryMargin + Duration(d(rng_));
  }
  if (r.lease && !mine(*r.lease)) {
    // Try again just after that lease lapses (its remaining time is on the
    // acceptor's clock: a retry that comes too early is only refused again).
    const Duration lapse = std::min(r.lease->remaining, cfg_.timing.acceptorLease) + kRetryMargin;
    round_.retryAfter = std::max(round_.retryAfter.value_or(Duration::zero()), lapse);
    // A campaign against the other director's live lease: that director will not vote for us
    // either (its acceptor keeps its own lease). If it has also been silent for a renewal
    // interval (dead, frozen, cut off), waiting for its answer only delays the retry, so it
    // counts as a "no" now. A director heard from just now may have released (handover).
    const NodeId owner = r.lease->owner;
    const bool silent = !lastSeen_[owner] || now - *lastSeen_[owner] > cfg_.timing.renewInterval;
    if (!round_.renewal && isDirector(owner) && owner != from && owner != cfg_.self && silent &&
        !round_.rejected.count(owner)) {
      round_.rejected.insert(owner);
    }
  }
  return noVote(now, from);
}

Output DirectorNode::peerUnreachable(Time now, NodeId peer, const Message& sent) {
  const Ballot* b = nullptr;
  if (const auto* p = std::get_if<Prepare>(&sent.body)) b = &p->ballot;
  if (const auto* a = std::get_if<Accept>(&sent.body)) b = &a->ballot;
  if (!b || peer >= kNodeCount || round_.phase == Phase::kIdle || *b != round_.ballot) {
    return finish({});
  }
  return finish(noVote(now, peer));
}

Output DirectorNode::noVote(Time now, NodeId from) {
  round_.rejected.insert(from);
  if (kNodeCount - round_.rejected.size() >= kMajority) return {};  // still winnable
  const Duration retry = round_.retryAfter.value_or(backoff());
  failRound(now, round_.renewal ? cfg_.timing.renewInterval / 5 : retry);
  return {};
}

void DirectorNode::failRound(Time now, Duration retryAfter) {
  ++counters_.roundsFailed;
  const bool renewal = round_.renewal;
  round_ = Round{};
  if (renewal) {
    // Retry the renewal soon; the lease itself still runs until leaseEnd_.
    nextRenewal_ = std::min(nextRenewal_, now + retryAfter);
  } else {
    campaignNotBefore_ = std::max(campaignNotBefore_, now + retryAfter);
  }
}

Output DirectorNode::onHandover(Time now, const Message& m, const Handover& h) {
  Output out;
  const NodeId from = m.from;
  if (!isDirector(from) || from == cfg_.self) return out;
  // The handover implies the release; apply it here too in case the Release is late.
  acceptor_.handle(now, Message{from, cfg_.self, Release{h.epoch}, m.instance});
  if (role_ == Role::kQuarantine || holds(now) || !eligible_) return out;
  campaignNotBefore_ = now;
  if (round_.phase == Phase::kIdle || round_.renewal) {
    out.append(startRound(now, false, "handover from the holder"));
  }
  return out;
}

Output DirectorNode::onPreempt(Time now, NodeId from) {
  Output out;
  if (!holds(now) || !preemptEnabled() || from != *cfg_.preferred || from == cfg_.self) return out;
  return release(now, "preempted by the preferred director", true);
}

Output DirectorNode::setEligible(Time now, bool eligible, const std::string& reason) {
  Output out;
  if (eligible == eligible_) return out;
  eligible_ = eligible;
  if (eligible) {
    campaignNotBefore_ = std::max(campaignNotBefore_, now);
    if (role_ == Role::kStandby) setRole(out, Role::kStandby, "healthy again: " + reason);
    return finish(std::move(out));
  }
  if (holds(now)) return finish(release(now, "unhealthy: " + reason, true));
  if (role_ == Role::kCandidate) {
    // Acceptors that already said yes keep that lease until it lapses: safe, only slower.
    round_ = Round{};
    setRole(out, Role::kStandby, "unhealthy: " + reason);
  } else if (role_ == Role::kStandby) {
    reason_ = "unhealthy: " + reason;
  }
  return finish(std::move(out));
}

void DirectorNode::releaseOwn(Time now, std::uint64_t epoch) {
  acceptor_.handle(now, local(Release{epoch}));
}

std::optional<Output> DirectorNode::stepDown(Time now, const std::string& reason) {
  if (!holds(now)) return std::nullopt;
  return finish(release(now, reason, true));
}

Output DirectorNode::release(Time now, const std::string& reason, bool handover) {
  Output out;
  const std::uint64_t e = epoch_;
  // Stop acting first; only then tell the acceptors.
  leaseEnd_ = now;
  round_ = Round{};
  setRole(out, Role::kStandby, reason);
  const NodeId peer = otherDirector(cfg_.self);
  send(out, now, kArbiter, Release{e});
  send(out, now, peer, Release{e});
  out.releaseLocal = e;  // our own acceptor's grant: only once the VIPs are dark
  if (handover) send(out, now, peer, Handover{e});
  // Give the peer the first go; campaign again only if it does not take over.
  campaignNotBefore_ = now + cfg_.timing.acceptorLease;
  return out;
}

Output DirectorNode::maybeCampaign(Time now) {
  Output out;
  if (role_ == Role::kHolder || round_.phase != Phase::kIdle) return out;
  if (auto l = acceptor_.lease(now); l && !mine(*l)) {
    // Someone holds, as far as our own acceptor knows: wait for it to lapse.
    if (role_ != Role::kStandby) setRole(out, Role::kStandby, "another director holds the lease");
    return out;
  }
  if (now < campaignNotBefore_ || !eligible_) return out;
  out.append(startRound(now, false, "no live lease: campaigning"));
  return out;
}

Output DirectorNode::maybePreempt(Time now) {
  Output out;
  const auto l = acceptor_.lease(now);
  const bool otherHolds = l && !mine(*l) && l->owner != cfg_.self;
  if (!preemptEnabled() || *cfg_.preferred != cfg_.self || role_ != Role::kStandby || !otherHolds ||
      !eligible_ || now < preemptHoldUntil_) {
    preemptSince_.reset();
    return out;
  }
  if (!preemptSince_) preemptSince_ = now;
  if (now - *preemptSince_ < *cfg_.preemptDelay) return out;
  if (lastPreemptSent_ && now - *lastPreemptSent_ < cfg_.timing.renewInterval) return out;
  lastPreemptSent_ = now;
  send(out, now, l->owner, Preempt{});
  return out;
}

Output DirectorNode::heartbeats(Time now) {
  Output out;
  if (role_ == Role::kQuarantine) return out;
  for (NodeId n = 0; n < kNodeCount; ++n) {
    if (n == cfg_.self) continue;
    if (!lastSent_[n] || now - *lastSent_[n] >= heartbeatInterval()) send(out, now, n, Ping{});
  }
  return out;
}

Output DirectorNode::tick(Time now) {
  Output out;
  if (halted_) return finish(std::move(out));
  if (role_ == Role::kQuarantine) {
    if (acceptor_.inQuarantine(now)) return finish(std::move(out));
    setRole(out, Role::kStandby, "quarantine over");
  }
  if (role_ == Role::kHolder && now >= leaseEnd_) {
    ++counters_.leaseLost;
    round_ = Round{};  // a late renewal must not revive this tenure
    campaignNotBefore_ = std::max(campaignNotBefore_, now);
    setRole(out, Role::kStandby, "lease expired: renewal did not reach a majority in time");
  }
  if (round_.phase != Phase::kIdle && now >= round_.deadline) {
    failRound(now, round_.renewal ? Duration::zero() : backoff());
  }
  if (role_ == Role::kHolder && round_.phase == Phase::kIdle && now >= nextRenewal_) {
    out.append(startRound(now, true, "renewal"));
  }
  out.append(maybeCampaign(now));
  out.append(maybePreempt(now));
  out.append(heartbeats(now));
  return finish(std::move(out));
}

Time DirectorNode::nextDeadline() const {
  if (halted_) return Time::max();
  if (role_ == Role::kQuarantine) return acceptor_.quarantineEnd();
  Time t = Time::max();
  auto consider = [&t](Time c) { t = std::min(t, c); };
  if (role_ == Role::kHolder) {
    consider(leaseEnd_);
    if (round_.phase == Phase::kIdle) consider(nextRenewal_);
  }
  if (round_.phase != Phase::kIdle) consider(round_.deadline);
  if (role_ != Role::kHolder && round_.phase == Phase::kIdle && eligible_) {
    Time next = campaignNotBefore_;
    // With a foreign lease in our acceptor, the next chance is when it lapses.
    if (auto e = acceptor_.leaseExpiry(campaignNotBefore_); e) {
      if (auto l = acceptor_.lease(campaignNotBefore_); l && !mine(*l)) next = *e;
    }
    consider(next);
  }
  if (preemptSince_ && cfg_.preemptDelay) {
    Time p = *preemptSince_ + *cfg_.preemptDelay;
    if (lastPreemptSent_) p = std::max(p, *lastPreemptSent_ + cfg_.timing.renewInterval);
    consider(p);
  }
  for (NodeId n = 0; n < kNodeCount; ++n) {
    if (n != cfg_.self) consider(lastSent_[n] ? *lastSent_[n] + heartbeatInterval() : Time{});
  }
  return t;
}

}  // namespace quorate::lease
