#!/usr/bin/env bash
# Resume benchmark: resume latency percentiles (one node; two nodes + Redis) and the media
# continuity figures (longest gap between decoded video frames, baseline vs each event, and the
# RTCPeerConnections torn down), then the "Resume" section of BENCHMARKS.md is rewritten.
#   bench/resume/run.sh            (about two minutes; SAMPLES=200 by default)
# Needs the release build (build/signaling-server), redis-server, nginx and node_modules.
set -euo pipefail
cd "$(dirname "$0")/../.."
export SIGNALING_BIN=${SIGNALING_BIN:-$PWD/build/signaling-server}
out=bench/results
mkdir -p "$out"
nice -n 10 node bench/resume/resume-latency.mjs --samples "${SAMPLES:-200}" --out "$out/resume-latency.json"
rm -f "$out/continuity.jsonl"
# The tests assert continuity; a failing one still leaves its figures in the file.
CONTINUITY_RESULTS="$PWD/$out/continuity.jsonl" nice -n 10 node --test --test-concurrency=1 tests/continuity/ || true
# The figures measured before resume existed (kept in bench/results/) are shown beside them.
node bench/resume/report.mjs "$out/resume-latency.json" "$out/continuity.jsonl" BENCHMARKS.md \
  "$out/resume-latency-before.json" "$out/continuity-before.jsonl"
