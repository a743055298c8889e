#!/bin/bash
# quoratectl realserver setup|teardown in a network namespace of its own, through the same checks
# as deploy/examples/three-node/realserver.sh (tests/examples/realserver_test.sh: setup twice adds
# each VIP once with arp_ignore=1, arp_announce=2; teardown twice removes them and restores the
# sysctl values found before), then its errors. Two broken variants must each be caught: one whose
# teardown leaves the ARP sysctls as setup set them, one whose teardown leaves a VIP on lo.
#   realserver_ctl_test.sh QUORATECTL REALSERVER_TEST_SH
# Needs root and iproute2 (exit 77).
set -uo pipefail
ctl=$1
checks=$2
if [[ $(id -u) != 0 ]] || ! command -v ip >/dev/null; then
  echo "SKIP: needs root and iproute2 (network namespaces)"
  exit 77
fi
tmp=$(mktemp -d)
ns="qrc$$"
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT

# realserver.sh's interface ("setup|teardown VIP...", state in $QUORATE_RS_STATE) over quoratectl;
# $1 is extra shell run after a teardown (the breakage of a variant).
shim() {
  cat >"$tmp/$2.sh" <<SH
cmd=\$1; shift
args=""
for vip in "\$@"; do args="\$args --vip \$vip"; done
"$ctl" realserver "\$cmd" \$args || exit \$?
if [ "\$cmd" = teardown ]; then
  $1
fi
SH
}
shim ":" real
shim "echo 1 >/proc/sys/net/ipv4/conf/all/arp_ignore" no-restore
shim "ip addr add 198.18.0.101/32 dev lo 2>/dev/null; true" leaves-vip

failed=0
if ! "$checks" "$tmp/real.sh"; then
  echo "FAIL: quoratectl realserver is not idempotent or not undone cleanly"
  failed=1
fi
for broken in no-restore leaves-vip; do
  if "$checks" "$tmp/$broken.sh" >"$tmp/$broken.log" 2>&1; then
    echo "FAIL: the checks did not catch the $broken variant"
    failed=1
  else
    echo "$broken: caught ($(tail -n 1 "$tmp/$broken.log"))"
  fi
done

# Errors name the problem; nothing is changed by a refused command.
ip netns add "$ns" || exit 1
state="$tmp/errors"
out=$(ip netns exec "$ns" "$ctl" realserver setup --vip 198.18.0.100 --dev nosuch0 \
  --state-dir "$state" 2>&1)
rc=$?
if [[ $rc != 1 || $out != *'no device "nosuch0"'* ]]; then
  echo "FAIL: a missing device: exit $rc, $out"
  failed=1
fi
out=$(ip netns exec "$ns" "$ctl" realserver setup --vip 198.18.0.0/24 --state-dir "$state" 2>&1)
rc=$?
if [[ $rc != 2 || $out != *"198.18.0.0/24"* ]]; then
  echo "FAIL: a subnet as a VIP: exit $rc, $out"
  failed=1
fi
if [[ -e $state ]]; then
  echo "FAIL: a refused setup left $state"
  failed=1
fi
if ! ip netns exec "$ns" "$ctl" realserver teardown --vip 198.18.0.100 --state-dir "$state" \
  >/dev/null; then
  echo "FAIL: teardown of what was never set up is not a success"
  failed=1
fi
((failed == 0)) && echo "quoratectl realserver: idempotent, undone cleanly, errors named"
exit $failed
