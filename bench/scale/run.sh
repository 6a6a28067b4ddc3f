#!/usr/bin/env bash
# Scale-out benchmarks: idle cost against declared sessions, cost per connected participant, and
# the scale model (8 nodes, one Redis and a 3-primary Redis Cluster), then the plot.
#
#   bench/scale/run.sh                  # everything, about 30 minutes
#   NAME=before LABEL=before bench/scale/run.sh  # results named scale-*-before.json
#                                       # (default: scale-*-defaults.json, label after-defaults)
#   REPEATS=3 bench/scale/run.sh        # the per-participant run 3 times (-r1, -r2, -r3: the report
#                                       # gives their median)
#   QUICK=1 bench/scale/run.sh          # smaller counts and windows (a few minutes)
# The nodes run at the server's defaults (--cluster-sync 60s: the windows hold at least one sync).
# The plot and the "Scale-out" section of BENCHMARKS.md are written from every scale-*.json present.
#
# Needs build/signaling-server and build/signaling-load (or SIGNALING_BIN / SIGNALING_LOAD),
# redis-server and redis-cli 7. Every process listens on 127.0.0.1; every step is bounded by
# `timeout`. The cluster variant runs only when the server has --redis-cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
LABEL=${LABEL:-after-defaults}
NAME=${NAME:-defaults}
REPEATS=${REPEATS:-1}
out=${RESULTS:-bench/results}
mkdir -p "$out"
export SIGNALING_BIN=${SIGNALING_BIN:-$PWD/build/signaling-server}
COUNTS=${COUNTS:-0,1000,10000,100000}
PARTICIPANTS=${PARTICIPANTS:-6000}
MODEL_PARTICIPANTS=${MODEL_PARTICIPANTS:-12000}
MODEL_SESSIONS=${MODEL_SESSIONS:-100000}
WINDOW=${WINDOW:-60}
PARTICIPANTS_WINDOW=${PARTICIPANTS_WINDOW:-120}
MODEL_WINDOW=${MODEL_WINDOW:-120}
if [ "${QUICK:-0}" = 1 ]; then
  COUNTS=0,1000,10000 PARTICIPANTS=1200 MODEL_PARTICIPANTS=2400 MODEL_SESSIONS=10000 WINDOW=15 PARTICIPANTS_WINDOW=60 MODEL_WINDOW=60
fi

echo "== idle cost, one redis-server ($COUNTS sessions)"
timeout 1500 nice -n 5 node bench/scale/idle.mjs --counts "$COUNTS" --window "$WINDOW" --label "$LABEL" \
  --out "$out/scale-idle-$NAME.json"
for i in $(seq 1 "$REPEATS"); do
  echo "== per participant ($PARTICIPANTS, 2 nodes), run $i of $REPEATS"
  timeout 900 nice -n 5 node bench/scale/participants.mjs --participants "$PARTICIPANTS" --window "$PARTICIPANTS_WINDOW" \
    --label "$LABEL" --out "$out/scale-participants-$NAME-r$i.json"
done
echo "== scale model, one redis-server"
timeout 1200 nice -n 5 node bench/scale/model.mjs --sessions "$MODEL_SESSIONS" --participants "$MODEL_PARTICIPANTS" \
  --window "$MODEL_WINDOW" --label "$LABEL" --out "$out/scale-model-$NAME.json"
if "$SIGNALING_BIN" --help 2>/dev/null | grep -q -- --redis-cluster; then
  echo "== idle cost, Redis Cluster"
  timeout 1500 nice -n 5 node bench/scale/idle.mjs --cluster --counts "$COUNTS" --window "$WINDOW" --label "$LABEL" \
    --out "$out/scale-idle-cluster-$NAME.json"
  echo "== per participant ($PARTICIPANTS, 2 nodes), 3-primary Redis Cluster"
  timeout 900 nice -n 5 node bench/scale/participants.mjs --cluster --participants "$PARTICIPANTS" \
    --window "$PARTICIPANTS_WINDOW" --label "$LABEL" --out "$out/scale-participants-cluster-$NAME.json"
  echo "== scale model, 3-primary Redis Cluster"
  timeout 1200 nice -n 5 node bench/scale/model.mjs --cluster --sessions "$MODEL_SESSIONS" \
    --participants "$MODEL_PARTICIPANTS" --window "$MODEL_WINDOW" --label "$LABEL" \
    --out "$out/scale-model-cluster-$NAME.json"
else
  echo "== $SIGNALING_BIN has no --redis-cluster: the cluster variant is skipped"
fi
echo "== plot"
node bench/scale/plot.mjs --out "$out/scale-idle.svg" "$out"/scale-idle-before.json "$out"/scale-idle-after.json \
  "$out"/scale-idle-cluster-after.json "$out"/scale-idle-defaults.json
echo "== report (BENCHMARKS.md, section Scale-out)"
node bench/scale/report.mjs "$out" "${BENCH_MD:-BENCHMARKS.md}" >/dev/null
