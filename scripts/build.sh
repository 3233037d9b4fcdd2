#!/usr/bin/env bash
# Configures and builds chordnode in a build directory (default: build/). Incremental: a second
# run rebuilds only what changed. Extra arguments go to CMake, e.g. -DCHORD_SANITIZE=address,undefined;
# BUILD_TARGET builds one target instead of all.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BUILD_DIR:-$root/build}
generator=()
command -v ninja >/dev/null && [ ! -f "$dir/Makefile" ] && generator=(-G Ninja)
cmake -S "$root" -B "$dir" "${generator[@]}" -DCHORD_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j "${JOBS:-2}" ${BUILD_TARGET:+--target "$BUILD_TARGET"}
