#!/usr/bin/env bash
# Runs the benchmark suite and writes BENCHMARKS.md and the plots in bench/results/.
#
#   bench/run.sh            # the whole suite, a few minutes
#   QUICK=1 bench/run.sh    # shorter steps, smaller hold series (a minute or two)
#   SYSTEMS="server redis" RESULTS=/tmp/r BENCH_MD=/tmp/r/B.md bench/run.sh   # a subset, elsewhere
#
# What it runs (every load is bounded in count and time and targets 127.0.0.1 only):
#   1. relay sweep: open-loop offered rates, same clients, against the server, the floor relay
#      and peerjs-server, SWEEPS rounds interleaved (the best round is quoted); then each again
#      at half of its own maximum sustained rate (REPEATS times; the report quotes the median p99);
#   2. join: a steady stream of joins and leaves at JOIN_RATE against the server (and peerjs),
#      REPEATS times;
#   3. hold: idle connections with heartbeats, RSS per connection, for each count of HOLD_SERIES,
#      against the server and peerjs-server (and the floor, for scale);
#   4. the micro-benchmarks (micro-bench), when built.
# Systems: server (embedded store), redis (one node with --redis), cluster (two nodes sharing one
# redis-server; the members of each session spread over both), floor, peerjs. redis-server is
# started here on a free port with no persistence (skipped, with a note, when it is missing).
# The server and the load tool are pinned to different cores when taskset exists (SERVER_CPU,
# LOAD_CPU): with 2 cores that gives each one core.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# ---- Parameters ------------------------------------------------------------------------------
BUILD_DIR=${BUILD_DIR:-$root/build-bench}
SKIP_BUILD=${SKIP_BUILD:-0}
QUICK=${QUICK:-0}
SERVER_THREADS=${SERVER_THREADS:-1}       # the server's --threads, and the floor relay's
LOAD_THREADS=${LOAD_THREADS:-1}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
RELAY_CLIENTS=${RELAY_CLIENTS:-200}       # 50 sessions of 4
RELAY_RATES=${RELAY_RATES:-5000,10000,20000,30000,40000,60000,80000,100000,120000,150000,180000}
SWEEPS=${SWEEPS:-2}                       # sweep rounds (systems interleaved); the best round is quoted
STEP_WARMUP=${STEP_WARMUP:-0.5}
STEP_DURATION=${STEP_DURATION:-2}
STEP_GAP=${STEP_GAP:-0.5}
HALF_DURATION=${HALF_DURATION:-5}
REPEATS=${REPEATS:-3}                     # half-rate and join runs are repeated; the report quotes the median
JOIN_RATE=${JOIN_RATE:-500}
JOIN_DURATION=${JOIN_DURATION:-5}
JOIN_HOLD_MS=${JOIN_HOLD_MS:-1000}
HOLD_SERIES=${HOLD_SERIES:-"1000 5000 10000 19000"}
STORE_HOLD_SERIES=${STORE_HOLD_SERIES:-"1000 19000"}  # for redis and cluster
REDIS_BIN=${REDIS_BIN:-/usr/bin/redis-server}
HOLD_DURATION=${HOLD_DURATION:-4}
HOLD_HB_MS=${HOLD_HB_MS:-5000}
SOURCE_ADDRS=${SOURCE_ADDRS:-4}
RESULTS=${RESULTS:-$root/bench/results}
BENCH_MD=${BENCH_MD:-$root/BENCHMARKS.md}
if [ "$QUICK" = 1 ]; then
  STEP_WARMUP=0.5 STEP_DURATION=1 STEP_GAP=0.5 SWEEPS=1 HALF_DURATION=3 JOIN_DURATION=3 HOLD_DURATION=2 REPEATS=1
  HOLD_SERIES=${QUICK_HOLD_SERIES:-"1000 5000"}
  STORE_HOLD_SERIES=${QUICK_STORE_HOLD_SERIES:-"1000"}
fi
SECRET="bench-secret-$$"
ADMIN_KEY="bench-admin-$$"

# ---- Build -----------------------------------------------------------------------------------
if [ "$SKIP_BUILD" != 1 ]; then
  cmake -S "$root" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIG_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD_DIR" --target signaling-server signaling-load floor-relay -j "$(nproc)"
  cmake --build "$BUILD_DIR" --target micro-bench -j "$(nproc)" || echo "run.sh: micro-bench did not build; skipped"
fi
LOAD=$BUILD_DIR/signaling-load
SERVER=$BUILD_DIR/signaling-server
FLOOR=$BUILD_DIR/floor-relay
for b in "$LOAD" "$SERVER" "$FLOOR"; do [ -x "$b" ] || { echo "run.sh: missing $b" >&2; exit 1; }; done
[ -d node_modules/peer ] || { echo "run.sh: npm package 'peer' missing (npm ci)" >&2; exit 1; }

mkdir -p "$RESULTS"
raw=$RESULTS/raw.jsonl
: >"$raw"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

pin() {  # pin <cpu> <command...>: exec, so that `pin ... &` leaves $! = the command's own pid
  local cpu=$1
  shift
  if command -v taskset >/dev/null && [ "$(nproc)" -gt "$cpu" ]; then exec taskset -c "$cpu" "$@"; else exec "$@"; fi
}

wait_port() {  # wait_port <log> <pid>: prints the port of the "listening" line
  local log=$1 pid=$2 port=""
  for _ in $(seq 200); do
    port=$(grep -m1 '"listening"' "$log" 2>/dev/null | grep -o '"port":[0-9]*' | cut -d: -f2 || true)
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "run.sh: $log: no listening line" >&2
  tail -5 "$log" >&2
  return 1
}

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

SYS_PID=""     # the process whose RSS and CPU the tool samples (node 1)
SYS_PORT=""
SYS_TARGETS="" # host:port list for --targets
SYS_EXTRA=""   # more processes of the system (node 2, redis-server), for --extra-pids
SYS_PIDS=()
REDIS_URL=""
start_redis() {
  local port log=$tmp/redis.log
  port=$(free_port)
  rm -f "$log"  # the child truncates it only once it runs: a stale "Ready" line must not be read
  pin "$SERVER_CPU" "$REDIS_BIN" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    --daemonize no >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  SYS_PIDS+=("$pid")
  SYS_EXTRA=${SYS_EXTRA:+$SYS_EXTRA,}$pid
  for _ in $(seq 200); do
    grep -q 'Ready to accept connections' "$log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { echo "run.sh: redis-server did not start" >&2; tail -5 "$log" >&2; return 1; }
    sleep 0.05
  done
  REDIS_URL="redis://127.0.0.1:$port"
}
start_node() {  # start_node <log> [--redis url]: sets NODE_PID, NODE_PORT
  local log=$1
  shift
  rm -f "$log"  # likewise: wait_port must not read the previous run's port
  pin "$SERVER_CPU" "$SERVER" --listen 127.0.0.1 --port 0 --threads "$SERVER_THREADS" --jwt-secret "$SECRET" \
    --admin-key "$ADMIN_KEY" --rate-limit 0 --max-participants 6 --heartbeat-timeout 60s "$@" >"$log" 2>&1 &
  NODE_PID=$!
  pids+=("$NODE_PID")
  SYS_PIDS+=("$NODE_PID")
  NODE_PORT=$(wait_port "$log" "$NODE_PID")
}
start_system() {  # start_system server|redis|cluster|floor|peerjs
  local log=$tmp/$1.log
  SYS_PIDS=()
  SYS_EXTRA=""
  rm -f "$log"
  case $1 in
    server | redis | cluster)
      local store=()
      if [ "$1" != server ]; then
        start_redis
        store=(--redis "$REDIS_URL")
      fi
      start_node "$log" "${store[@]}"
      SYS_PID=$NODE_PID
      SYS_PORT=$NODE_PORT
      SYS_TARGETS=127.0.0.1:$NODE_PORT
      if [ "$1" = cluster ]; then
        start_node "$tmp/$1-2.log" "${store[@]}"
        SYS_TARGETS=$SYS_TARGETS,127.0.0.1:$NODE_PORT
        SYS_EXTRA=$SYS_EXTRA,$NODE_PID
      fi
      return 0
      ;;
    floor)
      pin "$SERVER_CPU" "$FLOOR" --listen 127.0.0.1 --port 0 --threads "$SERVER_THREADS" >"$log" 2>&1 &
      ;;
    peerjs)
      pin "$SERVER_CPU" node bench/peerjs/server.mjs --host 127.0.0.1 --port 0 >"$log" 2>&1 &
      ;;
  esac
  SYS_PID=$!
  pids+=("$SYS_PID")
  SYS_PIDS=("$SYS_PID")
  SYS_PORT=$(wait_port "$log" "$SYS_PID")
  SYS_TARGETS=127.0.0.1:$SYS_PORT
}
stop_system() {
  for p in "${SYS_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SYS_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  SYS_PIDS=()
}

proto_of() { case $1 in server | redis | cluster) echo signaling ;; *) echo "$1" ;; esac; }

load() {  # load <system> <label> <args...>: runs the tool, appends its JSON line to raw.jsonl
  local sys=$1 label=$2
  shift 2
  local out=$tmp/$label.out
  local store=()
  case $sys in redis | cluster) store=(--admin-first-only --extra-pids "$SYS_EXTRA") ;; esac
  if ! (pin "$LOAD_CPU" timeout 300 "$LOAD" --protocol "$(proto_of "$sys")" --targets "$SYS_TARGETS" \
    --jwt-secret "$SECRET" --admin-key "$ADMIN_KEY" --server-pid "$SYS_PID" --threads "$LOAD_THREADS" \
    --source-addrs "$SOURCE_ADDRS" --label "$sys/$label" "${store[@]}" "$@" >"$out" 2>&1); then
    echo "run.sh: $sys/$label: signaling-load failed:" >&2
    tail -20 "$out" >&2
  fi
  grep -v '^{' "$out" || true
  grep '^{' "$out" | tail -1 >>"$raw" || true
}

json_get_best() {  # json_get_best <label prefix> <js expression over r>: the largest over label-N runs
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
    const vals = lines.filter((x) => (x.label || "").startsWith(process.argv[2] + "-")).map((r) => eval(process.argv[3]));
    console.log(vals.length ? Math.max(...vals) : 0);
  ' "$raw" "$1" "$2"
}

echo "== machine"
{
  echo "nproc=$(nproc)"
  echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "kernel=$(uname -r)"
  echo "mem_gib=$(free -g | awk '/^Mem:/ {print $2}')"
  echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit=$(cat .commit 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "redis=$([ -x "$REDIS_BIN" ] && "$REDIS_BIN" --version | grep -o 'v=[0-9.]*' | cut -d= -f2 || echo none)"
  echo "server_threads=$SERVER_THREADS"
  echo "load_threads=$LOAD_THREADS"
  echo "pinning=$(command -v taskset >/dev/null && echo "server cpu $SERVER_CPU, load cpu $LOAD_CPU" || echo none)"
  echo "node=$(node --version)"
  echo "peer=$(node -p 'require("./node_modules/peer/package.json").version')"
  echo "step=${STEP_WARMUP}s warmup + ${STEP_DURATION}s measured + ${STEP_GAP}s drain"
} >"$RESULTS/machine.txt"
cat "$RESULTS/machine.txt"

step_args=(--warmup "$STEP_WARMUP" --duration "$STEP_DURATION" --gap "$STEP_GAP")
SYSTEMS=${SYSTEMS:-"floor server redis cluster peerjs"}
if [ ! -x "$REDIS_BIN" ]; then
  echo "run.sh: $REDIS_BIN missing (apt-get install redis-server): the redis and cluster systems are skipped" >&2
  SYSTEMS=$(echo "$SYSTEMS" | sed 's/redis//; s/cluster//')
fi
# Sweeps first, the systems interleaved, SWEEPS rounds: the noise of the shared machine only ever
# lowers a maximum, so the report quotes each system's best round.
for round in $(seq "$SWEEPS"); do
  for sys in $SYSTEMS; do
    echo "== relay sweep $round: $sys"
    start_system "$sys"
    load "$sys" "relay-sweep-$round" --mode relay --clients "$RELAY_CLIENTS" --rates "$RELAY_RATES" "${step_args[@]}"
    stop_system
  done
done
for sys in $SYSTEMS; do
  max=$(json_get_best "$sys/relay-sweep" 'r.max_sustained_rate')
  half=$(node -p "Math.max(100, Math.round($max / 2))")
  start_system "$sys"
  echo "== relay at half of the maximum ($half msgs/s): $sys"
  for i in $(seq "$REPEATS"); do
    load "$sys" "relay-half-$i" --mode relay --clients "$RELAY_CLIENTS" --rates "$half" --warmup 1 \
      --duration "$HALF_DURATION" --gap 1
  done
  if [ "$sys" != floor ]; then
    echo "== join at $JOIN_RATE/s: $sys"
    for i in $(seq "$REPEATS"); do
      load "$sys" "join-$i" --mode join --join-rate "$JOIN_RATE" --join-hold-ms "$JOIN_HOLD_MS" --warmup 1 \
        --duration "$JOIN_DURATION"
    done
  fi
  stop_system
  series=$HOLD_SERIES
  case $sys in redis | cluster) series=$STORE_HOLD_SERIES ;; esac
  for n in $series; do
    echo "== hold $n: $sys"
    start_system "$sys"  # a fresh process per count, so RSS is not what an earlier run left
    sleep 0.5
    load "$sys" "hold-$n" --mode hold --clients "$n" --duration "$HOLD_DURATION" --hb-interval-ms "$HOLD_HB_MS" \
      --connect-rate 4000 --connect-timeout 60
    stop_system
  done
done

if [ -x "$BUILD_DIR/micro-bench" ]; then
  echo "== micro-bench"
  (pin "$LOAD_CPU" "$BUILD_DIR/micro-bench" --benchmark_min_time=0.2 --benchmark_format=json \
    --benchmark_out="$RESULTS/micro.json" --benchmark_out_format=json >/dev/null 2>"$tmp/micro.err") ||
    { echo "run.sh: micro-bench failed" >&2; cat "$tmp/micro.err" >&2; }
fi

echo "== report"
node bench/load/report.mjs "$RESULTS" "$BENCH_MD"
for g in "$RESULTS"/*.gp; do gnuplot "$g"; done
echo "run.sh: wrote BENCHMARKS.md and $(ls "$RESULTS"/*.png | wc -l) plots in ${RESULTS#"$root"/}/"

# ---- Scale-out (bench/scale/run.sh: idle cost against declared sessions, cost per participant,
# the 8-node scale model; about 20 minutes, its own results and BENCHMARKS.md section): SCALE=1.
# Without it, the section is written again from the results already in bench/results/.
if [ "${SCALE:-0}" = 1 ]; then
  echo "== scale-out"
  SIGNALING_BIN=$SERVER SIGNALING_LOAD=$LOAD bench/scale/run.sh
elif ls "$root"/bench/results/scale-*.json >/dev/null 2>&1; then
  node bench/scale/report.mjs "$root/bench/results" "$BENCH_MD" >/dev/null
fi
