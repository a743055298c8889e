// Shared-secret authentication with the real daemons: a captured request replayed to the
// arbiter, replies forged by whoever stands where the arbiter should be, and a key rotation.
#include "common/peer_auth.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>

#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;

// Stands where the directors believe the arbiter is (a host on the path, or one that took the
// arbiter's address). kForward passes every call on to the real arbiter and keeps the last
// sealed Accept of each director, as a capture on the wire would. The forging modes answer alone:
// a Promise to every Prepare and an Accepted to every Accept, whatever the acceptors think;
// kForgeWithKey seals them with the cluster's key (what the real arbiter could do: the control),
// kForgeWithoutKey cannot, and puts a MAC of its own.
class ArbiterInTheMiddle final : public v1::Peer::Service {
 public:
  enum class Mode { kForward, kForgeWithKey, kForgeWithoutKey };

  ArbiterInTheMiddle(Mode mode, const std::string& arbiter, std::string key)
      : mode_(mode),
        key_(std::move(key)),
        address_("127.0.0.1:" + std::to_string(testutil::reservePort())),
        stub_(v1::Peer::NewStub(grpc::CreateChannel(arbiter, grpc::InsecureChannelCredentials()))) {
    grpc::ServerBuilder b;
    b.AddListeningPort(address_, grpc::InsecureServerCredentials());
    b.RegisterService(this);
    server_ = b.BuildAndStart();
    if (!server_) throw std::runtime_error("cannot listen on " + address_);
  }
  ~ArbiterInTheMiddle() override { server_->Shutdown(std::chrono::system_clock::now() + 1s); }

  const std::string& address() const { return address_; }
  std::uint64_t forged() const { return forged_.load(); }
  std::optional<v1::ExchangeRequest> lastAccept(std::uint32_t from) const {
    std::lock_guard lock(mu_);
    const auto it = lastAccept_.find(from);
    if (it == lastAccept_.end()) return std::nullopt;
    return it->second;
  }

  grpc::Status Exchange(grpc::ServerContext*, const v1::ExchangeRequest* req,
                        v1::ExchangeReply* reply) override {
    // The body is signed, not encrypted: anyone on the path reads it.
    v1::ExchangeRequest body;
    if (!body.ParseFromString(req->body())) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no body");
    }
    const v1::PeerMessage& in = body.message();
    if (mode_ == Mode::kForward) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 1s);
      const grpc::Status s = stub_->Exchange(&ctx, *req, reply);
      if (in.has_accept()) {
        std::lock_guard lock(mu_);
        lastAccept_[in.from()] = *req;
      }
      return s;
    }
    v1::PeerMessage* out = reply->add_messages();
    out->set_from(2);
    out->set_to(in.from());
    if (in.has_prepare()) {
      *out->mutable_promise()->mutable_ballot() = in.prepare().ballot();
    } else if (in.has_accept()) {
      *out->mutable_accepted()->mutable_ballot() = in.accept().ballot();
      out->mutable_accepted()->set_epoch(in.accept().epoch());
    } else {
      out->mutable_pong();
    }
    sealReply(*reply, key_, req->auth().mac());
    if (mode_ == Mode::kForgeWithoutKey) reply->set_mac(std::string(32, '\x5a'));
    forged_.fetch_add(1);
    return grpc::Status::OK;
  }

 private:
  const Mode mode_;
  const std::string key_;
  const std::string address_;
  std::unique_ptr<v1::Peer::Stub> stub_;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<std::uint64_t> forged_{0};
  mutable std::mutex mu_;
  std::map<std::uint32_t, v1::ExchangeRequest> lastAccept_;  // guarded by mu_
};

// Options whose directors name `*arbiter` (an address known once the cluster has its ports, then
// Cluster::rewriteConfigs()) instead of the real arbiter.
ClusterOptions pointedAt(const std::string* from, const std::string* to) {
  auto edit = [from, to](std::string y) {
    const auto at = y.find("  address: " + *from + "\n");
    return at == std::string::npos || to->empty()
               ? y
               : y.replace(at, from->size() + 12, "  address: " + *to + "\n");
  };
  return ClusterOptions().editing(kAlpha, edit).editing(kBeta, edit);
}

// The attack the counter stops: the holder dies, and someone who captured one of its renewals
// keeps sending it to the arbiter. Were it accepted, the arbiter would keep the dead holder's
// lease alive and the standby could never get a majority. Each copy is refused, and the standby
// takes over as if nobody had sent anything.
TEST(PeerAuth, ACapturedRenewalReplayedToTheArbiterIsRefusedAndChangesNothing) {
  std::string arbiter, middle;
  Cluster c("replay", pointedAt(&arbiter, &middle));
  arbiter = c.address(kArbiter);
  ArbiterInTheMiddle wire(ArbiterInTheMiddle::Mode::kForward, arbiter, "");
  middle = wire.address();
  c.rewriteConfigs();
  ASSERT_NE(readFile(c.configPath(kAlpha)).find(middle), std::string::npos);
  c.startAll();
  const auto h = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(h) << "the cluster did not become healthy";
  const std::uint32_t holderId = h->holder == kAlpha ? 0 : 1;
  const std::string standby = otherDirector(h->holder);
  ASSERT_TRUE(waitUntil([&] { return wire.lastAccept(holderId).has_value(); }, 2s));

  c.kill(h->holder);
  const auto killedAt = Clock::now();
  const v1::ExchangeRequest captured = *wire.lastAccept(holderId);
  int sent = 0;
  std::optional<HolderView> took;
  while (!took && Clock::now() < killedAt + c.timers().failoverBound() + 1s) {
    v1::ExchangeReply reply;
    const grpc::Status s = c.exchange(kArbiter, captured, &reply);
    ++sent;
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << "copy " << sent << " accepted";
    EXPECT_NE(s.error_message().find("replayed request from \"" + h->holder + "\""),
              std::string::npos)
        << s.error_message();
    const auto st = c.status(standby);
    if (st && st->role() == "holder") took = HolderView{standby, st->epoch(), Clock::now()};
    std::this_thread::sleep_for(100ms);  // well inside any lease: each copy would renew it
  }
  ASSERT_TRUE(took) << standby << " did not take over while the renewal was replayed (" << sent
                    << " copies)";
  reportMs("failover_under_replay_ms", msBetween(killedAt, took->seenAt));
  EXPECT_GT(took->epoch, h->epoch);
  EXPECT_GT(sent, 1);
}

// Nothing the arbiter's address answers counts unless it is sealed with the cluster's key: alpha,
// alone with a forger that grants everything, never holds. The control: the same forger with the
// key makes alpha holder, so only the MAC stands between a forged "accepted" and a holder.
TEST(PeerAuth, ForgedRepliesAreDroppedAndNeverMakeAHolder) {
  for (const auto mode :
       {ArbiterInTheMiddle::Mode::kForgeWithKey, ArbiterInTheMiddle::Mode::kForgeWithoutKey}) {
    const bool withKey = mode == ArbiterInTheMiddle::Mode::kForgeWithKey;
    SCOPED_TRACE(withKey ? "forger with the key" : "forger without the key");
    std::string arbiter, middle;
    Cluster c(withKey ? "forged-keyed" : "forged", pointedAt(&arbiter, &middle));
    arbiter = c.address(kArbiter);
    ArbiterInTheMiddle forger(mode, arbiter, c.secret());
    middle = forger.address();
    c.rewriteConfigs();
    c.start(kAlpha);  // no beta, no real arbiter: the forger's vote is alpha's only other one
    const Timers& t = c.timers();
    if (withKey) {
      EXPECT_TRUE(c.waitForSelfHolder(kAlpha, t.startupBound()))
          << "the control failed: a forger with the key did not make alpha holder";
      continue;
    }
    const auto violation = observeFor(t.quarantine + 2 * t.acceptorLease, [&] {
      const auto s = c.status(kAlpha);
      return s && s->role() == "holder"
                 ? std::optional<std::string>("alpha holds, epoch " + std::to_string(s->epoch()))
                 : std::nullopt;
    });
    EXPECT_EQ(violation, std::nullopt);
    EXPECT_GT(forger.forged(), 0u) << "alpha never asked the forger";
    EXPECT_NE(c.log(kAlpha).find("reply: wrong or missing MAC"), std::string::npos)
        << "alpha's log does not show the dropped replies";
  }
}

// A key rotation with restarts, one node at a time, never losing the holder: every node gets
// [new, old] (the new key signs, both are accepted), then [new]; a holder hands the lease over
// before its own restart. At the end the old key opens nothing.
TEST(PeerAuth, AKeyRotationKeepsAHolderThroughout) {
  Cluster c("rotation");
  const std::string oldKey = c.secret();
  const std::string newKey = "the-rotated-cluster-key-" + std::to_string(::getpid());
  c.startAll();
  // Settled: the first renewal may meet the loser's stray grant (Cluster::waitForSettled).
  auto h = c.waitForSettled(c.timers().startupBound() + 10s);
  ASSERT_TRUE(h) << "the cluster did not become healthy";
  Sampler sampler(c);
  ASSERT_TRUE(sampler.waitForAnswers(10, 2s));

  for (const auto& keys : {std::vector<std::string>{newKey, oldKey}, {newKey}}) {
    SCOPED_TRACE(keys.size() == 2 ? "new key signs, old one accepted" : "old key dropped");
    // The arbiter and the standby restart under the holder, which keeps its lease and epoch.
    for (const auto& who : {kArbiter, otherDirector(h->holder)}) {
      SCOPED_TRACE("restarting " + who);
      const auto from = Clock::now();
      c.useKeys(who, keys);
      c.restart(who);
      const auto back = c.waitForHealthy(c.timers().quarantine + 3s);
      ASSERT_TRUE(back) << who << " did not rejoin";
      EXPECT_EQ(back->holder, h->holder);
      EXPECT_EQ(back->epoch, h->epoch);
      const auto phase = between(sampler.samples(), from, Clock::now());
      EXPECT_TRUE(checkHeldThroughout(phase, h->holder, h->epoch).empty())
          << summary(checkHeldThroughout(phase, h->holder, h->epoch));
    }
    // The holder hands over first, then restarts as the standby.
    const std::string old = h->holder;
    ASSERT_TRUE(c.stepDown(old).ok());
    const auto nh = c.waitForSelfHolder(otherDirector(old), 2s);
    ASSERT_TRUE(nh) << "no handover";
    c.useKeys(old, keys);
    c.restart(old);
    h = c.waitForHealthy(c.timers().quarantine + 3s);
    ASSERT_TRUE(h) << old << " did not rejoin";
    EXPECT_EQ(h->holder, otherDirector(old));
  }
  sampler.stop();
  const auto samples = sampler.samples();
  EXPECT_TRUE(checkTenures(samples, true).empty()) << summary(checkTenures(samples, true));

  // Every node now opens the new key only.
  const std::vector<std::pair<std::string, std::uint32_t>> nodes = {
      {kArbiter, 2}, {kAlpha, 0}, {kBeta, 1}};
  for (const auto& [node, id] : nodes) {
    SCOPED_TRACE(node);
    v1::ExchangeRequest ping;
    ping.set_cluster(c.clusterId());
    ping.set_from_name(id == 0 ? kBeta : kAlpha);
    ping.set_membership(c.membership());
    ping.mutable_message()->set_from(id == 0 ? 1u : 0u);
    ping.mutable_message()->set_to(id);
    ping.mutable_message()->mutable_ping();
    v1::ExchangeReply reply;
    const auto refused = c.exchange(node, sealRequest(ping, oldKey, nextCounter()), &reply);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED) << refused.error_message();
    const auto accepted = c.exchange(node, sealRequest(ping, newKey, nextCounter()), &reply);
    EXPECT_TRUE(accepted.ok()) << accepted.error_message();
  }
}

}  // namespace
}  // namespace quorate::proctest
