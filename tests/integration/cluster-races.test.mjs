// Races and faults of the several-node mode (issue 12, "Correctness the rebuild must bring"):
// the same user joining on two nodes at the same instant, a second node started with a live
// node's --node-id, and a node frozen (SIGSTOP) past --node-ttl while its participant relays.
// Each is repeated (bounded in count and time) since a race shows only on some tries; the test
// counts the bad tries and fails with that count.
// Needs /usr/bin/redis-server (skipped with a message otherwise).
import assert from 'node:assert/strict';
import test from 'node:test';
import { Client, SignalingServer, randomId, sleep, waitFor, withTimeout } from './harness.mjs';
import { killNode, redisClient, redisTest, skipWithoutRedis, startNodes, startRedis } from './cluster-harness.mjs';

const nodeOf = (conn) => (conn ? conn.slice(0, conn.lastIndexOf(':')) : conn);

// Opens a WebSocket for `user` on `server` without waiting for its verdict.
async function open(server, sid, user) {
  const c = await Client.open(server.wsUrl({ token: server.token(user), sessionId: sid }), { label: `${user}@${server.nodeId}` });
  server.clients.add(c);
  c.node = server.nodeId;
  return c;
}

// The verdict on a connection: 'joined', or the error code it got (or 'closed <code>').
async function verdict(c, ms = 5000) {
  try {
    const m = await c.next((x) => x.type === 'joined' || x.type === 'error', ms, 'joined or error');
    return m.type === 'joined' ? 'joined' : m.code;
  } catch {
    return c.closeInfo ? `closed ${c.closeInfo.code}` : 'no answer';
  }
}

const isLive = (c) => c.joined && c.isOpen;

// Rounds bounded in count and in time (a slow machine runs fewer); the claim is checked over the
// rounds that ran, at least MIN_ROUNDS of them. Fewer on the Redis Cluster (the file's total stays
// near 90 s).
const MIN_ROUNDS = 3;
redisTest('the same user joining on two nodes at the same instant, repeated: one connection stays, the other is replaced (4440) promptly; relays reach the one session:ws names', { timeout: 120_000 }, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  // A long --cluster-sync: a periodic re-read must not be what repairs a wrong admission.
  const [a, b] = await startNodes(t, redis, 2, { args: ['--cluster-sync', '60s'] });
  const rc = await redisClient(t, redis);
  const ROUNDS = mode.name === 'cluster' ? 30 : 100;
  const BUDGET_MS = mode.name === 'cluster' ? 12_000 : 20_000;
  const bad = [];
  const started = Date.now();
  let rounds = 0;
  for (let round = 0; round < ROUNDS && (round < MIN_ROUNDS || Date.now() - started < BUDGET_MS); round++, rounds++) {
    const sid = randomId('twin');
    await a.createSession(sid, { host: 'h1', participants: ['h1', 'h2', 'dup'] });
    const [h1] = await a.join(sid, 'h1');
    const [h2] = await b.join(sid, 'h2');
    await h1.next('participant-joined');
    const [x, y] = await Promise.all([open(a, sid, 'dup'), open(b, sid, 'dup')]);
    const [vx, vy] = await Promise.all([verdict(x), verdict(y)]);
    x.joined = vx === 'joined';
    y.joined = vy === 'joined';
    // Promptly: within 2 s (far below --cluster-sync), at most one joined connection is open.
    const settled = await waitFor(() => [x, y].filter(isLive).length <= 1, { timeoutMs: 2000, what: 'one live connection' })
      .then(() => true, () => false);
    const live = [x, y].filter(isLive);
    const problems = [];
    if (!settled) problems.push(`both joined and open after 2 s (${vx}, ${vy})`);
    if (live.length === 0) problems.push(`no live connection (${vx}, ${vy})`);
    for (const c of [x, y].filter((z) => !isLive(z) && z.joined)) {
      // The loser was replaced: error replaced, close 4440 (docs/protocol.md, "Replacement").
      const info = await withTimeout(c.closed, 2000, 'loser closed').catch(() => null);
      if (!info || info.code !== 4440) problems.push(`loser on ${c.node} closed with ${info?.code}`);
    }
    for (const c of [x, y].filter((z) => !z.joined)) {
      if (!['replaced', 'closed 4440'].includes(c === x ? vx : vy)) problems.push(`refused on ${c.node} with ${c === x ? vx : vy}`);
    }
    if (live.length === 1) {
      const winner = live[0];
      const ws = await rc.hgetall(rk.ws(sid));
      if (nodeOf(ws.dup) !== winner.node) problems.push(`session:ws names ${ws.dup}, the live connection is on ${winner.node}`);
      // A relay from each third participant (one per node) reaches the live connection.
      for (const [from, tag] of [[h1, 'h1'], [h2, 'h2']]) {
        const sdp = `v=0 ${round} ${tag}`;
        from.send({ type: 'offer', toUserId: 'dup', sdp });
        const got = await winner.next((m) => m.type === 'offer' && m.sdp === sdp, 2000).catch(() => null);
        if (!got) problems.push(`the offer of ${tag} did not reach the live connection on ${winner.node}`);
      }
    }
    if (problems.length) bad.push(`round ${round}: ${problems.join('; ')}`);
    for (const c of [h1, h2, x, y]) c.terminate();
  }
  t.diagnostic(`${bad.length} bad rounds of ${rounds}`);
  assert.ok(rounds >= MIN_ROUNDS, `${rounds} rounds ran`);
  assert.deepEqual(bad, [], `${bad.length} bad rounds of ${rounds}:\n${bad.join('\n')}`);
});

// A node with n1's id, its secret and key; not started.
function twin(of, redis, args) {
  const s = new SignalingServer({ jwtSecret: of.jwtSecret, adminKey: of.adminKey,
    args: [...redis.serverArgs(), '--node-id', of.nodeId, ...args] });
  s.nodeId = of.nodeId;
  return s;
}

redisTest('a second node started with a live node\'s --node-id refuses to start (exit 1, a log line); the first keeps its participants; once the first is dead, the id can be used again', { timeout: 90_000 }, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const ARGS = ['--node-ttl', '1000ms', '--cluster-sync', '1s'];
  const [a, b] = await startNodes(t, redis, 2, { args: ARGS });
  const rc = await redisClient(t, redis);
  const sid = randomId('dupid');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2', 'u3', 'u4'] });
  const [c1] = await a.join(sid, 'u1');
  const [c2] = await a.join(sid, 'u2');
  const [c3] = await b.join(sid, 'u3');
  const [c4] = await b.join(sid, 'u4');
  const before = await rc.hgetall(rk.ws(sid));
  assert.deepEqual(Object.keys(before).sort(), ['u1', 'u2', 'u3', 'u4']);

  const TRIES = mode.name === 'cluster' ? 2 : 3;
  const started = [];
  for (let i = 0; i < TRIES; i++) {
    const s = twin(a, redis, ARGS);
    let error = null;
    try {
      await s.start();
      started.push(`try ${i}: started`);
      // Let it run past a sync and a --node-ttl: what it does to n1's entries is the harm.
      await sleep(2500);
      await s.stop().catch(() => {});
    } catch (err) {
      error = err;
    }
    if (error) {
      assert.equal(s.exit?.code, 1, `exit status of the refused twin: ${s.output()}`);
      assert.ok(s.logs.some((r) => r.level === 'error' && /node id/i.test(r.msg) && /live node/i.test(r.msg)),
        `a log line says the id is held by a live node:\n${s.output()}`);
    }
  }
  // The first node and its participants are untouched.
  await sleep(1500);  // a sync and a --node-ttl
  assert.deepEqual(await rc.hgetall(rk.ws(sid)), before, 'session:ws as before');
  for (const c of [c1, c2, c3, c4]) await c.ping();
  assert.deepEqual((await b.getSession(sid)).json.connected, ['u1', 'u2', 'u3', 'u4']);
  c1.send({ type: 'offer', toUserId: 'u3', sdp: 'v=0 after' });
  assert.equal((await c3.next('offer')).fromUserId, 'u1');
  assert.deepEqual(started, [], `${started.length} of ${TRIES} twins started`);

  // n1 dies (SIGKILL: its alive key stays until it expires); a new n1 started at once waits for
  // the key to expire, then starts.
  await killNode(a);
  assert.equal(await rc.cmd('EXISTS', rk.alive('n1')), 1, 'the dead node\'s key is still there');
  const again = twin(a, redis, ARGS);
  t.after(() => again.stop());
  await again.start();
  assert.ok(again.logs.some((r) => /waiting for its key to expire/.test(r.msg ?? '')), 'it waited for the key');
  const [c1b] = await again.join(sid, 'u1');
  await c1b.ping();
});

// The offers are read by the frozen node after it wakes up: the fence holds them until Redis says
// whether the node was presumed dead, and drops them when it was. A frame that got past the
// domain's check just before the node closed its connections carries the fence's epoch of that
// moment, stale once the node reopens: dropped too (fence.hpp). This failed about 1 try in 50 on
// the release binary, more often under AddressSanitizer, before the epoch.
test('a node frozen (SIGSTOP) past --node-ttl while its participant relays: nothing it buffered reaches the others after they were told it left; its clients are closed (1001)', { skip: skipWithoutRedis, timeout: 120_000 }, async (t) => {
  const redis = await startRedis(t);
  // --resume-window 0: the others are told the frozen node's participants left.
  const [a, b] = await startNodes(t, redis, 2, { args: ['--node-ttl', '1000ms', '--cluster-sync', '1s', '--resume-window', '0'] });
  // The last try stays frozen past the Redis client's 5 s reply timeout: waking up, the node may
  // drop its Redis link before it reads the replies (it must still know it was presumed dead).
  const TRIES = 4;
  const bad = [];
  for (let i = 0; i < TRIES; i++) {
    const sid = randomId('ghost');
    await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2'] });
    const [c1] = await a.join(sid, 'u1');
    const [c2] = await b.join(sid, 'u2');
    await c1.next('participant-joined');
    b.proc.kill('SIGSTOP');
    let leftAt = -1;
    try {
      // Every thread stopped first: a frame read before then was relayed while the node was
      // alive (see the fence's limit in docs/deployment.md, "Faults"), not buffered by the kernel.
      await waitStopped(b.proc.pid);
      // The kernel buffers these on the frozen node's socket.
      for (let k = 0; k < 25; k++) c2.send({ type: 'offer', toUserId: 'u1', sdp: `v=0 ${i} ${k}` });
      await c1.next((m) => m.type === 'participant-left' && m.userId === 'u2', 10_000);
      leftAt = c1.received.length;
      if (i === TRIES - 1) await sleep(6000);
    } finally {
      b.proc.kill('SIGCONT');
    }
    // Awake: it must learn it was presumed dead before anything of it reaches u1.
    const closed = await withTimeout(c2.closed, 10_000, 'u2 closed').catch(() => null);
    await sleep(1000);
    const ghosts = c1.received.slice(leftAt).filter((m) => m.type === 'offer' && m.fromUserId === 'u2');
    const problems = [];
    if (ghosts.length) problems.push(`${ghosts.length} offers of u2 after participant-left (${ghosts.map((m) => m.sdp).join(', ')})`);
    if (closed?.code !== 1001) problems.push(`u2 closed with ${closed?.code ?? 'nothing (still open)'}`);
    if (problems.length) bad.push(`try ${i}: ${problems.join('; ')}`);
    c1.terminate();
    c2.terminate();
    await sleep(1500);  // the thawed node is current again before the next try
  }
  if (process.env.RACE_DUMP) (await import('node:fs')).writeFileSync(process.env.RACE_DUMP, `${a.stdout}\n=====n2\n${b.stdout}`);
  b.assertAlive();
  const said = b.logs.filter((r) => r.level === 'warn' || r.level === 'error').map((r) => JSON.stringify(r)).join('\n');
  assert.deepEqual(bad, [], `${bad.length} of ${TRIES} tries:\n${bad.join('\n')}\n--- n2's warnings:\n${said}`);
});

test('a node frozen past --node-ttl while a second process took its --node-id: woken up, it closes its connections (1001), relays nothing, answers /readyz 503; the other keeps the id', { skip: skipWithoutRedis, timeout: 90_000 }, async (t) => {
  const redis = await startRedis(t);
  const ARGS = ['--node-ttl', '1000ms', '--cluster-sync', '1s', '--resume-window', '0'];
  const [a, b] = await startNodes(t, redis, 2, { args: ARGS });
  const rc = await redisClient(t, redis);
  const sid = randomId('taken');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2', 'u3'] });
  const [c1] = await a.join(sid, 'u1');
  const [c2] = await b.join(sid, 'u2');
  await c1.next('participant-joined');
  b.proc.kill('SIGSTOP');
  let twinOfB;
  try {
    await waitStopped(b.proc.pid);
    for (let k = 0; k < 10; k++) c2.send({ type: 'offer', toUserId: 'u1', sdp: `v=0 ${k}` });
    await c1.next((m) => m.type === 'participant-left' && m.userId === 'u2', 10_000);
    // n2's key expired: a second n2 can claim the id (it waits for the key if need be).
    twinOfB = twin(b, redis, ARGS);
    t.after(() => twinOfB.stop());
    await twinOfB.start();
  } finally {
    b.proc.kill('SIGCONT');
  }
  const leftAt = c1.received.length;
  const [c3] = await twinOfB.join(sid, 'u3');
  assert.equal((await expectCloseCode(c2)), 1001, 'the displaced node closes its connections');
  await waitFor(async () => (await b.http('GET', '/readyz')).status === 503, { what: 'the displaced node not ready' });
  assert.ok(b.logs.some((r) => r.level === 'error' && /took this node id/.test(r.msg)), 'a log line says so');
  await sleep(1500);  // past a --node-ttl: the displaced node must not take the id back, nor remove u3
  assert.equal(await rc.cmd('GET', 'signaling:node:n2:alive') !== null, true);
  assert.match((await rc.hgetall(`session:ws:${sid}`)).u3 ?? '', /^n2:/, 'the new n2\'s participant stays listed');
  const ghosts = c1.received.slice(leftAt).filter((m) => m.type === 'offer' && m.fromUserId === 'u2');
  assert.equal(ghosts.length, 0, 'nothing relayed by the displaced node');
  c3.send({ type: 'offer', toUserId: 'u1', sdp: 'v=0 new' });
  assert.equal((await c1.next((m) => m.type === 'offer' && m.sdp === 'v=0 new')).fromUserId, 'u3');
  // Joins on the displaced node are refused (1013: try again, elsewhere).
  const late = await open(b, sid, 'u2');
  assert.equal(await verdict(late), 'store_unavailable');
  b.assertAlive();
});

// Waits until every thread of `pid` is stopped (state T in /proc/<pid>/task/*/stat): a SIGSTOP
// takes effect on each thread when it next runs, not when kill() returns.
async function waitStopped(pid) {
  const fs = await import('node:fs');
  const stopped = () => fs.readdirSync(`/proc/${pid}/task`).every((tid) => {
    const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return /^T$|^t$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  });
  await waitFor(() => stopped(), { what: `every thread of ${pid} stopped`, intervalMs: 2 });
}

async function expectCloseCode(c) {
  const info = await withTimeout(c.closed, 10_000, `${c.label} closed`);
  return info.code;
}
