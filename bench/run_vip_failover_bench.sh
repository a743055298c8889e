#!/usr/bin/env bash
# Builds and runs the VIP failover benchmark (docs/bench-vip-failover.md): quorate against
# keepalived, crash / freeze / planned switchover, as the client's ARP sees it; plots the gaps.
#
#   bench/run_vip_failover_bench.sh                  # 30 trials per scenario and peer (~20 min)
#   bench/run_vip_failover_bench.sh --trials 3       # a quick look
#   bench/run_vip_failover_bench.sh --docs           # also copy the plot to docs/
#   bench/run_vip_failover_bench.sh --plot-only DIR  # only redraw the plot of an earlier run
#   bench/run_vip_failover_bench.sh -- --peers quorate  # anything after -- goes to the bench
#
# Needs root, /usr/sbin/keepalived (Debian's keepalived package) and gnuplot.
# Environment: BUILD_DIR (default build-bench under the repo root).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$repo/build-bench}
trials=30
docs=0
plot_only=
extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --trials) trials=$2; shift 2 ;;
    --docs) docs=1; shift ;;
    --plot-only) plot_only=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

status=0
if [[ -n $plot_only ]]; then
  results=$(cd "$plot_only" && pwd)
else
  cmake -S "$repo" -B "$build" -G Ninja >/dev/null
  ninja -C "$build" -j2 quorate-vip-failover-bench quorate-director quorate-arbiter quoratectl

  results=$build/vip-failover-$(date +%Y%m%d-%H%M%S)
  mkdir -p "$results"
  out=$results/summary.md
  {
    echo "# quorate-vip-failover-bench, $(date -Is)"
    echo
    echo "- CPUs: $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "- kernel: $(uname -r); keepalived: $(/usr/sbin/keepalived --version 2>&1 | head -1)"
    echo "- uptime before: $(uptime)"
    echo "- command: $build/bin/quorate-vip-failover-bench --trials $trials" \
      "--results-dir $results ${extra[*]}"
    echo
  } | tee "$out"

  # Table (markdown) on stdout, progress on stderr; both into the file.
  set +e
  QUORATE_BIN_DIR=$build/bin "$build/bin/quorate-vip-failover-bench" --trials "$trials" \
    --results-dir "$results" "${extra[@]}" 2>&1 | tee -a "$out"
  status=${PIPESTATUS[0]}
  set -e
  { echo; echo "- uptime after: $(uptime)"; } | tee -a "$out"
fi

# Top row: CDF of the failover gap per scenario, quorate against keepalived; a gap <= 0 (the
# new holder answered before the old one stopped: both answered) is drawn at 0.1 ms. Bottom row:
# CDF of the takeover time (fault to the new holder's first reply).
csv=$results/trials.csv
if [[ -s $csv ]] && command -v gnuplot >/dev/null; then
  # $1: CSV column; writes "x F(x)" sorted, starting at F = 0 (an empirical CDF for "with steps").
  ecdf() {
    awk -F, -v p="$2" -v s="$3" -v c="$1" 'NR > 1 && $1 == p && $2 == s && $6 == 1 {
        g = $c + 0; if (g < 0.1) g = 0.1; print g }' "$csv" | sort -g |
      awk '{ x[NR] = $1 } END { if (NR) { print x[1], 0; for (i = 1; i <= NR; i++) print x[i], i / NR } }'
  }
  declare -A plots
  for m in gap:7 takeover:9; do
    for s in crash freeze planned; do
      line=""
      for p in quorate keepalived; do
        f=$results/${m%%:*}-$p-$s.dat
        ecdf "${m##*:}" "$p" "$s" >"$f"
        [[ -s $f ]] || continue
        if [[ $p == quorate ]]; then style='lw 2 lc rgb "#1f77b4" title "quorate"'
        else style='lw 2 lc rgb "#d62728" title "keepalived 2.2.7"'; fi
        line+="${line:+, }\"$f\" using 1:2 with steps $style"
      done
      plots[${m%%:*}-$s]=${line:-NaN notitle}
    done
  done
  gnuplot <<EOF
set terminal pngcairo size 1500,900 font "sans,10"
set output "$results/bench-vip-failover.png"
set multiplot layout 2,3 title "VIP failover seen by the client's ARP prober (5 ms rounds), CDF over trials"
set logscale x
set xrange [0.07:20000]
set yrange [0:1.02]
set grid
set key bottom right
set ylabel "fraction of trials"
set arrow 1 from 1000, graph 0 to 1000, graph 1 nohead dt 2 lw 1.5 lc rgb "gray30"
set arrow 2 from 100, graph 0 to 100, graph 1 nohead dt 2 lw 1.5 lc rgb "gray60"
set xlabel "failover gap, ms (gaps <= 0, both answering, drawn at 0.1)"
set title "(a) SIGKILL + link cut: gap"
plot ${plots[gap-crash]}
set title "(b) SIGSTOP, SIGCONT after takeover: gap"
plot ${plots[gap-freeze]}
set title "(c) planned switchover: gap"
plot ${plots[gap-planned]}
set xlabel "takeover, ms (fault -> first reply of the new holder)"
set title "(a) SIGKILL + link cut: takeover"
plot ${plots[takeover-crash]}
set title "(b) SIGSTOP: takeover"
plot ${plots[takeover-freeze]}
set title "(c) planned switchover: takeover"
plot ${plots[takeover-planned]}
unset multiplot
EOF
  echo "plot: $results/bench-vip-failover.png" >&2
  if [[ $docs -eq 1 ]]; then
    cp "$results/bench-vip-failover.png" "$repo/docs/bench-vip-failover.png"
    echo "copied to $repo/docs/bench-vip-failover.png" >&2
  fi
fi
echo "results: $results" >&2
exit "$status"
