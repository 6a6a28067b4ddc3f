#!/usr/bin/env bash
# A few-second smoke test of the load tool against the real server: relay, join and hold modes,
# and a relay over two nodes sharing a redis-server, on a handful of connections. It checks that
# the tool ran, connected everyone and that messages were delivered (never a timing).
# Usage: bench/smoke.sh [build-dir]   (default: build/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${BUILD_DIR:-$root/build}}
server=$build/signaling-server
load=$build/signaling-load
for b in "$server" "$load"; do
  [ -x "$b" ] || { echo "bench smoke: $b is missing (build the signaling-server and signaling-load targets)" >&2; exit 1; }
done

tmp=$(mktemp -d)
secret="smoke-secret-$$"
key="smoke-admin-$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

start_server() {  # start_server <name> [server args...]: sets spid and port
  local name=$1
  shift
  "$server" --listen 127.0.0.1 --port 0 --jwt-secret "$secret" --admin-key "$key" --rate-limit 0 "$@" \
    >"$tmp/$name.log" 2>&1 &
  spid=$!
  pids+=("$spid")
  port=""
  for _ in $(seq 100); do
    port=$(grep -m1 '"listening"' "$tmp/$name.log" 2>/dev/null | grep -o '"port":[0-9]*' | cut -d: -f2 || true)
    [ -n "$port" ] && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "bench smoke: the server ($name) did not start:" >&2
    tail -20 "$tmp/$name.log" >&2
    exit 1
  fi
}

start_server server
common=(--targets "127.0.0.1:$port" --jwt-secret "$secret" --admin-key "$key" --server-pid "$spid")
fail=0
run() {  # name, checker (JavaScript over the JSON `r`), load arguments...
  local name=$1 check=$2
  shift 2
  local rc=0
  timeout 60 "$load" "${common[@]}" "$@" --json-out "$tmp/$name.json" >"$tmp/$name.out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] || [ ! -s "$tmp/$name.json" ]; then
    echo "bench smoke: $name: signaling-load exited $rc" >&2
    cat "$tmp/$name.out" >&2
    fail=1
    return
  fi
  if ! node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").pop());
    const problems = [];
    const expect = (ok, what) => { if (!ok) problems.push(what); };
    '"$check"'
    if (problems.length) { console.error(problems.join("; ")); process.exit(1); }
  ' "$tmp/$name.json"; then
    echo "bench smoke: $name: check failed" >&2
    cat "$tmp/$name.out" >&2
    fail=1
    return
  fi
  echo "bench smoke: $name ok"
}

run relay '
  const s = r.steps[0];
  expect(r.connected === r.clients && r.connect_failed === 0, `connected ${r.connected}/${r.clients}`);
  expect(s.offered > 0 && s.delivered > 0, `offered ${s.offered}, delivered ${s.delivered}`);
  expect(s.delivered + s.late === s.offered, `lost messages: offered ${s.offered}, delivered ${s.delivered}, late ${s.late}`);
  expect(s.dropped === 0, `dropped ${s.dropped}`);
  expect(r.relay_missing_from === 0, `${r.relay_missing_from} relayed messages without fromUserId`);
  expect(Object.keys(r.errors).length === 0, `errors ${JSON.stringify(r.errors)}`);
' --mode relay --clients 16 --rates 200 --warmup 0.3 --duration 1 --gap 1

run join '
  expect(r.join.ok > 0 && r.join.failed === 0, `joins ok ${r.join.ok}, failed ${r.join.failed} ${JSON.stringify(r.fail_codes)}`);
  expect(r.join.latency.count > 0, "no join measured");
  expect(r.join.leaves > 0, "no leave");
' --mode join --join-rate 40 --join-hold-ms 200 --warmup 0.2 --duration 1 --gap 1

run hold '
  expect(r.connected === r.clients, `connected ${r.connected}/${r.clients}`);
  expect(r.hold.acks > 0, "no heartbeat-ack");
  expect(r.closed_unexpected === 0, `${r.closed_unexpected} connections closed by the server`);
' --mode hold --clients 40 --duration 1 --hb-interval-ms 250

# Two nodes sharing one redis-server: the members of each session are spread over both, so most
# relayed messages cross nodes through Redis.
if [ -x /usr/bin/redis-server ]; then
  rport=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
  /usr/bin/redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do
    grep -q 'Ready to accept connections' "$tmp/redis.log" 2>/dev/null && break
    sleep 0.1
  done
  start_server node1 --redis "redis://127.0.0.1:$rport"
  first_pid=$spid first_port=$port
  start_server node2 --redis "redis://127.0.0.1:$rport"
  common=(--targets "127.0.0.1:$first_port,127.0.0.1:$port" --jwt-secret "$secret" --admin-key "$key"
    --server-pid "$first_pid" --extra-pids "$spid" --admin-first-only)
  run relay-two-nodes '
    const s = r.steps[0];
    expect(r.targets.length === 2, `targets ${JSON.stringify(r.targets)}`);
    expect(r.connected === r.clients && r.connect_failed === 0, `connected ${r.connected}/${r.clients}`);
    expect(s.offered > 0 && s.delivered + s.late === s.offered, `offered ${s.offered}, delivered ${s.delivered}, late ${s.late}`);
    expect(s.dropped === 0 && Object.keys(r.errors).length === 0, `dropped ${s.dropped}, errors ${JSON.stringify(r.errors)}`);
  ' --mode relay --clients 16 --rates 200 --warmup 0.3 --duration 1 --gap 1
else
  echo "bench smoke: /usr/bin/redis-server missing: the two-node run is skipped"
fi

if [ "$fail" -ne 0 ]; then
  echo "bench smoke: FAILED" >&2
  exit 1
fi
echo "bench smoke: ok"
