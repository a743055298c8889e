// The named families of schedules that the tests and quorate-sim run.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sim/simulator.h"

namespace quorate::sim {

// Default Timing from timing.h, clocks within its 1000 ppm.
SimConfig defaultScenario();
// rho = 2 %, timing scaled to the tightest values validate() accepts (acceptorLease =
// quarantine = minAcceptorLease(holderLease, rho)): no slack beyond the drift margin.
SimConfig wideDriftScenario();
// Default timing; many slow messages, frequent planned step-downs, and messages in
// flight survive the receiver's restart.
SimConfig lateMessagesScenario();
// Default timing; mostly crashes with quick restarts, many slow messages.
SimConfig restartsScenario();
// Negative control: acceptorLease = quarantine = holderLease (no drift margin) with
// clocks at the extremes of 2 %, and a fault mix that starves holders of renewals.
SimConfig noDriftMarginScenario();
// Its twin: the same schedules with the timing of wideDriftScenario().
SimConfig driftMarginScenario();
// Negative control: every acceptor accepts a new owner while a lease is live.
SimConfig overwriteLiveLeaseScenario();
// Its twin: the same schedules with correct acceptors.
SimConfig keepLiveLeaseScenario();
SimConfig healthFlapsScenario();

std::vector<std::string> scenarioNames();
std::optional<SimConfig> scenarioByName(const std::string& name);

}  // namespace quorate::sim
