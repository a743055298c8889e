// The arbiter's request handling: authentication per cluster, validation, durable epochs.
#include "arbiter/arbiter_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "arbiter/metrics.h"
#include "common/convert.h"
#include "common/membership.h"
#include "common/peer_auth.h"
#include "tests/support/temp_dir.h"

namespace quorate::arbiter {
namespace {

using namespace std::chrono_literals;
using lease::Time;

const std::string kKeyOne = "lb1-key-0123456789abcdef";
const std::string kKeyTwo = "lb2-key-0123456789abcdef";

class ArbiterServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.stateDir = tmp_.path();
    config_.quarantine = 1800ms;
    config_.clusters = {{"lb1", {kKeyOne}}, {"lb2", {kKeyTwo}}};
  }

  // Seals `body` as a director would (with `key`, else the first key of its cluster), hands it to
  // `svc` and, when answered, opens the sealed reply into `reply`: a reply that does not open
  // under the request's key fails the test.
  template <class Now>
  grpc::Status call(ArbiterService& svc, Now now, const v1::ExchangeRequest& body,
                    v1::ExchangeReply& reply, const std::string* key = nullptr) {
    std::string k = key ? *key : kKeyOne;
    for (const auto& c : config_.clusters) {
      if (!key && c.id == body.cluster()) k = c.secrets.front();
    }
    const auto wire = sealRequest(body, k, nextCounter());
    v1::ExchangeReply sealed;
    const grpc::Status s = svc.handle(now, wire, sealed);
    reply.Clear();
    if (s.ok()) {
      EXPECT_EQ(sealed.messages_size(), 0) << "a reply's messages travel in its signed body";
      const grpc::Status opened = openReply(sealed, k, wire.auth().mac(), reply);
      EXPECT_TRUE(opened.ok()) << opened.error_message();
    }
    return s;
  }

  v1::ExchangeRequest request(const std::string& cluster, const lease::Message& m) {
    v1::ExchangeRequest r;
    r.set_cluster(cluster);
    r.set_from_name(m.from == 0 ? "alpha" : "beta");
    r.set_membership(view(cluster));
    toProto(m, *r.mutable_message());
    return r;
  }
  // The directors' view of `cluster`; `swapped`: with the directors in the other order.
  static std::string view(const std::string& cluster, bool swapped = false) {
    const Member alpha{"alpha", "198.18.0.1:7101"}, beta{"beta", "198.18.0.2:7101"};
    return membershipText(cluster, {swapped ? beta : alpha, swapped ? alpha : beta,
                                    Member{"arbiter", "198.18.0.3:7100"}});
  }
  static lease::Message accept(std::uint64_t round, std::uint64_t epoch) {
    return lease::Message{0, lease::kArbiter,
                          lease::Accept{lease::Ballot{round, 0}, epoch, lease::Duration(1700ms)}};
  }

  testutil::TempDir tmp_{"quorate-arbiter-test"};
  ArbiterConfig config_;
  const Time start_ = Time(100s);
  const Time awake_ = start_ + 1800ms;
};

TEST_F(ArbiterServiceTest, UnknownClusterAndWrongSecretGetNothing) {
  ArbiterService svc(config_, start_);
  v1::ExchangeReply reply;
  auto s = call(svc, awake_, request("nope", accept(1, 1)), reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A stranger cannot tell an unknown cluster from a wrong key, and learns no name.
  const std::string unknownMessage = s.error_message();
  EXPECT_EQ(unknownMessage.find("nope"), std::string::npos) << unknownMessage;
  // lb2's key is no key of lb1's.
  s = call(svc, awake_, request("lb1", accept(1, 1)), reply, &kKeyTwo);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), unknownMessage);
  EXPECT_EQ(s.error_message().find("lb1"), std::string::npos) << s.error_message();
  // Unsigned: what a director that sends the secret in clear would send.
  auto plain = request("lb1", accept(1, 1));
  plain.mutable_auth();
  v1::ExchangeReply sealed;
  s = svc.handle(awake_, plain, sealed);
  EXPECT_EQ(s.error_message(), unknownMessage);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(sealed.messages_size(), 0);
  EXPECT_EQ(sealed.body(), "");
  EXPECT_EQ(svc.counters().unknownCluster.load(), 1u);
  EXPECT_EQ(svc.counters().badSecret.load(), 2u);
  // Nothing was granted: the right credentials now get the first epoch.
  s = call(svc, awake_, request("lb1", accept(1, 1)), reply);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(reply.messages_size(), 1);
  EXPECT_TRUE(reply.messages(0).has_accepted());
}

// A renewal captured on the wire and sent again after its director died must not keep that
// director's lease alive: it is refused, and the other director then gets the lease.
TEST_F(ArbiterServiceTest, AReplayedRequestIsRefusedAndChangesNothing) {
  ArbiterService svc(config_, start_);
  const auto captured = sealRequest(request("lb1", accept(1, 1)), kKeyOne, nextCounter());
  v1::ExchangeReply reply;
  ASSERT_TRUE(svc.handle(awake_, captured, reply).ok());
  v1::ExchangeReply opened;
  ASSERT_TRUE(openReply(reply, kKeyOne, captured.auth().mac(), opened).ok());
  ASSERT_TRUE(opened.messages(0).has_accepted());

  // Alpha is gone; its acceptor lease (1.7 s) has run out when the copy arrives.
  const Time later = awake_ + 2s;
  reply.Clear();
  const auto replayed = svc.handle(later, captured, reply);
  EXPECT_EQ(replayed.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(replayed.error_message().find("replayed request from \"alpha\""), std::string::npos)
      << replayed.error_message();
  EXPECT_EQ(svc.counters().replayed.load(), 1u);
  EXPECT_EQ(reply.body(), "");

  // Nothing was renewed: beta's campaign is accepted, not refused for alpha's live lease.
  const auto beta = lease::Message{1, lease::kArbiter,
                                   lease::Accept{lease::Ballot{2, 1}, 2, lease::Duration(1700ms)}};
  ASSERT_TRUE(call(svc, later + 1ms, request("lb1", beta), reply).ok());
  ASSERT_EQ(reply.messages_size(), 1);
  EXPECT_TRUE(reply.messages(0).has_accepted()) << reply.messages(0).DebugString();
}

TEST_F(ArbiterServiceTest, ACounterFarFromTheArbitersClockIsRefusedWithTheSkew) {
  ArbiterService svc(config_, start_);
  v1::ExchangeReply reply;
  const std::uint64_t tenMinutes = 600'000'000;
  const auto old = sealRequest(request("lb1", accept(1, 1)), kKeyOne, nextCounter() - tenMinutes);
  const auto s = svc.handle(awake_, old, reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find(" s behind this node's (more than 300 s"), std::string::npos)
      << s.error_message();
  // Refused before the acceptor: the first valid request is granted epoch 1 as if nothing came.
  ASSERT_TRUE(call(svc, awake_, request("lb1", accept(1, 1)), reply).ok());
  EXPECT_TRUE(reply.messages(0).has_accepted());
}

TEST_F(ArbiterServiceTest, DuringARotationEitherKeyIsAcceptedAndRepliesUseTheRequestsKey) {
  const std::string next = "lb1-next-key-0123456789";
  config_.clusters = {{"lb1", {next, kKeyOne}}};
  ArbiterService svc(config_, start_);
  v1::ExchangeReply reply;
  // call() opens each reply with the key its request was sealed with, and fails otherwise.
  ASSERT_TRUE(call(svc, awake_, request("lb1", accept(1, 1)), reply, &kKeyOne).ok());
  ASSERT_TRUE(call(svc, awake_ + 1ms, request("lb1", accept(1, 1)), reply, &next).ok());
  EXPECT_TRUE(reply.messages(0).has_accepted());
  EXPECT_EQ(call(svc, awake_ + 2ms, request("lb1", accept(1, 1)), reply, &kKeyTwo).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ArbiterServiceTest, MalformedMessagesAreInvalidArgument) {
  ArbiterService svc(config_, start_);
  v1::ExchangeReply reply;
  auto req = request("lb1", accept(1, 1));
  req.mutable_message()->set_to(1);
  EXPECT_EQ(call(svc, awake_, req, reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = request("lb1", accept(1, 1));
  req.mutable_message()->set_from(2);
  EXPECT_EQ(call(svc, awake_, req, reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.mutable_message()->clear_body();
  req.mutable_message()->set_from(0);
  EXPECT_EQ(call(svc, awake_, req, reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(svc.counters().badMessage.load(), 3u);
}

TEST_F(ArbiterServiceTest, ClustersAreIndependent) {
  ArbiterService svc(config_, start_);
  v1::ExchangeReply r1, r2;
  ASSERT_TRUE(call(svc, awake_, request("lb1", accept(1, 5)), r1).ok());
  // The same director id in another cluster is another director.
  auto m = accept(1, 1);
  m.from = 1;
  ASSERT_TRUE(call(svc, awake_, request("lb2", m), r2).ok());
  EXPECT_TRUE(r2.messages(0).has_accepted());
}

TEST_F(ArbiterServiceTest, QuarantineAfterStartAndEpochSurvivesRestart) {
  {
    ArbiterService svc(config_, start_);
    v1::ExchangeReply reply;
    ASSERT_TRUE(call(svc, start_, request("lb1", accept(1, 1)), reply).ok());
    EXPECT_EQ(reply.messages_size(), 0) << "answered during quarantine";
    ASSERT_TRUE(call(svc, awake_, request("lb1", accept(2, 9)), reply).ok());
    ASSERT_EQ(reply.messages_size(), 1);
  }
  ArbiterService again(config_, Time(500s));
  v1::ExchangeReply reply;
  const auto prep = lease::Message{1, lease::kArbiter, lease::Prepare{lease::Ballot{1, 1}}};
  ASSERT_TRUE(call(again, Time(500s) + 1800ms, request("lb1", prep), reply).ok());
  ASSERT_EQ(reply.messages_size(), 1);
  // Epochs were reserved ahead on disk: the floor after a restart is the reserved ceiling.
  EXPECT_EQ(reply.messages(0).promise().max_epoch(), 9u + lease::kEpochReserve);
}

// Issue 11, finding 2: the clock is read under the cluster's lock, so two requests see time in
// the order the acceptor handles them. Here B's clock may be read only after A's request, which
// holds the lock while its own clock read takes 100 ms, is done.
TEST_F(ArbiterServiceTest, ClockIsReadUnderTheClustersLock) {
  ArbiterService svc(config_, start_);
  std::atomic<bool> insideA{false}, bSawA{false};
  std::atomic<int> bReads{0};
  std::thread a([&] {
    v1::ExchangeReply r;
    call(
        svc,
        [&] {
          insideA = true;
          std::this_thread::sleep_for(100ms);
          insideA = false;
          return awake_;
        },
        request("lb1", accept(1, 1)), r);
  });
  while (!insideA) std::this_thread::yield();
  v1::ExchangeReply r;
  call(
      svc,
      [&] {
        ++bReads;
        if (insideA) bSawA = true;
        return awake_ + 1ms;
      },
      request("lb1", accept(2, 1)), r);
  a.join();
  EXPECT_EQ(bReads.load(), 1);
  EXPECT_FALSE(bSawA) << "B read its clock while A held the lock";
}

// Issue 11, finding 3: a grant whose state write failed is undone. Before the fix the grant
// stayed in memory: director 1 was refused (a live lease of director 0 nobody had written), and
// the next renewal of director 0 was accepted with nothing on disk.
TEST_F(ArbiterServiceTest, FailedPersistUndoesTheGrant) {
  config_.clusters = {{"lb1", {kKeyOne}}};
  ArbiterService svc(config_, start_);
  // The temporary file cannot be created: a directory is in its way.
  const std::string blocker = config_.stateDir + "/lb1.state.tmp";
  std::filesystem::create_directory(blocker);
  v1::ExchangeReply reply;
  EXPECT_EQ(call(svc, awake_, request("lb1", accept(1, 1)), reply).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(reply.messages_size(), 0);
  EXPECT_EQ(svc.counters().persistFailures.load(), 1u);
  // Nothing of it is left: director 1 may take a new epoch, and that one needs a write too.
  auto other = lease::Message{1, lease::kArbiter,
                              lease::Accept{lease::Ballot{5, 1}, 2, lease::Duration(1700ms)}};
  EXPECT_EQ(call(svc, awake_ + 1ms, request("lb1", other), reply).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  std::filesystem::remove(blocker);
  ASSERT_TRUE(call(svc, awake_ + 2ms, request("lb1", other), reply).ok());
  ASSERT_EQ(reply.messages_size(), 1);
  EXPECT_TRUE(reply.messages(0).has_accepted());
  EXPECT_TRUE(std::filesystem::exists(config_.stateDir + "/lb1.state"));
}

// Issue 11, finding 1: the arbiter pins the first view of who is who (on disk, across restarts)
// and refuses any other, naming both; and a sender whose name is not its id's in its own view.
TEST_F(ArbiterServiceTest, MembershipIsPinnedAndMismatchesRefused) {
  {
    ArbiterService svc(config_, start_);
    v1::ExchangeReply reply;
    ASSERT_TRUE(call(svc, awake_, request("lb1", accept(1, 1)), reply).ok());
    auto swapped = request("lb1", accept(2, 2));
    swapped.set_membership(view("lb1", true));
    swapped.set_from_name("beta");  // node 0 is beta in that view
    const auto s = call(svc, awake_ + 1ms, swapped, reply);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(s.error_message().find(oneLine(view("lb1"))), std::string::npos) << s.error_message();
    EXPECT_NE(s.error_message().find(oneLine(view("lb1", true))), std::string::npos);
    auto misnamed = request("lb1", accept(2, 2));
    misnamed.set_from_name("beta");  // node 0 calling itself beta
    EXPECT_EQ(call(svc, awake_ + 2ms, misnamed, reply).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    auto none = request("lb1", accept(2, 2));
    none.clear_membership();
    EXPECT_EQ(call(svc, awake_ + 3ms, none, reply).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(svc.counters().identityConflicts.load(), 3u);
    // Another cluster pins its own view.
    auto m = accept(1, 1);
    m.from = 1;
    auto lb2 = request("lb2", m);
    lb2.set_membership(view("lb2", true));
    lb2.set_from_name("alpha");
    EXPECT_TRUE(call(svc, awake_, lb2, reply).ok());
  }
  // After a restart, the swapped view is still refused: the pin is on disk.
  ArbiterService again(config_, Time(500s));
  auto swapped = request("lb1", accept(3, 3));
  swapped.set_membership(view("lb1", true));
  swapped.set_from_name("beta");
  v1::ExchangeReply reply;
  EXPECT_EQ(call(again, Time(500s) + 1800ms, swapped, reply).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ArbiterServiceTest, CorruptStateRefusesToStart) {
  std::ofstream(config_.stateDir + "/lb2.state") << "not a state file\n";
  try {
    ArbiterService svc(config_, start_);
    FAIL() << "started with a corrupt state file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("lb2.state"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quorate::arbiter

namespace quorate::arbiter {
namespace {

using namespace std::chrono_literals;

// Same state directory, quarantine and clusters as ArbiterServiceTest; requests name a lease.
class ArbiterLeasesTest : public ArbiterServiceTest {
 protected:
  v1::ExchangeRequest request(const std::string& leaseName, lease::NodeId from, std::uint64_t round,
                              std::uint64_t epoch) {
    v1::ExchangeRequest r;
    r.set_cluster("lb1");
    r.set_lease(leaseName);
    r.set_from_name(from == 0 ? "alpha" : "beta");
    r.set_membership(view("lb1"));
    toProto(
        lease::Message{from, lease::kArbiter,
                       lease::Accept{lease::Ballot{round, from}, epoch, lease::Duration(1700ms)}},
        *r.mutable_message());
    return r;
  }
};

TEST_F(ArbiterLeasesTest, EachLeaseHasItsOwnAcceptorAndStateFile) {
  ArbiterService svc(config_, start_);
  const auto awake = start_ + 1800ms;
  v1::ExchangeReply web, gw;
  // Director 0 holds "web"; director 1 may still take "gw" at the same time.
  ASSERT_TRUE(call(svc, awake, request("web", 0, 1, 1), web).ok());
  ASSERT_TRUE(call(svc, awake, request("gw", 1, 1, 1), gw).ok());
  ASSERT_EQ(web.messages_size(), 1);
  ASSERT_EQ(gw.messages_size(), 1);
  EXPECT_TRUE(web.messages(0).has_accepted());
  EXPECT_TRUE(gw.messages(0).has_accepted());
  // Within "web", director 1 is refused while director 0's lease is live.
  v1::ExchangeReply refused;
  ASSERT_TRUE(call(svc, awake + 10ms, request("web", 1, 5, 2), refused).ok());
  ASSERT_EQ(refused.messages_size(), 1);
  EXPECT_TRUE(refused.messages(0).has_reject());
  EXPECT_TRUE(std::filesystem::exists(config_.stateDir + "/lb1@web.state"));
  EXPECT_TRUE(std::filesystem::exists(config_.stateDir + "/lb1@gw.state"));
}

// Issue 11, finding 3: a lease first used after start-up answers at once only once the arbiter
// has been up for its quarantine; whether it has a state file says nothing (a grant whose write
// failed, a wiped state directory). Before the fix, "other" answered during the quarantine.
TEST_F(ArbiterLeasesTest, EveryLeaseWaitsOutTheArbitersQuarantineStateFileOrNot) {
  const auto awake = start_ + 1800ms;
  {
    ArbiterService svc(config_, start_);
    v1::ExchangeReply r;
    // Opened long after start-up: the arbiter's quarantine is over, it answers at once.
    ASSERT_TRUE(call(svc, awake + 1s, request("web", 0, 1, 3), r).ok());
    ASSERT_EQ(r.messages_size(), 1);
    EXPECT_TRUE(r.messages(0).has_accepted());
  }
  // Restarted: "web" has a state file, "other" none; neither may answer in the quarantine.
  ArbiterService again(config_, lease::Time(500s));
  const auto early = lease::Time(500s) + 1s;
  const auto later = lease::Time(500s) + 1800ms;
  v1::ExchangeReply quiet, fresh;
  ASSERT_TRUE(call(again, early, request("web", 1, 1, 4), quiet).ok());
  EXPECT_EQ(quiet.messages_size(), 0) << "web answered during the quarantine";
  ASSERT_TRUE(call(again, early, request("other", 1, 1, 1), fresh).ok());
  EXPECT_EQ(fresh.messages_size(), 0) << "other answered during the quarantine";
  ASSERT_TRUE(call(again, later, request("web", 1, 2, 4), quiet).ok());
  ASSERT_EQ(quiet.messages_size(), 1);
  EXPECT_TRUE(quiet.messages(0).has_accepted());
  ASSERT_TRUE(call(again, later, request("other", 1, 2, 1), fresh).ok());
  EXPECT_EQ(fresh.messages_size(), 1);
}

TEST_F(ArbiterLeasesTest, BadOrTooManyLeaseNamesAreRefused) {
  ArbiterService svc(config_, start_);
  const auto awake = start_ + 1800ms;
  v1::ExchangeReply r;
  EXPECT_EQ(call(svc, awake, request("../etc", 0, 1, 1), r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call(svc, awake, request(std::string(65, 'a'), 0, 1, 1), r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // The default lease counts too: 63 more named ones fit.
  for (std::size_t i = 0; i + 1 < ArbiterService::kMaxLeasesPerCluster; ++i) {
    ASSERT_TRUE(call(svc, awake, request("l" + std::to_string(i), 0, 1, 1), r).ok()) << i;
  }
  EXPECT_EQ(call(svc, awake, request("one-too-many", 0, 1, 1), r).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(svc.counters().tooManyLeases.load(), 1u);
}

// The scrape reads the clock under each cluster's lock, as requests do: read before it, a request
// stamped in between would show a negative last contact. A clock that ticks on every read makes
// the order visible; requests and scrapes run at once.
TEST_F(ArbiterServiceTest, ScrapesRacingRequestsNeverShowANegativeContactAge) {
  ArbiterService svc(config_, start_);
  std::atomic<std::int64_t> ticks{0};
  const auto clock = [&] { return awake_ + std::chrono::microseconds(ticks.fetch_add(1)); };
  v1::ExchangeReply first;
  ASSERT_TRUE(call(svc, clock, request("lb1", accept(1, 1)), first).ok());
  std::atomic<bool> done{false};
  std::thread requests([&] {
    v1::ExchangeReply r;
    for (int i = 0; i < 20000 && !done; ++i)
      (void)call(svc, clock, request("lb1", accept(1, 1)), r);
    done = true;
  });
  int scrapes = 0, negative = 0;
  while (!done) {
    const std::string t = renderArbiterMetrics(svc, clock);
    ++scrapes;
    if (t.find("quorate_arbiter_last_contact_seconds{cluster=\"lb1\",node=\"alpha\"} -") !=
        std::string::npos) {
      ++negative;
    }
  }
  requests.join();
  EXPECT_GT(scrapes, 0);
  EXPECT_EQ(negative, 0) << "of " << scrapes << " scrapes";
}

// The arbiter's /metrics text from the service's own state: the live lease, its holder and
// time left, each director's last contact, requests by outcome, and no stranger's cluster name.
TEST_F(ArbiterServiceTest, MetricsShowTheLeaseContactsAndRequestsByOutcome) {
  ArbiterService svc(config_, start_);
  v1::ExchangeReply reply;
  ASSERT_TRUE(call(svc, awake_, request("lb1", accept(1, 1)), reply).ok());
  EXPECT_EQ(call(svc, awake_, request("lb1", accept(2, 2)), reply, &kKeyTwo).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(call(svc, awake_, request("nope", accept(1, 1)), reply).ok());
  const std::string t = renderArbiterMetrics(svc, [&] { return awake_ + 500ms; });
  SCOPED_TRACE(t);
  auto has = [&](const std::string& line) {
    return t.find("\n" + line + "\n") != std::string::npos;
  };
  EXPECT_TRUE(has(R"(quorate_arbiter_lease_epoch{cluster="lb1",lease="default"} 1)"));
  EXPECT_TRUE(has(R"(quorate_arbiter_lease_holder{cluster="lb1",lease="default",node="alpha"} 1)"));
  EXPECT_TRUE(has(R"(quorate_arbiter_lease_remaining_seconds{cluster="lb1",lease="default"} 1.2)"));
  EXPECT_TRUE(has(R"(quorate_arbiter_last_contact_seconds{cluster="lb1",node="alpha"} 0.5)"));
  EXPECT_TRUE(has(R"(quorate_arbiter_requests_total{cluster="lb1",outcome="ok"} 1)"));
  EXPECT_TRUE(has(R"(quorate_arbiter_requests_total{cluster="lb1",outcome="unauthenticated"} 1)"));
  EXPECT_TRUE(has(R"(quorate_arbiter_requests_total{cluster="lb2",outcome="ok"} 0)"));
  EXPECT_TRUE(has(R"(quorate_arbiter_request_duration_seconds_count{cluster="lb1"} 2)"));
  EXPECT_TRUE(has(R"(quorate_arbiter_unknown_cluster_requests_total 1)"));
  // No lease lives in lb2, nobody called it, and a stranger's name is no label.
  EXPECT_EQ(t.find("lb2\",lease=\"default\",node="), std::string::npos);
  EXPECT_EQ(t.find("last_contact_seconds{cluster=\"lb2\""), std::string::npos);
  EXPECT_EQ(t.find("nope"), std::string::npos);
}

}  // namespace
}  // namespace quorate::arbiter

namespace quorate::arbiter {
namespace {

using namespace std::chrono_literals;

// Reloads applied to a running service (ArbiterService::apply with a plan from planReload).
class ArbiterReloadTest : public ArbiterServiceTest {
 protected:
  // The plan from the fixture's configuration to `next`, applied at `now`; the fixture's
  // configuration becomes `next` when it applied.
  Status reload(ArbiterService& svc, const ArbiterConfig& next, Time now) {
    const ReloadPlan plan = planReload(config_, next);
    EXPECT_TRUE(plan.ok()) << describe(plan);
    const Status st = svc.apply(plan, [now] { return now; });
    if (st) config_ = next;
    return st;
  }
  ArbiterConfig without(const std::string& id) const {
    ArbiterConfig next = config_;
    std::erase_if(next.clusters, [&](const ClusterEntry& e) { return e.id == id; });
    return next;
  }
  static lease::Message prepare(lease::NodeId from, std::uint64_t round) {
    return lease::Message{from, lease::kArbiter, lease::Prepare{lease::Ballot{round, from}}};
  }
  static std::uint64_t promisedFloor(const v1::ExchangeReply& reply) {
    EXPECT_EQ(reply.messages_size(), 1);
    if (reply.messages_size() != 1) return 0;
    EXPECT_TRUE(reply.messages(0).has_promise()) << reply.messages(0).DebugString();
    return reply.messages(0).promise().max_epoch();
  }
};

// A removed cluster's requests are refused as an unknown cluster's; the others keep their lease.
// Added back, its acceptor resumes from the state on disk: it is quiet for the quarantine from
// the reload, and never promises or accepts below what it did before the removal.
TEST_F(ArbiterReloadTest, ARemovedClusterIsRefusedAndComesBackWithItsEpochFloor) {
  ArbiterService svc(config_, start_);
  v1::ExchangeReply reply;
  ASSERT_TRUE(call(svc, awake_, request("lb1", accept(7, 7)), reply).ok());
  ASSERT_TRUE(reply.messages(0).has_accepted());
  auto fromBeta = accept(1, 3);
  fromBeta.from = 1;
  ASSERT_TRUE(call(svc, awake_, request("lb2", fromBeta), reply).ok());
  ASSERT_TRUE(reply.messages(0).has_accepted());

  ASSERT_TRUE(reload(svc, without("lb1"), awake_ + 10ms));
  EXPECT_EQ(svc.clusterCount(), 1u);
  const auto refused = call(svc, awake_ + 20ms, request("lb1", accept(7, 7)), reply);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(refused.error_message(), unknownCluster("lb1").error_message());
  // lb2's lease lives on: its holder renews under the same epoch.
  ASSERT_TRUE(call(svc, awake_ + 30ms, request("lb2", fromBeta), reply).ok());
  EXPECT_TRUE(reply.messages(0).has_accepted());
  EXPECT_TRUE(std::filesystem::exists(config_.stateDir + "/lb1.state"));

  ArbiterConfig next = config_;
  next.clusters.push_back({"lb1", {kKeyOne}});
  const Time readded = awake_ + 5s;
  ASSERT_TRUE(reload(svc, next, readded));
  // Quiet for the quarantine from the reload: it may have granted a lease it does not remember.
  ASSERT_TRUE(svc.snapshot([&] { return readded; })[0].leases[0].quarantine);
  ASSERT_TRUE(call(svc, readded + 1ms, request("lb1", prepare(1, 1)), reply).ok());
  EXPECT_EQ(reply.messages_size(), 0);
  const Time awakeAgain = readded + config_.quarantine;
  ASSERT_TRUE(call(svc, awakeAgain, request("lb1", prepare(1, 1)), reply).ok());
  EXPECT_GE(promisedFloor(reply), 7u) << "the re-added acceptor forgot the epochs it accepted";
  // So the next tenure's epoch is above every epoch of the removed life (a proposer picks one
  // above the max_epoch its promises report).
  const auto snap = svc.snapshot([&] { return awakeAgain; });
  ASSERT_EQ(snap.size(), 2u);
  ASSERT_EQ(snap[0].id, "lb1");
  EXPECT_GE(snap[0].leases[0].epoch, 7u);
}

// New keys for one cluster: both keys work during the rotation, its lease is renewed across
// the reload, and the other cluster does not notice. Then the old key goes.
TEST_F(ArbiterReloadTest, RotatedKeysKeepTheLeaseAndTheOtherClusters) {
  ArbiterService svc(config_, start_);
  v1::ExchangeReply reply;
  ASSERT_TRUE(call(svc, awake_, request("lb1", accept(1, 1)), reply).ok());
  ASSERT_TRUE(reply.messages(0).has_accepted());
  const std::string next = "lb1-next-key-0123456789";
  ArbiterConfig rotating = config_;
  rotating.clusters[0].secrets = {next, kKeyOne};
  ASSERT_TRUE(reload(svc, rotating, awake_ + 10ms));
  // The holder renews with either key (call() opens the reply with the request's key).
  ASSERT_TRUE(call(svc, awake_ + 20ms, request("lb1", accept(1, 1)), reply, &kKeyOne).ok());
  EXPECT_TRUE(reply.messages(0).has_accepted());
  ASSERT_TRUE(call(svc, awake_ + 30ms, request("lb1", accept(1, 1)), reply, &next).ok());
  EXPECT_TRUE(reply.messages(0).has_accepted());
  // The other director cannot take the live lease: the acceptor was kept, not replaced.
  auto fromBeta = accept(2, 2);
  fromBeta.from = 1;
  ASSERT_TRUE(call(svc, awake_ + 40ms, request("lb1", fromBeta), reply, &next).ok());
  ASSERT_EQ(reply.messages_size(), 1);
  EXPECT_FALSE(reply.messages(0).has_accepted());
  ASSERT_TRUE(call(svc, awake_ + 50ms, request("lb2", accept(1, 1)), reply).ok());
  EXPECT_TRUE(reply.messages(0).has_accepted());

  ArbiterConfig done = config_;
  done.clusters[0].secrets = {next};
  ASSERT_TRUE(reload(svc, done, awake_ + 60ms));
  EXPECT_EQ(call(svc, awake_ + 70ms, request("lb1", accept(1, 1)), reply, &kKeyOne).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(call(svc, awake_ + 80ms, request("lb1", accept(1, 1)), reply, &next).ok());
  EXPECT_TRUE(reply.messages(0).has_accepted());
}

// All or nothing: an added cluster whose state file is corrupt fails the whole reload, and the
// removal in the same plan does not happen.
TEST_F(ArbiterReloadTest, AFailingAdditionChangesNothing) {
  ArbiterService svc(config_, start_);
  std::ofstream(config_.stateDir + "/lb3.state") << "not a state file\n";
  ArbiterConfig next = without("lb2");
  next.clusters.push_back({"lb3", {"lb3-key-0123456789abcdef"}});
  const Status st = reload(svc, next, awake_);
  ASSERT_FALSE(st);
  EXPECT_NE(st.what().find("lb3.state"), std::string::npos) << st.what();
  EXPECT_EQ(svc.clusterCount(), 2u);
  v1::ExchangeReply reply;
  ASSERT_TRUE(call(svc, awake_, request("lb2", accept(1, 1)), reply).ok());
  EXPECT_TRUE(reply.messages(0).has_accepted());
}

// A large reload: 1,000 clusters added at once are all served, and the ones already served keep
// theirs. How long the exclusive lock was held is printed (docs: a reload stalls requests that
// long), not asserted.
TEST_F(ArbiterReloadTest, AThousandClustersAddedAtOnceAreAllServed) {
  ArbiterService svc(config_, start_);
  v1::ExchangeReply reply;
  ASSERT_TRUE(call(svc, awake_, request("lb1", accept(1, 1)), reply).ok());
  ArbiterConfig next = config_;
  for (int i = 0; i < 1000; ++i) {
    next.clusters.push_back(
        {"bulk" + std::to_string(i), {"bulk-key-0123456789-" + std::to_string(i)}});
  }
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(reload(svc, next, awake_ + 1ms));
  const auto took = std::chrono::steady_clock::now() - t0;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
  std::printf("1000 clusters added in %lld us\n", static_cast<long long>(us));
  RecordProperty("add_1000_clusters_us", std::to_string(us));
  EXPECT_EQ(svc.clusterCount(), 1002u);
  ASSERT_TRUE(call(svc, awake_ + 2ms, request("lb1", accept(1, 1)), reply).ok());
  EXPECT_TRUE(reply.messages(0).has_accepted());
  const Time later = awake_ + 1ms + config_.quarantine;
  ASSERT_TRUE(call(svc, later, request("bulk999", accept(1, 1)), reply).ok());
  EXPECT_TRUE(reply.messages(0).has_accepted());
}

// Reloads while a holder renews on another thread: lb1's keys rotated back and forth, another
// cluster added and removed, status read, 200 times. Every renewal is answered and accepted: a
// reload neither drops, refuses nor reorders the others' requests (and TSan sees the locking).
TEST_F(ArbiterReloadTest, ReloadsWhileAHolderRenewsNeverDisturbIt) {
  ArbiterService svc(config_, start_);
  std::atomic<std::int64_t> clockUs{
      std::chrono::duration_cast<std::chrono::microseconds>(awake_.time_since_epoch()).count()};
  const auto tick = [&] { return Time(std::chrono::microseconds(clockUs.fetch_add(100) + 100)); };
  std::atomic<bool> stop{false};
  std::atomic<int> renewals{0}, refused{0};
  std::thread holder([&] {
    v1::ExchangeReply reply;
    while (!stop.load()) {
      const auto st = call(svc, tick, request("lb1", accept(1, 1)), reply, &kKeyOne);
      if (st.ok() && reply.messages_size() == 1 && reply.messages(0).has_accepted()) {
        renewals.fetch_add(1);
      } else {
        refused.fetch_add(1);
      }
    }
  });
  const ArbiterConfig base = config_;
  ArbiterConfig rotated = base;
  rotated.clusters[0].secrets = {"lb1-next-key-0123456789", kKeyOne};
  ArbiterConfig grown = base;
  grown.clusters.push_back({"lb3", {"lb3-key-0123456789abcdef"}});
  // Planned from a copy: call() reads config_ on the holder's thread.
  ArbiterConfig running = base;
  for (int i = 0; i < 200; ++i) {
    const ArbiterConfig& next = i % 3 == 0 ? rotated : i % 3 == 1 ? grown : base;
    ASSERT_TRUE(svc.apply(planReload(running, next), tick));
    running = next;
    EXPECT_FALSE(svc.snapshot(tick).empty());
  }
  // At least a few renewals overlap the reloads, however the threads are scheduled.
  while (renewals.load() < 50) std::this_thread::yield();
  stop = true;
  holder.join();
  EXPECT_EQ(refused.load(), 0);
}

// The status snapshot: the holder by its pinned name, the epoch, and who was heard from when.
TEST_F(ArbiterReloadTest, SnapshotShowsHolderEpochAndContacts) {
  ArbiterService svc(config_, start_);
  v1::ExchangeReply reply;
  ASSERT_TRUE(call(svc, awake_, request("lb1", accept(4, 4)), reply).ok());
  const auto snap = svc.snapshot([this] { return awake_ + 500ms; });
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].id, "lb1");
  ASSERT_EQ(snap[0].leases.size(), 1u);
  EXPECT_EQ(snap[0].leases[0].name, "default");
  EXPECT_EQ(snap[0].leases[0].holder, "alpha");
  EXPECT_EQ(snap[0].leases[0].epoch, 4u);
  EXPECT_EQ(snap[0].leases[0].remaining, lease::Duration(1200ms));
  ASSERT_EQ(snap[0].contacts.size(), 1u);
  EXPECT_EQ(snap[0].contacts[0].node, "alpha");
  EXPECT_EQ(snap[0].contacts[0].age, lease::Duration(500ms));
  EXPECT_EQ(snap[1].id, "lb2");
  EXPECT_EQ(snap[1].leases[0].holder, "");
  EXPECT_TRUE(snap[1].contacts.empty());
}

}  // namespace
}  // namespace quorate::arbiter
