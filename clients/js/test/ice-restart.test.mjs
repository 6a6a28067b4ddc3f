// ICE restart on a network change: a connection `disconnected` for iceRestartAfterMs, or
// `failed`, is restarted through the signaling server by the impolite end only (the larger user
// id by default); the polite end answers. Media stays on the same RTCPeerConnection.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { SignalingClient } from '../src/index.js';
import { FakeRTCPeerConnection, FakeSignalingServer, FakeClock, FakeMediaStream, fakeLocalStream, waitFor, settle } from '../test-support/fakes.mjs';

beforeEach(() => {
  FakeRTCPeerConnection.instances.length = 0;
});

function newClient(server, clock, userId, extra = {}) {
  const client = new SignalingClient({
    url: 'ws://signaling.test',
    token: userId,
    sessionId: server.sessionId,
    WebSocket: server.WebSocket,
    RTCPeerConnection: FakeRTCPeerConnection,
    MediaStream: FakeMediaStream,
    localStream: fakeLocalStream(),
    timers: clock.timers,
    now: clock.now,
    random: () => 0,
    ...extra,
  });
  client.errors = [];
  client.negotiation = [];
  client.on('error', (e) => client.errors.push(e));
  client.on('negotiation', (e) => client.negotiation.push(e));
  return client;
}

const offersFrom = (server, from) => server.log.filter((e) => e.from === from && e.msg.type === 'offer').map((e) => e.msg);
const ufragOf = (sdp) => /ufrag=(\S+)/.exec(sdp)?.[1];

/** alice and bob connected (stable, candidates applied); returns their connections to each other. */
async function pair(extra = {}, serverOptions = {}) {
  const server = new FakeSignalingServer(serverOptions);
  const clock = new FakeClock();
  const alice = newClient(server, clock, 'alice', extra);
  const bob = newClient(server, clock, 'bob', extra);
  await alice.join();
  await bob.join();
  await waitFor(() => alice.peer('bob')?.pc.signalingState === 'stable' && bob.peer('alice')?.pc.signalingState === 'stable' && alice.peer('bob').pc.remoteDescription, 'alice-bob negotiated');
  await settle();
  const a = alice.peer('bob').pc;
  const b = bob.peer('alice').pc;
  return { server, clock, alice, bob, a, b };
}

/** The connection's ICE restarted and completed: new credentials on both ends, stable. */
async function restartedBoth(a, b, ufragA, ufragB) {
  await waitFor(
    () => a.signalingState === 'stable' && b.signalingState === 'stable' && a.ufrag !== ufragA && b.ufrag !== ufragB && a.remoteIceUfrag === b.ufrag && b.remoteIceUfrag === a.ufrag,
    'ICE restarted on both ends',
  );
}

test('disconnected for iceRestartAfterMs: only the impolite end (bob) restarts ICE; media stays on the same connections', async () => {
  const { server, clock, alice, bob, a, b } = await pair();
  assert.equal(bob.peer('alice').polite, false, 'bob (the larger id) is impolite');
  const [ua, ub] = [a.ufrag, b.ufrag];
  const sendersA = a.getSenders().map((s) => s.track);
  const sendersB = b.getSenders().map((s) => s.track);
  const bobOffers = offersFrom(server, 'bob').length;
  a._setConnectionState('disconnected');
  b._setConnectionState('disconnected');
  clock.advance(2999);
  await settle();
  assert.equal(b.restartedIce, undefined, 'not before iceRestartAfterMs');
  clock.advance(1);
  await restartedBoth(a, b, ua, ub);
  assert.equal(b.restartedIce, 1, 'bob restarted once');
  assert.equal(a.restartedIce, undefined, 'alice (polite) did not restart');
  assert.equal(offersFrom(server, 'alice').length, 0, 'alice sent no offer');
  const restart = offersFrom(server, 'bob').slice(bobOffers);
  assert.equal(restart.length, 1, 'one restart offer, through the server');
  assert.equal(ufragOf(restart[0].sdp), b.ufrag);
  assert.ok(alice.negotiation.some((e) => e.event === 'ice-restart-waiting'));
  assert.equal(alice.peer('bob').pc, a, 'same RTCPeerConnection (alice)');
  assert.equal(bob.peer('alice').pc, b, 'same RTCPeerConnection (bob)');
  assert.deepEqual(a.getSenders().map((s) => s.track), sendersA, 'same senders, same tracks');
  assert.deepEqual(b.getSenders().map((s) => s.track), sendersB);
  assert.equal(FakeRTCPeerConnection.instances.length, 2, 'no new connection');
  await waitFor(() => a.remoteCandidates.some((c) => c.usernameFragment === b.ufrag) && b.remoteCandidates.some((c) => c.usernameFragment === a.ufrag), 'new candidates applied');
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  await alice.leave();
  await bob.leave();
});

test('back to connected before iceRestartAfterMs: no restart', async () => {
  const { clock, alice, bob, a, b } = await pair();
  b._setConnectionState('disconnected');
  clock.advance(2000);
  b._setConnectionState('connected');
  clock.advance(5000);
  await settle();
  assert.equal(b.restartedIce, undefined);
  await alice.leave();
  await bob.leave();
});

test('failed: the impolite end restarts at once, then at most once per iceRestartAfterMs; the polite end never', async () => {
  const { clock, alice, bob, a, b } = await pair({ iceRestartAfterMs: 1000 });
  const [ua, ub] = [a.ufrag, b.ufrag];
  a._setConnectionState('failed');
  b._setConnectionState('failed');
  assert.equal(b.restartedIce, 1, 'at once');
  await restartedBoth(a, b, ua, ub);
  // Still failing (the network is still down): not again before 1000 ms.
  b._setConnectionState('failed');
  b._setConnectionState('failed');
  clock.advance(999);
  await settle();
  assert.equal(b.restartedIce, 1);
  clock.advance(1);
  await settle();
  assert.equal(b.restartedIce, 2, 'one more after iceRestartAfterMs');
  for (let i = 0; i < 5; i += 1) b._setConnectionState('failed'); // state events do not hurry it
  clock.advance(3500);
  await settle();
  assert.equal(b.restartedIce, 5, 'bounded: one per 1000 ms while it stays failed');
  assert.equal(a.restartedIce, undefined);
  b._setConnectionState('connected');
  clock.advance(10_000);
  await settle();
  assert.equal(b.restartedIce, 5, 'connected: no more');
  assert.equal(bob.peer('alice').pc, b);
  await alice.leave();
  await bob.leave();
});

test('with a custom polite function the other end restarts: the rule is politeness, not the name', async () => {
  const polite = (self, other) => self > other; // bob is polite now
  const { clock, alice, bob, a, b } = await pair({ polite });
  a._setConnectionState('disconnected');
  b._setConnectionState('disconnected');
  clock.advance(3000);
  await settle();
  assert.equal(a.restartedIce, 1, 'alice (impolite) restarts');
  assert.equal(b.restartedIce, undefined);
  await alice.leave();
  await bob.leave();
});

test('only the polite end sees the failure: it waits, no offer', async () => {
  const { server, clock, alice, bob, a } = await pair();
  const before = server.log.filter((e) => e.from && e.msg.type === 'offer').length;
  a._setConnectionState('failed');
  clock.advance(10_000);
  await settle();
  assert.equal(a.restartedIce, undefined);
  assert.equal(server.log.filter((e) => e.from && e.msg.type === 'offer').length, before);
  await alice.leave();
  await bob.leave();
});

test('a restart due while the signaling socket is down waits for the resume, then goes through the server', async () => {
  const { server, clock, alice, bob, a, b } = await pair({ reconnect: { baseMs: 500, maxMs: 500, jitter: 0 } }, { resume: true });
  const [ua, ub] = [a.ufrag, b.ufrag];
  server.drop('bob', 1006);
  await waitFor(() => bob.state === 'reconnecting', 'bob reconnecting');
  a._setConnectionState('failed');
  b._setConnectionState('failed');
  await settle();
  assert.equal(b.restartedIce, undefined, 'not without a socket');
  assert.ok(bob.negotiation.some((e) => e.event === 'ice-restart-deferred'));
  clock.advance(500);
  await waitFor(() => bob.resumeCount === 1, 'bob resumed');
  await restartedBoth(a, b, ua, ub);
  assert.equal(b.restartedIce, 1);
  assert.equal(a.restartedIce, undefined);
  assert.equal(bob.peer('alice').pc, b);
  assert.equal(alice.peer('bob').pc, a);
  await alice.leave();
  await bob.leave();
});

test('closing the client cancels a pending restart timer', async () => {
  const { clock, alice, bob, b } = await pair();
  b._setConnectionState('disconnected');
  await bob.leave();
  clock.advance(10_000);
  await settle();
  assert.equal(b.restartedIce, undefined);
  await alice.leave();
});

test('client.restartIce(): the impolite end restarts (once per iceRestartAfterMs), the polite end does not', async () => {
  const { clock, alice, bob, a, b } = await pair();
  assert.deepEqual(alice.restartIce('bob'), [], 'alice is polite');
  assert.deepEqual(bob.restartIce(), ['alice']);
  assert.deepEqual(bob.restartIce('alice'), [], 'not twice within iceRestartAfterMs');
  assert.deepEqual(bob.restartIce('nobody'), []);
  await waitFor(() => a.signalingState === 'stable' && b.signalingState === 'stable' && a.remoteIceUfrag === b.ufrag, 'restarted');
  clock.advance(3000);
  assert.deepEqual(bob.restartIce('alice'), ['alice']);
  assert.equal(b.restartedIce, 2);
  assert.equal(a.restartedIce, undefined);
  await alice.leave();
  await bob.leave();
});
