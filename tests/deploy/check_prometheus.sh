#!/bin/bash
# Checks deploy/prometheus with Prometheus' own promtool: the rules load, the example config
# loads, the rules' unit tests pass, and every alert's runbook anchor is a heading of
# docs/alerts.md. Skipped (exit 77) without promtool (Debian: prometheus).
#   check_prometheus.sh [--broken] SOURCE_DIR
# --broken: the control. Each of a few planted mistakes in a temp copy of the rules (a threshold,
# a "for" removed, an aggregation, the arbiter classification) must make `promtool test rules`
# fail; exit 0 when every one was caught.
set -eu
broken=0
if [[ ${1:-} == --broken ]]; then
  broken=1
  shift
fi
if ! command -v promtool >/dev/null; then
  echo "SKIP: promtool is not installed (Debian: prometheus)"
  exit 77
fi
src=$1
dir=$src/deploy/prometheus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ((broken)); then
  # One mistake per line: a sed expression and what it breaks. Each runs on a fresh copy.
  mutants=(
    's/sum by (cluster, lease) (quorate_lease_holder) > 1/sum by (cluster, lease) (quorate_lease_holder) > 2/|TwoHolders threshold > 1 became > 2'
    '/alert: QuorateTwoHolders/,/for:/{/for: 5s/d}|TwoHolders lost its "for" (a handover seen with scrape skew fires)'
    's/max by (cluster, lease) (quorate_lease_holder) == 0/min by (cluster, lease) (quorate_lease_holder) == 0/|NoHolder takes min instead of max (one follower is enough)'
    '/unless on (cluster, peer)/,/"peer", "\$1", "node", "(.+)")/d|ArbiterUnreachable counts a lost director as the arbiter'
    's/min by (cluster) (quorate_arbiter_last_contact_seconds) > 30/max by (cluster) (quorate_arbiter_last_contact_seconds) > 30/|ArbiterUnreachable fires for a quiet standby'
    's/quorate_hook_runs_total{outcome!="ok"}/quorate_hook_runs_total/|HookFailures counts successful runs'
  )
  missed=0
  for m in "${mutants[@]}"; do
    expr=${m%%|*} what=${m#*|}
    cp "$dir/quorate-alerts.yml" "$dir/quorate-alerts.test.yml" "$tmp/"
    sed -i -e "$expr" "$tmp/quorate-alerts.yml"
    if cmp -s "$dir/quorate-alerts.yml" "$tmp/quorate-alerts.yml"; then
      echo "planting failed (the rules no longer contain what the mutant edits): $what"
      exit 1
    fi
    # A mutant must still load: it is caught by what the tests assert, not by a syntax error.
    if ! (cd "$tmp" && promtool check rules quorate-alerts.yml >"$tmp/out" 2>&1); then
      echo "planting made the rules invalid ($what):"
      cat "$tmp/out"
      exit 1
    fi
    if (cd "$tmp" && promtool test rules quorate-alerts.test.yml >"$tmp/out" 2>&1); then
      echo "NOT caught: $what"
      missed=1
    else
      echo "caught: $what"
    fi
  done
  if ((missed)); then
    echo "some planted mistakes passed the unit tests"
    exit 1
  fi
  echo "every planted mistake was caught, as it must be"
  exit 0
fi

(cd "$dir" && promtool check rules quorate-alerts.yml)
# promtool check config also loads the rule files the config names, relative to it.
(cd "$dir" && promtool check config prometheus.yml)
(cd "$dir" && promtool test rules quorate-alerts.test.yml)

# Every alert has a severity and a runbook that names a section of docs/alerts.md.
status=0
alerts=$(sed -n 's/^ *- alert: *//p' "$dir/quorate-alerts.yml")
for a in $alerts; do
  # The alert's lines: from its "- alert:" to the next rule's (or the end of the file).
  block=$(awk -v a="$a" '/^ *- (alert|record):/ { inside = ($3 == a) } inside' \
    "$dir/quorate-alerts.yml")
  grep -Eq 'severity: (critical|warning|info)$' <<<"$block" ||
    { echo "$a: no severity label"; status=1; }
  anchor=$(sed -n 's/^ *runbook: "docs\/alerts.md#\([a-z0-9-]*\)"$/\1/p' <<<"$block")
  if [[ -z $anchor ]]; then
    echo "$a: no runbook annotation pointing into docs/alerts.md"
    status=1
  elif ! sed -n 's/^#\+ //p' "$src/docs/alerts.md" | tr '[:upper:]' '[:lower:]' | tr -cd 'a-z0-9 \n-' |
    tr ' ' '-' | grep -qx "$anchor"; then
    echo "$a: runbook anchor #$anchor is no heading of docs/alerts.md"
    status=1
  fi
done
# The rules and their tests name only agreed metrics: a name misspelt alike in both would pass
# the unit tests and never match a real scrape.
names=$(sed -n 's/^\([a-z_]\+\) .*/\1/p' "$src/docs/metrics-names.txt")
for m in $(grep -oh 'quorate_[a-z_]*' "$dir/quorate-alerts.yml" "$dir/quorate-alerts.test.yml" | sort -u); do
  grep -qx "$m" <<<"$names" || { echo "metric $m is not in docs/metrics-names.txt"; status=1; }
done
# Every alert has a unit test where it fires and one where it stays silent.
while read -r a fires silent; do
  ((fires > 0)) || { echo "$a: no unit test in which it fires"; status=1; }
  ((silent > 0)) || { echo "$a: no unit test in which it stays silent"; status=1; }
done < <(awk -v alerts="$alerts" '
  BEGIN { n = split(alerts, list, /[ \n]+/) }
  /alertname:/ { current = $2 }
  /exp_alerts:/ { if ($0 ~ /\[\]/) silent[current]++; else fires[current]++ }
  END { for (i = 1; i <= n; i++) if (list[i] != "") print list[i], fires[list[i]] + 0, silent[list[i]] + 0 }
' "$dir/quorate-alerts.test.yml")
if ((status == 0)); then
  echo "$(wc -w <<<"$alerts") alerts: each has a severity, a runbook, a test firing it and one not"
fi
exit $status
