// A real Redis Cluster for the several-node tests (issue 12): three primaries and three replicas of
// Debian's redis-server on loopback, made with `redis-cli --cluster create`, and a small client
// that follows it (routes a command to the primary of its key's slot, follows MOVED/ASK, refreshes
// the slot map after a failover).
//
// Each instance has its own --dir (else replicas never sync and a failover never happens) and a
// data port below 55536: the cluster bus listens on port + 10000, so both ports are checked free.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sleep, waitFor, withTimeout } from './harness.mjs';
import { REDIS_BIN, RespClient } from './cluster-harness.mjs';

export const REDIS_CLI = '/usr/bin/redis-cli';
export const haveRedisCluster = () => fs.existsSync(REDIS_BIN) && fs.existsSync(REDIS_CLI);

// ---------------------------------------------------------------------------------------------
// Slots (CRC16/XMODEM of the key or of its hash tag, modulo 16384: the Redis Cluster spec)

function crc16(buf) {
  let crc = 0;
  for (const b of buf) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The slot of `key`: of its first non-empty {hash tag} if it has one. */
export function keySlot(key) {
  let b = Buffer.isBuffer(key) ? key : Buffer.from(String(key), 'utf8');
  const s = b.indexOf('{');
  if (s >= 0) {
    const e = b.indexOf('}', s + 1);
    if (e > s + 1) b = b.subarray(s + 1, e);
  }
  return crc16(b) % 16384;
}

/** The key a command is routed by (undefined: any node). Enough for the commands the tests send. */
function routingKey(args) {
  const name = String(args[0]).toUpperCase();
  if (name === 'EVAL' || name === 'EVALSHA') return Number(args[2]) > 0 ? args[3] : undefined;
  const keyless = ['PING', 'INFO', 'FLUSHALL', 'FLUSHDB', 'CLIENT', 'CONFIG', 'DEBUG', 'CLUSTER', 'SCAN', 'DBSIZE', 'PUBLISH'];
  if (keyless.includes(name) || args.length < 2) return undefined;
  return args[1];
}

// ---------------------------------------------------------------------------------------------
// Ports

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** `n` data ports below 55536 whose bus ports (port + 10000) are free too. */
export async function clusterPorts(n) {
  const out = [];
  for (let tries = 0; out.length < n && tries < 500; tries++) {
    const p = 20000 + Math.floor(Math.random() * 35000);
    if (out.includes(p) || out.includes(p + 10000) || out.includes(p - 10000)) continue;
    if (await portFree(p) && await portFree(p + 10000)) out.push(p);
  }
  if (out.length < n) throw new Error('no free ports for a Redis Cluster');
  return out;
}

/** A RespClient on `port`, authenticated when `password` is set. */
async function connectTo(port, password) {
  const c = await RespClient.connect(port);
  if (password !== undefined) {
    try {
      await c.cmd('AUTH', password);
    } catch (e) {
      c.close();
      throw e;
    }
  }
  return c;
}

/** One command on a fresh connection; the error instead of a throw. */
async function tryCmd(port, password, ...args) {
  let c;
  try {
    c = await connectTo(port, password);
    return await c.cmd(...args);
  } catch (e) {
    return e;
  } finally {
    c?.close();
  }
}

const infoField = (text, name) => (typeof text === 'string' ? text.match(new RegExp(`^${name}:(.*?)\\r?$`, 'm'))?.[1] : undefined);

// ---------------------------------------------------------------------------------------------
// The cluster

export class RedisCluster {
  /** `password`: requirepass and masterauth on every instance (the clients here AUTH with it). */
  constructor({ primaries = 3, replicasPerPrimary = 1, nodeTimeoutMs = 1000, password } = {}) {
    this.mode = 'cluster';
    this.password = password;
    this.count = primaries * (1 + replicasPerPrimary);
    this.replicasPerPrimary = replicasPerPrimary;
    this.nodeTimeoutMs = nodeTimeoutMs;
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-rcluster-'));
    this.instances = []; // {port, dir, proc, exited}
  }

  /** "127.0.0.1:p1,127.0.0.1:p2,…" (every instance: any of them is a valid seed). */
  seeds() {
    return this.instances.map((i) => `127.0.0.1:${i.port}`).join(',');
  }

  /** The server's flags for this Redis. */
  serverArgs() {
    return ['--redis-cluster', this.seeds()];
  }

  alive() {
    return this.instances.filter((i) => i.proc && i.proc.exitCode === null && i.proc.signalCode === null);
  }

  spawnInstance(inst) {
    const proc = spawn(REDIS_BIN, ['--port', String(inst.port), '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes', '--cluster-config-file', path.join(inst.dir, 'nodes.conf'),
      '--cluster-node-timeout', String(this.nodeTimeoutMs),
      // A replica always takes over (the tests kill primaries on purpose, however long ago it synced).
      '--cluster-replica-validity-factor', '0',
      '--appendonly', 'no', '--save', '', '--enable-debug-command', 'yes',
      '--dir', inst.dir, '--daemonize', 'no', '--logfile', path.join(inst.dir, 'redis.log'),
      ...(this.password === undefined ? [] : ['--requirepass', this.password, '--masterauth', this.password])], { stdio: 'ignore' });
    // Not holding the test process open: stop() or the exit hook below ends them.
    proc.unref();
    inst.proc = proc;
    inst.exited = new Promise((r) => proc.on('exit', r));
  }

  async start() {
    const ports = await clusterPorts(this.count);
    for (const port of ports) {
      const dir = path.join(this.root, String(port));
      fs.mkdirSync(dir);
      const inst = { port, dir };
      this.instances.push(inst);
      this.spawnInstance(inst);
    }
    for (const inst of this.instances) await this.waitPing(inst.port);
    const create = spawnSync(REDIS_CLI, ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas', String(this.replicasPerPrimary), '--cluster-yes'],
    { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...(this.password === undefined ? {} : { REDISCLI_AUTH: this.password }) } });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}\n${create.stderr}`);
    await this.waitHealthy({ what: 'the new Redis Cluster healthy' });
    return this;
  }

  async waitPing(port) {
    await waitFor(async () => (await tryCmd(port, this.password, 'PING')) === 'PONG',
      { timeoutMs: 10_000, intervalMs: 50, what: `redis-server on port ${port}` });
  }

  /** Parsed CLUSTER NODES as seen by a live instance: [{id, port, flags[], master, slots}] (failed ones flagged). */
  async nodes() {
    for (const inst of this.alive()) {
      const text = await tryCmd(inst.port, this.password, 'CLUSTER', 'NODES');
      if (typeof text !== 'string') continue;
      return text.trim().split('\n').map((line) => {
        const f = line.split(' ');
        return { id: f[0], port: Number(f[1].split('@')[0].split(':').pop()), flags: f[2].split(','), master: f[3], slots: f.slice(8) };
      });
    }
    throw new Error('no live Redis Cluster instance answers');
  }

  /** Ports of the live primaries that own slots. */
  async primaries() {
    const alive = new Set(this.alive().map((i) => i.port));
    return (await this.nodes()).filter((n) => n.flags.includes('master') && !n.flags.includes('fail') && n.slots.length > 0 && alive.has(n.port))
      .map((n) => n.port).sort();
  }

  /**
   * Every live instance says cluster_state:ok and knows the same 3 slot-owning primaries, each
   * live replica has its link to its primary up, and every primary has a live replica in sync
   * (unless a replica is missing, e.g. after a kill: `replicas: false`).
   */
  async healthy({ replicas = true } = {}) {
    const alive = this.alive();
    const views = [];
    for (const inst of alive) {
      const info = await tryCmd(inst.port, this.password, 'CLUSTER', 'INFO');
      if (infoField(info, 'cluster_state') !== 'ok') return false;
      const repl = await tryCmd(inst.port, this.password, 'INFO', 'replication');
      if (infoField(repl, 'role') === 'slave' && infoField(repl, 'master_link_status') !== 'up') return false;
      const slots = await tryCmd(inst.port, this.password, 'CLUSTER', 'SLOTS');
      if (!Array.isArray(slots)) return false;
      views.push(JSON.stringify(slots.map((r) => [r[0], r[1], r[2][1]]).sort((x, y) => x[0] - y[0])));
    }
    if (views.length === 0 || !views.every((v) => v === views[0])) return false;
    if (!replicas) return true;
    // Every slot-owning primary has a live replica (whose link is up: checked above).
    const live = new Set(alive.map((i) => i.port));
    const nodes = await this.nodes();
    return nodes.filter((n) => n.flags.includes('master') && n.slots.length > 0)
      .every((m) => nodes.some((r) => r.master === m.id && live.has(r.port) && !r.flags.includes('fail')));
  }

  async waitHealthy({ replicas = true, timeoutMs = 30_000, what = 'the Redis Cluster healthy' } = {}) {
    await waitFor(() => this.healthy({ replicas }), { timeoutMs, intervalMs: 100, what });
  }

  /** The port of the primary owning `key`'s slot. */
  async primaryForKey(key) {
    const slot = keySlot(key);
    for (const inst of this.alive()) {
      const slots = await tryCmd(inst.port, this.password, 'CLUSTER', 'SLOTS');
      if (!Array.isArray(slots)) continue;
      const range = slots.find((r) => r[0] <= slot && slot <= r[1]);
      if (range) return range[2][1];
    }
    throw new Error(`no primary for slot ${slot}`);
  }

  instance(port) {
    const inst = this.instances.find((i) => i.port === port);
    if (!inst) throw new Error(`no instance on port ${port}`);
    return inst;
  }

  /** kill -9 of the primary on `port` (a crash). Returns the ports of its replicas. */
  async killPrimary(port) {
    const me = (await this.nodes()).find((n) => n.port === port);
    const replicas = (await this.nodes()).filter((n) => n.master === me?.id).map((n) => n.port);
    const inst = this.instance(port);
    inst.proc.kill('SIGKILL');
    await withTimeout(inst.exited, 5000, 'redis-server killed');
    this.killed = { port, id: me?.id, replicas };
    return replicas;
  }

  /**
   * After killPrimary: one of its replicas is a primary owning its slots, and every live instance
   * agrees (cluster_state ok, one slot map). Resolves with the new primary's port.
   */
  async waitFailover({ timeoutMs = 30_000 } = {}) {
    const { replicas = [] } = this.killed ?? {};
    let promoted;
    await waitFor(async () => {
      const primaries = await this.primaries().catch(() => []);
      promoted = primaries.find((p) => replicas.includes(p));
      return promoted !== undefined && primaries.length === 3 && await this.healthy({ replicas: false });
    }, { timeoutMs, intervalMs: 100, what: `a replica of ${this.killed?.port} promoted, cluster_state ok` });
    await this.waitHealthy({ replicas: false, timeoutMs, what: 'cluster_state ok everywhere after the failover' });
    return promoted;
  }

  /** Starts a killed instance again with its dir (nodes.conf): it comes back as a replica. */
  async restart(port) {
    const inst = this.instance(port);
    this.spawnInstance(inst);
    await this.waitPing(port);
    await this.waitHealthy({ what: `instance ${port} back as a replica, in sync` });
  }

  /** Until every replica of the primary on `port` has received all it wrote (replication offsets). */
  async waitSynced(port, { timeoutMs = 10_000 } = {}) {
    const me = (await this.nodes()).find((n) => n.port === port);
    const replicas = (await this.nodes()).filter((n) => n.master === me?.id && !n.flags.includes('fail')).map((n) => n.port);
    await waitFor(async () => {
      const offset = Number(infoField(await tryCmd(port, this.password, 'INFO', 'replication'), 'master_repl_offset'));
      for (const r of replicas) {
        if (!(Number(infoField(await tryCmd(r, this.password, 'INFO', 'replication'), 'slave_repl_offset')) >= offset)) return false;
      }
      return replicas.length > 0;
    }, { timeoutMs, intervalMs: 50, what: `the replicas of ${port} in sync` });
  }

  /** Every instance killed (the whole store down); startAll() brings them back, empty. */
  async killAll() {
    for (const inst of this.alive()) inst.proc.kill('SIGKILL');
    await Promise.all(this.instances.map((i) => withTimeout(i.exited, 5000, 'redis-server killed')));
  }

  /**
   * Every instance started again on its port and dir: the cluster configuration comes back from
   * nodes.conf, the data does not (no persistence).
   */
  async startAll() {
    for (const inst of this.instances) this.spawnInstance(inst);
    for (const inst of this.instances) await this.waitPing(inst.port);
    await this.waitHealthy({ what: 'the Redis Cluster healthy again after its restart' });
  }

  /** SCAN of `pattern` over every primary, sorted. */
  async keys(pattern) {
    const all = [];
    for (const port of await this.primaries()) {
      const c = await connectTo(port, this.password);
      try {
        all.push(...await c.keys(pattern));
      } finally {
        c.close();
      }
    }
    return all.sort();
  }

  /**
   * The same command on every primary at once (FLUSHALL, CONFIG SET, DEBUG SLEEP…: at once, so
   * that a stall is one stall of the whole store); their replies.
   */
  async onPrimaries(...args) {
    return Promise.all((await this.primaries()).map(async (port) => {
      const c = await connectTo(port, this.password);
      try {
        return await c.cmd(...args);
      } finally {
        c.close();
      }
    }));
  }

  /** A ClusterClient on this cluster. */
  client() {
    return new ClusterClient(this);
  }

  async stop() {
    for (const inst of this.alive()) inst.proc.kill('SIGKILL');
    await Promise.all(this.instances.map((i) => i.exited && withTimeout(i.exited, 5000, 'redis-server exit').catch(() => {})));
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  /** Synchronous end (process exit hook). */
  stopNow() {
    for (const inst of this.alive()) {
      try {
        inst.proc.kill('SIGKILL');
      } catch { /* gone */ }
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** Starts a cluster for test context `t` (stopped and removed with t.after). */
export async function startRedisCluster(t, options) {
  const c = new RedisCluster(options);
  t.after(() => c.stop());
  try {
    await c.start();
  } catch (e) {
    await c.stop();
    throw e;
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// A client that follows the cluster: the same interface as RespClient (cmd, hgetall, keys) plus
// onPrimaries() for the commands every shard must run.

export class ClusterClient {
  constructor(cluster) {
    this.cluster = cluster;
    this.conns = new Map(); // port -> RespClient
    this.slotOwner = new Map(); // slot -> port (learnt from CLUSTER SLOTS and MOVED)
  }

  async conn(port) {
    let c = this.conns.get(port);
    if (!c || c.sock.destroyed) {
      c = await connectTo(port, this.cluster.password);
      this.conns.set(port, c);
    }
    return c;
  }

  async portFor(key) {
    if (key === undefined) return (await this.cluster.primaries())[0];
    const slot = keySlot(key);
    if (!this.slotOwner.has(slot)) this.slotOwner.set(slot, await this.cluster.primaryForKey(key));
    return this.slotOwner.get(slot);
  }

  /** One command, on the primary of its key's slot (any primary without a key). */
  async cmd(...args) {
    const key = routingKey(args);
    let port = await this.portFor(key);
    let asking = false;
    let lastError;
    // Bounded: MOVED/ASK hops and, around a failover, CLUSTERDOWN/TRYAGAIN/refused connections.
    for (let attempt = 0; attempt < 60; attempt++) {
      try {
        const c = await this.conn(port);
        if (asking) await c.cmd('ASKING');
        return await c.cmd(...args);
      } catch (e) {
        lastError = e;
        const m = /^(MOVED|ASK) \d+ (\S+):(\d+)/.exec(e.message);
        if (m) {
          port = Number(m[3]);
          asking = m[1] === 'ASK';
          if (!asking && key !== undefined) this.slotOwner.set(keySlot(key), port);
          continue;
        }
        if (e.redisError && !/^(CLUSTERDOWN|TRYAGAIN|LOADING)/.test(e.message)) throw e;
        // A dead or not yet promoted node: ask the cluster again after a moment.
        this.conns.get(port)?.close();
        this.conns.delete(port);
        asking = false;
        await sleep(100);
        this.slotOwner.clear();
        port = await this.portFor(key).catch(() => port);
      }
    }
    throw lastError;
  }

  async hgetall(key) {
    const flat = await this.cmd('HGETALL', key);
    const out = {};
    for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
    return out;
  }

  keys(pattern) {
    return this.cluster.keys(pattern);
  }

  onPrimaries(...args) {
    return this.cluster.onPrimaries(...args);
  }

  close() {
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// One cluster per test process for the parametrised suites (starting one takes seconds): each
// test gets it emptied (FLUSHALL on every primary) and in a healthy state.

let shared;
export async function sharedRedisCluster() {
  if (!shared) {
    // A longer node timeout than the failover tests': the parametrised suites stall a primary on
    // purpose (DEBUG SLEEP, CLIENT PAUSE) and the machine is busy; neither must cause a failover.
    const c = new RedisCluster({ nodeTimeoutMs: 15_000 });
    process.once('exit', () => c.stopNow());
    shared = c.start().catch((e) => {
      c.stopNow();
      shared = undefined;
      throw e;
    });
  }
  const c = await shared;
  await c.waitHealthy({ timeoutMs: 20_000 });
  // Undo what an earlier test of the file may have left (a failed test included).
  await c.onPrimaries('CLIENT', 'UNPAUSE');
  await c.onPrimaries('CONFIG', 'SET', 'maxmemory', '0');
  await c.onPrimaries('FLUSHALL');
  return c;
}
