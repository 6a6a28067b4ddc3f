// Writes the "Scale-out" section of BENCHMARKS.md (between its two marker comments, appended at
// the end the first time) from bench/results/scale-*.json (bench/scale/run.sh).
//
//   node bench/scale/report.mjs [results dir] [BENCHMARKS.md]
import fs from 'node:fs';
import path from 'node:path';

import { clientRequestsPerS } from './lib.mjs';

const dir = process.argv[2] ?? 'bench/results';
const md = process.argv[3] ?? 'BENCHMARKS.md';
const START = '<!-- scale-bench:start (bench/scale/report.mjs writes this section) -->';
const END = '<!-- scale-bench:end -->';
const load = (name) => {
  const f = path.join(dir, name);
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : null;
};
const n = (x, d = 0) => (x === null || x === undefined ? '–' : Number(x).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const sum = (xs) => xs.reduce((a, x) => a + (x ?? 0), 0);
const ratio = (a, b) => (a && b ? `${n(a / b, a / b >= 10 ? 0 : 1)}×` : '–');

const idle = [load('scale-idle-before.json'), load('scale-idle-after.json'), load('scale-idle-cluster-after.json'), load('scale-idle-defaults.json'), load('scale-idle-cluster-defaults.json')].filter(Boolean);
// Repeats of the same measurement: scale-participants-defaults-r1.json, -r2 ...
const repeats = (prefix) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && /-r\d+\.json$/.test(f)).sort().map(load) : []);
const partDefaults = repeats('scale-participants-defaults-');
const part = [load('scale-participants-before.json'), load('scale-participants-after.json'), load('scale-participants-after-sync60.json'),
  ...partDefaults, load('scale-participants-cluster-defaults.json'), load('scale-participants-6nodes-33c8b6f.json'),
  load('scale-participants-6nodes-defaults.json'),
  load('scale-participants-rev.json'), load('scale-participants-6nodes-rev.json'),
  load('scale-participants-cluster-6nodes-rev.json')].filter(Boolean);
const model = [load('scale-model-before.json'), load('scale-model-after.json'), load('scale-model-cluster-after.json'),
  load('scale-model-defaults.json'), load('scale-model-cluster-defaults.json'), load('scale-model-rev.json'),
  load('scale-model-cluster-rev.json')].filter((r) => r && r.participants > 0);
const store = (r) => (r.redis === 'cluster-3' ? '3-primary Redis Cluster' : 'one redis-server');
const med = (xs) => {
  const v = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!v.length) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
// What was measured: the code, and its --cluster-sync (10 s was the default until 60 s replaced it).
const isDefaults = (r) => r.label === 'after-defaults';
const isRev = (r) => r.label === 'after-rev';
const code = (r) => {
  if (r.label === 'before') return `before, \`--cluster-sync 10s\` (${r.commit})`;
  if (isRev(r)) return `directory check, defaults (${r.commit}), steady state`;
  if (isDefaults(r)) return `after, defaults: \`--cluster-sync 60s\` (${r.commit})`;
  return `after, \`${r.nodeArgs || '--cluster-sync 10s'}\` (${r.commit})`;
};
// A window's clients' requests (a script counted once; lib.mjs).
const clientCmd = clientRequestsPerS;
const L = [START, '## Scale-out', ''];

L.push('Measured by `bench/scale/run.sh` (`idle.mjs`, `participants.mjs`, `model.mjs`; results in',
  '`bench/results/scale-*.json`). Every figure is over one window on the 2 shared cores of this',
  'machine, while other builds ran: Redis command counts depend little on the machine (except where',
  'a node cannot keep up, as before at 100,000 sessions); CPU percentages are noisy: compare ratios.',
  '**Redis commands/s** is the delta of `INFO stats total_commands_processed` over the window,',
  'divided by its length, minus this benchmark\'s own `INFO` calls; Redis 7 counts there the',
  'commands a Lua script runs too (a sync read `EVALSHA` with its four `HGETALL` counts 5, where the',
  'issue\'s "801/s for 1,000 sessions" counted its client requests). Redis CPU is `used_cpu_sys +',
  'used_cpu_user`; a node\'s CPU is `utime + stime` of `/proc/<pid>/stat` over the window, its memory',
  'the RSS at the end. Sessions are declared with the writes of `PUT /api/sessions/{id}` pipelined',
  'into Redis (the `HSET` of the directory, as docs/deployment.md lets a platform do), then 12 s pass',
  '(one `--cluster-sync` of the code before, 10 s) before the window.',
  '**Client requests** counts a script once, as Redis sees its clients\' requests: the `INFO`',
  'count less the commands the scripts ran inside (`INFO commandstats` counts those under their own',
  'names: `GET` and `PEXPIRE` in the alive-key refresh, `HGETALL` in the re-read of a session); in',
  'the model, where join scripts also run, it is counted by `MONITOR` over a window of its own (its',
  'lines tagged `lua` are a script\'s inner commands).',
  '`--cluster-sync` is 60 s by default since the runs labelled "defaults"; the earlier rows ran at the',
  'default of their time, 10 s, or at the value given. Commands counts are the figures to compare:',
  'they barely move from run to run; CPU figures move with what else the 2 cores were doing (a CI',
  'run shared the machine during the "defaults" runs).', '');

{
  const at = (r, k) => r?.rows.find((x) => x.sessions === k);
  const ib = idle.find((r) => r.label === 'before');
  const ia = idle.find(isDefaults) ?? idle.find((r) => r.label === 'after' && r.redis === 'single');
  const pb = part.find((r) => r.label === 'before');
  const pd = partDefaults.length ? partDefaults : part.filter((r) => r.label === 'after' && !r.nodeArgs);
  const mb = model.find((r) => r.label === 'before');
  const ma = model.find((r) => isDefaults(r) && r.redis === 'single') ?? model.find((r) => r.label === 'after' && r.redis === 'single');
  const out = [];
  if (ib && ia) out.push(`- nobody connected, 100,000 declared sessions, 2 nodes: ${n(at(ib, 100000)?.redisCmdPerS)} → ${n(at(ia, 100000)?.redisCmdPerS, 1)} Redis commands/s (${ratio(at(ib, 100000)?.redisCmdPerS, at(ia, 100000)?.redisCmdPerS)} fewer), node RSS ${n(at(ib, 100000)?.nodeRssMb[0])} → ${n(at(ia, 100000)?.nodeRssMb[0], 1)} MB; the cost no longer depends on the sessions declared;`);
  if (pb && pd.length) {
    const tot = med(pd.map((r) => r.perParticipant.redisCmdPerS));
    const cli = med(pd.map((r) => clientCmd(r.window) / r.participants));
    out.push(`- 6,000 participants heart-beating on 2 nodes: ${n(pb.perParticipant.redisCmdPerS, 3)} → ${n(tot, 3)} Redis commands per participant per second counted by \`INFO\` (a script's inner commands included; ${ratio(pb.perParticipant.redisCmdPerS, tot)} fewer), ${n(clientCmd(pb.window) / pb.participants, 3)} → ${n(cli, 3)} client requests (a script once): ${tot <= 0.1 ? 'the goal of ≤ 0.1 is met either way' : cli <= 0.1 ? 'the goal of ≤ 0.1 is met counting client requests, not counting a script\'s inner commands' : 'the goal of ≤ 0.1 is not met'}${pd.length > 1 ? ` (medians of ${pd.length} runs)` : ''};`);
  }
  if (mb && ma && Math.abs(mb.participants - ma.participants) < 0.1 * mb.participants) out.push(`- the 8-node model: ${n(mb.loaded.redisCmdPerS)} Redis commands/s with ${n(mb.sessions)} declared sessions before, ${n(ma.loaded.redisCmdPerS)} with ${n(ma.sessions)} ${isDefaults(ma) ? 'at the defaults' : 'after'} (${ratio(mb.loaded.redisCmdPerS, ma.loaded.redisCmdPerS)} fewer with 10× the sessions).`);
  else if (mb && ma) out.push(`- the 8-node model (joins, relays, heartbeats): ${n(mb.units.redisCmdPerSPerParticipant, 3)} → ${n(ma.units.redisCmdPerSPerParticipant, 3)} Redis commands per participant per second (${n(mb.participants)} and ${n(ma.participants)} participants), with ${n(mb.sessions)} → ${n(ma.sessions)} declared sessions costing ${n(mb.idle.redisCmdPerS)} → ${n(ma.idle.redisCmdPerS, 1)} commands/s with nobody connected.`);
  const p6old = part.filter((r) => isDefaults(r) && r.nodes === 6).at(-1);  // the quadratic one first
  const p6new = part.find((r) => isRev(r) && r.nodes === 6 && r.redis !== 'cluster-3');
  if (p6old && p6new) {
    const a = p6old.perParticipant.redisCmdPerS;
    const b = p6new.perParticipant.redisCmdPerS;
    out.push(`- the same with each session's members on 6 nodes, by the sync's directory check (steady state): ${n(a, 3)} → ${n(b, 3)} Redis commands per participant per second by \`INFO\`, ${n(clientCmd(p6old.window) / p6old.participants, 3)} → ${n(clientCmd(p6new.window) / p6new.participants, 3)} client requests: ${b <= 0.1 ? 'the goal of ≤ 0.1 is met there too' : 'the goal of ≤ 0.1 is not met there'};`);
  }
  const mr = model.find((r) => isRev(r) && r.redis === 'single');
  if (ma && mr) out.push(`- the 8-node model at the defaults (a session's members on 6 nodes), by the directory check: heartbeats only ${n(ma.units.heldRedisCmdPerSPerParticipant, 3)} → ${n(mr.units.heldRedisCmdPerSPerParticipant, 3)} Redis commands per participant per second by \`INFO\`, the busy hour (joins, relays) ${n(ma.units.redisCmdPerSPerParticipant, 3)} → ${n(mr.units.redisCmdPerSPerParticipant, 3)} (${n(ma.participants)} and ${n(mr.participants)} participants).`);
  if (out.length) L.push('In short (before → after at the defaults, one redis-server):', '', ...out, '');
}

if (idle.length) {
  L.push('### Idle cost: declared sessions, nobody connected', '');
  L.push(`${idle[0].nodes} nodes, a window of ${[...new Set(idle.map((r) => r.windowS))].join(' or ')} s per count, a fresh Redis and fresh nodes per count.`, '');
  L.push('| code | store | sessions | Redis commands/s | Redis CPU % | node CPU % (each) | node RSS MB (each) | sessions in a node\'s memory |');
  L.push('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of idle) {
    for (const row of r.rows) {
      L.push(`| ${code(r)} | ${store(r)} | ${n(row.sessions)} | ${n(row.redisCmdPerS, 1)} | ${n(row.redisCpuPct, 2)} | ${row.nodeCpuPct.map((x) => n(x, 2)).join(' / ')} | ${row.nodeRssMb.map((x) => n(x, 1)).join(' / ')} | ${row.nodeSessionsKnown.map((x) => n(x)).join(' / ')} |`);
    }
  }
  L.push('', '![Redis commands/s against declared sessions](bench/results/scale-idle.svg)', '');
  const [b, a] = idle;
  const at = (r, s) => r?.rows.find((x) => x.sessions === s);
  if (b) {
    const b1 = at(b, 1000);
    const b10 = at(b, 10000);
    const b100 = at(b, 100000);
    L.push(`Before, the cost grows with the sessions: ${n(b1?.redisCmdPerS)} commands/s at 1,000, ${n(b10?.redisCmdPerS)} at 10,000 (${ratio(b10?.redisCmdPerS, b1?.redisCmdPerS)}), and ${n(b100?.redisCmdPerS)} at 100,000,`,
      `where the two nodes no longer finish a sync of 100,000 sessions within 10 s, so the figure varies from run to run with how fast they get through it (their CPU ${b100?.nodeCpuPct.map((x) => n(x, 1)).join(' and ')} %, each holding all ${n(b100?.nodeSessionsKnown[0])} sessions in ${n(b100?.nodeRssMb[0])} MB).`);
    if (a) {
      const a0 = at(a, 0);
      const a100 = at(a, 100000);
      L.push(`After, a node reads a session only for its own participants: ${n(a0?.redisCmdPerS, 1)} commands/s with none declared and ${n(a100?.redisCmdPerS, 1)} with 100,000 (${ratio(b100?.redisCmdPerS, a100?.redisCmdPerS)} fewer than before),`,
        `node RSS ${a100?.nodeRssMb.map((x) => n(x, 1)).join(' / ')} MB: flat.`);
    }
    const d = idle.find(isDefaults);
    if (d) {
      L.push(`At the defaults (${d.commit}: \`--cluster-sync 60s\`, the node id claim refreshed by a script): ${n(at(d, 0)?.redisCmdPerS, 1)} commands/s with none declared, ${n(at(d, 10000)?.redisCmdPerS, 1)} with 10,000, ${n(at(d, 100000)?.redisCmdPerS, 1)} with 100,000 (${n(clientCmd(at(d, 100000)), 1)} client requests: one \`EVALSHA\` per node per tick, its \`GET\` and \`PEXPIRE\` inside): still flat.`);
    }
    const c = idle.find((r) => r.redis === 'cluster-3');
    if (c) {
      L.push(`On a 3-primary Redis Cluster (\`--redis-cluster\`; commands summed over the primaries): ${n(at(c, 0)?.redisCmdPerS, 1)} commands/s with none declared,`,
        `${n(at(c, 100000)?.redisCmdPerS, 1)} with 100,000 (the nodes' alive keys, their subscription checks and a \`CLUSTER SHARDS\` now and then).`);
    }
    L.push('');
  }
}

if (part.length) {
  L.push('### Per connected participant', '');
  L.push('Participants in sessions of 6 over 2 nodes (a session\'s members on both) or 6 nodes (on all 6: the most nodes a session of 6 can cost), each sending `heartbeat` every 15 s, nothing else (`signaling-load --mode hold`).',
    'The window starts one heartbeat after the last connect in the earlier runs; in the "steady state" runs, one `--cluster-sync` later (`--settle 76`):',
    'the first sync after the joins reads every session whole, the later ones check a settled session by its directory.', '');
  L.push('| code | store | nodes | participants | Redis commands/s | per participant per s (`INFO`) | client requests per participant per s | of which heartbeat `SET` | Redis CPU % per 10,000 | node CPU % per 1,000 | node RSS MB per 1,000 |');
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of part) {
    const p = r.perParticipant;
    L.push(`| ${code(r)} | ${store(r)} | ${r.nodes ?? 2} | ${n(r.participants)} | ${n(r.window.redisCmdPerS, 1)} | ${n(p.redisCmdPerS, 4)} | ${n(clientCmd(r.window) / r.participants, 4)} | ${n(p.redisSetPerS, 4)} | ${n(p.redisCpuPctPer10k, 2)} | ${n(p.nodeCpuPctPer1k, 3)} | ${n(p.nodeRssMbPer1k, 2)} |`);
  }
  if (partDefaults.length > 1) {
    const f = (g, d) => n(med(partDefaults.map(g)), d);
    L.push(`| **median of the ${partDefaults.length} runs at the defaults** | one redis-server | 2 | | ${f((r) => r.window.redisCmdPerS, 1)} | **${f((r) => r.perParticipant.redisCmdPerS, 4)}** | **${f((r) => clientCmd(r.window) / r.participants, 4)}** | ${f((r) => r.perParticipant.redisSetPerS, 4)} | ${f((r) => r.perParticipant.redisCpuPctPer10k, 2)} | ${f((r) => r.perParticipant.nodeCpuPctPer1k, 3)} | ${f((r) => r.perParticipant.nodeRssMbPer1k, 2)} |`);
  }
  const mon = part.filter((r) => r.monitor);
  L.push('', 'The goal is ≤ 0.1 Redis command per participant per second; a heartbeat every 15 s is 0.067 by itself.');
  if (mon.length) {
    L.push(`Cross-check of the client requests by \`MONITOR\` after the window, under the same load: ${mon.map((r) => `${n(r.monitor.clientCmdPerS / r.participants, 4)} (${store(r)}, ${r.monitor.seconds} s)`).join(', ')} per participant per second`,
      '(a window shorter than `--cluster-sync` may hold no re-read at all: the `INFO` figure over 120 s is the one to read).');
  }
  L.push('');
  for (const r of part) {
    const pc = r.window.redisPerCommand;
    // EVALSHA also counts the alive-key refresh (one PEXPIRE each, where the key is the node's own).
    const sync = ((pc.evalsha ?? 0) - (pc.pexpire ?? 0) + (pc.hgetall ?? 0)) / r.participants;
    L.push(`- ${code(r)}, ${store(r)}: Redis commands/s by command (a script's inner commands included): ${Object.entries(pc).map(([k, v]) => `${k} ${n(v, 1)}`).join(', ')};`,
      `  the re-read of sessions (\`EVALSHA\` of the read script and its \`HGETALL\`s) is ${n(sync, 3)} per participant per second.`);
  }
  L.push('', 'With nobody relaying, what is left beside the heartbeat is the periodic re-read of the sessions a node hosts',
    '(`--cluster-sync`), on each node hosting one of their members: one `EVALSHA` of the read script and its',
    'three or four `HGETALL`s. With the members of a session on different nodes (no affinity at the load balancer),',
    'that is up to 6 reads of a session of 6 per sync, 5 commands each: at 10 s (the default before) about 0.17',
    'commands per participant per second on 2 nodes, up to 0.5 with a session\'s members on 6 nodes; at 60 s (the',
    'default now) 0.03 on 2 nodes, up to 0.08 on 6 (client requests: 0.006 and up to 0.017). The alive key of each node is refreshed every tick by a',
    'compare-and-set script (the node id claim): one `EVALSHA` (with its `GET` and `PEXPIRE`) per node every',
    'third of `--node-ttl` (0.3 per second by default), independent of the participants.', '');
  const quadratic = part.find((r) => r.commit === '33c8b6f');
  const walk = part.find((r) => r.commit === '7455ebf');
  if (quadratic && walk) {
    L.push(`The ${quadratic.commit} and ${walk.commit} rows (6 nodes, every sync a whole read) show a defect this measurement found. Beside the`,
      'whole reads, restore scripts ran all through the window (their `HGET`, `HSET`, `EXISTS`, `EXPIRE`): a node runs them only',
      'after it lost Redis or was presumed dead (its tick late past two thirds of `--node-ttl`), and then re-reads every session',
      `too. At ${quadratic.commit} a whole read looked for the session's missing members among the remote members of every session the`,
      'node hosts (a copy of each): with a session\'s members on 6 nodes each node hosts every session, 1,000 reads of 5,000',
      `remote members per sync: ${n(quadratic.perParticipant.redisCmdPerS, 2)} commands per participant per second, ${n(quadratic.perParticipant.nodeCpuPctPer1k, 1)} % of a core per 1,000 participants.`,
      `${walk.commit} looks among that session's members only: ${n(walk.perParticipant.redisCmdPerS, 2)} and ${n(walk.perParticipant.nodeCpuPctPer1k, 1)} %, restores still running (about 40 a second).`,
      'With the directory check no restore ran in the window. The node logs were not kept: that the nodes were presumed dead',
      'after stalling on their syncs, with six of them and Redis on 2 cores, is inferred from the commands, not seen.', '');
  }
  const revs = part.filter(isRev);
  if (revs.length) {
    L.push('Since the directory check (the "steady state" rows), a node reads a session whole at a sync only when its directory',
      'changed since a read that left its copy as Redis lists it (every presence script increments the directory\'s `rev`, and',
      'the platform\'s own writes are in it): a settled session costs each node hosting one of its members one `HGETALL`',
      'per sync, a sixth of a participant\'s heartbeats with its members on 6 nodes. Measured: ' +
      revs.map((r) => `${n(r.participants)} participants on ${r.nodes} nodes (${store(r)}) ${n(r.perParticipant.redisCmdPerS, 4)} by \`INFO\`, ${n(clientCmd(r.window) / r.participants, 4)} client requests`).join('; ') + '.', '');
  }
}

if (model.length) {
  L.push('### The scale model', '');
  const m0 = model.find((r) => r.redis === 'cluster-3') ?? model.at(-1);
  L.push(`${m0.nodes} nodes, the declared sessions and the participants of each row, in sessions of 6 (4 client processes, each session's members on 6 of the 8 nodes), heartbeats every 15 s,`,
    `a stream of joins and departures (everyone stays ${m0.stayMin} min: ${n(m0.joinRateOffered, 1)} joins/s for ${n(m0.target)} participants) and relays at ${n(m0.relayRateOffered / m0.target, 3)} msgs/s per participant (${n(m0.relayRateOffered)} msgs/s for ${n(m0.target)}: each 6-person mesh's 330 messages,`,
    `one in 11 an offer/answer, the meshes forming within ${m0.joinSpreadMin} min: a class hour starting), measured over ${[...new Set(model.map((r) => r.windowS))].join(' or ')} s.`,
    'Unit costs subtract the same deployment with nobody connected (measured first). "Heartbeats only" is the',
    'window before the joins and relays start (60 s in the "defaults" runs: it holds one `--cluster-sync`;',
    '20 s before). Client requests under load are counted by `MONITOR` (60 s, one sync, after the window, the same load);',
    'with heartbeats only, from `INFO` (less the inner `GET`, `PEXPIRE`, `HGETALL`).', '');
  const smallDefaults = model.filter((r) => isDefaults(r) && r.target < m0.target);
  if (smallDefaults.length) {
    L.push(`The runs at the defaults had ${smallDefaults.map((r) => `${n(r.target)} participants (${store(r)}: ${n(r.joinRateOffered, 1)} joins/s, ${n(r.relayRateOffered)} msgs/s)`).join(' and ')}, the same rates per participant,`,
      'and the hold clients connected at 200/s instead of 2,000/s: a CI run and other builds saturated the 2 cores then (load average 11 to 22),',
      'and four attempts with 12,000 failed (the last one with the load average back to 7 at its start, 20 during it): Redis, starved of CPU, answered later than the nodes\' 5 s command timeout, the nodes',
      'dropped their Redis connections (`redis command timed out: dropping the connection`), their restores failed, and the',
      'admin API answered `503 store_unavailable`. Their command counts per participant compare with the larger runs\'; their CPU figures are upper bounds.', '');
  }
  const small = model.find((r) => r.label === 'before' && r.sessions < 100_000);
  if (small) {
    L.push(`The code before ran the model with ${n(small.sessions)} declared sessions: with 100,000, its 8 nodes re-reading every`,
      'session each 10 s kept Redis so busy that the admin API answered `503 store_unavailable` to the load tool\'s',
      '`PUT /api/sessions/{id}` and no participant could be admitted.', '');
  }
  L.push('| code | store | sessions | participants | Redis cmd/s idle → loaded | Redis cmd/s per participant (`INFO`) | client requests per participant | heartbeats only: `INFO` / client requests | Redis CPU % per 10,000 | node CPU % per 1,000 | node RSS MB per 1,000 | Redis cmd/s per idle session | relay p50 / p99 ms | open files per node |');
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of model) {
    const u = r.units;
    const lat = r.relay?.latencyUs;
    const heldCli = u.heldClientCmdPerSPerParticipant ?? (clientCmd(r.held) - clientCmd(r.idle)) / r.participants;
    L.push(`| ${code(r)} | ${store(r)} | ${n(r.sessions)} | ${n(r.participants)} | ${n(r.idle.redisCmdPerS)} → ${n(r.loaded.redisCmdPerS)} | ${n(u.redisCmdPerSPerParticipant, 3)} | ${u.redisClientCmdPerSPerParticipant !== undefined && u.redisClientCmdPerSPerParticipant !== null ? n(u.redisClientCmdPerSPerParticipant, 3) : '–'} | ${n(u.heldRedisCmdPerSPerParticipant, 3)} / ${n(heldCli, 3)} | ${n(u.redisCpuPctPer10k, 2)} | ${n(u.nodeCpuPctPer1k, 3)} | ${n(u.nodeRssMbPer1k, 2)} | ${n(u.idleRedisCmdPerSPerSession, 5)} | ${lat ? `${n(lat.p50_us / 1000, 2)} / ${n(lat.p99_us / 1000, 2)}` : '–'} | ${n(Math.max(...r.files.perNode))} |`);
  }
  L.push('');
  for (const r of model) {
    const pc = r.loaded.redisPerCommand;
    const sync = (pc.evalsha ?? 0) + (pc.hgetall ?? 0);
    L.push(`- ${code(r)}, ${store(r)}: of the ${n(r.loaded.redisCmdPerS)} Redis commands/s loaded, \`EVALSHA\` + \`HGETALL\` (the periodic re-read of sessions, and the join scripts) ${n(sync)},`,
      `  \`SET\` (heartbeats) ${n(pc.set ?? 0)}, \`${pc.spublish !== undefined ? 'SPUBLISH' : 'PUBLISH'}\` (relays and events) ${n((pc.publish ?? 0) + (pc.spublish ?? 0))}; join p50 / p99 ${r.join?.latencyUs ? `${n(r.join.latencyUs.p50_us / 1000, 1)} / ${n(r.join.latencyUs.p99_us / 1000, 1)} ms` : '–'}; Redis memory ${n(r.loaded.redisMemMb)} MB.`);
  }
  L.push('', 'The relay and join tails (p99 of hundreds of ms) are this machine\'s: 8 nodes, Redis and 6 client processes on 2',
    'cores that other engineers\' builds also used (load average above 10); the medians are the figures to read.');
  L.push('', '[docs/scaling.md](docs/scaling.md) works out from these unit costs what one million concurrent learners need.', '');
}
L.push(END);

const section = L.join('\n');
let doc = fs.readFileSync(md, 'utf8');
const a = doc.indexOf(START);
const b = doc.indexOf(END);
if (a >= 0 && b > a) doc = doc.slice(0, a) + section + doc.slice(b + END.length);
else doc = `${doc.replace(/\n*$/, '\n')}\n${section}\n`;
fs.writeFileSync(md, doc);
console.log(section);
