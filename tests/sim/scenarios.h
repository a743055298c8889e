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

// The real boundary (issue 11). Within the bound: 0 violations expected.
// Each node its own timers; restarts change them (a rolling timer change, often to
// shorter quarantines and acceptor leases).
SimConfig timerSkewScenario();
// Persists fail now and then; the daemon rolls the step back.
SimConfig failingPersistsScenario();
// Nodes restart with an empty state dir or an older backup of it.
SimConfig diskLossScenario();
// Clock rates change at runtime within rhoSim.
SimConfig clockRatesScenario();
// The arbiter reads its clock before it takes the cluster's lock: requests are handled
// in another order than their clock reads, renewals of one tenure included.
SimConfig arbiterLockScenario();
// The real arbiter::ArbiterService as the arbiter, with concurrent requests taking its lock
// in random order, failing writes of its state file, and lost or older state dirs.
SimConfig arbiterServiceScenario();
// The holders' announcements (gratuitous ARP) judged by the checker, with many pauses.
SimConfig dataPlaneScenario();
// Beyond the bound: violations expected; they document a limit.
// A second process runs as director A (a cloned VM) from a copy of A's disk, with its own
// instance. The instance keeps the shared acceptors from confusing the two, but the clone
// also brings a copy of A's acceptor: {A, arbiter} and {A', B} are disjoint majorities.
SimConfig cloneScenario();
// An NTP slew of 5-10 % on any node, against timers made for 2 %.
SimConfig clockSlewScenario();
// Clocks that jump forward.
SimConfig clockJumpScenario();
// A paused VM: its clock stops for the pause.
SimConfig vmPauseScenario();
// Negative controls: the scenarios above with a planted bug.
// timer-skew, quarantine by the current config only (lease::AcceptorFaults::forgetLongestLease)
SimConfig forgetMaxLeaseScenario();
// clone, the acceptors ignore the instance (lease::AcceptorFaults::ignoreInstance)
SimConfig cloneWithoutInstanceScenario();
// failing-persists, a failed persist not rolled back
SimConfig noRollbackScenario();
// disk-loss, an arbiter with an empty disk skips its quarantine
SimConfig noQuarantineWithoutStateScenario();
// data-plane, announce timers not gated by the lease end
SimConfig ungatedAnnounceScenario();
// arbiter-service as the service was before finding 2: the clock read when a request
// arrives, not under the lock, and an acceptor that lets a renewal shorten a live lease
// (lease::AcceptorFaults::moveExpiryEarlier)
SimConfig arbiterClockAtArrivalScenario();

// Issue 15. Within the bound: an out-of-range insider (FaultMix::insider) during the fault phase;
// safety as ever, and a holder within the liveness bound once it stops.
SimConfig insiderScenario();
// Every disk starts a few rounds and epochs below lease::kMaxCounter: directors must stop loudly
// there (expected), never wrap or stall silently.
SimConfig countersAtLimitScenario();
// Negative control: insider, acceptors without the range check (AcceptorFaults::ignoreRange).
SimConfig insiderWithoutRangeCheckScenario();

std::vector<std::string> scenarioNames();
std::optional<SimConfig> scenarioByName(const std::string& name);

}  // namespace quorate::sim
