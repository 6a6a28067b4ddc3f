#!/usr/bin/env bash
# Runs the browser tests (tests/browser/*.test.mjs: real Chromium pages against the server).
#
# The whole node test process (server, Chromium, pages) runs in a fresh network namespace whose
# only interface is loopback, so nothing can reach beyond 127.0.0.1; the namespace is deleted at
# the end. Where `ip netns` is not permitted (not root, no CAP_SYS_ADMIN), it runs without one
# and says so.
#
# Needs: build/signaling-server (or $SIGNALING_SERVER), /usr/bin/chromium (or $CHROMIUM_PATH),
# node_modules/playwright-core (scripts/setup.sh installs all of them).
# Environment passed through: SIGNALING_SERVER, CHROMIUM_PATH, BROWSER_TEST_WEB_ROOT,
# UPDATE_DOCS_SCREENSHOT=1 (rewrites docs/img/room-4.png).
# Usage: scripts/test-browser.sh [test files...]   (default: tests/browser/)
set -euo pipefail
cd "$(dirname "$0")/.."

server=${SIGNALING_SERVER:-build/signaling-server}
if [ ! -x "$server" ]; then
  echo "test-browser: no server binary at $server (run scripts/build.sh or set SIGNALING_SERVER)" >&2
  exit 1
fi
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "test-browser: no Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium} (run scripts/setup.sh)" >&2
  exit 1
fi
if [ ! -f node_modules/playwright-core/package.json ]; then
  echo "test-browser: node_modules/playwright-core is missing (run scripts/setup.sh)" >&2
  exit 1
fi

if [ $# -gt 0 ]; then files=("$@"); else files=(tests/browser/); fi
# One test file at a time: 2 cores and several Chromium pages per file. Each test has its own
# bounded waits; --test-timeout is the last guard.
cmd=(node --test)
# Node 20's runner flags; Debian's Node 18 (installed where the machine has none) lacks them.
if node --test --test-concurrency=1 --test-timeout=300000 --help >/dev/null 2>&1; then
  cmd+=(--test-concurrency=1 --test-timeout=300000)
fi
cmd+=("${files[@]}")

ns="sigbrowser-$$"
cleanup() {
  if ip netns list 2>/dev/null | grep -qw "$ns"; then
    # Only the processes this script started live in the namespace.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if ip netns add "$ns" 2>/dev/null && ip netns exec "$ns" ip link set lo up 2>/dev/null; then
  echo "test-browser: running in network namespace $ns (loopback only)"
  ip netns exec "$ns" "${cmd[@]}"
else
  cleanup
  echo "test-browser: WARNING: could not create a network namespace (ip netns needs root);" \
       "running WITHOUT network isolation (the tests still only use 127.0.0.1)" >&2
  "${cmd[@]}"
fi
