#!/usr/bin/env bash
# Builds and runs the randomized fault soak of the real daemons (docs/soak.md) and writes its
# report: faults per kind, split-brain windows, longest holderless stretch, seed, fault log.
#
#   bench/run_soak.sh                         # 30 minutes, a fresh seed
#   bench/run_soak.sh --minutes 5 --seed 42   # shorter, or a replay of a seed
#   bench/run_soak.sh -- --kinds freeze,kill  # anything after -- goes to quorate-netns-soak
#
# Needs root (network namespaces, nftables). Environment: BUILD_DIR (default build under the
# repo root). The report goes to $BUILD_DIR/soak-<date>/report.md, the console log beside it;
# the exit status is the soak's (0: no split brain, a holder after the heal, no daemon died
# by itself).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
minutes=30
seed=
extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ $minutes =~ ^[0-9]+$ ]] || ((minutes < 1)); then
  echo "--minutes wants a whole number >= 1, not \"$minutes\"" >&2
  exit 2
fi

cmake -S "$repo" -B "$build" -G Ninja >/dev/null
nice -n 5 ninja -C "$build" -j2 quorate-netns-soak quorate-director quorate-arbiter quoratectl

results=$build/soak-$(date +%Y%m%d-%H%M%S)
mkdir -p "$results"
args=(--duration $((minutes * 60)) --report "$results/report.md.part")
[[ -n $seed ]] && args+=(--seed "$seed")
args+=("${extra[@]}")

set +e
QUORATE_BIN_DIR=$build/bin "$build/bin/quorate-netns-soak" "${args[@]}" >"$results/console.log" 2>&1
status=$?
set -e

{
  echo "# quorate fault soak, $(date -Is)"
  echo
  echo "- commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- CPUs: $(nproc); kernel: $(uname -r); load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- command: quorate-netns-soak ${args[*]}"
  echo "- exit status: $status"
  echo
  if [[ -f $results/report.md.part ]]; then
    cat "$results/report.md.part"
  else
    echo "No report: the soak did not finish; the end of its console log:"
    echo '```'
    tail -40 "$results/console.log"
    echo '```'
  fi
} >"$results/report.md"
rm -f "$results/report.md.part"
echo "report: $results/report.md"
sed -n '/^| | |/,/^$/p' "$results/report.md"
exit $status
