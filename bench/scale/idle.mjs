// Idle cost against declared sessions: one redis-server (or a 3-primary Redis Cluster with
// --cluster) and 2 signaling nodes, N sessions declared, nobody connected. For each N, over a fixed
// window: Redis commands/s (INFO total_commands_processed deltas minus this script's own INFO),
// Redis CPU (INFO used_cpu_sys + used_cpu_user), each node's CPU (/proc/<pid>/stat) and RSS.
//
//   node bench/scale/idle.mjs [--counts 0,1000,10000,100000] [--window 30] [--settle 12]
//        [--nodes 2] [--declare direct|api] [--cluster] [--label before] [--out bench/results/scale-idle.json]
//
// Each count gets a fresh Redis and fresh nodes. Sessions are declared with the writes of
// PUT /api/sessions/{id} pipelined into Redis (--declare direct, the default: the API at 100,000
// takes minutes on this machine with the pre-change nodes mirroring every session), or through the
// admin API (--declare api). Then `--settle` seconds pass (more than one --cluster-sync of the code
// before, 10 s, so a node that re-reads every session has done it once) before the window.
import {
  arg, commitOf, declareApi, declareDirect, measure, median, nodeGauges, round, serverBin, sleep, startNode,
  startRedisCluster, startSingleRedis, withCleanup, writeResult,
} from './lib.mjs';

const COUNTS = arg('--counts', '0,1000,10000,100000').split(',').map(Number).filter((n) => n >= 0 && n <= 200_000);
const WINDOW = Math.min(300, Number(arg('--window', 30)));
const SETTLE = Math.min(120, Number(arg('--settle', 12)));
const NODES = Math.min(8, Number(arg('--nodes', 2)));
const DECLARE = arg('--declare', 'direct');
const CLUSTER = process.argv.includes('--cluster');
const LABEL = arg('--label', 'current');
const OUT = arg('--out', null);

async function one(n) {
  return withCleanup(async (cleanups) => {
    const redis = CLUSTER ? await startRedisCluster() : await startSingleRedis();
    cleanups.push(redis.stop);
    const nodes = [];
    for (let i = 0; i < NODES; i++) {
      const node = await startNode(redis, `n${i + 1}`);
      cleanups.push(node.stop);
      nodes.push(node);
    }
    const t0 = Date.now();
    if (n > 0) {
      if (DECLARE === 'api') await declareApi(nodes, n, 'idle-');
      else await declareDirect(redis, n, 'idle-');
    }
    const declareS = (Date.now() - t0) / 1000;
    await sleep(SETTLE * 1000);
    const m = await measure({ redis, nodes, windowS: WINDOW });
    const gauges = await Promise.all(nodes.map(nodeGauges));
    for (const node of nodes) if (!node.alive()) throw new Error(`node ${node.nodeId} died`);
    return {
      sessions: n, declare: n ? DECLARE : null, declareS: round(declareS, 1), ...m,
      nodeSessionsKnown: gauges.map((g) => g.signaling_sessions ?? null),
    };
  });
}

const rows = [];
for (const n of COUNTS) {
  process.stderr.write(`idle: ${n} sessions (${CLUSTER ? 'cluster' : 'one redis'}, ${NODES} nodes) ...\n`);
  const r = await one(n);
  rows.push(r);
  process.stderr.write(`  ${JSON.stringify(r)}\n`);
}

const pad = (s, w) => String(s).padStart(w);
console.log(`Idle cost, ${NODES} nodes, ${CLUSTER ? '3-primary Redis Cluster' : 'one redis-server'}, window ${WINDOW} s (means over the window)`);
console.log(`${pad('sessions', 9)} ${pad('redis cmd/s', 12)} ${pad('redis CPU %', 12)} ${pad('node CPU % (each)', 20)} ${pad('node RSS MB', 14)} ${pad('known', 14)}`);
for (const r of rows) {
  console.log(`${pad(r.sessions, 9)} ${pad(r.redisCmdPerS, 12)} ${pad(r.redisCpuPct, 12)} ${pad(r.nodeCpuPct.join(' / '), 20)} ${pad(r.nodeRssMb.join(' / '), 14)} ${pad(r.nodeSessionsKnown.join(' / '), 14)}`);
}
const record = {
  bench: 'scale-idle', label: LABEL, date: new Date().toISOString(), commit: commitOf(), server: serverBin,
  redis: CLUSTER ? 'cluster-3' : 'single', nodes: NODES, windowS: WINDOW, settleS: SETTLE,
  medianCmdPerS: median(rows.map((r) => r.redisCmdPerS)), rows,
};
if (OUT) writeResult(OUT, record);
