// An insider with the cluster's credentials sends the real arbiter absurd rounds and epochs: they
// are refused, nothing reaches the disk, and the cluster elects again after a full restart.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "lease/types.h"
#include "common/peer_auth.h"
#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kTop = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kLeaseUs = 1'000'000;

// An authenticated request from `fromId` (a director) to the arbiter carrying `m`. The credential
// is the cluster's key: the request is sealed (HMAC) as a director seals it.
v1::ExchangeRequest fromDirector(const Cluster& c, std::uint32_t fromId, v1::PeerMessage m) {
  v1::ExchangeRequest r;
  r.set_cluster(c.clusterId());
  r.set_from_name(fromId == 0 ? kAlpha : kBeta);
  r.set_membership(c.membership());
  m.set_from(fromId);
  m.set_to(2);
  m.set_instance(0x1517);  // the insider's own process
  *r.mutable_message() = std::move(m);
  return sealRequest(r, c.secret(), nextCounter());
}

v1::PeerMessage prepare(std::uint32_t node, std::uint64_t round) {
  v1::PeerMessage m;
  auto* b = m.mutable_prepare()->mutable_ballot();
  b->set_round(round);
  b->set_node(node);
  b->set_incarnation(1);
  b->set_instance(0x1517);
  return m;
}

v1::PeerMessage accept(std::uint32_t node, std::uint64_t round, std::uint64_t epoch) {
  v1::PeerMessage m;
  auto* a = m.mutable_accept();
  a->mutable_ballot()->set_round(round);
  a->mutable_ballot()->set_node(node);
  a->mutable_ballot()->set_incarnation(1);
  a->mutable_ballot()->set_instance(0x1517);
  a->set_epoch(epoch);
  a->set_lease_us(kLeaseUs);
  return m;
}

// The arbiter's one reply to `req`, which must be a Reject; fails the test otherwise.
v1::Reject rejectOf(const Cluster& c, const v1::ExchangeRequest& req) {
  v1::ExchangeReply sealed;
  grpc::Status s = c.exchange(kArbiter, req, &sealed);
  EXPECT_TRUE(s.ok()) << s.error_message();
  v1::ExchangeReply reply;
  if (s.ok()) s = openReply(sealed, c.secret(), req.auth().mac(), reply);
  EXPECT_TRUE(s.ok()) << s.error_message();
  if (reply.messages_size() != 1 || !reply.messages(0).has_reject()) {
    ADD_FAILURE() << "expected one Reject, got " << reply.DebugString();
    return {};
  }
  return reply.messages(0).reject();
}

std::uint64_t maxEpochOnDisk(const std::string& path) {
  const std::string text = readFile(path);
  const auto at = text.find("max_epoch ");
  if (at == std::string::npos) return kTop;
  return std::stoull(text.substr(at + 10));
}

TEST(Insider, AbsurdCountersAreRefusedAndTheClusterElectsAfterARestart) {
  Cluster c("insider");
  c.startAll();
  const auto h = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(h) << "no holder to begin with";
  const std::uint32_t insider = h->holder == kAlpha ? 1 : 0;  // speaks as the standby
  const std::string statePath = c.stateDir(kArbiter) + "/" + c.clusterId() + ".state";

  // 1. The report: Prepare and Accept with round = epoch = 2^64-1. The wire refuses them by
  // field, before the acceptor sees them; so do 2^63 and kMaxCounter + 1.
  v1::ExchangeReply reply;
  for (std::uint64_t v : {kTop, std::uint64_t{1} << 63, lease::kMaxCounter + 1}) {
    SCOPED_TRACE(v);
    grpc::Status s = c.exchange(kArbiter, fromDirector(c, insider, prepare(insider, v)), &reply);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("prepare.ballot.round"), std::string::npos)
        << s.error_message();
    s = c.exchange(kArbiter, fromDirector(c, insider, accept(insider, v, v)), &reply);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("accept.ballot.round"), std::string::npos)
        << s.error_message();
    s = c.exchange(kArbiter, fromDirector(c, insider, accept(insider, 1, v)), &reply);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("accept.epoch"), std::string::npos) << s.error_message();
  }

  // 2. What the arbiter knows: a Prepare of round 1 is refused (a lower ballot) and names its
  // promise and highest epoch. Changes nothing.
  const v1::Reject known = rejectOf(c, fromDirector(c, insider, prepare(insider, 1)));
  EXPECT_EQ(known.reason(), v1::REJECT_BALLOT);
  const std::uint64_t round = known.promised().round();
  const std::uint64_t epoch = known.max_epoch();
  ASSERT_GT(round, 0u);
  ASSERT_GT(epoch, 0u);
  // The bound widens by one per microsecond since the arbiter last learned more, at most since
  // its start; beyond known + kMaxStep + that, nothing is admitted.
  const auto sinceStart = std::chrono::duration_cast<std::chrono::microseconds>(
                              Clock::now() - c.startedAt(kArbiter) + 60s)
                              .count();
  const std::uint64_t beyond = lease::kMaxStep + static_cast<std::uint64_t>(sinceStart) + 1;

  // 3. What the wire admits but the acceptor must not: kMaxCounter itself, and the second try
  // of the brief, just beyond what it knows plus the bound.
  for (std::uint64_t r : {lease::kMaxCounter, round + beyond}) {
    SCOPED_TRACE(r);
    const v1::Reject rj = rejectOf(c, fromDirector(c, insider, prepare(insider, r)));
    EXPECT_EQ(rj.reason(), v1::REJECT_OUT_OF_RANGE);
    EXPECT_LT(rj.promised().round(), round + 1000) << "the absurd round became the promise";
  }
  for (std::uint64_t e : {lease::kMaxCounter, epoch + beyond}) {
    SCOPED_TRACE(e);
    // A ballot that would pass; only the epoch is out of range. And both at once.
    const v1::Reject rj = rejectOf(c, fromDirector(c, insider, accept(insider, round + 100, e)));
    EXPECT_EQ(rj.reason(), v1::REJECT_OUT_OF_RANGE);
    EXPECT_EQ(rj.max_epoch(), epoch);
    const v1::Reject both = rejectOf(c, fromDirector(c, insider, accept(insider, e, e)));
    EXPECT_EQ(both.reason(), v1::REJECT_OUT_OF_RANGE);
  }
  EXPECT_LE(maxEpochOnDisk(statePath), epoch + lease::kEpochReserve) << readFile(statePath);

  // The holder never noticed.
  const auto after = c.waitForHolder(2s);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->holder, h->holder);
  EXPECT_EQ(after->epoch, h->epoch);

  // 4. The original bug outlived restarts of all three daemons. Here: a holder again, with an
  // epoch above the old one and nowhere near the limit.
  c.kill(kAlpha);
  c.kill(kBeta);
  c.kill(kArbiter);
  c.startAll();
  const auto again = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(again) << "no holder after restarting all three daemons";
  EXPECT_GT(again->epoch, h->epoch);
  EXPECT_LT(again->epoch, h->epoch + 10 * lease::kEpochReserve);
  std::cout << "epoch before the insider " << h->epoch << ", after the restart " << again->epoch
            << "\n";
}

// A state file whose epoch is above the limit (written by a version without the range checks) is
// refused at start with an error that names the file, instead of running into the limit later.
TEST(Insider, AStateFileAboveTheLimitIsRefusedAtStart) {
  Cluster c("insider-state");
  const std::string text = "quorate-acceptor-state 2\nmax_epoch " + std::to_string(kTop) +
                           "\nowner 0\nincarnation 3\nmax_lease_us 1700000\n";
  const std::vector<std::pair<std::string, std::string>> daemons = {
      {kAlpha, c.stateDir(kAlpha) + "/acceptor.state"},
      {kArbiter, c.stateDir(kArbiter) + "/" + c.clusterId() + ".state"},
  };
  for (const auto& [node, path] : daemons) {
    SCOPED_TRACE(path);
    std::filesystem::create_directories(c.stateDir(node));
    writeFile(path, text);
    const std::string binary = node == kArbiter ? QUORATE_ARBITER : QUORATE_DIRECTOR;
    const RunResult r = runProgram({binary, "--config", c.configPath(node)}, 10s);
    EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find(path), std::string::npos) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("above the limit"), std::string::npos) << r.out << r.err;
    EXPECT_EQ(readFile(path), text) << "the state file was changed";
  }
}

}  // namespace
}  // namespace quorate::proctest
