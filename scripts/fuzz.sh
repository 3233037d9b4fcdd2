#!/usr/bin/env bash
# Builds the fuzz targets of tests/fuzz with clang's libFuzzer under AddressSanitizer and
# UndefinedBehaviorSanitizer (the sanitizer tree, build-asan/, as scripts/test.sh builds it), and
# runs each for --seconds N (default 60) from the seed corpus in the repo. New inputs go to
# build-asan/corpus/<target>; a crash stops the run with its input in build-asan/crashes/<target>/:
# add it to tests/fuzz/corpus/<target>/ and it becomes a regression test of both builds. Prints
# executions, corpus size and coverage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=60
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N]" >&2; exit 2 ;;
  esac
done
dir=${BUILD_DIR:-$root/build-asan}
BUILD_DIR=$dir BUILD_TARGET=fuzzers "$root/scripts/sanitized-build.sh"

status=0
printf '%-10s %12s %10s %8s %8s\n' target executions exec/s corpus cov
for bin in "$dir"/tests/fuzz/fuzz_*; do
  t=$(basename "$bin"); t=${t#fuzz_}
  mkdir -p "$dir/corpus/$t" "$dir/crashes/$t"
  log="$dir/fuzz-$t.log"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$dir/crashes/$t/" "$dir/corpus/$t" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1; then
    echo "fuzz: $t FAILED: see $log and $dir/crashes/$t/" >&2
    status=1
  fi
  runs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -ao 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
  printf '%-10s %12s %10s %8s %8s\n' "$t" "$runs" "$rate" "$(ls "$dir/corpus/$t" | wc -l)" "$cov"
done
exit $status
