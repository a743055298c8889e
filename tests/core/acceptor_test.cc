// Acceptor rules: quarantine, ballots, no overwriting of a live lease, durable epochs.
#include "lease/acceptor.h"

#include <gtest/gtest.h>

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
  const auto& r = body<Reject>(a_.handle(kAwake, prepare(1, 4)));
  EXPECT_EQ(r.reason, RejectReason::kBallot);
  EXPECT_EQ(r.promised, (Ballot{5, 0}));
  // Equal rounds are ordered by node id, so ballots are unique.
  EXPECT_TRUE(std::holds_alternative<Promise>(a_.handle(kAwake, prepare(1, 5)).reply->body));
}

TEST_F(AcceptorTest, GrantsLeaseAndPersistsNewEpochFirst) {
  auto r = a_.handle(kAwake, accept(0, 1, 3));
  EXPECT_EQ(body<Accepted>(r).epoch, 3u);
  EXPECT_TRUE(r.persist);
  EXPECT_EQ(a_.durable(), (DurableState{3, 0}));
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
  const auto& r = body<Reject>(a_.handle(kAwake + milliseconds(10), accept(1, 9, 2)));
  EXPECT_EQ(r.reason, RejectReason::kLiveLease);
  ASSERT_TRUE(r.lease);
  EXPECT_EQ(r.lease->owner, 0u);
  EXPECT_EQ(a_.lease(kAwake + milliseconds(20))->owner, 0u);
  // Once it lapses, the other director may have it.
  EXPECT_TRUE(std::holds_alternative<Accepted>(
      a_.handle(kAwake + kLease, accept(1, 10, 2)).reply->body));
}

TEST_F(AcceptorTest, FaultKnobOverwritesLiveLease) {
  Acceptor bad{kArbiter, kQuarantine, kQuarantine, DurableState{}, kStart,
               AcceptorFaults{.overwriteLiveLease = true}};
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
  EXPECT_EQ(a_.durable().maxEpoch, 4u);  // the epoch floor stays
}

TEST_F(AcceptorTest, RefusesLeaseLongerThanQuarantineAndEpochZero) {
  EXPECT_EQ(body<Reject>(a_.handle(kAwake, accept(0, 1, 1, kQuarantine + milliseconds(1)))).reason,
            RejectReason::kLeaseTooLong);
  EXPECT_EQ(body<Reject>(a_.handle(kAwake, accept(0, 1, 0))).reason, RejectReason::kStaleEpoch);
}

TEST_F(AcceptorTest, PromiseReportsLiveLeaseAndEpochFloor) {
  Acceptor restored{kArbiter, kQuarantine, kQuarantine, DurableState{7, 1}, kStart};
  const auto& p = body<Promise>(restored.handle(kAwake, prepare(0, 1)));
  EXPECT_EQ(p.maxEpoch, 7u);
  EXPECT_FALSE(p.lease);
  restored.handle(kAwake, accept(0, 1, 8));
  const auto& p2 = body<Promise>(restored.handle(kAwake + milliseconds(1), prepare(1, 2)));
  ASSERT_TRUE(p2.lease);
  EXPECT_EQ(p2.lease->epoch, 8u);
  EXPECT_EQ(p2.maxEpoch, 8u);
}

TEST_F(AcceptorTest, AnswersPing) {
  EXPECT_TRUE(std::holds_alternative<Pong>(
      a_.handle(kAwake, Message{1, kArbiter, Ping{}}).reply->body));
}

}  // namespace
}  // namespace quorate::lease
