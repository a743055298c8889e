#!/bin/sh
# Breaks each insider guard on purpose (one sed mutant at a time, restored from git afterwards) and
# checks that the named test catches it: the simulation's insider and counters-at-the-limit runs,
# the core's own tests, the wire and the state files. Usage: insider_mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: insider_mutants.sh BUILD_DIR [NAME...]}
shift

A=core/lease/acceptor.cc
M=core/lease/messages.cc
D=core/lease/director_node.cc
S=quorate_sim_fault_test
K=core_test
T=quorate_common_tests
# name@file@sed expression@gtest filter that must fail@test binary
mutants="
no-acceptor-range@$A@s/  if (faults_.ignoreRange) return false;/  return false;/@SimInsider.TheClusterSurvives*@$S
unchecked-increment@$M@s/  if (x >= kMaxCounter) return std::nullopt;//@SimInsider.CountersAtTheLimit*@$S
wrapping-increment@$M@s/  if (x >= kMaxCounter) return std::nullopt;/  if (x >= kMaxCounter) return 0;/@SimInsider.CountersAtTheLimit*@$S
promise-teaches-anything@$D@s/if (p.ballot.round > roundLimit(now) || p.maxEpoch > epochLimit(now)) {/if (false) {/@SimInsider.TheClusterSurvives*@$S
core-no-acceptor-range@$A@s/  if (faults_.ignoreRange) return false;/  return false;/@InsiderAcceptor.*@$K
core-wrapping-increment@$M@s/  if (x >= kMaxCounter) return std::nullopt;/  if (x >= kMaxCounter) return 0;/@InsiderDirector.*@$K
core-reject-teaches-anything@$D@s/if (r.promised.round > roundLimit(now) || r.maxEpoch > epochLimit(now)) {/if (false) {/@InsiderDirector.*@$K
wire-no-limit@common/convert.cc@s/if (v > lease::kMaxCounter) return std::string(field) + limit;//@Convert.CountersAboveTheLimit*@$T
state-no-limit@common/state_file.cc@s/  if (epoch > lease::kMaxCounter) {/  if (false) {/@StateFileTest.CountersAboveTheLimit*@$T
process-no-acceptor-range@$A@s/  if (faults_.ignoreRange) return false;/  return false;/@Insider.AbsurdCounters*@quorate_process_tests
peer-auth-names-cluster@common/peer_auth.cc@s/{ return refused(); }/{ return grpc::Status(grpc::StatusCode::NOT_FOUND, \"no such cluster\"); }/@ArbiterServiceTest.UnknownCluster*@quorate_arbiter_tests
"
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../support/mutants.sh" "$build" "$S" 300 "$@"
