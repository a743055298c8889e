#!/bin/sh
# Breaks each property of the operator API on purpose (one sed mutant at a time, restored from
# git afterwards) and checks that the named test catches it. As root (the role tests run the
# client as uid 65534). Usage: operator_mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: operator_mutants.sh BUILD_DIR [NAME...]}
shift

A=server/grpc/operator_auth.cc
L=server/grpc/operator_listener.cc
W=server/grpc/status_watcher.cc
P=quorate_process_tests
S=quorate_server_tests
# name@file@sed expression@gtest filter that must fail@test binary
mutants="
admin-for-everyone@$A@s/if (c.uid == 0 || c.uid == policy.daemonUid/if (true || c.uid == 0/@OperatorApi.SocketReader*@$P
allow-everything@$A@s/if (static_cast<int>(have) >= static_cast<int>(need)) return true;/return true;/@OperatorApi.SocketReader*:OperatorApi.TlsTcp*@$P
tls-admin-for-every-cn@$A@s/policy.tcp \&\& contains(policy.tcp->admins, c.commonName)/policy.tcp/@OperatorApi.TlsTcp*@$P
no-watcher-cap@$W@s/if (slots_ >= limit_) return false;//@DirectorTest.WatchStreamsAreCapped@$S
no-connection-cap@$L@s/if (conns_.size() >= static_cast<std::size_t>(maxConnections_)) {/if (false) {/@OperatorListenerTest.*Cap*@$S
no-dir-check@$L@s/if ((st.st_mode \& S_IWOTH) != 0 ||/if (false \&\&/@OperatorListenerTest.RefusesADirectory*@$S
"
printf '%s\n' "$mutants" | sh "$(dirname "$0")/../support/mutants.sh" "$build" "$P" 300 "$@"
