// AC2, AC3, AC4, AC5: four clients join one session at the same time and build a full mesh.
import assert from 'node:assert/strict';
import test from 'node:test';
import { DEFAULT_WAIT_MS, RAW, quietAll, randomId, startServer } from './harness.mjs';

const USERS = ['alice', 'bob', 'carol', 'dave'];
const NAMES = { alice: 'Alice', bob: 'Bob Ünïcødé', carol: 'Carol 🎧', dave: 'Dave "D" \\ O\'Neil' };

function sdpFor(kind, from, to) {
  // CRLF line endings, non-ASCII text, an astral-plane character, a quote and a backslash.
  return [
    'v=0',
    `o=- 46117317 2 IN IP4 127.0.0.1`,
    `s=${kind} ${from}→${to} séance 🎥 "quoted" back\\slash`,
    't=0 0',
    'a=group:BUNDLE 0',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'c=IN IP4 0.0.0.0',
    `a=ice-ufrag:${from.slice(0, 4)}`,
    'a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89',
    'a=mid:0',
    '',
  ].join('\r\n');
}

function candidatesFor(from, to) {
  const base = 54321 + USERS.indexOf(from) * 10 + USERS.indexOf(to);
  return [
    { candidate: `candidate:1 1 udp 2122260223 127.0.0.1 ${base} typ host`, sdpMid: '0', sdpMLineIndex: 0 },
    { candidate: `candidate:2 1 tcp 1518280447 127.0.0.1 ${base + 1000} typ host tcptype passive`, sdpMid: '0', sdpMLineIndex: 0 },
    { candidate: `candidate:3 1 udp 1686052607 192.0.2.7 ${base + 2000} typ srflx raddr 127.0.0.1 rport ${base}`, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: `uf-${from}` },
  ];
}

test('4 clients joining at once get consistent joined / participant-joined, then build a full mesh with every relay delivered exactly once', async (t) => {
  const server = await startServer(t);
  const sessionId = randomId('mesh');
  await server.createSession(sessionId, {
    host: 'alice',
    participants: USERS.map((u) => ({ userId: u, displayName: `dir-${u}` })),
  });

  // All four connect concurrently.
  const clients = await Promise.all(USERS.map((u) => server.connect({ user: u, name: NAMES[u], sessionId })));
  const byUser = Object.fromEntries(USERS.map((u, i) => [u, clients[i]]));
  for (const u of USERS) byUser[u].label = u;

  // --- joined --------------------------------------------------------------------------------
  const joined = {};
  for (const u of USERS) {
    const m = await byUser[u].next(() => true, DEFAULT_WAIT_MS, 'joined (first message)');
    assert.equal(m.type, 'joined', `${u}: the first message must be joined, got ${JSON.stringify(m)}`);
    assert.equal(m.sessionId, sessionId);
    assert.deepEqual(m.self, { userId: u, displayName: NAMES[u] }, `${u}: self`);
    assert.equal(m.hostUserId, 'alice');
    assert.equal(m.status, 'waiting');
    assert.equal('startedAt' in m, false, `${u}: startedAt must be absent while waiting`);
    assert.equal(typeof m.heartbeatIntervalMs, 'number');
    assert.ok(Array.isArray(m.participants), `${u}: participants must be an array`);
    for (const p of m.participants) {
      assert.deepEqual(p, { userId: p.userId, displayName: NAMES[p.userId] }, `${u}: participant entry ${JSON.stringify(p)}`);
      assert.notEqual(p.userId, u, `${u}: joined lists the newcomer itself`);
    }
    joined[u] = m.participants.map((p) => p.userId);
  }

  // There is one join order: the k-th joiner sees exactly the k-1 before it, in that order.
  const order = [...USERS].sort((a, b) => joined[a].length - joined[b].length);
  for (let k = 0; k < order.length; k++) {
    assert.deepEqual(joined[order[k]], order.slice(0, k),
      `joined lists are not consistent with one join order: ${JSON.stringify(joined)}`);
  }

  // --- participant-joined: one per later newcomer, exactly these fields ----------------------
  for (let k = 0; k < order.length; k++) {
    const u = order[k];
    const later = order.slice(k + 1);
    const got = await byUser[u].take(later.length, (m) => m.type === 'participant-joined', DEFAULT_WAIT_MS, `${u}: participant-joined`);
    assert.deepEqual(got.map((m) => ({ ...m })),
      later.map((v) => ({ type: 'participant-joined', participant: { userId: v, displayName: NAMES[v] } })),
      `${u}: participant-joined messages (in join order)`);
  }
  await quietAll(clients);

  // --- AC3: the newcomer offers to everyone it found; they answer; both exchange ICE ----------
  // expected[to] = list of {from, type, payload} still to be received by `to`.
  const expected = Object.fromEntries(USERS.map((u) => [u, []]));
  const sentRaw = new Map(); // key -> raw text sent
  const keyOf = (type, from, to, i = 0) => `${type}|${from}|${to}|${i}`;

  const send = (from, msg, i = 0) => {
    const raw = JSON.stringify(msg);
    sentRaw.set(keyOf(msg.type, from, msg.toUserId, i), raw);
    expected[msg.toUserId].push({ from, msg, i });
    byUser[from].send(raw);
  };

  let offers = 0;
  for (const u of USERS) {
    for (const v of joined[u]) {
      send(u, { type: 'offer', toUserId: v, sdp: sdpFor('offer', u, v) });
      offers += 1;
    }
  }
  assert.equal(offers, 6, 'N*(N-1)/2 offers for N=4');

  // Each receiver answers every offer it gets; after that both sides send their candidates.
  const answers = [];
  await Promise.all(USERS.map(async (v) => {
    const offerers = order.slice(order.indexOf(v) + 1); // those who joined after v offer to v
    for (let n = 0; n < offerers.length; n++) {
      const m = await byUser[v].next((x) => x.type === 'offer', DEFAULT_WAIT_MS, `${v}: offer ${n + 1}/${offerers.length}`);
      const from = m.fromUserId;
      assert.ok(offerers.includes(from), `${v}: offer from unexpected sender ${from}`);
      const exp = expected[v].find((e) => e.msg.type === 'offer' && e.from === from);
      assert.ok(exp, `${v}: unexpected offer ${JSON.stringify(m)}`);
      expected[v].splice(expected[v].indexOf(exp), 1);
      assert.deepEqual({ ...m }, { ...exp.msg, fromUserId: from }, `${v}: relayed offer from ${from}`);
      assert.equal(m.sdp, exp.msg.sdp, 'sdp must be unchanged byte for byte');
      send(v, { type: 'answer', toUserId: from, sdp: sdpFor('answer', v, from) });
      answers.push([v, from]);
      candidatesFor(v, from).forEach((c, i) => send(v, { type: 'ice-candidate', toUserId: from, candidate: c }, i));
    }
  }));
  assert.equal(answers.length, 6, '6 offer/answer pairs');

  await Promise.all(USERS.map(async (u) => {
    const answerers = joined[u];
    for (let n = 0; n < answerers.length; n++) {
      const m = await byUser[u].next((x) => x.type === 'answer', DEFAULT_WAIT_MS, `${u}: answer ${n + 1}/${answerers.length}`);
      const exp = expected[u].find((e) => e.msg.type === 'answer' && e.from === m.fromUserId);
      assert.ok(exp, `${u}: unexpected answer ${JSON.stringify(m)}`);
      expected[u].splice(expected[u].indexOf(exp), 1);
      assert.deepEqual({ ...m }, { ...exp.msg, fromUserId: exp.from }, `${u}: relayed answer`);
      assert.equal(m.sdp, exp.msg.sdp);
      candidatesFor(u, m.fromUserId).forEach((c, i) => send(u, { type: 'ice-candidate', toUserId: m.fromUserId, candidate: c }, i));
    }
  }));

  // Every candidate arrives exactly once at its target.
  await Promise.all(USERS.map(async (u) => {
    const n = expected[u].filter((e) => e.msg.type === 'ice-candidate').length;
    assert.equal(n, 3 * 3, `${u}: 3 peers x 3 candidates expected`);
    for (let k = 0; k < n; k++) {
      const m = await byUser[u].next((x) => x.type === 'ice-candidate', DEFAULT_WAIT_MS, `${u}: ice-candidate ${k + 1}/${n}`);
      const exp = expected[u].find((e) => e.msg.type === 'ice-candidate' && e.from === m.fromUserId
        && JSON.stringify(e.msg.candidate) === JSON.stringify(m.candidate));
      assert.ok(exp, `${u}: unexpected or duplicated ice-candidate ${JSON.stringify(m)}`);
      expected[u].splice(expected[u].indexOf(exp), 1);
      assert.deepEqual({ ...m }, { ...exp.msg, fromUserId: exp.from }, `${u}: relayed ice-candidate`);
    }
    assert.deepEqual(expected[u], [], `${u}: messages never delivered`);
  }));

  // Nobody receives anything else (no duplicate, nothing misrouted).
  await quietAll(clients);
  server.assertAlive();
});

test('relayed messages are the sender\'s bytes with ,"fromUserId":"..." appended as the last field', async (t) => {
  const server = await startServer(t);
  const sessionId = randomId('raw');
  await server.createSession(sessionId, { host: 'a', participants: ['a', 'b'] });
  const [a] = await server.join(sessionId, 'a');
  const [b] = await server.join(sessionId, 'b');
  await a.next('participant-joined');

  // Escapes the server must not normalise: \u00e9, \/, a raw astral character, CRLF escapes,
  // an exponent number, nested objects and arrays, key order that is not alphabetical.
  const raws = [
    '{"type":"offer","toUserId":"b","sdp":"v=0\\r\\ns=caf\\u00e9 \\/ 😀\\r\\n","zExtra":{"n":1.5e3,"arr":[true,null,"x"]},"aExtra":"ü"}',
    '{"type":"answer","toUserId":"b","sdp":"v=0\\r\\n\\ta=\\"x\\"\\u0000\\ud83d\\ude00","note":"escaped controls, quotes, NUL and a surrogate pair"}',
    '{"type":"ice-candidate","toUserId":"b","candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host","sdpMid":"0","sdpMLineIndex":0},"seq":7}',
  ];
  for (const raw of raws) {
    a.send(raw);
    const m = await b.next((x) => x.type === JSON.parse(raw).type, DEFAULT_WAIT_MS, 'relayed message');
    assert.equal(m[RAW], `${raw.slice(0, -1)},"fromUserId":"a"}`, 'relayed bytes');
  }
  await quietAll([a, b]);
});

test('displayName comes from the token name claim, else the session directory, else the user id', async (t) => {
  const server = await startServer(t);
  const sessionId = randomId('names');
  await server.createSession(sessionId, {
    host: 'u1',
    participants: [{ userId: 'u1', displayName: 'Dir One' }, { userId: 'u2', displayName: 'Dir Two' }, { userId: 'u3' }],
  });
  const [c1, j1] = await server.join(sessionId, 'u1', 'Token One');
  assert.deepEqual(j1.self, { userId: 'u1', displayName: 'Token One' });
  const [c2, j2] = await server.join(sessionId, 'u2'); // no name claim
  assert.deepEqual(j2.self, { userId: 'u2', displayName: 'Dir Two' });
  assert.deepEqual(j2.participants, [{ userId: 'u1', displayName: 'Token One' }]);
  const [c3, j3] = await server.join(sessionId, 'u3'); // neither
  assert.deepEqual(j3.self, { userId: 'u3', displayName: 'u3' });
  assert.deepEqual(j3.participants, [{ userId: 'u1', displayName: 'Token One' }, { userId: 'u2', displayName: 'Dir Two' }]);
  assert.deepEqual({ ...(await c1.next('participant-joined')) }, { type: 'participant-joined', participant: { userId: 'u2', displayName: 'Dir Two' } });
  assert.deepEqual({ ...(await c1.next('participant-joined')) }, { type: 'participant-joined', participant: { userId: 'u3', displayName: 'u3' } });
  assert.deepEqual({ ...(await c2.next('participant-joined')) }, { type: 'participant-joined', participant: { userId: 'u3', displayName: 'u3' } });
  await quietAll([c1, c2, c3]);
});

test('joined carries heartbeatIntervalMs = --heartbeat-interval', async (t) => {
  const server = await startServer(t, { args: ['--heartbeat-interval', '1234ms', '--heartbeat-timeout', '60s'] });
  const sessionId = randomId('hb');
  await server.createSession(sessionId, { host: 'u1', participants: ['u1'] });
  const [, j] = await server.join(sessionId, 'u1');
  assert.equal(j.heartbeatIntervalMs, 1234);
  assert.ok(!('startedAt' in j) && j.status === 'waiting');
});

test('a message sent to a newcomer as soon as its participant-joined arrives reaches it after its joined', async (t) => {
  const server = await startServer(t);
  const sessionId = randomId('order');
  await server.createSession(sessionId, { host: 'a', participants: ['a', 'b'] });
  const [a] = await server.join(sessionId, 'a');
  // a answers every participant-joined at once with an offer to the newcomer.
  a.onMessage = (m) => {
    if (m.type === 'participant-joined') a.send({ type: 'offer', toUserId: m.participant.userId, sdp: 'v=0\r\n' });
  };
  for (let round = 0; round < 10; round++) {
    const b = await server.connect({ user: 'b', sessionId });
    const first = await b.next();
    assert.equal(first.type, 'joined', `round ${round}: first message ${JSON.stringify(first)}`);
    const second = await b.next();
    assert.deepEqual({ ...second }, { type: 'offer', toUserId: 'b', sdp: 'v=0\r\n', fromUserId: 'a' }, `round ${round}`);
    b.send({ type: 'leave' });
    await b.waitClosed();
    await a.next('participant-joined');
    assert.deepEqual({ ...(await a.next()) }, { type: 'participant-left', userId: 'b' });
  }
  await a.expectNoMessage();
});

test('--jwt-name-claim selects the claim that carries the display name', async (t) => {
  const server = await startServer(t, { args: ['--jwt-name-claim', 'nick'] });
  const sessionId = randomId('nick');
  await server.createSession(sessionId, { host: 'u1', participants: [{ userId: 'u1', displayName: 'Dir One' }, { userId: 'u2', displayName: 'Dir Two' }] });
  const [, j1] = await server.join(sessionId, 'u1', 'Ignored name claim'); // has "name" but no "nick"
  assert.deepEqual(j1.self, { userId: 'u1', displayName: 'Dir One' });
  const c2 = await server.connect({ token: server.token('u2', 'Ignored', { nick: 'Nicky' }), sessionId });
  const j2 = await c2.next();
  assert.deepEqual(j2.self, { userId: 'u2', displayName: 'Nicky' });
});
