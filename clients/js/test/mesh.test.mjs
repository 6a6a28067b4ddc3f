// Several clients against the in-memory signaling server of test-support/fakes.mjs: the full
// mesh, perfect negotiation under collisions, departures and reconnects.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { SignalingClient } from '../src/index.js';
import {
  FakeRTCPeerConnection,
  FakeSignalingServer,
  FakeClock,
  FakeMediaStream,
  FakeTrack,
  fakeLocalStream,
  waitFor,
  settle,
} from '../test-support/fakes.mjs';

beforeEach(() => {
  FakeRTCPeerConnection.instances.length = 0;
});

function newClient(server, clock, userId, extra = {}) {
  const client = new SignalingClient({
    url: 'ws://signaling.test',
    token: userId, // the fake server takes the token as the user id
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

/** Every pair has one negotiated connection on both ends. */
function meshComplete(clients) {
  for (const c of clients) {
    const ids = c.peers().filter((p) => p.signalingState === 'stable' && p.pc.remoteDescription).map((p) => p.userId).sort();
    const expected = clients.filter((o) => o !== c).map((o) => o.self?.userId).sort();
    if (JSON.stringify(ids) !== JSON.stringify(expected)) return false;
  }
  return true;
}

/** Both connections stable, and each screen track on a negotiated transceiver that sends. */
function bothSending(pcA, trackA, pcB, trackB) {
  const sends = (pc, track) => {
    const t = pc.transceivers.find((x) => x.sender.track === track);
    return !!t && t.mid !== null && (t.current === 'sendrecv' || t.current === 'sendonly');
  };
  return pcA.signalingState === 'stable' && pcB.signalingState === 'stable' && sends(pcA, trackA) && sends(pcB, trackB);
}

const offers = (server) => server.log.filter((e) => e.from && e.msg.type === 'offer').map((e) => `${e.from}->${e.msg.toUserId}`);

test('four clients build the full mesh; each newcomer offers to everyone already there', async () => {
  const server = new FakeSignalingServer();
  const clock = new FakeClock();
  const clients = [];
  for (const u of ['alice', 'bob', 'carol', 'dave']) {
    const c = newClient(server, clock, u);
    await c.join();
    clients.push(c);
    await waitFor(() => meshComplete(clients), `mesh of ${clients.length}`);
  }
  assert.equal(FakeRTCPeerConnection.instances.length, 12, '6 connections, 2 ends each');
  await waitFor(() => clients.every((c) => c.peers().every((p) => p.pc.remoteCandidates.length === 2)), 'every trickled candidate applied');
  assert.deepEqual(offers(server).sort(), ['bob->alice', 'carol->alice', 'carol->bob', 'dave->alice', 'dave->bob', 'dave->carol']);
  const answers = server.log.filter((e) => e.from && e.msg.type === 'answer').map((e) => `${e.from}->${e.msg.toUserId}`);
  assert.deepEqual(answers.sort(), ['alice->bob', 'alice->carol', 'alice->dave', 'bob->carol', 'bob->dave', 'carol->dave']);
  for (const c of clients) {
    assert.deepEqual(c.errors, []);
    for (const p of c.peers()) {
      assert.equal(p.pc.remoteCandidates.length, 2, `${c.self.userId} got the candidates of ${p.userId}`);
      assert.match(p.pc.localDescription.sdp, /audio sendrecv[\s\S]*video sendrecv/);
    }
  }
  await Promise.all(clients.map((c) => c.leave()));
});

test('perfect negotiation: both ends renegotiate at once; the polite one rolls back and both tracks get through', async () => {
  const server = new FakeSignalingServer();
  const clock = new FakeClock();
  const alice = newClient(server, clock, 'alice');
  const bob = newClient(server, clock, 'bob');
  await alice.join();
  await bob.join();
  await waitFor(() => meshComplete([alice, bob]), 'alice-bob connected');
  await settle();
  assert.equal(alice.peer('bob').polite, true, 'the smaller user id is polite');
  assert.equal(bob.peer('alice').polite, false);

  // Both start a screen share in the same turn: two offers cross.
  const sa = new FakeTrack('video', 'alice screen');
  const sb = new FakeTrack('video', 'bob screen');
  alice.addTrack(sa, new FakeMediaStream([sa]));
  bob.addTrack(sb, new FakeMediaStream([sb]));
  await waitFor(() => bothSending(alice.peer('bob').pc, sa, bob.peer('alice').pc, sb), 'both screen tracks negotiated');
  assert.ok(alice.negotiation.some((e) => e.event === 'rollback'), 'alice (polite) rolled back');
  assert.ok(bob.negotiation.some((e) => e.event === 'ignored-colliding-offer'), 'bob (impolite) ignored the colliding offer');
  assert.ok(!bob.negotiation.some((e) => e.event === 'rollback'), 'the impolite end never rolls back');
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  const a = alice.peer('bob').pc;
  const b = bob.peer('alice').pc;
  assert.equal(a.getSenders().filter((s) => s.track === sa).length, 1);
  assert.equal(b.getSenders().filter((s) => s.track === sb).length, 1);
  await alice.leave();
  await bob.leave();
});

test('collision with the polite role given to the other end (custom polite function)', async () => {
  const server = new FakeSignalingServer();
  const clock = new FakeClock();
  const polite = (self, other) => self > other; // the larger user id is polite
  const alice = newClient(server, clock, 'alice', { polite });
  const bob = newClient(server, clock, 'bob', { polite });
  await alice.join();
  await bob.join();
  await waitFor(() => meshComplete([alice, bob]), 'connected');
  await settle();
  const sa = new FakeTrack('video');
  const sb = new FakeTrack('video');
  alice.addTrack(sa, new FakeMediaStream([sa]));
  bob.addTrack(sb, new FakeMediaStream([sb]));
  await waitFor(() => bothSending(alice.peer('bob').pc, sa, bob.peer('alice').pc, sb), 'both renegotiations done');
  assert.ok(bob.negotiation.some((e) => e.event === 'rollback'));
  assert.ok(alice.negotiation.some((e) => e.event === 'ignored-colliding-offer'));
  await alice.leave();
  await bob.leave();
});

test('one leaves: the others close their connection to it only; a newcomer then connects to all', async () => {
  const server = new FakeSignalingServer();
  const clock = new FakeClock();
  const clients = [];
  for (const u of ['alice', 'bob', 'carol', 'dave']) {
    const c = newClient(server, clock, u);
    await c.join();
    clients.push(c);
  }
  await waitFor(() => meshComplete(clients), 'mesh of 4');
  const [alice, bob, carol, dave] = clients;
  const toCarol = [alice, bob, dave].map((c) => c.peer('carol').pc);
  const kept = [alice, bob, dave].flatMap((c) => c.peers().filter((p) => p.userId !== 'carol').map((p) => p.pc));
  await carol.leave();
  await waitFor(() => toCarol.every((pc) => pc.signalingState === 'closed'), 'connections to carol closed');
  assert.ok(kept.every((pc) => pc.signalingState === 'stable'), 'the other connections are untouched');
  const erin = newClient(server, clock, 'erin');
  await erin.join();
  const four = [alice, bob, dave, erin];
  await waitFor(() => meshComplete(four), 'erin connected to all');
  assert.deepEqual(offers(server).filter((o) => o.startsWith('erin')).sort(), ['erin->alice', 'erin->bob', 'erin->dave']);
  await Promise.all(four.map((c) => c.leave()));
});

test('a dropped client reconnects; the others drop and rebuild their connection to it', async () => {
  const server = new FakeSignalingServer();
  const clock = new FakeClock();
  const clients = [];
  for (const u of ['alice', 'bob', 'carol']) {
    const c = newClient(server, clock, u, { reconnect: { baseMs: 200, maxMs: 200, jitter: 0 } });
    await c.join();
    clients.push(c);
  }
  await waitFor(() => meshComplete(clients), 'mesh of 3');
  const [alice, bob, carol] = clients;
  const oldToBob = [alice.peer('bob').pc, carol.peer('bob').pc];
  const oldOfBob = bob.peers().map((p) => p.pc);
  const left = [];
  alice.on('participant-left', (e) => left.push(e.userId));
  server.drop('bob', 1006);
  await waitFor(() => bob.state === 'reconnecting', 'bob reconnecting');
  await waitFor(() => oldToBob.every((pc) => pc.signalingState === 'closed'), 'the others closed their connection to bob');
  assert.deepEqual(left, ['bob']);
  clock.advance(200);
  await waitFor(() => bob.joinCount === 2, 'bob rejoined');
  await waitFor(() => meshComplete(clients), 'mesh rebuilt');
  assert.ok(oldOfBob.every((pc) => pc.signalingState === 'closed'), 'bob closed its old connections');
  assert.notEqual(alice.peer('bob').pc, oldToBob[0]);
  const bobOffers = offers(server).filter((o) => o.startsWith('bob->'));
  assert.deepEqual(bobOffers.sort(), ['bob->alice', 'bob->alice', 'bob->carol'], 'bob offered again to both after rejoining');
  await Promise.all(clients.map((c) => c.leave()));
});
