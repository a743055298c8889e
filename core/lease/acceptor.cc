// PaxosLease acceptor with the later fixes: no overwriting of a live lease,
// quarantine after restart, and durable epochs that only grow.
#include "lease/acceptor.h"

#include <algorithm>

namespace quorate::lease {

Acceptor::Acceptor(NodeId self, Duration maxLease, Duration quarantine, DurableState restored,
                   Time startedAt, AcceptorFaults faults)
    : self_(self),
      maxLease_(maxLease),
      quietUntil_(startedAt + quarantine),
      durable_(restored),
      faults_(faults) {}

std::optional<LeaseView> Acceptor::lease(Time now) const {
  if (!granted_ || now >= granted_->expiry) return std::nullopt;
  return LeaseView{granted_->owner, granted_->epoch, granted_->expiry - now};
}

std::optional<Time> Acceptor::leaseExpiry(Time now) const {
  if (!granted_ || now >= granted_->expiry) return std::nullopt;
  return granted_->expiry;
}

Reject Acceptor::reject(Time now, const Ballot& b, RejectReason why) const {
  return Reject{b, promised_, durable_.maxEpoch, lease(now), why};
}

Acceptor::Result Acceptor::handle(Time now, const Message& in) {
  // A restarted acceptor may have granted leases it no longer remembers; it
  // stays silent until every one of them has run out.
  if (inQuarantine(now)) return {};
  if (const auto* p = std::get_if<Prepare>(&in.body)) return handlePrepare(now, in.from, *p);
  if (const auto* a = std::get_if<Accept>(&in.body)) return handleAccept(now, in.from, *a);
  if (const auto* r = std::get_if<Release>(&in.body)) handleRelease(now, in.from, *r);
  if (std::holds_alternative<Ping>(in.body)) return {reply(in.from, Pong{}), false};
  return {};
}

Acceptor::Result Acceptor::handlePrepare(Time now, NodeId from, const Prepare& p) {
  if (p.ballot < promised_) {
    return {reply(from, reject(now, p.ballot, RejectReason::kBallot)), false};
  }
  promised_ = p.ballot;
  return {reply(from, Promise{p.ballot, lease(now), durable_.maxEpoch}), false};
}

Acceptor::Result Acceptor::handleAccept(Time now, NodeId from, const Accept& a) {
  const auto live = lease(now);
  // The owner of the live lease may renew that same tenure whatever was promised
  // since: a campaign that cannot win anyway must not starve the holder's renewals.
  // A new tenure (a new epoch) of the same owner goes through the ballot check, or
  // a promise reporting an older epoch could let the next tenure reuse this one.
  const bool ownerRenews = live && live->owner == from && live->epoch == a.epoch;
  if (a.ballot < promised_ && !ownerRenews) {
    return {reply(from, reject(now, a.ballot, RejectReason::kBallot)), false};
  }
  if (a.lease > maxLease_ || a.lease <= Duration::zero()) {
    return {reply(from, reject(now, a.ballot, RejectReason::kLeaseTooLong)), false};
  }
  if (live && live->owner != from && !faults_.overwriteLiveLease) {
    return {reply(from, reject(now, a.ballot, RejectReason::kLiveLease)), false};
  }
  // Epoch 0 means "no tenure". Older epochs are not refused here: ballots already
  // order acquisitions, and refusing them would let a campaign that failed elsewhere
  // lock the live holder out of this acceptor for the rest of its tenure.
  if (a.epoch == 0) {
    return {reply(from, reject(now, a.ballot, RejectReason::kStaleEpoch)), false};
  }
  promised_ = std::max(promised_, a.ballot);
  granted_ = Granted{from, a.epoch, now + a.lease};
  bool persist = false;
  if (a.epoch > durable_.maxEpoch) {
    durable_ = DurableState{a.epoch, from};
    persist = true;
  }
  return {reply(from, Accepted{a.ballot, a.epoch}), persist};
}

void Acceptor::handleRelease(Time now, NodeId from, const Release& r) {
  const auto live = lease(now);
  if (live && live->owner == from && live->epoch == r.epoch) granted_.reset();
}

}  // namespace quorate::lease
