#!/usr/bin/env bash
# Usage (inside the test VM, run by guest-init.sh in the host's root): guest-run.sh RESULTS_DIR
# Runs the commands of RESULTS_DIR/commands (one shell command a line) in order with bash -c,
# from the directory QVM_CWD of RESULTS_DIR/vm.env, each with stdin from /dev/null and, if
# QVM_CMD_TIMEOUT > 0, under timeout(1). For command N (1-based) it writes N.out (stdout and
# stderr), N.rc (the exit code) and N.seconds. RESULTS_DIR/ready is touched first and
# RESULTS_DIR/done last. Progress lines go to stdout, the VM's console. The commands see
# QUORATE_IN_VM=1 and QUORATE_VM_RESULTS=RESULTS_DIR (a folder the host keeps).
set -euo pipefail
results=$1
# shellcheck disable=SC1091
source "$results/vm.env"
touch "$results/ready"
mapfile -t commands <"$results/commands"
# Tests may keep files for the host here (the guest's /tmp is gone after the run).
export QUORATE_VM_RESULTS=$results
cd "$QVM_CWD" 2>/dev/null || { echo "quorate-vm: cannot cd to $QVM_CWD, running in /"; cd /; }

n=${#commands[@]}
for ((i = 1; i <= n; i++)); do
  cmd=${commands[i - 1]}
  echo "quorate-vm: [$i/$n] $cmd"
  t0=$(date +%s%N)
  rc=0
  if ((QVM_CMD_TIMEOUT > 0)); then
    timeout --kill-after=10 "$QVM_CMD_TIMEOUT" bash -c "$cmd" >"$results/$i.out" 2>&1 </dev/null || rc=$?
    ((rc == 124)) && echo "(killed: still running after $QVM_CMD_TIMEOUT s)" >>"$results/$i.out"
  else
    bash -c "$cmd" >"$results/$i.out" 2>&1 </dev/null || rc=$?
  fi
  t1=$(date +%s%N)
  seconds=$(printf '%d.%03d' $(((t1 - t0) / 1000000000)) $((((t1 - t0) / 1000000) % 1000)))
  echo "$seconds" >"$results/$i.seconds"
  echo "$rc" >"$results/$i.rc"
  echo "quorate-vm: [$i/$n] exit $rc after $seconds s"
done
sync
touch "$results/done"
