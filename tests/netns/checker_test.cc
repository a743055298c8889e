// Unit tests of the split-brain checker on synthetic probe and ownership histories (no root).
#include "netns/checker.h"

#include <gtest/gtest.h>

#include <random>

namespace quorate::netns {
namespace {

constexpr std::int64_t kPeriod = 5'000'000;  // 5 ms
constexpr std::int64_t kDelay = 100'000;     // 0.1 ms from request to reply

const Mac kA = *Mac::parse("02:71:00:00:00:01");
const Mac kB = *Mac::parse("02:71:00:00:00:02");
const Mac kC = *Mac::parse("02:71:00:00:00:03");

// Rounds 0..n-1 sent every 5 ms; replies added per round.
struct Builder {
  ProbeHistory h;
  explicit Builder(std::uint64_t n) {
    h.periodNs = kPeriod;
    for (std::uint64_t r = 0; r < n; ++r) h.rounds.push_back({r, sent(r)});
  }
  static std::int64_t sent(std::uint64_t r) {
    return 1'000'000'000 + static_cast<std::int64_t>(r) * kPeriod;
  }
  Builder& answer(const Mac& m, std::uint64_t from, std::uint64_t to, std::int64_t delay = kDelay) {
    for (std::uint64_t r = from; r <= to; ++r) h.replies.push_back({sent(r) + delay, m, r});
    return *this;
  }
};

SplitBrainChecker checker() { return SplitBrainChecker({{kA, "alpha"}, {kB, "beta"}}); }

TEST(MacTest, ParsesAndPrints) {
  const auto m = Mac::parse("02:71:0a:ff:00:01");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->str(), "02:71:0a:ff:00:01");
  EXPECT_FALSE(Mac::parse("02:71:0a:ff:00"));
  EXPECT_FALSE(Mac::parse("02:71:0a:ff:00:01:02"));
  EXPECT_LT(kA, kB);
}

TEST(CheckerTest, CleanFailoverHasNoWindowAndOneGap) {
  Builder b(200);
  b.answer(kA, 0, 99).answer(kB, 110, 199);
  const auto c = checker();
  EXPECT_TRUE(c.arpWindows(b.h).empty()) << describe(c.arpWindows(b.h));
  const auto gaps = c.failoverGaps(b.h);
  ASSERT_EQ(gaps.size(), 1u) << describe(gaps);
  EXPECT_EQ(gaps[0].fromHost, "alpha");
  EXPECT_EQ(gaps[0].toHost, "beta");
  EXPECT_EQ(gaps[0].lastFromRound, 99u);
  EXPECT_EQ(gaps[0].firstToRound, 110u);
  EXPECT_EQ(gaps[0].silentRounds(), 10u);
  EXPECT_EQ(gaps[0].gapNs(), 11 * kPeriod);
}

TEST(CheckerTest, ImmediateHandoverHasNoWindow) {
  Builder b(100);
  b.answer(kA, 0, 49).answer(kB, 50, 99);
  const auto c = checker();
  EXPECT_TRUE(c.arpWindows(b.h).empty());
  ASSERT_EQ(c.failoverGaps(b.h).size(), 1u);
  EXPECT_EQ(c.failoverGaps(b.h)[0].gapNs(), kPeriod);
}

TEST(CheckerTest, LostRepliesWithinToleranceMakeOneRun) {
  Builder b(100);
  for (std::uint64_t r = 0; r < 100; ++r) {
    if (r % 5 != 0) b.answer(kA, r, r);  // every fifth reply lost
  }
  b.h.replies.erase(std::remove_if(b.h.replies.begin(), b.h.replies.end(),
                                   [](const ArpReply& r) { return r.round >= 40 && r.round < 44; }),
                    b.h.replies.end());  // and 4-5 in a row
  const auto c = checker();
  const auto runs = c.runs(b.h);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].firstRound, 1u);
  EXPECT_EQ(runs[0].lastRound, 99u);
  EXPECT_TRUE(c.failoverGaps(b.h).empty());
  EXPECT_TRUE(c.arpWindows(b.h).empty());
}

TEST(CheckerTest, LongSilenceSplitsRunsButIsNoFailover) {
  Builder b(100);
  b.answer(kA, 0, 30).answer(kA, 60, 99);
  const auto c = checker();
  EXPECT_EQ(c.runs(b.h).size(), 2u);
  EXPECT_TRUE(c.failoverGaps(b.h).empty());
  EXPECT_TRUE(c.arpWindows(b.h).empty());
}

TEST(CheckerTest, OneRoundAnsweredByTwoMacsIsAWindow) {
  Builder b(100);
  b.answer(kA, 0, 99).answer(kB, 50, 50, 200'000);
  const auto c = checker();
  const auto w = c.arpWindows(b.h);
  ASSERT_EQ(w.size(), 1u) << describe(w);
  EXPECT_EQ(w[0].source, SplitBrainWindow::Source::kArp);
  EXPECT_EQ(w[0].firstRound, 50u);
  EXPECT_EQ(w[0].lastRound, 50u);
  EXPECT_EQ(w[0].macs, (std::vector<Mac>{kA, kB}));
  EXPECT_EQ(w[0].hosts, (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(w[0].startNs, Builder::sent(50));
  EXPECT_EQ(w[0].endNs, Builder::sent(50) + kPeriod);
}

TEST(CheckerTest, OverlappingPeriodsAreOneWindowWithNegativeGap) {
  Builder b(200);
  b.answer(kA, 0, 100).answer(kB, 90, 199);
  const auto c = checker();
  const auto w = c.arpWindows(b.h);
  ASSERT_EQ(w.size(), 1u) << describe(w);
  EXPECT_EQ(w[0].firstRound, 90u);
  EXPECT_EQ(w[0].lastRound, 100u);
  EXPECT_EQ(w[0].endNs - w[0].startNs, 11 * kPeriod);
  const auto gaps = c.failoverGaps(b.h);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_LT(gaps[0].gapNs(), 0);
}

TEST(CheckerTest, AlternatingAnswersAreAWindow) {
  // Each round answered by one MAC only, but alpha and beta take turns: both answer throughout.
  Builder b(40);
  for (std::uint64_t r = 0; r < 40; ++r) b.answer(r % 2 ? kB : kA, r, r);
  const auto w = checker().arpWindows(b.h);
  ASSERT_EQ(w.size(), 1u) << describe(w);
  EXPECT_EQ(w[0].firstRound, 1u);
  EXPECT_EQ(w[0].lastRound, 38u);
}

TEST(CheckerTest, SplitBrainSurvivesHeavyReplyLoss) {
  std::mt19937 rng(42);
  Builder b(200);
  for (std::uint64_t r = 0; r < 200; ++r) {
    if (rng() % 2) b.answer(kA, r, r);
    if (rng() % 2) b.answer(kB, r, r, 150'000);
  }
  const auto w = checker().arpWindows(b.h);
  ASSERT_FALSE(w.empty()) << "seed 42";
  EXPECT_LE(w.front().firstRound, 10u);
  EXPECT_GE(w.back().lastRound, 190u);
}

TEST(CheckerTest, FailbackBeyondToleranceIsNoWindow) {
  Builder b(160);
  b.answer(kA, 0, 50).answer(kB, 60, 100).answer(kA, 110, 159);
  const auto c = checker();
  EXPECT_TRUE(c.arpWindows(b.h).empty()) << describe(c.arpWindows(b.h));
  const auto gaps = c.failoverGaps(b.h);
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_EQ(gaps[1].fromHost, "beta");
  EXPECT_EQ(gaps[1].toHost, "alpha");
}

TEST(CheckerTest, ThreeMacsGivePairwiseWindowsAndUnknownMacsByAddress) {
  Builder b(20);
  b.answer(kA, 0, 19).answer(kB, 5, 6).answer(kC, 10, 10);
  const auto w = checker().arpWindows(b.h);
  ASSERT_EQ(w.size(), 2u) << describe(w);
  EXPECT_EQ(w[0].hosts, (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(w[1].hosts, (std::vector<std::string>{"alpha", kC.str()}));
}

TEST(CheckerTest, ReplyArrivingLateStillCountsForItsRound) {
  Builder b(20);
  b.answer(kA, 0, 19).answer(kB, 10, 10, 3 * kPeriod);  // arrives during round 13
  const auto w = checker().arpWindows(b.h);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].firstRound, 10u);
  EXPECT_EQ(w[0].endNs, Builder::sent(10) + 3 * kPeriod);  // extended to the late reply
}

OwnershipSample own(std::int64_t ns, bool address, bool fence = true) {
  return {ns, address, fence};
}

TEST(CheckerTest, OwnershipOverlapIsAWindow) {
  OwnershipHistory a{"alpha", {own(0, false), own(10, true), own(50, false)}, 100};
  OwnershipHistory b{"beta", {own(0, false), own(40, true)}, 100};
  const auto w = checker().ownershipWindows({a, b});
  ASSERT_EQ(w.size(), 1u) << describe(w);
  EXPECT_EQ(w[0].source, SplitBrainWindow::Source::kAddress);
  EXPECT_EQ(w[0].startNs, 40);
  EXPECT_EQ(w[0].endNs, 50);
  EXPECT_EQ(w[0].hosts, (std::vector<std::string>{"alpha", "beta"}));
}

TEST(CheckerTest, FencedAddressIsNotOwnership) {
  // alpha keeps the address throughout, but its fence is closed while beta owns.
  OwnershipHistory a{"alpha", {own(0, true, true), own(30, true, false)}, 100};
  OwnershipHistory b{"beta", {own(0, false), own(35, true)}, 100};
  EXPECT_TRUE(checker().ownershipWindows({a, b}).empty());
  b.transitions[1].ns = 29;
  EXPECT_EQ(checker().ownershipWindows({a, b}).size(), 1u);
}

// A handover the polls cannot order: beta was last seen owning at 45 and first seen not owning
// at 52 (its poll ended at 53); alpha was first seen owning at 50 (poll end 51). Either order
// fits the polls, so it is no window; had alpha been seen owning at 44, it would be one.
TEST(CheckerTest, OnlyOwnershipSeenAtOverlappingInstantsIsAWindow) {
  OwnershipSample betaOwns{10, true, true, 9, 0};
  OwnershipSample betaGone{53, false, false, 52, 45};
  OwnershipSample alphaOwns{51, true, true, 50, 40};
  OwnershipHistory a{"alpha", {own(0, false), alphaOwns}, 100};
  OwnershipHistory b{"beta", {own(0, false), betaOwns, betaGone}, 100};
  EXPECT_EQ(seenOwning(b), (std::vector<std::pair<std::int64_t, std::int64_t>>{{9, 45}}));
  EXPECT_TRUE(checker().ownershipWindows({a, b}).empty())
      << describe(checker().ownershipWindows({a, b}));
  a.transitions[1].seenNs = 44;
  const auto w = checker().ownershipWindows({a, b});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].startNs, 44);
  EXPECT_EQ(w[0].endNs, 45);
}

TEST(CheckerTest, NoOwnersNoWindows) {
  OwnershipHistory a{"alpha", {own(0, false)}, 100};
  OwnershipHistory b{"beta", {own(0, true, false)}, 100};
  EXPECT_TRUE(checker().ownershipWindows({a, b}).empty());
  EXPECT_TRUE(checker().arpWindows(Builder(10).h).empty());
}

// The fence as the director lays it out (nft -j list table inet quorate, trimmed): 198.18.0.10
// jumps to lease0, whose slots are the sets lease0_a and lease0_b.
std::string fenceJson(bool aHasElement, bool bHasElement, bool chainHasSlots = true,
                      const std::string& vip = "198.18.0.10") {
  auto set = [](const char* name, bool element) {
    std::string s = std::string(R"({"set": {"family": "inet", "name": ")") + name +
                    R"(", "table": "quorate", "type": "time", "flags": ["interval", "timeout"])";
    if (element) {
      s += R"(, "elem": [{"elem": {"val": {"range": ["1970-01-01 00:00:00", )"
           R"("2099-01-01 00:00:00"]}, "timeout": 1, "expires": 1}}])";
    }
    return s + "}}";
  };
  auto slot = [](const char* setName) {
    return std::string(
               R"({"rule": {"family": "inet", "table": "quorate", "chain": "lease0", "expr": [)"
               R"({"match": {"op": "==", "left": {"meta": {"key": "time"}}, "right": "@)") +
           setName + R"("}}, {"return": null}]}})";
  };
  std::string j = R"({"nftables": [{"metainfo": {"version": "1.0.6"}},)"
                  R"({"table": {"family": "inet", "name": "quorate"}},)"
                  R"({"map": {"family": "inet", "name": "vips4", "table": "quorate", "type": )"
                  R"("ipv4_addr", "map": "verdict", "elem": [[")" +
                  vip + R"(", {"jump": {"target": "lease0"}}]]}},)" + set("lease0_a", aHasElement) +
                  "," + set("lease0_b", bHasElement) + ",";
  if (chainHasSlots) j += slot("lease0_a") + "," + slot("lease0_b") + ",";
  j += R"({"rule": {"family": "inet", "table": "quorate", "chain": "lease0", "expr": )"
       R"([{"drop": null}]}}]})";
  return j;
}

TEST(FenceAdmitsTest, OpenWhileEitherSlotHasAnElement) {
  EXPECT_TRUE(fenceAdmits(fenceJson(true, false), "198.18.0.10"));
  EXPECT_TRUE(fenceAdmits(fenceJson(false, true), "198.18.0.10"));
  EXPECT_TRUE(fenceAdmits(fenceJson(true, true), "198.18.0.10"));
}

TEST(FenceAdmitsTest, ShutWithNoSlotOpenOrOnlyTheDrop) {
  EXPECT_FALSE(fenceAdmits(fenceJson(false, false), "198.18.0.10"));
  EXPECT_FALSE(fenceAdmits(fenceJson(true, true, /*chainHasSlots=*/false), "198.18.0.10"));
}

TEST(FenceAdmitsTest, AnAddressTheFenceDoesNotGateIsOpen) {
  EXPECT_TRUE(fenceAdmits(fenceJson(false, false, true, "198.18.0.11"), "198.18.0.10"));
}

TEST(FenceAdmitsTest, AnUnreadableListingErrsTowardsOpen) {
  EXPECT_TRUE(fenceAdmits("not json", "198.18.0.10"));
  EXPECT_TRUE(fenceAdmits(R"({"other": 1})", "198.18.0.10"));
}

}  // namespace
}  // namespace quorate::netns
