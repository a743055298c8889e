#!/usr/bin/env bash
# Configures and builds quorate into build/ (binaries in build/bin).
#
# Environment (all optional):
#   BUILD_TYPE=RelWithDebInfo   CMake build type
#   BUILD_DIR=build             build directory (one per configuration)
#   QUORATE_WERROR=OFF          ON: compiler warnings are errors (CI)
#   QUORATE_SANITIZE=           address,undefined or thread; e.g.
#     QUORATE_SANITIZE=address,undefined BUILD_DIR=build-asan bash scripts/build.sh
# Extra arguments go to ninja (targets, -j).
set -euo pipefail
cd "$(dirname "$0")/.."
args=(
  -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
  -DQUORATE_WERROR="${QUORATE_WERROR:-OFF}"
  -DQUORATE_SANITIZE="${QUORATE_SANITIZE:-}"
)
if command -v ccache >/dev/null; then
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "${BUILD_DIR:-build}" -G Ninja "${args[@]}" >/dev/null
ninja -C "${BUILD_DIR:-build}" "$@"
