#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test: once in a normal build (g++) and
# once under AddressSanitizer + UndefinedBehaviorSanitizer (clang, scripts/sanitized-build.sh),
# where each fuzz target also runs for a short while. --quick skips the sanitizer build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --tests

quick=0
[ "${1:-}" = "--quick" ] && quick=1

run_tests() {
  echo "== test $(basename "$1")"
  (cd "$1" && ctest --output-on-failure -j "${JOBS:-2}" --timeout 900)
}

# The AMQP tests talk to a real broker on 127.0.0.1; stop it afterwards if this script started it.
"$root/scripts/rabbitmq.sh" start
asan_build=
asan_log=$(mktemp)
cleanup() {
  [ -n "$asan_build" ] && kill -- "-$asan_build" 2>/dev/null || true
  rm -f "$asan_log"
  "$root/scripts/rabbitmq.sh" stop
}
trap cleanup EXIT

echo "== build build"
BUILD_DIR="$root/build" "$root/scripts/build.sh"

if [ $quick -eq 0 ]; then
  # The normal tests leave a quarter to a half of the CPU idle (they wait on rings, deadlines and
  # the broker): the sanitizer tree builds meanwhile at the lowest priority, so that it takes only
  # what they leave. Its own process group, so that an early exit stops the whole build.
  echo "== build build-asan (in the background, at nice 19, while the normal tests run)"
  set -m
  BUILD_DIR="$root/build-asan" nice -n 19 "$root/scripts/sanitized-build.sh" >"$asan_log" 2>&1 &
  asan_build=$!
  set +m
fi

run_tests "$root/build"

if [ $quick -eq 0 ]; then
  status=0
  wait "$asan_build" || status=$?
  asan_build=
  echo "== build build-asan (its output)"
  cat "$asan_log"
  [ $status -eq 0 ] || { echo "the sanitizer build failed ($status)" >&2; exit $status; }
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_tests "$root/build-asan"
fi
