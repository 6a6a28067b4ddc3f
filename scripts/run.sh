#!/usr/bin/env bash
# Installs what is needed, builds, and starts the server with the demo room (development mode:
# UNSAFE, it hands out tokens to anyone; for trying it on this machine only).
# PORT (default 8080) and LISTEN (default 127.0.0.1; --dev accepts a loopback address only)
# change where it listens.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target signaling-server -j "$(nproc)"

port=${PORT:-8080}
listen=${LISTEN:-127.0.0.1}
admin_key=${SIGNALING_ADMIN_KEY:-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')}
base="http://${listen/0.0.0.0/127.0.0.1}:${port}"
cat <<MSG

signaling-server: demo session "demo" (host: alice); open one tab per participant:
  ${base}/room.html?userId=alice   (host: start and end buttons)
  ${base}/room.html?userId=bob
  ${base}/room.html?userId=carol
  ${base}/room.html?userId=dave
  ${base}/       (pick a user)
Admin API: curl -H "Authorization: Bearer ${admin_key}" ${base}/api/sessions/demo
Stop with Ctrl-C.

MSG
exec build/signaling-server --listen "$listen" --port "$port" --dev --web-root web \
  --admin-key "$admin_key" --log-format text
