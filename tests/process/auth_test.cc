// Authentication of the peer protocol with real processes: refused calls leave the lease alone.
#include <gtest/gtest.h>

#include "common/peer_auth.h"
#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;

// A well-formed Ping from `from` (0: alpha, 1: beta) to `to` (2: the arbiter), not sealed yet.
v1::ExchangeRequest validPing(const Cluster& c, std::uint32_t from, std::uint32_t to) {
  v1::ExchangeRequest r;
  r.set_cluster(c.clusterId());
  r.set_from_name(from == 0 ? kAlpha : kBeta);
  r.set_membership(c.membership());
  r.mutable_message()->set_from(from);
  r.mutable_message()->set_to(to);
  r.mutable_message()->mutable_ping();
  return r;
}

// `body` sealed with the cluster's key (common/peer_auth.h), as a director sends it.
v1::ExchangeRequest sealed(const Cluster& c, const v1::ExchangeRequest& body) {
  return sealRequest(body, c.secret(), nextCounter());
}

// A spoilt call: `spoil` edits the body before it is sealed, `spoilWire` the sealed request (the
// key it is sealed with is `key`, the cluster's when empty).
struct BadCall {
  std::string what;
  std::function<void(v1::ExchangeRequest&)> spoil;
  std::function<void(v1::ExchangeRequest&)> spoilWire;
  std::string key;
  grpc::StatusCode expected;
};

std::vector<BadCall> badCalls() {
  using grpc::StatusCode;
  const auto none = [](auto&) {};
  const std::string wrongKey = "not-the-cluster-key-0123456789";
  return {
      {"unknown cluster", none, [](auto& r) { r.set_cluster("no-such-cluster"); }, "",
       StatusCode::UNAUTHENTICATED},
      {"wrong key", none, none, wrongKey, StatusCode::UNAUTHENTICATED},
      {"not sealed", none, [](auto& r) { r.clear_auth(); }, "", StatusCode::UNAUTHENTICATED},
      {"body altered after sealing", none, [](auto& r) { r.mutable_body()->back() ^= 0x01; }, "",
       StatusCode::UNAUTHENTICATED},
      {"wrong key and malformed", [](auto& r) { r.mutable_message()->set_to(7); }, none, wrongKey,
       StatusCode::UNAUTHENTICATED},
      {"to=7", [](auto& r) { r.mutable_message()->set_to(7); }, none, "",
       StatusCode::INVALID_ARGUMENT},
      {"no body", [](auto& r) { r.mutable_message()->clear_body(); }, none, "",
       StatusCode::INVALID_ARGUMENT},
      {"no message", [](auto& r) { r.clear_message(); }, none, "", StatusCode::INVALID_ARGUMENT},
      {"accept with lease_us 0", [](auto& r) { r.mutable_message()->mutable_accept(); }, none, "",
       StatusCode::INVALID_ARGUMENT},
  };
}

v1::ExchangeRequest spoilt(const Cluster& c, const BadCall& bad, std::uint32_t from,
                           std::uint32_t to) {
  auto body = validPing(c, from, to);
  bad.spoil(body);
  auto wire = sealRequest(body, bad.key.empty() ? c.secret() : bad.key, nextCounter());
  bad.spoilWire(wire);
  return wire;
}

TEST(Auth, BadPeerCallsAreRefusedAndLeaveTheLeaseAlone) {
  Cluster c("auth");
  c.startAll();
  const auto h = c.waitForSettled(c.timers().startupBound() + 10s);
  ASSERT_TRUE(h);
  const std::string standby = otherDirector(h->holder);
  const std::uint32_t standbyId = standby == kAlpha ? 0 : 1;
  const std::uint32_t holderId = 1 - standbyId;
  Sampler sampler(c);
  ASSERT_TRUE(sampler.waitForAnswers(10, 2s));

  // The control: the same call unspoilt is answered.
  v1::ExchangeReply reply;
  const grpc::Status ok = c.exchange(kArbiter, sealed(c, validPing(c, holderId, 2)), &reply);
  EXPECT_TRUE(ok.ok()) << ok.error_message();

  // Each bad call, a hundred times, to the arbiter and to the standby director.
  const auto from = Clock::now();
  for (int round = 0; round < 100; ++round) {
    for (const auto& bad : badCalls()) {
      SCOPED_TRACE(bad.what);
      const grpc::Status a = c.exchange(kArbiter, spoilt(c, bad, holderId, 2), &reply);
      ASSERT_EQ(a.error_code(), bad.expected) << "arbiter: " << a.error_message();
      const grpc::Status d = c.exchange(standby, spoilt(c, bad, holderId, standbyId), &reply);
      ASSERT_EQ(d.error_code(), bad.expected) << standby << ": " << d.error_message();
    }
    // Only the directors serve from director to director; the arbiter takes none.
    auto fromArbiter = validPing(c, 2, standbyId);
    EXPECT_EQ(c.exchange(standby, sealed(c, fromArbiter), &reply).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    auto toItself = validPing(c, holderId, 2);
    toItself.mutable_message()->set_from(2);
    EXPECT_EQ(c.exchange(kArbiter, sealed(c, toItself), &reply).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    // A director whose directors list disagrees (names the sender differently) is refused.
    auto misnamed = validPing(c, holderId, standbyId);
    misnamed.set_from_name("gamma");
    EXPECT_EQ(c.exchange(standby, sealed(c, misnamed), &reply).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  reportMs("bad_calls_duration_ms", msBetween(from, Clock::now()));

  const auto after = c.waitForHolder(1s);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->holder, h->holder);
  EXPECT_EQ(after->epoch, h->epoch);
  sampler.stop();
  const auto samples = sampler.samples();
  EXPECT_TRUE(checkHeldThroughout(samples, h->holder, h->epoch).empty())
      << summary(checkHeldThroughout(samples, h->holder, h->epoch));
}

// A director with the wrong secret, the arbiter, and no second director: the arbiter's vote
// is the only one it can get besides its own, and the arbiter refuses it.
TEST(Auth, DirectorWithAWrongSecretNeverHolds) {
  Cluster c("wrong-secret",
            ClusterOptions().withWrongSecret(kAlpha, "not-the-cluster-key-0123456789"));
  c.start(kArbiter);
  c.start(kAlpha);
  const Timers& t = c.timers();
  // Its quarantine, then two acceptor leases of campaigning (several rounds with back-off).
  const auto violation = observeFor(t.quarantine + 2 * t.acceptorLease, [&] {
    const auto s = c.status(kAlpha);
    return s && s->role() == "holder"
               ? std::optional<std::string>("alpha holds, epoch " + std::to_string(s->epoch()))
               : std::nullopt;
  });
  EXPECT_EQ(violation, std::nullopt);
  const auto s = c.status(kAlpha);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->holder(), "");
  EXPECT_NE(c.log(kAlpha).find("not authenticated: unknown cluster, key or signature"),
            std::string::npos)
      << "alpha's log does not show the refusal";
  EXPECT_EQ(c.log(kArbiter).find("granted"), std::string::npos) << "the arbiter granted an epoch";

  // The control: with the right secret the same pair elects alpha.
  c.kill(kAlpha);
  c.fixSecret(kAlpha);
  c.start(kAlpha);
  const auto h = c.waitForSelfHolder(kAlpha, t.startupBound());
  EXPECT_TRUE(h) << "alpha with the right secret did not become holder";
}

}  // namespace
}  // namespace quorate::proctest
