#!/usr/bin/env bash
# Runs the fence benchmark (docs/bench-fence.md) on this host and in the test VM (Debian 12's
# kernel), for one build or several side by side, and prints a table of medians per kernel.
#
#   bench/run_fence_bench.sh                            # build/ of this repo, host and VM
#   bench/run_fence_bench.sh --build OLD --build NEW    # two builds, interleaved in each round
#   bench/run_fence_bench.sh --rounds 3 --host-only     # 3 rounds, host only
#   bench/run_fence_bench.sh -- --vips 1,8 --calls 200  # anything after -- goes to the bench
#   bench/run_fence_bench.sh --table-only DIR           # only print the table of an earlier run
#
# Options: --build DIR (repeatable; default $BUILD_DIR or build/), --rounds R (default 1: each
# round runs every build once, in turn, on the host and then all of them in one VM boot),
# --host-only, --vm-only, --results DIR (default build/fence-bench-DATE of the first build).
# The table gives, per kernel, build and N, the median over the rounds of each figure.
# Builds nothing: build quorate-fence-bench first (ninja -C DIR quorate-fence-bench).
# Needs root; the VM needs what tests/vm/run-in-vm.sh needs. Environment: QUORATE_VM_CACHE (the
# VM's kernel cache, default build/vm/kernel of the first build), QUORATE_VM_ACCEL (tcg or kvm).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builds=()
rounds=1
host=1
vm=1
results=
table_only=
extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) builds+=("$2"); shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --host-only) vm=0; shift ;;
    --vm-only) host=0; shift ;;
    --results) results=$2; shift 2 ;;
    --table-only) table_only=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "--rounds: not a positive number: $rounds" >&2; exit 2; }
[[ ${#builds[@]} -gt 0 ]] || builds=("${BUILD_DIR:-$repo/build}")

# The table of the runs in results dir $1 for the build labels $2...: per kernel, build and N, the
# median over rounds of each figure; then the runs that stopped with an error.
print_table() {
  local results=$1 env i f files kernel
  shift
  local labels=("$@")
  echo
  echo "| kernel | build | N | calls | median us | p99 us | CPU median us | CPU mean us | machine CPU us/call | install us | close us |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for env in host vm; do
    for i in "${!labels[@]}"; do
      files=("$results/$env-${labels[$i]}"-*.txt)
      [[ -f ${files[0]} ]] || continue
      kernel=$(sed -n 's/^# quorate-fence-bench: kernel \([^,]*\),.*/\1/p' "${files[0]}" | head -1)
      cat "${files[@]}" | awk -v kernel="$kernel" -v build="${labels[$i]}" '
        function med(list,    n, a, i, j, t) {
          n = split(list, a, " ")
          for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
          return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        /^RESULT / {
          delete f
          for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
          n = f["vips"]
          if (!(n in seen)) { seen[n] = 1; ns[++count] = n }
          for (k in f) v[n, k] = v[n, k] " " f[k]
        }
        END {
          for (c = 1; c <= count; c++) {
            n = ns[c]
            printf "| %s | %s | %d | %s | %.0f | %.0f | %.0f | %.0f | %s | %.0f | %.0f |\n", kernel, build, n,
              med(v[n, "calls"]), med(v[n, "wall_median_us"]), med(v[n, "wall_p99_us"]),
              med(v[n, "cpu_median_us"]), med(v[n, "cpu_mean_us"]), (v[n, "machine_cpu_per_call_us"] ~ /nan/ ? "n/a" : sprintf("%.0f", med(v[n, "machine_cpu_per_call_us"]))),
              med(v[n, "install_us"]), med(v[n, "close_us"])
          }
        }'
    done
  done
  # Runs that stopped with an error (which N, which call, the kernel's errno).
  for f in "$results"/host-*.txt "$results"/vm-*.txt; do
    [[ -f $f ]] || continue
    grep -h 'FAILED' "$f" | sed -E 's/nft arm [^ ]*: /nft arm ...: /; s/\{[^}]*\}/{...}/g' |
      sed "s|^|- $(basename "$f" .txt): |" || true
  done
}

if [[ -n $table_only ]]; then
  [[ -d $table_only ]] || { echo "no results dir $table_only" >&2; exit 2; }
  mapfile -t labels < <(find "$table_only" -maxdepth 1 -name "*.txt" -printf "%f\n" | sed -nE 's/^(host|vm)-(.*)-[0-9]+\.txt$/\2/p' | sort -u)
  print_table "$table_only" "${labels[@]}"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || { echo "needs root (network namespaces, nftables, the VM)" >&2; exit 2; }

# Each build as an absolute path, its binary and a label: the commit its sources are at.
bins=()
labels=()
for i in "${!builds[@]}"; do
  b=$(cd "${builds[$i]}" 2>/dev/null && pwd) || { echo "no build dir ${builds[$i]}" >&2; exit 2; }
  builds[i]=$b
  bin=$b/bin/quorate-fence-bench
  [[ -x $bin ]] || { echo "no $bin: build it first (ninja -C $b quorate-fence-bench)" >&2; exit 2; }
  src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$b/CMakeCache.txt")
  label=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || basename "$b")
  git -C "$src" diff --quiet HEAD -- server 2>/dev/null || label+="+dirty"
  bins+=("$bin")
  labels+=("$label")
done

results=${results:-${builds[0]}/fence-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$results"
results=$(cd "$results" && pwd)
summary=$results/summary.md
{
  echo "# quorate-fence-bench, $(date -Is)"
  echo
  echo "- host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); kernel $(uname -r)"
  for i in "${!bins[@]}"; do echo "- build ${labels[$i]}: ${bins[$i]}"; done
  echo "- bench arguments: ${extra[*]:-(defaults)}; rounds: $rounds"
  echo "- host load before: $(uptime)"
} >"$summary"

# Every run's output goes to <env>-<label>-<round>.txt.
if [[ $host -eq 1 ]]; then
  for r in $(seq 1 "$rounds"); do
    for i in "${!bins[@]}"; do
      echo "host: round $r, ${labels[$i]}" >&2
      # A failing N (the bench stops there) keeps the Ns before it; the others still run.
      "${bins[$i]}" "${extra[@]}" >"$results/host-${labels[$i]}-$r.txt" 2>&1 ||
        echo "exit $?" >>"$results/host-${labels[$i]}-$r.txt"
      cat "$results/host-${labels[$i]}-$r.txt" >&2
    done
  done
fi

vm_status=0
if [[ $vm -eq 1 ]]; then
  commands=$results/vm-commands.txt
  : >"$commands"
  order=()
  for r in $(seq 1 "$rounds"); do
    for i in "${!bins[@]}"; do
      printf '%q ' "${bins[$i]}" "${extra[@]}" >>"$commands"
      echo >>"$commands"
      order+=("${labels[$i]}-$r")
    done
  done
  echo "VM: ${#order[@]} runs in one boot" >&2
  set +e
  QUORATE_VM_CACHE=${QUORATE_VM_CACHE:-${builds[0]}/vm/kernel} \
    "$repo/tests/vm/run-in-vm.sh" --quiet --timeout 7200 --results "$results/vm" \
    --commands "$commands"
  vm_status=$?
  set -e
  for k in "${!order[@]}"; do
    out=$results/vm/$((k + 1)).out
    [[ -f $out ]] && cp "$out" "$results/vm-${order[$k]}.txt" && cat "$out" >&2
  done
fi
echo "- host load after: $(uptime)" >>"$summary"

{
  print_table "$results" "${labels[@]}"
} >>"$summary"
cat "$summary"
echo "results: $results" >&2
if [[ $vm -eq 1 && $vm_status -ne 0 ]]; then
  echo "the VM run failed (run-in-vm.sh exit $vm_status; see $results/vm/console.log)" >&2
  exit 1
fi
