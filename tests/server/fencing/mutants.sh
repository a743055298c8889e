#!/bin/sh
# Breaks each property of server/fencing on purpose (one sed mutant at a time, restored from git
# afterwards) and checks that the named test catches it, by failing or by hanging past 180 s.
# Needs fence-agents installed (else the agent tests skip and the mutants survive).
# Usage: mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: mutants.sh BUILD_DIR [NAME...]}
shift
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel) || exit 2
cd "$root" || exit 2
src=server/fencing/fence_agent.cc
if ! git diff --quiet -- "$src"; then
  echo "$src has local changes; commit or stash them first" >&2
  exit 2
fi
trap 'git checkout -q -- "$src"' EXIT INT TERM

# name@sed expression@gtest filter that must fail
mutants='
password-in-env@s/^    run.argv = {action_.agent};.*/    run.argv = {action_.agent};\n    if (!action_.passwordFile.empty()) run.env.push_back("FENCE_PASSWORD=" + readPassword(action_.passwordFile).value());/@*PasswordIsNever*:*NoArguments*
password-in-argv@s/^    run.argv = {action_.agent};.*/    run.argv = {action_.agent, "--password=" + readPassword(action_.passwordFile).value()};/@*PasswordIsNever*:*NoArguments*
password-logged@s/^        run.input = std::move(in).value();/        run.input = std::move(in).value();\n        spdlog::debug("fence: agent input: {}", run.input);/@*PasswordIsNever*:*NoArguments*
no-action-off@s/if (!hasAction) in += "action=off\\n";//@*IpmilanPowersTheTargetOff*:AgentInput*
exit-code-ignored@s/const bool ok = a.error.empty() && a.exit.ok();/const bool ok = a.error.empty();/@*WrongPassword*:*FailingDevice*
no-retries@s/if (ok || number >= attempts) {/if (ok || number >= 1) {/@*FailingDevice*:*FailingCommand*
no-timeout@s/run.timeout = action_.timeout;/run.timeout = std::chrono::milliseconds(600000);/@*HangingDevice*
newline-in-config@s/if (s.find(.\\n.) != std::string::npos || s.find(.\\r.) != std::string::npos) {/if (false) {/@*RefusesBadSections*
newline-on-stdin@s/return Status::fail(0, "fence option " + key + " holds a newline");/(void)0;/@AgentInput*
no-redaction@s/tail(redact(std::move(exit.output), password), kOutputTail)/tail(exit.output, kOutputTail)/@*EchoedPasswordIsRedacted*
password-read-once@s/^      auto p = readPassword(action_.passwordFile);/      static auto p = readPassword(action_.passwordFile);/@*PasswordFileIsReadAtEachAttempt*
'

status=0
while IFS='@' read -r name expr filter; do
  [ -n "$name" ] || continue
  if [ $# -gt 0 ]; then
    case " $* " in *" $name "*) ;; *) continue ;; esac
  fi
  git checkout -q -- "$src"
  sed -i "$expr" "$src"
  if git diff --quiet -- "$src"; then
    echo "MUTANT $name: did not apply"
    status=1
    continue
  fi
  if ! nice -n 5 ninja -C "$build" -j2 quorate_fencing_tests >/tmp/mutant-$$.log 2>&1; then
    echo "MUTANT $name: does not build (see /tmp/mutant-$$.log)"
    status=1
    continue
  fi
  timeout -s KILL 180 "$build/bin/quorate_fencing_tests" --gtest_filter="$filter" \
    >/tmp/mutant-$$.out 2>&1
  rc=$?
  if grep -q '\[  SKIPPED \]' /tmp/mutant-$$.out; then
    echo "MUTANT $name: tests skipped (fence-agents missing?)"
    status=1
  elif [ $rc -eq 0 ]; then
    echo "MUTANT $name: SURVIVED ($filter passed)"
    status=1
  elif [ $rc -eq 137 ]; then
    echo "MUTANT $name: caught ($filter hung, killed after 180 s)"
  else
    echo "MUTANT $name: caught by $(grep -c '^\[  FAILED  \] .*(' /tmp/mutant-$$.out) test(s) of $filter"
  fi
done <<END
$mutants
END
git checkout -q -- "$src"
nice -n 5 ninja -C "$build" -j2 quorate_fencing_tests >/dev/null 2>&1
rm -f /tmp/mutant-$$.log /tmp/mutant-$$.out
exit $status
