#!/usr/bin/env bash
# Installs everything the project needs on Debian 12 (bookworm): compilers, libraries, Redis,
# nginx, Chromium and the npm packages of the tests and the client library. Idempotent: it only
# asks apt for what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  libboost1.81-dev libssl-dev nlohmann-json3-dev libsimdjson-dev libspdlog-dev libcli11-dev
  libhiredis-dev libgtest-dev libgmock-dev libbenchmark-dev
  redis-server nginx-light chromium gnuplot-nox iproute2 procps coturn
  clang-format clang-tidy clang-15 libfuzzer-15-dev
)
# Node.js and npm: Debian's packages only when the machine has none (an image may ship its own
# Node.js with npm bundled, which Debian's npm package conflicts with).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's redis-server package starts a system instance; the project never uses it (tests
# start their own on a free port), so it is left alone. The same for coturn: Debian's package
# leaves its service disabled (TURNSERVER_ENABLED unset in /etc/default/coturn) and the tests
# start their own turnserver on loopback at free ports, with a config file of their own; a system
# coturn, if one runs, listens on 3478/5349 and never collides with them.

if [ -f package-lock.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "setup: npm ci"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
  fi
fi
