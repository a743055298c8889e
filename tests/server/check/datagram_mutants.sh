#!/bin/sh
# Breaks the udp, ping and file checks on purpose (one sed mutant at a time, restored from git
# afterwards) and checks that their tests catch each: udp_file_probes_test.cc on loopback, and
# the ping ones in tests/netns/ping_check_test.cc (root: network namespaces).
# Usage: datagram_mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: datagram_mutants.sh BUILD_DIR [NAME...]}
shift

# name@file@sed expression@gtest filter that must fail[@target].
# udp-any-reply takes any reply as the expected one; udp-silence-passes lets a check that needs a
# reply pass on silence; udp-unreachable-passes takes a port unreachable for a pass. ping-id,
# ping-sequence and ping-payload stop comparing that part of the echo reply. file-zero-up keeps
# a server up on "0" (and on an empty or missing file); file-no-weight drops the file's weight.
mutants='
udp-any-reply@server/check/udp_reply.cc@s/ok = reply.starts_with(spec.expect);/ok = true;/@DatagramProbeTest.UdpWrongReplyFails
udp-silence-passes@server/check/udp_probe.cc@s/if (config_->spec.requireReply) return Attempt::atDeadline();/if (config_ == nullptr) return Attempt::atDeadline();/@DatagramProbeTest.UdpServerThatStopsAnswering
udp-unreachable-passes@server/check/udp_probe.cc@/async_receive/,/judgeUdpReply/s/if (ec) return self->fail(reasonOf(ec));/if (ec) return self->finish(Outcome{true, "mutant", {}});/@DatagramProbeTest.UdpPortUnreachableFailsAtOnce
ping-id@server/check/icmp_wire.cc@s/read16(icmp, 4) != expected.id ||//@PingCheckTest.OnlyTheReplyWithOurIdentifierAndSequencePasses@quorate_netns_ping_tests
ping-sequence@server/check/icmp_wire.cc@s/|| read16(icmp, 6) != expected.sequence//@PingCheckTest.OnlyTheReplyWithOurIdentifierAndSequencePasses@quorate_netns_ping_tests
ping-payload@server/check/icmp_wire.cc@s/if (!std::equal(data.begin(), data.end(), expected.payload.begin(), expected.payload.end())) {/if (data.empty()) {/@PingCheckTest.OnlyTheReplyWithOurIdentifierAndSequencePasses@quorate_netns_ping_tests
file-zero-up@server/check/file_weight.cc@s/return Outcome{weight > 0,/return Outcome{true,/@FileCheckerTest.*:DatagramProbeTest.FileProbeReadsTheFileEachAttempt
file-no-weight@server/check/file_weight.cc@s/weight > 0 ? std::optional<int>(weight) : std::nullopt/std::nullopt/@FileCheckerTest.*
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../../support/mutants.sh" "$build" quorate_check_datagram_tests 120 "$@"
