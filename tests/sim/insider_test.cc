// The out-of-range insider (issue 15): the cluster stays safe and elects again once it stops; its
// negative control and the counters-at-the-limit scenario show what the checks are for.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "sim/batch.h"
#include "sim/scenarios.h"

namespace quorate::sim {
namespace {

constexpr std::uint64_t kSeeds = 2'000;

void expectClean(const SimConfig& cfg, const BatchResult& b) {
  std::cout << b.summary(cfg) << "\n";
  for (const SimResult& r : b.failures) {
    ADD_FAILURE() << r.describe(cfg.name) << "\n  replay: " << replayHint(cfg, r.seed);
  }
  EXPECT_EQ(b.violations, 0u);
}

// Safety as ever; liveness: a holder within the scenario's bound of the quiet phase (the insider
// stops there). No director ever stops at the limit, and no node's counters come near it.
TEST(SimInsider, TheClusterSurvivesAnOutOfRangeInsider) {
  const SimConfig cfg = insiderScenario();
  ASSERT_GT(cfg.mix.insider, 0);
  ASSERT_TRUE(cfg.checkLiveness);
  const BatchResult b = runSeeds(cfg, 0, kSeeds);
  expectClean(cfg, b);
  // The fault really ran, through the wire and past it.
  EXPECT_GT(b.totals.insiderMessages, kSeeds);
  EXPECT_GT(b.totals.insiderAtEdge, 0u);
  EXPECT_LT(b.totals.insiderAtEdge, b.totals.insiderMessages);
  EXPECT_EQ(b.totals.halts, 0u);
}

// Negative control: acceptors that adopt whatever round or epoch they are sent.
TEST(SimInsider, AcceptorsWithoutTheRangeCheckAreCaught) {
  const SimConfig cfg = insiderWithoutRangeCheckScenario();
  const BatchResult b = runSeeds(cfg, 0, kSeeds, 1, 1);
  ASSERT_EQ(b.violations, 1u) << cfg.name << ": no violation in " << kSeeds << " seeds";
  const SimResult& r = b.failures.front();
  std::cout << cfg.name << ": caught after " << b.schedules << " seed(s): " << r.describe(cfg.name)
            << "\n";
  EXPECT_NE(r.violation->what.find("insider:"), std::string::npos) << r.describe(cfg.name);
}

// Counters a few steps below kMaxCounter: directors must stop loudly there, never wrap and never
// stall without a word (the simulator fails a run that ends with neither a holder nor a halt).
TEST(SimInsider, CountersAtTheLimitStopLoudly) {
  const SimConfig cfg = countersAtLimitScenario();
  const BatchResult b = runSeeds(cfg, 0, 500);
  expectClean(cfg, b);
  EXPECT_GT(b.totals.halts, 0u);
}

}  // namespace
}  // namespace quorate::sim
