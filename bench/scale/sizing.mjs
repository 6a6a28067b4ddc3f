// The sizing of docs/scaling.md, from the unit costs the scale model measured: what L concurrent
// learners need (nodes, Redis shards, memory, network, descriptors). Pure arithmetic; the
// assumptions are the options and are printed with the result.
//
//   node bench/scale/sizing.mjs [--model bench/results/scale-model-cluster-defaults.json]
//        [--learners 1000000] [--node-cores 4] [--node-cpu-target 0.5] [--redis-cpu-target 0.5]
//        [--fds-per-node 65536]
import fs from 'node:fs';

import { arg, round } from './lib.mjs';

// The model at the server's defaults (--cluster-sync 60s); the earlier run at 10 s if absent.
const file = arg('--model', ['bench/results/scale-model-cluster-defaults.json', 'bench/results/scale-model-cluster-after.json'].find((f) => fs.existsSync(f)));
const m = JSON.parse(fs.readFileSync(file, 'utf8'));
const L = Number(arg('--learners', 1_000_000));
const CORES = Number(arg('--node-cores', 4));
const NODE_TARGET = Number(arg('--node-cpu-target', 0.5)); // of every core, at the busy hour
const REDIS_TARGET = Number(arg('--redis-cpu-target', 0.5)); // of a primary's one core
const FDS = Number(arg('--fds-per-node', 65536));
const SESSION = 6;
const u = m.units;

// The model measured at its own relay rate per participant; the busy hour of L learners has the
// same rate per participant (meshes forming within the same spread), so unit costs scale linearly.
const nodeCoreShare = u.nodeCpuPctPer1k / 100 / 1000; // cores per participant
const perNodeByCpu = Math.floor((CORES * NODE_TARGET) / nodeCoreShare);
const perNodeByFds = FDS - 1024; // one per WebSocket; a margin for Redis links, HTTP, logs
const perNode = Math.min(perNodeByCpu, perNodeByFds);
const nodes = Math.ceil(L / perNode);
const nodeMemMb = (u.nodeRssMbPer1k * perNode) / 1000 + 20;

const redisCmd = u.redisCmdPerSPerParticipant * L; // INFO's count: a script's inner commands included
const redisRequests = u.redisClientCmdPerSPerParticipant ? u.redisClientCmdPerSPerParticipant * L : null; // a script once
const redisCores = (u.redisCpuPctPer10k / 100) * (L / 10_000);
const shardsByCpu = Math.ceil(redisCores / REDIS_TARGET);
// Redis CPU per command from another run (--cpu-per-command-from: the larger 12,000-participant
// model at --cluster-sync 10s by default), times this run's commands: a second estimate, for a run
// whose own CPU figure is unreliable (few participants, a saturated machine).
const cpuFile = arg('--cpu-per-command-from', 'bench/results/scale-model-cluster-after.json');
let perCommand = null;
if (cpuFile && fs.existsSync(cpuFile) && cpuFile !== file) {
  const c = JSON.parse(fs.readFileSync(cpuFile, 'utf8'));
  const sPerCmd = (c.loaded.redisCpuPct - c.idle.redisCpuPct) / 100 / (c.loaded.redisCmdPerS - c.idle.redisCmdPerS);
  const cores = sPerCmd * redisCmd;
  perCommand = { from: cpuFile, usPerCommand: round(sPerCmd * 1e6, 1), cores: round(cores, 2), shards: Math.ceil(cores / REDIS_TARGET) };
}
const redisMemMb = (u.redisMemMbPer1k * L) / 1000;

const sessions = L / SESSION;
const relayPerS = (m.relayRateOffered / m.target) * L;
const avgMsg = (3000 + 10 * 250) / 11; // an SDP of ~3 KB in 11 messages, ICE candidates of ~250 B
const heartbeatsPerS = L / 15;

const out = {
  model: file, assumptions: { learners: L, sessionSize: SESSION, nodeCores: CORES, nodeCpuTarget: NODE_TARGET, redisCpuTarget: REDIS_TARGET, fdsPerNode: FDS, relayPerParticipantPerS: round(m.relayRateOffered / m.target, 4) },
  units: u,
  nodes: { perNodeByCpu, perNodeByFds, perNode, nodes, rssMbPerNode: round(nodeMemMb, 0) },
  redis: { commandsPerS: Math.round(redisCmd), clientRequestsPerS: redisRequests === null ? null : Math.round(redisRequests), cores: round(redisCores, 2), shardsByCpu, byCpuPerCommand: perCommand, memoryMb: round(redisMemMb, 0) },
  traffic: { sessions: Math.round(sessions), heartbeatsPerS: Math.round(heartbeatsPerS), relayMsgsPerS: Math.round(relayPerS), relayMBPerS: round((relayPerS * avgMsg) / 1e6, 1) },
};
console.log(JSON.stringify(out, null, 2));
