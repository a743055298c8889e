#!/bin/sh
# Breaks per-lease tracking on purpose (one sed mutant at a time, restored from git afterwards)
# and checks that a test catches each: a lease's verdict made global (a failure of one lease's
# item evicts the director from every lease), a lease's verdict ignored by the lease host, a
# script named by a lease still gating every lease, a weighted item made fatal, an unreadable
# track file taken as fine, an unknown track script name accepted, a per-lease track change left
# out of the reload plan or not copied by the daemon, the per-lease eligibility metric stuck at 1,
# a lease's own announce settings ignored by the data plane, a track file added by a reload
# left unread until the poll, a track file's weight held to 253 (keepalived's is 254).
# The netns mutants need root and the director binaries.
# Usage: track_mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: track_mutants.sh BUILD_DIR [NAME...]}
shift

# name@file@sed expression@gtest filter that must fail[@target]
mutants='
verdict-global@server/health.cc@s/if (it->name == name) return judgeLease(it->track, states_);/if (it->name == name || true) { LeaseVerdict all; for (const auto\& x : config_.leases) { const auto v = judgeLease(x.track, states_); all.faults.insert(all.faults.end(), v.faults.begin(), v.faults.end()); } return all; }/@OwnHealthPerLease.AFailingScriptNamedByOneLeaseFailsThatLeaseOnly
director-verdict-global@server/health.cc@s/if (it->name == name) return judgeLease(it->track, states_);/if (it->name == name || true) { LeaseVerdict all; for (const auto\& x : config_.leases) { const auto v = judgeLease(x.track, states_); all.faults.insert(all.faults.end(), v.faults.begin(), v.faults.end()); } return all; }/@DirectorTrack.*@quorate_netns_director_tests
director-verdict-ignored@server/lease_host.cc@s/health_->leaseVerdict(leases_.at(i).cfg->name).faults/health_->leaseVerdict(leases_.at(i).cfg->name + "-ignored").faults/@DirectorTrack.*@quorate_netns_director_tests
named-script-global@server/track_set.cc@s/if (!named.count(t.name)) out.insert(t.name);/out.insert(t.name);/@OwnHealthPerLease.AFailingScriptNamedByOneLeaseFailsThatLeaseOnly:TrackSet.ScriptsNamedByALeaseAreNotGlobal
weight-fatal@server/track_set.cc@s/    if (item.weight == 0) {/    if (true) {/@TrackSet.ANonZeroWeightReportsWithoutFault
unreadable-file-fine@server/track_set.cc@s/v.faults.push_back(what + ": " + r.error);/(void)what;/@TrackSet.AnUnreadableTrackFileIsFatalWhateverItsWeight:OwnHealthPerLease.ATrackFileIsReadAgainAndAMissingOneIsFatal
unknown-script-accepted@server/config.cc@s/if (known \&\& !known->count(ti.name)) {/if (known \&\& false) {/@*TrackBadInput.*unknown_script:DirectorConfigTrack.AGroupNamingAnUnknownScriptIsRefused
daemon-track-not-copied@server/daemon.cc@s/config_.leases\[\*slot\].track = l.track;/(void)l;/@DaemonVipReloadTest.APerLeaseTrackFileAddedByAReloadGatesThatLeaseOnly@quorate_daemon_reload_tests
metric-always-eligible@server/metrics/director_metrics.cc@s/    eligible.add(own, l.eligible ? 1 : 0);/    eligible.add(own, 1);/@DirectorMetrics.EveryAgreedFamilyFromOneView
lease-announce-ignored@server/dataplane.cc@s/return l.index < config_.leases.size() ? config_.leases\[l.index\].announce : config_.announce;/return (void)l, config_.announce;/@DataPlaneAnnounce.EachLeaseBurstsWithItsOwnRepeat
reload-files-unread@server/daemon.cc@s/health_->reloadFiles();/(void)0;/@DaemonVipReloadTest.ATrackFileAddedByAReloadIsReadBeforeTheLeaseIsJudged@quorate_daemon_reload_tests
file-weight-253@server/config.cc@s/== "path" ? 254 : 253/== "path" ? 253 : 253/@DirectorConfigTrack.PerInstanceTrackingAndAnnouncements:*TrackBadInput.*file_weight_high
lease-track-not-reloaded@server/reload/plan.cc@s/plan.leaseTracks = true;//@ReloadPlan.PerLeaseTrackingIsAppliedToThatLease@quorate_reload_plan_tests
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../support/mutants.sh" "$build" quorate_server_tests 180 "$@"
