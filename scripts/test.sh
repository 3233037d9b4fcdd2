#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test: once in a normal build (g++) and
# once under AddressSanitizer + UndefinedBehaviorSanitizer (clang, scripts/sanitized-build.sh),
# where each fuzz target also runs for a short while. --quick skips the sanitizer build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --tests

quick=0
[ "${1:-}" = "--quick" ] && quick=1

run_suite() {
  local dir=$1 builder=$2
  echo "== build $(basename "$dir")"
  BUILD_DIR=$dir "$root/scripts/$builder"
  echo "== test $(basename "$dir")"
  (cd "$dir" && ctest --output-on-failure -j "${JOBS:-2}" --timeout 900)
}

# The AMQP tests talk to a real broker on 127.0.0.1; stop it afterwards if this script started it.
"$root/scripts/rabbitmq.sh" start
trap '"$root/scripts/rabbitmq.sh" stop' EXIT

run_suite "$root/build" build.sh
if [ $quick -eq 0 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite "$root/build-asan" sanitized-build.sh
fi
