// Proof that the simulation catches broken protocols, and that their fixed twins pass.
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>
#include <string>

#include "sim/batch.h"
#include "sim/scenarios.h"

namespace quorate::sim {
namespace {

// A broken protocol must be caught within this many seeds...
constexpr std::uint64_t kHuntSeeds = 2'000;
// ...and its fixed twin must survive this many of the same schedules.
constexpr std::uint64_t kTwinSeeds = 5'000;

// Runs seeds from 0 until the first violation; returns it with how many seeds it took.
BatchResult hunt(const SimConfig& cfg) {
  BatchResult b = runSeeds(cfg, 0, kHuntSeeds, 1, 1);
  if (!b.failures.empty()) {
    std::cout << cfg.name << ": caught after " << b.schedules
              << " seed(s): " << b.failures.front().describe(cfg.name) << "\n";
  }
  ::testing::Test::RecordProperty("seeds_needed", static_cast<int>(b.schedules));
  return b;
}

void expectTwoHolders(const SimConfig& cfg, const BatchResult& b) {
  ASSERT_EQ(b.violations, 1u) << cfg.name << ": no violation in " << kHuntSeeds << " seeds";
  const SimResult& r = b.failures.front();
  EXPECT_NE(r.violation->what.find("two holders"), std::string::npos) << r.describe(cfg.name);
}

void expectSafe(const SimConfig& cfg) {
  const BatchResult b = runSeeds(cfg, 0, kTwinSeeds);
  std::cout << b.summary(cfg) << "\n";
  for (const SimResult& r : b.failures) {
    ADD_FAILURE() << r.describe(cfg.name) << "\n  replay: " << replayHint(cfg, r.seed);
  }
  EXPECT_EQ(b.violations, 0u);
}

TEST(SimFaults, MissingDriftMarginIsCaught) {
  const SimConfig cfg = noDriftMarginScenario();
  ASSERT_TRUE(lease::validate(cfg.timing).has_value()) << "the timing should be unsafe";
  expectTwoHolders(cfg, hunt(cfg));
}

// The missing margin is harmless without drift: the violations above come from the clocks.
TEST(SimFaults, MissingDriftMarginIsSafeWithoutDrift) {
  SimConfig cfg = noDriftMarginScenario();
  cfg.rhoSim = 0;
  expectSafe(cfg);
}

TEST(SimFaults, DriftMarginTwinIsSafe) {
  const SimConfig cfg = driftMarginScenario();
  ASSERT_FALSE(lease::validate(cfg.timing).has_value()) << *lease::validate(cfg.timing);
  expectSafe(cfg);
}

TEST(SimFaults, OverwritingAcceptorsAreCaught) {
  const SimConfig cfg = overwriteLiveLeaseScenario();
  expectTwoHolders(cfg, hunt(cfg));
}

TEST(SimFaults, KeepingAcceptorsTwinIsSafe) { expectSafe(keepLiveLeaseScenario()); }

// The same seed must give the same run, event for event.
TEST(SimFaults, SchedulesAreDeterministic) {
  for (std::uint64_t seed : {7u, 4242u}) {
    std::ostringstream a;
    std::ostringstream b;
    const SimResult ra = runSchedule(defaultScenario(), seed, &a);
    const SimResult rb = runSchedule(defaultScenario(), seed, &b);
    EXPECT_EQ(a.str(), b.str());
    EXPECT_EQ(ra.describe("default"), rb.describe("default"));
    // Tracing must not change the run either.
    EXPECT_EQ(runSchedule(defaultScenario(), seed).describe("default"), ra.describe("default"));
    EXPECT_GT(ra.stats.events, 300u);
  }
}

}  // namespace
}  // namespace quorate::sim
