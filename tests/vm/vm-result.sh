#!/usr/bin/env bash
# Usage: vm-result.sh RESULTS_DIR NAME
# The ctest test vm/NAME: prints what the VM test binary NAME printed inside the VM (vm_boot,
# vm-suite.sh, ran it) and passes iff it exited 0 and its gtest XML shows tests ran.
# Exits 77 (skip) when vm_boot could not run a VM here.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 RESULTS_DIR NAME" >&2
  exit 2
fi
results=$1 name=$2
if [[ -f "$results/skipped" ]]; then
  echo "skipped: $(<"$results/skipped")"
  exit 77
fi
if [[ ! -f "$results/$name.rc" ]]; then
  echo "vm-result: no result for $name in $results: vm_boot did not run it (see its output and $results/console.log)" >&2
  [[ -f "$results/$name.out" ]] && cat "$results/$name.out"
  exit 1
fi
cat "$results/$name.out" 2>/dev/null || true
rc=$(<"$results/$name.rc")
seconds=$(cat "$results/$name.seconds" 2>/dev/null || echo '?')
echo "vm-result: $name exited $rc inside the VM after $seconds s"
((rc == 0)) || exit 1
xml=$results/$name.xml
tests=$(grep -o -m1 '<testsuites [^>]*' "$xml" 2>/dev/null | grep -o ' tests="[0-9]*"' | tr -dc 0-9 || true)
if [[ -z "$tests" ]]; then
  echo "vm-result: $name wrote no gtest XML ($xml)" >&2
  exit 1
fi
if ((tests == 0)); then
  echo "vm-result: $name ran no tests ($xml)" >&2
  exit 1
fi
