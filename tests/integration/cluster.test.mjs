// Several nodes sharing one Redis (--redis) or a Redis Cluster (--redis-cluster, each test run in both modes): the Redis layout of the user story, a session spread
// over nodes, replacement and the participant cap across nodes, the directory on any node.
// Needs /usr/bin/redis-server (skipped with a message otherwise).
import assert from 'node:assert/strict';
import test from 'node:test';
import { DEFAULT_WAIT_MS, ISO_MS_UTC, expectClose, expectError, quietAll, randomId, waitFor } from './harness.mjs';
import { redisClient, redisTest, startNodes, startRedis } from './cluster-harness.mjs';

const nodeOf = (conn) => conn.slice(0, conn.lastIndexOf(':'));

redisTest('the Redis layout: session:ws, session:heartbeat, session:dir with their values and TTLs, during and after a session', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const [a, b] = await startNodes(t, redis, 2);
  const rc = await redisClient(t, redis);
  const sid = randomId('layout');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2', 'u3'], durationSeconds: 3600 });

  const dir = await rc.hgetall(rk.dir(sid));
  assert.equal(dir.hostUserId, 'u1');
  assert.deepEqual(JSON.parse(dir.participants).map((p) => [p.userId, p.displayName]),
    [['u1', 'Name of u1'], ['u2', 'Name of u2'], ['u3', 'Name of u3']]);
  assert.equal(dir.durationSeconds, '3600');
  assert.equal(dir.status, 'waiting');
  assert.match(dir.createdAt, ISO_MS_UTC);
  assert.equal(await rc.cmd('TTL', rk.dir(sid)), -1, 'a live directory entry does not expire');

  const before = Date.now();
  const [c1] = await a.join(sid, 'u1', 'Alice');
  const [c2, j2] = await b.join(sid, 'u2');
  assert.deepEqual(j2.participants, [{ userId: 'u1', displayName: 'Alice' }], 'u2 on node 2 sees u1 of node 1');
  assert.deepEqual({ ...(await c1.next('participant-joined')) },
    { type: 'participant-joined', participant: { userId: 'u2', displayName: 'Name of u2' } });

  // session:ws:{sessionId}: userId -> connection id `<node-id>:<n>`, TTL 1800 s.
  const ws = await rc.hgetall(rk.ws(sid));
  assert.deepEqual(Object.keys(ws).sort(), ['u1', 'u2']);
  assert.match(ws.u1, /^n1:\d+$/);
  assert.match(ws.u2, /^n2:\d+$/);
  const wsTtl = await rc.cmd('TTL', rk.ws(sid));
  assert.ok(wsTtl > 1700 && wsTtl <= 1800, `session:ws TTL ${wsTtl}`);

  // session:heartbeat:{sessionId}:{userId}: epoch milliseconds of the last heartbeat, TTL 45 s.
  for (const u of ['u1', 'u2']) {
    const v = await rc.cmd('GET', rk.heartbeat(sid, u));
    assert.match(v, /^\d{13}$/, `heartbeat of ${u}: ${v}`);
    assert.ok(Number(v) >= before - 1000 && Number(v) <= Date.now() + 1000, `heartbeat of ${u} is recent`);
    const ttl = await rc.cmd('TTL', rk.heartbeat(sid, u));
    assert.ok(ttl > 0 && ttl <= 45, `heartbeat TTL ${ttl}`);
  }
  const first = Number(await rc.cmd('GET', rk.heartbeat(sid, 'u2')));
  await new Promise((r) => setTimeout(r, 20));
  await c2.ping();
  await waitFor(async () => Number(await rc.cmd('GET', rk.heartbeat(sid, 'u2'))) > first, { what: 'heartbeat value updated' });

  // Any node answers for any session, with who is connected on every node.
  for (const s of [a, b]) {
    const got = await s.getSession(sid);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json.connected, ['u1', 'u2'], `GET on ${s.nodeId}`);
  }

  // Leaving removes the field and the heartbeat key.
  c2.send({ type: 'leave' });
  await expectClose(c2, 1000);
  assert.deepEqual({ ...(await c1.next('participant-left')) }, { type: 'participant-left', userId: 'u2' });
  await waitFor(async () => (await rc.cmd('HEXISTS', rk.ws(sid), 'u2')) === 0, { what: 'u2 removed from session:ws' });
  assert.equal(await rc.cmd('EXISTS', rk.heartbeat(sid, 'u2')), 0);

  // Started on node 2 (admin API): the participant on node 1 is told; Redis has it.
  const started = await b.admin('POST', `/api/sessions/${sid}/start`);
  assert.equal(started.status, 200);
  const ss = await c1.next('session-started');
  assert.match(ss.startedAt, ISO_MS_UTC);
  const dir2 = await rc.hgetall(rk.dir(sid));
  assert.equal(dir2.status, 'started');
  assert.equal(dir2.startedAt, ss.startedAt);

  // Ended on node 2: node 1's participant gets session-ended; the presence keys are gone and the
  // entry expires after the retention.
  assert.equal((await b.admin('POST', `/api/sessions/${sid}/end`)).status, 200);
  assert.deepEqual({ ...(await c1.next('session-ended')) }, { type: 'session-ended', reason: 'host_ended' });
  await expectClose(c1, 1000);
  const dir3 = await rc.hgetall(rk.dir(sid));
  assert.equal(dir3.status, 'ended');
  assert.equal(dir3.endReason, 'host_ended');
  assert.match(dir3.endedAt, ISO_MS_UTC);
  assert.ok(await rc.cmd('TTL', rk.dir(sid)) > 0, 'an ended entry expires');
  assert.equal(await rc.cmd('EXISTS', rk.ws(sid)), 0);
  assert.deepEqual(await rc.keys(rk.heartbeats(sid)), []);
  await waitFor(async () => (await a.getSession(sid)).json?.status === 'ended', { what: 'node 1 sees the end' });
  assert.equal((await b.admin('POST', `/api/sessions/${sid}/end`)).status, 409);
});

redisTest('three nodes, four clients spread over them: joined lists agree with one join order and the whole mesh is signaled', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const nodes = await startNodes(t, redis, 3);
  const rc = await redisClient(t, redis);
  const USERS = ['alice', 'bob', 'carol', 'dave'];
  const NAMES = { alice: 'Alice', bob: 'Bob Ünïcødé', carol: 'Carol 🎧', dave: 'Dave "D" \\ O\'Neil' };
  const sid = randomId('mesh3');
  await nodes[0].createSession(sid, { host: 'alice', participants: USERS.map((u) => ({ userId: u, displayName: `dir-${u}` })) });

  // All four connect at once, alice and dave on node 1, bob on node 2, carol on node 3.
  const placement = { alice: 0, bob: 1, carol: 2, dave: 0 };
  const clients = await Promise.all(USERS.map((u) => nodes[placement[u]].connect({ user: u, name: NAMES[u], sessionId: sid })));
  const by = Object.fromEntries(USERS.map((u, i) => [u, clients[i]]));
  for (const u of USERS) by[u].label = u;

  const joined = {};
  for (const u of USERS) {
    const m = await by[u].next(() => true, DEFAULT_WAIT_MS, 'joined (first message)');
    assert.equal(m.type, 'joined', `${u}: first message ${JSON.stringify(m)}`);
    assert.deepEqual(m.self, { userId: u, displayName: NAMES[u] });
    for (const p of m.participants) assert.deepEqual(p, { userId: p.userId, displayName: NAMES[p.userId] });
    joined[u] = m.participants.map((p) => p.userId);
  }
  const order = [...USERS].sort((x, y) => joined[x].length - joined[y].length);
  for (let k = 0; k < order.length; k++) {
    assert.deepEqual(joined[order[k]], order.slice(0, k), `joined lists disagree with one join order: ${JSON.stringify(joined)}`);
  }
  // Each one hears of exactly the later joiners (participant-joined), each once.
  for (let k = 0; k < order.length; k++) {
    const u = order[k];
    const later = order.slice(k + 1);
    const got = await by[u].take(later.length, (m) => m.type === 'participant-joined', DEFAULT_WAIT_MS, `${u}: participant-joined`);
    assert.deepEqual(got.map((m) => m.participant.userId).sort(), [...later].sort(), `${u}: participant-joined`);
    for (const m of got) assert.deepEqual({ ...m }, { type: 'participant-joined', participant: { userId: m.participant.userId, displayName: NAMES[m.participant.userId] } });
  }
  await quietAll(clients);
  const ws = await rc.hgetall(rk.ws(sid));
  assert.deepEqual(Object.fromEntries(Object.entries(ws).map(([u, c]) => [u, nodeOf(c)])), { alice: 'n1', bob: 'n2', carol: 'n3', dave: 'n1' });

  // AC3-AC5: newcomers offer to those they found; answers; 3 candidates each way.
  const expected = Object.fromEntries(USERS.map((u) => [u, []]));
  const send = (from, msg) => {
    expected[msg.toUserId].push({ from, msg });
    by[from].send(JSON.stringify(msg));
  };
  const cands = (from, to) => [0, 1, 2].map((i) => ({ candidate: `candidate:${i} 1 udp 1 127.0.0.1 ${5000 + i} typ host ${from}>${to}`, sdpMid: '0', sdpMLineIndex: 0 }));
  for (const u of USERS) for (const v of joined[u]) send(u, { type: 'offer', toUserId: v, sdp: `v=0\r\ns=offer ${u}→${v} 🎥\r\n` });
  await Promise.all(USERS.map(async (v) => {
    const offerers = order.slice(order.indexOf(v) + 1);
    for (let n = 0; n < offerers.length; n++) {
      const m = await by[v].next((x) => x.type === 'offer', DEFAULT_WAIT_MS, `${v}: offer`);
      const exp = expected[v].find((e) => e.msg.type === 'offer' && e.from === m.fromUserId);
      assert.ok(exp, `${v}: unexpected offer ${JSON.stringify(m)}`);
      expected[v].splice(expected[v].indexOf(exp), 1);
      assert.deepEqual({ ...m }, { ...exp.msg, fromUserId: m.fromUserId });
      send(v, { type: 'answer', toUserId: m.fromUserId, sdp: `v=0\r\ns=answer ${v}→${m.fromUserId}\r\n` });
      for (const c of cands(v, m.fromUserId)) send(v, { type: 'ice-candidate', toUserId: m.fromUserId, candidate: c });
    }
  }));
  await Promise.all(USERS.map(async (u) => {
    for (let n = 0; n < joined[u].length; n++) {
      const m = await by[u].next((x) => x.type === 'answer', DEFAULT_WAIT_MS, `${u}: answer`);
      const exp = expected[u].find((e) => e.msg.type === 'answer' && e.from === m.fromUserId);
      assert.ok(exp, `${u}: unexpected answer ${JSON.stringify(m)}`);
      expected[u].splice(expected[u].indexOf(exp), 1);
      assert.deepEqual({ ...m }, { ...exp.msg, fromUserId: exp.from });
      for (const c of cands(u, m.fromUserId)) send(u, { type: 'ice-candidate', toUserId: m.fromUserId, candidate: c });
    }
  }));
  await Promise.all(USERS.map(async (u) => {
    const n = expected[u].filter((e) => e.msg.type === 'ice-candidate').length;
    assert.equal(n, 9, `${u}: 3 peers x 3 candidates`);
    for (let k = 0; k < n; k++) {
      const m = await by[u].next((x) => x.type === 'ice-candidate', DEFAULT_WAIT_MS, `${u}: ice-candidate`);
      const exp = expected[u].find((e) => e.msg.type === 'ice-candidate' && e.from === m.fromUserId
        && JSON.stringify(e.msg.candidate) === JSON.stringify(m.candidate));
      assert.ok(exp, `${u}: unexpected or duplicated ice-candidate ${JSON.stringify(m)}`);
      expected[u].splice(expected[u].indexOf(exp), 1);
    }
    assert.deepEqual(expected[u], [], `${u}: messages never delivered`);
  }));
  await quietAll(clients);

  // A departure on node 3 reaches everyone, once.
  by.carol.close();
  for (const u of ['alice', 'bob', 'dave']) {
    assert.deepEqual({ ...(await by[u].next('participant-left')) }, { type: 'participant-left', userId: 'carol' });
  }
  await quietAll([by.alice, by.bob, by.dave]);
  for (const s of nodes) s.assertAlive();
});

redisTest('a second connection of a user on another node replaces the first: replaced/4440, participant-left then participant-joined everywhere', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const [a, b] = await startNodes(t, redis, 2);
  const rc = await redisClient(t, redis);
  const sid = randomId('repl');
  await a.createSession(sid, { host: 'x', participants: ['x', 'y', 'z'] });
  const [x] = await a.join(sid, 'x');
  const [y1] = await a.join(sid, 'y');
  const [z] = await b.join(sid, 'z');
  await x.next('participant-joined');
  await x.next('participant-joined');
  await y1.next('participant-joined');

  const [y2, j] = await b.join(sid, 'y', 'Y again');
  assert.deepEqual(j.participants.map((p) => p.userId), ['x', 'z']);
  await expectError(y1, 'replaced');
  await expectClose(y1, 4440);
  for (const c of [x, z]) {
    assert.deepEqual({ ...(await c.next()) }, { type: 'participant-left', userId: 'y' }, `${c.label}: left first`);
    assert.deepEqual({ ...(await c.next()) }, { type: 'participant-joined', participant: { userId: 'y', displayName: 'Y again' } }, `${c.label}: then joined`);
  }
  await quietAll([x, y2, z]);
  assert.match((await rc.hgetall(rk.ws(sid))).y, /^n2:/);
  x.send({ type: 'offer', toUserId: 'y', sdp: 'v=0\r\n' });
  assert.equal((await y2.next('offer')).fromUserId, 'x');
  assert.deepEqual((await a.getSession(sid)).json.connected, ['x', 'z', 'y']);
});

redisTest('two users racing on two nodes for the last place: exactly one gets in, the other gets session_full/4409 (repeated)', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const [a, b] = await startNodes(t, redis, 2, { args: ['--max-participants', '2'] });
  const rc = await redisClient(t, redis);
  const ROUNDS = 8;
  const winners = { p: 0, q: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const sid = randomId(`race${round}`);
    await a.createSession(sid, { host: 'h', participants: ['h', 'p', 'q'] });
    await waitFor(async () => (await b.getSession(sid)).status === 200, { what: 'node 2 knows the session' });
    const [h] = await (round % 2 ? b : a).join(sid, 'h');
    const [cp, cq] = await Promise.all([a.connect({ user: 'p', sessionId: sid }), b.connect({ user: 'q', sessionId: sid })]);
    const [mp, mq] = await Promise.all([cp.next(), cq.next()]);
    const results = { p: mp, q: mq };
    const ins = Object.entries(results).filter(([, m]) => m.type === 'joined').map(([u]) => u);
    assert.equal(ins.length, 1, `round ${round}: exactly one admitted: ${JSON.stringify(results)}`);
    const loser = ins[0] === 'p' ? 'q' : 'p';
    const lc = loser === 'p' ? cp : cq;
    assert.equal(results[loser].type, 'error');
    assert.equal(results[loser].code, 'session_full');
    await expectClose(lc, 4409);
    winners[ins[0]] += 1;
    assert.deepEqual({ ...(await h.next()) }, { type: 'participant-joined', participant: { userId: ins[0], displayName: `Name of ${ins[0]}` } });
    await h.expectNoMessage(100);
    assert.equal(await rc.cmd('HLEN', rk.ws(sid)), 2);
    for (const c of [h, cp, cq]) c.close();
  }
  t.diagnostic(`winners over ${ROUNDS} rounds: ${JSON.stringify(winners)}`);
});

redisTest('a duration ends the session once for every node (completed), whichever node wins', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const [a, b] = await startNodes(t, redis, 2);
  const rc = await redisClient(t, redis);
  const sid = randomId('dur');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2'], durationSeconds: 1 });
  const [c1] = await a.join(sid, 'u1');
  const [c2] = await b.join(sid, 'u2');
  await c1.next('participant-joined');
  assert.equal((await a.admin('POST', `/api/sessions/${sid}/start`)).status, 200);
  for (const c of [c1, c2]) {
    await c.next('session-started');
    assert.deepEqual({ ...(await c.next('session-ended', 5000)) }, { type: 'session-ended', reason: 'completed' });
    await expectClose(c, 1000);
    assert.deepEqual(c.queue, []);
  }
  const dir = await rc.hgetall(rk.dir(sid));
  assert.equal(dir.status, 'ended');
  assert.equal(dir.endReason, 'completed');
});

redisTest('a directory entry written straight into Redis by the platform is served by every node', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const [a, b] = await startNodes(t, redis, 2, { args: ['--cluster-sync', '300ms'] });
  const rc = await redisClient(t, redis);
  const sid = randomId('direct');
  await rc.cmd('HSET', rk.dir(sid), 'hostUserId', 'u1', 'participants',
    JSON.stringify([{ userId: 'u1', displayName: 'One' }, { userId: 'u2', displayName: 'Two' }]),
    'status', 'waiting', 'createdAt', new Date().toISOString());
  const [c1, j1] = await a.join(sid, 'u1');
  assert.deepEqual(j1.self, { userId: 'u1', displayName: 'One' });
  const [, j2] = await b.join(sid, 'u2');
  assert.deepEqual(j2.participants, [{ userId: 'u1', displayName: 'One' }]);
  await c1.next('participant-joined');
  // Neither node created it through the API; both answer for it.
  for (const s of [a, b]) {
    const got = await waitFor(async () => {
      const r = await s.getSession(sid);
      return r.status === 200 && r.json.connected.length === 2 ? r : null;
    }, { what: `GET on ${s.nodeId}` });
    assert.deepEqual(got.json.participants.map((p) => [p.userId, p.displayName, p.connected]), [['u1', 'One', true], ['u2', 'Two', true]]);
  }
});

redisTest('the admin API reads Redis: any node answers at once with what another node or the platform just wrote', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  // No periodic re-read within the test: every answer below has to come from Redis itself.
  const [a, b] = await startNodes(t, redis, 2, { args: ['--cluster-sync', '600s'] });
  const rc = await redisClient(t, redis);
  const sid = randomId('readthrough');

  // Written on a, read on b right away.
  assert.equal((await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2'] })).status, 201);
  let got = await b.getSession(sid);
  assert.equal(got.status, 200);
  assert.deepEqual(got.json.participants.map((p) => p.userId), ['u1', 'u2']);
  assert.equal((await a.admin('POST', `/api/sessions/${sid}/start`)).status, 200);
  assert.equal((await b.getSession(sid)).json.status, 'started');
  assert.equal((await b.admin('PUT', `/api/sessions/${sid}/participants/u3`, { displayName: 'Three' })).status, 200);
  assert.deepEqual((await a.getSession(sid)).json.participants.map((p) => p.userId), ['u1', 'u2', 'u3']);

  // Written into Redis by the platform (no event is published): both nodes answer with it.
  const direct = randomId('platform');
  await rc.cmd('HSET', rk.dir(direct), 'hostUserId', 'p1', 'participants',
    JSON.stringify([{ userId: 'p1', displayName: 'P one' }]), 'status', 'waiting', 'createdAt', new Date().toISOString());
  for (const s of [a, b]) {
    got = await s.getSession(direct);
    assert.equal(got.status, 200, `GET on ${s.nodeId}`);
    assert.deepEqual(got.json.participants, [{ userId: 'p1', displayName: 'P one', connected: false }]);
  }
  await rc.cmd('HSET', rk.dir(direct), 'participants',
    JSON.stringify([{ userId: 'p1', displayName: 'P one' }, { userId: 'p2', displayName: 'P two' }]));
  assert.deepEqual((await a.getSession(direct)).json.participants.map((p) => p.userId), ['p1', 'p2']);
  await rc.cmd('DEL', rk.dir(direct));
  for (const s of [a, b]) assert.equal((await s.getSession(direct)).status, 404, `GET on ${s.nodeId} after DEL`);

  // Deleted through b: gone for a at once.
  assert.equal((await b.admin('DELETE', `/api/sessions/${sid}`)).status, 204);
  assert.equal((await a.getSession(sid)).status, 404);
});
