#!/bin/sh
# Breaks Fence::update() (a reload's VIPs added to or removed from one lease) on purpose, one sed
# mutant at a time, and checks that the netns fence tests catch each: the lease's group rebuilt
# closed (its slots emptied in the update's transaction); a removed VIP let go unfenced while
# still on its device; the gate not copied to a group's new ARP chain; the gate copied with
# longer limits than the group's. The first is also run against real directors reloaded by
# SIGHUP (tests/netns/director_reload_test.cc): the held lease's other VIP must not go dark.
# Runs as root (the tests make their own network namespace). Usage: fence_update_mutants.sh
# BUILD_DIR [NAME...]
set -u
build=${1:?usage: fence_update_mutants.sh BUILD_DIR [NAME...]}
shift

# name@file@sed expression@gtest filter that must fail
mutants='
group-rebuilt-closed@server/kernel/nft_fence.cc@s/const Status applied = run(cmd, what);/for (const char* f : {"arp", "inet"}) { for (int k = 0; k < 2; ++k) { cmd += std::string("flush set ") + f + " " + table_ + " " + slotSet(group, k) + "\\n"; } } const Status applied = run(cmd, what);/@FenceNetns.UpdateAddsAnAddressUnderTheGroupsGateAndNeverShutsTheOthers
director-group-rebuilt-closed@server/kernel/nft_fence.cc@s/const Status applied = run(cmd, what);/for (const char* f : {"arp", "inet"}) { for (int k = 0; k < 2; ++k) { cmd += std::string("flush set ") + f + " " + table_ + " " + slotSet(group, k) + "\\n"; } } const Status applied = run(cmd, what);/@DirectorReload.AVipAddedAndRemovedBySighupLeavesTheLeaseAndItsOtherVipAlone@quorate_netns_director_tests
removed-vip-unfenced@server/kernel/nft_fence.cc@s/cmd += "add element " + at + " { " + e.key + " : drop }\\n";//@FenceNetns.UpdateAddsAnAddressUnderTheGroupsGateAndNeverShutsTheOthers
gate-not-copied@server/kernel/nft_fence.cc@s/if (!s.open || s.monoEndNs <= now) continue;/continue;/@FenceNetns.UpdateGivesAGroupItsFirstIpv4AddressWithTheGroupsLimits
gate-copied-longer@server/kernel/nft_fence.cc@s/slotSet(group, slot), ms, s.deadlineNs)/slotSet(group, slot), ms + 20000, s.deadlineNs + 20000000000ull)/@FenceNetns.UpdateGivesAGroupItsFirstIpv4AddressWithTheGroupsLimits
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../../support/mutants.sh" "$build" quorate_kernel_fence_netns_tests 180 "$@"
