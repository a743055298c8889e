#!/bin/bash
# Runs systemd-analyze verify on the units of deploy/systemd, with their ExecStart pointed at the
# built binaries (verify checks that the program exists). Skipped (exit 77) without systemd.
#   verify_units.sh [--broken] UNIT_DIR DIRECTOR_BINARY ARBITER_BINARY
# Then each unit must carry the settings the daemons and the package rely on (Type=notify with a
# watchdog, reload by SIGHUP, the director's file limit, the arbiter's user and state directory).
# --broken: the control; a misspelt setting is planted in each unit, and verify must report it,
# and WatchdogSec= is dropped from each, and the settings check must report that (exit 0 when all
# four reports came).
set -eu
broken=0
if [[ ${1:-} == --broken ]]; then
  broken=1
  shift
fi
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (Debian: systemd)"
  exit 77
fi
units=$1 director=$2 arbiter=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#/usr/sbin/quorate-director#$director#" "$units/quorate-director.service" \
  >"$tmp/quorate-director.service"
sed "s#/usr/sbin/quorate-arbiter#$arbiter#" "$units/quorate-arbiter.service" \
  >"$tmp/quorate-arbiter.service"
grep -q "ExecStart=$director " "$tmp/quorate-director.service"
grep -q "ExecStart=$arbiter " "$tmp/quorate-arbiter.service"
if ((broken)); then
  sed -i 's/^ProtectSystem=strict$/ProtectSystem=stricter/' "$tmp"/quorate-*.service
  grep -q '^ProtectSystem=stricter$' "$tmp/quorate-director.service"
  grep -q '^ProtectSystem=stricter$' "$tmp/quorate-arbiter.service"
  sed -i '/^WatchdogSec=/d' "$tmp"/quorate-*.service
fi
# unit -> the lines it must have, one per line.
declare -A required
common=$'Type=notify\nNotifyAccess=main\nWatchdogSec=10s\nExecReload=/bin/kill -HUP $MAINPID'
required[quorate-director.service]="$common"$'\nLimitNOFILE=65536'
required[quorate-arbiter.service]="$common"$'\nUser=quorate\nStateDirectory=quorate-arbiter'
status=0
declare -i watchdog_reported=0
for unit in quorate-director.service quorate-arbiter.service; do
  # Any line of output is a finding: verify exits 0 on some warnings.
  out=$(cd "$tmp" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "./$unit" 2>&1) ||
    status=1
  if ((broken)) && ! grep -q stricter <<<"$out"; then
    echo "$unit: the planted ProtectSystem=stricter was not reported"
    exit 1
  fi
  if [[ -n $out ]]; then
    echo "$unit:"
    echo "$out"
    status=1
  else
    echo "$unit: verified"
  fi
  while IFS= read -r line; do
    if ! grep -qxF -- "$line" "$tmp/$unit"; then
      echo "$unit: lacks $line"
      status=1
      if [[ $line == WatchdogSec=10s ]]; then watchdog_reported+=1; fi
    fi
  done <<<"${required[$unit]}"
done
if ((broken && watchdog_reported != 2)); then
  echo "the dropped WatchdogSec= was not reported for both units"
  exit 1
fi
if ((broken)); then
  if ((status == 0)); then
    echo "the planted mistakes were not reported"
    exit 1
  fi
  echo "the planted mistakes were reported, as they must be"
  exit 0
fi
exit $status
