// Cost per connected participant: P participants in sessions of 6, spread over K nodes sharing one
// redis-server (or a 3-primary Redis Cluster with --cluster), each sending `heartbeat` every 15 s
// (the default heartbeatIntervalMs of docs/protocol.md; the server answers heartbeat-ack and writes
// session:heartbeat:...), nothing else. Over a window of >= 45 s: Redis commands per participant
// per second, Redis CPU per 10,000 participants, node CPU and RSS per 1,000 participants.
//
//   node bench/scale/participants.mjs [--participants 6000] [--nodes 2] [--window 50] [--cluster]
//        [--settle 76] [--node-args '--cluster-sync 60s'] [--label before] [--out bench/results/scale-participants.json]
//
// The clients are bench/load's signaling-load (--mode hold; build/bench/signaling-load, or
// SIGNALING_LOAD): one process per ~19,000 connections (the 20,000 open-file limit); members of a
// session go to different nodes, as a load balancer without affinity would send them. The window
// starts once every participant is counted by the nodes (/metrics) plus --settle seconds: one
// heartbeat interval and one --cluster-sync (60 s) by default, so that it measures the steady
// state (the first sync after the joins reads every session whole; later ones check a settled
// session by its directory). --settle 16 gives the window the earlier runs had.
import {
  arg, clientRequestsPerS, commitOf, measure, monitorSample, nodeGauges, round, serverBin, sleep, startLoad, startNode, startRedisCluster,
  startSingleRedis, waitParticipants, withCleanup, writeResult,
} from './lib.mjs';

const P = Math.min(60_000, Number(arg('--participants', 6000)));
const K = Math.min(8, Number(arg('--nodes', 2)));
const WINDOW = Math.max(45, Math.min(300, Number(arg('--window', 50))));
const HB_MS = Number(arg('--hb-interval-ms', 15000));
const CLUSTER = process.argv.includes('--cluster');
const LABEL = arg('--label', 'current');
const OUT = arg('--out', null);
const CONNECT_RATE = Number(arg('--connect-rate', 1000));
const NODE_ARGS = arg('--node-args', '').split(' ').filter(Boolean); // e.g. "--cluster-sync 60s"

async function main() {
  return withCleanup(async (cleanups) => {
    const redis = CLUSTER ? await startRedisCluster() : await startSingleRedis();
    cleanups.push(redis.stop);
    const nodes = [];
    for (let i = 0; i < K; i++) {
      const node = await startNode(redis, `n${i + 1}`, NODE_ARGS);
      cleanups.push(node.stop);
      nodes.push(node);
    }
    await sleep(2000);
    const empty = await measure({ redis, nodes, windowS: 10 });
    const settleS = Number(arg('--settle', HB_MS / 1000 + 61));
    const hold = startLoad({ nodes, mode: 'hold', clients: P, durationS: 240 + settleS + WINDOW, prefix: `pp${Date.now() % 100000}`, hbMs: HB_MS, connectRate: CONNECT_RATE });
    cleanups.push(hold.stop);
    const t0 = Date.now();
    const have = await waitParticipants(nodes, P, 240, [hold]);
    const connectS = (Date.now() - t0) / 1000;
    if (have < P) process.stderr.write(`participants: only ${have} of ${P} connected\n`);
    await sleep(settleS * 1000);
    const m = await measure({ redis, nodes, windowS: WINDOW });
    // Client requests apart from the commands scripts run (MONITOR, a window of its own).
    const monitor = await monitorSample(redis, Number(arg('--monitor', 60))); // one --cluster-sync
    const after = await Promise.all(nodes.map(nodeGauges));
    const connected = after.reduce((a, x) => a + (x.signaling_participants ?? 0), 0);
    for (const node of nodes) if (!node.alive()) throw new Error(`node ${node.nodeId} died`);
    const nodeCpu = m.nodeCpuPct.reduce((a, x) => a + x, 0);
    const nodeRss = m.nodeRssMb.reduce((a, x) => a + x, 0);
    const emptyRss = empty.nodeRssMb.reduce((a, x) => a + x, 0);
    const hbSets = (m.redisPerCommand.set ?? 0) / connected;
    // Nobody joins or leaves in the window: the scripts' inner commands are known (lib.mjs).
    const topLevel = clientRequestsPerS(m);
    return {
      participants: connected, target: P, nodes: K, connectS: round(connectS, 1), empty, window: m, monitor,
      perParticipant: {
        redisCmdPerS: round(m.redisCmdPerS / connected, 4),
        redisCmdPerSNet: round((m.redisCmdPerS - empty.redisCmdPerS) / connected, 4),
        redisSetPerS: round(hbSets, 4),
        redisTopLevelCmdPerS: round(topLevel / connected, 4),
        redisClientCmdPerSMonitor: round(monitor.clientCmdPerS / connected, 4),
        redisCpuPctPer10k: round(m.redisCpuPct * 10_000 / connected, 2),
        nodeCpuPctPer1k: round(nodeCpu * 1000 / connected, 3),
        nodeRssMbPer1k: round((nodeRss - emptyRss) * 1000 / connected, 2),
      },
    };
  });
}

const r = await main();
const pp = r.perParticipant;
console.log(`Participants: ${r.participants} on ${r.nodes} nodes, ${CLUSTER ? '3-primary Redis Cluster' : 'one redis-server'}, heartbeat ${HB_MS / 1000} s, window ${r.window.windowS} s`);
console.log(`  redis commands/s: ${r.window.redisCmdPerS} (nobody connected: ${r.empty.redisCmdPerS}); per participant per s: ${pp.redisCmdPerS} (net ${pp.redisCmdPerSNet}; SET ${pp.redisSetPerS})`);
console.log(`  redis CPU: ${r.window.redisCpuPct} % (${pp.redisCpuPctPer10k} % per 10,000 participants)`);
console.log(`  node CPU: ${r.window.nodeCpuPct.join(' / ')} % (${pp.nodeCpuPctPer1k} % per 1,000); RSS ${r.window.nodeRssMb.join(' / ')} MB (${pp.nodeRssMbPer1k} MB per 1,000); fds ${r.window.nodeFds.join(' / ')}`);
console.log(`  redis per command/s: ${JSON.stringify(r.window.redisPerCommand)}`);
console.log(`  client requests (scripts counted once) per participant per s: ${pp.redisTopLevelCmdPerS} (INFO less the scripts' inner commands); MONITOR ${r.monitor.seconds} s: ${pp.redisClientCmdPerSMonitor} (${r.monitor.clientCmdPerS} client, ${r.monitor.scriptInnerCmdPerS} inner cmd/s)`);
const record = {
  bench: 'scale-participants', label: LABEL, date: new Date().toISOString(), commit: commitOf(), server: serverBin,
  redis: CLUSTER ? 'cluster-3' : 'single', heartbeatMs: HB_MS, nodeArgs: NODE_ARGS.join(' '), ...r,
};
if (OUT) writeResult(OUT, record);
