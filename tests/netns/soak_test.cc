// The short soak (root, label netns): a minute of random faults on the real daemons with no
// split brain and a holder after the heal; and the same soak catching the unfenced build.
#include "netns/soak.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace quorate::netns {
namespace {

// Generous: the slowest timer set fails over in under a second; the rest is the machine.
constexpr Ms kHealToHolderBound{10'000};

// QUORATE_SOAK_SEED replays a run; otherwise every run draws its own seed (printed).
std::uint64_t seedFromEnv() {
  const char* s = std::getenv("QUORATE_SOAK_SEED");
  return s ? std::strtoull(s, nullptr, 10) : 0;
}

TEST(Soak, ShortSoakHasNoSplitBrainAndEndsWithAHolder) {
  SoakOptions o;
  o.seed = seedFromEnv();
  o.duration = Ms(75'000);
  const SoakReport r = runSoak(o);
  std::cout << r.markdown(false);
  RecordProperty("seed", std::to_string(r.seed));
  int total = 0;
  for (const auto& [k, n] : r.faults) total += n;
  EXPECT_GE(total, 10) << "the nemesis hardly ran";
  EXPECT_TRUE(r.arpWindows.empty()) << "seed " << r.seed << "\n" << describe(r.arpWindows);
  EXPECT_TRUE(r.ownershipWindows.empty()) << "seed " << r.seed << "\n"
                                          << describe(r.ownershipWindows);
  ASSERT_TRUE(r.healToHolderNs) << "seed " << r.seed << ": no holder after the heal";
  EXPECT_LT(*r.healToHolderNs, std::chrono::nanoseconds(kHealToHolderBound).count())
      << "seed " << r.seed;
  EXPECT_TRUE(r.unexpectedExits.empty()) << "seed " << r.seed << ": " << r.unexpectedExits[0];
  EXPECT_TRUE(r.nemesisErrors.empty()) << "seed " << r.seed << ": " << r.nemesisErrors[0];
  EXPECT_GT(r.app.answered, 0u) << "the application client was never answered";
  if (HasFailure()) std::cout << r.markdown(true);
}

// The proof of catch: without the fence a director frozen longer than its lease keeps its
// VIP and its kernel keeps answering ARP while the other director holds. Freezes only, with a
// fixed seed whose schedule (a function of the seed alone) freezes the current holder beyond
// the lease several times; the soak must report a split-brain window.
TEST(Soak, CatchesTheUnfencedBuild) {
  SoakOptions o;
  o.seed = 11;
  o.duration = Ms(30'000);
  o.fence = "none";
  o.kinds = {FaultKind::kFreeze};
  o.keepLogsOnFinding = false;  // finding is the point here
  const SoakReport r = runSoak(o);
  std::cout << r.markdown(true);
  EXPECT_FALSE(r.arpWindows.empty()) << "the soak missed the unfenced split brain (ARP)";
  EXPECT_FALSE(r.ownershipWindows.empty())
      << "the soak missed the unfenced split brain (address watcher)";
}

}  // namespace
}  // namespace quorate::netns
