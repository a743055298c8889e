// The seeded schedules that CI runs: 110,000 of them, in ctest shards of 10,000.
//
// 10,000 each at the default timing, at 2 % drift, with many late messages,
// dominated by crashes and restarts, and with health flaps; and 10,000 of each class at
// the real boundary (issue 11) that the protocol must survive: per-node timers with
// rolling changes, failing persists, lost and replaced disks, clock rates that change
// within the bound, the data plane's announcements, and the real ArbiterService as the
// arbiter (concurrent requests reordered at its lock, its own failed writes and rollback). Classes
// beyond the bound (a clone of a director, slews beyond rho, clock jumps, VM pauses that stop the
// clock) give violations: fault_test.cc shows them as limits.
//
// Environment:
//   QUORATE_SIM_SEED=<n>     run only seed n (in shard 0 of each suite; filter the suite)
//   QUORATE_SIM_TRACE=1      with QUORATE_SIM_SEED: print the event trace
//   QUORATE_SIM_FIRST=<a> QUORATE_SIM_LAST=<b>   run seeds [a, b) instead of the shards
//   QUORATE_SIM_REAL_ARBITER=1   every shard with the real ArbiterService as the arbiter
//                            (about three times the run time; other schedules than the model's)
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "sim/batch.h"
#include "sim/scenarios.h"

namespace quorate::sim {
namespace {

constexpr std::uint64_t kShardSize = 10'000;
constexpr std::uint64_t kDefaultShards = 1;
constexpr std::uint64_t kWideDriftShards = 1;
constexpr std::uint64_t kLateMessagesShards = 1;
constexpr std::uint64_t kRestartsShards = 1;

std::optional<std::uint64_t> envSeed(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::strtoull(v, nullptr, 0);
}

bool envFlag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

void replayOne(const SimConfig& cfg, std::uint64_t seed) {
  const SimResult r = runSchedule(cfg, seed, envFlag("QUORATE_SIM_TRACE") ? &std::cout : nullptr);
  std::cout << r.describe(cfg.name) << "\n";
  EXPECT_TRUE(r.ok()) << r.describe(cfg.name);
}

// `exercised`: a counter that must be above 0 over the shard, proof that the fault class
// under test really happened.
void runShard(SimConfig cfg, std::uint64_t shard, std::uint64_t shardSize,
              std::uint64_t SimStats::*exercised = nullptr) {
  if (envFlag("QUORATE_SIM_REAL_ARBITER")) cfg.realArbiter = true;
  std::uint64_t first = shard * shardSize;
  std::uint64_t count = shardSize;
  if (const auto seed = envSeed("QUORATE_SIM_SEED")) {
    if (shard != 0) GTEST_SKIP() << "QUORATE_SIM_SEED runs in shard 0";
    return replayOne(cfg, *seed);
  }
  if (const auto a = envSeed("QUORATE_SIM_FIRST")) {
    if (shard != 0) GTEST_SKIP() << "QUORATE_SIM_FIRST runs in shard 0";
    first = *a;
    count = envSeed("QUORATE_SIM_LAST").value_or(first + 1) - first;
  }
  const BatchResult b = runSeeds(cfg, first, count);
  std::cout << "seeds [" << first << ", " << first + count << ") " << b.summary(cfg) << "\n";
  const std::string suite =
      ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name();
  for (const SimResult& r : b.failures) {
    ADD_FAILURE() << r.describe(cfg.name) << "\n  replay: QUORATE_SIM_SEED=" << r.seed
                  << " QUORATE_SIM_TRACE=1 bin/quorate_sim_test --gtest_filter='" << suite
                  << ".*'\n      or: " << replayHint(cfg, r.seed);
  }
  EXPECT_EQ(b.violations, 0u);
  EXPECT_EQ(b.schedules, count);
  if (exercised != nullptr) {
    EXPECT_GT(b.totals.*exercised, 0u) << "the fault class never happened";
  }
}

class DefaultTiming : public ::testing::TestWithParam<std::uint64_t> {};
TEST_P(DefaultTiming, Schedules) { runShard(defaultScenario(), GetParam(), kShardSize); }
INSTANTIATE_TEST_SUITE_P(Sim, DefaultTiming, ::testing::Range<std::uint64_t>(0, kDefaultShards));

class WideDrift : public ::testing::TestWithParam<std::uint64_t> {};
TEST_P(WideDrift, Schedules) { runShard(wideDriftScenario(), GetParam(), kShardSize); }
INSTANTIATE_TEST_SUITE_P(Sim, WideDrift, ::testing::Range<std::uint64_t>(0, kWideDriftShards));

class LateMessages : public ::testing::TestWithParam<std::uint64_t> {};
TEST_P(LateMessages, Schedules) { runShard(lateMessagesScenario(), GetParam(), kShardSize); }
INSTANTIATE_TEST_SUITE_P(Sim, LateMessages,
                         ::testing::Range<std::uint64_t>(0, kLateMessagesShards));

class Restarts : public ::testing::TestWithParam<std::uint64_t> {};
TEST_P(Restarts, Schedules) { runShard(restartsScenario(), GetParam(), kShardSize); }
INSTANTIATE_TEST_SUITE_P(Sim, Restarts, ::testing::Range<std::uint64_t>(0, kRestartsShards));

class HealthFlaps : public ::testing::TestWithParam<std::uint64_t> {};
TEST_P(HealthFlaps, Schedules) { runShard(healthFlapsScenario(), GetParam(), kShardSize); }
INSTANTIATE_TEST_SUITE_P(Sim, HealthFlaps, ::testing::Range<std::uint64_t>(0, 1));

// The real boundary.
class TimerSkew : public ::testing::TestWithParam<std::uint64_t> {};
TEST_P(TimerSkew, Schedules) {
  runShard(timerSkewScenario(), GetParam(), kShardSize, &SimStats::timerChanges);
}
INSTANTIATE_TEST_SUITE_P(Sim, TimerSkew, ::testing::Range<std::uint64_t>(0, 1));

class FailingPersists : public ::testing::TestWithParam<std::uint64_t> {};
TEST_P(FailingPersists, Schedules) {
  runShard(failingPersistsScenario(), GetParam(), kShardSize, &SimStats::persistFailures);
}
INSTANTIATE_TEST_SUITE_P(Sim, FailingPersists, ::testing::Range<std::uint64_t>(0, 1));

class DiskLoss : public ::testing::TestWithParam<std::uint64_t> {};
TEST_P(DiskLoss, Schedules) {
  runShard(diskLossScenario(), GetParam(), kShardSize, &SimStats::diskLosses);
}
INSTANTIATE_TEST_SUITE_P(Sim, DiskLoss, ::testing::Range<std::uint64_t>(0, 1));

class ClockRates : public ::testing::TestWithParam<std::uint64_t> {};
TEST_P(ClockRates, Schedules) {
  runShard(clockRatesScenario(), GetParam(), kShardSize, &SimStats::clockFaults);
}
INSTANTIATE_TEST_SUITE_P(Sim, ClockRates, ::testing::Range<std::uint64_t>(0, 1));

class DataPlane : public ::testing::TestWithParam<std::uint64_t> {};
TEST_P(DataPlane, Schedules) {
  runShard(dataPlaneScenario(), GetParam(), kShardSize, &SimStats::announces);
}
INSTANTIATE_TEST_SUITE_P(Sim, DataPlane, ::testing::Range<std::uint64_t>(0, 1));

// The real arbiter::ArbiterService, not the sim's model of it.
class ArbiterService : public ::testing::TestWithParam<std::uint64_t> {};
TEST_P(ArbiterService, Schedules) {
  runShard(arbiterServiceScenario(), GetParam(), kShardSize, &SimStats::arbiterRollbacks);
}
INSTANTIATE_TEST_SUITE_P(Sim, ArbiterService, ::testing::Range<std::uint64_t>(0, 1));

}  // namespace
}  // namespace quorate::sim
