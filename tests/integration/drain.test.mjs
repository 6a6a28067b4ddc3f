// The graceful drain of SIGTERM (docs/deployment.md, "Rolling restart"; docs/protocol.md, close
// 1012): /readyz turns 503 at once while /healthz stays 200; new upgrades are refused with HTTP 503
// `draining`; every client is told to move with close 1012, spread over --drain-period; the
// process exits (status 0) when the last connection is gone, or at --drain-timeout; a second
// signal ends it at once. Then a rolling restart of two instances behind nginx, sharing a real
// Redis: the clients move through nginx from the draining instance to the other one.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import test from 'node:test';
import WebSocket from 'ws';

import { DEFAULT_WAIT_MS, RawWs, SignalingServer, randomId, sessionWith, startServer, waitFor, withTimeout } from './harness.mjs';
import { freePort, redisClient, redisTest, skipWithoutNginx, startNginx, startRedis } from './cluster-harness.mjs';

/** The first log record with `msg` (JSON log lines of the server). */
const logLine = (server, msg) => server.logs.find((r) => r.msg === msg);

/** SIGTERM by hand: the exit that follows is expected by the harness. */
function sigterm(server) {
  server.stopping = true;
  server.proc.kill('SIGTERM');
}

/** An upgrade request on a raw socket; resolves with the whole answer once the server closes. */
async function rawUpgrade(server, query) {
  const sock = await server.rawSocket();
  let answer = '';
  sock.setEncoding('latin1');
  sock.on('data', (d) => { answer += d; });
  const ended = new Promise((resolve) => sock.on('close', resolve));
  sock.on('error', () => {});
  const key = crypto.randomBytes(16).toString('base64');
  sock.write(`GET /ws/signaling${query} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUpgrade: websocket\r\n`
    + `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await withTimeout(ended, DEFAULT_WAIT_MS, 'the server closes the refused upgrade');
  return answer;
}

test('SIGTERM: /readyz 503 at once, /healthz 200, upgrades refused 503 draining, every client told 1012 spread over --drain-period, exit 0 when they are gone', async (t) => {
  const server = await startServer(t, { args: ['--drain-period', '1500ms', '--drain-timeout', '20s'] });
  const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
  const { sessionId, clients } = await sessionWith(server, users);
  assert.equal((await server.http('GET', '/readyz')).status, 200);
  assert.match((await server.http('GET', '/metrics')).text, /^signaling_draining 0$/m);

  const closedAt = {};
  const closes = users.map((u) => clients[u].closed.then((info) => {
    closedAt[u] = Date.now();
    return info;
  }));
  sigterm(server);

  // /readyz turns 503 while the clients are still being told (the drain has not ended).
  await waitFor(async () => (await server.http('GET', '/readyz')).status === 503, { what: '/readyz 503 after SIGTERM' });
  const stillOpen = users.filter((u) => clients[u].isOpen);
  assert.ok(stillOpen.length > 0, '/readyz turned 503 only after every client was gone');
  assert.equal((await server.http('GET', '/healthz')).status, 200, '/healthz stays 200 during the drain');
  assert.match((await server.http('GET', '/metrics')).text, /^signaling_draining 1$/m);

  // A new upgrade is refused before the 101: HTTP 503 with the `draining` error.
  const answer = await rawUpgrade(server, `?token=${server.token('u1')}&sessionId=${sessionId}`);
  assert.match(answer, /^HTTP\/1\.1 503 /, answer);
  assert.match(answer, /"error":"draining"/, answer);
  await assert.rejects(server.connect({ user: 'u1', sessionId }), (err) => err.statusCode === 503);

  const infos = await withTimeout(Promise.all(closes), 15_000, 'every client closed');
  for (const [i, info] of infos.entries()) assert.equal(info.code, 1012, `${users[i]}: close code ${info.code} "${info.reason}"`);
  // Spread: six slots 250 ms apart (0 .. 1250 ms). Only a lower bound: a slow machine stretches it.
  const times = Object.values(closedAt);
  const spread = Math.max(...times) - Math.min(...times);
  t.diagnostic(`close times spread over ${spread} ms (6 clients, --drain-period 1500ms)`);
  assert.ok(spread >= 500, `the closes are spread over the period, not all at once: ${spread} ms`);

  assert.deepEqual(await withTimeout(server.exited, 15_000, 'exit after the drain'), { code: 0, signal: null });
  const started = logLine(server, 'draining');
  assert.equal(started?.connections, 6, JSON.stringify(started));
  assert.equal(started?.period_ms, 1500, JSON.stringify(started));
  const ended = logLine(server, 'drained');
  assert.equal(ended?.reason, 'all_gone', JSON.stringify(ended));
});

test('--drain-period 0: every client is told 1012 at once; the exit does not wait for --drain-timeout', async (t) => {
  const server = await startServer(t, { args: ['--drain-period', '0', '--drain-timeout', '10m'] });
  const users = ['a', 'b', 'c', 'd'];
  const { clients } = await sessionWith(server, users);
  const closes = users.map((u) => clients[u].closed);
  sigterm(server);
  for (const info of await withTimeout(Promise.all(closes), DEFAULT_WAIT_MS, 'every client closed')) assert.equal(info.code, 1012);
  assert.deepEqual(await withTimeout(server.exited, DEFAULT_WAIT_MS, 'exit after the drain'), { code: 0, signal: null });
  assert.equal(logLine(server, 'draining')?.period_ms, 0);
  assert.equal(logLine(server, 'drained')?.reason, 'all_gone');
});

test('a client that never answers the close frame: the node exits at --drain-timeout', async (t) => {
  const server = await startServer(t, { args: ['--drain-period', '0', '--drain-timeout', '1s'] });
  const sessionId = randomId();
  await server.createSession(sessionId, { participants: ['mute'] });
  // A raw client: it reads, but never sends a close frame back, nor closes its side of the TCP
  // connection when the server closes its own (half-open): the server waits 5 s for the close.
  const sock = await new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: server.port, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
  const raw = new RawWs(sock);
  t.after(() => raw.destroy());
  const key = crypto.randomBytes(16).toString('base64');
  sock.write(`GET /ws/signaling?token=${server.token('mute')}&sessionId=${sessionId} HTTP/1.1\r\nHost: 127.0.0.1\r\n`
    + `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  assert.equal((await raw.nextJson()).type, 'joined');
  sigterm(server);
  const { code } = await raw.closeCode();
  assert.equal(code, 1012);
  assert.deepEqual(await withTimeout(server.exited, DEFAULT_WAIT_MS, 'exit at the drain timeout'), { code: 0, signal: null });
  const ended = logLine(server, 'drained');
  assert.equal(ended?.reason, 'timeout', JSON.stringify(ended));
  assert.equal(ended?.connections_left, 1, JSON.stringify(ended));
});

for (const second of ['SIGTERM', 'SIGINT']) {
  test(`a ${second} during the drain stops at once: the clients not told yet get 1001`, async (t) => {
    const server = await startServer(t, { args: ['--drain-period', '10m', '--drain-timeout', '10m'] });
    const users = ['a', 'b', 'c'];
    const { clients } = await sessionWith(server, users);
    const closes = users.map((u) => clients[u].closed);
    sigterm(server);
    // Slots at 0, 200 s and 400 s: one client is told at once, the others wait.
    await waitFor(() => users.some((u) => clients[u].closeInfo), { what: 'the first client told' });
    assert.ok(logLine(server, 'draining'));
    server.proc.kill(second);
    const codes = (await withTimeout(Promise.all(closes), DEFAULT_WAIT_MS, 'every client closed')).map((i) => i.code).sort();
    assert.deepEqual(codes, [1001, 1001, 1012]);
    assert.deepEqual(await withTimeout(server.exited, DEFAULT_WAIT_MS, `exit after the ${second}`), { code: 0, signal: null });
    assert.equal(logLine(server, 'drained')?.reason, 'signal');
  });
}

test('with no client at all, SIGTERM exits at once (status 0)', async (t) => {
  const server = await startServer(t, { args: ['--drain-timeout', '10m'] });
  sigterm(server);
  assert.deepEqual(await withTimeout(server.exited, DEFAULT_WAIT_MS, 'exit'), { code: 0, signal: null });
  assert.equal(logLine(server, 'drained')?.reason, 'all_gone');
});

// ---------------------------------------------------------------------------------------------
// Rolling restart behind nginx

/** A signaling server on a fixed port (a restarted instance keeps its upstream address). */
class FixedPortServer extends SignalingServer {
  constructor(fixedPort, options) {
    super(options);
    this.fixedPort = fixedPort;
  }
  get args() {
    const a = super.args;
    a[a.indexOf('--port') + 1] = String(this.fixedPort);
    return a;
  }
}

/**
 * What a real client does (spec: resume): keeps its last resumeId; when its connection is lost or
 * it is told to move (1012, 1001, 1006), connects again through the load balancer with
 * `&resume=`, after a small random delay; retries a refused upgrade (nginx: no live upstream
 * for a moment) a bounded number of times. Records everything it receives.
 */
class ResumingClient {
  constructor(front, sessionId, user) {
    Object.assign(this, { front, sessionId, user });
    this.received = []; // every message of every connection, in order
    this.joins = []; // every joined
    this.closes = []; // close codes
    this.refusals = []; // upgrades refused (time and status)
    this.stopped = false;
    this.ws = null;
  }

  url() {
    const p = new URLSearchParams({ token: this.front.token(this.user), sessionId: this.sessionId });
    const last = this.joins.at(-1);
    if (last?.resumeId) p.set('resume', last.resumeId);
    return `${this.front.wsBase}/ws/signaling?${p}`;
  }

  /** Resolves at the next joined (of this connection or a later one). */
  joined(count = this.joins.length + 1) {
    return waitFor(() => this.joins.length >= count && this.joins[count - 1], { timeoutMs: 15_000, what: `${this.user}: joined #${count}` });
  }

  /** Connected and admitted (its joined arrived): what it sends now reaches the others. */
  get ready() {
    return this.admitted && this.ws?.readyState === WebSocket.OPEN;
  }

  connect() {
    if (this.stopped) return;
    const ws = new WebSocket(this.url(), { perMessageDeflate: false });
    this.ws = ws;
    this.admitted = false;
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString('utf8'));
      this.received.push(m);
      if (m.type === 'joined') {
        this.joins.push(m);
        this.admitted = true;
      }
    });
    ws.on('unexpected-response', (req, res) => {
      this.refusals.push(`${new Date().toISOString().slice(11, 23)} HTTP ${res.statusCode}`);
      req.destroy();
      this.retry();
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      if (this.ws !== ws || this.stopped) return;
      this.closes.push(code);
      if ([1001, 1006, 1012].includes(code)) setTimeout(() => this.connect(), Math.floor(Math.random() * 200));
    });
  }

  retry() {
    if (this.stopped || this.refusals.length >= 100) return; // bounded: the test then fails on `ready`
    this.ws = null;
    setTimeout(() => this.connect(), 100);
  }

  send(msg) {
    this.ws.send(JSON.stringify(msg));
  }

  stop() {
    this.stopped = true;
    this.ws?.terminate();
  }
}

redisTest('rolling restart behind nginx: each instance in turn drains; the clients move to the other one and keep signaling', { skip: skipWithoutNginx }, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const rc = await redisClient(t, redis);
  const jwtSecret = crypto.randomBytes(32).toString('hex');
  const adminKey = crypto.randomBytes(24).toString('hex');
  const ports = [await freePort(), await freePort()];
  const start = async (i, nodeId) => {
    const s = new FixedPortServer(ports[i], {
      jwtSecret, adminKey, args: [...redis.serverArgs(), '--node-id', nodeId, '--drain-period', '500ms', '--drain-timeout', '10s'],
    });
    t.after(() => s.stop());
    await s.start();
    return s;
  };
  let a = await start(0, 'a');
  const b = await start(1, 'b');
  const nginx = await startNginx(t, ports);
  const front = Object.create(a);
  front.baseUrl = `http://127.0.0.1:${nginx.port}`;
  front.wsBase = `ws://127.0.0.1:${nginx.port}`;

  const USERS = ['u1', 'u2', 'u3', 'u4'];
  const sid = randomId('rolling');
  await front.createSession(sid, { host: 'u1', participants: USERS });
  const clients = Object.fromEntries(USERS.map((u) => [u, new ResumingClient(front, sid, u)]));
  t.after(() => Object.values(clients).forEach((c) => c.stop()));
  for (const u of USERS) {
    clients[u].connect();
    await clients[u].joined();
  }
  /** userId -> the node id of its connection, from Redis (session:ws). */
  const placement = async () => Object.fromEntries(Object.entries(await rc.hgetall(rk.ws(sid)))
    .map(([u, conn]) => [u, conn.slice(0, conn.lastIndexOf(':'))]));
  const before = await placement();
  t.diagnostic(`placement before: ${JSON.stringify(before)}`);
  assert.deepEqual([...new Set(Object.values(before))].sort(), ['a', 'b'], 'the clients landed on both instances');

  // Everyone reaches everyone: an offer from each to each, through whichever instances.
  let round = 0;
  const everyoneReachesEveryone = async () => {
    for (const u of USERS) await waitFor(() => clients[u].ready, { timeoutMs: 15_000, what: `${u} connected and admitted` });
    round += 1;
    for (const u of USERS) for (const v of USERS) if (u !== v) clients[u].send({ type: 'offer', toUserId: v, sdp: `v=0\r\ns=${round}:${u}>${v}\r\n` });
    for (const v of USERS) {
      await waitFor(() => USERS.every((u) => u === v || clients[v].received.some((m) => m.type === 'offer' && m.fromUserId === u && m.sdp === `v=0\r\ns=${round}:${u}>${v}\r\n`)),
        { timeoutMs: 10_000, what: `${v}: the offers of round ${round}` });
    }
  };
  await everyoneReachesEveryone();

  // SIGTERM `draining`; it exits 0 once its clients are gone; they all end up on `to`, and those
  // it held were told 1012.
  const drainAndMove = async (draining, to) => {
    const held = Object.entries(await placement()).filter(([, n]) => n === draining.nodeId).map(([u]) => u);
    assert.ok(held.length > 0, `${draining.nodeId} holds clients`);
    sigterm(draining);
    assert.deepEqual(await withTimeout(draining.exited, 15_000, `${draining.nodeId} exits after its drain`), { code: 0, signal: null });
    const ended = logLine(draining, 'drained');
    assert.equal(ended?.reason, 'all_gone', `${draining.nodeId}: ${JSON.stringify(ended)}`);
    assert.equal(logLine(draining, 'draining')?.connections, held.length);
    await waitFor(async () => {
      const now = Object.values(await placement());
      return now.length === USERS.length && now.every((n) => n === to);
    }, { timeoutMs: 15_000, what: `every client on ${to}` });
    for (const u of held) assert.ok(clients[u].closes.includes(1012), `${u} was told to move: ${clients[u].closes}`);
    await everyoneReachesEveryone();
  };

  // 1. Instance a drains: its clients come back through nginx, on b.
  a.nodeId = 'a';
  b.nodeId = 'b';
  await drainAndMove(a, 'b');
  // 2. a comes back (same address); then b drains and everyone moves to the new a.
  a = await start(0, 'a');
  a.nodeId = 'a';
  await drainAndMove(b, 'a');
  // nginx passed every upgrade the draining instance refused (503) to the other one: no client
  // ever saw a failed handshake.
  for (const u of USERS) assert.deepEqual(clients[u].refusals, [], `${u}: upgrades refused through nginx`);

  // What each client heard of the others (offers left out): shown when the subtest fails.
  const heard = (c) => c.received.filter((m) => m.type !== 'offer')
    .map((m) => (m.type === 'joined' ? `joined(resumed=${m.resumed})` : `${m.type}:${m.userId ?? m.participant?.userId}`));
  for (const u of USERS) t.diagnostic(`${u}: ${heard(clients[u]).join(' ')}`);

  await t.test('the calls are untouched: nobody ever sees participant-left, every reconnection is a resume', () => {
    for (const u of USERS) {
      const c = clients[u];
      const left = c.received.filter((m) => m.type === 'participant-left');
      assert.deepEqual(left, [], `${u} saw participant-left: ${JSON.stringify(left)}`);
      assert.ok(c.joins.length >= 2, `${u}: reconnected`);
      for (const j of c.joins.slice(1)) assert.equal(j.resumed, true, `${u}: a reconnection that was not a resume: ${JSON.stringify(j)}`);
      const presence = c.received.filter((m) => m.type === 'participant-reconnecting' || m.type === 'participant-reconnected');
      assert.ok(presence.length > 0, `${u} heard of the others' moves`);
    }
  });
});
