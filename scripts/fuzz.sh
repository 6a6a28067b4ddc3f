#!/usr/bin/env bash
# Builds the fuzz preset (clang-15, libFuzzer, ASan + UBSan; see CMakePresets.json) and runs every
# fuzz target (tests/fuzz/fuzz_*.cpp) for a bounded time, one after the other.
#
#   scripts/fuzz.sh [SECONDS] [fuzz_name...]   SECONDS per target (default 600); all targets, or
#                                               those named
#   scripts/fuzz.sh --ci [fuzz_name...]         20 s per target (what scripts/test.sh runs)
#
# Each target runs on a copy of its seed corpus (tests/fuzz/corpus/<name>/), so the inputs the
# fuzzer adds never pollute the committed seeds; the copies, the logs and any crash input are
# kept under build-fuzz/fuzz-runs/<name>/. Prints one line per target (executions, rate, crashes
# and where the crash input was saved) and exits non-zero if any target crashed or did not run.
# A crash input becomes a seed of its target (a regression test that ctest replays) once fixed.
# Long runs belong under `nice -n 19` on a shared machine.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=600
if [ "${1:-}" = "--ci" ]; then
  seconds=${SIG_FUZZ_CI_SECONDS:-20}
  shift
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.cpp; do
    targets+=("$(basename "$src" .cpp)")
  done
fi

cmake --preset fuzz >/dev/null || exit 1
cmake --build --preset fuzz -j "$(nproc)" --target "${targets[@]}" || exit 1

# Symbolized stacks in the crash reports (libFuzzer's sanitizers look for llvm-symbolizer).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v llvm-symbolizer >/dev/null 2>&1; then
  export ASAN_SYMBOLIZER_PATH
  ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

stat_of() {  # stat_of NAME LOG: the value of libFuzzer's final "stat::NAME:" line
  sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

failed=0
summary=()
for t in "${targets[@]}"; do
  run_dir=build-fuzz/fuzz-runs/$t
  rm -rf "$run_dir"
  mkdir -p "$run_dir/corpus"
  [ -d "tests/fuzz/corpus/$t" ] && cp -R "tests/fuzz/corpus/$t/." "$run_dir/corpus/"
  dict=()
  [ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
  echo "=== $t: ${seconds} s"
  "build-fuzz/$t" "$run_dir/corpus" "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$run_dir/" >"$run_dir/log" 2>&1
  rc=$?
  execs=$(stat_of number_of_executed_units "$run_dir/log")
  rate=$(stat_of average_exec_per_sec "$run_dir/log")
  # crash-*, leak-*, timeout-*, oom-*: every input libFuzzer saved as a failure.
  mapfile -t found < <(find "$run_dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o \
    -name 'timeout-*' -o -name 'oom-*' \) | sort)
  line="$t: ${execs:-?} executions (${rate:-?}/s), ${#found[@]} crashes"
  if [ ${#found[@]} -gt 0 ]; then
    line+=", saved in ${found[*]}"
  fi
  if [ "$rc" -ne 0 ] || [ ${#found[@]} -gt 0 ]; then
    failed=1
    line+=" (exit $rc; log $run_dir/log)"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$run_dir/log" | head -n 5
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "=== fuzz summary (${seconds} s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
