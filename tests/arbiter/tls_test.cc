// The arbiter's per-request certificate check: each cluster's own CA bundle, the sender's name,
// expiry, and CA bundles re-read when their file changes (a bad one is refused, the old kept).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "arbiter/arbiter_service.h"
#include "arbiter/reload.h"
#include "common/convert.h"
#include "common/membership.h"
#include "common/peer_auth.h"
#include "tests/support/temp_dir.h"

namespace quorate::arbiter {
namespace {

const std::string kKeyOne = "lb1-key-0123456789abcdef";
const std::string kKeyTwo = "lb2-key-0123456789abcdef";

using namespace std::chrono_literals;
using lease::Time;

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeText(const std::string& path, const std::string& text) {
  // Written beside and renamed over: the arbiter never reads half a file.
  std::ofstream(path + ".new") << text;
  std::rename((path + ".new").c_str(), path.c_str());
}

void run(const std::string& command) {
  ASSERT_EQ(std::system((command + " >/dev/null").c_str()), 0) << command;
}

class ArbiterTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new testutil::TempDir("quorate-arbiter-tls");
    const std::string s = QUORATE_MAKE_CERTS;
    const std::string d = certs_->path();
    run(s + " " + d + "/a lb1 alpha beta");
    run(s + " " + d + "/a lb2 alpha");
    run(s + " " + d + "/next lb1 alpha");  // lb1's next CA, for a rotation
    run("mkdir -p " + d + "/old/lb1 && cp " + d + "/a/lb1/ca.pem " + d + "/a/lb1/ca.key " + d +
        "/old/lb1/");
    run(s + " --expired " + d + "/old lb1 alpha");
  }
  static void TearDownTestSuite() { delete certs_; }
  static std::string pem(const std::string& rel) { return readText(certs_->path() + "/" + rel); }

  void SetUp() override {
    // The service reads the bundles from where the config says; lb1's is a copy it may rewrite.
    lb1Ca_ = tmp_.path() + "/lb1-ca.pem";
    writeText(lb1Ca_, pem("a/lb1/ca.pem"));
    config_.stateDir = tmp_.path();
    config_.quarantine = 1800ms;
    config_.tls = ArbiterTls{"unused.pem", "unused.key"};
    config_.clusters = {{"lb1", {kKeyOne}, lb1Ca_},
                        {"lb2", {kKeyTwo}, certs_->path() + "/a/lb2/ca.pem"}};
  }

  static v1::ExchangeRequest ping(const std::string& cluster, const std::string& secret,
                                  const std::string& fromName) {
    v1::ExchangeRequest r;
    r.set_cluster(cluster);
    r.set_from_name(fromName);
    r.set_membership(membershipText(
        cluster, {Member{"alpha", "198.18.0.1:7101"}, Member{"beta", "198.18.0.2:7101"},
                  Member{"arbiter", "198.18.0.3:7100"}}));
    toProto(lease::Message{static_cast<lease::NodeId>(fromName == "alpha" ? 0 : 1), lease::kArbiter,
                           lease::Ping{}},
            *r.mutable_message());
    return sealRequest(r, secret, nextCounter());
  }
  grpc::Status call(ArbiterService& svc, const std::string& cluster, const std::string& fromName,
                    const std::string& certPem) {
    v1::ExchangeReply reply;
    return svc.handle(awake_, ping(cluster, cluster == "lb1" ? kKeyOne : kKeyTwo, fromName), reply,
                      certPem);
  }

  static testutil::TempDir* certs_;
  testutil::TempDir tmp_{"quorate-arbiter-tls-state"};
  std::string lb1Ca_;
  ArbiterConfig config_;
  const Time start_ = Time(100s);
  const Time awake_ = start_ + 1800ms;
};
testutil::TempDir* ArbiterTlsTest::certs_ = nullptr;

TEST_F(ArbiterTlsTest, EachClusterTakesOnlyItsOwnNodesUnderTheirOwnNames) {
  ArbiterService svc(config_, start_);
  EXPECT_TRUE(call(svc, "lb1", "alpha", pem("a/lb1/alpha.pem")).ok());
  EXPECT_TRUE(call(svc, "lb1", "beta", pem("a/lb1/beta.pem")).ok());
  EXPECT_TRUE(call(svc, "lb2", "alpha", pem("a/lb2/alpha.pem")).ok());
  EXPECT_EQ(svc.counters().badCertificate.load(), 0u);

  // A certificate that does not verify gets the answer of an unknown cluster: whoever holds one
  // learns nothing about the clusters here (the reason is in the arbiter's log).
  const std::string unknown = call(svc, "no-such", "alpha", pem("a/lb1/alpha.pem")).error_message();
  // lb2's director for lb1: its CA is not lb1's.
  auto s = call(svc, "lb1", "alpha", pem("a/lb2/alpha.pem"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), unknown);
  EXPECT_EQ(s.error_message().find("lb1"), std::string::npos) << s.error_message();
  // beta's certificate, calling itself alpha.
  s = call(svc, "lb1", "alpha", pem("a/lb1/beta.pem"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(
      s.error_message().find("quorate://lb1/beta, but the request is from quorate://lb1/alpha"),
      std::string::npos)
      << s.error_message();
  // lb1's expired alpha.
  s = call(svc, "lb1", "alpha", pem("old/lb1/alpha.pem"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), unknown);
  // No certificate, or not one.
  EXPECT_EQ(call(svc, "lb1", "alpha", "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call(svc, "lb1", "alpha", "-----BEGIN CERTIFICATE-----\nzz\n").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(svc.counters().badCertificate.load(), 5u);
}

TEST_F(ArbiterTlsTest, WithoutTlsNoCertificateIsAsked) {
  config_.tls.reset();
  for (auto& c : config_.clusters) c.ca.clear();
  ArbiterService svc(config_, start_);
  EXPECT_TRUE(call(svc, "lb1", "alpha", "").ok());
}

TEST_F(ArbiterTlsTest, AChangedBundleIsReadAgainAndABadOneKeepsTheOld) {
  ArbiterService svc(config_, start_);
  const std::string next = pem("next/lb1/alpha.pem");
  ASSERT_EQ(call(svc, "lb1", "alpha", next).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Rotation, step 1: both CAs in the bundle. Read again within a few seconds.
  writeText(lb1Ca_, pem("a/lb1/ca.pem") + pem("next/lb1/ca.pem"));
  bool taken = false;
  for (int i = 0; i < 50 && !taken; ++i) {
    taken = call(svc, "lb1", "alpha", next).ok();
    if (!taken) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(taken) << "the new CA was never trusted";
  EXPECT_TRUE(call(svc, "lb1", "alpha", pem("a/lb1/alpha.pem")).ok()) << "the old CA was dropped";
  EXPECT_EQ(svc.counters().caReloads.load(), 1u);
  // A broken file: logged, counted, and the bundle in use stays.
  writeText(lb1Ca_, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
  for (int i = 0; i < 50 && svc.counters().caReloadFailures.load() == 0; ++i) {
    std::this_thread::sleep_for(100ms);
    (void)call(svc, "lb1", "alpha", next);
  }
  EXPECT_EQ(svc.counters().caReloadFailures.load(), 1u);
  EXPECT_TRUE(call(svc, "lb1", "alpha", next).ok());
  EXPECT_TRUE(call(svc, "lb1", "beta", pem("a/lb1/beta.pem")).ok());
}

// A reload that points lb1 at another CA bundle file: lb1 takes the new CA's directors from then
// on, lb2 keeps its CA; a bundle that cannot be read fails the reload and changes nothing.
TEST_F(ArbiterTlsTest, AReloadSwapsOneClustersCaBundle) {
  ArbiterService svc(config_, start_);
  const auto at = [this] { return awake_; };
  ArbiterConfig next = config_;
  next.clusters[0].ca = tmp_.path() + "/missing-ca.pem";
  const Status bad = svc.apply(planReload(config_, next), at);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.what().find("missing-ca.pem"), std::string::npos) << bad.what();
  EXPECT_TRUE(call(svc, "lb1", "alpha", pem("a/lb1/alpha.pem")).ok());

  next.clusters[0].ca = certs_->path() + "/next/lb1/ca.pem";
  ASSERT_TRUE(svc.apply(planReload(config_, next), at));
  EXPECT_TRUE(call(svc, "lb1", "alpha", pem("next/lb1/alpha.pem")).ok());
  EXPECT_EQ(call(svc, "lb1", "alpha", pem("a/lb1/alpha.pem")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(call(svc, "lb2", "alpha", pem("a/lb2/alpha.pem")).ok());
}

}  // namespace
}  // namespace quorate::arbiter
