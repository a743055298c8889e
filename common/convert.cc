// Field-by-field mapping of lease messages to protobuf and back, validating input.
#include "common/convert.h"

#include <chrono>
#include <optional>
#include <string>

namespace quorate {
namespace {

using lease::Duration;
using std::chrono::duration_cast;
using std::chrono::microseconds;

void put(const lease::Ballot& b, v1::Ballot* out) {
  out->set_round(b.round);
  out->set_node(b.node);
  out->set_incarnation(b.incarnation);
  out->set_instance(b.instance);
}

// A round, epoch or incarnation above lease::kMaxCounter: the name of the field, or nullopt.
std::optional<std::string> tooLarge(const v1::Ballot& b, const std::string& field) {
  if (b.round() > lease::kMaxCounter) return field + ".round";
  if (b.incarnation() > lease::kMaxCounter) return field + ".incarnation";
  return std::nullopt;
}

lease::Ballot get(const v1::Ballot& b) {
  return lease::Ballot{b.round(), b.node(), b.incarnation(), b.instance()};
}

void put(const std::optional<lease::LeaseView>& l, v1::LeaseInfo* out) {
  out->set_owner(l->owner);
  out->set_epoch(l->epoch);
  out->set_remaining_us(
      static_cast<std::uint64_t>(duration_cast<microseconds>(l->remaining).count()));
  out->set_owner_instance(l->instance);
}

constexpr std::uint64_t kMaxMicros = 3600ULL * 1000 * 1000;  // one hour: nothing legit is longer

std::optional<std::string> get(const v1::LeaseInfo& l, std::optional<lease::LeaseView>& out) {
  if (l.owner() > lease::kDirectorB) return "lease.owner must be a director (0 or 1)";
  if (l.remaining_us() > kMaxMicros) return "lease.remaining_us out of range";
  if (l.epoch() > lease::kMaxCounter) return "lease.epoch above the limit";
  out = lease::LeaseView{l.owner(), l.epoch(), microseconds(l.remaining_us()), l.owner_instance()};
  return std::nullopt;
}

v1::RejectReason put(lease::RejectReason r) {
  switch (r) {
    case lease::RejectReason::kBallot:
      return v1::REJECT_BALLOT;
    case lease::RejectReason::kLiveLease:
      return v1::REJECT_LIVE_LEASE;
    case lease::RejectReason::kStaleEpoch:
      return v1::REJECT_STALE_EPOCH;
    case lease::RejectReason::kLeaseTooLong:
      return v1::REJECT_LEASE_TOO_LONG;
    case lease::RejectReason::kOutOfRange:
      return v1::REJECT_OUT_OF_RANGE;
  }
  return v1::REJECT_UNSPECIFIED;
}

std::optional<lease::RejectReason> get(v1::RejectReason r) {
  switch (r) {
    case v1::REJECT_BALLOT:
      return lease::RejectReason::kBallot;
    case v1::REJECT_LIVE_LEASE:
      return lease::RejectReason::kLiveLease;
    case v1::REJECT_STALE_EPOCH:
      return lease::RejectReason::kStaleEpoch;
    case v1::REJECT_LEASE_TOO_LONG:
      return lease::RejectReason::kLeaseTooLong;
    case v1::REJECT_OUT_OF_RANGE:
      return lease::RejectReason::kOutOfRange;
    default:
      return std::nullopt;
  }
}

}  // namespace

void toProto(const lease::Message& m, v1::PeerMessage& out) {
  out.Clear();
  out.set_from(m.from);
  out.set_to(m.to);
  out.set_instance(m.instance);
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, lease::Prepare>) {
          put(b.ballot, out.mutable_prepare()->mutable_ballot());
        } else if constexpr (std::is_same_v<T, lease::Promise>) {
          auto* p = out.mutable_promise();
          put(b.ballot, p->mutable_ballot());
          if (b.lease) put(b.lease, p->mutable_lease());
          p->set_max_epoch(b.maxEpoch);
        } else if constexpr (std::is_same_v<T, lease::Accept>) {
          auto* a = out.mutable_accept();
          put(b.ballot, a->mutable_ballot());
          a->set_epoch(b.epoch);
          a->set_lease_us(static_cast<std::uint64_t>(duration_cast<microseconds>(b.lease).count()));
        } else if constexpr (std::is_same_v<T, lease::Accepted>) {
          put(b.ballot, out.mutable_accepted()->mutable_ballot());
          out.mutable_accepted()->set_epoch(b.epoch);
        } else if constexpr (std::is_same_v<T, lease::Reject>) {
          auto* r = out.mutable_reject();
          put(b.ballot, r->mutable_ballot());
          put(b.promised, r->mutable_promised());
          r->set_max_epoch(b.maxEpoch);
          if (b.lease) put(b.lease, r->mutable_lease());
          r->set_reason(put(b.reason));
        } else if constexpr (std::is_same_v<T, lease::Release>) {
          out.mutable_release()->set_epoch(b.epoch);
        } else if constexpr (std::is_same_v<T, lease::Handover>) {
          out.mutable_handover()->set_epoch(b.epoch);
        } else if constexpr (std::is_same_v<T, lease::Preempt>) {
          out.mutable_preempt();
        } else if constexpr (std::is_same_v<T, lease::Ping>) {
          out.mutable_ping();
        } else if constexpr (std::is_same_v<T, lease::Pong>) {
          out.mutable_pong();
        }
      },
      m.body);
}

Result<lease::Message> fromProto(const v1::PeerMessage& in) {
  auto bad = [](std::string what) { return Status::fail(0, std::move(what)); };
  // No arithmetic near 2^64 is ever reached: a counter above kMaxCounter is refused here, by
  // name, before the core sees it (the core refuses it as well, see lease::rangeLimit).
  const std::string limit = " above the limit " + std::to_string(lease::kMaxCounter);
  auto tooBig = [&](std::uint64_t v, const char* field) -> std::optional<std::string> {
    if (v > lease::kMaxCounter) return std::string(field) + limit;
    return std::nullopt;
  };
  auto ballotTooBig = [&](const v1::Ballot& b, const std::string& field) {
    auto e = tooLarge(b, field);
    if (e) *e += limit;
    return e;
  };
  if (in.from() >= lease::kNodeCount) return bad("from: node id must be 0, 1 or 2");
  if (in.to() >= lease::kNodeCount) return bad("to: node id must be 0, 1 or 2");
  lease::Message out;
  out.from = in.from();
  out.to = in.to();
  out.instance = in.instance();
  std::optional<lease::LeaseView> l;
  switch (in.body_case()) {
    case v1::PeerMessage::kPrepare:
      if (auto e = ballotTooBig(in.prepare().ballot(), "prepare.ballot")) return bad(*e);
      out.body = lease::Prepare{get(in.prepare().ballot())};
      break;
    case v1::PeerMessage::kPromise: {
      const auto& p = in.promise();
      if (auto e = ballotTooBig(p.ballot(), "promise.ballot")) return bad(*e);
      if (auto e = tooBig(p.max_epoch(), "promise.max_epoch")) return bad(*e);
      if (p.has_lease()) {
        if (auto e = get(p.lease(), l)) return bad("promise." + *e);
      }
      out.body = lease::Promise{get(p.ballot()), l, p.max_epoch()};
      break;
    }
    case v1::PeerMessage::kAccept: {
      const auto& a = in.accept();
      if (auto e = ballotTooBig(a.ballot(), "accept.ballot")) return bad(*e);
      if (auto e = tooBig(a.epoch(), "accept.epoch")) return bad(*e);
      if (a.lease_us() == 0 || a.lease_us() > kMaxMicros)
        return bad("accept.lease_us out of range");
      out.body = lease::Accept{get(a.ballot()), a.epoch(), microseconds(a.lease_us())};
      break;
    }
    case v1::PeerMessage::kAccepted:
      if (auto e = ballotTooBig(in.accepted().ballot(), "accepted.ballot")) return bad(*e);
      if (auto e = tooBig(in.accepted().epoch(), "accepted.epoch")) return bad(*e);
      out.body = lease::Accepted{get(in.accepted().ballot()), in.accepted().epoch()};
      break;
    case v1::PeerMessage::kReject: {
      const auto& r = in.reject();
      auto reason = get(r.reason());
      if (!reason) return bad("reject.reason unknown");
      if (auto e = ballotTooBig(r.ballot(), "reject.ballot")) return bad(*e);
      if (auto e = ballotTooBig(r.promised(), "reject.promised")) return bad(*e);
      if (auto e = tooBig(r.max_epoch(), "reject.max_epoch")) return bad(*e);
      if (r.has_lease()) {
        if (auto e = get(r.lease(), l)) return bad("reject." + *e);
      }
      out.body = lease::Reject{get(r.ballot()), get(r.promised()), r.max_epoch(), l, *reason};
      break;
    }
    case v1::PeerMessage::kRelease:
      if (auto e = tooBig(in.release().epoch(), "release.epoch")) return bad(*e);
      out.body = lease::Release{in.release().epoch()};
      break;
    case v1::PeerMessage::kHandover:
      if (auto e = tooBig(in.handover().epoch(), "handover.epoch")) return bad(*e);
      out.body = lease::Handover{in.handover().epoch()};
      break;
    case v1::PeerMessage::kPreempt:
      out.body = lease::Preempt{};
      break;
    case v1::PeerMessage::kPing:
      out.body = lease::Ping{};
      break;
    case v1::PeerMessage::kPong:
      out.body = lease::Pong{};
      break;
    default:
      return bad("body: missing or unknown message type");
  }
  return out;
}

}  // namespace quorate
