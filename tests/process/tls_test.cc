// Mutual TLS with the real daemons: a TLS cluster elects and fails over; certificates of another
// cluster, of another CA, expired, or of the other director are refused with a clear error and
// the lease stays where it is; a build that skips the identity comparison is caught.
#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "common/peer_auth.h"
#include "common/tls/credentials.h"
#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;

const std::string kOtherCluster = "other";
const std::string kOtherSecret = "0123456789abcdef0123456789abcdef";

void sh(const std::string& command) {
  const auto r = runProgram({"/bin/bash", "-c", command}, 60s);
  ASSERT_EQ(r.exitCode, 0) << command << "\n" << r.out << r.err;
}

// Where the certificates of one test live; filled once the cluster id is known.
struct Certs {
  std::string root;  // empty until made
  std::string id;    // the cluster's id
  // good/<id>/: the cluster's CA and directors (and "ctl", the harness's own client);
  // good/arbiter-arb/: the arbiter's CA and certificate; good/other/: another cluster's CA
  // and its alpha; rogue/<id>/: another CA that names the same nodes; old/<id>/: the cluster's
  // CA with an expired alpha.
  std::string good(const std::string& node, const std::string& ext = "pem") const {
    return root + "/good/" + id + "/" + node + "." + ext;
  }
  std::string arbiterCa() const { return root + "/good/arbiter-arb/ca.pem"; }
  std::string at(const std::string& rel) const { return root + "/" + rel; }

  void make(const std::string& dir, const std::string& clusterId) {
    root = dir;
    id = clusterId;
    const std::string s = QUORATE_MAKE_CERTS;
    sh(s + " " + root + "/good " + id + " alpha beta ctl");
    sh(s + " --arbiter arb " + root + "/good");
    // Another arbiter of the same arbiter CA: a valid certificate, the wrong name.
    sh("mkdir -p " + root + "/good/arbiter-impostor && cp " + root + "/good/arbiter-arb/ca.* " +
       root + "/good/arbiter-impostor/");
    sh(s + " --arbiter impostor " + root + "/good");
    sh(s + " " + root + "/good " + kOtherCluster + " alpha");
    sh(s + " " + root + "/rogue " + id + " alpha beta");
    sh("mkdir -p " + root + "/old/" + id + " && cp " + good("ca") + " " + good("ca", "key") + " " +
       root + "/old/" + id + "/");
    sh(s + " --expired " + root + "/old " + id + " alpha");
  }
  tls::TlsFiles client(const std::string& trustCa, const std::string& certBase) const {
    return {trustCa, certBase + ".pem", certBase + ".key"};
  }
};

std::string replaceOnce(const std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) return text;
  return text.substr(0, at) + to + text.substr(at + from.size());
}

// A director's file with tls: and the arbiter's TLS name and CA.
std::string tlsDirector(const Certs& p, const std::string& self, const std::string& y) {
  if (p.root.empty()) return y;
  return replaceOnce(y, "arbiter:\n  id: arbiter\n",
                     "arbiter:\n  id: arbiter\n  name: arb\n  ca: " + p.arbiterCa() + "\n") +
         "tls:\n  ca: " + p.good("ca") + "\n  cert: " + p.good(self) +
         "\n  key: " + p.good(self, "key") + "\n";
}

// The arbiter's file with its certificate, the cluster's CA, and a second tenant with its own CA.
std::string tlsArbiter(const Certs& p, const std::string& y) {
  if (p.root.empty()) return y;
  return y + "    ca: " + p.good("ca") + "\n  - id: " + kOtherCluster + "\n    secret: \"" +
         kOtherSecret + "\"\n    ca: " + p.at("good/" + kOtherCluster + "/ca.pem") +
         "\ntls:\n  cert: " + p.at("good/arbiter-arb/arb.pem") +
         "\n  key: " + p.at("good/arbiter-arb/arb.key") + "\n";
}

// A cluster whose three nodes speak mutual TLS; the harness calls the directors as "ctl".
struct TlsCluster {
  explicit TlsCluster(const std::string& name) {
    auto p = certs;
    ClusterOptions o;
    o.editing(kAlpha, [p](const std::string& y) { return tlsDirector(*p, kAlpha, y); });
    o.editing(kBeta, [p](const std::string& y) { return tlsDirector(*p, kBeta, y); });
    o.editArbiterConfig = [p](const std::string& y) { return tlsArbiter(*p, y); };
    c = std::make_unique<Cluster>(name, std::move(o));
    certs->make(dir.path(), c->clusterId());
    c->rewriteConfigs();
    for (const auto& d : {kAlpha, kBeta}) {
      c->useCredentials(d, tls::channelCredentials(certs->client(
                               certs->good("ca"), certs->at("good/" + c->clusterId() + "/ctl"))));
    }
  }
  testutil::TempDir dir{"quorate-certs"};
  std::shared_ptr<Certs> certs = std::make_shared<Certs>();
  std::unique_ptr<Cluster> c;
};

// A Ping from `fromName` (id `from`) to node `to`, with the cluster's secret: only the TLS
// identity can make it wrong.
v1::ExchangeRequest ping(const Cluster& c, const std::string& cluster, const std::string& fromName,
                         std::uint32_t from, std::uint32_t to) {
  v1::ExchangeRequest r;
  r.set_cluster(cluster);
  r.set_from_name(fromName);
  r.set_membership(c.membership());
  r.mutable_message()->set_from(from);
  r.mutable_message()->set_to(to);
  r.mutable_message()->mutable_ping();
  return sealRequest(r, cluster == kOtherCluster ? kOtherSecret : c.secret(), nextCounter());
}

// One call to `address`, presenting `files.cert` and trusting `files.ca`.
grpc::Status exchangeAs(const std::string& address, const tls::TlsFiles& files,
                        const v1::ExchangeRequest& req) {
  auto channel = grpc::CreateChannel(address, tls::channelCredentials(files));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 3s);
  v1::ExchangeReply reply;
  return v1::Peer::NewStub(channel)->Exchange(&ctx, req, &reply);
}

std::string show(const grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

TEST(Tls, ClusterElectsAndMovesWhenTheHolderIsKilled) {
  TlsCluster t("tls-failover");
  Cluster& c = *t.c;
  const auto t0 = Clock::now();
  c.startAll();
  const auto first = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(first) << "no holder over TLS";
  reportMs("tls_cold_start_to_healthy_ms", msBetween(t0, first->seenAt));
  // The listener speaks TLS only: a client without a certificate gets nothing.
  {
    auto plain = grpc::CreateChannel(c.address(first->holder), grpc::InsecureChannelCredentials());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 1s);
    v1::StatusReply reply;
    EXPECT_FALSE(v1::Director::NewStub(plain)->Status(&ctx, v1::StatusRequest(), &reply).ok());
  }
  const std::string next = otherDirector(first->holder);
  const auto killedAt = Clock::now();
  c.kill(first->holder);
  const auto second = c.waitForSelfHolder(next, c.timers().failoverBound() + 2s);
  ASSERT_TRUE(second) << next << " did not take over";
  reportMs("tls_failover_after_kill_ms", msBetween(killedAt, second->seenAt));
  EXPECT_GT(second->epoch, first->epoch);
}

TEST(Tls, ForeignCertificatesAreRefusedAndTheLeaseStays) {
  TlsCluster t("tls-foreign");
  Cluster& c = *t.c;
  const Certs& p = *t.certs;
  c.startAll();
  // Settled, not just healthy: when both directors campaign at once, the winner's first renewal
  // may meet the loser's stray grant at the arbiter and step down once (seen in CI: beta held
  // epoch 1 for 0.5 s); the check below asserts that the lease never moves.
  const auto h = c.waitForSettled(c.timers().startupBound() + 10s);
  ASSERT_TRUE(h);
  const std::string standby = otherDirector(h->holder);
  const std::uint32_t standbyId = standby == kAlpha ? 0 : 1;
  const std::uint32_t holderId = 1 - standbyId;
  Sampler sampler(c);
  ASSERT_TRUE(sampler.waitForAnswers(10, 3s));

  // The right certificate passes: the refusals below are the certificates' doing.
  const std::string goodBase = p.root + "/good/" + p.id + "/";
  {
    const auto s = exchangeAs(c.address(kArbiter), p.client(p.arbiterCa(), goodBase + kAlpha),
                              ping(c, c.clusterId(), kAlpha, 0, 2));
    EXPECT_TRUE(s.ok()) << show(s);
  }
  {
    const auto s = exchangeAs(c.address(standby), p.client(p.good("ca"), goodBase + h->holder),
                              ping(c, c.clusterId(), h->holder, holderId, standbyId));
    EXPECT_TRUE(s.ok()) << show(s);
  }

  struct Case {
    std::string what;
    std::string certBase;
    std::string claimedName;  // the request's from_name (a director of the cluster)
    grpc::StatusCode atArbiter;
    std::string arbiterSays;      // part of the arbiter's message
    bool directorHandshakeFails;  // the director's handshake refuses the chain
  };
  const std::vector<Case> cases = {
      {"another cluster's director", p.root + "/good/" + kOtherCluster + "/alpha", h->holder,
       grpc::StatusCode::UNAUTHENTICATED, "unable to get local issuer certificate", true},
      {"a certificate of another CA with the same names",
       p.root + "/rogue/" + p.id + "/" + h->holder, h->holder, grpc::StatusCode::UNAUTHENTICATED,
       "unable to get local issuer certificate", true},
      {"an expired certificate", p.root + "/old/" + p.id + "/alpha", kAlpha,
       grpc::StatusCode::UNAUTHENTICATED, "certificate has expired", true},
      {"the other director's certificate", goodBase + standby, h->holder,
       grpc::StatusCode::PERMISSION_DENIED, "but the request is from", false},
      {"a cluster client that is no director", goodBase + "ctl", h->holder,
       grpc::StatusCode::PERMISSION_DENIED, "but the request is from", false},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.what);
    const std::uint32_t from = k.claimedName == kAlpha ? 0 : 1;
    // At the arbiter: checked per request against the cluster's CA, with a message saying why.
    const auto a = exchangeAs(c.address(kArbiter), p.client(p.arbiterCa(), k.certBase),
                              ping(c, c.clusterId(), k.claimedName, from, 2));
    EXPECT_EQ(a.error_code(), k.atArbiter) << show(a);
    if (k.atArbiter == grpc::StatusCode::UNAUTHENTICATED) {
      // A certificate that does not verify: the caller learns nothing (not even that the cluster
      // exists); the reason is in the arbiter's log.
      EXPECT_EQ(a.error_message().find(c.clusterId()), std::string::npos) << show(a);
      bool logged = false;
      for (int i = 0; i < 100 && !logged; ++i) {
        logged = c.log(kArbiter).find(k.arbiterSays) != std::string::npos;
        if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      EXPECT_TRUE(logged) << "the arbiter's log does not say: " << k.arbiterSays;
    } else {
      EXPECT_NE(a.error_message().find(k.arbiterSays), std::string::npos) << show(a);
    }
    // At the director the claimed sender is not: the chain is refused in the handshake, the
    // identity by the peer service.
    const std::string target = k.claimedName == kAlpha ? kBeta : kAlpha;
    const auto d =
        exchangeAs(c.address(target), p.client(p.good("ca"), k.certBase),
                   ping(c, c.clusterId(), k.claimedName, from, target == kAlpha ? 0 : 1));
    EXPECT_FALSE(d.ok()) << show(d);
    if (k.directorHandshakeFails) {
      EXPECT_EQ(d.error_code(), grpc::StatusCode::UNAVAILABLE) << show(d);
    } else {
      EXPECT_EQ(d.error_code(), grpc::StatusCode::PERMISSION_DENIED) << show(d);
      EXPECT_NE(d.error_message().find("the client certificate is quorate://"), std::string::npos)
          << show(d);
    }
  }
  // One arbiter, two tenants: cluster other's director is refused for this cluster (above), and
  // taken for its own (whatever its lease then says, the certificate is not the problem).
  {
    const auto s = exchangeAs(c.address(kArbiter),
                              p.client(p.arbiterCa(), p.root + "/good/" + kOtherCluster + "/alpha"),
                              ping(c, kOtherCluster, kAlpha, 0, 2));
    EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << show(s);
    EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << show(s);
  }
  std::this_thread::sleep_for(c.timers().renewInterval * 2);
  sampler.stop();
  const auto v = checkHeldThroughout(sampler.samples(), h->holder, h->epoch);
  EXPECT_TRUE(v.empty()) << summary(v);
  EXPECT_GT(okCount(sampler.samples(), standby), 0u);
}

// The request a director must refuse: beta's own certificate, claiming to be alpha. Sent to a
// director started alone from beta's file (so it is not even the target's own name).
grpc::Status wrongNodeAgainst(const std::string& binary) {
  TlsCluster t("tls-mutant");
  Cluster& c = *t.c;
  const Certs& p = *t.certs;
  ExtraProcess director({binary, "--config", c.configPath(kBeta)}, c.logPath(kBeta));
  const std::string goodBase = p.root + "/good/" + p.id + "/";
  grpc::Status s;
  // Until it listens (UNAVAILABLE), then its answer.
  waitUntil(
      [&] {
        s = exchangeAs(c.address(kBeta), p.client(p.good("ca"), goodBase + "beta"),
                       ping(c, c.clusterId(), kAlpha, 0, 1));
        return s.error_code() != grpc::StatusCode::UNAVAILABLE;
      },
      10s);
  return s;
}

TEST(Tls, TheRealDirectorRefusesAnotherDirectorsCertificate) {
  const auto s = wrongNodeAgainst(QUORATE_DIRECTOR);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << show(s);
}

// The broken build skips the comparison: the same request gets through, and this test sees it.
TEST(Tls, ABuildWithoutTheIdentityCheckIsCaught) {
  const auto s = wrongNodeAgainst(QUORATE_DIRECTOR_UNCHECKED);
  EXPECT_NE(s.error_code(), grpc::StatusCode::UNAVAILABLE) << "the broken build never listened";
  EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << "the broken build refused it: the test would not catch a missing check";
}

// alpha alone with an arbiter that presents another arbiter's certificate (same CA, another
// name): alpha drops every reply, so it never has a majority. `binary` runs alpha.
std::optional<HolderView> aloneWithAnImpostor(const std::string& binary) {
  TlsCluster t("tls-impostor");
  Cluster& c = *t.c;
  writeFile(c.configPath(kArbiter),
            std::regex_replace(readFile(c.configPath(kArbiter)), std::regex("arbiter-arb/arb\\."),
                               "arbiter-impostor/impostor."));
  c.start(kArbiter);
  ExtraProcess alpha({binary, "--config", c.configPath(kAlpha)}, c.logPath(kAlpha));
  return c.waitForSelfHolder(kAlpha, c.timers().startupBound() + 2s);
}

TEST(Tls, RepliesFromTheWrongArbiterAreDropped) {
  EXPECT_FALSE(aloneWithAnImpostor(QUORATE_DIRECTOR)) << "alpha held with an impostor's votes";
}

// The same with the broken build, which does not compare the server's identity: it holds, and
// the test above would see it.
TEST(Tls, ABuildThatTakesAnyArbiterIsCaught) {
  EXPECT_TRUE(aloneWithAnImpostor(QUORATE_DIRECTOR_UNCHECKED))
      << "the broken build did not hold: the test above would not catch a missing check";
}

// Wrong files are found by --check, before anything listens, with the reason.
TEST(Tls, BadCertificateFilesAreRefusedByCheck) {
  TlsCluster t("tls-check");
  Cluster& c = *t.c;
  const Certs& p = *t.certs;
  auto expectRefused = [&](const std::string& binary, const std::string& node,
                           const std::string& text, const std::string& says) {
    writeFile(c.configPath(node), text);
    const auto r = runProgram({binary, "--config", c.configPath(node), "--check"}, 10s);
    EXPECT_EQ(r.exitCode, 2) << text;
    EXPECT_NE((r.out + r.err).find(says), std::string::npos) << r.out << r.err;
  };
  const std::string alpha = readFile(c.configPath(kAlpha));
  {
    const auto r = runProgram({QUORATE_DIRECTOR, "--config", c.configPath(kAlpha), "--check"}, 10s);
    EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  }
  expectRefused(QUORATE_DIRECTOR, kAlpha,
                replaceOnce(alpha, p.good(kAlpha) + "\n", p.good(kBeta) + "\n"),
                "the certificate is quorate://" + p.id + "/beta but this director is quorate://" +
                    p.id + "/alpha");
  expectRefused(QUORATE_DIRECTOR, kAlpha,
                replaceOnce(alpha, p.good(kAlpha) + "\n", p.root + "/old/" + p.id + "/alpha.pem\n"),
                "certificate has expired");
  expectRefused(QUORATE_DIRECTOR, kAlpha,
                replaceOnce(alpha, p.good(kAlpha, "key"), p.good(kBeta, "key")), "does not belong");
  const std::string arbiter = readFile(c.configPath(kArbiter));
  {
    const auto r =
        runProgram({QUORATE_ARBITER, "--config", c.configPath(kArbiter), "--check"}, 10s);
    EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  }
  // Two tenants with one CA: either could mint the other's directors.
  expectRefused(QUORATE_ARBITER, kArbiter,
                replaceOnce(arbiter, p.at("good/" + kOtherCluster + "/ca.pem"), p.good("ca")),
                "trust the same CA certificate");
  expectRefused(QUORATE_ARBITER, kArbiter,
                replaceOnce(arbiter, p.at("good/arbiter-arb/arb.pem"), p.good(kAlpha)),
                "not an arbiter's");
}

}  // namespace
}  // namespace quorate::proctest
