// Acceptor rules: quarantine, ballots, no overwriting of a live lease, durable epochs.
#include "lease/acceptor.h"

#include <gtest/gtest.h>

#include <limits>

namespace quorate::lease {
namespace {

using std::chrono::milliseconds;

constexpr Duration kLease = milliseconds(1700);
constexpr Duration kQuarantine = milliseconds(1800);
const Time kStart = Time(milliseconds(1'000'000));
const Time kAwake = kStart + kQuarantine;

Message prepare(NodeId from, std::uint64_t round) {
  return Message{from, kArbiter, Prepare{Ballot{round, from}}};
}
Message accept(NodeId from, std::uint64_t round, std::uint64_t epoch, Duration lease = kLease) {
  return Message{from, kArbiter, Accept{Ballot{round, from}, epoch, lease}};
}
template <typename T>
const T& body(const Acceptor::Result& r) {
  EXPECT_TRUE(r.reply.has_value());
  return std::get<T>(r.reply->body);
}

class AcceptorTest : public ::testing::Test {
 protected:
  Acceptor a_{kArbiter, kQuarantine, kQuarantine, DurableState{}, kStart};
};

TEST_F(AcceptorTest, SilentDuringQuarantine) {
  EXPECT_FALSE(a_.handle(kStart, prepare(0, 1)).reply);
  EXPECT_FALSE(a_.handle(kAwake - milliseconds(1), accept(0, 1, 1)).reply);
  EXPECT_FALSE(a_.handle(kAwake - milliseconds(1), Message{0, kArbiter, Ping{}}).reply);
  EXPECT_TRUE(a_.handle(kAwake, prepare(0, 1)).reply);
}

TEST_F(AcceptorTest, PromisesHigherBallotsOnly) {
  EXPECT_EQ(body<Promise>(a_.handle(kAwake, prepare(0, 5))).ballot, (Ballot{5, 0}));
  const Reject r = body<Reject>(a_.handle(kAwake, prepare(1, 4)));
  EXPECT_EQ(r.reason, RejectReason::kBallot);
  EXPECT_EQ(r.promised, (Ballot{5, 0}));
  // Equal rounds are ordered by node id, so ballots are unique.
  EXPECT_TRUE(std::holds_alternative<Promise>(a_.handle(kAwake, prepare(1, 5)).reply->body));
}

TEST_F(AcceptorTest, GrantsLeaseAndPersistsNewEpochFirst) {
  auto r = a_.handle(kAwake, accept(0, 1, 3));
  EXPECT_EQ(body<Accepted>(r).epoch, 3u);
  EXPECT_TRUE(r.persist);
  // Epochs and rounds are reserved ahead (kEpochReserve, kRoundReserve) and the lease length is
  // remembered.
  EXPECT_EQ(a_.durable(), (DurableState{3 + kEpochReserve, 0, 0, kLease, 1 + kRoundReserve}));
  EXPECT_EQ(a_.maxEpoch(), 3u);
  auto lease = a_.lease(kAwake + milliseconds(100));
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->owner, 0u);
  EXPECT_EQ(lease->remaining, kLease - milliseconds(100));
  EXPECT_FALSE(a_.lease(kAwake + kLease));
  // A renewal of the same epoch needs no disk write.
  EXPECT_FALSE(a_.handle(kAwake + milliseconds(500), accept(0, 2, 3)).persist);
}

TEST_F(AcceptorTest, NeverReplacesAnotherOwnersLiveLease) {
  a_.handle(kAwake, accept(0, 1, 1));
  const Reject r = body<Reject>(a_.handle(kAwake + milliseconds(10), accept(1, 9, 2)));
  EXPECT_EQ(r.reason, RejectReason::kLiveLease);
  ASSERT_TRUE(r.lease);
  EXPECT_EQ(r.lease->owner, 0u);
  EXPECT_EQ(a_.lease(kAwake + milliseconds(20))->owner, 0u);
  // Once it lapses, the other director may have it.
  EXPECT_TRUE(
      std::holds_alternative<Accepted>(a_.handle(kAwake + kLease, accept(1, 10, 2)).reply->body));
}

TEST_F(AcceptorTest, FaultKnobOverwritesLiveLease) {
  Acceptor bad{kArbiter,       kQuarantine, kQuarantine,
               DurableState{}, kStart,      AcceptorFaults{.overwriteLiveLease = true}};
  bad.handle(kAwake, accept(0, 1, 1));
  bad.handle(kAwake + milliseconds(10), accept(1, 9, 2));
  EXPECT_EQ(bad.lease(kAwake + milliseconds(20))->owner, 1u);
}

TEST_F(AcceptorTest, OwnerRenewsDespiteHigherPromise) {
  a_.handle(kAwake, accept(0, 1, 1));
  a_.handle(kAwake + milliseconds(5), prepare(1, 50));  // a campaign that cannot win
  EXPECT_TRUE(std::holds_alternative<Accepted>(
      a_.handle(kAwake + milliseconds(10), accept(0, 2, 1)).reply->body));
  // ...but a non-owner with a lower ballot is refused.
  a_.handle(kAwake + milliseconds(10), Message{0, kArbiter, Release{1}});
  EXPECT_EQ(body<Reject>(a_.handle(kAwake + milliseconds(11), accept(0, 3, 1))).reason,
            RejectReason::kBallot);
}

TEST_F(AcceptorTest, ReleaseOnlyByOwnerOfThatEpoch) {
  a_.handle(kAwake, accept(0, 1, 4));
  a_.handle(kAwake, Message{1, kArbiter, Release{4}});
  EXPECT_TRUE(a_.lease(kAwake));
  a_.handle(kAwake, Message{0, kArbiter, Release{3}});
  EXPECT_TRUE(a_.lease(kAwake));
  a_.handle(kAwake, Message{0, kArbiter, Release{4}});
  EXPECT_FALSE(a_.lease(kAwake));
  EXPECT_EQ(a_.maxEpoch(), 4u);  // the epoch floor stays
  EXPECT_EQ(a_.durable().maxEpoch, 4u + kEpochReserve);
}

TEST_F(AcceptorTest, RefusesLeaseLongerThanQuarantineAndEpochZero) {
  EXPECT_EQ(body<Reject>(a_.handle(kAwake, accept(0, 1, 1, kQuarantine + milliseconds(1)))).reason,
            RejectReason::kLeaseTooLong);
  EXPECT_EQ(body<Reject>(a_.handle(kAwake, accept(0, 1, 0))).reason, RejectReason::kStaleEpoch);
}

TEST_F(AcceptorTest, PromiseReportsLiveLeaseAndEpochFloor) {
  Acceptor restored{kArbiter, kQuarantine, kQuarantine, DurableState{7, 1}, kStart};
  const Promise p = body<Promise>(restored.handle(kAwake, prepare(0, 1)));
  EXPECT_EQ(p.maxEpoch, 7u);
  EXPECT_FALSE(p.lease);
  restored.handle(kAwake, accept(0, 1, 8));
  const Promise p2 = body<Promise>(restored.handle(kAwake + milliseconds(1), prepare(1, 2)));
  ASSERT_TRUE(p2.lease);
  EXPECT_EQ(p2.lease->epoch, 8u);
  EXPECT_EQ(p2.maxEpoch, 8u);
}

// Finding 2 of issue 11: two renewals of one tenure reach the acceptor in the opposite order
// of their clock reads (the arbiter read its clock before taking the cluster's lock). The
// second must not take back the time the first granted.
TEST_F(AcceptorTest, ReorderedRenewalNeverShortensTheLease) {
  a_.handle(kAwake, accept(0, 1, 1));
  const Time late = kAwake + milliseconds(500);
  const Time early = kAwake + milliseconds(300);  // read first, handled second
  ASSERT_TRUE(std::holds_alternative<Accepted>(a_.handle(late, accept(0, 2, 1)).reply->body));
  ASSERT_TRUE(std::holds_alternative<Accepted>(a_.handle(early, accept(0, 3, 1)).reply->body));
  EXPECT_EQ(a_.leaseExpiry(late), late + kLease);
  // The broken variant shortens it: the holder would count on 200 ms the acceptor forgot.
  Acceptor bad{kArbiter,       kQuarantine, kQuarantine,
               DurableState{}, kStart,      AcceptorFaults{.moveExpiryEarlier = true}};
  bad.handle(kAwake, accept(0, 1, 1));
  bad.handle(late, accept(0, 2, 1));
  bad.handle(early, accept(0, 3, 1));
  EXPECT_EQ(bad.leaseExpiry(late), early + kLease);
}

// Finding 1 of issue 11: two processes with one node id (a cloned VM, a copied config) are two
// owners. The clone can neither renew, take over nor release the other's live lease.
TEST_F(AcceptorTest, AnotherInstanceOfTheSameNodeIsAnotherOwner) {
  auto from = [](Message m, Instance i) {
    m.instance = i;
    return m;
  };
  ASSERT_TRUE(
      std::holds_alternative<Accepted>(a_.handle(kAwake, from(accept(0, 1, 1), 11)).reply->body));
  const Reject r = body<Reject>(a_.handle(kAwake + milliseconds(10), from(accept(0, 9, 1), 22)));
  EXPECT_EQ(r.reason, RejectReason::kLiveLease);
  EXPECT_EQ(r.lease->instance, 11u);
  a_.handle(kAwake + milliseconds(20), from(Message{0, kArbiter, Release{1}}, 22));
  EXPECT_EQ(a_.lease(kAwake + milliseconds(30))->instance, 11u);
  // With the owner being the node id alone, the clone renews the other's tenure as its own.
  Acceptor bad{kArbiter,       kQuarantine, kQuarantine,
               DurableState{}, kStart,      AcceptorFaults{.ignoreInstance = true}};
  bad.handle(kAwake, from(accept(0, 1, 1), 11));
  EXPECT_TRUE(std::holds_alternative<Accepted>(
      bad.handle(kAwake + milliseconds(10), from(accept(0, 9, 1), 22)).reply->body));
}

// Two processes started from one disk (a clone) share node id and incarnation; before ballots
// carried the instance, both drew the same ballot and one promise served both (the spin model
// found a tenure epoch used twice). Now the ballots differ and only the promised one is accepted.
TEST_F(AcceptorTest, ClonesDrawDifferentBallots) {
  const Ballot original{7, 0, 3, 11}, clone{7, 0, 3, 22};
  EXPECT_NE(original, clone);
  ASSERT_TRUE(std::holds_alternative<Promise>(
      a_.handle(kAwake, Message{0, kArbiter, Prepare{clone}, 22}).reply->body));
  const auto r = a_.handle(kAwake, Message{0, kArbiter, Accept{original, 1, kLease}, 11});
  EXPECT_EQ(body<Reject>(r).reason, RejectReason::kBallot);
}

// Finding 4 of issue 11: a node restarted with shorter timers must still outwait the longest
// lease it granted before the restart.
TEST_F(AcceptorTest, RestartOutwaitsLongestLeaseOfTheEarlierLife) {
  const Duration longQuarantine = milliseconds(5000), longLease = milliseconds(4800);
  Acceptor before{kArbiter, longQuarantine, longQuarantine, DurableState{}, kStart};
  const Time t = kStart + longQuarantine;
  auto r = before.handle(t, accept(0, 1, 1, longLease));
  ASSERT_TRUE(r.persist);
  const DurableState disk = before.durable();
  EXPECT_EQ(disk.maxLease, longLease);
  // Restarted at once with a 1.8 s quarantine: still quiet until the 4.8 s lease is over.
  const Time restart = t + milliseconds(1);
  Acceptor after{kArbiter, kQuarantine, kQuarantine, disk, restart};
  EXPECT_FALSE(after.handle(restart + kQuarantine, prepare(1, 5)).reply);
  EXPECT_EQ(after.quarantineEnd(), restart + longLease);
  EXPECT_TRUE(after.handle(restart + longLease, prepare(1, 5)).reply);
  // Its first grant of the new life writes the shorter lease: the old ones are all over.
  auto g = after.handle(restart + longLease, accept(1, 5, 2));
  EXPECT_TRUE(g.persist);
  EXPECT_EQ(after.durable().maxLease, kLease);
  // The broken variant takes its quarantine from the new configuration alone.
  Acceptor bad{kArbiter, kQuarantine, kQuarantine,
               disk,     restart,     AcceptorFaults{.forgetLongestLease = true}};
  EXPECT_TRUE(bad.handle(restart + kQuarantine, prepare(1, 5)).reply);
}

// Finding 7 of issue 11: a campaign needs a disk write only once per kEpochReserve epochs, so a
// disk slower than a round does not fail every campaign; after a restart the reserved ceiling
// is the floor, so epochs never go back.
TEST_F(AcceptorTest, EpochsAreReservedAheadOnDisk) {
  EXPECT_TRUE(a_.handle(kAwake, accept(0, 1, 1)).persist);
  for (std::uint64_t e = 2; e <= kEpochReserve; ++e) {
    a_.handle(kAwake, Message{0, kArbiter, Release{e - 1}});
    auto r = a_.handle(kAwake, accept(0, e, e));
    ASSERT_TRUE(std::holds_alternative<Accepted>(r.reply->body)) << e;
    EXPECT_FALSE(r.persist) << "epoch " << e << " is inside the reserve";
  }
  a_.handle(kAwake, Message{0, kArbiter, Release{kEpochReserve}});
  EXPECT_TRUE(a_.handle(kAwake, accept(0, 2000, kEpochReserve + 2)).persist);
  Acceptor restarted{kArbiter, kQuarantine, kQuarantine, a_.durable(), kAwake};
  EXPECT_EQ(body<Promise>(restarted.handle(kAwake + kQuarantine, prepare(1, 1))).maxEpoch,
            2 * kEpochReserve + 2);
}

// The reserve must not pass kMaxCounter: an epoch just below it (an insider's, within the range
// check of a restored acceptor) puts kMaxCounter on disk, never a wrapped value below the epoch
// just accepted, and after a restart epochs do not go back.
TEST_F(AcceptorTest, ReservedCeilingSaturatesAtTheLimit) {
  Acceptor a{kArbiter, kQuarantine, kQuarantine, DurableState{kMaxCounter - 100, 0}, kStart};
  const std::uint64_t e = kMaxCounter - 10;
  auto r = a.handle(kAwake, accept(0, 1, e));
  ASSERT_TRUE(std::holds_alternative<Accepted>(r.reply->body));
  EXPECT_TRUE(r.persist);
  EXPECT_EQ(a.durable().maxEpoch, kMaxCounter);
  Acceptor restarted{kArbiter, kQuarantine, kQuarantine, a.durable(), kAwake};
  EXPECT_EQ(body<Promise>(restarted.handle(kAwake + kQuarantine, prepare(1, 2))).maxEpoch,
            kMaxCounter);
}

TEST_F(AcceptorTest, AnswersPing) {
  EXPECT_TRUE(
      std::holds_alternative<Pong>(a_.handle(kAwake, Message{1, kArbiter, Ping{}}).reply->body));
}

}  // namespace
}  // namespace quorate::lease
