// Helpers for the several-node tests: a real redis-server (Debian's /usr/bin/redis-server) on a
// free loopback port without persistence, a minimal RESP client to check the Redis layout, and
// N signaling-server instances sharing that Redis (same JWT secret and admin key).
import assert from 'node:assert/strict';
import test from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SignalingServer, repoRoot, serverBin, sleep, waitFor, withTimeout } from './harness.mjs';

export const REDIS_BIN = '/usr/bin/redis-server';
export const NGINX_BIN = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : '/usr/bin/nginx';

export const haveRedis = () => fs.existsSync(REDIS_BIN);
export const haveNginx = () => fs.existsSync(NGINX_BIN);
/** For test(..., {skip}) : a clear message when redis-server is missing. */
export const skipWithoutRedis = haveRedis() ? false : `${REDIS_BIN} is not installed (apt-get install redis-server)`;
export const skipWithoutNginx = !haveRedis()
  ? `${REDIS_BIN} is not installed (apt-get install redis-server)`
  : haveNginx() ? false : 'nginx is not installed (apt-get install nginx-light)';

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// RESP client (RESP2; enough for checks: strings, integers, arrays, nil, errors)

function parseReply(buf, pos) {
  if (pos >= buf.length) return null;
  const type = String.fromCharCode(buf[pos]);
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const line = buf.toString('utf8', pos + 1, eol);
  const after = eol + 2;
  switch (type) {
    case '+': return { value: line, pos: after };
    case '-': return { value: Object.assign(new Error(line), { redisError: true }), pos: after };
    case ':': return { value: Number(line), pos: after };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, pos: after };
      if (buf.length < after + n + 2) return null;
      return { value: buf.toString('utf8', after, after + n), pos: after + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, pos: after };
      const out = [];
      let p = after;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (!r) return null;
        out.push(r.value);
        p = r.pos;
      }
      return { value: out, pos: p };
    }
    default: throw new Error(`bad RESP type ${type}`);
  }
}

export class RespClient {
  static connect(port) {
    return withTimeout(new Promise((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port }, () => resolve(new RespClient(sock)));
      sock.once('error', reject);
    }), 5000, `connect to redis on ${port}`);
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.waiting = [];
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const r = this.waiting.length ? parseReply(this.buf, 0) : null;
        if (!r) break;
        this.buf = this.buf.subarray(r.pos);
        const w = this.waiting.shift();
        if (r.value instanceof Error) w.reject(r.value);
        else w.resolve(r.value);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      for (const w of this.waiting.splice(0)) w.reject(new Error('redis connection closed'));
    });
  }

  /** One command; resolves with the reply (HGETALL: a flat array). A Buffer argument goes as its bytes. */
  cmd(...args) {
    const parts = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    return withTimeout(new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock.write(Buffer.concat(parts));
    }), 5000, `redis ${args[0]}`);
  }

  async hgetall(key) {
    const flat = await this.cmd('HGETALL', key);
    const out = {};
    for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
    return out;
  }

  /** SCAN MATCH `pattern`, sorted. */
  async keys(pattern) {
    const all = [];
    let cursor = '0';
    for (let i = 0; i < 1000; i++) {
      const [next, batch] = await this.cmd('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000);
      all.push(...batch);
      cursor = next;
      if (cursor === '0') break;
    }
    return all.sort();
  }

  close() {
    this.sock.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// redis-server

export class RedisProcess {
  constructor() {
    this.mode = 'redis';
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-redis-'));
    this.port = null;
    this.proc = null;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The server's flags for this Redis. */
  serverArgs() {
    return ['--redis', this.url];
  }

  async start() {
    if (this.port === null) this.port = await freePort();
    // DEBUG (SLEEP) is off by default in Redis 7: the tests stall Redis with it.
    const proc = spawn(REDIS_BIN, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--enable-debug-command', 'yes',
      '--dir', this.dir, '--daemonize', 'no', '--logfile', path.join(this.dir, 'redis.log')], { stdio: 'ignore' });
    this.proc = proc;
    this.exited = new Promise((r) => proc.on('exit', r));
    await waitFor(async () => {
      try {
        const c = await RespClient.connect(this.port);
        const pong = await c.cmd('PING');
        c.close();
        return pong === 'PONG';
      } catch {
        return false;
      }
    }, { timeoutMs: 10_000, intervalMs: 50, what: `redis-server on port ${this.port}` });
    return this;
  }

  async stop(signal = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill(signal);
    await withTimeout(this.exited, 5000, 'redis-server exit').catch(() => this.proc.kill('SIGKILL'));
  }

  async cleanup() {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts the Redis of test context `t`: a redis-server of its own (mode 'redis' or none; stopped
 * and removed with t.after), or the test process's Redis Cluster (mode 'cluster', see
 * redis-cluster-support.mjs: started once per file, emptied for each test). Either has `mode`,
 * `serverArgs()` (--redis URL or --redis-cluster seeds) and `k` (keysFor(mode)).
 */
export async function startRedis(t, mode = 'redis') {
  const name = typeof mode === 'string' ? mode : mode.name;
  if (name === 'cluster') {
    const { sharedRedisCluster } = await import('./redis-cluster-support.mjs');
    const c = await sharedRedisCluster();
    c.k = keysFor('cluster');
    return c;
  }
  const r = new RedisProcess();
  t.after(() => r.cleanup());
  await r.start();
  r.k = keysFor('redis');
  return r;
}

/**
 * A client of `redis` for `t` (closed with t.after): cmd(...), hgetall(key), keys(pattern) and
 * onPrimaries(...) (a command every shard must run: FLUSHALL, CONFIG SET, CLIENT PAUSE, DEBUG
 * SLEEP; one reply per primary). On a cluster it routes each command to the primary of its key.
 */
export async function redisClient(t, redis) {
  if (redis.mode === 'cluster') {
    const c = redis.client();
    c.k = redis.k;
    t.after(() => c.close());
    return c;
  }
  const c = await RespClient.connect(redis.port);
  c.onPrimaries = async (...args) => [await c.cmd(...args)];
  c.k = redis.k;
  t.after(() => c.close());
  return c;
}

/**
 * A plain client of the one Redis instance that holds `key` (the primary of its slot on a
 * cluster), for instance-wide commands aimed at one session (CLIENT PAUSE, CLIENT LIST).
 */
export async function sessionPrimaryClient(t, redis, key) {
  const port = redis.mode === 'cluster' ? await redis.primaryForKey(key) : redis.port;
  const c = await RespClient.connect(port);
  t.after(() => c.close());
  return c;
}

/**
 * The Redis names of the server (docs/deployment.md) in one place: with --redis the user story's,
 * with --redis-cluster every key of a session in the slot of {<sessionId>} and the node channel
 * and alive key in that of {<nodeId>}. `publish` is the command a session/node channel takes.
 */
export function keysFor(mode) {
  const name = typeof mode === 'string' ? mode : mode.name;
  const tag = name === 'cluster' ? (id) => `{${id}}` : (id) => id;
  return {
    mode: name,
    dir: (sid) => `session:dir:${tag(sid)}`,
    ws: (sid) => `session:ws:${tag(sid)}`,
    peers: (sid) => `session:peers:${tag(sid)}`,
    resume: (sid) => `session:resume:${tag(sid)}`,
    attendance: (sid) => `session:attendance:${tag(sid)}`,
    heartbeat: (sid, uid) => `session:heartbeat:${tag(sid)}:${uid}`,
    heartbeats: (sid) => `session:heartbeat:${tag(sid)}:*`,
    sessionChannel: (sid) => `signaling:session:${tag(sid)}`,
    nodeChannel: (nodeId) => `signaling:node:${tag(nodeId)}`,
    alive: (nodeId) => `signaling:node:${tag(nodeId)}:alive`,
    publish: name === 'cluster' ? 'SPUBLISH' : 'PUBLISH',
  };
}

let clusterFlag;
/** Whether the server binary has --redis-cluster (issue 12). */
function serverHasClusterFlag() {
  if (clusterFlag === undefined) {
    const r = spawnSync(serverBin, ['--help'], { encoding: 'utf8', timeout: 10_000 });
    clusterFlag = /--redis-cluster\b/.test(`${r.stdout}${r.stderr}`);
  }
  return clusterFlag;
}

/**
 * The Redis modes a several-node test runs in: {name, label, skip}. One Redis always; the Redis
 * Cluster when redis-cli is there and the binary has --redis-cluster. SIG_REDIS_MODES=redis (or
 * =cluster) runs one of them.
 */
export function redisModes() {
  const wanted = (process.env.SIG_REDIS_MODES || 'redis,cluster').split(',');
  const out = [];
  if (wanted.includes('redis')) out.push({ name: 'redis', label: '', skip: skipWithoutRedis });
  if (wanted.includes('cluster')) {
    let skip = skipWithoutRedis;
    if (!skip && !fs.existsSync('/usr/bin/redis-cli')) skip = '/usr/bin/redis-cli is not installed';
    if (!skip && fs.existsSync(serverBin) && !serverHasClusterFlag()) skip = `${serverBin} has no --redis-cluster`;
    out.push({ name: 'cluster', label: '[redis cluster] ', skip });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Several signaling servers on one Redis

/**
 * Starts `n` servers sharing `redis` (node ids n1..nN unless given), one JWT secret and one
 * admin key; each gets `args` plus `--redis` or `--redis-cluster`. Stopped with t.after (in
 * reverse order).
 */
export async function startNodes(t, redis, n, { args = [], nodeIds } = {}) {
  const jwtSecret = crypto.randomBytes(32).toString('hex');
  const adminKey = crypto.randomBytes(24).toString('hex');
  const nodes = [];
  for (let i = 0; i < n; i++) {
    const id = nodeIds?.[i] ?? `n${i + 1}`;
    const s = new SignalingServer({ jwtSecret, adminKey, args: [...redis.serverArgs(), '--node-id', id, ...args] });
    s.nodeId = id;
    t.after(() => s.stop());
    await s.start();
    nodes.push(s);
  }
  return nodes;
}

/** Kills a server with SIGKILL (a crash) without the harness counting it as a failure. */
export async function killNode(server) {
  server.stopping = true;
  server.proc.kill('SIGKILL');
  await withTimeout(server.exited, 5000, 'killed server exit');
}

// ---------------------------------------------------------------------------------------------
// nginx in front (docs/deployment.md, "nginx in front")

/** The nginx block of docs/deployment.md, with the test's addresses. */
function configFromDocs(upstreams, listenPort) {
  const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'deployment.md'), 'utf8');
  const m = doc.match(/<!-- nginx-config: [^>]*-->\s*```nginx\n([\s\S]*?)```/);
  assert.ok(m, 'docs/deployment.md has the tested nginx block');
  let block = m[1];
  const replace = (from, to) => {
    assert.ok(block.includes(from), `the documented configuration contains "${from}"`);
    block = block.split(from).join(to);
  };
  replace('10.0.0.11:8080', `127.0.0.1:${upstreams[0]}`);
  replace('10.0.0.12:8080', `127.0.0.1:${upstreams[1]}`);
  replace('listen 80;', `listen 127.0.0.1:${listenPort};`);
  return block;
}

/**
 * Starts Debian's nginx in the foreground with its own prefix, the documented block in front of
 * `upstreams` (two ports on 127.0.0.1); stopped with t.after. Resolves with {port, dir} once it
 * answers /healthz.
 */
export async function startNginx(t, upstreams) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-nginx-'));
  const port = await freePort();
  const temp = (name) => path.join(dir, name);
  const conf = `worker_processes 1;
error_log ${temp('error.log')} info;
pid ${temp('nginx.pid')};
events { worker_connections 256; }
http {
  access_log ${temp('access.log')};
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
${configFromDocs(upstreams, port)}
}
`;
  fs.writeFileSync(temp('nginx.conf'), conf);
  const proc = spawn(NGINX_BIN, ['-p', dir, '-c', temp('nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => proc.on('close', r));
  t.after(async () => {
    proc.kill('SIGQUIT');
    await withTimeout(exited, 5000, 'nginx exit').catch(() => proc.kill('SIGKILL'));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${out}\n${fs.readFileSync(temp('error.log'), 'utf8')}`);
    try {
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
    } catch {
      return false;
    }
  }, { timeoutMs: 10_000, what: 'nginx answering /healthz' });
  return { port, dir };
}

export { sleep };

/**
 * A several-node test run once per Redis mode (redisModes()): `fn(t, mode)` starts its Redis
 * with startRedis(t, mode). `options.modes` restricts it (e.g. ['redis'] for a fault that has
 * no cluster equivalent; say why in the test).
 */
export function redisTest(name, options, fn) {
  const { modes, ...rest } = options;
  for (const mode of redisModes()) {
    if (modes && !modes.includes(mode.name)) continue;
    test(`${mode.label}${name}`, { ...rest, skip: rest.skip || mode.skip }, (t) => fn(t, mode));
  }
}
