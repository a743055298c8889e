#!/bin/sh
# Breaks the reload's safety rules on purpose (one sed mutant at a time, restored from git
# afterwards) and checks that a test catches each: a refused file applying part of itself, a
# timer change taken while running, an unknown key or new keys behind the same text ignored, a VIP
# added without a restart, every check started afresh by a reload,
# a track script added by a reload but never run.
# Usage: mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: mutants.sh BUILD_DIR [NAME...]}
shift

# name@file@sed expression@gtest filter that must fail@target
mutants='
partial-apply@server/reload/plan.cc@s/plan.logLevel = plan.trackScripts = plan.hooks = plan.announce = plan.virtualServers = false;//@ReloadPlan.ARefusedKeyRefusesTheWholeFileWithEveryReason
timers-taken@server/reload/plan.cc@s/{"timers",$/{"timers-gone",/;s/"log_level", "announce",/"log_level", "timers", "announce",/@ReloadPlan.EachRestartKeyIsRefusedWithItsReason
unknown-key-ignored@server/reload/plan.cc@s/} else if (!judgedKeys().count(key)) {/} else if (judgedKeys().count(key) > 1) {/@ReloadPlan.AnUnknownKeyThatChangedIsRefused
new-keys-ignored@server/reload/plan.cc@s/if (running.secrets != next.secrets \&\&/if (false \&\&/@ReloadPlan.NewKeysBehindTheSameTextAreRefused
checks-restarted@server/daemon.cc@s/for (const auto\& v : checks_->apply(ipvs::checkedServers(next.ipvs))) {/(void)checks_->apply({}); for (const auto\& v : checks_->apply(ipvs::checkedServers(next.ipvs))) {/@DaemonReloadTest.AChangedCheckIsRestartedAndTheOthersKeepTheirState@quorate_daemon_reload_tests
track-scripts-not-run@server/daemon.cc@s/health_->reloadScripts(next.trackScripts);//@Reload.ATrackScriptAddedBySighupGatesTheHolder@quorate_process_tests
vip-added-taken@server/reload/plan.cc@s/refuse("instance " + quoted(name) + ": VIP " + v.toString() + " added");//@ReloadPlan.VipChangesAreRefusedNamingTheVip
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../../support/mutants.sh" "$build" quorate_reload_plan_tests 120 "$@"
