// The arbiter's request handling: authentication per cluster, validation, durable epochs.
#include "arbiter/arbiter_service.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/convert.h"

namespace quorate::arbiter {
namespace {

using namespace std::chrono_literals;
using lease::Time;

class ArbiterServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quorate-arbiter-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    config_.stateDir = tmpl;
    config_.quarantine = 1800ms;
    config_.clusters = {{"lb1", "secret-one"}, {"lb2", "secret-two"}};
  }
  void TearDown() override { std::filesystem::remove_all(config_.stateDir); }

  v1::ExchangeRequest request(const std::string& cluster, const std::string& secret,
                              const lease::Message& m) {
    v1::ExchangeRequest r;
    r.set_cluster(cluster);
    r.set_secret(secret);
    toProto(m, *r.mutable_message());
    return r;
  }
  static lease::Message accept(std::uint64_t round, std::uint64_t epoch) {
    return lease::Message{0, lease::kArbiter,
                          lease::Accept{lease::Ballot{round, 0}, epoch, lease::Duration(1700ms)}};
  }

  ArbiterConfig config_;
  const Time start_ = Time(100s);
  const Time awake_ = start_ + 1800ms;
};

TEST_F(ArbiterServiceTest, UnknownClusterAndWrongSecretGetNothing) {
  ArbiterService svc(config_, start_);
  v1::ExchangeReply reply;
  auto s = svc.handle(awake_, request("nope", "secret-one", accept(1, 1)), reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  s = svc.handle(awake_, request("lb1", "secret-two", accept(1, 1)), reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  s = svc.handle(awake_, request("lb1", "", accept(1, 1)), reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(reply.messages_size(), 0);
  EXPECT_EQ(svc.counters().unknownCluster.load(), 1u);
  EXPECT_EQ(svc.counters().badSecret.load(), 2u);
  // Nothing was granted: the right credentials now get the first epoch.
  s = svc.handle(awake_, request("lb1", "secret-one", accept(1, 1)), reply);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(reply.messages_size(), 1);
  EXPECT_TRUE(reply.messages(0).has_accepted());
}

TEST_F(ArbiterServiceTest, MalformedMessagesAreInvalidArgument) {
  ArbiterService svc(config_, start_);
  v1::ExchangeReply reply;
  auto req = request("lb1", "secret-one", accept(1, 1));
  req.mutable_message()->set_to(1);
  EXPECT_EQ(svc.handle(awake_, req, reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = request("lb1", "secret-one", accept(1, 1));
  req.mutable_message()->set_from(2);
  EXPECT_EQ(svc.handle(awake_, req, reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.mutable_message()->clear_body();
  req.mutable_message()->set_from(0);
  EXPECT_EQ(svc.handle(awake_, req, reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(svc.counters().badMessage.load(), 3u);
}

TEST_F(ArbiterServiceTest, ClustersAreIndependent) {
  ArbiterService svc(config_, start_);
  v1::ExchangeReply r1, r2;
  ASSERT_TRUE(svc.handle(awake_, request("lb1", "secret-one", accept(1, 5)), r1).ok());
  // The same director id in another cluster is another director.
  auto m = accept(1, 1);
  m.from = 1;
  ASSERT_TRUE(svc.handle(awake_, request("lb2", "secret-two", m), r2).ok());
  EXPECT_TRUE(r2.messages(0).has_accepted());
}

TEST_F(ArbiterServiceTest, QuarantineAfterStartAndEpochSurvivesRestart) {
  {
    ArbiterService svc(config_, start_);
    v1::ExchangeReply reply;
    ASSERT_TRUE(svc.handle(start_, request("lb1", "secret-one", accept(1, 1)), reply).ok());
    EXPECT_EQ(reply.messages_size(), 0) << "answered during quarantine";
    ASSERT_TRUE(svc.handle(awake_, request("lb1", "secret-one", accept(2, 9)), reply).ok());
    ASSERT_EQ(reply.messages_size(), 1);
  }
  ArbiterService again(config_, Time(500s));
  v1::ExchangeReply reply;
  const auto prep = lease::Message{1, lease::kArbiter, lease::Prepare{lease::Ballot{1, 1}}};
  ASSERT_TRUE(again.handle(Time(500s) + 1800ms, request("lb1", "secret-one", prep), reply).ok());
  ASSERT_EQ(reply.messages_size(), 1);
  EXPECT_EQ(reply.messages(0).promise().max_epoch(), 9u);
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
    r.set_secret("secret-one");
    r.set_lease(leaseName);
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
  ASSERT_TRUE(svc.handle(awake, request("web", 0, 1, 1), web).ok());
  ASSERT_TRUE(svc.handle(awake, request("gw", 1, 1, 1), gw).ok());
  ASSERT_EQ(web.messages_size(), 1);
  ASSERT_EQ(gw.messages_size(), 1);
  EXPECT_TRUE(web.messages(0).has_accepted());
  EXPECT_TRUE(gw.messages(0).has_accepted());
  // Within "web", director 1 is refused while director 0's lease is live.
  v1::ExchangeReply refused;
  ASSERT_TRUE(svc.handle(awake + 10ms, request("web", 1, 5, 2), refused).ok());
  ASSERT_EQ(refused.messages_size(), 1);
  EXPECT_TRUE(refused.messages(0).has_reject());
  EXPECT_TRUE(std::filesystem::exists(config_.stateDir + "/lb1@web.state"));
  EXPECT_TRUE(std::filesystem::exists(config_.stateDir + "/lb1@gw.state"));
}

TEST_F(ArbiterLeasesTest, ANewLeaseAnswersAtOnceButOneWithStateWaitsOutItsQuarantine) {
  const auto awake = start_ + 1800ms;
  {
    ArbiterService svc(config_, start_);
    v1::ExchangeReply r;
    // Opened after start-up, never granted before: no quarantine.
    ASSERT_TRUE(svc.handle(awake + 1s, request("web", 0, 1, 3), r).ok());
    ASSERT_EQ(r.messages_size(), 1);
    EXPECT_TRUE(r.messages(0).has_accepted());
  }
  // Restarted: "web" has a state file, so it may have granted a lease it no longer knows.
  ArbiterService again(config_, lease::Time(500s));
  const auto later = lease::Time(500s) + 1800ms;
  v1::ExchangeReply quiet, fresh;
  ASSERT_TRUE(again.handle(later, request("web", 1, 1, 4), quiet).ok());
  EXPECT_EQ(quiet.messages_size(), 0) << "answered during its quarantine";
  ASSERT_TRUE(again.handle(later + 1800ms, request("web", 1, 2, 4), quiet).ok());
  ASSERT_EQ(quiet.messages_size(), 1);
  EXPECT_TRUE(quiet.messages(0).has_accepted());
  ASSERT_TRUE(again.handle(later, request("other", 1, 1, 1), fresh).ok());
  EXPECT_EQ(fresh.messages_size(), 1);
}

TEST_F(ArbiterLeasesTest, BadOrTooManyLeaseNamesAreRefused) {
  ArbiterService svc(config_, start_);
  const auto awake = start_ + 1800ms;
  v1::ExchangeReply r;
  EXPECT_EQ(svc.handle(awake, request("../etc", 0, 1, 1), r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(svc.handle(awake, request(std::string(65, 'a'), 0, 1, 1), r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // The default lease counts too: 63 more named ones fit.
  for (std::size_t i = 0; i + 1 < ArbiterService::kMaxLeasesPerCluster; ++i) {
    ASSERT_TRUE(svc.handle(awake, request("l" + std::to_string(i), 0, 1, 1), r).ok()) << i;
  }
  EXPECT_EQ(svc.handle(awake, request("one-too-many", 0, 1, 1), r).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(svc.counters().tooManyLeases.load(), 1u);
}

}  // namespace
}  // namespace quorate::arbiter
