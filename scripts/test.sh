#!/usr/bin/env bash
# Installs what is missing, builds (warnings are errors) and runs every test, each suite once:
#   build/       gcc with the release flags (the binaries as shipped): the process, model, vm,
#                build (the hardening and systemd-unit checks, the test registry) and resources
#                (peak RSS bounds) suites;
#   build-fuzz   clang with ASan + UBSan: the unit, threads, sim, netns and resources suites;
#   build-tsan   gcc with TSan: the threads suite (scripts/sanitize.sh says which parts).
# netns and vm need root (they skip without it). At the end, one closing line per build.
#
# With arguments: builds build/ and runs ctest there with them, e.g. `-L unit` or `-L sim` (every
# suite is built in build/ too; the sanitized builds are then left alone).
# BUILD_DIR and QUORATE_SANITIZE work as for scripts/build.sh; QUORATE_WERROR=OFF turns
# warnings back into warnings.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
QUORATE_WERROR="${QUORATE_WERROR:-ON}" bash scripts/build.sh
build_dir=${BUILD_DIR:-build}
# Debian's keepalived sample configs for the import test (keepalived's files: fetched, never
# committed). Once per build tree.
if ! compgen -G "$build_dir/keepalived-samples/keepalived.conf.*" >/dev/null; then
  bash scripts/fetch-keepalived-samples.sh "$build_dir/keepalived-samples"
fi
if (($#)); then
  # A build/ made with QUORATE_SANITIZE: a finding fails the test with a stack trace (harmless
  # otherwise). The sanitized trees below get theirs from scripts/sanitize.sh.
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
  export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"
  cd "$build_dir"
  exec ctest --output-on-failure -j "$(nproc)" "$@"
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -j "$(nproc)" \
  -L '^(process|model|vm|build|resources)$' \
  2>&1 | tee "$logs/gcc" || status=1
bash scripts/sanitize.sh asan 2>&1 | tee "$logs/asan" || status=1
bash scripts/sanitize.sh tsan 2>&1 | tee "$logs/tsan" || status=1
echo
echo "== every suite (scripts/test.sh) =="
for s in "gcc:$build_dir (gcc, release flags: process, model, vm, build, resources)" \
  "asan:build-fuzz (clang, ASan + UBSan: unit, threads, sim, netns, resources)" \
  "tsan:build-tsan (gcc, TSan: threads)"; do
  line=$(grep -E 'tests passed|No tests were found' "$logs/${s%%:*}" | tail -1 || true)
  echo "${s#*:}: ${line:-did not run}"
done
exit "$status"
