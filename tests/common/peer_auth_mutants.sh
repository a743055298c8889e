#!/bin/sh
# Breaks each check of the shared-secret peer mode on purpose (one sed mutant at a time, restored
# from git afterwards) and checks that the named test catches it. The unit mutants rebuild one
# test binary; the process ones rebuild the daemons too. Usage: peer_auth_mutants.sh BUILD_DIR
# [NAME...]
set -u
build=${1:?usage: peer_auth_mutants.sh BUILD_DIR [NAME...]}
shift

# name@file@sed expression@gtest filter that must fail[@target]
mutants='
no-replay-check@common/peer_auth.cc@s/if (counter > s.highest) {/if (true) {/@ReplayGuard.*
no-replay-check-arbiter@common/peer_auth.cc@s/if (counter > s.highest) {/if (true) {/@*AReplayedRequestIsRefused*@quorate_arbiter_tests
no-replay-check-process@common/peer_auth.cc@s/if (counter > s.highest) {/if (true) {/@*ACapturedRenewalReplayed*@quorate_process_tests
no-request-mac@common/peer_auth.cc@s/if (!macsEqual(expected, auth.mac()))/if (false)/@*AnyChangeToTheSignedBytes*:*WrongKey*
no-clock-window@common/peer_auth.cc@s/if (c > nowMicros + limit || c + limit < nowMicros)/if (false)/@*ClockWindow*
no-clock-window-arbiter@common/peer_auth.cc@s/if (c > nowMicros + limit || c + limit < nowMicros)/if (false)/@*FarFromTheArbitersClock*@quorate_arbiter_tests
reply-not-bound@common/peer_auth.cc@s/{kReplyTag, requestMac, \(bytes\|wire.body()\)}/{kReplyTag, \1}/@*TamperedOrMisboundReplies*
no-reply-mac-process@common/peer_client.cc@s/status = openReply(owned->resp, owned->key, owned->mac, opened);/opened.ParseFromString(owned->resp.body());/@*ForgedReplies*@quorate_process_tests
reply-with-signing-key@arbiter/arbiter_service.cc@s/sealReply(reply, \*opened.key, opened.mac);/sealReply(reply, c.keys.signingKey(), opened.mac);/@*DuringARotation*@quorate_arbiter_tests
reply-with-signing-key-process@arbiter/arbiter_service.cc@s/sealReply(reply, \*opened.key, opened.mac);/sealReply(reply, c.keys.signingKey(), opened.mac);/@*AKeyRotation*@quorate_process_tests
short-keys@common/yaml_config.cc@s/key.size() < kMinSecretBytes/key.size() < 1/@*ShortKeys*
readable-keys@common/yaml_config.cc@s/(st.st_mode \& 077) != 0/false/@*ReadableByOthers*:*InlineKeyNeeds*
shared-key@arbiter/config.cc@s/if (k == other) {/if (false) {/@*same_key*@quorate_arbiter_tests
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../support/mutants.sh" "$build" quorate_common_tests 180 "$@"
