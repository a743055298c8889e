#!/bin/bash
# Builds the Debian package quorate_VERSION_ARCH.deb into build/ (cmake/Packaging.cmake): only the
# targets it holds, then cpack. Run from anywhere; configures build/ first when it is not yet.
#   bash scripts/package.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [[ ! -f $build/CPackConfig.cmake ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j "${QUORATE_JOBS:-2}" \
  --target quorate-director quorate-arbiter quoratectl quorate_man
(cd "$build" && cpack --config CPackConfig.cmake -B "$build")
ls "$build"/quorate_*.deb
