#!/usr/bin/env bash
# Runs the IPVS programming benchmark (docs/bench-ipvs.md) in the test VM: quorate's reconciler
# against `ipvsadm -R`, 1,000 services x 10 real servers, in one boot; prints its output and,
# with gnuplot, draws the samples.
#
#   bench/run_ipvs_bench.sh                      # 10 interleaved trials
#   bench/run_ipvs_bench.sh --trials 3           # a quick look
#   bench/run_ipvs_bench.sh --docs               # also copy the plot to docs/bench-ipvs.png
#   bench/run_ipvs_bench.sh --plot-only DIR      # only redraw the plot of an earlier run
#   bench/run_ipvs_bench.sh -- --services 2000   # anything after -- goes to the bench
#
# Builds nothing: build quorate_ipvs_bench first (ninja -C "$BUILD_DIR" quorate_ipvs_bench).
# Needs what tests/vm/run-in-vm.sh needs (root, qemu-system-x86_64, busybox-static) and ipvsadm
# on this host (the guest runs the host's binaries).
# Environment: BUILD_DIR (default build under the repo root); QUORATE_VM_CACHE (the kernel cache,
# default $BUILD_DIR/vm/kernel); QUORATE_VM_ACCEL (tcg or kvm, as run-in-vm.sh).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
[[ $build == /* ]] || build=$PWD/$build
trials=10
docs=0
plot_only=
results=
extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --trials) trials=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --docs) docs=1; shift ;;
    --plot-only) plot_only=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

status=0
if [[ -n $plot_only ]]; then
  results=$(cd "$plot_only" && pwd)
else
  bin=$build/bin/quorate_ipvs_bench
  [[ -x $bin ]] || { echo "no $bin: build it first (ninja -C $build quorate_ipvs_bench)" >&2; exit 2; }
  [[ -x /usr/sbin/ipvsadm ]] || { echo "no /usr/sbin/ipvsadm on this host (apt-get install ipvsadm)" >&2; exit 2; }
  results=${results:-$build/ipvs-bench-$(date +%Y%m%d-%H%M%S)}
  mkdir -p "$results"
  results=$(cd "$results" && pwd)
  # The VM's results directory is emptied by run-in-vm.sh; the bench writes its CSV into it.
  vm=$results/vm
  {
    echo "# quorate_ipvs_bench, $(date -Is)"
    echo
    echo "- host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); kernel $(uname -r)"
    echo "- guest: qemu ${QUORATE_VM_ACCEL:-tcg}, 2 vCPUs, 2048 MB; ipvsadm $(dpkg-query -W -f '${Version}' ipvsadm 2>/dev/null)"
    echo "- command: $bin --trials $trials --csv $vm/samples.csv ${extra[*]}"
    echo "- host load before: $(uptime)"
    echo
  } >"$results/summary.md"
  set +e
  QUORATE_VM_CACHE=${QUORATE_VM_CACHE:-$build/vm/kernel} \
    "$repo/tests/vm/run-in-vm.sh" --quiet --timeout 3600 --results "$vm" -- \
    "$bin" --trials "$trials" --csv "$vm/samples.csv" "${extra[@]}"
  status=$?
  set -e
  [[ -f $vm/1.out ]] && cat "$vm/1.out" >>"$results/summary.md"
  { echo; echo "- host load after: $(uptime)"; } >>"$results/summary.md"
  cat "$results/summary.md"
  [[ -f $vm/samples.csv ]] && cp "$vm/samples.csv" "$results/samples.csv"
fi

# Every sample of the main measurements (log scale), one column per measurement, the median as
# a bar; for quorate's calls the darker inner bar is the median time inside Ipvs::dump/apply
# (netlink and the kernel), the rest is the process's own work. Goal lines: the median of
# ipvsadm -R's full load, and 2% of the median of quorate's.
csv=$results/samples.csv
if [[ -s $csv ]] && command -v gnuplot >/dev/null; then
  ids=(r_full q_full r_reload q_full_flushed r_delta q_sync q_update q_noop q_dump r_start)
  labels=("ipvsadm -R\nfull" "quorate sync\nfull" "ipvsadm -C\n+ -R full" "quorate sync full\nafter -C" "ipvsadm -R\n1%% lines"
    "quorate sync\n1%%" "quorate update\n1%%" "quorate update\nno-op" "quorate dump\nfull" "ipvsadm\nstart")
  declare -A kernel_parts=([q_full]=q_full_kernel [q_sync]="q_sync_dump q_sync_apply"
    [q_update]=q_update_kernel [q_dump]=q_dump)
  # Median over trials of the sum of the given measurements ($1: space-separated ids).
  median_of() {
    awk -F, -v ids="$1" 'BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
      NR > 1 && ($2 in want) { sum[$1] += $3 } END { for (t in sum) print sum[t] }' "$csv" | sort -g |
      awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
  }
  : >"$results/points.dat"
  : >"$results/medians.dat"
  : >"$results/kernel.dat"
  xtics=""
  for i in "${!ids[@]}"; do
    id=${ids[$i]}
    awk -F, -v id="$id" -v x="$i" 'NR > 1 && $2 == id { print x + (($1 % 7) - 3) * 0.04, $3 }' \
      "$csv" >>"$results/points.dat"
    m=$(median_of "$id")
    [[ -n $m ]] && echo "$i $m" >>"$results/medians.dat"
    if [[ -n ${kernel_parts[$id]:-} ]]; then
      k=$(median_of "${kernel_parts[$id]}")
      [[ -n $k ]] && echo "$i $k" >>"$results/kernel.dat"
    fi
    xtics+="${xtics:+, }\"${labels[$i]}\" $i"
  done
  rfull=$(awk '$1 == 0 { print $2 }' "$results/medians.dat")
  qfull=$(awk '$1 == 1 { print $2 }' "$results/medians.dat")
  gnuplot <<EOF
set terminal pngcairo size 1200,650 font "sans,10"
set output "$results/bench-ipvs.png"
set title "Programming IPVS, 1,000 services x 10 real servers, Debian 12 kernel in a qemu TCG guest\n(each dot a trial, bar the median; dark inner bar: inside dump/apply, i.e. netlink and the kernel)"
set logscale y
set ylabel "ms (log scale)"
set grid ytics
set xtics ($xtics) scale 0
set bmargin 4
set yrange [1:400000]
set xrange [-0.6:${#ids[@]}-0.4]
set boxwidth 0.6
set style fill solid 0.3 border
set key top right
plot "$results/medians.dat" using 1:2 with boxes lc rgb "#1f77b4" title "median", \
     "$results/kernel.dat" using 1:2:(0.3) with boxes fs solid 0.8 lc rgb "#1f4e79" title "of which dump/apply", \
     "$results/points.dat" using 1:2 with points pt 7 ps 0.6 lc rgb "#d62728" title "trial", \
     $rfull with lines dt 2 lw 1.5 lc rgb "gray30" title "ipvsadm -R full (goal: quorate full <= this)", \
     0.02 * $qfull with lines dt 2 lw 1.5 lc rgb "#2ca02c" title "2% of quorate full (goal: 1% update < this)"
EOF
  echo "plot: $results/bench-ipvs.png" >&2
  if [[ $docs -eq 1 ]]; then
    cp "$results/bench-ipvs.png" "$repo/docs/bench-ipvs.png"
    echo "copied to $repo/docs/bench-ipvs.png" >&2
  fi
fi
echo "results: $results" >&2
exit "$status"
