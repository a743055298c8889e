#!/bin/sh
# expect_sanitizer_report.sh PATTERN PROGRAM [ARG...]
# Passes only when PROGRAM fails (a non-zero exit) and its output holds PATTERN (grep -E): the
# sanitizer both reported the planted bug and made the run fail, as it must for any finding.
pattern=$1
shift
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out" | tail -n 40
if [ "$rc" -eq 0 ]; then
  echo "expect_sanitizer_report: $* exited 0: a report would not fail a test" >&2
  exit 1
fi
if ! printf '%s\n' "$out" | grep -Eq "$pattern"; then
  echo "expect_sanitizer_report: no '$pattern' in the output of $* (exit $rc)" >&2
  exit 1
fi
echo "expect_sanitizer_report: exit $rc with '$pattern': the sanitizer is live"
