#!/usr/bin/env bash
# Installs what is missing, builds (warnings are errors), and runs every test (unit, sim,
# process, netns; netns needs root). Extra arguments go to ctest, e.g. -L unit.
# BUILD_DIR and QUORATE_SANITIZE work as for scripts/build.sh; QUORATE_WERROR=OFF turns
# warnings back into warnings.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
QUORATE_WERROR="${QUORATE_WERROR:-ON}" bash scripts/build.sh
# Sanitized builds: a finding fails the test with a stack trace (harmless otherwise).
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
