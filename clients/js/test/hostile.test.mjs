// A confused or hostile server: malformed `joined`, relayed messages from strangers, more people
// than the session cap, absurd heartbeat intervals. The client never hangs and never creates a
// connection it should not.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { clampHeartbeat, joinedProblem } from '../src/index.js';
import { FakeWebSocket, FakeRTCPeerConnection, fakeLocalStream, waitFor, settle } from '../test-support/fakes.mjs';
import { makeClient, lastSocket, joinedMsg, joinAs, fakeSdp } from '../test-support/client-helpers.mjs';

beforeEach(() => {
  FakeWebSocket.instances.length = 0;
  FakeRTCPeerConnection.instances.length = 0;
});

const good = () => joinedMsg('carol', ['alice', 'bob']);
const MALFORMED = [
  ['participants is a string', { ...good(), participants: 'alice,bob' }],
  ['participants is an object', { ...good(), participants: { alice: {} } }],
  ['participants is null', { ...good(), participants: null }],
  ['participants is missing', { ...good(), participants: undefined }],
  ['a null entry', { ...good(), participants: [{ userId: 'alice' }, null] }],
  ['a number entry', { ...good(), participants: [7] }],
  ['a string entry', { ...good(), participants: ['alice'] }],
  ['an entry without userId', { ...good(), participants: [{ displayName: 'Alice' }] }],
  ['a numeric userId', { ...good(), participants: [{ userId: 42 }] }],
  ['an empty userId', { ...good(), participants: [{ userId: '' }] }],
  ['the client itself listed', { ...good(), participants: [{ userId: 'alice' }, { userId: 'carol' }] }],
  ['a duplicate', { ...good(), participants: [{ userId: 'alice' }, { userId: 'bob' }, { userId: 'alice' }] }],
  ['no self', { ...good(), self: undefined }],
  ['self without userId', { ...good(), self: { displayName: 'Carol' } }],
  ['self is a string', { ...good(), self: 'carol' }],
];

for (const [what, msg] of MALFORMED) {
  test(`malformed joined (${what}): join() rejects with invalid_joined, no connection is made, no retry`, async () => {
    const ctx = makeClient({ localStream: fakeLocalStream(), reconnect: { baseMs: 10, maxMs: 10 } });
    const p = ctx.client.join();
    const ws = lastSocket();
    ws._open();
    ws._receive(msg);
    await assert.rejects(p, (err) => err.code === 'invalid_joined' && err.reason === 'rejected' && /malformed joined/.test(err.message));
    assert.equal(ctx.client.state, 'closed');
    assert.equal(ctx.client.closeReason, 'rejected');
    assert.equal(FakeRTCPeerConnection.instances.length, 0, 'no peer connection');
    const err = ctx.of('error').find((e) => e.code === 'invalid_joined');
    assert.ok(err && err.fatal, 'a fatal error event');
    assert.equal(ws.readyState >= 2, true, 'the socket is closed');
    assert.equal(ctx.client.self, null, 'nothing of it applied');
    ctx.clock.advance(60_000);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 1, 'no retry');
  });
}

test('joinedProblem accepts a well-formed joined', () => {
  assert.equal(joinedProblem(good()), null);
  assert.equal(joinedProblem(joinedMsg('carol', [])), null);
});

test('a malformed joined after a reconnect closes the client and its connections (never a half-applied state)', async () => {
  const ctx = makeClient({ reconnect: { baseMs: 10, maxMs: 10, jitter: 0 } });
  const ws = await joinAs(ctx, 'carol', ['alice'], { resumeId: 'r1' });
  const pc = ctx.client.peer('alice').pc;
  ws._close(1006, '');
  ctx.clock.advance(10);
  await waitFor(() => FakeWebSocket.instances.length === 2, 'second socket');
  lastSocket()._open();
  lastSocket()._receive({ ...joinedMsg('carol', ['alice']), resumed: true, resumeId: 'r1', participants: [null] });
  assert.equal(ctx.client.state, 'closed');
  assert.equal(pc.signalingState, 'closed');
  assert.deepEqual(ctx.client.participants().map((p) => p.userId), ['alice'], 'the roster of the last good joined');
});

for (const type of ['offer', 'answer', 'ice-candidate']) {
  test(`${type} from a user not in the roster: no connection, a non-fatal unknown_peer error`, async () => {
    const ctx = makeClient();
    const ws = await joinAs(ctx, 'carol', ['alice']);
    const before = FakeRTCPeerConnection.instances.length;
    for (const from of ['mallory', 'carol']) {
      const msg = type === 'ice-candidate'
        ? { type, toUserId: 'carol', candidate: { candidate: 'c', sdpMid: '0', sdpMLineIndex: 0 }, fromUserId: from }
        : { type, toUserId: 'carol', sdp: fakeSdp(type, { pcId: `pc-${from}` }), fromUserId: from };
      ws._receive(msg);
    }
    await settle();
    assert.equal(FakeRTCPeerConnection.instances.length, before, 'no connection created');
    assert.equal(ctx.client.peer('mallory'), undefined);
    assert.equal(ctx.client.peer('carol'), undefined, 'not to ourselves either');
    const errors = ctx.of('error').filter((e) => e.code === 'unknown_peer');
    assert.deepEqual(errors.map((e) => [e.userId, e.fatal]), [['mallory', false], ['carol', false]]);
    assert.equal(ctx.client.state, 'joined');
    assert.deepEqual(ws.messages('answer'), []);
  });
}

test('an offer from someone who left is ignored (no connection comes back)', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'carol', ['alice']);
  ws._receive({ type: 'participant-left', userId: 'alice' });
  ws._receive({ type: 'offer', toUserId: 'carol', sdp: fakeSdp('offer', { pcId: 'pc-alice' }), fromUserId: 'alice' });
  await settle();
  assert.equal(ctx.client.peer('alice'), undefined);
  assert.equal(FakeRTCPeerConnection.instances.length, 1, 'only the first, closed');
});

test('participant-joined of ourselves, or without a user id, is ignored', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'carol', []);
  ws._receive({ type: 'participant-joined', participant: { userId: 'carol', displayName: 'evil twin' } });
  ws._receive({ type: 'participant-joined', participant: null });
  ws._receive({ type: 'participant-joined', participant: { userId: 5 } });
  ws._receive({ type: 'participant-joined' });
  assert.deepEqual(ctx.client.participants(), []);
  assert.deepEqual(ctx.of('participant-joined'), []);
});

test('joined listing more people than the cap: connections to the first maxPeers - 1 only, the others refused', async () => {
  const ctx = makeClient();
  const others = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'];
  await joinAs(ctx, 'carol', others);
  assert.equal(FakeRTCPeerConnection.instances.length, 5, 'default cap 6: at most 5 remote connections');
  assert.deepEqual(ctx.client.peers().map((p) => p.userId), ['u1', 'u2', 'u3', 'u4', 'u5']);
  assert.deepEqual(ctx.of('error').filter((e) => e.code === 'peer_limit').map((e) => [e.userId, e.fatal]), [['u6', false], ['u7', false]]);
  assert.equal(ctx.client.state, 'joined');
});

test('the cap holds against participant-joined and offers too; maxPeers sets it', async () => {
  const ctx = makeClient({ maxPeers: 3 });
  const ws = await joinAs(ctx, 'carol', ['alice']);
  ws._receive({ type: 'participant-joined', participant: { userId: 'bob', displayName: 'BOB' } });
  ws._receive({ type: 'participant-joined', participant: { userId: 'dave', displayName: 'DAVE' } });
  assert.deepEqual(ctx.client.participants().map((p) => p.userId), ['alice', 'bob']);
  ws._receive({ type: 'offer', toUserId: 'carol', sdp: fakeSdp('offer', { pcId: 'pc-bob' }), fromUserId: 'bob' });
  ws._receive({ type: 'offer', toUserId: 'carol', sdp: fakeSdp('offer', { pcId: 'pc-dave' }), fromUserId: 'dave' });
  await waitFor(() => ws.messages('answer').length === 1, 'bob answered');
  await settle();
  assert.equal(FakeRTCPeerConnection.instances.length, 2, 'maxPeers 3: 2 remote connections');
  assert.deepEqual(ctx.client.peers().map((p) => p.userId).sort(), ['alice', 'bob']);
  assert.ok(ctx.of('error').some((e) => e.code === 'peer_limit' && e.userId === 'dave'));
  assert.ok(ctx.of('error').some((e) => e.code === 'unknown_peer' && e.userId === 'dave'));
  // Someone leaves: a place frees up.
  ws._receive({ type: 'participant-left', userId: 'alice' });
  ws._receive({ type: 'participant-joined', participant: { userId: 'dave', displayName: 'DAVE' } });
  ws._receive({ type: 'offer', toUserId: 'carol', sdp: fakeSdp('offer', { pcId: 'pc-dave' }), fromUserId: 'dave' });
  await waitFor(() => ws.messages('answer').length === 2, 'dave answered');
  assert.deepEqual(ctx.client.peers().map((p) => p.userId).sort(), ['bob', 'dave']);
});

test('a resumed joined over the cap keeps only the first maxPeers - 1', async () => {
  const ctx = makeClient({ maxPeers: 2, reconnect: { baseMs: 10, maxMs: 10, jitter: 0 } });
  const ws = await joinAs(ctx, 'carol', ['alice'], { resumeId: 'r1' });
  ws._close(1006, '');
  ctx.clock.advance(10);
  await waitFor(() => FakeWebSocket.instances.length === 2, 'second socket');
  const ws2 = lastSocket();
  ws2._open();
  ws2._receive(joinedMsg('carol', ['alice', 'bob'], { resumeId: 'r1', resumed: true }));
  assert.deepEqual(ctx.client.participants().map((p) => p.userId), ['alice']);
  ws2._receive({ type: 'offer', toUserId: 'carol', sdp: fakeSdp('offer', { pcId: 'pc-bob' }), fromUserId: 'bob' });
  await settle();
  assert.equal(ctx.client.peer('bob'), undefined);
  assert.equal(FakeRTCPeerConnection.instances.length, 1);
});

test('clampHeartbeat keeps the interval within [100 ms, 300 s]', () => {
  assert.equal(clampHeartbeat(1), 100);
  assert.equal(clampHeartbeat(0), 100);
  assert.equal(clampHeartbeat(-5), 100);
  assert.equal(clampHeartbeat(1e12), 300000);
  assert.equal(clampHeartbeat(5000), 5000);
  assert.equal(clampHeartbeat('abc'), 15000);
  assert.equal(clampHeartbeat(undefined, 7000), 7000);
  assert.equal(clampHeartbeat(Number.NaN), 15000);
});

for (const [given, every] of [[1, 100], [1e12, 300000], ['5000', 15000]]) {
  test(`a heartbeatIntervalMs of ${JSON.stringify(given)} from the server beats every ${every} ms`, async () => {
    const ctx = makeClient();
    const ws = await joinAs(ctx, 'carol', [], { heartbeatIntervalMs: given });
    ctx.clock.advance(every - 1);
    assert.equal(ws.messages('heartbeat').length, 1);
    ctx.clock.advance(1);
    assert.equal(ws.messages('heartbeat').length, 2);
    ctx.clock.advance(every * 3);
    assert.equal(ws.messages('heartbeat').length, 5);
  });
}

test('a resumeId longer than 64 characters, or not a string, is not kept', async () => {
  for (const resumeId of ['x'.repeat(65), 12, { a: 1 }, '']) {
    const ctx = makeClient({ reconnect: { baseMs: 10, maxMs: 10, jitter: 0 } });
    FakeWebSocket.instances.length = 0;
    const ws = await joinAs(ctx, 'carol', [], { resumeId });
    assert.equal(ctx.client.resumeId, null);
    ws._close(1006, '');
    ctx.clock.advance(10);
    await waitFor(() => FakeWebSocket.instances.length === 2, 'second socket');
    assert.equal(lastSocket().query.resume, undefined);
    await ctx.client.leave();
  }
  const ctx = makeClient();
  await joinAs(ctx, 'carol', [], { resumeId: 'y'.repeat(64) });
  assert.equal(ctx.client.resumeId, 'y'.repeat(64));
});

test('an error message with odd fields is reported without breaking anything', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'carol', ['alice']);
  ws._receive({ type: 'error', code: { x: 1 }, message: 5 });
  ws._receive({ type: 'error', code: 'undelivered', toUserId: { x: 1 } });
  ws._receive('not json');
  ws._receive({ type: 'participant-reconnecting' });
  assert.equal(ctx.client.state, 'joined');
  assert.deepEqual(ctx.of('error').map((e) => e.code), ['unknown', 'undelivered', 'invalid_server_message']);
});
