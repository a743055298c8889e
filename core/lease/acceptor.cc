// PaxosLease acceptor with the later fixes: no overwriting of a live lease,
// quarantine after restart, and durable epochs that only grow.
#include "lease/acceptor.h"

#include <algorithm>

namespace quorate::lease {
namespace {

// v + reserve, saturated at kMaxCounter but never below v (v is above it only with
// AcceptorFaults::ignoreRange).
std::uint64_t reserveAbove(std::uint64_t v, std::uint64_t reserve) {
  if (v >= kMaxCounter - reserve) return std::max(v, kMaxCounter);
  return v + reserve;
}

}  // namespace

Acceptor::Acceptor(NodeId self, Duration maxLease, Duration quarantine, DurableState restored,
                   Time startedAt, AcceptorFaults faults)
    : self_(self),
      maxLease_(maxLease),
      quietUntil_(startedAt + (faults.forgetLongestLease
                                   ? quarantine
                                   : std::max(quarantine, restored.maxLease))),
      durable_(restored),
      faults_(faults),
      acceptedMax_(restored.maxEpoch),
      roundSince_(startedAt),
      epochSince_(startedAt) {}

std::optional<LeaseView> Acceptor::lease(Time now) const {
  if (!granted_ || now >= granted_->expiry) return std::nullopt;
  return LeaseView{granted_->owner, granted_->epoch, granted_->expiry - now, granted_->instance};
}

bool Acceptor::ownedBy(const LeaseView& l, const Message& in) const {
  return l.owner == in.from && (faults_.ignoreInstance || l.instance == in.instance);
}

std::optional<Time> Acceptor::leaseExpiry(Time now) const {
  if (!granted_ || now >= granted_->expiry) return std::nullopt;
  return granted_->expiry;
}

Reject Acceptor::reject(Time now, const Ballot& b, RejectReason why) const {
  return Reject{b, promised_, acceptedMax_, lease(now), why};
}

bool Acceptor::outOfRange(Time now, std::uint64_t round, std::optional<std::uint64_t> epoch) const {
  if (faults_.ignoreRange) return false;
  return round > roundLimit(now) || (epoch && *epoch > epochLimit(now));
}

bool Acceptor::promise(Time now, const Ballot& b) {
  if (!(promised_ < b)) return false;
  if (b.round > knownRound()) roundSince_ = now;
  promised_ = b;
  if (b.round <= durable_.maxRound) return false;
  durable_.maxRound = reserveAbove(b.round, kRoundReserve);
  return true;
}

Acceptor::Result Acceptor::handle(Time now, const Message& in) {
  // A restarted acceptor may have granted leases it no longer remembers; it
  // stays silent until every one of them has run out.
  if (inQuarantine(now)) return {};
  if (const auto* p = std::get_if<Prepare>(&in.body)) return handlePrepare(now, in.from, *p);
  if (const auto* a = std::get_if<Accept>(&in.body)) return handleAccept(now, in, *a);
  if (const auto* r = std::get_if<Release>(&in.body)) handleRelease(now, in, *r);
  if (std::holds_alternative<Ping>(in.body)) return {reply(in.from, Pong{}), false};
  return {};
}

Acceptor::Result Acceptor::handlePrepare(Time now, NodeId from, const Prepare& p) {
  // Before anything else: an absurd round must not become our promise (honest ballots would
  // then lose to it until they wrapped).
  if (outOfRange(now, p.ballot.round, std::nullopt)) {
    return {reply(from, reject(now, p.ballot, RejectReason::kOutOfRange)), false};
  }
  if (p.ballot < promised_) {
    return {reply(from, reject(now, p.ballot, RejectReason::kBallot)), false};
  }
  const bool persist = promise(now, p.ballot);
  return {reply(from, Promise{p.ballot, lease(now), acceptedMax_}), persist};
}

Acceptor::Result Acceptor::handleAccept(Time now, const Message& in, const Accept& a) {
  const NodeId from = in.from;
  // An absurd epoch accepted would go to disk and outlive every restart: the cluster could never
  // pick a higher one. Refused before any other check, so it changes nothing.
  if (outOfRange(now, a.ballot.round, a.epoch)) {
    return {reply(from, reject(now, a.ballot, RejectReason::kOutOfRange)), false};
  }
  const auto live = lease(now);
  // The owner of the live lease may renew that same tenure whatever was promised
  // since: a campaign that cannot win anyway must not starve the holder's renewals.
  // A new tenure (a new epoch) of the same owner goes through the ballot check, or
  // a promise reporting an older epoch could let the next tenure reuse this one.
  const bool ownerRenews = live && ownedBy(*live, in) && live->epoch == a.epoch;
  if (a.ballot < promised_ && !ownerRenews) {
    return {reply(from, reject(now, a.ballot, RejectReason::kBallot)), false};
  }
  if (a.lease > maxLease_ || a.lease <= Duration::zero()) {
    return {reply(from, reject(now, a.ballot, RejectReason::kLeaseTooLong)), false};
  }
  // Another process with the same node id (a clone, or an older life still running) is
  // another owner.
  if (live && !ownedBy(*live, in) && !faults_.overwriteLiveLease) {
    return {reply(from, reject(now, a.ballot, RejectReason::kLiveLease)), false};
  }
  // Epoch 0 means "no tenure". Older epochs are not refused here: ballots already
  // order acquisitions, and refusing them would let a campaign that failed elsewhere
  // lock the live holder out of this acceptor for the rest of its tenure.
  if (a.epoch == 0) {
    return {reply(from, reject(now, a.ballot, RejectReason::kStaleEpoch)), false};
  }
  bool persist = promise(now, a.ballot);
  // Two renewals can reach the acceptor in the opposite order of their clock reads (threads,
  // retries): the later one must not take back time the earlier one granted.
  Time expiry = now + a.lease;
  if (ownerRenews && !faults_.moveExpiryEarlier) expiry = std::max(expiry, granted_->expiry);
  granted_ = Granted{from, in.instance, a.epoch, expiry};
  if (a.epoch > acceptedMax_) {
    acceptedMax_ = a.epoch;
    epochSince_ = now;
  }
  if (a.epoch > durable_.maxEpoch) {
    // Saturate at kMaxCounter (never below the epoch just accepted): a restarted acceptor then
    // reports kMaxCounter, and proposers stop loudly instead of wrapping.
    durable_.maxEpoch = reserveAbove(a.epoch, kEpochReserve);
    durable_.maxEpochOwner = from;
    persist = true;
  }
  // The longest lease of this life goes to disk before the reply that grants it. The first
  // grant of a life may lower it: by then every lease of the earlier lives is over.
  const Duration longest = grantedThisLife_ ? std::max(durable_.maxLease, a.lease) : a.lease;
  grantedThisLife_ = true;
  if (longest != durable_.maxLease) {
    durable_.maxLease = longest;
    persist = true;
  }
  return {reply(from, Accepted{a.ballot, a.epoch}), persist};
}

void Acceptor::handleRelease(Time now, const Message& in, const Release& r) {
  const auto live = lease(now);
  if (live && ownedBy(*live, in) && live->epoch == r.epoch) granted_.reset();
}

}  // namespace quorate::lease
