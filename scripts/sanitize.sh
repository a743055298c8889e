#!/usr/bin/env bash
# The sanitizer suites (CI runs both; docs/security.md, "Fuzzing and sanitizers"):
#
#   asan   the unit, sim and netns suites under ASan + UBSan, built by clang-14 in build-fuzz:
#          the fuzz targets' tree, where every library is already compiled with both sanitizers
#          (and libFuzzer's coverage hooks, which only cost time), so only the tests are added.
#   tsan   the daemons' threaded code under TSan, built by gcc in build-tsan: the tests labelled
#          threads, i.e. the in-process director (its loop, checks and gRPC threads, the operator
#          listener, the status cache), the arbiter's service, the event log's writer and the
#          clients against live servers.
#
#   bash scripts/sanitize.sh              both
#   bash scripts/sanitize.sh asan         one of them; extra arguments after it go to ctest
#
# A finding fails its test: UBSan and TSan halt on the first report, ASan always does, LeakSanitizer
# reports at exit. netns tests need root (they skip without it, as in the main suite).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
suites=(asan tsan)
if (($#)); then
  suites=("$1")
  shift
fi
jobs=$(nproc)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

# The gtest binaries (and what they start) behind the tests with one of LABELS in build DIR.
binaries_for() {
  local dir=$1 labels=$2
  ctest --test-dir "$dir" --show-only=json-v1 -L "$labels" | python3 -c '
import json, os, sys
names = set()
for t in json.load(sys.stdin)["tests"]:
    cmd = t.get("command") or []
    if cmd and "/bin/" in cmd[0]:
        names.add(os.path.basename(cmd[0]))
print(" ".join(sorted(names)))'
}

run_asan() {
  command -v clang++-14 >/dev/null || { echo "sanitize.sh: clang++-14 missing (scripts/install-deps.sh)" >&2; exit 1; }
  local dir=$root/build-fuzz
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-14 -DQUORATE_FUZZ=ON "${launcher[@]}" >/dev/null
  # The daemons too: the netns suite starts them.
  local targets
  targets="$(binaries_for "$dir" 'unit|sim|netns') quorate-director quorate-arbiter quoratectl"
  echo "sanitize.sh asan: building $(wc -w <<<"$targets") targets in $dir"
  # shellcheck disable=SC2086  # a list of target names
  ninja -C "$dir" -j"$jobs" $targets >/dev/null
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" -L 'unit|sim|netns' -LE 'fuzz' "$@"
}

run_tsan() {
  local dir=$root/build-tsan
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQUORATE_SANITIZE=thread \
    "${launcher[@]}" >/dev/null
  # The tests labelled threads (quorate_add_test): code whose threads share state.
  local targets
  targets=$(binaries_for "$dir" threads)
  echo "sanitize.sh tsan: building $targets in $dir"
  # shellcheck disable=SC2086  # a list of target names
  ninja -C "$dir" -j"$jobs" $targets >/dev/null
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" -L threads "$@"
}

for s in "${suites[@]}"; do
  case $s in
    asan) run_asan "$@" ;;
    tsan) run_tsan "$@" ;;
    *) echo "sanitize.sh: no suite $s (asan, tsan)" >&2; exit 2 ;;
  esac
done
