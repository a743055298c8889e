// Authentication of the peer protocol with real processes: refused calls leave the lease alone.
#include <gtest/gtest.h>

#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;

// A well-formed, authenticated Ping from `from` (0: alpha, 1: beta) to `to` (2: the arbiter).
v1::ExchangeRequest validPing(const Cluster& c, std::uint32_t from, std::uint32_t to) {
  v1::ExchangeRequest r;
  r.set_cluster(c.clusterId());
  r.set_secret(c.secret());
  r.set_from_name(from == 0 ? kAlpha : kBeta);
  r.set_membership(c.membership());
  r.mutable_message()->set_from(from);
  r.mutable_message()->set_to(to);
  r.mutable_message()->mutable_ping();
  return r;
}

struct BadCall {
  std::string what;
  std::function<void(v1::ExchangeRequest&)> spoil;
  grpc::StatusCode expected;
};

std::vector<BadCall> badCalls() {
  using grpc::StatusCode;
  return {
      {"unknown cluster", [](auto& r) { r.set_cluster("no-such-cluster"); },
       StatusCode::UNAUTHENTICATED},
      {"wrong secret", [](auto& r) { r.set_secret("not-the-secret"); },
       StatusCode::UNAUTHENTICATED},
      {"no secret", [](auto& r) { r.clear_secret(); }, StatusCode::UNAUTHENTICATED},
      {"wrong secret and malformed",
       [](auto& r) {
         r.set_secret("not-the-secret");
         r.mutable_message()->set_to(7);
       },
       StatusCode::UNAUTHENTICATED},
      {"to=7", [](auto& r) { r.mutable_message()->set_to(7); }, StatusCode::INVALID_ARGUMENT},
      {"no body", [](auto& r) { r.mutable_message()->clear_body(); }, StatusCode::INVALID_ARGUMENT},
      {"no message", [](auto& r) { r.clear_message(); }, StatusCode::INVALID_ARGUMENT},
      {"accept with lease_us 0", [](auto& r) { r.mutable_message()->mutable_accept(); },
       StatusCode::INVALID_ARGUMENT},
  };
}

TEST(Auth, BadPeerCallsAreRefusedAndLeaveTheLeaseAlone) {
  Cluster c("auth");
  c.startAll();
  const auto h = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(h);
  const std::string standby = otherDirector(h->holder);
  const std::uint32_t standbyId = standby == kAlpha ? 0 : 1;
  const std::uint32_t holderId = 1 - standbyId;
  Sampler sampler(c);
  ASSERT_TRUE(sampler.waitForAnswers(10, 2s));

  // The control: the same call unspoilt is answered.
  v1::ExchangeReply reply;
  const grpc::Status ok = c.exchange(kArbiter, validPing(c, holderId, 2), &reply);
  EXPECT_TRUE(ok.ok()) << ok.error_message();

  // Each bad call, a hundred times, to the arbiter and to the standby director.
  const auto from = Clock::now();
  for (int round = 0; round < 100; ++round) {
    for (const auto& bad : badCalls()) {
      SCOPED_TRACE(bad.what);
      auto toArbiter = validPing(c, holderId, 2);
      bad.spoil(toArbiter);
      const grpc::Status a = c.exchange(kArbiter, toArbiter, &reply);
      ASSERT_EQ(a.error_code(), bad.expected) << "arbiter: " << a.error_message();
      auto toStandby = validPing(c, holderId, standbyId);
      bad.spoil(toStandby);
      const grpc::Status d = c.exchange(standby, toStandby, &reply);
      ASSERT_EQ(d.error_code(), bad.expected) << standby << ": " << d.error_message();
    }
    // Only the directors serve from director to director; the arbiter takes none.
    auto fromArbiter = validPing(c, 2, standbyId);
    EXPECT_EQ(c.exchange(standby, fromArbiter, &reply).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    auto toItself = validPing(c, holderId, 2);
    toItself.mutable_message()->set_from(2);
    EXPECT_EQ(c.exchange(kArbiter, toItself, &reply).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    // A director whose directors list disagrees (names the sender differently) is refused.
    auto misnamed = validPing(c, holderId, standbyId);
    misnamed.set_from_name("gamma");
    EXPECT_EQ(c.exchange(standby, misnamed, &reply).error_code(),
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
  Cluster c("wrong-secret", ClusterOptions().withWrongSecret(kAlpha, "not-the-cluster-secret"));
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
  EXPECT_NE(c.log(kAlpha).find("refused us: wrong secret"), std::string::npos)
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
