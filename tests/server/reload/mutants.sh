#!/bin/sh
# Breaks the reload's safety rules on purpose (one sed mutant at a time, restored from git
# afterwards) and checks that a test catches each: a refused file applying part of itself, a
# timer change taken while running, an unknown key or new keys behind the same text ignored, VIP
# changes on a use_vmac instance taken, VIP changes planned but their lease not named, a VIP on a
# device the director does not watch taken, every check started afresh by a reload, a track script
# added by a reload but never run, a reload's VIP put up before the fence gates it (the data
# plane's order; and, against real directors, a VIP up unfenced), a removed VIP released from the
# fence while still on its device (or one that could not be removed released, or one such keeping
# the others in the fence), a lease's durable state found by its position (a lease removed and
# added back by reloads would reuse an epoch), a failed fence update not put back, a VIP change
# that one lease refuses left half applied (leases not rolled back, other keys applied), a VIP
# moved between leases in one reload taken, a lease added by a reload started from empty state, a
# removed lease's addresses taken off before its fence closed, a removed lease left in the fence
# (with real directors too), a removed lease still answering requests, a lease added or removed
# while its VIP moves to another lease, instances regrouped taken as added and removed, the
# virtual servers left on the file's lease indices (not the daemon's), a lease added twice by a
# reload retried whole, an added lease's hooks never set up, an added lease's unreadable state
# file written over, a reload applied in part leaving the old file as the running one (or
# retrying only what its plan names), a removal that left an address behind never retried (or
# retried over an address another lease took since).
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
vmac-vips-taken@server/reload/plan.cc@s/if (old.vrrp \&\& old.vrrp->useVmac) {/if (false) {/@ReloadPlan.VipChangesOnAUseVmacInstanceAreRefused
vip-leases-dropped@server/reload/plan.cc@s/plan.vipLeases.push_back(i);//@ReloadPlan.VipChangesWithinAnInstanceAreTakenNamingTheVipAndTheLease
watched-devices-ignored@server/reload/plan.cc@s/if (std::set<std::string>(before.begin(), before.end()) !=/if (false \&\& std::set<std::string>(before.begin(), before.end()) !=/@ReloadPlan.AVipOnADeviceTheDirectorDoesNotWatchIsRefused
state-by-position@server/lease_host.cc@s/for (const auto\& l : config.leases) files_.emplace_back(statePath(config, l));/(void)\&statePath; for (std::size_t i = 0; i < config.leases.size(); ++i) { files_.emplace_back(config.stateDir + "\/acceptor-" + std::to_string(i) + ".state"); }/@ReloadLeaseStore.ALeaseRemovedThenAddedAtAnotherPositionFindsItsEpochFloor
vip-before-fence@server/dataplane.cc@s/^  std::vector<net::IpAddress> addresses;$/  for (const auto\& v : vips) { (void)ports_.vips->add(v, std::nullopt); } std::vector<net::IpAddress> addresses;/@DataPlaneTest.AVipAddedToAHeldLeaseIsFencedBeforeItGoesUpThenAnnounced@quorate_server_tests
readded-from-empty-state@server/lease_host.cc@s/^    state = store_.load(i);$/    state = leases_.empty() ? store_.load(i) : lease::DurableState{};/@ReloadLeaseHost.ALeaseAddedStartsFromItsFloorQuarantinedAndARemovedOneIsForgotten
removed-addresses-before-fence@server/dataplane.cc@s/^  const bool dark = withdraw(index);$/  for (const auto\& v : l.vips) { (void)ports_.vips->remove(v); } const bool dark = withdraw(index);/@DataPlaneTest.ALeaseRemovedByAReloadIsDarkBeforeItsAddressesGoThenLeavesTheFence@quorate_server_tests
removed-lease-kept-in-fence@server/dataplane.cc@s/if (auto s = ports_.fence->update(index, {}); !s) {/if (auto s = Status::ok(); !s) {/@DataPlaneTest.ALeaseRemovedByAReloadIsDarkBeforeItsAddressesGoThenLeavesTheFence@quorate_server_tests
director-removed-lease-kept-in-fence@server/dataplane.cc@s/if (auto s = ports_.fence->update(index, {}); !s) {/if (auto s = Status::ok(); !s) {/@DirectorReload.AnInstanceRemovedBySighupGoesDarkAndComesBackAboveItsEpoch@quorate_netns_director_tests
removed-lease-answers@server/lease_host.cc@s/if (!leases_\[i\].retired) names\[leases_\[i\].cfg->name\] = i;/names[leases_[i].cfg->name] = i;/@ReloadLeaseHost.ALeaseAddedStartsFromItsFloorQuarantinedAndARemovedOneIsForgotten
vip-moving-with-a-lease-taken@server/reload/plan.cc@s/if (!there) continue;/if (!there || true) continue;/@ReloadPlan.ALeaseAddedOrRemovedWithAVipOfAnotherLeaseIsRefused
regrouped-taken@server/reload/plan.cc@s/if (!whole) {/if (!whole \&\& false) {/@ReloadPlan.LeasesRegroupedAreRefused
virtual-servers-by-file-index@server/daemon.cc@s/leaseOf.push_back(slotOf(next.leases.at(i).name).value_or(config_.leases.size()));/leaseOf.push_back(i);/@DaemonReloadTest.AnInstanceRemovedAndAddedBackLeavesTheVirtualServersOnTheirLease@quorate_daemon_reload_tests
lease-added-twice@server/daemon.cc@s/if (slotOf(lease.name)) return "";/if (false) return "";/;s/if (!slotOf(next.leases\[k\].name)) added.push_back(k);/added.push_back(k);/@DaemonReloadTest.AnInstanceRemovedAndAddedBackLeavesTheVirtualServersOnTheirLease@quorate_daemon_reload_tests
added-lease-without-hooks@server/hooks/lease_hooks.cc@s/      append(std::move(leases\[i\]));/      (void)leases[i];/@LeaseHooksTest.ALeaseAddedByAReloadGetsTheNextIndexAndItsOwnPrograms@quorate_hooks_tests
unreadable-state-overwritten@server/lease_host.cc@s/unreadable.empty() ? store_.save(i, node->durable()) : Status::fail(EIO, unreadable);/store_.save(i, node->durable());/@ReloadLeaseHost.ALeaseWhoseStateCannotBeReadIsNotAddedAndItsFileIsKept
director-vip-unfenced@server/dataplane.cc@s/^  std::vector<net::IpAddress> addresses;$/  for (const auto\& v : vips) { if (l.claimed) { (void)ports_.vips->add(v, std::nullopt); } } std::vector<net::IpAddress> addresses; if (!vips.empty()) { return Status::ok(); }/@DirectorReload.AVipAddedAndRemovedBySighupLeavesTheLeaseAndItsOtherVipAlone@quorate_netns_director_tests
released-before-removed@server/dataplane.cc@s/^  std::vector<net::IpAddress> stuck;  \/\/ still on a device$/  std::vector<net::IpAddress> stuck; if (ports_.fence \&\& !gone.empty()) (void)ports_.fence->release(gone);/@DataPlaneTest.AVipRemovedFromAHeldLeaseIsFencedDarkBeforeItGoesThenReleased@quorate_server_tests
stuck-vip-released@server/dataplane.cc@s/^      stuck.push_back(v.prefix.address);$//@DataPlaneTest.AVipThatCannotBeRemovedStaysFencedDark@quorate_server_tests
one-stuck-keeps-all@server/dataplane.cc@s/^  if (ports_.fence \&\& !gone.empty()) {$/  if (ports_.fence \&\& stuck.empty() \&\& !gone.empty()) {/@DataPlaneTest.AVipThatCannotBeRemovedKeepsOnlyItselfFencedDark@quorate_server_tests
fence-not-put-back@server/dataplane.cc@s/if (auto back = ports_.fence->update(index, l.addresses); !back) {/if (auto back = Status::ok(); !back) {/@DataPlaneTest.AnUpdateThatFailsAfterTheFenceTookItPutsTheFenceBack@quorate_server_tests
vips-not-rolled-back@server/daemon.cc@s/if (const std::string back = moveVips(slots, before); !back.empty()) {/if (const std::string back; !back.empty()) {/@DaemonVipReloadTest.AVipChangeOneLeaseRefusesChangesNothingAndTheOldFileStillRuns@quorate_daemon_reload_tests
rest-applied-after-vip-failure@server/daemon.cc@s/^    if (!vipErrors.empty()) {$/    if (false) {/@DaemonVipReloadTest.AVipChangeOneLeaseRefusesChangesNothingAndTheOldFileStillRuns@quorate_daemon_reload_tests
partial-keeps-old-file@server/reload/reloader.cc@s/if (r.applied || r.partial) {/if (r.applied) {/@DaemonVipReloadTest.AReloadThatFailsInPartCanBeUndoneOrRetried@quorate_daemon_reload_tests
partial-retried-by-plan@server/daemon.cc@s/if (!slotOf(next.leases\[k\].name)) added.push_back(k);/(void)k;/;s/for (std::size_t k : added) {/for (std::size_t k : plan.addedLeases) {/@DaemonVipReloadTest.AReloadThatFailsInPartCanBeUndoneOrRetried@quorate_daemon_reload_tests
removal-not-retried@server/daemon.cc@s/if (!host_->retired(i) || !dataPlane_->retiring(i)) continue;/continue;/@DaemonVipReloadTest.ARemovalThatLeftAnAddressBehindIsFinishedByTheNextReload@quorate_daemon_reload_tests
retry-takes-anothers-address@server/dataplane.cc@s/return !o.retired \&\& std::find/return false \&\& std::find/@DaemonVipReloadTest.ARemovalThatLeftAnAddressBehindIsFinishedByTheNextReload@quorate_daemon_reload_tests
vip-move-taken@server/reload/plan.cc@s/if (it == was.end() || it->second == lease) continue;/continue;/@ReloadPlan.AVipMovedToAnotherLeaseInOneReloadIsRefused
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../../support/mutants.sh" "$build" quorate_reload_plan_tests 120 "$@"
