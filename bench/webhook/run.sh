#!/usr/bin/env bash
# The webhook figures of BENCHMARKS.md ("Webhooks"): the micro-benchmarks of webhook_bench.cpp
# and webhook-e2e, each run RUNS times (default 3); prints the medians. Raw output in
# bench/results/webhook-micro.jsonl and bench/results/webhook-e2e.jsonl.
# Needs a release build: cmake --preset release && cmake --build --preset release --target micro-bench webhook-e2e
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
runs=${RUNS:-3}
out=$root/bench/results
micro=$out/webhook-micro.jsonl
e2e=$out/webhook-e2e.jsonl
: >"$micro"
: >"$e2e"
for i in $(seq "$runs"); do
  timeout 300 "$build/micro-bench" --benchmark_filter='^BM_(Publish|Envelope|Sign|Copy)' \
    --benchmark_min_time=0.5 --benchmark_format=json 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); [print(json.dumps({"run":'"$i"',"name":b["name"],"ns_per_event":1e9/b["items_per_second"],"median_ns":b.get("median_ns_per_event"),"p99_ns":b.get("p99_ns_per_event")})) for b in d["benchmarks"]]' >>"$micro"
  timeout 300 "$build/webhook-e2e" --events "${EVENTS:-2000}" --sessions 1,10,100 --timeout 60 >>"$e2e"
done
python3 - "$micro" "$e2e" <<'PY'
import json, statistics, sys
micro = [json.loads(l) for l in open(sys.argv[1])]
for name in dict.fromkeys(m["name"] for m in micro):
    v = [m["ns_per_event"] for m in micro if m["name"] == name]
    print(f"{name:45s} mean/event: median of runs {statistics.median(v):9.1f} ns  runs {', '.join(f'{x:.1f}' for x in v)}")
    for k in ("median_ns", "p99_ns"):
        w = [m[k] for m in micro if m["name"] == name and m.get(k) is not None]
        if w:
            print(f"{name:45s} {k} of batches/event: median of runs {statistics.median(w):9.1f} ns  runs {', '.join(f'{x:.1f}' for x in w)}")
e2e = [json.loads(l) for l in open(sys.argv[2])]
for s in dict.fromkeys(e["sessions"] for e in e2e):
    rows = [e for e in e2e if e["sessions"] == s]
    for k in ("events_per_s", "cpu_us_per_event", "receiver_cpu_us_per_event"):
        v = [r[k] for r in rows]
        print(f"e2e sessions={s:<4d} {k:28s} median {statistics.median(v):9.1f}  runs {', '.join(f'{x:.1f}' for x in v)}")
    print(f"e2e sessions={s:<4d} delivered {[r['delivered'] for r in rows]} retried {[r['retried'] for r in rows]}")
PY
