#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo: an arbiter, two directors and a client,
# each in its own network namespace on one bridge (198.18.0.0/24, nothing routes out), with
# two VIPs that move together (deploy/examples/netns). It shows who holds them, kills the holder
# with SIGKILL, and shows the VIPs answering from the other director. Needs root.
# With --once it stops after the failover; otherwise it watches until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
if [[ $(id -u) -ne 0 ]]; then
  echo "run-cluster.sh needs root: it creates network namespaces (try: sudo $0)" >&2
  exit 1
fi
bash scripts/install-deps.sh
bash scripts/build.sh quorate-arbiter quorate-director quoratectl

ex=deploy/examples/netns
# The example's key is made here, at the first start, never committed.
sh scripts/make-secret.sh "$ex/demo.secret"
run=$(mktemp -d /tmp/quorate-run.XXXXXX)
p="qdemo$$"  # namespace prefix, unique to this run
hosts=(alpha beta arbiter client)
declare -A addr=([alpha]=198.18.0.1 [beta]=198.18.0.2 [arbiter]=198.18.0.3 [client]=198.18.0.100)
pids=()
made=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${made[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  echo "cluster stopped, namespaces removed; logs in $run"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

inns() { local h=$1; shift; ip netns exec "$p-$h" "$@"; }

# The switch: a bridge in its own namespace, one port per host.
ip netns add "$p-sw" && made+=("$p-sw")
ip -n "$p-sw" link add br0 type bridge
ip -n "$p-sw" link set br0 up
for h in "${hosts[@]}"; do
  ip netns add "$p-$h" && made+=("$p-$h")
  ip -n "$p-sw" link add "$h" type veth peer name eth0 netns "$p-$h"
  ip -n "$p-sw" link set "$h" master br0 up
  ip -n "$p-$h" link set lo up
  ip -n "$p-$h" addr add "${addr[$h]}/24" dev eth0
  ip -n "$p-$h" link set eth0 up
done

rm -rf /tmp/quorate-netns  # the example state dirs: a fresh demo each time
start() {
  local host=$1 bin=$2
  ip netns exec "$p-$host" "$root/build/bin/$bin" --config "$ex/$host.yaml" >"$run/$host.log" 2>&1 &
  pids+=($!)
  declare -g "pid_$host=$!"
  echo "started $bin in namespace $p-$host (pid $!, log $run/$host.log)"
}
start arbiter quorate-arbiter
start alpha quorate-director
start beta quorate-director

# The operator API is each director's Unix socket (deploy/examples/netns/*.yaml).
ctl() { inns client "$root/build/bin/quoratectl" --endpoint "unix:/tmp/quorate-netns/$1/director.sock" "${@:2}"; }
holderSeenBy() {
  ctl "$1" status --json 2>/dev/null | sed -n 's/.*"holder": *"\([^"]*\)".*/\1/p' | head -1 || true
}
macOf() { ip -n "$p-$1" -br link show eth0 | awk '{print $3}'; }
declare -A hostOfMac=([$(macOf alpha)]=alpha [$(macOf beta)]=beta)
# Which director answers ARP for the VIP, as the client sees it.
answering() {
  local mac
  mac=$(inns client arping -c 1 -w 0.2 -i eth0 198.18.0.10 2>/dev/null |
        grep -o -m1 '[0-9a-f]\{2\}\(:[0-9a-f]\{2\}\)\{5\}' || true)
  [[ -n "$mac" ]] && echo "${hostOfMac[$mac]:-$mac}" || echo "nobody"
}

echo "waiting until both directors know the holder (quarantine first: 0.7 s)..."
for _ in $(seq 100); do
  a=$(holderSeenBy alpha)
  b=$(holderSeenBy beta)
  [[ -n "$a" && "$a" == "$b" ]] && break
  sleep 0.1
done
ctl alpha status
echo
echo "VIP 198.18.0.10 answered (ARP, seen from the client) by: $(answering)"
for h in alpha beta; do
  echo "  $h: $(ip -n "$p-$h" -br addr show dev eth0 | cut -c 17-)"
done

holder=$a
other=beta; [[ "$holder" == beta ]] && other=alpha
pidvar="pid_$holder"
echo
echo "killing the holder $holder with SIGKILL (pid ${!pidvar})..."
kill -9 "${!pidvar}"
t0=$(date +%s%N)
for _ in $(seq 100); do
  [[ "$(answering)" == "$other" ]] && break
done
t1=$(date +%s%N)
echo "VIP 198.18.0.10 answered by: $(answering), $(( (t1 - t0) / 1000000 )) ms after the kill"
echo "(the killed director's kernel stops answering by itself: its nftables fence expires with the lease)"
ctl "$other" status
if [[ "${1:-}" == "--once" ]]; then exit 0; fi
echo
echo "watching $other (Ctrl-C to stop; try in another shell:"
echo "  ip netns exec $p-client $root/build/bin/quoratectl --endpoint unix:/tmp/quorate-netns/$other/director.sock step-down)"
ctl "$other" watch
