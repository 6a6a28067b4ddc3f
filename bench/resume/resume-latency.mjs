// Resume latency: from a participant's new WebSocket (with &resume=<resumeId>) to its resumed
// `joined`, on one node and on two nodes sharing Redis (the resume lands on the other node).
// Real binary (SIGNALING_BIN or build/signaling-server), real redis-server, loopback.
//
//   node bench/resume/resume-latency.mjs [--samples 200] [--out bench/results/resume-latency.json]
//
// Each sample: the participant's TCP socket is destroyed (no close frame, as a network cut),
// 20 ms later a new WebSocket opens with the last resumeId; the time runs from `new WebSocket`
// to the `joined` message (TCP connect, upgrade, token check, resume). Three other participants
// stay connected. A server without resume (no resumeId in `joined`) is measured the same way
// with a plain rejoin and reported as such ("resumed": 0).
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

import WebSocket from 'ws';

import { SignalingServer, randomId, sleep, withTimeout } from '../../tests/integration/harness.mjs';
import { RedisProcess, startNodes } from '../../tests/integration/cluster-harness.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
};
const SAMPLES = Math.min(2000, Number(arg('--samples', 200)));
const OUT = arg('--out', null);
const USERS = ['ann', 'ben', 'cat', 'dan'];
const VICTIM = 'dan';
const STEP_TIMEOUT_MS = 5000;

/** Opens a WebSocket and resolves with {ws, joined, ms} on its `joined` (rejects on an error or close). */
function connect(url) {
  const t0 = performance.now();
  const ws = new WebSocket(url);
  return withTimeout(new Promise((resolve, reject) => {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'joined') resolve({ ws, joined: m, ms: performance.now() - t0 });
      else if (m.type === 'error') reject(new Error(`error: ${JSON.stringify(m)}`));
    });
    ws.on('error', reject);
    ws.on('close', (code) => reject(new Error(`closed ${code} before joined`)));
  }), STEP_TIMEOUT_MS, 'joined');
}

function url(server, user, sessionId, resumeId) {
  const u = new URL(`${server.wsBase}/ws/signaling`);
  u.searchParams.set('token', server.token(user));
  u.searchParams.set('sessionId', sessionId);
  if (resumeId) u.searchParams.set('resume', resumeId);
  return u.toString();
}

function percentiles(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  const r = (x) => Math.round(x * 100) / 100;
  return { n: s.length, p50: r(at(0.5)), p90: r(at(0.9)), p99: r(at(0.99)), max: r(s.at(-1)) };
}

/** `servers[i % servers.length]` serves sample i: with two, every resume goes to the other node. */
async function run(label, servers) {
  const sessionId = randomId('bench');
  await servers[0].createSession(sessionId, { host: USERS[0], participants: USERS });
  const others = [];
  for (const u of USERS.filter((x) => x !== VICTIM)) others.push((await connect(url(servers[0], u, sessionId))).ws);
  // The others answer nothing; their queues are drained by the ws library. Heartbeats keep them.
  const beat = setInterval(() => {
    for (const ws of others) if (ws.readyState === 1) ws.send(JSON.stringify({ type: 'heartbeat', ts: Date.now() }));
  }, 2000);
  let cur = await connect(url(servers[0], VICTIM, sessionId));
  let resumeId = cur.joined.resumeId ?? null;
  const ms = [];
  let resumed = 0;
  const started = Date.now();
  try {
    for (let i = 1; i <= SAMPLES && Date.now() - started < 120_000; i++) {
      cur.ws.removeAllListeners('close');
      cur.ws.on('error', () => {});
      cur.ws._socket.destroy();
      await sleep(20);
      cur = await connect(url(servers[i % servers.length], VICTIM, sessionId, resumeId));
      ms.push(cur.ms);
      if (cur.joined.resumed === true) resumed += 1;
      resumeId = cur.joined.resumeId ?? null;
      await sleep(20);
    }
  } finally {
    clearInterval(beat);
    cur.ws.terminate();
    for (const ws of others) ws.terminate();
  }
  return { setup: label, resumed, ...percentiles(ms) };
}

async function main() {
  const cleanups = [];
  const t = { after: (fn) => cleanups.push(fn) };
  const results = [];
  try {
    const one = new SignalingServer();
    cleanups.push(() => one.stop());
    await one.start();
    results.push(await run('one node', [one]));

    const redis = new RedisProcess();
    cleanups.push(() => redis.cleanup());
    await redis.start();
    const nodes = await startNodes(t, redis, 2);
    results.push(await run('two nodes + Redis, resume on the other node', nodes));
  } finally {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error(err.message.split('\n')[0]);
      }
    }
  }
  // The last commit of the server and client sources: what was measured.
  const commit = execSync('git log -1 --format=%h -- src clients/js/src').toString().trim();
  const record = { date: new Date().toISOString(), commit, server: process.env.SIGNALING_BIN ?? 'build/signaling-server', samples: SAMPLES, results };
  console.log(JSON.stringify(record));
  if (OUT) fs.writeFileSync(OUT, `${JSON.stringify(record, null, 2)}\n`);
}

await main();
