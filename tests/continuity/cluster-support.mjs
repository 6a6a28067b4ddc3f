// Two signaling nodes on a real redis-server behind nginx, for the continuity scenarios that kill,
// restart or stall parts of a deployment. Reuses tests/integration/cluster-harness.mjs (redis,
// nodes, RESP client); adds what it lacks: nginx (nginx.test.mjs keeps its starter to itself,
// so this one runs the same documented block of docs/deployment.md), restarting a node on its
// port (nginx's upstream list is fixed), and a Redis that accepts DEBUG (off by default in 7.x).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { SignalingServer, repoRoot, serverBin, waitFor, withTimeout } from '../integration/harness.mjs';
import { NGINX_BIN, REDIS_BIN, RedisProcess, RespClient, freePort } from '../integration/cluster-harness.mjs';

let helpText = null;
/** Whether the server binary knows `flag` (its --help lists it): flags of newer servers are added only where they exist. */
export function serverHas(flag) {
  helpText ??= spawnSync(serverBin, ['--help'], { encoding: 'utf8' }).stdout ?? '';
  return helpText.includes(flag);
}

/** The nginx block of docs/deployment.md with the test's addresses. */
function documentedConfig(upstreams, listenPort) {
  const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'deployment.md'), 'utf8');
  const m = doc.match(/<!-- nginx-config: [^>]*-->\s*```nginx\n([\s\S]*?)```/);
  assert.ok(m, 'docs/deployment.md has the tested nginx block');
  return m[1]
    .replace('10.0.0.11:8080', `127.0.0.1:${upstreams[0]}`)
    .replace('10.0.0.12:8080', `127.0.0.1:${upstreams[1]}`)
    .replace('listen 80;', `listen 127.0.0.1:${listenPort};`);
}

/** nginx in front of `upstreams` (ports), stopped with t.after. Returns {port, baseUrl}. */
export async function startNginx(t, upstreams) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-cont-nginx-'));
  const port = await freePort();
  const p = (name) => path.join(dir, name);
  fs.writeFileSync(p('nginx.conf'), `worker_processes 1;
error_log ${p('error.log')} info;
pid ${p('nginx.pid')};
events { worker_connections 256; }
http {
  access_log ${p('access.log')};
  client_body_temp_path ${p('body')};
  proxy_temp_path ${p('proxy')};
  fastcgi_temp_path ${p('fastcgi')};
  uwsgi_temp_path ${p('uwsgi')};
  scgi_temp_path ${p('scgi')};
${documentedConfig(upstreams, port)}
}
`);
  const proc = spawn(NGINX_BIN, ['-p', dir, '-c', p('nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${out}`);
    try {
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
    } catch {
      return false;
    }
  }, { timeoutMs: 10_000, what: 'nginx answering /healthz' });
  return { port, dir, baseUrl: `http://127.0.0.1:${port}`, errorLog: () => fs.readFileSync(p('error.log'), 'utf8') };
}

/** A server that listens on a given port (a node restarted where nginx expects it). */
class PortServer extends SignalingServer {
  constructor(options, port) {
    super(options);
    this.fixedPort = port;
  }

  get args() {
    const a = super.args;
    a[a.indexOf('--port') + 1] = String(this.fixedPort);
    return a;
  }
}

/**
 * Starts a new process for `node` (a SignalingServer that exited) on the same port with the same
 * secrets and flags, stopped with t.after. The port may linger a moment after a kill: retried.
 */
export async function restartNode(t, node) {
  for (let attempt = 0; ; attempt++) {
    const s = new PortServer({ jwtSecret: node.jwtSecret, adminKey: node.adminKey, args: node.extraArgs }, node.port);
    s.nodeId = node.nodeId;
    try {
      await s.start();
      t.after(() => s.stop());
      return s;
    } catch (err) {
      if (attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/** SIGTERM by hand (the harness's stop() would close the clients first); waits for the exit. */
export async function terminateNode(node, timeoutMs = 30_000) {
  node.stopping = true;
  node.proc.kill('SIGTERM');
  const exit = await withTimeout(node.exited, timeoutMs, `${node.nodeId} exit after SIGTERM`);
  assert.deepEqual(exit, { code: 0, signal: null }, `${node.nodeId} exit after SIGTERM`);
}

/** redis-server with DEBUG enabled (for DEBUG SLEEP), on loopback, no persistence. */
export class DebugRedis extends RedisProcess {
  async start() {
    if (this.port === null) this.port = await freePort();
    const proc = spawn(REDIS_BIN, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', this.dir, '--enable-debug-command', 'local', '--logfile', path.join(this.dir, 'redis.log')], { stdio: 'ignore' });
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
}

export async function startDebugRedis(t) {
  const r = new DebugRedis();
  t.after(() => r.cleanup());
  await r.start();
  return r;
}

/** One Redis command on a fresh connection (DEBUG SLEEP blocks its own connection). */
export async function redisCommand(redis, ...args) {
  const c = await RespClient.connect(redis.port);
  try {
    return await c.cmd(...args);
  } finally {
    c.close();
  }
}

/** userId -> node id from the session's connection hash (session:ws:<sid>, "node:conn"). */
export async function placement(redis, sessionId) {
  const c = await RespClient.connect(redis.port);
  try {
    const ws = await c.hgetall(`session:ws:${sessionId}`);
    return Object.fromEntries(Object.entries(ws).map(([u, conn]) => [u, conn.slice(0, conn.lastIndexOf(':'))]));
  } finally {
    c.close();
  }
}

/** Short liveness settings: a dead or stalled node is noticed in about a second and a half. */
export const NODE_TTL_MS = 1500;
export function clusterArgs() {
  const args = ['--node-ttl', `${NODE_TTL_MS}ms`, '--cluster-sync', '1s'];
  if (serverHas('--resume-window')) args.push('--resume-window', '10s');
  if (serverHas('--drain-period')) args.push('--drain-period', '2s');
  return args;
}
