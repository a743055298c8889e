// The named families of schedules that the tests and quorate-sim run.
#include "sim/scenarios.h"

namespace quorate::sim {
namespace {

using namespace std::chrono_literals;

constexpr double kWideRho = 0.02;

lease::Timing tightTiming(double rho) {
  lease::Timing t;
  t.rho = rho;
  t.acceptorLease = lease::minAcceptorLease(t.holderLease, rho);
  t.quarantine = t.acceptorLease;
  return t;
}

// Holders cut off or frozen right after a renewal: the other director then campaigns
// as soon as the acceptors' leases run out, which is when drift margins matter.
SimConfig driftHunt(const std::string& name, lease::Timing timing) {
  SimConfig c;
  c.name = name;
  c.timing = timing;
  c.rhoSim = kWideRho;
  c.adversarialClocks = true;
  c.mix = FaultMix{.partition = 4, .crash = 1, .pause = 4, .stepDown = 0, .weather = 1};
  c.faultPhaseMin = 10s;
  c.faultPhaseMax = 20s;
  return c;
}

}  // namespace

SimConfig defaultScenario() { return SimConfig{}; }

SimConfig wideDriftScenario() {
  SimConfig c;
  c.name = "wide-drift";
  c.timing = tightTiming(kWideRho);
  c.rhoSim = kWideRho;
  return c;
}

SimConfig lateMessagesScenario() {
  SimConfig c;
  c.name = "late-messages";
  // Frequent handovers while many messages take up to two lease periods: stale
  // Accepts, Releases and Handovers from earlier tenures arrive in the middle of later ones.
  c.mix = FaultMix{.partition = 3, .crash = 1, .pause = 1, .stepDown = 4, .weather = 2};
  c.maxLongDelayRate = 0.5;
  c.deliverAcrossRestarts = true;
  return c;
}

SimConfig restartsScenario() {
  SimConfig c;
  c.name = "restarts";
  // Crashes and quick restarts while requests of the previous incarnation are still
  // on their way: their answers reach the new incarnation.
  c.mix = FaultMix{.partition = 2, .crash = 5, .pause = 1, .stepDown = 1, .weather = 2};
  c.maxLongDelayRate = 0.5;
  return c;
}

SimConfig noDriftMarginScenario() {
  lease::Timing t;
  t.rho = kWideRho;
  t.acceptorLease = t.holderLease;
  t.quarantine = t.holderLease;
  SimConfig c = driftHunt("no-drift-margin", t);
  c.checkLiveness = false;  // we hunt a safety violation
  return c;
}

SimConfig driftMarginScenario() { return driftHunt("drift-margin", tightTiming(kWideRho)); }

SimConfig overwriteLiveLeaseScenario() {
  SimConfig c = keepLiveLeaseScenario();
  c.name = "overwrite-live-lease";
  c.acceptorFaults.overwriteLiveLease = true;
  c.checkLiveness = false;
  return c;
}

SimConfig keepLiveLeaseScenario() {
  SimConfig c;
  c.name = "keep-live-lease";
  // One-way cuts and slow messages leave a director unaware of the live lease, so it
  // campaigns against the holder; only the acceptors stand in its way.
  c.mix = FaultMix{.partition = 4, .crash = 1, .pause = 2, .stepDown = 1, .weather = 2};
  c.faultPhaseMin = 10s;
  c.faultPhaseMax = 20s;
  return c;
}

SimConfig healthFlapsScenario() {
  SimConfig c;
  c.name = "health-flaps";
  // Directors turn unhealthy and healthy again (tracked interfaces, scripts) amid
  // handovers, crashes and partitions: an unhealthy holder releases at once, an unhealthy
  // candidate abandons its round while its Accepts may still be on their way.
  c.mix =
      FaultMix{.partition = 3, .crash = 1, .pause = 2, .stepDown = 1, .weather = 2, .health = 4};
  c.maxLongDelayRate = 0.5;
  return c;
}

SimConfig timerSkewScenario() {
  SimConfig c;
  c.name = "timer-skew";
  // The first is where every rolling change ends (the quiet phase restarts the others
  // with it). The others are longer and shorter: a node restarted onto a shorter
  // quarantine may still have granted, under its old timers, a lease that outlives it.
  lease::Timing longer;
  longer.holderLease = 3s;
  longer.acceptorLease = 3400ms;
  longer.quarantine = 3600ms;
  longer.renewInterval = 600ms;
  lease::Timing shorter;
  shorter.holderLease = 800ms;
  shorter.acceptorLease = 900ms;
  shorter.quarantine = 950ms;
  shorter.renewInterval = 300ms;
  c.timings = {lease::Timing{}, longer, shorter};
  c.timerChangeOnRestart = 0.6;
  c.mix = FaultMix{.partition = 3, .crash = 5, .pause = 2, .stepDown = 1, .weather = 2};
  return c;
}

SimConfig cloneScenario() {
  SimConfig c;
  c.name = "clone";
  c.mix = FaultMix{.partition = 3, .crash = 2, .pause = 2, .stepDown = 1, .weather = 2, .clone = 3};
  return c;
}

SimConfig failingPersistsScenario() {
  SimConfig c;
  c.name = "failing-persists";
  c.persistFailure = 0.2;
  c.mix = FaultMix{.partition = 3, .crash = 4, .pause = 1, .stepDown = 2, .weather = 2};
  return c;
}

SimConfig diskLossScenario() {
  SimConfig c;
  c.name = "disk-loss";
  // A lost or older disk loses the acceptor's epoch floor and the director's incarnation,
  // so epochs can repeat: a known limit (SimFaults.ALostDiskCanRepeatEpochs). One holder
  // at a time must hold all the same.
  c.checkEpochOrder = false;
  c.mix =
      FaultMix{.partition = 3, .crash = 2, .pause = 1, .stepDown = 1, .weather = 2, .diskLoss = 3};
  return c;
}

SimConfig clockRatesScenario() {
  SimConfig c = wideDriftScenario();
  c.name = "clock-rates";
  // Rates that swing between the ends of the bound while leases run.
  c.mix = FaultMix{
      .partition = 3, .crash = 1, .pause = 2, .stepDown = 1, .weather = 1, .rateChange = 6};
  return c;
}

SimConfig arbiterLockScenario() {
  SimConfig c;
  c.name = "arbiter-lock";
  c.arbiterLockWaitMax = 1200ms;  // a slow fsync under the lock holds the others up
  // A renewal overtaken at the lock by the next one, then a holder that stops renewing
  // (frozen, cut off) while the other director cannot reach it: one-way cuts and pauses.
  // Not in CI: this is the model of the arbiter, which reads the clock at arrival. It found
  // no violation even with the core's moveExpiryEarlier fault (0 of 10,000 with this mix).
  // arbiter-service (in CI) runs the real ArbiterService under the same lock waits, and
  // arbiter-clock-at-arrival shows the pre-fix service caught when the other director's
  // acceptor restarts often (SimFaults.ArbiterReadingTheClockBeforeItsLockIsCaught).
  c.mix = FaultMix{.partition = 6, .crash = 1, .pause = 4, .stepDown = 1, .weather = 2};
  c.faultPhaseMin = 10s;
  c.faultPhaseMax = 20s;
  return c;
}

SimConfig arbiterServiceScenario() {
  SimConfig c = arbiterLockScenario();
  c.name = "arbiter-service";
  c.realArbiter = true;
  // Its rollback and its start over a lost or older state dir run for real.
  c.persistFailure = 0.2;
  c.checkEpochOrder = false;  // a lost disk repeats epochs (SimFaults.ALostDiskCanRepeatEpochs)
  c.mix.crash = 2;
  c.mix.diskLoss = 2;
  return c;
}

SimConfig dataPlaneScenario() {
  SimConfig c;
  c.name = "data-plane";
  c.announceInterval = 500ms;
  // Pauses: an announce timer that expired during a freeze fires at the resume.
  c.mix = FaultMix{.partition = 3, .crash = 1, .pause = 5, .stepDown = 1, .weather = 2};
  return c;
}

SimConfig clockSlewScenario() {
  SimConfig c = clockRatesScenario();
  c.name = "clock-slew";
  c.mix.slew = 4;
  c.checkLiveness = false;
  return c;
}

SimConfig clockJumpScenario() {
  SimConfig c;
  c.name = "clock-jump";
  c.mix =
      FaultMix{.partition = 4, .crash = 1, .pause = 2, .stepDown = 1, .weather = 2, .clockJump = 3};
  c.checkLiveness = false;
  return c;
}

SimConfig vmPauseScenario() {
  SimConfig c;
  c.name = "vm-pause";
  c.pauseStopsClock = true;
  c.mix = FaultMix{.partition = 3, .crash = 1, .pause = 5, .stepDown = 1, .weather = 2};
  c.checkLiveness = false;
  return c;
}

SimConfig forgetMaxLeaseScenario() {
  SimConfig c = timerSkewScenario();
  c.name = "forget-max-lease";
  c.acceptorFaults.forgetLongestLease = true;
  c.checkLiveness = false;
  return c;
}

SimConfig cloneWithoutInstanceScenario() {
  SimConfig c = cloneScenario();
  c.name = "clone-without-instance";
  c.acceptorFaults.ignoreInstance = true;
  c.checkLiveness = false;
  return c;
}

SimConfig noRollbackScenario() {
  SimConfig c = failingPersistsScenario();
  c.name = "no-rollback";
  c.mutants.noRollback = true;
  c.checkLiveness = false;
  return c;
}

SimConfig noQuarantineWithoutStateScenario() {
  SimConfig c = diskLossScenario();
  c.name = "no-quarantine-without-state";
  c.mutants.noQuarantineWithoutState = true;
  c.checkLiveness = false;
  return c;
}

SimConfig ungatedAnnounceScenario() {
  SimConfig c = dataPlaneScenario();
  c.name = "ungated-announce";
  c.mutants.ungatedAnnounce = true;
  c.checkLiveness = false;
  return c;
}

SimConfig arbiterClockAtArrivalScenario() {
  SimConfig c = arbiterServiceScenario();
  c.name = "arbiter-clock-at-arrival";
  c.mutants.arbiterClockAtArrival = true;
  c.acceptorFaults.moveExpiryEarlier = true;
  c.checkLiveness = false;
  // Tuned for the hunt: the other director's acceptor must not know the live lease when
  // the arbiter shortens it, i.e. it restarted, so more crashes and lost disks, no failing
  // writes (they abort the campaign that would show the bug). 5 of 100,000 seeds even so.
  c.persistFailure = 0;
  c.mix =
      FaultMix{.partition = 4, .crash = 4, .pause = 2, .stepDown = 0, .weather = 1, .diskLoss = 3};
  return c;
}

SimConfig insiderScenario() {
  SimConfig c;
  c.name = "insider";
  c.mix.insider = 6;
  c.livenessBound = 60s;
  return c;
}

SimConfig countersAtLimitScenario() {
  SimConfig c;
  c.name = "counters-at-limit";
  // About 20 renewals (10 s of holding) before the next round would pass the limit.
  c.startCounters = lease::kMaxCounter - 20;
  c.expectHalts = true;
  c.checkLiveness = false;
  return c;
}

SimConfig insiderWithoutRangeCheckScenario() {
  SimConfig c = insiderScenario();
  c.name = "insider-without-range-check";
  c.acceptorFaults.ignoreRange = true;
  return c;
}

std::vector<std::string> scenarioNames() {
  return {"default",
          "wide-drift",
          "late-messages",
          "restarts",
          "no-drift-margin",
          "drift-margin",
          "overwrite-live-lease",
          "keep-live-lease",
          "health-flaps",
          "timer-skew",
          "clone",
          "failing-persists",
          "disk-loss",
          "clock-rates",
          "data-plane",
          "clock-slew",
          "clock-jump",
          "vm-pause",
          "forget-max-lease",
          "clone-without-instance",
          "no-rollback",
          "no-quarantine-without-state",
          "ungated-announce",
          "arbiter-lock",
          "arbiter-service",
          "arbiter-clock-at-arrival",
          "insider",
          "counters-at-limit",
          "insider-without-range-check"};
}

std::optional<SimConfig> scenarioByName(const std::string& name) {
  if (name == "default") return defaultScenario();
  if (name == "wide-drift") return wideDriftScenario();
  if (name == "late-messages") return lateMessagesScenario();
  if (name == "restarts") return restartsScenario();
  if (name == "no-drift-margin") return noDriftMarginScenario();
  if (name == "drift-margin") return driftMarginScenario();
  if (name == "overwrite-live-lease") return overwriteLiveLeaseScenario();
  if (name == "keep-live-lease") return keepLiveLeaseScenario();
  if (name == "health-flaps") return healthFlapsScenario();
  if (name == "timer-skew") return timerSkewScenario();
  if (name == "clone") return cloneScenario();
  if (name == "failing-persists") return failingPersistsScenario();
  if (name == "disk-loss") return diskLossScenario();
  if (name == "clock-rates") return clockRatesScenario();
  if (name == "data-plane") return dataPlaneScenario();
  if (name == "arbiter-lock") return arbiterLockScenario();
  if (name == "arbiter-service") return arbiterServiceScenario();
  if (name == "arbiter-clock-at-arrival") return arbiterClockAtArrivalScenario();
  if (name == "clock-slew") return clockSlewScenario();
  if (name == "clock-jump") return clockJumpScenario();
  if (name == "vm-pause") return vmPauseScenario();
  if (name == "forget-max-lease") return forgetMaxLeaseScenario();
  if (name == "clone-without-instance") return cloneWithoutInstanceScenario();
  if (name == "no-rollback") return noRollbackScenario();
  if (name == "no-quarantine-without-state") return noQuarantineWithoutStateScenario();
  if (name == "ungated-announce") return ungatedAnnounceScenario();
  if (name == "insider") return insiderScenario();
  if (name == "counters-at-limit") return countersAtLimitScenario();
  if (name == "insider-without-range-check") return insiderWithoutRangeCheckScenario();
  return std::nullopt;
}

}  // namespace quorate::sim
