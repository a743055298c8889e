#!/bin/sh
# Breaks each property of the arbiter's reload (and its status/metrics view) on purpose (one sed mutant at a time, restored from
# git afterwards) and checks that the named test catches it. Usage: reload_mutants.sh BUILD_DIR
# [NAME...]
set -u
build=${1:?usage: reload_mutants.sh BUILD_DIR [NAME...]}
shift

S=arbiter/arbiter_service.cc
R=arbiter/reload.cc
H=arbiter/reloader.cc
U=quorate_arbiter_tests
P=quorate_arbiter_process_tests
# name@file@sed expression@gtest filter that must fail@test binary. rotation-unlocked is a data
# race, caught under TSan only: reload_mutants.sh build-tsan rotation-unlocked (scripts/sanitize.sh
# makes that tree).
mutants="
readd-forgets-state@$S@s|it->second->removed = true;|it->second->removed = true; std::filesystem::remove(statePath(stateDir_, id, kDefaultLease));|@ArbiterReloadTest.ARemovedCluster*
readd-forgets-state-process@$S@s|it->second->removed = true;|it->second->removed = true; std::filesystem::remove(statePath(stateDir_, id, kDefaultLease));|@ArbiterReload.RemovedThenReAdded*@$P
readd-without-quarantine@$S@s|added.push_back(std::make_shared<Cluster>(e, tls_, stateDir_, quarantine_, now, faults_));|added.push_back(std::make_shared<Cluster>(e, tls_, stateDir_, quarantine_, now - quarantine_, faults_));|@ArbiterReloadTest.ARemovedCluster*
rotation-ignored@$S@s|c.creds = std::move(rotated\[i\]);|(void)rotated;|@ArbiterReloadTest.RotatedKeys*
running-not-updated@$H@s|running_ = std::move(next);|(void)next;|@ReloaderTest.*
log-level-ignored@$H@s|spdlog::default_logger()->set_level(spdlog::level::from_str(plan.logLevel));|(void)plan;|@ReloaderTest.*
rotation-unlocked@$S@s|std::lock_guard clusterLock(c.mu);|(void)c;|@ArbiterReloadTest.ReloadsWhile*
metrics-clock-before-lock@$S@/std::lock_guard lock(c->mu);/{N;s|\(.*\)\n\(.*now = clock();\)|\2\n\1|}@ArbiterServiceTest.ScrapesRacing*
listen-change-accepted@$R@s|if (running.listen != next.listen) {|if (false) {|@PlanReload.WhatCannotChangeLive*
"
printf '%s\n' "$mutants" | sh "$(dirname "$0")/../support/mutants.sh" "$build" "$U" 300 "$@"
