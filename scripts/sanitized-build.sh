#!/usr/bin/env bash
# Configures and builds the sanitizer tree (default build-asan/): clang 14 with AddressSanitizer
# and UndefinedBehaviorSanitizer at -O1 (the sanitizers find the same bugs, and the suite runs
# several times faster than at -O0), line tables for their reports, and libFuzzer's coverage so
# that the fuzz targets of tests/fuzz are real fuzzers in the same tree (scripts/fuzz.sh).
# BUILD_TARGET builds one target instead of all. Extra arguments go to CMake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BUILD_DIR:-$root/build-asan}
# A tree configured with another compiler (g++ built it before) cannot be switched in place.
if [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++-14$' "$dir/CMakeCache.txt"; then
  echo "sanitized-build: $dir was configured with another compiler; starting it afresh"
  rm -rf "$dir"
fi
BUILD_DIR=$dir exec "$root/scripts/build.sh" -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCHORD_SANITIZE=address,undefined -DCHORD_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g1 -O1" "$@"
