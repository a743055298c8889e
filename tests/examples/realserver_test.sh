#!/bin/bash
# deploy/examples/three-node/realserver.sh in a network namespace of its own: setup twice adds
# each VIP to lo once and sets arp_ignore=1, arp_announce=2; teardown twice removes them and puts
# back the sysctl values found before (set to non-defaults first, so a reset to 0 would show).
#   realserver_test.sh [--broken] REALSERVER_SH
# --broken: the control; two mutants of the script (no "already there" guard on setup, no
# restore on teardown) must each fail this test (exit 0 when both did). Needs root (exit 77).
set -uo pipefail
broken=0
if [[ ${1:-} == --broken ]]; then
  broken=1
  shift
fi
script=$1
if [[ $(id -u) != 0 ]] || ! command -v ip >/dev/null; then
  echo "SKIP: needs root and iproute2 (network namespaces)"
  exit 77
fi
tmp=$(mktemp -d)
ns="qrs$$"
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT
vips=(198.18.0.100 198.18.0.101)

in_ns() { ip netns exec "$ns" "$@"; }
sysctl_of() { in_ns cat "/proc/sys/net/ipv4/conf/all/$1"; }
count_on_lo() { in_ns ip -o -4 addr show dev lo | grep -cF " $1/32 "; }

# Runs the whole sequence against `$1`; returns 1 at the first expectation not met.
verify() {
  local rs=$1
  ip netns del "$ns" 2>/dev/null
  ip netns add "$ns" || return 1
  in_ns sh -c 'echo 0 >/proc/sys/net/ipv4/conf/all/arp_ignore; echo 1 >/proc/sys/net/ipv4/conf/all/arp_announce'
  local state="$tmp/state-$RANDOM"
  for round in 1 2; do
    if ! in_ns env QUORATE_RS_STATE="$state" sh "$rs" setup "${vips[@]}"; then
      echo "setup $round failed"
      return 1
    fi
    [[ $(sysctl_of arp_ignore) == 1 && $(sysctl_of arp_announce) == 2 ]] ||
      { echo "after setup $round: arp_ignore=$(sysctl_of arp_ignore) arp_announce=$(sysctl_of arp_announce)"; return 1; }
    for vip in "${vips[@]}"; do
      [[ $(count_on_lo "$vip") == 1 ]] || { echo "after setup $round: $vip on lo $(count_on_lo "$vip") times"; return 1; }
    done
  done
  for round in 1 2; do
    if ! in_ns env QUORATE_RS_STATE="$state" sh "$rs" teardown "${vips[@]}"; then
      echo "teardown $round failed"
      return 1
    fi
    [[ $(sysctl_of arp_ignore) == 0 && $(sysctl_of arp_announce) == 1 ]] ||
      { echo "after teardown $round: arp_ignore=$(sysctl_of arp_ignore) arp_announce=$(sysctl_of arp_announce), expected the 0 and 1 found"; return 1; }
    for vip in "${vips[@]}"; do
      [[ $(count_on_lo "$vip") == 0 ]] || { echo "after teardown $round: $vip still on lo"; return 1; }
    done
    [[ -z $(ls -A "$state" 2>/dev/null) ]] || { echo "after teardown $round: state left: $(ls -A "$state")"; return 1; }
  done
  return 0
}

if ((broken)); then
  caught=0
  sed 's/if ! on_lo "$vip"; then/if true; then/' "$script" >"$tmp/no-guard.sh"
  sed '/^    restore_sysctls$/d' "$script" >"$tmp/no-restore.sh"
  for mutant in no-guard no-restore; do
    if cmp -s "$script" "$tmp/$mutant.sh"; then
      echo "$mutant: the mutation did not apply"
      exit 1
    fi
    if verify "$tmp/$mutant.sh"; then
      echo "$mutant: not caught"
    else
      echo "$mutant: caught"
      caught=$((caught + 1))
    fi
  done
  ((caught == 2))
  exit
fi
verify "$script" || exit 1
echo "realserver.sh: setup and teardown are idempotent and undone cleanly"
