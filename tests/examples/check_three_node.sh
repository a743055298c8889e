#!/bin/bash
# Keeps deploy/examples/three-node valid: `--check` on each of its files, with the certificates and
# the cluster key made into a temporary directory (paths rewritten there), each node in a network
# namespace of its own with the example's eth0 and address, so every check of the host can pass.
#   check_three_node.sh [--broken] EXAMPLE_DIR SCRIPTS_DIR DIRECTOR ARBITER
# This kernel may lack IPVS: then the one FAIL accepted is the IPVS check's, with its message.
# Also: each daemon given the other's file says so (exit 2).
# --broken: the control; director-a's VIP device is renamed in its copy, and the same run must
# fail, naming it (exit 0 when it did). Needs root (exit 77 otherwise).
set -euo pipefail
broken=0
if [[ ${1:-} == --broken ]]; then
  broken=1
  shift
fi
example=$1 scripts=$2 director=$3 arbiter=$4
if [[ $(id -u) != 0 ]] || ! command -v ip >/dev/null; then
  echo "SKIP: needs root and iproute2 (network namespaces)"
  exit 77
fi
tmp=$(mktemp -d)
prefix="qex$$"
cleanup() {
  for n in a b arb; do ip netns del "$prefix-$n" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

bash "$scripts/make-certs.sh" "$tmp/tls" web-lb lb-a lb-b >/dev/null
bash "$scripts/make-certs.sh" --arbiter arbiter-1 "$tmp/tls" >/dev/null
sh "$scripts/make-secret.sh" "$tmp/web-lb.secret" >/dev/null
for f in director-a director-b arbiter; do
  sed -e "s#/etc/quorate/#$tmp/#g" -e "s#/var/lib/#$tmp/state/#g" -e "s#/run/quorate/#$tmp/run/#g" -e "s#/run/quorate-arbiter/#$tmp/run/#g" \
    "$example/$f.yaml" >"$tmp/$f.yaml"
  outside='(^|[ :{])/(etc|var|run)/'
  if grep -v '^ *#' "$tmp/$f.yaml" | grep -qE "$outside"; then
    echo "$f.yaml: a path outside the temporary directory is left:"
    grep -nE "$outside" "$tmp/$f.yaml"
    exit 1
  fi
done
if ((broken)); then
  sed -i 's/device: eth0, label: "eth0:web"/device: eth9, label: "eth9:web"/' "$tmp/director-a.yaml"
  grep -q 'device: eth9,' "$tmp/director-a.yaml"
fi

# One namespace per node: eth0 (a veth whose peer stays inside: this kernel may have no dummy
# driver) with the node's address, as on the real hosts.
node_ns() {
  local ns=$1 address=$2
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$ns" link add eth0 type veth peer name peer0
  ip -n "$ns" addr add "$address/24" dev eth0
  ip -n "$ns" link set peer0 up
  ip -n "$ns" link set eth0 up
}
node_ns "$prefix-a" 198.18.0.1
node_ns "$prefix-b" 198.18.0.2
node_ns "$prefix-arb" 198.18.0.3

ipvs_here=0
[[ -e /proc/net/ip_vs ]] && ipvs_here=1
failures=0
# check NS BINARY FILE EXPECTED_OK_SUBJECT...: the run passes, or fails only on a missing IPVS.
check() {
  local ns=$1 binary=$2 file=$3
  shift 3
  local out rc=0
  out=$(ip netns exec "$ns" "$binary" --check --config "$tmp/$file" 2>&1) || rc=$?
  echo "--- $file (exit $rc)"
  echo "$out" | tee "$tmp/$file.out"
  local fails
  fails=$(grep '^FAIL' <<<"$out" || true)
  if ((rc == 1 && ipvs_here == 0)) &&
    [[ $fails == "FAIL    kernel IPVS: no IPVS in this kernel (modprobe ip_vs)"* ]] &&
    [[ $(wc -l <<<"$fails") == 1 ]]; then
    echo "(accepted: this kernel has no IPVS)"
  elif ((rc != 0)); then
    echo "$file: --check failed"
    failures=$((failures + 1))
  fi
  for subject in "$@"; do
    if ! grep -q "^OK      $subject" <<<"$out"; then
      echo "$file: no OK line for $subject"
      failures=$((failures + 1))
    fi
  done
}
director_checks=("interface eth0: exists" "state_dir $tmp/state/quorate" "cluster key: $tmp/web-lb.secret"
  "tls.ca " "tls.cert " "tls.key " "arbiter.ca " "kernel nf_tables" "operator socket directory")
check "$prefix-a" "$director" director-a.yaml "${director_checks[@]}" "listen 198.18.0.1:7101"
check "$prefix-b" "$director" director-b.yaml "${director_checks[@]}" "listen 198.18.0.2:7101"
check "$prefix-arb" "$arbiter" arbiter.yaml "state_dir $tmp/state/quorate-arbiter" \
  "cluster web-lb key" "cluster web-lb ca" "tls.cert " "tls.key " "listen 198.18.0.3:7100"

# Each daemon given the other's file says so (exit 2), before any other error.
other() {
  local binary=$1 file=$2 says=$3 out rc=0
  out=$("$binary" --check --config "$tmp/$file" 2>&1) || rc=$?
  if [[ $rc != 2 || $out != *"$says"* ]]; then
    echo "$(basename "$binary") on $file: exit $rc, expected 2 and \"$says\": $out"
    failures=$((failures + 1))
  fi
}
other "$arbiter" director-b.yaml "this looks like a director configuration"
other "$director" arbiter.yaml "this looks like an arbiter configuration"

if ((broken)); then
  if ((failures > 0)) && grep -q '^FAIL    interface eth9: no such interface' "$tmp/director-a.yaml.out"; then
    echo "caught: the example with a missing device fails --check, naming it"
    exit 0
  fi
  echo "the renamed device was not caught"
  exit 1
fi
((failures == 0)) || exit 1
echo "the three-node example passes --check on its three nodes"
