#!/usr/bin/env bash
# The sanitizer suites (scripts/test.sh and so CI run both; docs/fuzzing.md, "The sanitizer
# suites"):
#
#   asan   the unit, threads, sim, netns and resources suites under ASan + UBSan, built by clang-14
#          in build-fuzz: the fuzz targets' tree, where every library is already compiled with
#          both sanitizers (and libFuzzer's coverage hooks, which only cost time), so only the
#          tests are added.
#   tsan   the daemons' threaded code under TSan, built by gcc in build-tsan: the tests labelled
#          threads (the lease host, the arbiter's service, the event log's writer thread, the
#          watchdog, the status builder) except those that run real gRPC servers (over_grpc
#          below: Debian's gRPC is not built with TSan, which then reports its internals).
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
# What makes a report fail its test is appended to whatever the environment holds: a sanitizer
# takes the last value of an option, so an inherited exitcode=0 or halt_on_error=0 cannot quiet it.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
asan=detect_leaks=1:detect_stack_use_after_return=1:halt_on_error=1:exitcode=1
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}$asan"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}halt_on_error=1:second_deadlock_stack=1:exitcode=66"

# Under TSan, the tests that run real gRPC servers and channels: Debian's gRPC and abseil are not
# built with TSan, so the locks and atomics they hand work between threads with are invisible to
# it, and it reports their own accesses and those of grpcpp's inlined callback code as races
# (docs/fuzzing.md, "The sanitizer suites": 68 of 68 reports of a first run were inside them, and
# so was each report after ignore_noninstrumented_modules and top-frame suppressions). Those tests
# run under ASan + UBSan; TSan runs the rest of the threads suite.
over_grpc='^(DirectorTest|DirectorChecksTest|DirectorDrainTest|DirectorGroup|OperatorListenerTest|DaemonEvents|DaemonReloadTest|DaemonVipReloadTest)\.'

# ninja in DIR, quiet unless it fails (then the end of its output says why).
build() {
  local dir=$1
  shift
  if ! ninja -C "$dir" -j"$jobs" "$@" >"$dir/sanitize-build.log" 2>&1; then
    tail -60 "$dir/sanitize-build.log" >&2
    echo "sanitize.sh: the build in $dir failed (all of it: $dir/sanitize-build.log)" >&2
    exit 1
  fi
}

run_asan() {
  command -v clang++-14 >/dev/null || { echo "sanitize.sh: clang++-14 missing (scripts/install-deps.sh)" >&2; exit 1; }
  local dir=$root/build-fuzz
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-14 -DQUORATE_FUZZ=ON "${launcher[@]}" >/dev/null
  # The suites' binaries and the daemons the netns suite starts (tests_<label>: tests/CMakeLists).
  echo "sanitize.sh asan: building the unit, threads, sim, netns and resources suites in $dir"
  build "$dir" tests_unit tests_threads tests_sim tests_netns tests_resources
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" \
    -L '^(unit|threads|sim|netns|resources)$' "$@"
}

run_tsan() {
  local dir=$root/build-tsan
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQUORATE_SANITIZE=thread \
    "${launcher[@]}" >/dev/null
  # The tests labelled threads (quorate_add_test): code whose threads share state.
  echo "sanitize.sh tsan: building the tests labelled threads in $dir"
  build "$dir" tests_threads
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" -L '^threads$' \
    -E "$over_grpc" "$@"
}

for s in "${suites[@]}"; do
  case $s in
    asan) run_asan "$@" ;;
    tsan) run_tsan "$@" ;;
    *) echo "sanitize.sh: no suite $s (asan, tsan)" >&2; exit 2 ;;
  esac
done
