// DirectorNode driven by hand: acquisition, renewal, expiry, step-down, preemption.
#include "lease/director_node.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>

namespace quorate::lease {
namespace {

using std::chrono::milliseconds;

// Three nodes on one perfect clock; messages are delivered in order unless the
// link is cut. Small enough to follow by hand; the simulation does the rest.
class Trio {
 public:
  explicit Trio(NodeConfig base = {}) {
    for (NodeId d : {kDirectorA, kDirectorB}) {
      NodeConfig c = base;
      c.self = d;
      directors_[d] = std::make_unique<DirectorNode>(c, DurableState{}, now_);
    }
    arbiter_ = std::make_unique<Acceptor>(kArbiter, base.timing.quarantine, base.timing.quarantine,
                                          DurableState{}, now_);
  }

  DirectorNode& d(NodeId n) { return *directors_[n]; }
  Acceptor& arbiter() { return *arbiter_; }
  Time now() const { return now_; }
  void cut(NodeId a, NodeId b) { cut_[a][b] = cut_[b][a] = true; }
  void heal() { cut_ = {}; }
  bool persisted(NodeId n) const { return persisted_[n]; }

  void push(const Output& out) {
    for (const auto& m : out.send) queue_.push_back(m);
    for (const auto& c : out.changes) changes.push_back(c);
    // The data plane here is always dark: the releasing node (the sender of its Release) frees
    // its own acceptor's grant as the daemon does.
    if (out.releaseLocal && !out.send.empty()) {
      directors_[out.send.front().from]->releaseOwn(now_, *out.releaseLocal);
    }
  }

  void deliverAll() {
    while (!queue_.empty()) {
      Message m = queue_.front();
      queue_.pop_front();
      if (cut_[m.from][m.to]) continue;
      if (m.to == kArbiter) {
        auto r = arbiter_->handle(now_, m);
        persisted_[kArbiter] = persisted_[kArbiter] || r.persist;
        if (r.reply) queue_.push_back(*r.reply);
      } else {
        auto out = directors_[m.to]->receive(now_, m);
        persisted_[m.to] = persisted_[m.to] || out.persist;
        push(out);
      }
    }
  }

  // Advances time in steps, firing every due timer and delivering all messages.
  void run(Duration d, Duration step = milliseconds(1)) {
    const Time end = now_ + d;
    while (now_ < end) {
      now_ += step;
      for (NodeId n : {kDirectorA, kDirectorB}) {
        if (directors_[n]->nextDeadline() <= now_) {
          auto out = directors_[n]->tick(now_);
          persisted_[n] = persisted_[n] || out.persist;
          push(out);
        }
      }
      deliverAll();
      ASSERT_FALSE(directors_[0]->holds(now_) && directors_[1]->holds(now_)) << "two holders";
    }
  }

  std::vector<RoleChange> changes;

 private:
  Time now_ = Time(milliseconds(5'000));
  std::unique_ptr<DirectorNode> directors_[2];
  std::unique_ptr<Acceptor> arbiter_;
  std::deque<Message> queue_;
  std::array<std::array<bool, kNodeCount>, kNodeCount> cut_{};
  bool persisted_[kNodeCount] = {};
};

const Timing kT{};

TEST(DirectorNode, StartsInQuarantineThenOneHolds) {
  Trio t;
  EXPECT_EQ(t.d(0).role(), Role::kQuarantine);
  t.run(kT.quarantine - milliseconds(1));
  EXPECT_EQ(t.d(0).role(), Role::kQuarantine);
  t.run(3 * kT.renewInterval);
  const int holders = t.d(0).holds(t.now()) + t.d(1).holds(t.now());
  EXPECT_EQ(holders, 1);
  const NodeId h = t.d(0).holds(t.now()) ? 0 : 1;
  EXPECT_EQ(t.d(h).epoch(), 1u);
  EXPECT_TRUE(t.persisted(kArbiter) || t.persisted(1 - h));
  // The standby knows who holds, from its own acceptor.
  auto l = t.d(1 - h).knownLease(t.now());
  ASSERT_TRUE(l);
  EXPECT_EQ(l->owner, h);
  EXPECT_EQ(t.d(1 - h).role(), Role::kStandby);
}

// A holds (A preferred); its next renewal is refused by the arbiter naming B's live lease at A's
// epoch plus `delta`. Returns A's output for that refusal; `at` is when the renewal went out.
Output renewalRefusedForForeignLease(Trio& t, std::int64_t delta, Time& at) {
  t.run(kT.quarantine + 3 * kT.renewInterval);
  EXPECT_TRUE(t.d(0).holds(t.now()));
  at = t.now() + kT.renewInterval;
  const Output renewal = t.d(0).tick(at);
  const Accept* toArbiter = nullptr;
  for (const auto& m : renewal.send) {
    if (m.to == kArbiter) toArbiter = std::get_if<Accept>(&m.body);
  }
  EXPECT_NE(toArbiter, nullptr) << "no renewal sent";
  if (!toArbiter) return {};
  EXPECT_TRUE(t.d(0).holds(at));
  const std::uint64_t foreign = toArbiter->epoch + delta;
  const Reject refused{toArbiter->ballot, toArbiter->ballot, std::max(toArbiter->epoch, foreign),
                       LeaseView{kDirectorB, foreign, milliseconds(1500), 42},
                       RejectReason::kLiveLease};
  return t.d(0).receive(at + milliseconds(1), Message{kArbiter, kDirectorA, refused});
}

NodeConfig preferringA() {
  NodeConfig c;
  c.preferred = kDirectorA;
  return c;
}

// Issue 11, finding 5: a holder whose clock stopped (a paused VM) or ran slow beyond the bound
// still believes in its lease; the first renewal an acceptor refuses because another owner holds
// there proves otherwise, and the holder stops at once instead of at its own lease end.
TEST(DirectorNode, HolderStopsWhenARenewalMeetsAnotherOwnersLease) {
  Trio t(preferringA());
  Time at{};
  const Output out = renewalRefusedForForeignLease(t, +1, at);
  EXPECT_FALSE(t.d(0).holds(at + milliseconds(1)));
  EXPECT_EQ(t.d(0).role(), Role::kStandby);
  ASSERT_FALSE(out.changes.empty());
  EXPECT_EQ(out.changes.back().to, Role::kStandby);
}

// Issue 15's review: a foreign lease at the holder's own epoch (or below) deposes it too. With
// stopped clocks a renewal can bring an old epoch back to a majority, a lost disk or a clone can
// repeat an epoch: a lower epoch does not prove the grant stray, and keeping the lease then kept
// two holders for up to a lease instead of a round trip.
TEST(DirectorNode, HolderStopsForAForeignLeaseAtItsEpochOrBelowToo) {
  for (const std::int64_t delta : {0, -1}) {
    Trio t(preferringA());
    Time at{};
    renewalRefusedForForeignLease(t, delta, at);
    EXPECT_FALSE(t.d(0).holds(at + milliseconds(1))) << "foreign epoch delta " << delta;
    EXPECT_EQ(t.d(0).role(), Role::kStandby);
  }
}

TEST(DirectorNode, PreferredWinsColdStartAndRenewsSameEpoch) {
  NodeConfig c;
  c.preferred = kDirectorB;
  Trio t(c);
  t.run(kT.quarantine + kT.renewInterval);
  ASSERT_TRUE(t.d(1).holds(t.now()));
  const auto renewals = t.d(1).counters().renewals;
  t.run(10 * kT.holderLease);
  EXPECT_TRUE(t.d(1).holds(t.now()));
  EXPECT_EQ(t.d(1).epoch(), 1u);
  EXPECT_GE(t.d(1).counters().renewals, renewals + 25);
}

TEST(DirectorNode, IsolatedHolderStopsAtLeaseEndAndOtherTakesOverAfterAcceptorsLapse) {
  NodeConfig c;
  c.preferred = kDirectorA;
  Trio t(c);
  t.run(kT.quarantine + kT.renewInterval);
  ASSERT_TRUE(t.d(0).holds(t.now()));
  const Time cutAt = t.now();
  t.cut(0, 1);
  t.cut(0, kArbiter);
  t.run(kT.holderLease + milliseconds(1));
  EXPECT_FALSE(t.d(0).holds(t.now()));
  EXPECT_EQ(t.d(0).role() == Role::kHolder, false);
  t.run(kT.acceptorLease);
  ASSERT_TRUE(t.d(1).holds(t.now()));
  EXPECT_EQ(t.d(1).epoch(), 2u);
  EXPECT_LE(t.now() - cutAt, kT.holderLease + 2 * kT.acceptorLease);
  // Healing does not bring the old holder back while the new one renews.
  t.heal();
  t.run(5 * kT.holderLease);
  EXPECT_TRUE(t.d(1).holds(t.now()));
  EXPECT_EQ(t.d(0).knownLease(t.now())->owner, kDirectorB);
}

TEST(DirectorNode, HolderKeepsLeaseWithoutArbiter) {
  NodeConfig c;
  c.preferred = kDirectorA;
  Trio t(c);
  t.run(kT.quarantine + kT.renewInterval);
  ASSERT_TRUE(t.d(0).holds(t.now()));
  t.cut(0, kArbiter);
  t.cut(1, kArbiter);
  t.run(10 * kT.holderLease);
  EXPECT_TRUE(t.d(0).holds(t.now()));
  EXPECT_EQ(t.d(0).epoch(), 1u);
}

TEST(DirectorNode, StepDownHandsOverAtOnceWithHigherEpoch) {
  NodeConfig c;
  c.preferred = kDirectorA;
  Trio t(c);
  t.run(kT.quarantine + kT.renewInterval);
  ASSERT_TRUE(t.d(0).holds(t.now()));
  EXPECT_FALSE(t.d(1).stepDown(t.now(), "test"));  // not the holder
  auto out = t.d(0).stepDown(t.now(), "test");
  ASSERT_TRUE(out);
  EXPECT_FALSE(t.d(0).holds(t.now()));
  t.push(*out);
  t.deliverAll();  // no time passes: the handover needs only messages
  EXPECT_TRUE(t.d(1).holds(t.now()));
  EXPECT_EQ(t.d(1).epoch(), 2u);
  // Without preemption the old holder stays standby.
  t.run(5 * kT.holderLease);
  EXPECT_TRUE(t.d(1).holds(t.now()));
  EXPECT_EQ(t.d(0).role(), Role::kStandby);
}

// Director::step drops the Release and Handover of a step-down whose fence did not close, so
// that the lease lapses while the VIPs may still answer (until the old lease end). But
// release() has already freed this node's own acceptor: with B's acceptor not holding A's grant
// (a cut A-B link, or a lost renewal there), B's own vote and A's acceptor are a majority for B
// before A's old lease end: B holds while A's VIPs may still answer.
TEST(DirectorNode, AStepDownWhoseReleaseIsDroppedLeavesItsOwnAcceptorHolding) {
  NodeConfig c;
  c.preferred = kDirectorA;
  Trio t(c);
  t.cut(kDirectorA, kDirectorB);  // A holds with the arbiter; B's acceptor never sees A's grant
  t.run(kT.quarantine + kT.renewInterval);
  ASSERT_TRUE(t.d(0).holds(t.now()));
  const Time oldEnd = t.d(0).leaseEnd();
  const std::uint64_t epoch = t.d(0).epoch();
  ASSERT_TRUE(t.d(0).stepDown(t.now(), "fence did not close"));  // every message dropped
  t.heal();
  const Ballot b{1000, kDirectorB, 1, 1};
  const Time at = t.now() + milliseconds(1);
  ASSERT_LT(at, oldEnd);
  t.d(0).receive(at, Message{kDirectorB, kDirectorA, Prepare{b}, 1});
  const auto out = t.d(0).receive(
      at, Message{kDirectorB, kDirectorA, Accept{b, epoch + 1, kT.acceptorLease}, 1});
  ASSERT_EQ(out.send.size(), 1u);
  EXPECT_FALSE(std::holds_alternative<Accepted>(out.send.front().body))
      << "A's acceptor voted for B before A's old lease end, with A's Release never sent";
}

TEST(DirectorNode, PreferredPreemptsAfterDelay) {
  NodeConfig c;
  c.preferred = kDirectorA;
  c.preemptDelay = milliseconds(3000);
  Trio t(c);
  t.run(kT.quarantine + kT.renewInterval);
  ASSERT_TRUE(t.d(0).holds(t.now()));
  auto out = t.d(0).stepDown(t.now(), "test");
  t.push(*out);
  t.deliverAll();
  ASSERT_TRUE(t.d(1).holds(t.now()));
  t.run(milliseconds(2500));
  EXPECT_TRUE(t.d(1).holds(t.now()));  // not before the delay
  t.run(milliseconds(1500));
  EXPECT_TRUE(t.d(0).holds(t.now()));
  EXPECT_EQ(t.d(0).epoch(), 3u);
}

// step-down --hold: the preferred director stays off its lease until the hold ends (and a
// cleared hold lets it preempt again at once).
TEST(DirectorNode, APreemptionHoldKeepsThePreferredOffUntilItEnds) {
  NodeConfig c;
  c.preferred = kDirectorA;
  c.preemptDelay = milliseconds(1000);
  Trio t(c);
  t.run(kT.quarantine + kT.renewInterval);
  ASSERT_TRUE(t.d(0).holds(t.now()));
  auto out = t.d(0).stepDown(t.now(), "maintenance");
  t.push(*out);
  t.d(0).holdPreemption(t.now() + milliseconds(6000));
  t.deliverAll();
  ASSERT_TRUE(t.d(1).holds(t.now()));
  ASSERT_TRUE(t.d(0).preemptionHeldUntil(t.now()));
  t.run(milliseconds(5000));  // well past the preemption delay, inside the hold
  EXPECT_TRUE(t.d(1).holds(t.now())) << "the preferred director preempted during its hold";
  t.run(milliseconds(2500));  // the hold ended at 6 s; the delay (1 s) has passed since
  EXPECT_TRUE(t.d(0).holds(t.now())) << "no preemption back after the hold ended";

  out = t.d(0).stepDown(t.now(), "maintenance again");
  t.push(*out);
  t.d(0).holdPreemption(t.now() + std::chrono::hours(1));
  t.deliverAll();
  ASSERT_TRUE(t.d(1).holds(t.now()));
  t.run(milliseconds(3000));
  EXPECT_TRUE(t.d(1).holds(t.now()));
  t.d(0).holdPreemption(t.now());  // cleared
  EXPECT_FALSE(t.d(0).preemptionHeldUntil(t.now()));
  t.run(milliseconds(2000));
  EXPECT_TRUE(t.d(0).holds(t.now())) << "a cleared hold still kept the preferred director off";
}

TEST(DirectorNode, FailedCampaignLeavesNoLeaseInOwnAcceptor) {
  NodeConfig c;
  c.preferred = kDirectorA;
  Trio t(c);
  t.run(kT.quarantine + kT.renewInterval);
  ASSERT_TRUE(t.d(0).holds(t.now()));
  // B stops hearing A; it campaigns, the arbiter refuses (A's lease is live there).
  t.cut(0, 1);
  // A lost message is only noticed at the round's deadline (one renewal interval).
  t.run(kT.acceptorLease + kT.renewInterval + milliseconds(50));
  EXPECT_GT(t.d(1).counters().roundsFailed, 0u);
  EXPECT_TRUE(t.d(0).holds(t.now()));
  auto own = t.d(1).acceptor().lease(t.now());
  EXPECT_FALSE(own && own->owner == kDirectorB) << "a lost campaign left a lease for itself";
}

TEST(DirectorNode, RoleChangesCarryEpochAndReason) {
  Trio t;
  t.run(kT.quarantine + kT.renewInterval);
  bool sawHolder = false;
  for (const auto& c : t.changes) {
    EXPECT_FALSE(c.reason.empty());
    if (c.to == Role::kHolder) {
      sawHolder = true;
      EXPECT_EQ(c.epoch, 1u);
    }
  }
  EXPECT_TRUE(sawHolder);
}

TEST(DirectorNode, RestartedNodeStartsAboveItsDurableEpoch) {
  NodeConfig c;
  c.self = kDirectorA;
  DirectorNode n(c, DurableState{41, 1}, Time(milliseconds(0)));
  EXPECT_EQ(n.durable().maxEpoch, 41u);
  EXPECT_EQ(n.role(), Role::kQuarantine);
  EXPECT_EQ(n.nextDeadline(), Time(kT.quarantine));
}

}  // namespace
}  // namespace quorate::lease

namespace quorate::lease {
namespace {

TEST(DirectorNodeHealth, UnhealthyHolderHandsOverAndStaysOutUntilHealthy) {
  NodeConfig c;
  c.preferred = kDirectorA;
  c.preemptDelay = milliseconds(0);
  Trio t(c);
  t.run(kT.quarantine + kT.renewInterval);
  ASSERT_TRUE(t.d(0).holds(t.now()));
  t.push(t.d(0).setEligible(t.now(), false, "eth0 down"));
  EXPECT_FALSE(t.d(0).holds(t.now()));
  EXPECT_EQ(t.d(0).reason(), "unhealthy: eth0 down");
  t.deliverAll();
  EXPECT_TRUE(t.d(1).holds(t.now()));
  // Preferred and preempting, but unhealthy: it must not take the lease back.
  t.run(5 * kT.holderLease);
  EXPECT_TRUE(t.d(1).holds(t.now()));
  EXPECT_EQ(t.d(0).role(), Role::kStandby);
  // Healthy again: preemption brings it back.
  t.push(t.d(0).setEligible(t.now(), true, "eth0 up"));
  t.run(3 * kT.holderLease);
  EXPECT_TRUE(t.d(0).holds(t.now()));
}

TEST(DirectorNodeHealth, UnhealthyNodeDoesNotCampaignWhenPeerDies) {
  NodeConfig c;
  c.preferred = kDirectorA;
  Trio t(c);
  t.push(t.d(1).setEligible(t.now(), false, "check script failed"));
  t.run(kT.quarantine + kT.renewInterval);
  ASSERT_TRUE(t.d(0).holds(t.now()));
  // The holder is cut off: the unhealthy standby stays out, nobody holds.
  t.cut(0, 1);
  t.cut(0, kArbiter);
  t.run(kT.holderLease + 2 * kT.acceptorLease);
  EXPECT_FALSE(t.d(1).holds(t.now()));
  EXPECT_EQ(t.d(1).counters().roundsStarted, 0u);
  // Healthy: it campaigns and wins with the arbiter's vote.
  t.push(t.d(1).setEligible(t.now(), true, "check script passed"));
  t.run(kT.acceptorLease + 4 * kT.renewInterval);
  EXPECT_TRUE(t.d(1).holds(t.now()));
}

TEST(DirectorNodeHealth, IgnoresHandoverWhileUnhealthy) {
  NodeConfig c;
  c.preferred = kDirectorA;
  Trio t(c);
  t.run(kT.quarantine + kT.renewInterval);
  ASSERT_TRUE(t.d(0).holds(t.now()));
  t.push(t.d(1).setEligible(t.now(), false, "eth0 down"));
  auto out = t.d(0).stepDown(t.now(), "test");
  ASSERT_TRUE(out);
  t.push(*out);
  t.deliverAll();
  EXPECT_FALSE(t.d(1).holds(t.now()));
  EXPECT_EQ(t.d(1).counters().roundsStarted, 0u);
}

}  // namespace
}  // namespace quorate::lease

namespace quorate::lease {
namespace {

// The holder can reach the arbiter but not the standby, then freezes entirely. The standby's
// campaigns are refused by the arbiter while the holder's lease lives there; the silent holder
// counts as a "no" at once, so the standby retries right after that lease lapses instead of
// first waiting out each round for an answer that cannot come.
TEST(DirectorNodeCampaign, SilentOwnerOfTheRefusingLeaseCountsAsNo) {
  NodeConfig c;
  c.preferred = kDirectorA;
  Trio t(c);
  t.run(kT.quarantine + kT.renewInterval);
  ASSERT_TRUE(t.d(0).holds(t.now()));
  t.cut(0, 1);  // the holder renews with the arbiter alone
  t.run(3 * kT.acceptorLease);
  ASSERT_TRUE(t.d(0).holds(t.now()));
  const Time frozen = t.now();
  t.cut(0, kArbiter);
  Time won{};
  for (int i = 0; i < 4000 && won == Time{}; ++i) {
    t.run(milliseconds(1));
    if (t.d(1).holds(t.now())) won = t.now();
  }
  ASSERT_NE(won, Time{});
  // The arbiter's lease ran at most acceptorLease after the last renewal reached it.
  EXPECT_LE(won - frozen, kT.acceptorLease + milliseconds(10));
}

}  // namespace
}  // namespace quorate::lease

namespace quorate::lease {
namespace {

// Two processes of director A (a VM restarted elsewhere by its hypervisor while the old one still
// runs behind a partition) each bring their own acceptor for node A: four acceptors answer for
// three node ids, and two majorities need not meet. Partition {A1, arbiter} | {A2, B}: A1 holds
// with its own acceptor and the arbiter; A2 (or B) holds with A2's acceptor and B's. Instances
// do not help: no acceptor ever sees both processes. A limit of any lease that counts one vote
// per node id (docs/protocol.md, "Identity"): this test shows it, and would tell if it changed.
// The most holders at once over 10 quarantines; with `clone` false, A2 does not run.
int mostHoldersWithPartitionedClone(bool clone) {
  enum Proc { kA1, kA2, kB, kArb };
  NodeConfig a1c, a2c, bc;
  a1c.self = kDirectorA;
  a1c.instance = 1;
  a2c = a1c;
  a2c.instance = 2;
  a2c.seed = 7;
  bc.self = kDirectorB;
  bc.instance = 3;
  Time now = Time(milliseconds(5'000));
  DirectorNode a1(a1c, DurableState{}, now), a2(a2c, DurableState{}, now),
      b(bc, DurableState{}, now);
  Acceptor arb(kArbiter, kT.quarantine, kT.quarantine, DurableState{}, now);
  // Who a message from `p` to node id `to` reaches across the partition, if anyone.
  auto target = [](Proc p, NodeId to) -> std::optional<Proc> {
    if (p == kA1) return to == kArbiter ? std::optional<Proc>(kArb) : std::nullopt;
    if (p == kArb) return kA1;
    if (p == kA2) return to == kDirectorB ? std::optional<Proc>(kB) : std::nullopt;
    return to == kDirectorA ? std::optional<Proc>(kA2) : std::nullopt;  // from B
  };
  const auto reach = [&](Proc p, NodeId to) -> std::optional<Proc> {
    const auto t = target(p, to);
    return !clone && (p == kA2 || t == kA2) ? std::nullopt : t;
  };
  std::deque<std::pair<Proc, Message>> inbox;
  auto push = [&](Proc p, const Output& out) {
    for (const auto& m : out.send) inbox.emplace_back(p, m);
  };
  DirectorNode* nodes[] = {&a1, &a2, &b};
  int worst = 0;
  for (Time end = now + 10 * kT.quarantine; now < end;) {
    now += milliseconds(1);
    for (int p = kA1; p <= kB; ++p) {
      if (!clone && p == kA2) continue;
      if (nodes[p]->nextDeadline() <= now) push(static_cast<Proc>(p), nodes[p]->tick(now));
    }
    while (!inbox.empty()) {
      auto [from, m] = inbox.front();
      inbox.pop_front();
      const auto to = reach(from, m.to);
      if (!to) continue;
      if (*to == kArb) {
        if (auto r = arb.handle(now, m); r.reply) inbox.emplace_back(kArb, *r.reply);
      } else {
        push(*to, nodes[*to]->receive(now, m));
      }
    }
    worst = std::max(worst, a1.holds(now) + a2.holds(now) + b.holds(now));
  }
  return worst;
}

TEST(DirectorNode, ACloneBehindAPartitionIsAFourthVoterTheLeaseCannotSee) {
  // Without the clone the harness sees the one holder A1 (B alone has no majority).
  EXPECT_EQ(mostHoldersWithPartitionedClone(false), 1);
  // With it, two: the documented limit.
  EXPECT_EQ(mostHoldersWithPartitionedClone(true), 2);
}

}  // namespace
}  // namespace quorate::lease
