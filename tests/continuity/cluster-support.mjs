// Two signaling nodes on a real redis-server behind nginx, for the continuity scenarios that kill,
// restart or stall parts of a deployment. Reuses tests/integration/cluster-harness.mjs (redis,
// nodes, nginx with the documented block, RESP client, a redis-server that accepts DEBUG); adds
// what it lacks: restarting a node on its port (nginx's upstream list is fixed) and SIGTERM by
// hand.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { SignalingServer, serverBin, withTimeout } from '../integration/harness.mjs';
import { RespClient, keysFor } from '../integration/cluster-harness.mjs';

let helpText = null;
/** Whether the server binary knows `flag` (its --help lists it): flags of newer servers are added only where they exist. */
export function serverHas(flag) {
  helpText ??= spawnSync(serverBin, ['--help'], { encoding: 'utf8' }).stdout ?? '';
  return helpText.includes(flag);
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

/**
 * The Redis of the several-node scenarios: one redis-server, or with SIG_CONTINUITY_REDIS=cluster
 * a Redis Cluster of three primaries and three replicas (../integration/redis-cluster-support.mjs).
 */
export const continuityRedisMode = () => (process.env.SIG_CONTINUITY_REDIS === 'cluster' ? 'cluster' : 'redis');

/**
 * One Redis command on a fresh connection (DEBUG SLEEP blocks its own connection); on a cluster,
 * on every primary at once, answering their common reply.
 */
export async function redisCommand(redis, ...args) {
  if (redis.mode === 'cluster') {
    const replies = [...new Set(await redis.onPrimaries(...args))];
    return replies.length === 1 ? replies[0] : replies;
  }
  const c = await RespClient.connect(redis.port);
  try {
    return await c.cmd(...args);
  } finally {
    c.close();
  }
}

/** userId -> node id from the session's connection hash (session:ws:<sid>, "node:conn"). */
export async function placement(redis, sessionId) {
  const c = redis.mode === 'cluster' ? redis.client() : await RespClient.connect(redis.port);
  try {
    const ws = await c.hgetall(keysFor(redis.mode).ws(sessionId));
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
