#!/usr/bin/env bash
# Installs what is needed, builds, and starts the server with the demo room (development mode:
# UNSAFE, it hands out tokens to anyone; for trying it on this machine only).
# PORT (default 8080) and LISTEN (default 127.0.0.1; --dev accepts a loopback address only)
# change where it listens. TURN=1 also starts a local coturn (loopback, port TURN_PORT, default
# 3478, a random secret) and hands its credentials to the room (docs/deployment.md); with
# TURN=relay the demo session's default is relay-only as well.
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
args=(--listen "$listen" --port "$port" --dev --web-root web --admin-key "$admin_key" --log-format text)
if [ -z "${TURN:-}" ]; then
  exec build/signaling-server "${args[@]}"
fi

# A local coturn for the demo: foreground process of this script, stopped with it.
turn_port=${TURN_PORT:-3478}
turn_dir=$(mktemp -d)
turn_secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
umask 077
printf '%s\n' "$turn_secret" >"$turn_dir/secret"
cat >"$turn_dir/turnserver.conf" <<CONF
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=${turn_port}
min-port=45000
max-port=45999
use-auth-secret
static-auth-secret=${turn_secret}
realm=localhost
fingerprint
no-cli
no-tls
no-dtls
allow-loopback-peers
no-multicast-peers
log-file=${turn_dir}/turnserver.log
simple-log
pidfile=${turn_dir}/turnserver.pid
userdb=${turn_dir}/turndb
CONF
/usr/bin/turnserver -c "$turn_dir/turnserver.conf" >/dev/null 2>&1 &
turn_pid=$!
trap 'kill "$turn_pid" 2>/dev/null || true; wait "$turn_pid" 2>/dev/null || true; rm -rf "$turn_dir"' EXIT
trap 'exit 130' INT TERM
echo "coturn: turn:127.0.0.1:${turn_port} (log ${turn_dir}/turnserver.log)"
args+=(--turn-uri "turn:127.0.0.1:${turn_port}?transport=udp" --turn-uri "turn:127.0.0.1:${turn_port}?transport=tcp"
  --turn-secret-file "$turn_dir/secret")
[ "${TURN}" = "relay" ] && args+=(--ice-transport-policy relay)
build/signaling-server "${args[@]}"
