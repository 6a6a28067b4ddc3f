// Shared pieces of the scale benchmarks (bench/scale/*.mjs): a redis-server or a 3-primary Redis
// Cluster on loopback, signaling-server nodes on either, sessions declared in bulk, and the
// samplers (Redis commands and CPU from INFO, a process's CPU, RSS and open files from /proc).
// Everything listens on 127.0.0.1 only; every wait is bounded.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { RespClient, RedisProcess, REDIS_BIN } from '../../tests/integration/cluster-harness.mjs';
import { sleep, waitFor, withTimeout } from '../../tests/integration/harness.mjs';

export { sleep };
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const serverBin = process.env.SIGNALING_BIN || path.join(root, 'build', 'signaling-server');
export const loadBin = process.env.SIGNALING_LOAD ||
  [path.join(root, 'build', 'signaling-load'), path.join(root, 'build', 'bench', 'signaling-load')].find((f) => fs.existsSync(f)) ||
  path.join(root, 'build', 'signaling-load');
const CLK_TCK = 100; // getconf CLK_TCK on Linux

export function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return 0;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
export const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * A window's client requests per second (a script counted once): INFO's count less the commands
 * scripts ran inside. Valid with nobody joining: the scripts are then the alive-key refresh (one
 * GET and one PEXPIRE inside) and the whole read of a hosted session (four HGETALL inside); a
 * sync's directory check is an HGETALL of its own, which stays counted.
 */
export function clientRequestsPerS(w) {
  const pc = w.redisPerCommand;
  const reads = Math.max(0, (pc.evalsha ?? 0) - (pc.pexpire ?? 0));
  return w.redisCmdPerS - (pc.get ?? 0) - (pc.pexpire ?? 0) - 4 * reads;
}

/** The last commit of the server sources: what was measured (SCALE_COMMIT when the binary is another tree's). */
export function commitOf() {
  if (process.env.SCALE_COMMIT) return process.env.SCALE_COMMIT; // a binary built elsewhere
  const r = spawnSync('git', ['log', '-1', '--format=%h', '--', 'src'], { cwd: root, encoding: 'utf8' });
  return r.stdout.trim() || 'unknown';
}

// ---------------------------------------------------------------------------------------------
// /proc samplers

export function procSample(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime + stime (fields 14 and 15)
    const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    let fds = 0;
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      fds = -1;
    }
    return { cpuS: ticks / CLK_TCK, rssKb: rss, fds };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Redis: one server, or a Redis Cluster of 3 primaries

/** CRC16/XMODEM, as Redis Cluster's key slot (with the hash tag rule). */
const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();
export function keySlot(key) {
  let k = key;
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) k = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const b of Buffer.from(k)) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ b) & 0xff];
  return crc % 16384;
}

/** A free port below 55536 (a cluster node's bus listens on port + 10000). */
async function lowFreePort() {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + crypto.randomInt(30000);
    const ok = await new Promise((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    const bus = ok && await new Promise((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port + 10000, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (bus) return port;
  }
  throw new Error('no free port below 55536');
}

/** One redis-server (no persistence). `.primaries` = [{port, pid}], `.nodeArgs` = the node's flags. */
export async function startSingleRedis() {
  const r = new RedisProcess();
  await r.start();
  return {
    kind: 'single',
    primaries: [{ port: r.port, pid: r.proc.pid }],
    nodeArgs: ['--redis', r.url],
    dirKey: (id) => `session:dir:${id}`,
    stop: () => r.cleanup(),
  };
}

/** Three primaries, each with its own --dir, joined by `redis-cli --cluster create`. No replicas. */
export async function startRedisCluster(n = 3) {
  const procs = [];
  const stop = async () => {
    for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGTERM');
    await Promise.all(procs.map((p) => withTimeout(p.exited, 5000, 'redis exit').catch(() => p.proc.kill('SIGKILL'))));
    for (const p of procs) fs.rmSync(p.dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) {
      const port = await lowFreePort();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-scale-rc-'));
      const proc = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000',
        '--dir', dir, '--daemonize', 'no', '--logfile', path.join(dir, 'redis.log')], { stdio: 'ignore' });
      procs.push({ port, dir, proc, exited: new Promise((r) => proc.on('exit', r)) });
    }
    for (const p of procs) {
      await waitFor(async () => {
        try {
          const c = await RespClient.connect(p.port);
          const pong = await c.cmd('PING');
          c.close();
          return pong === 'PONG';
        } catch {
          return false;
        }
      }, { timeoutMs: 10_000, what: `redis ${p.port}` });
    }
    const cr = spawnSync('redis-cli', ['--cluster', 'create', ...procs.map((p) => `127.0.0.1:${p.port}`),
      '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (cr.status !== 0) throw new Error(`redis-cli --cluster create failed: ${cr.stdout}${cr.stderr}`);
    await waitFor(async () => {
      for (const p of procs) {
        const c = await RespClient.connect(p.port);
        const info = await c.cmd('CLUSTER', 'INFO');
        c.close();
        if (!info.includes('cluster_state:ok')) return false;
      }
      return true;
    }, { timeoutMs: 20_000, intervalMs: 200, what: 'cluster_state:ok' });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kind: 'cluster',
    primaries: procs.map((p) => ({ port: p.port, pid: p.proc.pid })),
    nodeArgs: ['--redis-cluster', procs.map((p) => `127.0.0.1:${p.port}`).join(',')],
    dirKey: (id) => `session:dir:{${id}}`,
    stop,
  };
}

/** INFO of every primary: total commands processed (clients' commands; a script counts once), CPU
 * seconds, the per-command calls (commandstats: commands run inside scripts are counted too). */
export async function redisSample(redis) {
  let commands = 0;
  let cpuS = 0;
  let memKb = 0;
  const perCommand = {};
  for (const p of redis.primaries) {
    const c = await RespClient.connect(p.port);
    try {
      const info = await c.cmd('INFO', 'stats', 'cpu', 'commandstats', 'memory');
      const num = (k) => Number(new RegExp(`^${k}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
      commands += num('total_commands_processed');
      cpuS += num('used_cpu_sys') + num('used_cpu_user');
      memKb += num('used_memory') / 1024;
      for (const m of info.matchAll(/^cmdstat_([a-z|_-]+):calls=(\d+)/gm)) perCommand[m[1]] = (perCommand[m[1]] ?? 0) + Number(m[2]);
    } finally {
      c.close();
    }
  }
  // Our own INFO, one per primary and per sample, is counted in the next sample: subtract it.
  return { commands, cpuS, memKb, perCommand, own: redis.primaries.length };
}

// ---------------------------------------------------------------------------------------------
// Sessions declared in bulk: the writes of PUT /api/sessions/{id} (the put script's HSET, HSETNX
// status and createdAt), pipelined straight into Redis, as docs/deployment.md lets the platform do
// ("Writing the directory from the platform's backend"). The script's PUBLISH is left out: it
// only tells the nodes at once; a node that needs the session reads it at a join.

export async function declareDirect(redis, count, prefix) {
  const clients = new Map();
  let slotOwner = null;
  if (redis.kind === 'cluster') {
    const c = await RespClient.connect(redis.primaries[0].port);
    const slots = await c.cmd('CLUSTER', 'SLOTS');
    c.close();
    slotOwner = new Array(16384);
    for (const [from, to, primary] of slots) for (let s = from; s <= to; s++) slotOwner[s] = Number(primary[1]);
  }
  for (const p of redis.primaries) clients.set(p.port, await RespClient.connect(p.port));
  const createdAt = new Date().toISOString();
  const BATCH = 2000;
  try {
    for (let i = 0; i < count; i += BATCH) {
      const pending = [];
      for (let j = i; j < Math.min(count, i + BATCH); j++) {
        const id = `${prefix}${String(j).padStart(7, '0')}`;
        const host = `${id}-u0`;
        const participants = JSON.stringify([0, 1, 2, 3, 4, 5].map((k) => ({ userId: `${id}-u${k}`, displayName: `User ${k}` })));
        const key = redis.dirKey(id);
        const port = slotOwner ? slotOwner[keySlot(key)] : redis.primaries[0].port;
        pending.push(clients.get(port).cmd('HSET', key, 'hostUserId', host, 'participants', participants,
          'durationSeconds', '0', 'status', 'waiting', 'createdAt', createdAt));
      }
      await Promise.all(pending);
    }
  } finally {
    for (const c of clients.values()) c.close();
  }
}

/** Through the admin API: PUT /api/sessions/{id}, `concurrency` requests at a time, spread over nodes. */
export async function declareApi(nodes, count, prefix, concurrency = 16) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const j = next++;
      const id = `${prefix}${String(j).padStart(7, '0')}`;
      const node = nodes[j % nodes.length];
      const body = { hostUserId: `${id}-u0`, participants: [0, 1, 2, 3, 4, 5].map((k) => ({ userId: `${id}-u${k}`, displayName: `User ${k}` })) };
      const res = await fetch(`${node.base}/api/sessions/${id}`, { method: 'PUT', headers: { authorization: `Bearer ${node.adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
      await res.text();
      if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${id}: ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

// ---------------------------------------------------------------------------------------------
// Signaling nodes

export const SECRET = crypto.randomBytes(32).toString('hex');
export const ADMIN_KEY = crypto.randomBytes(24).toString('hex');

/** Starts a node on `redis` (its flags), logs at warn; resolves {pid, port, base, stop}. */
export async function startNode(redis, nodeId, extra = []) {
  const args = ['--listen', '127.0.0.1', '--port', '0', '--jwt-secret', SECRET, '--admin-key', ADMIN_KEY,
    '--node-id', nodeId, '--rate-limit', '0', '--max-participants', '6', '--max-connections-per-ip', '100000',
    '--log-level', 'info', ...redis.nodeArgs, ...extra];
  const proc = spawn(serverBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let buf = '';
  const exited = new Promise((r) => proc.on('exit', r));
  const port = await withTimeout(new Promise((resolve, reject) => {
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => {
      if (buf === null) return; // after the listening line, the output is dropped
      buf += d;
      const m = /"msg":"listening"[^\n]*"port":(\d+)/.exec(buf);
      if (m) {
        buf = null;
        resolve(Number(m[1]));
      }
    });
    proc.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    proc.on('exit', (code) => reject(new Error(`node ${nodeId} exited (${code}): ${err}`)));
  }), 20_000, `node ${nodeId} listening`);
  const stop = async () => {
    if (proc.exitCode !== null) return;
    proc.kill('SIGINT');
    await withTimeout(exited, 5000, 'node exit').catch(() => proc.kill('SIGKILL'));
  };
  return { nodeId, pid: proc.pid, port, base: `http://127.0.0.1:${port}`, adminKey: ADMIN_KEY, stop, alive: () => proc.exitCode === null };
}

/** The gauges of a node's /metrics ({signaling_participants: n, ...}), or {} when it does not answer. */
export async function nodeGauges(node) {
  try {
    const res = await fetch(`${node.base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` }, signal: AbortSignal.timeout(10_000) });
    const out = {};
    for (const m of (await res.text()).matchAll(/^(signaling_[a-z_]+)(?:\{[^}]*\})?\s+([0-9.e+-]+)$/gm)) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
    return out;
  } catch {
    return {};
  }
}

// ---------------------------------------------------------------------------------------------
// A measured window: samples every `stepS` seconds for `windowS` seconds.

export async function measure({ redis, nodes, extraPids = [], windowS, stepS = 5 }) {
  const samples = [];
  const take = async () => ({
    t: Date.now(),
    redis: await redisSample(redis),
    nodes: nodes.map((n) => procSample(n.pid)),
    extra: extraPids.map((p) => procSample(p)),
  });
  samples.push(await take());
  const steps = Math.max(1, Math.round(windowS / stepS));
  for (let i = 0; i < steps; i++) {
    await sleep(Math.max(0, samples[0].t + (i + 1) * stepS * 1000 - Date.now()));
    samples.push(await take());
  }
  const rates = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const dt = (b.t - a.t) / 1000;
    rates.push({
      cmdPerS: (b.redis.commands - a.redis.commands - a.redis.own) / dt,
      redisCpu: (b.redis.cpuS - a.redis.cpuS) / dt,
      nodeCpu: b.nodes.map((s, k) => (s && a.nodes[k] ? (s.cpuS - a.nodes[k].cpuS) / dt : 0)),
    });
  }
  const first = samples[0];
  const last = samples.at(-1);
  const dt = (last.t - first.t) / 1000;
  const perCommand = {};
  for (const [k, v] of Object.entries(last.redis.perCommand)) {
    const d = (v - (first.redis.perCommand[k] ?? 0)) / dt;
    if (d > 0.01 && k !== 'info') perCommand[k] = round(d, 2);
  }
  // Means over the whole window (periodic work such as a 10 s sync makes 5 s steps bursty); the
  // median of the 5 s steps is kept beside them.
  const cpuMean = (f) => (f(last) !== null && f(first) !== null ? (f(last) - f(first)) / dt : 0);
  return {
    windowS: round(dt, 1),
    redisCmdPerS: round((last.redis.commands - first.redis.commands - first.redis.own * (samples.length - 1)) / dt, 1),
    redisCmdPerSMedianStep: round(median(rates.map((r) => r.cmdPerS)), 1),
    redisCpuPct: round(100 * cpuMean((s) => s.redis.cpuS), 2),
    redisMemMb: round(last.redis.memKb / 1024, 1),
    redisPerCommand: perCommand,
    nodeCpuPct: nodes.map((_, k) => round(100 * cpuMean((s) => s.nodes[k]?.cpuS ?? null), 2)),
    nodeRssMb: last.nodes.map((s) => (s ? round(s.rssKb / 1024, 1) : null)),
    nodeFds: last.nodes.map((s) => (s ? s.fds : null)),
    extra: extraPids.map((pid, k) => ({ pid, cpuPct: last.extra[k] && first.extra[k] ? round(100 * (last.extra[k].cpuS - first.extra[k].cpuS) / dt, 2) : null, rssMb: last.extra[k] ? round(last.extra[k].rssKb / 1024, 1) : null, fds: last.extra[k]?.fds ?? null })),
  };
}

/** Runs `fn(cleanups)` and always runs the cleanups (reverse order), on errors and on SIGINT. */
export async function withCleanup(fn) {
  const cleanups = [];
  const runAll = async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        console.error(String(err.message).split('\n')[0]);
      }
    }
  };
  const onSig = () => { runAll().finally(() => process.exit(130)); };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  try {
    return await fn(cleanups);
  } finally {
    await runAll();
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}

export function writeResult(file, record) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
}

/** `pid` and all its descendants (from /proc/<pid>/task/<tid>/children). */
export function processTree(pid) {
  const out = [];
  const walk = (p, depth) => {
    if (depth > 5) return;
    out.push(p);
    let kids = [];
    try {
      for (const t of fs.readdirSync(`/proc/${p}/task`)) {
        kids = kids.concat(fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
      }
    } catch {
      return;
    }
    for (const k of kids) walk(k, depth + 1);
  };
  walk(pid, 0);
  return out;
}

/**
 * Starts signaling-load (bench/load) against `nodes` (targets in this order: a session's members go
 * to targets 0..5); resolves at once with {proc, done, stop}; `done` gives its JSON line or null.
 * mode: hold (heartbeats every hbMs), relay (`rate` msgs/s), join (`joinRate` joins/s).
 */
export function startLoad({ nodes, mode, clients, durationS, prefix, hbMs = 15000, connectRate = 1000, rate, joinRate, extra = [] }) {
  const targets = nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  const args = ['--protocol', 'signaling', '--mode', mode, '--targets', targets, '--jwt-secret', SECRET,
    '--admin-key', ADMIN_KEY, '--admin-first-only', '--session-size', '6', '--warmup', '0.5',
    '--duration', String(durationS), '--connect-rate', String(connectRate), '--connect-timeout', '240',
    '--source-addrs', '4', '--prefix', prefix, '--no-cleanup'];
  if (clients) args.push('--clients', String(clients));
  if (mode === 'hold') args.push('--hb-interval-ms', String(hbMs));
  if (mode === 'relay') args.push('--rates', String(rate), '--gap', '0.5');
  if (mode === 'join') args.push('--join-rate', String(joinRate), '--join-hold-ms', '20000');
  args.push(...extra);
  const proc = spawn('timeout', [String(Math.ceil(durationS + 400)), loadBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let stopped = false;
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
  const done = new Promise((resolve) => proc.on('close', (code) => {
    const line = out.split('\n').filter((x) => x.startsWith('{')).at(-1);
    if (code !== 0 && !stopped) process.stderr.write(`signaling-load ${mode} exited ${code}: ${err}\n`);
    resolve(line ? JSON.parse(line) : null);
  }));
  const stop = async () => {
    stopped = true;
    if (proc.exitCode === null) proc.kill('SIGTERM');
    return done;
  };
  return { proc, done, stop };
}

/** Waits (bounded) until the nodes count `want` participants, or every one of `loads` has exited;
 * returns the count reached. */
export async function waitParticipants(nodes, want, timeoutS, loads = []) {
  const deadline = Date.now() + timeoutS * 1000;
  let have = 0;
  while (Date.now() < deadline) {
    if (loads.length && loads.every((l) => l.proc.exitCode !== null || l.proc.signalCode !== null)) break;
    const g = await Promise.all(nodes.map(nodeGauges));
    have = g.reduce((a, x) => a + (x.signaling_participants ?? 0), 0);
    if (have >= want) break;
    await sleep(1000);
  }
  return have;
}

/**
 * Redis's own client request count, apart from the commands scripts run: `MONITOR` on every primary
 * for `seconds`, its lines counted by source ("[db lua]" = run inside a script, otherwise a client's
 * request). `total_commands_processed` and `INFO commandstats` count both; this tells them apart.
 * Taken in a window of its own (MONITOR costs Redis CPU; the command counts are not affected).
 */
export async function monitorSample(redis, seconds) {
  const per = await Promise.all(redis.primaries.map((p) => new Promise((resolve) => {
    const proc = spawn('timeout', [String(seconds), 'redis-cli', '-p', String(p.port), 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const count = { client: 0, lua: 0, byCommand: {} };
    let buf = '';
    const t0 = Date.now();
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const line of lines) {
        const m = /^\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
        if (!m) continue;
        const src = m[1] === 'lua' ? 'lua' : 'client';
        count[src]++;
        const k = `${src === 'lua' ? 'lua:' : ''}${m[2].toLowerCase()}`;
        count.byCommand[k] = (count.byCommand[k] ?? 0) + 1;
      }
    });
    proc.on('close', () => resolve({ ...count, seconds: (Date.now() - t0) / 1000 }));
  })));
  const s = Math.max(...per.map((x) => x.seconds)) || seconds;
  const byCommand = {};
  for (const x of per) for (const [k, v] of Object.entries(x.byCommand)) byCommand[k] = round((byCommand[k] ?? 0) + v / s, 2);
  return {
    seconds: round(s, 1),
    clientCmdPerS: round(per.reduce((a, x) => a + x.client, 0) / s, 1),
    scriptInnerCmdPerS: round(per.reduce((a, x) => a + x.lua, 0) / s, 1),
    byCommand,
  };
}
