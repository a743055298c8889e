#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan, in build-fuzz) and runs each for a while
# on its seed corpus, printing per target: executions, exec/s, coverage, corpus size, crashes.
#
#   bash scripts/fuzz.sh                     every target, 15 s each (CI's short run)
#   bash scripts/fuzz.sh --long 300          every target, 300 s each (docs/fuzzing.md's run)
#   bash scripts/fuzz.sh --seconds 60 dns    one target, 60 s
#   options: --no-build (use what build-fuzz has), --build-dir DIR
#
# Exits non-zero when any target crashed, leaked or hit a sanitizer report; the input that did it
# is in <build dir>/fuzz-artifacts/<target>/ (replay: <build dir>/bin/<target>_fuzz FILE). New
# inputs the fuzzer found go to <build dir>/fuzz-corpus/<target>/, never into the committed seeds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=15
build=1
build_dir=$root/build-fuzz
targets=()
while (($#)); do
  case $1 in
    --long) seconds=${2:?--long needs seconds}; shift 2 ;;
    --seconds) seconds=${2:?--seconds needs seconds}; shift 2 ;;
    --no-build) build=0; shift ;;
    --build-dir) build_dir=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

# The longest input worth trying per target: a little above the largest meaningful input (a full
# director config, a datagram of netlink messages, a DNS reply over UDP, an HTTP reply with a body).
declare -A max_len=(
  [director_config]=8192 [arbiter_config]=2048 [convert]=1024 [arbiter_exchange]=4096
  [netlink]=4096 [http]=4096 [dns]=1024 [smtp]=512 [state_file]=512 [crash_canary]=64
  [keepalived_import]=8192
)
all=(director_config arbiter_config convert arbiter_exchange netlink http dns smtp state_file
  keepalived_import)
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ -n ${max_len[$t]:-} ]] || { echo "fuzz.sh: no target $t (${all[*]})" >&2; exit 2; }
done

if ((build)); then
  command -v clang++-14 >/dev/null || { echo "fuzz.sh: clang++-14 missing (scripts/install-deps.sh)" >&2; exit 1; }
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root} cmake -S "$root" -B "$build_dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 -DQUORATE_FUZZ=ON \
    "${launcher[@]}" >/dev/null
  CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root} ninja -C "$build_dir" -j"${FUZZ_JOBS:-2}" \
    "${targets[@]/%/_fuzz}" >/dev/null
fi

# Files the targets write (state files, the arbiter's state) go to memory when it can.
[[ -d /dev/shm && -w /dev/shm ]] && export TMPDIR=${TMPDIR:-/dev/shm}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# CPU seconds the shell's children used so far (user + system), from bash's `times`: on a shared
# machine executions per CPU second say more than executions per wall second.
# Not in a command substitution: a subshell's `times` does not see the shell's children.
times_file=$(mktemp)
trap 'rm -f "$times_file" "$times_file".*' EXIT
children_cpu() {
  times >"$times_file"
  tail -1 "$times_file" |
    awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); s += p[1] * 60 + p[2] } printf "%.1f", s }'
}

failed=0
printf '%-17s %10s %8s %7s %9s %6s %6s %7s %8s %s\n' target execs exec/s cpu_s exec/cpu_s cov ft \
  corpus crashes result
for t in "${targets[@]}"; do
  bin=$build_dir/bin/${t}_fuzz
  [[ -x $bin ]] || { echo "fuzz.sh: $bin not built" >&2; exit 1; }
  work=$build_dir/fuzz-corpus/$t
  artifacts=$build_dir/fuzz-artifacts/$t
  log=$build_dir/fuzz-logs/$t.log
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  before=$(find "$artifacts" -type f | wc -l)
  children_cpu >"$times_file.before"
  cpu_before=$(cat "$times_file.before")
  rc=0
  # One process, stopping at the first crash; -timeout: a single input running longer is a hang.
  "$bin" "$work" "$root/tests/fuzz/corpus/$t" -max_total_time="$seconds" -max_len="${max_len[$t]}" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    >"$log" 2>&1 || rc=$?
  children_cpu >"$times_file.after"
  cpu=$(awk -v a="$(cat "$times_file.after")" -v b="$cpu_before" 'BEGIN { printf "%.1f", a - b }')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(sed -n 's/.*corp: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(($(find "$artifacts" -type f | wc -l) - before))
  if ((rc != 0)); then
    failed=1
    result="FAILED (exit $rc; log $log)"
  else
    result=ok
  fi
  per_cpu=$(awk -v e="${execs:-0}" -v c="$cpu" 'BEGIN { printf "%d", (c > 0 ? e / c : 0) }')
  printf '%-17s %10s %8s %7s %9s %6s %6s %7s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$cpu" \
    "$per_cpu" "${cov:-?}" "${ft:-?}" "${corpus:-?}" "$crashes" "$result"
  if ((rc != 0)); then
    grep -E 'ERROR: |fuzz finding|runtime error|SUMMARY' "$log" | head -5 | sed 's/^/    /'
  fi
done
exit $failed
