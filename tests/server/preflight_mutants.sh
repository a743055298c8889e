#!/bin/sh
# Breaks each check of --check on purpose (one sed mutant at a time, restored from git
# afterwards) and checks that a test of tests/server/preflight_test.cc catches it. By hand, like
# the other mutant scripts: each mutant rebuilds and relinks quorate_preflight_tests.
# Usage: preflight_mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: preflight_mutants.sh BUILD_DIR [NAME...]}
shift

# name@file@sed expression@gtest filter that must fail
mutants='
no-interface-check@server/preflight.cc@s/    if (index == 0) {/    if (false) {/@Preflight.Interfaces*
any-mode-executes@server/preflight.cc@s/  if (who.uid == 0) return (st.st_mode \& 0111) != 0;/  return true;/@Preflight.ProgramsMustExist*
no-reach-check@server/preflight.cc@s/unsearchableParent(\*path, \*who)) {/unsearchableParent(*path, *who); false) {/@Preflight.AProgramItsUserCannotReach*
no-script-security@server/preflight.cc@s/checkScriptSecurity(program, user); !sec) {/checkScriptSecurity(program, user); false) {/@Preflight.ProgramsMustExist*
socket-dir-any-mode@server/preflight.cc@s/  if ((st.st_mode \& (S_IWGRP | S_IWOTH)) != 0 || (st.st_uid != 0 \&\& st.st_uid != ::geteuid())) {/  if (false) {/@Preflight.TheOperatorSocketDirectory*
ipvs-missing-skipped@server/preflight.cc@s/  if (probe.err() == ENOENT) {/  if (false) {/@Preflight.IpvsIsReported*
no-write-probe@common/preflight.cc@s/if (auto problem = writeProbeFile(dir)) return/if (auto problem = writeProbeFile(dir); false) return/@Preflight.StateDir*
no-key-reread@common/preflight.cc@s/const std::vector<std::string> keys = config::readSecrets(v.asMap({"secret", "secret_file"}));/const std::vector<std::string> keys{std::string()};/@Preflight.KeyFiles*
private-key-any-mode@common/preflight.cc@s/  if ((st.st_mode \& 077) != 0) {/  if (false) {/@Preflight.CertificatesAndKeys
busy-port-fails@common/preflight.cc@s/      case EADDRINUSE:/      case EADDRINUSE + 100000:/@Preflight.ListenAddresses
foreign-address-ok@common/preflight.cc@s/        return fail(subject, "no interface of this host has the address " + host);/        return ok(subject, host);/@Preflight.ListenAddresses
metrics-listen-unchecked@server/preflight.cc@s/  if (c.metrics) {/  if (false) {/@Preflight.MetricsListen*
wildcard-no-clash@common/preflight.cc@s/(wildcard(a->host) \&\& (a->host == "::" || !v6(b->host))) ||/false ||/@Preflight.MetricsListen*
no-other-daemon@common/preflight.cc@s/  if (self == Daemon::kArbiter \&\& !director.empty() \&\& arbiter.empty()) {/  if (false) {/@Preflight.EachDaemonNames*
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../support/mutants.sh" "$build" quorate_preflight_tests 120 "$@"
