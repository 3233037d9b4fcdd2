#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test: once in a normal build and once
# under AddressSanitizer + UndefinedBehaviorSanitizer, then each fuzz target for a short run
# (scripts/fuzz.sh). --quick skips the sanitizer build and the fuzzing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --tests

quick=0
[ "${1:-}" = "--quick" ] && quick=1

run_suite() {
  local dir=$1; shift
  echo "== build $(basename "$dir") $*"
  BUILD_DIR=$dir "$root/scripts/build.sh" "$@"
  echo "== test $(basename "$dir")"
  (cd "$dir" && ctest --output-on-failure -j "${JOBS:-2}" --timeout 900)
}

# The AMQP tests talk to a real broker on 127.0.0.1; stop it afterwards if this script started it.
"$root/scripts/rabbitmq.sh" start
trap '"$root/scripts/rabbitmq.sh" stop' EXIT

run_suite "$root/build"
if [ $quick -eq 0 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # -O1: the sanitizers find the same bugs, and the suite runs several times faster than at -O0;
  # -g1: line tables are all their reports need.
  run_suite "$root/build-asan" -DCHORD_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g1 -O1"
  echo "== fuzz, ${FUZZ_SECONDS:-10} s a target"
  "$root/scripts/fuzz.sh" --seconds "${FUZZ_SECONDS:-10}"
fi
