#!/bin/sh
# Breaks each configuration bound on purpose (one sed mutant at a time, restored from git
# afterwards) and checks that a test catches it: the unit tests of common/yaml_config and of
# the director's counts, and the --check runs of the real daemons on alias bombs.
# Usage: config_limits_mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: config_limits_mutants.sh BUILD_DIR [NAME...]}
shift

# name@file@sed expression@gtest filter that must fail@target
mutants='
no-node-count@common/yaml_config.cc@s/doc_->charge(size, 0, line_, key_);//@ConfigLimits.AliasesCount*@quorate_common_tests
no-byte-count@common/yaml_config.cc@s/if (item.IsScalar()) doc_->charge(0, item.Scalar().size(), line, key);//@ConfigLimits.AliasedLongScalars*@quorate_common_tests
no-list-limit@common/yaml_config.cc@s/if (size > kMaxListItems) {/if (false) {/@ConfigLimits.OneListIsBounded@quorate_common_tests
read-then-refuse@common/yaml_config.cc@s/S_ISREG(st.st_mode) \&\&/false \&\&/@ConfigLimits.AFileOverTheLimit*@quorate_common_tests
no-ipvs-counts@server/config.cc@s/^    checkIpvsCounts(root);$//@DirectorConfigLimits.RealServers*:DirectorConfigLimits.Checks*:DirectorConfigLimits.VirtualServers@quorate_server_tests
inherited-checks-free@server/config.cc@s/!own.IsDefined() ? sharedChecks :/!own.IsDefined() ? 0 :/@DirectorConfigLimits.Checks*@quorate_server_tests
no-vip-count@server/config.cc@s/if (++vipCount > kMaxVips) {/if (false) {/@DirectorConfigLimits.Vips*@quorate_server_tests
no-instance-count@server/config.cc@s/if (instanceValues.size() > kMaxInstances) {/if (false) {/@DirectorConfigLimits.Instances@quorate_server_tests
no-hook-count@server/config.cc@s/total += hookCommands(l.hooks);//@DirectorConfigLimits.HookCommands*@quorate_server_tests
no-track-count@server/config.cc@s/if (scripts.size() > kMaxTrackScripts) {/if (false) {/@DirectorConfigLimits.TrackScripts@quorate_server_tests
bomb-checks@server/config.cc@s/^    checkIpvsCounts(root);$//@ConfigLimits.AliasedChecks*@quorate_config_limits_tests
bomb-nodes@common/yaml_config.cc@s/doc_->charge(size, 0, line_, key_);//@ConfigLimits.AliasedCommands*@quorate_config_limits_tests
no-cluster-count@arbiter/config.cc@s/if (items.size() > kMaxClusters) {/if (false) {/@ConfigLimits.TheArbiterRefuses*@quorate_config_limits_tests
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../support/mutants.sh" "$build" quorate_server_tests 300 "$@"
