#!/usr/bin/env bash
# The kernel cost behind the new fence's residual growth in N (docs/bench-fence.md), with nft alone:
# a renewal-like transaction (flush a slot set and the lease chain, add the element and the rules)
# against a table that maps N IPv4 VIPs to the lease chain either by a verdict map
# (`ip daddr vmap @vips4`, as the fence does) or by a plain set and one jump rule per lease.
#
#   bench/nft_vmap_validation.sh [N...]     # default: 1 4096 16384; 3 rounds, 500 renewals each
#
# Runs itself in a private network namespace (root); addresses 198.18.0.0/15, nothing is sent.
# Prints microseconds per renewal, nft's parsing included (the same in both layouts).
set -euo pipefail

if [[ ${1:-} != --in-netns ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "needs root (unshare -n, nftables)" >&2; exit 2; }
  exec unshare -n "$0" --in-netns "$@"
fi
shift
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1 4096 16384)
for n in "${sizes[@]}"; do
  [[ $n =~ ^[1-9][0-9]*$ && $n -le 51200 ]] || { echo "N must be 1..51200: $n" >&2; exit 2; }
done
renewals=500
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One layout's table with n VIPs.
ruleset() {
  local layout=$1 n=$2 i elems=""
  for ((i = 0; i < n; i++)); do
    local a="198.18.$((i / 200)).$((i % 200 + 1))"
    if [[ $layout == vmap ]]; then elems+="$a : jump lease0, "; else elems+="$a, "; fi
  done
  elems=${elems%, }
  echo "table inet qvt {"
  echo "  set slot_a { type nf_proto; flags timeout; }"
  echo "  chain lease0 { drop; }"
  if [[ $layout == vmap ]]; then
    echo "  map vips4 { type ipv4_addr : verdict; elements = { $elems } }"
    echo "  chain pre { type filter hook prerouting priority raw; ip daddr vmap @vips4; }"
  else
    echo "  set lease0_v4 { type ipv4_addr; elements = { $elems } }"
    echo "  chain pre { type filter hook prerouting priority raw; ip daddr @lease0_v4 jump lease0; }"
  fi
  echo "}"
}

# nft -i commits each input line as one transaction.
for ((k = 0; k < renewals; k++)); do
  echo "flush set inet qvt slot_a; flush chain inet qvt lease0;" \
    "add element inet qvt slot_a { ipv4 timeout 2s };" \
    "add rule inet qvt lease0 meta nfproto @slot_a meta time < 1893456000 accept;" \
    "add rule inet qvt lease0 drop"
done >"$work/renew.nft"

for round in 1 2 3; do
  for n in "${sizes[@]}"; do
    for layout in vmap set; do
      ruleset "$layout" "$n" >"$work/ruleset.nft"
      nft -f "$work/ruleset.nft"
      t0=$(date +%s%N)
      nft -i <"$work/renew.nft" >/dev/null 2>"$work/err"
      t1=$(date +%s%N)
      [[ ! -s $work/err ]] || { head -3 "$work/err" >&2; exit 1; }
      nft delete table inet qvt
      echo "round $round  N=$n  $layout: $(((t1 - t0) / 1000 / renewals)) us per renewal"
    done
  done
done
