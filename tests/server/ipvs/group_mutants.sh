#!/bin/sh
# Breaks virtual_server_groups on purpose (one sed mutant at a time, restored from git afterwards)
# and checks that a test catches each: the expansion dropping a group's last member, a verdict
# reaching only the first member (in the balancer, and in the director with real checks), each
# real server checked once per member (left out of the checker's list, or under a key of its
# own: the checker keeps one entry per key, so only the latter probes again), a member added by
# a reload starting without the group's health, a range reversed, past the last octet or too long accepted, a real server that is a
# different endpoint per member accepted, a change of the group alone not reloaded, the members'
# metrics under one label set, a drain refusal listing every member or every real server (too
# long for gRPC), and the importer expanding a group again, dropping UDP_CHECK or giving two
# virtual servers one name (UDP and TCP at one address and port).
# Usage: group_mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: group_mutants.sh BUILD_DIR [NAME...]}
shift

# name@file@sed expression@gtest filter that must fail@target
mutants='
last-member-dropped@server/ipvs/config.cc@s/for (std::size_t i = 0; i < keys.size(); ++i) {/for (std::size_t i = 0; i + 1 < keys.size(); ++i) {/@VirtualServerGroups.RangeAndMarkBecomeOneServicePerMemberWithTheSameRealServers
director-last-member-dropped@server/ipvs/config.cc@s/for (std::size_t i = 0; i < keys.size(); ++i) {/for (std::size_t i = 0; i + 1 < keys.size(); ++i) {/@DirectorGroup.*@quorate_server_tests
verdict-first-member-only@server/ipvs/balancer.cc@s/auto more = setAlive(i, \*rs, alive, reason, weight);/auto more = setAlive(i, *rs, alive, reason, weight); return more;/@BalancerGroupTest.OneVerdictReachesEveryMember
director-verdict-first-member-only@server/ipvs/balancer.cc@s/auto more = setAlive(i, \*rs, alive, reason, weight);/auto more = setAlive(i, *rs, alive, reason, weight); return more;/@DirectorGroup.*@quorate_server_tests
checked-per-member@server/ipvs/check_targets.cc@s/if (vs.member > 0) continue;//@VirtualServerGroups.RangeAndMarkBecomeOneServicePerMemberWithTheSameRealServers
director-checked-per-member@server/ipvs/check_targets.cc@s/if (vs.member > 0) continue;//;s/server.key = {vs.name, rs.dest.address, rs.dest.port};/server.key = {vs.name + "#" + std::to_string(vs.member), rs.dest.address, rs.dest.port};/@DirectorGroup.*@quorate_server_tests
added-member-fresh@server/ipvs/balancer.cc@s/if (!from || old.config().service.key/if (old.config().service.key/@BalancerGroupTest.AReloadAddsAndRemovesMembersWithTheGroupsHealth
reversed-range@server/ipvs/groups.cc@s/if (last < from)/if (false)/@VirtualServerGroups.BadEntriesNameTheirKeyAndLine
past-last-octet@server/ipvs/groups.cc@s/if (last > limit) {/if (false) {/@VirtualServerGroups.BadEntriesNameTheirKeyAndLine
range-unbounded@server/ipvs/groups.cc@s/> kMaxRangeMembers) {/> 100000) {/@VirtualServerGroups.BadEntriesNameTheirKeyAndLine
endpoint-per-member@server/ipvs/config.cc@s/if (a.address != b.address || a.port != b.port) {/if (false) {/@VirtualServerGroups.BadUseByAVirtualServerIsRefused
group-change-not-reloaded@server/reload/plan.cc@s/"virtual_server_groups"}/"virtual_server_groups-gone"}/@ReloadPlan.AGroupsMembersAreAppliedLikeVirtualServers@quorate_reload_plan_tests
metrics-series-collide@server/metrics/director_metrics.cc@s/if (!vs.group.empty()) service.emplace_back("member", vs.service);//@DirectorMetrics.AGroupsMembersShareTheNameAndDifferByMember@quorate_server_tests
drain-refusal-per-member@server/ipvs/drains.cc@s/} else if (vs.member == 0) {/} else if (true) {/@DirectorDrainTest.AnUnknownNameBesideALargeGroupIsAShortRefusal@quorate_server_tests
drain-refusal-uncut@server/ipvs/drains.cc@s/i < items.size() \&\& i < kShown;/i < items.size();/@DirectorDrainTest.AnUnknownRealServerAmongManyIsAShortRefusal@quorate_server_tests
importer-names-collide@client/keepalived/convert_services.cc@s/YamlNode::str(uniqueName(groupVsNames_, sanitizeName(name)))/YamlNode::str(sanitizeName(name))/@Import.VirtualServersOfOneAddressAndPortOrANameAlikeGetNamesOfTheirOwn@quorate_keepalived_import_tests
importer-expands-groups@client/keepalived/convert_services.cc@s/if (ports.size() <= 1 || natWithPorts) {/if (natWithPorts \&\& false) {/@Import.AGroupBecomesOneVirtualServerWhoseRealServersAreCheckedOnce@quorate_keepalived_import_tests
importer-drops-udp@client/keepalived/convert_services.cc@s/} else if (type == "UDP_CHECK") {/} else if (type == "UDP_CHECK-gone") {/@Import.UdpPingAndFileChecksMapToQuoratesChecks@quorate_keepalived_import_tests
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../../support/mutants.sh" "$build" quorate_ipvs_tests 120 "$@"
