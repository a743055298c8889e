#!/usr/bin/env bash
# Installs what is missing, builds, starts a local cluster on loopback (arbiter and
# two directors, from deploy/examples/loopback) and shows who holds the lease.
# Ctrl-C stops it. With --once it shows the status once, then stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash scripts/install-deps.sh
bash scripts/build.sh quorate-arbiter quorate-director quoratectl

ex=deploy/examples/loopback
run=$(mktemp -d /tmp/quorate-run.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "cluster stopped; logs in $run"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

rm -rf /tmp/quorate-demo  # the example state dirs: a fresh demo each time
start() {
  local name=$1 bin=$2
  "$root/build/bin/$bin" --config "$ex/$name.yaml" >"$run/$name.log" 2>&1 &
  pids+=($!)
  echo "started $name (pid $!, log $run/$name.log)"
}
start arbiter quorate-arbiter
start alpha quorate-director
start beta quorate-director

ctl() { "$root/build/bin/quoratectl" --endpoint "$1" "${@:2}"; }
holderSeenBy() {
  ctl "$1" status --json 2>/dev/null | sed -n 's/.*"holder": *"\([^"]*\)".*/\1/p' || true
}
echo "waiting until both directors know the holder (quarantine first: 1.8 s)..."
for _ in $(seq 100); do
  a=$(holderSeenBy 127.0.0.1:7101)
  b=$(holderSeenBy 127.0.0.1:7102)
  [[ -n "$a" && "$a" == "$b" ]] && break
  sleep 0.1
done
ctl 127.0.0.1:7101 status
echo
ctl 127.0.0.1:7102 status
if [[ "${1:-}" == "--once" ]]; then exit 0; fi
echo
echo "watching alpha (Ctrl-C to stop the cluster; try: build/bin/quoratectl --endpoint 127.0.0.1:7101 step-down)"
ctl 127.0.0.1:7101 watch
