// The scale model: a deployment simulated on this machine. K nodes (default 8), N declared
// sessions (default 100,000; nobody in most of them), P participants connected in sessions of 6 and
// heart-beating every 15 s, a stream of joins and departures, and relay traffic at the rate that
// joining meshes produce; once against one redis-server (--redis) and once against a 3-primary
// Redis Cluster (--cluster: the nodes get --redis-cluster). It reports the unit costs: node CPU and
// memory per 1,000 participants, Redis commands and CPU per participant, the cost per idle
// session, relay latency percentiles, and the open files of every process.
//
//   node bench/scale/model.mjs [--nodes 8] [--sessions 100000] [--participants 12000]
//        [--window 60] [--stay-min 45] [--join-spread-min 10] [--settle 76] [--cluster] [--label before] [--out F]
//
// The traffic, from the model of a class: every participant stays --stay-min minutes (so
// P / stay joins per second, each with its departure: signaling-load --mode join), and a 6-person
// mesh exchanges about 330 messages (15 offer/answer pairs = 30 SDP, 300 ICE candidates) when it
// forms; the sessions of the P participants form within --join-spread-min minutes (the start of
// a class hour, the busy case), so the relay rate is P/6 × 330 / spread, one message in 11 an SDP
// (signaling-load --mode relay on its own 120 clients, which gives the latency).
// Participants: 4 hold processes, each sending its sessions' members to 6 of the K nodes, rotated,
// so every node gets the same share and most relays cross nodes (no session affinity).
import {
  arg, clientRequestsPerS, commitOf, declareDirect, measure, monitorSample, nodeGauges, processTree, procSample, round, serverBin, sleep, startLoad,
  startNode, startRedisCluster, startSingleRedis, waitParticipants, withCleanup, writeResult,
} from './lib.mjs';

const K = Math.max(2, Math.min(12, Number(arg('--nodes', 8))));
const N = Math.min(200_000, Number(arg('--sessions', 100_000)));
const P = Math.min(60_000, Number(arg('--participants', 12_000)));
const WINDOW = Math.max(45, Math.min(300, Number(arg('--window', 60))));
const STAY_MIN = Number(arg('--stay-min', 45));
const SPREAD_MIN = Number(arg('--join-spread-min', 10));
const CLUSTER = process.argv.includes('--cluster');
const LABEL = arg('--label', 'current');
const OUT = arg('--out', null);
const MONITOR_S = Number(arg('--monitor', 60)); // a MONITOR window after the measured one (0: none): one
// --cluster-sync, so that each node's re-read of its sessions falls in it once
// Connections opened per second by each of the 4 hold processes: a slower start keeps a loaded
// machine's Redis from timing out (5 s) while 8 nodes admit thousands of joins at once.
const CONNECT_RATE = Number(arg('--connect-rate', 500));
const HOLDERS = 4;
const RELAY_CLIENTS = 120;

const relayRate = Math.max(10, Math.round((P / 6) * 330 / (SPREAD_MIN * 60)));
const joinRate = Math.max(1, round(P / (STAY_MIN * 60), 1));

async function main() {
  return withCleanup(async (cleanups) => {
    const redis = CLUSTER ? await startRedisCluster() : await startSingleRedis();
    cleanups.push(redis.stop);
    const nodes = [];
    for (let i = 0; i < K; i++) {
      const node = await startNode(redis, `n${i + 1}`);
      cleanups.push(node.stop);
      nodes.push(node);
    }
    const t0 = Date.now();
    if (N > 0) await declareDirect(redis, N, 'model-');
    const declareS = (Date.now() - t0) / 1000;
    await sleep(12_000); // one --cluster-sync: the pre-change nodes read every session once
    const idle = await measure({ redis, nodes, windowS: 20 });

    // Participants, heart-beating.
    // Past one --cluster-sync after the last connect (60 s by default): the heartbeats-only window
    // measures the steady state, not the first read of every session after its joins. --settle 16
    // gives the window the earlier runs had.
    const settleS = Number(arg('--settle', 76));
    const heldS = Number(arg('--held-window', 60));
    // The hold clients stay until the MONITOR window after the measured one has ended.
    const loadS = 240 + settleS + heldS + 8 + WINDOW + MONITOR_S + 20;
    const tag = Date.now() % 100000;
    const holders = [];
    for (let h = 0; h < HOLDERS; h++) {
      const rot = Math.round((h * K) / HOLDERS);
      const rotated = nodes.slice(rot).concat(nodes.slice(0, rot));
      const hold = startLoad({ nodes: rotated, mode: 'hold', clients: Math.round(P / HOLDERS), durationS: loadS, prefix: `mh${h}x${tag}`, connectRate: CONNECT_RATE });
      cleanups.push(hold.stop);
      holders.push(hold);
    }
    const tc = Date.now();
    const have = await waitParticipants(nodes, P, 240, holders);
    if (have === 0) throw new Error('model: no participant connected (see the signaling-load errors above)');
    const connectS = (Date.now() - tc) / 1000;
    if (have < P) process.stderr.write(`model: only ${have} of ${P} participants connected\n`);
    await sleep(settleS * 1000);
    // One --cluster-sync (60 s by default) at least: the re-read of hosted sessions is in the window.
    const held = await measure({ redis, nodes, windowS: heldS });

    // Joins and relays on top.
    const join = startLoad({ nodes, mode: 'join', durationS: WINDOW + MONITOR_S + 12, prefix: `mj${tag}`, joinRate });
    cleanups.push(join.stop);
    const relay = startLoad({ nodes, mode: 'relay', clients: RELAY_CLIENTS, durationS: WINDOW + MONITOR_S + 12, prefix: `mr${tag}`, rate: relayRate, extra: ['--sdp-every', '11'] });
    cleanups.push(relay.stop);
    await sleep(8000); // the relay clients connect, the join stream starts
    const loadPids = [...holders, join, relay].flatMap((l) => processTree(l.proc.pid));
    const m = await measure({ redis, nodes, windowS: WINDOW, extraPids: loadPids });
    // Client requests apart from the commands scripts run, under the same load (its own window).
    const monitor = MONITOR_S > 0 ? await monitorSample(redis, MONITOR_S) : null;
    const gauges = await Promise.all(nodes.map(nodeGauges));
    const [joinOut, relayOut] = await Promise.all([join.done, relay.done]);
    for (const node of nodes) if (!node.alive()) throw new Error(`node ${node.nodeId} died`);

    const connected = gauges.reduce((a, g) => a + (g.signaling_participants ?? 0), 0);
    const sum = (xs) => xs.reduce((a, x) => a + (x ?? 0), 0);
    const loadFds = m.extra.filter((e) => e.fds > 0).map((e) => e.fds);
    return {
      nodes: K, sessions: N, participants: connected, target: P, declareS: round(declareS, 1), connectS: round(connectS, 1),
      relayRateOffered: relayRate, joinRateOffered: joinRate,
      idle, held, loaded: m, monitor,
      relay: relayOut ? { delivered: relayOut.steps?.[0]?.delivered_rate ?? null, latencyUs: relayOut.steps?.[0]?.latency ?? null } : null,
      join: joinOut ? { rate: joinOut.join?.measured_rate ?? null, latencyUs: joinOut.join?.latency ?? null } : null,
      files: { perNode: m.nodeFds, loadProcesses: loadFds, maxLoadProcess: Math.max(0, ...loadFds) },
      units: {
        idleRedisCmdPerSPerSession: N ? round(idle.redisCmdPerS / N, 5) : null,
        idleNodeCpuPctPer1kSessions: N ? round(sum(idle.nodeCpuPct) * 1000 / N, 3) : null,
        idleNodeRssMbPer1kSessions: N ? round(sum(idle.nodeRssMb) * 1000 / N, 3) : null,
        heldRedisCmdPerSPerParticipant: round((held.redisCmdPerS - idle.redisCmdPerS) / connected, 4),
        // Heartbeats only, nobody joining: the scripts that run are the alive-key refresh (GET,
        // PEXPIRE) and the re-read of hosted sessions (HGETALL); without them, the clients' requests.
        heldClientCmdPerSPerParticipant: round((clientRequestsPerS(held) - clientRequestsPerS(idle)) / connected, 4),
        redisCmdPerSPerParticipant: round((m.redisCmdPerS - idle.redisCmdPerS) / connected, 4),
        // MONITOR's client requests (a script once) less the idle deployment's (INFO: no script then
        // but the alive-key refresh, GET and PEXPIRE inside).
        redisClientCmdPerSPerParticipant: monitor ? round((monitor.clientCmdPerS - clientRequestsPerS(idle)) / connected, 4) : null,
        redisCpuPctPer10k: round((m.redisCpuPct - idle.redisCpuPct) * 10_000 / connected, 2),
        nodeCpuPctPer1k: round((sum(m.nodeCpuPct) - sum(idle.nodeCpuPct)) * 1000 / connected, 3),
        nodeRssMbPer1k: round((sum(m.nodeRssMb) - sum(idle.nodeRssMb)) * 1000 / connected, 2),
        redisMemMbPer1k: round((m.redisMemMb - idle.redisMemMb) * 1000 / connected, 2),
      },
    };
  });
}

const r = await main();
const u = r.units;
const lat = r.relay?.latencyUs;
console.log(`Scale model: ${r.nodes} nodes, ${r.sessions} declared sessions, ${r.participants} participants, ${CLUSTER ? '3-primary Redis Cluster' : 'one redis-server'}; relay ${r.relayRateOffered} msgs/s offered, joins ${r.joinRateOffered}/s`);
console.log(`  idle (nobody connected): redis ${r.idle.redisCmdPerS} cmd/s, ${r.idle.redisCpuPct} % CPU; nodes ${r.idle.nodeCpuPct.join(' ')} % CPU`);
console.log(`  held (heartbeats only): redis ${r.held.redisCmdPerS} cmd/s; loaded: redis ${r.loaded.redisCmdPerS} cmd/s, ${r.loaded.redisCpuPct} % CPU; nodes ${r.loaded.nodeCpuPct.join(' ')} % CPU, RSS ${r.loaded.nodeRssMb.join(' ')} MB`);
console.log(`  per idle session: ${u.idleRedisCmdPerSPerSession} redis cmd/s; per participant: ${u.redisCmdPerSPerParticipant} redis cmd/s (heartbeats only ${u.heldRedisCmdPerSPerParticipant}, client requests ${u.heldClientCmdPerSPerParticipant}); redis CPU ${u.redisCpuPctPer10k} % per 10,000`);
console.log(`  node CPU ${u.nodeCpuPctPer1k} % and RSS ${u.nodeRssMbPer1k} MB per 1,000 participants; redis memory ${u.redisMemMbPer1k} MB per 1,000`);
if (r.monitor) console.log(`  client requests (MONITOR ${r.monitor.seconds} s): ${r.monitor.clientCmdPerS} cmd/s, script inner ${r.monitor.scriptInnerCmdPerS} cmd/s; per participant ${u.redisClientCmdPerSPerParticipant}`);
if (lat) console.log(`  relay latency: p50 ${lat.p50_us ?? lat.p50} us, p99 ${lat.p99_us ?? lat.p99} us (delivered ${r.relay.delivered} msgs/s)`);
console.log(`  open files: nodes ${r.files.perNode.join(' ')}; load processes up to ${r.files.maxLoadProcess}`);
const record = {
  bench: 'scale-model', label: LABEL, date: new Date().toISOString(), commit: commitOf(), server: serverBin,
  redis: CLUSTER ? 'cluster-3' : 'single', windowS: WINDOW, stayMin: STAY_MIN, joinSpreadMin: SPREAD_MIN, ...r,
};
if (OUT) writeResult(OUT, record);
