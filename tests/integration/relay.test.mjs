// Relay rules (protocol.md section 3): fromUserId spoofing, unknown / absent / self targets,
// extra fields.
import assert from 'node:assert/strict';
import test from 'node:test';
import { RAW, expectError, quietAll, sessionWith, startServer } from './harness.mjs';

const SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n';
const CAND = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host', sdpMid: '0', sdpMLineIndex: 0 };

for (const [type, field, value] of [['offer', 'sdp', SDP], ['answer', 'sdp', SDP], ['ice-candidate', 'candidate', CAND]]) {
  test(`${type} carrying a client-sent fromUserId is refused with invalid_message and delivered nowhere`, async (t) => {
    const server = await startServer(t);
    const { clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);
    a.send({ type, toUserId: 'b', [field]: value, fromUserId: 'c' });
    await expectError(a, 'invalid_message');
    // Even the true sender id is refused: the client never sends fromUserId.
    a.send({ type, toUserId: 'b', [field]: value, fromUserId: 'a' });
    await expectError(a, 'invalid_message');
    await quietAll([a, b, c]);
    await a.ping();
    // A clean message still goes through.
    a.send({ type, toUserId: 'b', [field]: value });
    const m = await b.next(type);
    assert.equal(m.fromUserId, 'a');
    await quietAll([a, b, c]);
  });
}

test('a target that is a participant but not connected gets target_not_connected with toUserId', async (t) => {
  const server = await startServer(t);
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b', 'c'], { join: ['a', 'b'] });
  a.send({ type: 'offer', toUserId: 'c', sdp: SDP });
  const err = await expectError(a, 'target_not_connected');
  assert.equal(err.toUserId, 'c');
  await quietAll([a, b]);
  await a.ping();
});

test('a target that is not in the session at all gets target_not_connected with toUserId', async (t) => {
  const server = await startServer(t);
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b']);
  for (const type of ['offer', 'answer', 'ice-candidate']) {
    const msg = type === 'ice-candidate' ? { type, toUserId: 'zed', candidate: CAND } : { type, toUserId: 'zed', sdp: SDP };
    a.send(msg);
    const err = await expectError(a, 'target_not_connected');
    assert.equal(err.toUserId, 'zed', `${type}: toUserId in the error`);
  }
  await quietAll([a, b]);
  await a.ping();
});

test('a participant connected to ANOTHER session is not a valid target', async (t) => {
  const server = await startServer(t);
  const s1 = await sessionWith(server, ['a', 'b']);
  const s2 = await sessionWith(server, ['x', 'b']);
  // a (in s1) targets x, who is connected, but to s2 only.
  s1.clients.a.send({ type: 'offer', toUserId: 'x', sdp: SDP });
  const err = await expectError(s1.clients.a, 'target_not_connected');
  assert.equal(err.toUserId, 'x');
  await quietAll([s1.clients.a, s1.clients.b, s2.clients.x, s2.clients.b]);
});

test('the same user in two sessions receives relays only on the session they were sent in', async (t) => {
  const server = await startServer(t);
  const s1 = await sessionWith(server, ['a', 'b']);
  const s2 = await sessionWith(server, ['x', 'b']);
  s1.clients.a.send({ type: 'offer', toUserId: 'b', sdp: 'v=0\r\ns=one\r\n' });
  const m1 = await s1.clients.b.next('offer');
  assert.equal(m1.sdp, 'v=0\r\ns=one\r\n');
  assert.equal(m1.fromUserId, 'a');
  s2.clients.x.send({ type: 'offer', toUserId: 'b', sdp: 'v=0\r\ns=two\r\n' });
  const m2 = await s2.clients.b.next('offer');
  assert.equal(m2.sdp, 'v=0\r\ns=two\r\n');
  assert.equal(m2.fromUserId, 'x');
  await quietAll([s1.clients.a, s1.clients.b, s2.clients.x, s2.clients.b]);
});

test('toUserId = self is refused with invalid_target and delivered nowhere', async (t) => {
  const server = await startServer(t);
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b']);
  for (const type of ['offer', 'answer', 'ice-candidate']) {
    const msg = type === 'ice-candidate' ? { type, toUserId: 'a', candidate: CAND } : { type, toUserId: 'a', sdp: SDP };
    a.send(msg);
    const err = await expectError(a, 'invalid_target');
    assert.equal(err.toUserId, 'a', `${type}: relay errors carry the toUserId`);
  }
  await quietAll([a, b]);
  await a.ping();
});

test('extra fields are passed through unchanged, at their place, for offer, answer and ice-candidate', async (t) => {
  const server = await startServer(t);
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b']);
  const msgs = [
    { type: 'offer', toUserId: 'b', sdp: SDP, renegotiation: true, meta: { track: ['audio', 'video'], n: -0.25 }, label: 'é€😀' },
    { type: 'answer', toUserId: 'b', sdp: SDP, extra: null, list: [1, [2, [3]]] },
    { type: 'ice-candidate', toUserId: 'b', candidate: { ...CAND, custom: { deep: 'x' } }, generation: 0, endOfCandidates: false },
  ];
  for (const msg of msgs) {
    const raw = JSON.stringify(msg);
    b.send(JSON.stringify({ ...msg, toUserId: 'a' })); // and the other way round
    a.send(raw);
    const got = await b.next(msg.type);
    assert.deepEqual({ ...got }, { ...msg, fromUserId: 'a' });
    assert.equal(got[RAW], `${raw.slice(0, -1)},"fromUserId":"a"}`, 'byte-for-byte relay');
    const back = await a.next(msg.type);
    assert.deepEqual({ ...back }, { ...msg, toUserId: 'a', fromUserId: 'b' });
  }
  await quietAll([a, b]);
});
