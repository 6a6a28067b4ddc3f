import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { backoffDelay, signalingUrl, isRejectionCloseCode } from '../src/index.js';
import {
  FakeWebSocket,
  FakeRTCPeerConnection,
  FakeMediaStream,
  FakeTrack,
  fakeLocalStream,
  waitFor,
  settle,
} from '../test-support/fakes.mjs';
import { makeClient } from '../test-support/client-helpers.mjs';

beforeEach(() => {
  FakeWebSocket.instances.length = 0;
  FakeRTCPeerConnection.instances.length = 0;
});


const lastSocket = () => FakeWebSocket.instances.at(-1);

function joinedMsg(self, participants, extra = {}) {
  return {
    type: 'joined',
    sessionId: 's1',
    self: { userId: self, displayName: self.toUpperCase() },
    participants: participants.map((u) => ({ userId: u, displayName: u.toUpperCase() })),
    hostUserId: 'alice',
    status: 'waiting',
    heartbeatIntervalMs: 15000,
    ...extra,
  };
}

/** Connects a client and delivers `joined` with the given participants. */
async function joinAs(ctx, self, participants, extra) {
  const p = ctx.client.join();
  const ws = lastSocket();
  ws._open();
  ws._receive(joinedMsg(self, participants, extra));
  await p;
  return ws;
}

// ---------------------------------------------------------------------------------------------

test('backoffDelay grows exponentially, is capped, and its jitter stays within [d/2, d]', () => {
  const o = { baseMs: 500, maxMs: 8000, factor: 2, jitter: 0.5 };
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, o, () => 1)), [500, 1000, 2000, 4000, 8000, 8000]);
  assert.deepEqual([0, 1, 2].map((a) => backoffDelay(a, o, () => 0)), [250, 500, 1000]);
  for (let i = 0; i < 100; i += 1) {
    const d = backoffDelay(3, o);
    assert.ok(d >= 2000 && d <= 4000, `delay ${d} out of [2000, 4000]`);
  }
});

test('signalingUrl maps http(s) to ws(s), appends the path once and encodes the query', () => {
  assert.equal(
    signalingUrl({ base: 'http://h:1', token: 'a.b.c', sessionId: 's 1/é' }),
    'ws://h:1/ws/signaling?token=a.b.c&sessionId=s+1%2F%C3%A9',
  );
  assert.equal(signalingUrl({ base: 'https://h/app/', token: 't', sessionId: 's' }), 'wss://h/app/ws/signaling?token=t&sessionId=s');
  assert.equal(signalingUrl({ base: 'ws://h/ws/signaling?x=1', token: 't', sessionId: 's' }), 'ws://h/ws/signaling?token=t&sessionId=s');
});

test('close codes that must not be retried', () => {
  for (const c of [4400, 4401, 4403, 4404, 4409, 4410, 4440, 4450]) assert.ok(isRejectionCloseCode(c), String(c));
  for (const c of [1000, 1001, 1006, 1009, 4408, 4429, 4458]) assert.ok(!isRejectionCloseCode(c), String(c));
});

test('join connects to /ws/signaling with token and sessionId and resolves on joined', async () => {
  const ctx = makeClient();
  const p = ctx.client.join();
  const ws = lastSocket();
  assert.equal(ws.url, 'ws://127.0.0.1:8080/ws/signaling?token=tok&sessionId=s1');
  assert.equal(ctx.client.state, 'connecting');
  ws._open();
  ws._receive(joinedMsg('carol', ['alice', 'bob'], { status: 'started', startedAt: '2026-11-24T10:15:30.123Z' }));
  const msg = await p;
  assert.equal(msg.type, 'joined');
  assert.equal(ctx.client.state, 'joined');
  assert.deepEqual(ctx.client.self, { userId: 'carol', displayName: 'CAROL' });
  assert.equal(ctx.client.sessionStatus, 'started');
  assert.equal(ctx.client.startedAt, '2026-11-24T10:15:30.123Z');
  assert.deepEqual(ctx.client.participants().map((p) => p.userId), ['alice', 'bob']);
  assert.equal(ctx.client.isHost, false);
});

test('heartbeat with ts right after joined and every heartbeatIntervalMs; the ack gives the round trip', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'alice', [], { heartbeatIntervalMs: 5000 });
  let beats = ws.messages('heartbeat');
  assert.equal(beats.length, 1);
  assert.equal(beats[0].ts, ctx.clock.nowMs);
  ctx.clock.advance(4999);
  assert.equal(ws.messages('heartbeat').length, 1, 'no heartbeat before the interval');
  ctx.clock.advance(1);
  beats = ws.messages('heartbeat');
  assert.equal(beats.length, 2);
  const ts = beats[1].ts;
  ctx.clock.advance(42);
  ws._receive({ type: 'heartbeat-ack', ts });
  assert.equal(ctx.client.rtt, 42);
  assert.deepEqual(ctx.events.filter((e) => e.type === 'rtt').map((e) => e.rttMs), [42]);
  ctx.clock.advance(5000 * 3);
  assert.equal(ws.messages('heartbeat').length, 5);
});

test('the heartbeat interval defaults to 15000 ms when joined has none', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'alice', [], { heartbeatIntervalMs: undefined });
  ctx.clock.advance(14999);
  assert.equal(ws.messages('heartbeat').length, 1);
  ctx.clock.advance(1);
  assert.equal(ws.messages('heartbeat').length, 2);
});

test('newcomer: one peer connection per listed participant, local tracks attached, an offer to each', async () => {
  const local = fakeLocalStream();
  const ctx = makeClient({ localStream: local });
  const ws = await joinAs(ctx, 'carol', ['alice', 'bob']);
  assert.equal(FakeRTCPeerConnection.instances.length, 2);
  await waitFor(() => ws.messages('offer').length === 2, 'two offers');
  const offers = ws.messages('offer');
  assert.deepEqual(offers.map((o) => o.toUserId).sort(), ['alice', 'bob']);
  for (const o of offers) {
    assert.equal(typeof o.sdp, 'string');
    assert.ok(!('fromUserId' in o), 'the client never sends fromUserId');
    assert.match(o.sdp, /m 0 audio sendrecv/);
    assert.match(o.sdp, /m 1 video sendrecv/);
  }
  for (const pc of FakeRTCPeerConnection.instances) assert.equal(pc.signalingState, 'have-local-offer');
  // The answers complete the exchange.
  for (const pc of FakeRTCPeerConnection.instances) {
    const to = offers.find((o) => o.sdp === pc.localDescription.sdp).toUserId;
    ws._receive({ type: 'answer', toUserId: 'carol', sdp: 'fake answer pc=x v=1 ufrag=r\nm 0 audio sendrecv\nm 1 video sendrecv', fromUserId: to });
  }
  await waitFor(() => FakeRTCPeerConnection.instances.every((pc) => pc.signalingState === 'stable'), 'stable after answers');
  await settle();
  assert.equal(ws.messages('offer').length, 2, 'no further offer once negotiated');
});

test('newcomer without local media still offers to receive audio and video', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'carol', ['alice']);
  await waitFor(() => ws.messages('offer').length === 1, 'an offer');
  assert.match(ws.messages('offer')[0].sdp, /m 0 audio recvonly\nm 1 video recvonly/);
});

test('existing participant: answers an offer, attaching its tracks to the offered transceivers; candidates that arrive early are queued', async () => {
  const local = fakeLocalStream();
  const ctx = makeClient({ localStream: local });
  const ws = await joinAs(ctx, 'alice', []);
  assert.equal(FakeRTCPeerConnection.instances.length, 0, 'nobody to offer to');
  ws._receive({ type: 'participant-joined', participant: { userId: 'carol', displayName: 'Carol' } });
  assert.equal(FakeRTCPeerConnection.instances.length, 0, 'the newcomer offers, not us');
  assert.deepEqual(ctx.events.filter((e) => e.type === 'participant-joined').map((e) => e.participant), [{ userId: 'carol', displayName: 'Carol' }]);
  // The offer and two candidates arrive back to back: the candidates must wait for the offer.
  ws._receive({ type: 'offer', toUserId: 'alice', sdp: 'fake offer pc=c v=1 ufrag=cu\nm 0 audio sendrecv\nm 1 video sendrecv', fromUserId: 'carol' });
  ws._receive({ type: 'ice-candidate', toUserId: 'alice', candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 1 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'cu' }, fromUserId: 'carol' });
  ws._receive({ type: 'ice-candidate', toUserId: 'alice', candidate: { candidate: 'candidate:2 1 udp 1 127.0.0.1 2 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'cu' }, fromUserId: 'carol' });
  await waitFor(() => ws.messages('answer').length === 1, 'an answer');
  const [pc] = FakeRTCPeerConnection.instances;
  const answer = ws.messages('answer')[0];
  assert.equal(answer.toUserId, 'carol');
  assert.match(answer.sdp, /m 0 audio sendrecv\nm 1 video sendrecv/, 'our tracks ride on the offered transceivers');
  assert.equal(pc.transceivers.length, 2);
  await waitFor(() => pc.remoteCandidates.length === 2, 'both early candidates applied');
  assert.deepEqual(pc.history.slice(0, 2), [{ side: 'remote', type: 'offer' }, { side: 'local', type: 'answer' }]);
  await settle();
  assert.equal(ws.messages('offer').length, 0, 'no renegotiation needed');
  // Remote media surfaces as track and stream events.
  await waitFor(() => ctx.events.filter((e) => e.type === 'track').length === 2, 'two remote tracks');
  assert.equal(ctx.events.filter((e) => e.type === 'stream' && e.userId === 'carol').length, 1);
  assert.equal(ctx.client.peer('carol').streams.length, 1);
});

test('queued candidates are applied in arrival order even when the remote description comes late', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'carol', ['alice']);
  await waitFor(() => ws.messages('offer').length === 1, 'offer');
  const pc = FakeRTCPeerConnection.instances[0];
  // Candidates from alice before her answer: no remote description yet.
  for (const n of [1, 2, 3]) {
    ws._receive({ type: 'ice-candidate', toUserId: 'carol', candidate: { candidate: `c${n}`, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'au' }, fromUserId: 'alice' });
  }
  await settle();
  assert.equal(pc.remoteCandidates.length, 0, 'nothing applied without a remote description');
  ws._receive({ type: 'answer', toUserId: 'carol', sdp: 'fake answer pc=a v=1 ufrag=au\nm 0 audio sendrecv\nm 1 video sendrecv', fromUserId: 'alice' });
  await waitFor(() => pc.remoteCandidates.length === 3, 'queued candidates applied');
  assert.deepEqual(pc.remoteCandidates.map((c) => c.candidate), ['c1', 'c2', 'c3']);
  ws._receive({ type: 'ice-candidate', toUserId: 'carol', candidate: { candidate: 'c4', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'au' }, fromUserId: 'alice' });
  await waitFor(() => pc.remoteCandidates.length === 4, 'a later candidate is applied directly');
});

test('local ICE candidates are trickled to the peer; the end-of-candidates null is not sent', async () => {
  const ctx = makeClient({ localStream: fakeLocalStream() });
  const ws = await joinAs(ctx, 'carol', ['alice']);
  await waitFor(() => ws.messages('ice-candidate').length === 2, 'two candidates');
  await settle();
  const cands = ws.messages('ice-candidate');
  assert.equal(cands.length, 2);
  for (const c of cands) {
    assert.equal(c.toUserId, 'alice');
    assert.equal(typeof c.candidate.candidate, 'string');
    assert.equal(c.candidate.sdpMid, '0');
    assert.equal(c.candidate.sdpMLineIndex, 0);
  }
  // the offer went before the candidates
  const order = ws.messages().map((m) => m.type).filter((t) => t === 'offer' || t === 'ice-candidate');
  assert.equal(order[0], 'offer');
});

test('participant-left closes that peer connection and only that one', async () => {
  const ctx = makeClient({ localStream: fakeLocalStream() });
  const ws = await joinAs(ctx, 'dave', ['alice', 'bob', 'carol']);
  await waitFor(() => ws.messages('offer').length === 3, 'three offers');
  const byUser = Object.fromEntries(ctx.client.peers().map((p) => [p.userId, p.pc]));
  ws._receive({ type: 'participant-left', userId: 'bob' });
  assert.equal(byUser.bob.signalingState, 'closed');
  assert.equal(byUser.alice.signalingState, 'have-local-offer');
  assert.equal(byUser.carol.signalingState, 'have-local-offer');
  assert.deepEqual(ctx.client.peers().map((p) => p.userId), ['alice', 'carol']);
  assert.deepEqual(ctx.client.participants().map((p) => p.userId), ['alice', 'carol']);
  assert.deepEqual(ctx.events.filter((e) => e.type === 'participant-left').map((e) => e.userId), ['bob']);
  assert.deepEqual(ctx.events.filter((e) => e.type === 'peer-closed').map((e) => e.userId), ['bob']);
  // A late answer from bob is ignored (no peer is created for an answer).
  ws._receive({ type: 'answer', toUserId: 'dave', sdp: 'fake answer pc=b v=1 ufrag=b\n', fromUserId: 'bob' });
  await settle();
  assert.equal(FakeRTCPeerConnection.instances.length, 3);
});

test('participant-joined for someone we still have a connection to drops the stale one', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'dave', ['alice']);
  const old = ctx.client.peer('alice').pc;
  ws._receive({ type: 'participant-joined', participant: { userId: 'alice', displayName: 'Alice' } });
  assert.equal(old.signalingState, 'closed');
  assert.equal(ctx.client.peers().length, 0, 'the newcomer (alice) will offer again');
});

test('per-peer connection state is reported, and a failed connection restarts ICE', async () => {
  const ctx = makeClient();
  await joinAs(ctx, 'dave', ['alice']);
  const pc = FakeRTCPeerConnection.instances[0];
  pc._setConnectionState('connecting');
  pc._setConnectionState('connected');
  pc._setConnectionState('failed');
  const states = ctx.events.filter((e) => e.type === 'peer-state').map((e) => e.connectionState);
  assert.deepEqual(states, ['connecting', 'connected', 'failed']);
  assert.equal(pc.restartedIce, 1);
  assert.equal(ctx.client.peer('alice').connectionState, 'failed');
});

test('session-started and session-ended: events in order, peers closed, and no reconnect after the close', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'bob', ['alice']);
  ws._receive({ type: 'session-started', startedAt: '2026-11-24T10:15:30.123Z' });
  assert.equal(ctx.client.sessionStatus, 'started');
  ws._receive({ type: 'session-ended', reason: 'host_ended' });
  ws._close(1000, 'session_ended');
  assert.equal(ctx.client.sessionStatus, 'ended');
  assert.equal(ctx.client.endReason, 'host_ended');
  assert.equal(ctx.client.state, 'closed');
  assert.equal(ctx.client.closeReason, 'ended');
  assert.equal(FakeRTCPeerConnection.instances[0].signalingState, 'closed');
  const sessionEvents = ctx.events.filter((e) => e.type === 'session-started' || e.type === 'session-ended').map((e) => e.type);
  assert.deepEqual(sessionEvents, ['session-started', 'session-ended']);
  ctx.clock.advance(60_000);
  await settle();
  assert.equal(FakeWebSocket.instances.length, 1, 'no reconnect after the session ended');
});

for (const [code, errorCode] of [
  [4400, 'bad_request'],
  [4401, 'invalid_token'],
  [4403, 'not_participant'],
  [4404, 'session_not_found'],
  [4409, 'session_full'],
  [4410, 'session_ended'],
]) {
  test(`a refused connection (${errorCode}, ${code}) rejects join and is not retried`, async () => {
    const ctx = makeClient();
    const p = ctx.client.join();
    const ws = lastSocket();
    ws._open();
    ws._receive({ type: 'error', code: errorCode, message: 'no' });
    ws._close(code, '');
    await assert.rejects(p, (err) => err.code === errorCode && err.closeCode === code && err.reason === 'rejected');
    assert.equal(ctx.client.state, 'closed');
    assert.ok(ctx.events.some((e) => e.type === 'error' && e.code === errorCode && e.fatal));
    ctx.clock.advance(120_000);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 1, 'no second connection');
  });
}

for (const [code, errorCode] of [
  [4440, 'replaced'],
  [4450, 'removed'],
]) {
  test(`after joining, ${errorCode} (${code}) closes every peer and is not retried`, async () => {
    const ctx = makeClient();
    const ws = await joinAs(ctx, 'bob', ['alice']);
    ws._receive({ type: 'error', code: errorCode, message: 'bye' });
    ws._close(code, '');
    assert.equal(ctx.client.state, 'closed');
    assert.equal(ctx.client.closeReason, 'rejected');
    assert.equal(FakeRTCPeerConnection.instances[0].signalingState, 'closed');
    ctx.clock.advance(120_000);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 1);
  });
}

for (const code of [1006, 1001, 4408]) {
  test(`a dropped connection (${code}) reconnects with backoff, rejoins and rebuilds the mesh`, async () => {
    const ctx = makeClient({ localStream: fakeLocalStream(), reconnect: { baseMs: 1000, maxMs: 8000, factor: 2, jitter: 0.5 } });
    const ws1 = await joinAs(ctx, 'carol', ['alice', 'bob']);
    await waitFor(() => ws1.messages('offer').length === 2, 'first offers');
    const firstPcs = [...FakeRTCPeerConnection.instances];
    if (code === 4408) ws1._receive({ type: 'error', code: 'heartbeat_timeout', message: 'late' });
    ws1._close(code, '');
    assert.equal(ctx.client.state, 'reconnecting');
    const rec = ctx.events.filter((e) => e.type === 'reconnecting');
    assert.deepEqual(rec.map((e) => [e.attempt, e.delayMs, e.code]), [[1, 750, code]]);
    ctx.clock.advance(749);
    assert.equal(FakeWebSocket.instances.length, 1, 'waits for the backoff delay');
    ctx.clock.advance(1);
    await waitFor(() => FakeWebSocket.instances.length === 2, 'a second socket');
    // That attempt fails too: the next delay doubles.
    const ws2 = lastSocket();
    ws2._close(1006, '');
    assert.deepEqual(ctx.events.filter((e) => e.type === 'reconnecting').map((e) => e.delayMs), [750, 1500]);
    ctx.clock.advance(1500);
    await waitFor(() => FakeWebSocket.instances.length === 3, 'a third socket');
    const ws3 = lastSocket();
    ws3._open();
    ws3._receive(joinedMsg('carol', ['alice', 'bob']));
    assert.equal(ctx.client.state, 'joined');
    assert.equal(ctx.client.joinCount, 2);
    for (const pc of firstPcs) assert.equal(pc.signalingState, 'closed', 'old connections closed on the fresh joined');
    await waitFor(() => ws3.messages('offer').length === 2, 'offers again after the rejoin');
    assert.equal(ws3.messages('heartbeat').length, 1, 'heartbeat restarted');
    assert.ok(ctx.events.find((e) => e.type === 'joined' && e.rejoin));
    // The backoff starts over after a successful rejoin.
    ws3._close(1006, '');
    assert.equal(ctx.events.filter((e) => e.type === 'reconnecting').at(-1).delayMs, 750);
    await ctx.client.leave();
  });
}

for (const errorCode of ['store_unavailable', 'overloaded']) {
  test(`a refused join with ${errorCode} (1013, try again later) is retried, and join resolves on the retry`, async () => {
    const ctx = makeClient({ reconnect: { baseMs: 1000, maxMs: 8000, factor: 2, jitter: 0.5 } });
    const p = ctx.client.join();
    const ws1 = lastSocket();
    ws1._open();
    ws1._receive({ type: 'error', code: errorCode, message: 'try again later' });
    ws1._close(1013, errorCode);
    assert.equal(ctx.client.state, 'reconnecting', 'not final');
    assert.ok(!ctx.events.some((e) => e.type === 'error' && e.fatal), 'the error is not fatal');
    ctx.clock.advance(750);
    await waitFor(() => FakeWebSocket.instances.length === 2, 'a second socket');
    const ws2 = lastSocket();
    ws2._open();
    ws2._receive(joinedMsg('carol', []));
    const msg = await p;
    assert.equal(msg.type, 'joined');
    assert.equal(ctx.client.state, 'joined');
    await ctx.client.leave();
  });
}

test('reconnect: false stops after the first drop', async () => {
  const ctx = makeClient({ reconnect: false });
  const ws = await joinAs(ctx, 'bob', []);
  ws._close(1006, '');
  assert.equal(ctx.client.state, 'closed');
  assert.equal(ctx.client.closeReason, 'failed');
});

test('maxAttempts bounds the retries', async () => {
  const ctx = makeClient({ reconnect: { maxAttempts: 2, baseMs: 10, maxMs: 10 } });
  const p = ctx.client.join();
  lastSocket()._close(1006, '');
  ctx.clock.advance(10);
  await waitFor(() => FakeWebSocket.instances.length === 2, 'second socket');
  lastSocket()._close(1006, '');
  ctx.clock.advance(10);
  await waitFor(() => FakeWebSocket.instances.length === 3, 'third socket');
  lastSocket()._close(1006, '');
  await assert.rejects(p, (err) => err.reason === 'failed');
  assert.equal(FakeWebSocket.instances.length, 3);
});

test('a token function is called for every connection', async () => {
  let n = 0;
  const ctx = makeClient({ token: async () => `t${++n}`, reconnect: { baseMs: 10, maxMs: 10 } });
  ctx.client.join();
  await waitFor(() => FakeWebSocket.instances.length === 1, 'first socket');
  assert.equal(lastSocket().query.token, 't1');
  lastSocket()._close(1006, '');
  ctx.clock.advance(10);
  await waitFor(() => FakeWebSocket.instances.length === 2, 'second socket');
  assert.equal(lastSocket().query.token, 't2');
});

test('leave sends leave, closes the socket and the peers, and does not reconnect', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'bob', ['alice']);
  await ctx.client.leave();
  assert.deepEqual(ws.messages('leave'), [{ type: 'leave' }]);
  assert.deepEqual(ws.closedByClient, { code: 1000, reason: 'leave' });
  assert.equal(ctx.client.state, 'closed');
  assert.equal(ctx.client.closeReason, 'left');
  assert.equal(FakeRTCPeerConnection.instances[0].signalingState, 'closed');
  await settle();
  ctx.clock.advance(60_000);
  assert.equal(FakeWebSocket.instances.length, 1);
});

test('startSession/endSession send the host messages and settle on the server answer', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'alice', []);
  assert.equal(ctx.client.isHost, true);
  const started = ctx.client.startSession();
  assert.deepEqual(ws.messages('start-session'), [{ type: 'start-session' }]);
  ws._receive({ type: 'session-started', startedAt: '2026-11-24T10:15:30.123Z' });
  await started;
  const again = ctx.client.startSession();
  ws._receive({ type: 'error', code: 'invalid_state', message: 'already started' });
  await assert.rejects(again, (err) => err.code === 'invalid_state');
  const ended = ctx.client.endSession();
  assert.deepEqual(ws.messages('end-session'), [{ type: 'end-session' }]);
  ws._receive({ type: 'session-ended', reason: 'host_ended' });
  await ended;
  assert.equal(ctx.client.state, 'closed');
});

test('startSession from a non-host rejects with not_host; without an answer it times out', async () => {
  const ctx = makeClient({ hostCommandTimeoutMs: 3000 });
  const ws = await joinAs(ctx, 'bob', []);
  const p = ctx.client.startSession();
  ws._receive({ type: 'error', code: 'not_host', message: 'only the host' });
  await assert.rejects(p, (err) => err.code === 'not_host');
  const q = ctx.client.startSession();
  ctx.clock.advance(3000);
  await assert.rejects(q, (err) => err.code === 'timeout');
});

test('relay errors are reported without closing anything', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'bob', ['alice']);
  ws._receive({ type: 'error', code: 'target_not_connected', message: 'user u9 is not connected', toUserId: 'u9' });
  const e = ctx.events.find((x) => x.type === 'error');
  assert.deepEqual({ code: e.code, toUserId: e.toUserId, fatal: e.fatal }, { code: 'target_not_connected', toUserId: 'u9', fatal: false });
  assert.equal(ctx.client.state, 'joined');
});

test('setLocalStream swaps tracks of the same kind without renegotiation; addTrack renegotiates', async () => {
  const first = fakeLocalStream();
  const ctx = makeClient({ localStream: first });
  const ws = await joinAs(ctx, 'carol', ['alice']);
  await waitFor(() => ws.messages('offer').length === 1, 'offer');
  ws._receive({ type: 'answer', toUserId: 'carol', sdp: 'fake answer pc=a v=1 ufrag=au\nm 0 audio sendrecv\nm 1 video sendrecv', fromUserId: 'alice' });
  const pc = FakeRTCPeerConnection.instances[0];
  await waitFor(() => pc.signalingState === 'stable', 'stable');
  await settle();

  const second = fakeLocalStream();
  await ctx.client.setLocalStream(second);
  const senders = pc.getSenders();
  assert.deepEqual(senders.map((s) => s.track), second.getTracks());
  await settle();
  assert.equal(ws.messages('offer').length, 1, 'replaceTrack needs no new offer');

  const screen = new FakeTrack('video', 'screen');
  ctx.client.addTrack(screen, new FakeMediaStream([screen]));
  await waitFor(() => ws.messages('offer').length === 2, 'a renegotiation offer');
  assert.match(ws.messages('offer')[1].sdp, /m 2 video sendrecv/);
});

// ---------------------------------------------------------------------------------------------
// ICE servers and transport policy from the server (docs/protocol.md: joined, ice-servers)

const SERVER_ICE = [
  { urls: ['stun:stun.example.org:3478'] },
  { urls: ['turn:turn.example.org:3478?transport=udp'], username: '1790014400:carol', credential: 'c1' },
];

test("every peer connection gets the application's iceServers followed by the server's", async () => {
  const ctx = makeClient({ iceServers: [{ urls: 'stun:own.example.org' }], rtcConfig: { bundlePolicy: 'max-bundle' } });
  await joinAs(ctx, 'carol', ['alice', 'bob'], { iceServers: SERVER_ICE, iceTransportPolicy: 'all' });
  assert.equal(FakeRTCPeerConnection.instances.length, 2);
  for (const pc of FakeRTCPeerConnection.instances) {
    assert.deepEqual(pc.config.iceServers, [{ urls: 'stun:own.example.org' }, ...SERVER_ICE]);
    assert.equal(pc.config.bundlePolicy, 'max-bundle');
    assert.equal(pc.config.iceTransportPolicy, undefined);
  }
  assert.equal(ctx.client.iceTransportPolicy, 'all');
});

test('useServerIceServers: false keeps only the application servers; no server list keeps the old behaviour', async () => {
  const ctx = makeClient({ iceServers: [{ urls: 'stun:own.example.org' }], useServerIceServers: false });
  await joinAs(ctx, 'carol', ['alice'], { iceServers: SERVER_ICE });
  assert.deepEqual(FakeRTCPeerConnection.instances[0].config.iceServers, [{ urls: 'stun:own.example.org' }]);

  FakeRTCPeerConnection.instances.length = 0;
  const bare = makeClient();
  await joinAs(bare, 'carol', ['alice']);
  assert.equal('iceServers' in FakeRTCPeerConnection.instances[0].config, false);
  assert.equal(bare.client.iceTransportPolicy, null);
});

test("a relay session forces iceTransportPolicy 'relay' on every peer connection, later ones included", async () => {
  const ctx = makeClient({ rtcConfig: { iceTransportPolicy: 'all' } });
  const ws = await joinAs(ctx, 'carol', ['alice'], { iceServers: SERVER_ICE, iceTransportPolicy: 'relay' });
  ws._receive({ type: 'participant-joined', participant: { userId: 'dave', displayName: 'DAVE' } });
  ws._receive({ type: 'offer', fromUserId: 'dave', toUserId: 'carol', sdp: 'v=0 offer from dave' });
  await waitFor(() => FakeRTCPeerConnection.instances.length === 2, 'a peer connection for dave');
  for (const pc of FakeRTCPeerConnection.instances) assert.equal(pc.config.iceTransportPolicy, 'relay');
  assert.equal(ctx.client.iceTransportPolicy, 'relay');
});

test("an application may choose relay itself in a session whose policy is 'all'", async () => {
  const ctx = makeClient({ rtcConfig: { iceTransportPolicy: 'relay' } });
  await joinAs(ctx, 'carol', ['alice'], { iceServers: SERVER_ICE, iceTransportPolicy: 'all' });
  assert.equal(FakeRTCPeerConnection.instances[0].config.iceTransportPolicy, 'relay');
});

test('ice-servers: setConfiguration on every peer connection with the fresh list; new peers use it too', async () => {
  const ctx = makeClient({ iceServers: [{ urls: 'stun:own.example.org' }] });
  const seen = [];
  ctx.client.on('ice-servers', (ev) => seen.push(ev));
  const ws = await joinAs(ctx, 'carol', ['alice', 'bob'], { iceServers: SERVER_ICE, iceTransportPolicy: 'relay' });
  const fresh = [{ urls: ['turn:turn.example.org:3478?transport=udp'], username: '1790028800:carol', credential: 'c2' }];
  ws._receive({ type: 'ice-servers', iceServers: fresh });
  await settle();
  for (const pc of FakeRTCPeerConnection.instances) {
    assert.equal(pc.configurations.length, 1);
    assert.deepEqual(pc.configurations[0].iceServers, [{ urls: 'stun:own.example.org' }, ...fresh]);
    assert.equal(pc.configurations[0].iceTransportPolicy, 'relay');
  }
  assert.deepEqual(seen, [{ iceServers: fresh }]);
  ws._receive({ type: 'participant-joined', participant: { userId: 'dave', displayName: 'DAVE' } });
  ws._receive({ type: 'offer', fromUserId: 'dave', toUserId: 'carol', sdp: 'v=0 offer from dave' });
  await waitFor(() => FakeRTCPeerConnection.instances.length === 3, 'a peer connection for dave');
  assert.deepEqual(FakeRTCPeerConnection.instances[2].config.iceServers, [{ urls: 'stun:own.example.org' }, ...fresh]);
  // A malformed update changes nothing.
  ws._receive({ type: 'ice-servers', iceServers: 'nope' });
  await settle();
  assert.equal(FakeRTCPeerConnection.instances[0].configurations.length, 1);
});

test('a setConfiguration that throws is reported as an error event, and the others are still updated', async () => {
  const ctx = makeClient();
  const ws = await joinAs(ctx, 'carol', ['alice', 'bob'], { iceServers: SERVER_ICE });
  FakeRTCPeerConnection.instances[0].setConfiguration = () => {
    throw new Error('boom');
  };
  ws._receive({ type: 'ice-servers', iceServers: SERVER_ICE });
  await settle();
  const errors = ctx.events.filter((e) => e.type === 'error');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'set_configuration_failed');
  assert.equal(FakeRTCPeerConnection.instances[1].configurations.length, 1);
});
