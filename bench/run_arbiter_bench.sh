#!/usr/bin/env bash
# Builds and runs the arbiter benchmark (docs/bench-arbiter.md): 100, 1000 and 5000 clusters.
#
#   bench/run_arbiter_bench.sh                 # 3 runs each, 3 s warm-up + 20 s window
#   bench/run_arbiter_bench.sh --runs 1 --seconds 10
#   bench/run_arbiter_bench.sh --profile       # also: perf profile of the arbiter at 5000
#   bench/run_arbiter_bench.sh -- --channels 64  # anything after -- goes to the bench
#
# Environment: BUILD_DIR (default build-bench under the repo root).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$repo/build-bench}
runs=3
seconds=20
clusters=100,1000,5000
profile=0
extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --clusters) clusters=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [[ ! -f $build/build.ninja ]]; then
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
ninja -C "$build" quorate-arbiter quorate-bench-arbiter

if [[ $(nproc) -lt 2 ]]; then
  echo "needs 2 CPUs (arbiter on CPU 0, load generator on CPU 1)" >&2
  exit 2
fi

out=$build/bench-arbiter-$(date +%Y%m%d-%H%M%S).md
{
  echo "# quorate-bench-arbiter, $(date -Is)"
  echo
  echo "- CPUs: $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "- kernel: $(uname -r)"
  echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- command: $build/bin/quorate-bench-arbiter --clusters $clusters --runs $runs" \
    "--seconds $seconds ${extra[*]}"
  echo
} | tee "$out"

# Results (markdown) on stdout, progress on stderr; both into the file.
"$build/bin/quorate-bench-arbiter" --clusters "$clusters" --runs "$runs" --seconds "$seconds" \
  "${extra[@]}" 2>&1 | tee -a "$out"
status=${PIPESTATUS[0]}

if [[ $profile -eq 1 ]]; then
  if ! command -v perf >/dev/null; then
    echo "perf not found: no profile" >&2
  else
    data=$build/bench-arbiter.perf.data
    echo | tee -a "$out"
    echo "## perf profile of the arbiter, 5000 clusters, 10 s" | tee -a "$out"
    "$build/bin/quorate-bench-arbiter" --clusters 5000 --runs 1 --seconds 10 \
      --perf-record "$data" --perf-args "-F 999" "${extra[@]}" 2>&1 | tee -a "$out"
    perf report -i "$data" --stdio --no-children --sort dso 2>/dev/null | grep -v '^#' |
      grep -v '^$' | head -20 | tee -a "$out"
    perf report -i "$data" --stdio --no-children --sort dso,sym -g none 2>/dev/null |
      grep -v '^#' | grep -v '^$' | head -40 | tee -a "$out"
  fi
fi
echo "results: $out" >&2
exit "$status"
