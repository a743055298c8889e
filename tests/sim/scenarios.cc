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

std::vector<std::string> scenarioNames() {
  return {"default",         "wide-drift",   "late-messages",        "restarts",
          "no-drift-margin", "drift-margin", "overwrite-live-lease", "keep-live-lease",
          "health-flaps"};
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
  return std::nullopt;
}

}  // namespace quorate::sim
