#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test:
#   1. release build: unit tests and fuzz-corpus replays (ctest), integration tests (Node, real
#      binary), media continuity (real WebRTC peers; release only), browser tests (Debian's
#      Chromium), load-tool smoke;
#   2. libFuzzer build (clang-15): every fuzz target for 20 s on a copy of its seeds;
#   3. AddressSanitizer + UBSan build: unit tests and integration tests again;
#   4. ThreadSanitizer build: unit tests and integration tests again.
# Every step runs even when an earlier one failed; the exit code is non-zero if any failed.
# SIG_SKIP_ASAN=1, SIG_SKIP_TSAN=1, SIG_SKIP_FUZZ=1 or SIG_SKIP_BROWSER=1 leave those parts out
# (for a quick local run).
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh || exit 1

# One integration file at a time (each starts its own servers). Node 20 has the flag; Debian's
# Node 18, installed where the machine has none, does not, so it is passed only where it exists.
node_serial=()
node --test --test-concurrency=1 --help >/dev/null 2>&1 && node_serial=(--test-concurrency=1)

passed=0
failed=0
failures=()
durations=()
step() {
  local name=$1
  shift
  echo
  echo "=== ${name}"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== FAILED: ${name}"
  fi
  durations+=("$((SECONDS - start)) s  ${name}")
}

step "build (release)" scripts/build.sh release
step "unit tests (release)" ctest --preset release -j 2
step "integration tests (release)" env SIGNALING_BIN="$PWD/build/signaling-server" \
  node --test "${node_serial[@]}" tests/integration/
# Media continuity (real libwebrtc peers, several nodes, nginx, Redis): release build only, too
# heavy for the sanitizer builds.
step "media continuity (release)" env SIGNALING_BIN="$PWD/build/signaling-server" \
  node --test "${node_serial[@]}" tests/continuity/
if [ -x scripts/test-browser.sh ] && [ "${SIG_SKIP_BROWSER:-0}" != 1 ]; then
  step "browser tests (Chromium)" env SIGNALING_SERVER="$PWD/build/signaling-server" scripts/test-browser.sh
fi
if [ -f clients/js/package.json ]; then
  step "client library tests" node --test clients/js/test/
fi
if [ -x bench/smoke.sh ]; then
  step "load tool smoke" bench/smoke.sh
fi
if [ "${SIG_SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzz (libFuzzer, 20 s per target)" scripts/fuzz.sh --ci
fi
if [ "${SIG_SKIP_ASAN:-0}" != 1 ]; then
  step "build (asan)" scripts/build.sh asan
  step "unit tests (asan)" ctest --preset asan -j 2
  # Against one Redis (SIG_REDIS_MODES), as the TSan step: the Redis Cluster pass of the
  # several-node suites runs on the release binary; the cluster client runs under ASan in its
  # unit tests (redis_cluster_test: the real client against a real 3+3 cluster).
  step "integration tests (asan)" env SIGNALING_BIN="$PWD/build-asan/signaling-server" SIGNALING_SANITIZED=1 \
    SIG_REDIS_MODES=redis node --test "${node_serial[@]}" tests/integration/
fi
if [ "${SIG_SKIP_TSAN:-0}" != 1 ]; then
  # The integration suite fails a test whose server printed a ThreadSanitizer warning; the server
  # goes on after one (no halt_on_error), so a test reports every race it ran into.
  step "build (tsan)" scripts/build.sh tsan
  step "unit tests (tsan)" ctest --preset tsan -j 2
  # Against one Redis only (SIG_REDIS_MODES): the Redis Cluster pass of the several-node suites
  # runs in the release step; the cluster client's threading is checked here by its unit tests
  # (redis_cluster_test: the real client against a real 3+3 cluster). Keeps CI under its time.
  step "integration tests (tsan)" env SIGNALING_BIN="$PWD/build-tsan/signaling-server" SIGNALING_SANITIZED=1 \
    SIG_REDIS_MODES=redis TSAN_OPTIONS="second_deadlock_stack=1" node --test "${node_serial[@]}" tests/integration/
fi

echo
echo "=== summary"
printf '%s\n' "${durations[@]}"
for f in "${failures[@]}"; do echo "failed step: $f"; done
echo "steps: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
