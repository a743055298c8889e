#!/bin/sh
# The real-server side of an LVS direct-routing service: each VIP on lo, so the real server
# accepts packets the director forwards to it unchanged, and ARP kept quiet about them
# (arp_ignore=1: answer only for addresses of the interface asked; arp_announce=2: never use a
# VIP as the source of our own ARP requests), so only the director answers for the VIP.
#
#   realserver.sh setup VIP...      add each VIP (IPv4 /32, IPv6 /128) to lo; set the sysctls
#   realserver.sh teardown VIP...   remove them; restore the sysctls once none of ours is left
#   realserver.sh status            the VIPs this script added, and the sysctls
#
# Idempotent: a second setup or teardown changes nothing. The kernel takes the larger of the
# "all" value and an interface's own, so "all" covers every interface. IPv6 needs no sysctl:
# neighbour discovery answers only for addresses of the interface asked. What the script added,
# and the sysctl values it found, are kept in $QUORATE_RS_STATE (default /run/quorate-realserver),
# so teardown puts back what was there. Run as root (or in a network namespace you own).
set -eu

state=${QUORATE_RS_STATE:-/run/quorate-realserver}
conf=/proc/sys/net/ipv4/conf/all

usage() {
  echo "usage: realserver.sh setup|teardown VIP... | status" >&2
  exit 2
}

prefix_of() {
  case "$1" in
    *:*) echo 128 ;;
    *.*.*.*) echo 32 ;;
    *) echo "realserver.sh: not an IPv4 or IPv6 address: $1" >&2; exit 2 ;;
  esac
}

family_of() {
  case "$1" in
    *:*) echo -6 ;;
    *) echo -4 ;;
  esac
}

# Whether lo has $1 already.
on_lo() {
  ip -o "$(family_of "$1")" addr show dev lo | grep -qF " $1/$(prefix_of "$1") "
}

listed() {
  [ -f "$state/vips" ] && grep -qxF "$1" "$state/vips"
}

save_sysctls() {
  [ -f "$state/sysctls" ] && return 0
  printf 'arp_ignore=%s\narp_announce=%s\n' "$(cat "$conf/arp_ignore")" \
    "$(cat "$conf/arp_announce")" >"$state/sysctls.tmp"
  mv "$state/sysctls.tmp" "$state/sysctls"
}

restore_sysctls() {
  [ -f "$state/sysctls" ] || return 0
  while IFS='=' read -r key value; do
    case "$key" in
      arp_ignore | arp_announce) echo "$value" >"$conf/$key" ;;
    esac
  done <"$state/sysctls"
  rm -f "$state/sysctls"
  echo "realserver.sh: ARP sysctls restored"
}

setup() {
  for vip in "$@"; do prefix_of "$vip" >/dev/null; done
  mkdir -p "$state"
  # Saved before the first change, kept across repeated setups: teardown restores these.
  save_sysctls
  echo 1 >"$conf/arp_ignore"
  echo 2 >"$conf/arp_announce"
  for vip in "$@"; do
    if ! on_lo "$vip"; then
      ip "$(family_of "$vip")" addr add "$vip/$(prefix_of "$vip")" dev lo
      echo "realserver.sh: added $vip/$(prefix_of "$vip") to lo"
    fi
    listed "$vip" || echo "$vip" >>"$state/vips"
  done
  ip link set lo up
}

teardown() {
  for vip in "$@"; do prefix_of "$vip" >/dev/null; done
  for vip in "$@"; do
    if on_lo "$vip"; then
      ip "$(family_of "$vip")" addr del "$vip/$(prefix_of "$vip")" dev lo
      echo "realserver.sh: removed $vip/$(prefix_of "$vip") from lo"
    fi
    if listed "$vip"; then
      grep -vxF "$vip" "$state/vips" >"$state/vips.tmp" || true
      mv "$state/vips.tmp" "$state/vips"
    fi
  done
  # The sysctls go back only when no VIP this script added is left.
  if [ ! -s "$state/vips" ]; then
    rm -f "$state/vips"
    restore_sysctls
  fi
}

status() {
  echo "arp_ignore=$(cat "$conf/arp_ignore") arp_announce=$(cat "$conf/arp_announce")"
  if [ -s "$state/vips" ]; then
    while read -r vip; do
      if on_lo "$vip"; then echo "$vip on lo"; else echo "$vip MISSING from lo"; fi
    done <"$state/vips"
  else
    echo "no VIPs added by realserver.sh"
  fi
}

[ $# -ge 1 ] || usage
command=$1
shift
case "$command" in
  setup) [ $# -ge 1 ] || usage; setup "$@" ;;
  teardown) [ $# -ge 1 ] || usage; teardown "$@" ;;
  status) status ;;
  *) usage ;;
esac
