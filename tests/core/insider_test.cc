// Insider-proof counters: acceptors refuse absurd rounds and epochs, proposers never adopt them
// and stop loudly instead of wrapping at kMaxCounter.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "lease/acceptor.h"
#include "lease/director_node.h"

namespace quorate::lease {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Duration kLease = milliseconds(1700);
constexpr Duration kQuarantine = milliseconds(1800);
const Time kStart = Time(seconds(1000));
const Time kAwake = kStart + kQuarantine;
constexpr std::uint64_t kTop = std::numeric_limits<std::uint64_t>::max();
// What the wire may carry and more: none of these may ever be adopted.
const std::vector<std::uint64_t> kAbsurd = {kTop, 1ULL << 63, kMaxCounter + 1, kMaxCounter};

Message prepare(NodeId from, std::uint64_t round) {
  return Message{from, kArbiter, Prepare{Ballot{round, from}}, 7};
}
Message accept(NodeId from, std::uint64_t round, std::uint64_t epoch) {
  return Message{from, kArbiter, Accept{Ballot{round, from}, epoch, kLease}, 7};
}
template <typename T>
const T& body(const Acceptor::Result& r) {
  EXPECT_TRUE(r.reply.has_value());
  return std::get<T>(r.reply->body);
}
RejectReason reason(const Acceptor::Result& r) { return body<Reject>(r).reason; }

// An arbiter that knows round 5 and epoch 3 (promised and accepted at kAwake).
Acceptor anchored(AcceptorFaults faults = {}) {
  Acceptor a{kArbiter, kQuarantine, kQuarantine, DurableState{}, kStart, faults};
  EXPECT_TRUE(std::holds_alternative<Accepted>(a.handle(kAwake, accept(0, 5, 3)).reply->body));
  a.handle(kAwake, Message{0, kArbiter, Release{3}, 7});
  return a;
}

TEST(InsiderAcceptor, PrepareBeyondTheBoundIsRefusedAndChangesNothing) {
  Acceptor a = anchored();
  const DurableState before = a.durable();
  for (std::uint64_t round : kAbsurd) {
    SCOPED_TRACE(round);
    auto r = a.handle(kAwake, prepare(1, round));
    EXPECT_EQ(reason(r), RejectReason::kOutOfRange);
    EXPECT_FALSE(r.persist);
  }
  auto r = a.handle(kAwake, prepare(1, 5 + kMaxStep + 1));
  EXPECT_EQ(reason(r), RejectReason::kOutOfRange);
  EXPECT_EQ(body<Reject>(r).promised, (Ballot{5, 0}));
  EXPECT_EQ(a.promised(), (Ballot{5, 0}));
  EXPECT_EQ(a.durable(), before);
  // Just inside the bound: an honest jump, promised.
  EXPECT_TRUE(
      std::holds_alternative<Promise>(a.handle(kAwake, prepare(1, 5 + kMaxStep)).reply->body));
  EXPECT_EQ(a.promised().round, 5 + kMaxStep);
}

TEST(InsiderAcceptor, AcceptBeyondTheBoundIsRefusedAndChangesNothing) {
  Acceptor a = anchored();
  const DurableState before = a.durable();
  for (std::uint64_t v : kAbsurd) {
    SCOPED_TRACE(v);
    // The epoch alone, and round and epoch together (as in the original report).
    EXPECT_EQ(reason(a.handle(kAwake, accept(1, 6, v))), RejectReason::kOutOfRange);
    EXPECT_EQ(reason(a.handle(kAwake, accept(1, v, v))), RejectReason::kOutOfRange);
  }
  auto r = a.handle(kAwake, accept(1, 6, 3 + kMaxStep + 1));
  EXPECT_EQ(reason(r), RejectReason::kOutOfRange);
  EXPECT_FALSE(r.persist);
  EXPECT_EQ(a.durable(), before);
  EXPECT_EQ(a.maxEpoch(), 3u);
  EXPECT_EQ(a.promised(), (Ballot{5, 0}));
  EXPECT_FALSE(a.lease(kAwake));
  EXPECT_TRUE(
      std::holds_alternative<Accepted>(a.handle(kAwake, accept(1, 6, 3 + kMaxStep)).reply->body));
  EXPECT_EQ(a.maxEpoch(), 3 + kMaxStep);
}

// A node cut off for a long time must still take the rounds and epochs the others reached
// meanwhile: the bound widens by one per kAllowancePerStep since it last learned more.
TEST(InsiderAcceptor, TheBoundWidensWithTimeSinceTheLastRaise) {
  Acceptor a = anchored();
  const Time later = kAwake + seconds(10);
  const std::uint64_t extra = seconds(10) / kAllowancePerStep;
  EXPECT_EQ(a.roundLimit(later), 5 + kMaxStep + extra);
  EXPECT_EQ(a.epochLimit(later), 3 + kMaxStep + extra);
  EXPECT_EQ(reason(a.handle(later, prepare(1, 5 + kMaxStep + extra + 1))),
            RejectReason::kOutOfRange);
  EXPECT_TRUE(std::holds_alternative<Promise>(
      a.handle(later, prepare(1, 5 + kMaxStep + extra)).reply->body));
  // Raised just now: back to kMaxStep above the new value.
  EXPECT_EQ(a.roundLimit(later), 5 + kMaxStep + extra + kMaxStep);
}

TEST(InsiderAcceptor, NeverAdmitsPastTheLimitHoweverLongItWaited) {
  Acceptor a{kArbiter, kQuarantine, kQuarantine, DurableState{kMaxCounter - 5, 0}, kStart};
  const Time muchLater = kStart + std::chrono::hours(24 * 365 * 100);
  EXPECT_EQ(a.epochLimit(muchLater), kMaxCounter);
  EXPECT_EQ(reason(a.handle(muchLater, accept(0, 1, kMaxCounter + 1))), RejectReason::kOutOfRange);
}

// Rounds are reserved on disk like epochs, so a restarted acceptor still knows which rounds are
// in use; an empty state (a new node) knows round 0.
TEST(InsiderAcceptor, ARestartKeepsTheRoundReference) {
  Acceptor a = anchored();
  EXPECT_EQ(a.durable().maxRound, 5 + kRoundReserve);
  Acceptor restarted{kArbiter, kQuarantine, kQuarantine, a.durable(), kAwake};
  const Time t = kAwake + kQuarantine;
  const std::uint64_t allowance = kQuarantine / kAllowancePerStep;
  EXPECT_EQ(reason(restarted.handle(t, prepare(1, 5 + kRoundReserve + kMaxStep + allowance + 1))),
            RejectReason::kOutOfRange);
  EXPECT_TRUE(std::holds_alternative<Promise>(restarted.handle(t, prepare(1, 6)).reply->body));

  // An empty disk knows round 0: the bound is kMaxStep above it, widening with time.
  Acceptor fresh{kArbiter, kQuarantine, kQuarantine, DurableState{}, kStart};
  const std::uint64_t sinceStart = (kAwake - kStart) / kAllowancePerStep;
  EXPECT_EQ(reason(fresh.handle(kAwake, prepare(1, kMaxStep + sinceStart + 1))),
            RejectReason::kOutOfRange);
  EXPECT_TRUE(std::holds_alternative<Promise>(
      fresh.handle(kAwake, prepare(1, kMaxStep + sinceStart)).reply->body));
}

// The planted fault the simulation's negative control uses: without the check the absurd epoch
// goes to disk, which is the bug this guards against.
TEST(InsiderAcceptor, WithoutTheCheckTheAbsurdEpochReachesTheDisk) {
  Acceptor a = anchored(AcceptorFaults{.ignoreRange = true});
  auto r = a.handle(kAwake, accept(1, kTop, kTop));
  EXPECT_TRUE(std::holds_alternative<Accepted>(r.reply->body));
  EXPECT_EQ(a.durable().maxEpoch, kTop);
}

// One director driven by hand: its own acceptor plus replies we write.
class InsiderDirector : public ::testing::Test {
 protected:
  NodeConfig config() const {
    NodeConfig c;
    c.self = kDirectorA;
    c.instance = 11;
    return c;
  }
  // Steps until the node campaigns; returns the Prepare it sent to the arbiter, if any.
  std::optional<Prepare> campaign(DirectorNode& n, Output* out = nullptr) {
    Output o = n.tick(now_);
    for (const auto& m : o.send) {
      if (m.to == kArbiter) {
        if (const auto* p = std::get_if<Prepare>(&m.body)) {
          if (out) *out = o;
          return *p;
        }
      }
    }
    if (out) *out = o;
    return std::nullopt;
  }
  Time now_ = kAwake;
};

TEST_F(InsiderDirector, TheNextRoundStopsLoudlyAtTheLimitInsteadOfWrapping) {
  DirectorNode n(config(), DurableState{0, 0, 0, Duration::zero(), kMaxCounter}, kStart);
  Output out;
  EXPECT_FALSE(campaign(n, &out));
  ASSERT_TRUE(out.halt);
  EXPECT_NE(out.halt->find("ballot round"), std::string::npos) << *out.halt;
  ASSERT_TRUE(n.halted());
  EXPECT_NE(n.reason().find("halted"), std::string::npos);
  EXPECT_EQ(n.role(), Role::kStandby);
  EXPECT_EQ(n.nextDeadline(), Time::max());
  // It stays stopped: no campaign later either.
  now_ += seconds(30);
  EXPECT_FALSE(campaign(n));
}

TEST_F(InsiderDirector, TheNextEpochStopsLoudlyAtTheLimitInsteadOfWrapping) {
  DirectorNode n(config(), DurableState{kMaxCounter, 0, 0, Duration::zero(), 0}, kStart);
  const auto p = campaign(n);
  ASSERT_TRUE(p);
  const Message promise{kArbiter, kDirectorA, Promise{p->ballot, std::nullopt, kMaxCounter}};
  Output out = n.receive(now_, promise);
  ASSERT_TRUE(out.halt);
  EXPECT_NE(out.halt->find("epoch"), std::string::npos) << *out.halt;
  for (const auto& m : out.send) EXPECT_FALSE(std::holds_alternative<Accept>(m.body));
  EXPECT_FALSE(n.holds(now_));
}

// Values learned from replies beyond what the node admits are malformed: the message is no vote
// and teaches nothing, so the next campaign's round and epoch stay small.
TEST_F(InsiderDirector, AbsurdRepliesAreIgnored) {
  DirectorNode n(config(), DurableState{}, kStart);
  const auto p = campaign(n);
  ASSERT_TRUE(p);
  const std::uint64_t huge = std::max(n.roundLimit(now_), n.epochLimit(now_)) + 1;
  // An insider's promise with our ballot and an absurd epoch, and a reject with absurd values.
  Output o = n.receive(now_, Message{kArbiter, kDirectorA, Promise{p->ballot, std::nullopt, huge}});
  for (const auto& m : o.send) EXPECT_FALSE(std::holds_alternative<Accept>(m.body));
  n.receive(now_, Message{kDirectorB, kDirectorA,
                          Reject{p->ballot, Ballot{huge, kDirectorB}, huge, std::nullopt,
                                 RejectReason::kBallot},
                          5});
  n.receive(now_, Message{kDirectorB, kDirectorA, Prepare{Ballot{huge, kDirectorB}}, 5});
  EXPECT_EQ(n.counters().outOfRange, 3u);
  // The honest arbiter's promise completes the round with a small epoch.
  o = n.receive(now_, Message{kArbiter, kDirectorA, Promise{p->ballot, std::nullopt, 4}});
  bool sawAccept = false;
  for (const auto& m : o.send) {
    if (const auto* a = std::get_if<Accept>(&m.body)) {
      sawAccept = true;
      EXPECT_EQ(a->epoch, 5u);
      EXPECT_EQ(a->ballot.round, p->ballot.round);
    }
  }
  EXPECT_TRUE(sawAccept);
  EXPECT_FALSE(n.halted());
}

}  // namespace
}  // namespace quorate::lease
