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

void expectViolation(const SimConfig& cfg, const BatchResult& b, const std::string& what) {
  ASSERT_EQ(b.violations, 1u) << cfg.name << ": no violation in " << kHuntSeeds << " seeds";
  const SimResult& r = b.failures.front();
  EXPECT_NE(r.violation->what.find(what), std::string::npos) << r.describe(cfg.name);
}

void expectTwoHolders(const SimConfig& cfg, const BatchResult& b) {
  expectViolation(cfg, b, "two holders");
}

void expectSafe(const SimConfig& cfg, std::uint64_t seeds = kTwinSeeds) {
  const BatchResult b = runSeeds(cfg, 0, seeds);
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

// ---- The real boundary (issue 11): each new fault class catches a planted bug. ----

// Timer skew: a node restarted onto shorter timers must still outwait the longest lease
// it granted before (the core persists it). Quarantining by the current config only lets
// the other director take over while the holder still counts on that lease.
TEST(SimFaults, QuarantineFromTheCurrentConfigOnlyIsCaught) {
  const SimConfig cfg = forgetMaxLeaseScenario();
  for (const auto& t : cfg.timings) {
    ASSERT_FALSE(lease::validate(t).has_value()) << "every node's own timers are valid";
  }
  expectTwoHolders(cfg, hunt(cfg));
}

// Identity skew: with owner identity by node id alone, the acceptors hand one lease back and
// forth between two processes that both run as director A, and both hold.
TEST(SimFaults, OwnerWithoutInstanceIsCaught) {
  const SimConfig cfg = cloneWithoutInstanceScenario();
  const BatchResult b = hunt(cfg);
  ASSERT_EQ(b.violations, 1u);
  const std::string& what = b.failures.front().violation->what;
  // Judged per process: the clone is one of the parties.
  EXPECT_NE(what.find("n0'"), std::string::npos) << what;
}

// A limit, not a bug the core can fix: even with instances, a clone has its own copy of A's
// acceptor, so A with the arbiter and the clone with B are two disjoint majorities (seed 4:
// the clone holds through {n0', n1}, the restarted A wins {n0, n2}). Identity must be
// enforced outside the lease (one process per id: fencing of the host, a unique address).
TEST(SimFaults, AClonedDirectorGivesTwoHoldersEvenWithInstances) {
  const SimConfig cfg = cloneScenario();
  const BatchResult b = hunt(cfg);
  ASSERT_EQ(b.violations, 1u);
  ASSERT_TRUE(b.failures.front().violation.has_value());
  std::cout << cfg.name << ": a limit, see the comment\n";
}

// A failed persist that is not rolled back: the step's grant or epoch stays in memory,
// the next step builds on it, and a restart from the disk reuses an epoch.
TEST(SimFaults, NoRollbackOnAFailedPersistIsCaught) {
  const SimConfig cfg = noRollbackScenario();
  expectViolation(cfg, hunt(cfg), "not above");
}

// A state dir that is lost: an arbiter that skips quarantine when its state is missing
// forgets the live lease it granted a moment ago.
TEST(SimFaults, ArbiterSkippingQuarantineWithoutStateIsCaught) {
  const SimConfig cfg = noQuarantineWithoutStateScenario();
  expectTwoHolders(cfg, hunt(cfg));
}

// A limit: a lost or older disk loses the acceptor's epoch floor and the director's
// incarnation, so a later tenure can repeat or go below an earlier epoch (the disk-loss
// scenario in CI judges one holder at a time, not epoch order). Whoever uses epochs as
// fencing tokens must not trust them across a lost state dir.
TEST(SimFaults, ALostDiskCanRepeatEpochs) {
  SimConfig cfg = diskLossScenario();
  cfg.checkEpochOrder = true;
  expectViolation(cfg, hunt(cfg), "is not above");
}

// The data plane: an announce timer that checks only "claimed" fires after a freeze and
// announces the VIPs while the other director holds.
TEST(SimFaults, AnnouncesNotGatedByTheLeaseEndAreCaught) {
  const SimConfig cfg = ungatedAnnounceScenario();
  expectViolation(cfg, hunt(cfg), "announced the VIPs although it does not hold");
}

// The real arbiter as it was before finding 2: ArbiterService read the clock when a request
// arrived, outside the cluster's lock, and its acceptor took the expiry of whichever renewal
// it handled last. A renewal overtaken at the lock then shortens the live lease, and a
// director whose own acceptor restarted wins the arbiter while the holder still holds. Rare
// (5 of 100,000 seeds, the first 758), so this hunt may go further than the others.
constexpr std::uint64_t kArbiterHuntSeeds = 20'000;

TEST(SimFaults, ArbiterReadingTheClockBeforeItsLockIsCaught) {
  const SimConfig cfg = arbiterClockAtArrivalScenario();
  ASSERT_TRUE(cfg.realArbiter);
  const BatchResult b = runSeeds(cfg, 0, kArbiterHuntSeeds, 1, 1);
  ASSERT_EQ(b.violations, 1u) << cfg.name << ": no violation in " << kArbiterHuntSeeds << " seeds";
  std::cout << cfg.name << ": caught after " << b.schedules
            << " seed(s): " << b.failures.front().describe(cfg.name) << "\n";
  ::testing::Test::RecordProperty("seeds_needed", static_cast<int>(b.schedules));
  EXPECT_NE(b.failures.front().violation->what.find("two holders"), std::string::npos);
}

// Either half of that bug alone is harmless on the same schedules: the clock read at arrival
// with an acceptor that never moves an expiry earlier, or the clock read under the lock with
// one that does (the lock order is then the clock order).
TEST(SimFaults, EitherHalfOfThePreFixArbiterAloneIsSafe) {
  const BatchResult hunted = runSeeds(arbiterClockAtArrivalScenario(), 0, kArbiterHuntSeeds, 1, 1);
  ASSERT_EQ(hunted.violations, 1u);
  const std::uint64_t caughtAt = hunted.failures.front().seed;
  SimConfig clockOnly = arbiterClockAtArrivalScenario();
  clockOnly.acceptorFaults.moveExpiryEarlier = false;
  SimConfig acceptorOnly = arbiterClockAtArrivalScenario();
  acceptorOnly.mutants.arbiterClockAtArrival = false;
  for (const SimConfig& cfg : {clockOnly, acceptorOnly}) {
    const BatchResult b = runSeeds(cfg, 0, caughtAt + 1);
    for (const SimResult& r : b.failures) ADD_FAILURE() << r.describe(cfg.name);
    EXPECT_EQ(b.violations, 0u);
  }
}

// Beyond the bound: these document limits. An NTP slew of 5-10 % against timers made
// for 2 %...
TEST(SimFaults, ClockSlewBeyondRhoGivesTwoHolders) {
  const SimConfig cfg = clockSlewScenario();
  expectTwoHolders(cfg, hunt(cfg));
}

// ...a clock that jumps forward (an acceptor forgets a live lease early)...
TEST(SimFaults, ClockJumpsGiveTwoHolders) {
  const SimConfig cfg = clockJumpScenario();
  expectTwoHolders(cfg, hunt(cfg));
}

// ...and a paused VM whose clock stops: after the resume the old holder believes in the
// rest of its lease, while the other director took over during the pause.
TEST(SimFaults, VmPauseWithAStoppedClockGivesTwoHolders) {
  const SimConfig cfg = vmPauseScenario();
  expectTwoHolders(cfg, hunt(cfg));
}

// The same pauses with the clock running are safe: the violations above come from the
// stopped clock.
TEST(SimFaults, TheSamePausesWithARunningClockAreSafe) {
  SimConfig cfg = vmPauseScenario();
  cfg.pauseStopsClock = false;
  expectSafe(cfg, kHuntSeeds);
}

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
  // With the fourth process, failing persists, the data plane and the real arbiter (its
  // files, failed writes and restarts) too.
  for (const SimConfig& cfg : {cloneScenario(), failingPersistsScenario(), dataPlaneScenario(),
                               arbiterServiceScenario()}) {
    std::ostringstream a;
    std::ostringstream b;
    const SimResult ra = runSchedule(cfg, 5, &a);
    const SimResult rb = runSchedule(cfg, 5, &b);
    EXPECT_EQ(a.str(), b.str()) << cfg.name;
    EXPECT_EQ(ra.describe(cfg.name), rb.describe(cfg.name));
  }
}

}  // namespace
}  // namespace quorate::sim
