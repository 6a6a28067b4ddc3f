// Turns the results of bench/run.sh (raw.jsonl, machine.txt, micro.json) into BENCHMARKS.md,
// plus gnuplot data and scripts (*.dat, *.gp) that run.sh renders to PNG.
// Usage: node bench/load/report.mjs <results-dir> <BENCHMARKS.md>
import fs from "node:fs";
import path from "node:path";

const [dir, outFile] = process.argv.slice(2);
const rel = (p) => path.relative(path.dirname(outFile), p);
const runs = fs
  .readFileSync(path.join(dir, "raw.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.trim().startsWith("{"))
  .map((l) => JSON.parse(l));
const machine = Object.fromEntries(
  fs
    .readFileSync(path.join(dir, "machine.txt"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
);
const get = (label) => runs.filter((r) => r.label === label).pop();
const systems = ["server", "redis", "cluster", "floor", "peerjs"];
const names = {
  server: "signaling-server",
  redis: "signaling-server + Redis",
  cluster: "2 nodes + Redis",
  floor: "floor relay",
  peerjs: "peerjs-server",
};

const f0 = (v) => (v === undefined || v === null || Number.isNaN(v) ? "n/a" : Math.round(v).toLocaleString("en-US"));
const f1 = (v) => (v === undefined || v === null || Number.isNaN(v) ? "n/a" : Number(v).toFixed(1));
const f2 = (v) => (v === undefined || v === null || Number.isNaN(v) ? "n/a" : Number(v).toFixed(2));
const ratio = (a, b) => (a > 0 && b > 0 ? `${(a / b).toFixed(2)}x` : "n/a");
const us = (v) => (v === undefined ? "n/a" : v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(0)} µs`);

// Sweep rounds (label relay-sweep-N): the best round of each system is quoted.
const sweep = Object.fromEntries(
  systems.map((s) => [
    s,
    runs
      .filter((r) => (r.label || "").startsWith(`${s}/relay-sweep`))
      .sort((a, b) => b.max_sustained_rate - a.max_sustained_rate || b.max_delivered_rate - a.max_delivered_rate)[0],
  ]),
);
const sweepRounds = (s) =>
  runs
    .filter((r) => (r.label || "").startsWith(`${s}/relay-sweep`))
    .map((r) => f0(r.max_sustained_rate))
    .join(", ");
// Repeated runs (label, label-1, label-2, ...): the one with the median of f is quoted.
const reps = (prefix) => runs.filter((r) => r.label === prefix || (r.label || "").startsWith(`${prefix}-`));
const medianBy = (arr, f) => {
  const a = arr.filter((x) => f(x) !== undefined).sort((x, y) => f(x) - f(y));
  return a.length ? a[Math.floor((a.length - 1) / 2)] : undefined;
};
const halfP99 = (r) => r?.steps?.[0]?.latency?.p99_us;
const joinP99 = (r) => r?.join?.latency?.p99_us;
const half = Object.fromEntries(systems.map((s) => [s, medianBy(reps(`${s}/relay-half`), halfP99)]));
const join = Object.fromEntries(systems.map((s) => [s, medianBy(reps(`${s}/join`), joinP99)]));
const allOf = (prefix, f) => reps(prefix).map((r) => us(f(r))).join(", ");
// At the highest sustained step: delivered messages per second of server CPU (robust to the
// other processes of a shared machine, which slow the server down without costing it CPU).
const maxStep = (s) => {
  const r = sweep[s];
  if (!r) return undefined;
  return r.steps.filter((x) => x.sustained).sort((a, b) => b.delivered_rate - a.delivered_rate)[0];
};
const perCpu = (s) => {
  const x = maxStep(s);
  return x && x.server_cpu > 0 ? x.delivered_rate / x.server_cpu : undefined;
};
const holds = Object.fromEntries(
  systems.map((s) => [
    s,
    runs
      .filter((r) => r.label && r.label.startsWith(`${s}/hold-`))
      .sort((a, b) => a.clients - b.clients),
  ]),
);
const maxRate = (s) => sweep[s]?.max_sustained_rate ?? 0;
const maxHold = (s) => holds[s][holds[s].length - 1];
const perConn = (r) => r?.hold?.rss_per_connection_bytes;

// ---- Plot data and scripts.
const dat = [];
for (const s of systems) {
  const r = sweep[s];
  if (!r) continue;
  const rows = r.steps.filter((x) => !x.skipped && x.delivered > 0);
  fs.writeFileSync(
    path.join(dir, `sweep-${s}.dat`),
    "# offered_rate delivered_rate p50_us p99_us p999_us server_cpu loader_cpu\n" +
      rows
        .map((x) =>
          [x.offered_rate, x.delivered_rate, x.latency.p50_us, x.latency.p99_us, x.latency.p999_us, x.server_cpu, x.loader_cpu].join(" "),
        )
        .join("\n") +
      "\n",
  );
  dat.push(s);
}
for (const s of systems) {
  fs.writeFileSync(
    path.join(dir, `rss-${s}.dat`),
    "# connections rss_increase_mib rss_per_connection_bytes\n" +
      holds[s]
        .filter((r) => r.rss?.held_kb > 0)
        .map((r) => [r.hold.connections, (r.rss.held_kb - r.rss.baseline_kb) / 1024, perConn(r)].join(" "))
        .join("\n") +
      "\n",
  );
}
const title = (s) => names[s];
const gp = (name, body) => {
  fs.writeFileSync(
    path.join(dir, `${name}.gp`),
    `set terminal pngcairo size 900,560 font "DejaVu Sans,10"\nset output "${path.join(dir, name)}.png"\nset grid\nset key left top\n${body}\n`,
  );
};
const col = { server: "#1f77b4", redis: "#9467bd", cluster: "#ff7f0e", floor: "#2ca02c", peerjs: "#d62728" };
gp(
  "latency-vs-rate",
  `set title "Relay latency vs offered rate (open loop, ${machine.step || ""})"
set xlabel "offered rate (messages/s)"
set ylabel "latency (µs, log scale)"
set logscale y
set logscale x
plot ${dat
    .map(
      (s) =>
        `"${path.join(dir, `sweep-${s}.dat`)}" using 1:3 with linespoints lc rgb "${col[s]}" dt 2 pt 6 title "${title(s)} p50", ` +
        `"${path.join(dir, `sweep-${s}.dat`)}" using 1:4 with linespoints lc rgb "${col[s]}" pt 7 title "${title(s)} p99"`,
    )
    .join(", ")}`,
);
gp(
  "delivered-vs-offered",
  `set title "Delivered vs offered relay rate"
set xlabel "offered rate (messages/s)"
set ylabel "delivered rate (messages/s)"
set logscale x
set logscale y
plot ${dat.map((s) => `"${path.join(dir, `sweep-${s}.dat`)}" using 1:2 with linespoints lc rgb "${col[s]}" pt 7 title "${title(s)}"`).join(", ")}, x with lines dt 3 lc rgb "grey" title "offered"`,
);
gp(
  "rss-vs-connections",
  `set title "Server RSS increase vs idle connections (heartbeat every ${runs.find((r) => r.hold)?.hold.heartbeat_interval_ms ?? "?"} ms)"
set xlabel "connections"
set ylabel "RSS increase over the idle process (MiB)"
plot ${systems.map((s) => `"${path.join(dir, `rss-${s}.dat`)}" using 1:2 with linespoints lc rgb "${col[s]}" pt 7 title "${title(s)}"`).join(", ")}`,
);

// ---- Targets.
const targets = [];
const sRate = maxRate("server"), fRate = maxRate("floor"), pRate = maxRate("peerjs");
targets.push([
  "relay rate ≥ 0.8 × floor",
  sRate && fRate ? `${f0(sRate)} / ${f0(fRate)} msgs/s = ${(sRate / fRate).toFixed(2)}` : "not measured",
  sRate && fRate ? (sRate / fRate >= 0.8 ? "met" : "not met") : "not measured",
]);
const hp99 = half.server?.steps?.[0]?.latency?.p99_us;
targets.push([
  "p99 relay latency ≤ 1 ms at half the max rate",
  hp99 !== undefined
    ? `p99 ${us(hp99)} at ${f0(half.server.steps[0].offered_rate)} msgs/s (median of runs: ${allOf("server/relay-half", halfP99)})`
    : "not measured",
  hp99 !== undefined ? (hp99 <= 1000 && half.server.steps[0].delivery_ratio >= 0.99 ? "met" : "not met") : "not measured",
]);
const jr = join.server?.join;
targets.push([
  "join p99 ≤ 2 ms at 500 joins/s",
  jr
    ? `p99 ${us(jr.latency.p99_us)} at ${f0(jr.measured_rate)} joins/s, ${jr.failed} failed (median of runs: ${allOf("server/join", joinP99)})`
    : "not measured",
  jr ? (jr.latency.p99_us <= 2000 && jr.failed === 0 && jr.measured_rate >= 0.95 * 500 ? "met" : "not met") : "not measured",
]);
const sh = maxHold("server");
const shOk = sh && sh.hold.connections >= 19000;
targets.push([
  "≤ 4 KB server RSS per idle participant holding 19,000",
  sh ? `${f0(perConn(sh))} B per connection at ${f0(sh.hold.connections)} connections` : "not measured",
  sh ? (shOk && perConn(sh) <= 4096 ? "met" : shOk ? "not met" : "not measured at 19,000") : "not measured",
]);
const rRate = maxRate("redis");
targets.push([
  "with Redis, relay between participants of one node ≥ 0.9 × embedded",
  rRate && sRate ? `${f0(rRate)} / ${f0(sRate)} msgs/s = ${(rRate / sRate).toFixed(2)}` : "not measured",
  rRate && sRate ? (rRate / sRate >= 0.9 ? "met" : "not met") : "not measured",
]);
const cp99 = half.cluster?.steps?.[0]?.latency?.p99_us;
targets.push([
  "across two nodes, p99 ≤ 2 ms (at half of its own max rate)",
  cp99 !== undefined
    ? `p99 ${us(cp99)} at ${f0(half.cluster.steps[0].offered_rate)} msgs/s, 2 of 3 messages crossing nodes (median of runs: ${allOf("cluster/relay-half", halfP99)})`
    : "not measured",
  cp99 !== undefined ? (cp99 <= 2000 && half.cluster.steps[0].delivery_ratio >= 0.99 ? "met" : "not met") : "not measured",
]);
const jrr = join.redis?.join;
targets.push([
  "join p99 ≤ 5 ms with Redis at 500 joins/s",
  jrr
    ? `p99 ${us(jrr.latency.p99_us)} at ${f0(jrr.measured_rate)} joins/s, ${jrr.failed} failed (median of runs: ${allOf("redis/join", joinP99)})`
    : "not measured",
  jrr ? (jrr.latency.p99_us <= 5000 && jrr.failed === 0 && jrr.measured_rate >= 0.95 * 500 ? "met" : "not met") : "not measured",
]);
const ph = maxHold("peerjs");
const memRatio = sh && ph && perConn(sh) > 0 ? perConn(ph) / perConn(sh) : undefined;
targets.push([
  "≥ 10× peerjs-server's relay rate at ≤ 1/10 of its memory per connection",
  sRate && pRate
    ? `rate ${(sRate / pRate).toFixed(1)}×; memory per connection ${memRatio ? `1/${memRatio.toFixed(1)}` : "n/a"} (${f0(perConn(sh))} B vs ${f0(perConn(ph))} B)`
    : "not measured",
  sRate && pRate && memRatio ? (sRate / pRate >= 10 && memRatio >= 10 ? "met" : "not met") : "not measured",
]);

// ---- The document.
const L = [];
L.push("# Benchmarks", "");
L.push(
  `Generated by \`bench/run.sh\` on ${machine.date} (commit ${machine.commit}); the raw figures are in`,
  `[\`${rel(path.join(dir, "raw.jsonl"))}\`](${rel(path.join(dir, "raw.jsonl"))}) (one JSON line per run of \`signaling-load\`).`,
  "Run it again with `bench/run.sh` (a few minutes) or `QUICK=1 bench/run.sh`.",
  "",
);
L.push("## Machine", "");
L.push("| | |", "|---|---|");
L.push(`| cores (nproc) | ${machine.nproc} |`, `| CPU | ${machine.cpu} |`, `| kernel | ${machine.kernel} |`);
L.push(`| memory | ${machine.mem_gib} GiB |`, `| load average at start | ${machine.loadavg} |`);
L.push(`| pinning | ${machine.pinning} |`, `| server / floor threads | ${machine.server_threads} |`, `| load tool threads | ${machine.load_threads} |`);
L.push(`| node / peer | ${machine.node} / peer ${machine.peer} |`, "");
L.push(
  "The machine is shared (2 cores, other engineers compile and test on it at the same time), so",
  "absolute figures are noisy; the ratios between systems measured in the same run by the same",
  "tool are the figures to read. Each figure comes from one run; latencies are percentiles over",
  "every message of the measured window, not averages of runs.",
  "",
);
L.push("## Targets", "");
L.push("| target | measured | verdict |", "|---|---|---|");
for (const t of targets) L.push(`| ${t[0]} | ${t[1]} | **${t[2]}** |`);
L.push("");
L.push("## Method", "");
L.push(
  "- **Tool**: `signaling-load` (bench/load/), C++ with Boost.Beast: real WebSocket clients (masked frames,",
  "  no compression, one message per frame), several threads with one io_context each, clients spread over",
  "  processes when one would pass the descriptor limit (RLIMIT_NOFILE 20000), bound to 127.0.0.2..N to",
  "  spread source addresses. It creates sessions of 4 through the admin API and mints HS256 tokens itself.",
  "- **Relay (open loop)**: every participant sends to its 3 peers in turn; 1 message in 5 is an offer or an",
  "  answer of 2–6 KB (SDP-like text), the others 300 B ice-candidates (mean ≈ 1.1 KB). Sends are scheduled",
  "  by the clock at the offered total rate, not by replies; each message carries its *scheduled* send time",
  "  (an extra field, relayed unchanged), so a slow server or a backed-up socket shows as latency instead of",
  "  lowering the rate (no coordinated omission). Latency = receive time − scheduled time, on one monotonic",
  "  clock, in log buckets of 1.6 % (HdrHistogram-like). `send_lag` in the raw data is the tool's own delay",
  "  between the scheduled time and the dispatch; it is included in the latency.",
  `- **Steps**: ${machine.step}; rates ascend; a message counts as delivered when it arrives before the end of`,
  "  its step's drain. A step is *sustained* when ≥ 99 % of the offered messages arrive, none is dropped by",
  "  the tool's 1000-message per-client backlog, and the median latency is ≤ 5 ms (a relay past its",
  "  capacity queues, and its median grows to hundreds of ms; a p99 rule would instead trip on the stalls",
  "  that other processes of the shared machine cause). The **max rate** is the highest delivered rate of a",
  "  sustained step; the sweep stops after a step delivering < 50 %. The sweeps of the three systems are",
  "  interleaved and repeated; each system's best round is quoted (noise only ever lowers a maximum).",
  "- **Floor**: `floor-relay` (bench/floor/): TCP, a `JOIN group member` line, then length-prefixed frames",
  "  with a destination member, forwarded with no WebSocket, no JSON and no auth. The tool sends the same",
  "  bytes through it. Server, floor and peerjs-server run with the same thread count, pinned to one core;",
  "  the tool runs on the other.",
  "- **Peer**: peerjs-server (npm `peer`), started by bench/peerjs/server.mjs (its PeerServer, without the",
  "  CLI's per-connection console log, connection limit raised). Messages are `OFFER`/`ANSWER`/`CANDIDATE`",
  "  with the same payload sizes, relayed to `dst` (it re-serialises them with `src`).",
  `- **Join**: ${JSON.stringify(jr?.rate_target ?? 500)} joins/s, each participant leaves (\`leave\`) after ${jr?.hold_ms ?? "?"} ms;`,
  "  latency from the start of the TCP connect to the `joined` message (TCP + WebSocket upgrade + JWT check",
  "  + join); for peerjs-server, to its `OPEN`.",
  "- **Hold**: N idle connections (sessions of 4) sending a heartbeat every interval; the server's VmRSS is",
  "  read from /proc before the sessions are created and while holding; RSS per connection =",
  "  (holding − before) / N, so it includes the session directory entries. A fresh server process per N.",
  "- **Redis** (`signaling-server + Redis`): one node with `--redis` and Debian's redis-server (no persistence),",
  "  both pinned to the server's core; the sessions are created through the admin API (written to Redis), joins",
  "  go through the join script, heartbeats write `session:heartbeat:*`; relays between participants of the",
  "  node never touch Redis. **Two nodes** (`2 nodes + Redis`): two signaling-server processes and redis-server,",
  "  all three on the server's core (the same one core as every other system); member k of each session",
  "  connects to node k mod 2, so 2 of every 3 relayed messages cross nodes (PUBLISH to the other node's",
  "  channel). For both, CPU and RSS are the sums over every process of the system (nodes and redis-server).",
  "",
);

const REPEATS_TEXT = `the run with the median p99 of ${Math.max(1, reps("server/relay-half").length)} is quoted`;
const sweepTable = (s) => {
  const r = sweep[s];
  if (!r) return [`(${names[s]}: not measured)`, ""];
  const out = [
    `**${names[s]}** — ${r.clients} clients; best round (${r.label}): max sustained ${f0(r.max_sustained_rate)} msgs/s, max delivered ${f0(r.max_delivered_rate)} msgs/s; max sustained of each round: ${sweepRounds(s)}`,
    "",
    "| offered/s | delivered/s | ratio | p50 | p99 | p99.9 | max | server CPU | tool CPU | sustained |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
  ];
  for (const x of r.steps) {
    if (x.skipped) continue;
    out.push(
      `| ${f0(x.offered_rate)} | ${f0(x.delivered_rate)} | ${f2(x.delivery_ratio)} | ${us(x.latency.p50_us)} | ${us(x.latency.p99_us)} | ${us(x.latency.p999_us)} | ${us(x.latency.max_us)} | ${f2(x.server_cpu)} | ${f2(x.loader_cpu)} | ${x.sustained ? "yes" : "no"} |`,
    );
  }
  out.push("");
  return out;
};

L.push("## Relay", "");
L.push("| | max sustained rate | vs floor | vs peerjs | server CPU / tool CPU there | msgs per server CPU-second | vs floor | vs peerjs |");
L.push("|---|---:|---:|---:|---:|---:|---:|---:|");
for (const s of systems) {
  const x = maxStep(s);
  L.push(
    `| ${names[s]} | ${f0(maxRate(s))} msgs/s | ${ratio(maxRate(s), fRate)} | ${ratio(maxRate(s), pRate)} | ${x ? `${f2(x.server_cpu)} / ${f2(x.loader_cpu)}` : "n/a"} | ${f0(perCpu(s))} | ${ratio(perCpu(s), perCpu("floor"))} | ${ratio(perCpu(s), perCpu("peerjs"))} |`,
  );
}
L.push("");
L.push(
  "CPU is in cores (1.00 = one core busy). When the tool's CPU is near 1.00 the tool, not the relay, is",
  "the limit of that row. Messages per server CPU-second is the rate one dedicated core would carry if",
  "the relay stayed CPU-bound; it does not depend on what else the shared machine runs.",
  "",
);
L.push(`At half of each system's own maximum, ${REPEATS_TEXT}:`, "");
L.push("| | rate | p50 | p99 | p99.9 | max | p99 of each run |", "|---|---:|---:|---:|---:|---:|---|");
for (const s of systems) {
  const h = half[s]?.steps?.[0];
  L.push(
    `| ${names[s]} | ${h ? f0(h.delivered_rate) : "n/a"} | ${h ? us(h.latency.p50_us) : "n/a"} | ${h ? us(h.latency.p99_us) : "n/a"} | ${h ? us(h.latency.p999_us) : "n/a"} | ${h ? us(h.latency.max_us) : "n/a"} | ${allOf(`${s}/relay-half`, halfP99)} |`,
  );
}
L.push("");
L.push(`![latency vs offered rate](${rel(path.join(dir, "latency-vs-rate.png"))})`, "");
L.push(`![delivered vs offered](${rel(path.join(dir, "delivered-vs-offered.png"))})`, "");
for (const s of systems) L.push(...sweepTable(s));

L.push("## Join", "");
L.push("The run with the median p99 is quoted.", "");
L.push("| | joins/s measured | ok | failed | p50 | p99 | p99.9 | max | server CPU | p99 of each run |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
for (const s of systems) {
  const j = join[s]?.join;
  if (!j) continue;
  L.push(
    `| ${names[s]} | ${f0(j.measured_rate)} | ${j.ok} | ${j.failed}${Object.keys(join[s].fail_codes).length ? ` ${JSON.stringify(join[s].fail_codes)}` : ""} | ${us(j.latency.p50_us)} | ${us(j.latency.p99_us)} | ${us(j.latency.p999_us)} | ${us(j.latency.max_us)} | ${f2(j.server_cpu)} | ${allOf(`${s}/join`, joinP99)} |`,
  );
}
L.push("");

L.push("## Idle connections", "");
L.push(
  "| | connections | RSS before | RSS holding | per connection | vs server | heartbeat acks/s | ack p99 | failed |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
);
for (const s of systems) {
  for (const r of holds[s]) {
    const sameN = holds.server.find((x) => x.clients === r.clients);
    L.push(
      `| ${names[s]} | ${f0(r.hold.connections)} | ${f1(r.rss.baseline_kb / 1024)} MiB | ${f1(r.rss.held_kb / 1024)} MiB | ${f0(perConn(r))} B | ${sameN && s !== "server" ? ratio(perConn(r), perConn(sameN)) : ""} | ${s === "peerjs" ? "(no acks)" : f0(r.hold.acks_per_s)} | ${s === "peerjs" ? "" : us(r.hold.ack_rtt.p99_us)} | ${r.connect_failed} |`,
    );
  }
}
L.push("");
L.push(`![RSS vs connections](${rel(path.join(dir, "rss-vs-connections.png"))})`, "");

const microFile = path.join(dir, "micro.json");
if (fs.existsSync(microFile)) {
  const m = JSON.parse(fs.readFileSync(microFile, "utf8"));
  L.push("## Micro-benchmarks", "");
  L.push("`micro-bench` (Google Benchmark, pinned to the tool's core), one run:", "");
  L.push("| benchmark | time per iteration | throughput |", "|---|---:|---:|");
  for (const b of m.benchmarks) {
    if (b.run_type && b.run_type !== "iteration") continue;
    const t = b.time_unit === "ns" ? b.real_time : b.time_unit === "us" ? b.real_time * 1e3 : b.real_time * 1e6;
    const thr = b.bytes_per_second ? `${(b.bytes_per_second / 1e6).toFixed(0)} MB/s` : b.items_per_second ? `${f0(b.items_per_second)}/s` : "";
    L.push(`| ${b.name}${b.label ? ` (${b.label})` : ""} | ${t >= 1000 ? `${(t / 1000).toFixed(2)} µs` : `${t.toFixed(0)} ns`} | ${thr} |`);
  }
  L.push("");
}

const notes = path.join(dir, "notes.md");
if (fs.existsSync(notes)) L.push(fs.readFileSync(notes, "utf8").trim(), "");
fs.writeFileSync(outFile, L.join("\n"));
console.log(`report: ${outFile}`);
