// Resume (issue 10, /work/notes/resume-spec.md → docs/protocol.md): the client keeps its
// resumeId, reconnects with &resume=, and on a resumed `joined` keeps its peer connections.
// One client, the test plays the server.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { FakeWebSocket, FakeRTCPeerConnection, fakeLocalStream, waitFor, settle } from '../test-support/fakes.mjs';
import { makeClient, lastSocket, joinedMsg, joinAs, fakeSdp, ufragOf } from '../test-support/client-helpers.mjs';

beforeEach(() => {
  FakeWebSocket.instances.length = 0;
  FakeRTCPeerConnection.instances.length = 0;
});

const RECONNECT = { baseMs: 1000, maxMs: 8000, factor: 2, jitter: 0 };

/** carol joins [alice, bob] with resumeId r1; both answer, so both connections are stable. */
async function joinedAndNegotiated(extra = {}) {
  const ctx = makeClient({ localStream: fakeLocalStream(), reconnect: RECONNECT, ...extra });
  const ws = await joinAs(ctx, 'carol', ['alice', 'bob'], { resumeId: 'r1', resumed: false });
  await waitFor(() => ws.messages('offer').length === 2, 'two offers');
  for (const o of ws.messages('offer')) {
    ws._receive({ type: 'answer', toUserId: 'carol', sdp: fakeSdp('answer', { pcId: `pc-${o.toUserId}` }), fromUserId: o.toUserId });
  }
  await waitFor(() => FakeRTCPeerConnection.instances.every((pc) => pc.signalingState === 'stable'), 'stable');
  await settle();
  return { ctx, ws };
}

/** Drops the socket with `code`, lets the backoff pass and opens the next socket. */
async function dropAndReconnect(ctx, ws, code = 1006) {
  const before = FakeWebSocket.instances.length;
  ws._close(code, '');
  assert.equal(ctx.client.state, 'reconnecting');
  ctx.clock.advance(8000);
  await waitFor(() => FakeWebSocket.instances.length === before + 1, 'a new socket');
  const ws2 = lastSocket();
  ws2._open();
  return ws2;
}

test('the resumeId of joined is kept and every reconnect adds &resume=<it>', async () => {
  const ctx = makeClient({ reconnect: RECONNECT });
  const ws1 = await joinAs(ctx, 'carol', [], { resumeId: 'r-1/é', resumed: false });
  assert.equal(ws1.query.resume, undefined, 'the first connection asks for nothing');
  assert.equal(ctx.client.resumeId, 'r-1/é');
  ws1._close(1006, '');
  ctx.clock.advance(1000);
  await waitFor(() => FakeWebSocket.instances.length === 2, 'second socket');
  assert.equal(lastSocket().query.resume, 'r-1/é', 'percent-encoded and decoded back');
  assert.match(lastSocket().url, /&resume=r-1%2F%C3%A9$/);
  assert.deepEqual(ctx.of('reconnecting').map((e) => e.resume), [true]);
  // That attempt fails before any joined: the next one asks for the same resume.
  lastSocket()._close(1006, '');
  ctx.clock.advance(2000);
  await waitFor(() => FakeWebSocket.instances.length === 3, 'third socket');
  assert.equal(lastSocket().query.resume, 'r-1/é');
  assert.equal(lastSocket().query.token, 'tok', 'the token is sent every time');
});

test('resumed: true keeps every RTCPeerConnection, creates none and sends no offer', async () => {
  const { ctx, ws } = await joinedAndNegotiated();
  const pcs = ctx.client.peers().map((p) => p.pc);
  const ws2 = await dropAndReconnect(ctx, ws);
  assert.equal(ws2.query.resume, 'r1');
  ws2._receive(joinedMsg('carol', ['alice', 'bob'], { resumeId: 'r1', resumed: true }));
  assert.equal(ctx.client.state, 'joined');
  assert.equal(ctx.client.joinCount, 2);
  assert.equal(ctx.client.resumeCount, 1);
  ws2._receive({ type: 'heartbeat-ack', ts: ws2.messages('heartbeat')[0].ts });
  await settle();
  assert.equal(FakeRTCPeerConnection.instances.length, 2, 'no new connection');
  assert.deepEqual(ctx.client.peers().map((p) => p.pc), pcs, 'the same RTCPeerConnection objects');
  assert.ok(pcs.every((pc) => pc.signalingState === 'stable' && !pc.closed));
  assert.deepEqual(ws2.messages('offer'), [], 'no offer after a resume');
  assert.deepEqual(ctx.of('peer-closed'), []);
  assert.deepEqual(ctx.of('participant-left'), []);
  const joined = ctx.of('joined');
  assert.deepEqual(joined.map((e) => [e.rejoin, e.resumed, e.resumeId]), [[false, false, 'r1'], [true, true, 'r1']]);
  assert.equal(ws2.messages('heartbeat').length, 1, 'heartbeat restarted');
});

test('resumed: only the connections of people who left meanwhile close; a newcomer gets no offer from us, its queued offer is answered', async () => {
  const { ctx, ws } = await joinedAndNegotiated();
  const pcAlice = ctx.client.peer('alice').pc;
  const pcBob = ctx.client.peer('bob').pc;
  const ws2 = await dropAndReconnect(ctx, ws);
  // bob left and dave joined while carol was away.
  ws2._receive(joinedMsg('carol', ['alice', 'dave'], { resumeId: 'r1', resumed: true }));
  assert.equal(pcBob.signalingState, 'closed', "bob's connection closed");
  assert.equal(ctx.client.peer('alice').pc, pcAlice, "alice's kept");
  assert.equal(ctx.client.peer('dave'), undefined, 'no connection to dave before his offer');
  assert.deepEqual(ctx.of('participant-left').map((e) => e.userId), ['bob']);
  assert.deepEqual(ctx.of('participant-joined').map((e) => e.participant.userId), ['dave']);
  assert.deepEqual(ctx.client.participants().map((p) => p.userId), ['alice', 'dave']);
  // dave's offer (queued by the server) arrives right after joined.
  ws2._receive({ type: 'offer', toUserId: 'carol', sdp: fakeSdp('offer', { pcId: 'pc-dave', ufrag: 'du' }), fromUserId: 'dave' });
  await waitFor(() => ws2.messages('answer').length === 1, 'an answer to dave');
  assert.equal(ws2.messages('answer')[0].toUserId, 'dave');
  assert.equal(ctx.client.peer('dave').initiator, false);
  await settle();
  assert.deepEqual(ws2.messages('offer'), [], 'carol offered to nobody');
  assert.equal(FakeRTCPeerConnection.instances.length, 3);
});

test('an offer left unanswered across the drop is sent again, on the same connection, once the queued messages are in', async () => {
  const ctx = makeClient({ localStream: fakeLocalStream(), reconnect: RECONNECT });
  const ws = await joinAs(ctx, 'carol', ['alice'], { resumeId: 'r1', resumed: false });
  await waitFor(() => ws.messages('offer').length === 1, 'offer');
  const pc = ctx.client.peer('alice').pc;
  const offer = ws.messages('offer')[0];
  const ws2 = await dropAndReconnect(ctx, ws);
  ws2._receive(joinedMsg('carol', ['alice'], { resumeId: 'r1', resumed: true }));
  await settle();
  assert.deepEqual(ws2.messages('offer'), [], 'nothing before the queue is in (the answer may be queued)');
  ws2._receive({ type: 'heartbeat-ack', ts: ws2.messages('heartbeat')[0].ts });
  await waitFor(() => ws2.messages('offer').length === 1, 'the offer again');
  assert.deepEqual(ws2.messages('offer')[0], offer, 'the same offer');
  assert.equal(ctx.client.peer('alice').pc, pc);
  assert.equal(pc.signalingState, 'have-local-offer');
  assert.ok(ctx.events.some((e) => e.type === 'negotiation' && e.event === 'resent-offer' && e.userId === 'alice'));
  // The answer completes it on the same connection.
  ws2._receive({ type: 'answer', toUserId: 'carol', sdp: fakeSdp('answer', { pcId: 'pc-alice' }), fromUserId: 'alice' });
  await waitFor(() => pc.signalingState === 'stable', 'stable');
});

test('the answer queued for us arrives after the resumed joined: nothing is sent again', async () => {
  const ctx = makeClient({ localStream: fakeLocalStream(), reconnect: RECONNECT });
  const ws = await joinAs(ctx, 'carol', ['alice'], { resumeId: 'r1', resumed: false });
  await waitFor(() => ws.messages('offer').length === 1, 'offer');
  const pc = ctx.client.peer('alice').pc;
  const ws2 = await dropAndReconnect(ctx, ws);
  ws2._receive(joinedMsg('carol', ['alice'], { resumeId: 'r1', resumed: true }));
  ws2._receive({ type: 'answer', toUserId: 'carol', sdp: fakeSdp('answer', { pcId: 'pc-alice' }), fromUserId: 'alice' });
  await waitFor(() => pc.signalingState === 'stable', 'the queued answer applied');
  ws2._receive({ type: 'heartbeat-ack', ts: ws2.messages('heartbeat')[0].ts });
  await settle();
  assert.deepEqual(ws2.messages('offer'), []);
});

test('without a heartbeat-ack the unanswered offer is sent again after the fallback delay', async () => {
  const ctx = makeClient({ localStream: fakeLocalStream(), reconnect: RECONNECT });
  const ws = await joinAs(ctx, 'carol', ['alice'], { resumeId: 'r1', resumed: false });
  await waitFor(() => ws.messages('offer').length === 1, 'offer');
  const ws2 = await dropAndReconnect(ctx, ws);
  ws2._receive(joinedMsg('carol', ['alice'], { resumeId: 'r1', resumed: true }));
  ctx.clock.advance(1999);
  await settle();
  assert.deepEqual(ws2.messages('offer'), []);
  ctx.clock.advance(1);
  await waitFor(() => ws2.messages('offer').length === 1, 'the offer again');
});

test('an answer that could not be sent (socket gone) is sent again after the resume', async () => {
  const ctx = makeClient({ localStream: fakeLocalStream(), reconnect: RECONNECT });
  const ws = await joinAs(ctx, 'alice', [], { resumeId: 'r1', resumed: false });
  ws._receive({ type: 'participant-joined', participant: { userId: 'carol', displayName: 'CAROL' } });
  ws._receive({ type: 'offer', toUserId: 'alice', sdp: fakeSdp('offer', { pcId: 'pc-carol', ufrag: 'cu' }), fromUserId: 'carol' });
  ws._close(1006, ''); // the socket goes while the answer is being made
  const pc = FakeRTCPeerConnection.instances[0];
  await waitFor(() => pc.signalingState === 'stable', 'answered locally');
  assert.deepEqual(ws.messages('answer'), [], 'not sent: no socket');
  ctx.clock.advance(8000);
  await waitFor(() => FakeWebSocket.instances.length === 2, 'second socket');
  const ws2 = lastSocket();
  ws2._open();
  ws2._receive(joinedMsg('alice', ['carol'], { resumeId: 'r1', resumed: true }));
  ws2._receive({ type: 'heartbeat-ack', ts: ws2.messages('heartbeat')[0].ts });
  await waitFor(() => ws2.messages('answer').length === 1, 'the answer again');
  assert.equal(ws2.messages('answer')[0].sdp, pc.localDescription.sdp);
  await waitFor(() => ws2.messages('ice-candidate').length === 2, 'the candidates that could not be sent');
});

test('resumed: false (window closed, wrong id): every connection closes and the mesh is rebuilt; the new resumeId is kept', async () => {
  const { ctx, ws } = await joinedAndNegotiated();
  const old = ctx.client.peers().map((p) => p.pc);
  const ws2 = await dropAndReconnect(ctx, ws);
  assert.equal(ws2.query.resume, 'r1');
  ws2._receive(joinedMsg('carol', ['alice', 'bob'], { resumeId: 'r2', resumed: false }));
  assert.ok(old.every((pc) => pc.signalingState === 'closed'));
  assert.equal(ctx.client.resumeId, 'r2');
  await waitFor(() => ws2.messages('offer').length === 2, 'offers to everyone again');
  assert.equal(ctx.of('joined').at(-1).resumed, false);
  // The next reconnect asks for the new one.
  ws2._close(1006, '');
  ctx.clock.advance(1000);
  await waitFor(() => FakeWebSocket.instances.length === 3, 'third socket');
  assert.equal(lastSocket().query.resume, 'r2');
});

test('a server that sends no resumeId: no &resume=, and a reconnect re-meshes as before (resumed: true unasked is not believed)', async () => {
  const ctx = makeClient({ localStream: fakeLocalStream(), reconnect: RECONNECT });
  const ws = await joinAs(ctx, 'carol', ['alice']);
  assert.equal(ctx.client.resumeId, null);
  const old = ctx.client.peer('alice').pc;
  const ws2 = await dropAndReconnect(ctx, ws);
  assert.equal(ws2.query.resume, undefined);
  assert.equal(ctx.of('reconnecting')[0].resume, false);
  ws2._receive(joinedMsg('carol', ['alice'], { resumed: true }));
  assert.equal(old.signalingState, 'closed', 'we did not ask to resume: a fresh join');
  assert.equal(ctx.of('joined').at(-1).resumed, false);
  await waitFor(() => ws2.messages('offer').length === 1, 'offer again');
});

test('resumed: true with another self is not a resume', async () => {
  const { ctx, ws } = await joinedAndNegotiated();
  const old = ctx.client.peers().map((p) => p.pc);
  const ws2 = await dropAndReconnect(ctx, ws);
  ws2._receive(joinedMsg('mallory', ['alice', 'bob'], { resumeId: 'r1', resumed: true }));
  assert.ok(old.every((pc) => pc.signalingState === 'closed'));
  assert.equal(ctx.of('joined').at(-1).resumed, false);
});

test('close 1012 (drain): reconnects after a 0-1 s random delay, not the backoff, and resumes', async () => {
  const ctx = makeClient({ reconnect: { baseMs: 5000, maxMs: 60000, factor: 2, jitter: 0 }, random: () => 0.25 });
  const ws = await joinAs(ctx, 'carol', ['alice'], { resumeId: 'r1', resumed: false });
  ws._close(1012, 'service restart');
  assert.equal(ctx.client.state, 'reconnecting');
  assert.deepEqual(ctx.of('reconnecting').map((e) => [e.delayMs, e.code, e.drain, e.resume]), [[250, 1012, true, true]]);
  ctx.clock.advance(249);
  assert.equal(FakeWebSocket.instances.length, 1);
  ctx.clock.advance(1);
  await waitFor(() => FakeWebSocket.instances.length === 2, 'reconnect after 250 ms');
  assert.equal(lastSocket().query.resume, 'r1');
  // A 1012 again before any joined (the next node drains too) takes the backoff: no spinning.
  lastSocket()._close(1012, '');
  assert.deepEqual(ctx.of('reconnecting').map((e) => [e.delayMs, e.drain]), [[250, true], [10000, false]]);
  ctx.clock.advance(10000);
  await waitFor(() => FakeWebSocket.instances.length === 3, 'third socket');
  const ws3 = lastSocket();
  ws3._open();
  ws3._receive(joinedMsg('carol', ['alice'], { resumeId: 'r1', resumed: true }));
  assert.equal(ctx.client.resumeCount, 1);
  // The backoff starts over: the next drain is quick again.
  ws3._close(1012, '');
  assert.deepEqual(ctx.of('reconnecting').at(-1).delayMs, 250);
});

for (const random of [0, 0.999]) {
  test(`the drain delay stays within [0, 1000] ms (random ${random})`, async () => {
    const ctx = makeClient({ random: () => random });
    const ws = await joinAs(ctx, 'carol', [], { resumeId: 'r1' });
    ws._close(1012, '');
    const d = ctx.of('reconnecting')[0].delayMs;
    assert.ok(d >= 0 && d <= 1000, String(d));
  });
}

test('participant-reconnecting keeps the connection; participant-reconnected clears the mark', async () => {
  const { ctx, ws } = await joinedAndNegotiated();
  const pc = ctx.client.peer('alice').pc;
  ws._receive({ type: 'participant-reconnecting', userId: 'alice' });
  assert.deepEqual(ctx.of('participant-reconnecting'), [{ type: 'participant-reconnecting', userId: 'alice' }]);
  assert.equal(ctx.client.peer('alice').pc, pc);
  assert.equal(pc.signalingState, 'stable');
  assert.deepEqual(ctx.client.participants().map((p) => [p.userId, p.reconnecting]), [['alice', true], ['bob', false]]);
  ws._receive({ type: 'participant-reconnected', userId: 'alice' });
  assert.deepEqual(ctx.of('participant-reconnected'), [{ type: 'participant-reconnected', userId: 'alice' }]);
  assert.equal(ctx.client.participants()[0].reconnecting, false);
  await settle();
  assert.equal(ctx.client.peer('alice').pc, pc);
  assert.equal(ws.messages('offer').length, 2, 'nothing renegotiated');
  // participant-reconnected without a participant-reconnecting before is fine too.
  ws._receive({ type: 'participant-reconnected', userId: 'bob' });
  assert.equal(ctx.of('participant-reconnected').length, 2);
  // For someone not in the session: nothing.
  ws._receive({ type: 'participant-reconnecting', userId: 'zed' });
  ws._receive({ type: 'participant-reconnected', userId: 42 });
  assert.equal(ctx.of('participant-reconnecting').length, 1);
  assert.deepEqual(ctx.of('peer-closed'), []);
});

test('our resumed joined clears the reconnecting marks we could not see cleared', async () => {
  const { ctx, ws } = await joinedAndNegotiated();
  ws._receive({ type: 'participant-reconnecting', userId: 'alice' });
  const ws2 = await dropAndReconnect(ctx, ws);
  ws2._receive(joinedMsg('carol', ['alice', 'bob'], { resumeId: 'r1', resumed: true }));
  assert.deepEqual(ctx.of('participant-reconnected').map((e) => e.userId), ['alice']);
  assert.ok(ctx.client.participants().every((p) => !p.reconnecting));
});

test('undelivered: a non-fatal error; the impolite end restarts ICE on the same connection once the peer is back', async () => {
  // carol > alice: carol is impolite towards alice.
  const { ctx, ws } = await joinedAndNegotiated();
  const pc = ctx.client.peer('alice').pc;
  ws._receive({ type: 'participant-reconnecting', userId: 'alice' });
  ws._receive({ type: 'error', code: 'undelivered', message: 'dropped', toUserId: 'alice' });
  const err = ctx.of('error').at(-1);
  assert.deepEqual([err.code, err.toUserId, err.fatal], ['undelivered', 'alice', false]);
  assert.equal(ctx.client.state, 'joined');
  await settle();
  assert.equal(ws.messages('offer').length, 2, 'nothing while alice is away');
  ws._receive({ type: 'participant-reconnected', userId: 'alice' });
  await waitFor(() => ws.messages('offer').length === 3, 'an ICE restart offer');
  const restart = ws.messages('offer')[2];
  assert.equal(restart.toUserId, 'alice');
  assert.notEqual(ufragOf(restart.sdp), ufragOf(ws.messages('offer').find((o) => o.toUserId === 'alice').sdp), 'new ICE credentials');
  assert.equal(pc.restartedIce, 1);
  assert.equal(ctx.client.peer('alice').pc, pc, 'same RTCPeerConnection');
  assert.equal(ctx.client.peer('alice').iceRestarts, 1);
  // A later close changes nothing: the fatal-error bookkeeping ignores it.
  ws._close(1006, '');
  assert.equal(ctx.client.state, 'reconnecting');
});

test('undelivered to a peer that is back already: redone at once; the polite end does not restart ICE', async () => {
  // carol < dave: carol is polite towards dave.
  const ctx = makeClient({ localStream: fakeLocalStream() });
  const ws = await joinAs(ctx, 'carol', ['dave'], { resumeId: 'r1' });
  await waitFor(() => ws.messages('offer').length === 1, 'offer');
  ws._receive({ type: 'answer', toUserId: 'carol', sdp: fakeSdp('answer', { pcId: 'pc-dave' }), fromUserId: 'dave' });
  const pc = ctx.client.peer('dave').pc;
  await waitFor(() => pc.signalingState === 'stable', 'stable');
  await settle();
  ws._receive({ type: 'error', code: 'undelivered', message: 'dropped', toUserId: 'dave' });
  await settle();
  assert.equal(pc.restartedIce, undefined, 'the polite end waits for the impolite one');
  assert.equal(ws.messages('offer').length, 1);
  assert.ok(ctx.events.some((e) => e.type === 'negotiation' && e.event === 'redo' && e.userId === 'dave'));
  // undelivered for someone not in the roster: an error event, nothing else.
  ws._receive({ type: 'error', code: 'undelivered', message: 'dropped', toUserId: 'nobody' });
  assert.equal(ctx.of('error').filter((e) => e.code === 'undelivered').length, 2);
  assert.equal(ctx.client.state, 'joined');
});

test('undelivered, then the peer leaves: nothing is redone', async () => {
  const { ctx, ws } = await joinedAndNegotiated();
  const pc = ctx.client.peer('alice').pc;
  ws._receive({ type: 'participant-reconnecting', userId: 'alice' });
  ws._receive({ type: 'error', code: 'undelivered', message: 'dropped', toUserId: 'alice' });
  ws._receive({ type: 'participant-left', userId: 'alice' });
  ws._receive({ type: 'participant-joined', participant: { userId: 'alice', displayName: 'ALICE' } });
  ws._receive({ type: 'participant-reconnected', userId: 'alice' });
  await settle();
  assert.equal(pc.restartedIce, undefined);
  assert.equal(pc.signalingState, 'closed');
});

test('an offer from another RTCPeerConnection of a known user replaces our stale connection', async () => {
  const { ctx, ws } = await joinedAndNegotiated();
  const stale = ctx.client.peer('alice').pc;
  // alice rejoined afresh while we were away: her new connection offers to us.
  ws._receive({ type: 'offer', toUserId: 'carol', sdp: fakeSdp('offer', { pcId: 'pc-alice-2', ufrag: 'a2' }), fromUserId: 'alice' });
  await waitFor(() => ws.messages('answer').length === 1, 'an answer');
  assert.equal(stale.signalingState, 'closed');
  assert.notEqual(ctx.client.peer('alice').pc, stale);
  assert.equal(ctx.client.peer('alice').initiator, false);
  // A renegotiation from the same remote connection keeps ours.
  const current = ctx.client.peer('alice').pc;
  ws._receive({ type: 'offer', toUserId: 'carol', sdp: fakeSdp('offer', { pcId: 'pc-alice-2', ufrag: 'a2', version: 2 }), fromUserId: 'alice' });
  await waitFor(() => ws.messages('answer').length === 2, 'a second answer');
  assert.equal(ctx.client.peer('alice').pc, current);
});

test('an ICE restart towards a peer that is reconnecting waits for participant-reconnected', async () => {
  // carol > alice: carol is the impolite end, the one that restarts.
  const { ctx, ws } = await joinedAndNegotiated();
  const pc = ctx.client.peer('alice').pc;
  ws._receive({ type: 'participant-reconnecting', userId: 'alice' });
  pc._setConnectionState('failed');
  await settle();
  assert.equal(pc.restartedIce, undefined, 'alice cannot get the offer now');
  assert.equal(ws.messages('offer').length, 2);
  ws._receive({ type: 'participant-reconnected', userId: 'alice' });
  await waitFor(() => ws.messages('offer').length === 3, 'the restart offer once alice is back');
  assert.equal(pc.restartedIce, 1);
  assert.equal(ws.messages('offer')[2].toUserId, 'alice');
  assert.equal(ctx.client.peer('alice').pc, pc);
});
