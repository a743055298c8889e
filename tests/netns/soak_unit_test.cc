// The soak's holderless measure and fault-kind parsing on synthetic histories (no root).
#include <gtest/gtest.h>

#include <stdexcept>

#include "netns/soak.h"

namespace quorate::netns {
namespace {

constexpr std::int64_t kMs = 1'000'000;

OwnershipHistory owner(const std::string& host, std::vector<std::pair<std::int64_t, bool>> changes,
                       std::int64_t endNs) {
  OwnershipHistory h;
  h.host = host;
  for (const auto& [t, owns] : changes) h.transitions.push_back({t * kMs, owns, owns});
  h.endNs = endNs * kMs;
  return h;
}

std::vector<std::pair<std::int64_t, bool>> majority(
    std::vector<std::pair<std::int64_t, bool>> changes) {
  for (auto& c : changes) c.first *= kMs;
  return changes;
}

TEST(SoakHolderless, CountsOnlyWhileAMajorityCouldTalk) {
  // alpha owns 0-100 and 500-1000; beta never. Majority: 0-300, 400-1000.
  const auto s =
      holderlessWhileMajority(majority({{0, true}, {300, false}, {400, true}}),
                              {owner("alpha", {{0, true}, {100, false}, {500, true}}, 1000),
                               owner("beta", {{0, false}}, 1000)},
                              0, 1000 * kMs, {{250 * kMs, "kill -9 alpha"}});
  ASSERT_EQ(s.longest.size(), 2u);
  EXPECT_EQ(s.longest[0].startNs, 100 * kMs);  // 100-300: 200 ms
  EXPECT_EQ(s.longest[0].endNs, 300 * kMs);
  EXPECT_EQ(s.longest[1].startNs, 400 * kMs);  // 400-500: 100 ms
  EXPECT_EQ(s.longest[1].endNs, 500 * kMs);
  EXPECT_EQ(s.longest[1].lastFault, "kill -9 alpha");
  EXPECT_EQ(s.holderlessNs, 300 * kMs);
  EXPECT_EQ(s.majorityNs, 900 * kMs);
}

TEST(SoakHolderless, EitherOwnerIsAHolderAndTheStartStateCounts) {
  // Before fromNs (100) nobody owns and a majority exists: a stretch from fromNs to beta's
  // claim at 150; then alpha and beta hand over with a 10 ms gap.
  const auto s =
      holderlessWhileMajority(majority({{0, true}}),
                              {owner("alpha", {{0, false}, {400, true}}, 800),
                               owner("beta", {{0, false}, {150, true}, {390, false}}, 800)},
                              100 * kMs, 800 * kMs);
  ASSERT_EQ(s.longest.size(), 2u);
  EXPECT_EQ(s.longest[0].startNs, 100 * kMs);
  EXPECT_EQ(s.longest[0].endNs, 150 * kMs);
  EXPECT_EQ(s.longest[1].startNs, 390 * kMs);
  EXPECT_EQ(s.longest[1].endNs, 400 * kMs);
  EXPECT_EQ(s.holderlessNs, 60 * kMs);
  EXPECT_EQ(s.majorityNs, 700 * kMs);
}

TEST(SoakHolderless, AHolderlessEndIsClosedAtToNs) {
  const auto s = holderlessWhileMajority(
      majority({{0, true}}), {owner("alpha", {{0, true}, {600, false}}, 1000)}, 0, 1000 * kMs);
  ASSERT_EQ(s.longest.size(), 1u);
  EXPECT_EQ(s.longest[0].startNs, 600 * kMs);
  EXPECT_EQ(s.longest[0].endNs, 1000 * kMs);
}

// The mutant check: a holder present throughout gives nothing; removing it must give a stretch.
TEST(SoakHolderless, NoStretchWithAHolderThroughout) {
  const auto s = holderlessWhileMajority(majority({{0, true}}), {owner("alpha", {{0, true}}, 1000)},
                                         0, 1000 * kMs);
  EXPECT_TRUE(s.longest.empty());
  EXPECT_EQ(s.holderlessNs, 0);
}

TEST(SoakKinds, ParsesNamesAndRefusesUnknownOnes) {
  const auto k = parseFaultKinds("freeze,partition");
  ASSERT_EQ(k.size(), 2u);
  EXPECT_EQ(k[0], FaultKind::kFreeze);
  EXPECT_EQ(k[1], FaultKind::kPartition);
  EXPECT_EQ(allFaultKinds().size(), static_cast<std::size_t>(kFaultKinds));
  for (auto kind : allFaultKinds()) EXPECT_EQ(parseFaultKind(faultName(kind)), kind);
  EXPECT_THROW(parseFaultKinds("freeze,nap"), std::invalid_argument);
  EXPECT_THROW(parseFaultKinds(""), std::invalid_argument);
}

}  // namespace
}  // namespace quorate::netns
