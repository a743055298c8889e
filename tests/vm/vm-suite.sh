#!/usr/bin/env bash
# Usage: vm-suite.sh VM_DIR
# The ctest test vm_boot: boots the VM once (run-in-vm.sh) and runs every VM test binary that
# CMake listed in VM_DIR/tests.list ("NAME PATH" a line, from quorate_add_vm_test), each with
# --gtest_output=xml:VM_DIR/results/NAME.xml. Leaves NAME.out (stdout and stderr), NAME.rc and
# NAME.xml in VM_DIR/results for the tests vm/NAME (vm-result.sh), which pass or fail on them.
# Kernel cache: VM_DIR/kernel. Exits 0 when the VM ran every binary, whatever their results; 77
# (skip) when no VM can run here, after writing the reason to VM_DIR/results/skipped.
# Environment: QUORATE_VM_TIMEOUT (the whole boot, default 1200 s, below ctest's 1500),
# QUORATE_VM_TEST_TIMEOUT (one binary, default 300 s), QUORATE_VM_MEM (MB, default 2048).
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 VM_DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
vm=$1
list=$vm/tests.list
results=$vm/results
[[ -f "$list" ]] || { echo "vm-suite: no $list (configure with cmake first)" >&2; exit 1; }
mkdir -p "$results"
find "$results" -mindepth 1 -delete

names=() commands=()
while read -r name path; do
  [[ -n "$name" ]] || continue
  if [[ ! -x "$path" ]]; then
    echo "vm-suite: $name is not built ($path); build it first (ninja quorate_vm_tests)" >&2
    echo "not built: $path" >"$results/$name.out"
    echo 127 >"$results/$name.rc"
    continue
  fi
  names+=("$name")
  commands+=("$(printf '%q --gtest_output=xml:%q' "$path" "$results/$name.xml")")
done <"$list"
if ((${#names[@]} == 0)); then
  echo "vm-suite: no VM test binary to run"
  exit 0
fi

cmds=$(mktemp)
trap 'rm -f "$cmds"' EXIT
printf '%s\n' "${commands[@]}" >"$cmds"
# If ctest kills this script at its TIMEOUT, run-in-vm.sh gets SIGTERM and stops qemu.
deathsig=()
command -v setpriv >/dev/null && deathsig=(setpriv --pdeathsig TERM --)
set +e
"${deathsig[@]}" bash "$here/run-in-vm.sh" --quiet --results "$results" --cache "$vm/kernel" \
  --timeout "${QUORATE_VM_TIMEOUT:-1200}" --cmd-timeout "${QUORATE_VM_TEST_TIMEOUT:-300}" \
  --mem "${QUORATE_VM_MEM:-2048}" --commands "$cmds" 2>&1 | tee "$vm/run-in-vm.log"
rc=${PIPESTATUS[0]}
set -e
if ((rc == 77)); then
  grep -a -m1 'SKIP' "$vm/run-in-vm.log" >"$results/skipped" || echo "no VM here" >"$results/skipped"
  exit 77
fi
# run-in-vm numbers its results; the tests vm/NAME look for them by name.
for i in "${!names[@]}"; do
  n=$((i + 1))
  for ext in out rc seconds; do
    if [[ -f "$results/$n.$ext" ]]; then mv "$results/$n.$ext" "$results/${names[i]}.$ext"; fi
  done
done
# 0: all passed; 1: some binary failed (its vm/NAME test says so); anything else: the VM failed.
if ((rc != 0 && rc != 1)); then
  echo "vm-suite: the VM run failed (run-in-vm.sh exit $rc); console: $results/console.log" >&2
  exit 1
fi
exit 0
