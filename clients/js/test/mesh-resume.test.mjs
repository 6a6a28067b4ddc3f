// Several clients against the in-memory server in resume mode (test-support/fakes.mjs): a lost
// connection resumes, and the mesh survives it on the same RTCPeerConnections.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { SignalingClient } from '../src/index.js';
import { FakeRTCPeerConnection, FakeSignalingServer, FakeClock, FakeMediaStream, FakeTrack, fakeLocalStream, waitFor, settle } from '../test-support/fakes.mjs';

beforeEach(() => {
  FakeRTCPeerConnection.instances.length = 0;
});

const RECONNECT = { baseMs: 200, maxMs: 200, jitter: 0 };

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
    reconnect: RECONNECT,
    ...extra,
  });
  client.log = [];
  for (const type of ['error', 'negotiation', 'participant-joined', 'participant-left', 'participant-reconnecting', 'participant-reconnected', 'joined']) {
    client.on(type, (e) => client.log.push({ type, ...e }));
  }
  client.of = (type) => client.log.filter((e) => e.type === type);
  return client;
}

function meshComplete(clients) {
  for (const c of clients) {
    const ids = c.peers().filter((p) => p.signalingState === 'stable' && p.pc.remoteDescription).map((p) => p.userId).sort();
    const expected = clients.filter((o) => o !== c).map((o) => o.self?.userId).sort();
    if (JSON.stringify(ids) !== JSON.stringify(expected)) return false;
  }
  return true;
}

/** Every pair's connection objects, as "a->b" => pc. */
function connections(clients) {
  const out = new Map();
  for (const c of clients) for (const p of c.peers()) out.set(`${c.self.userId}->${p.userId}`, p.pc);
  return out;
}

const relayed = (server, type) => server.log.filter((e) => e.from && e.msg.type === type).map((e) => `${e.from}->${e.msg.toUserId}`);

async function mesh(names, serverOptions = {}, extra = {}) {
  const server = new FakeSignalingServer({ resume: true, ...serverOptions });
  const clock = new FakeClock();
  const clients = [];
  for (const u of names) {
    const c = newClient(server, clock, u, extra);
    await c.join();
    clients.push(c);
  }
  await waitFor(() => meshComplete(clients), `mesh of ${names.length}`);
  await settle();
  return { server, clock, clients };
}

test('a lost connection resumes: every RTCPeerConnection stays, nobody offers, the others see reconnecting then reconnected', async () => {
  const { server, clock, clients } = await mesh(['alice', 'bob', 'carol']);
  const [alice, bob, carol] = clients;
  const before = connections(clients);
  const offersBefore = relayed(server, 'offer').length;
  assert.match(bob.resumeId, /^r\d+-bob$/);
  server.drop('bob', 1006);
  await waitFor(() => bob.state === 'reconnecting', 'bob reconnecting');
  await waitFor(() => alice.of('participant-reconnecting').length === 1 && carol.of('participant-reconnecting').length === 1, 'the others told');
  assert.ok(alice.participants().find((p) => p.userId === 'bob').reconnecting);
  assert.ok([...before.values()].every((pc) => !pc.closed), 'nothing closed while bob is away');
  clock.advance(200);
  await waitFor(() => bob.resumeCount === 1, 'bob resumed');
  await waitFor(() => alice.of('participant-reconnected').length === 1 && carol.of('participant-reconnected').length === 1, 'the others told again');
  clock.advance(2000); // past the resume sync
  await settle();
  const after = connections(clients);
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
  for (const [k, pc] of before) assert.equal(after.get(k), pc, `${k}: same RTCPeerConnection`);
  assert.equal(FakeRTCPeerConnection.instances.length, 6, 'no new connection anywhere');
  assert.equal(relayed(server, 'offer').length, offersBefore, 'no offer after the resume');
  for (const c of clients) {
    assert.deepEqual(c.of('participant-left'), [], `${c.self.userId}: no participant-left`);
    assert.deepEqual(c.errors ?? c.of('error'), []);
  }
  assert.ok(meshComplete(clients));
  await Promise.all(clients.map((c) => c.leave()));
});

test('while bob is away carol leaves and dave joins: bob closes carol only and answers the offer dave queued for him', async () => {
  const { server, clock, clients } = await mesh(['alice', 'bob', 'carol']);
  const [alice, bob, carol] = clients;
  const bobToAlice = bob.peer('alice').pc;
  const bobToCarol = bob.peer('carol').pc;
  const mark = bob.log.length;
  server.drop('bob', 1006);
  await waitFor(() => bob.state === 'reconnecting', 'bob reconnecting');
  await carol.leave();
  const dave = newClient(server, clock, 'dave');
  await dave.join();
  await waitFor(() => dave.peer('alice')?.pc.remoteDescription && alice.peer('dave')?.signalingState === 'stable', 'dave meets alice');
  await waitFor(() => server.incarnations.get('bob').queue.some((q) => q.msg.type === 'offer' && q.msg.fromUserId === 'dave'), "dave's offer queued for bob");
  clock.advance(200);
  const three = [alice, bob, dave];
  await waitFor(() => meshComplete(three), 'alice, bob and dave meshed');
  assert.equal(bob.resumeCount, 1);
  assert.equal(bobToCarol.signalingState, 'closed');
  assert.equal(bob.peer('alice').pc, bobToAlice, 'bob kept his connection to alice');
  const since = bob.log.slice(mark);
  assert.deepEqual(since.filter((e) => e.type === 'participant-left').map((e) => e.userId), ['carol']);
  assert.deepEqual(since.filter((e) => e.type === 'participant-joined').map((e) => e.participant.userId), ['dave']);
  assert.equal(bob.peer('dave').initiator, false, 'dave offered, bob answered');
  assert.deepEqual(relayed(server, 'offer').filter((o) => o.startsWith('bob->')).sort(), ['bob->alice'], 'bob offered only when he first joined (to alice)');
  await Promise.all(three.map((c) => c.leave()));
});

test('close 1012 (the node drains): the client resumes at once and keeps its connections', async () => {
  const { server, clock, clients } = await mesh(['alice', 'bob']);
  const [alice, bob] = clients;
  const pcs = connections(clients);
  server.drain('bob');
  await waitFor(() => bob.state === 'reconnecting', 'bob reconnecting');
  const rec = [];
  bob.on('reconnecting', (e) => rec.push(e));
  clock.advance(0); // random() is 0 here: no delay at all
  await waitFor(() => bob.resumeCount === 1, 'bob resumed');
  for (const [k, pc] of pcs) assert.equal(connections(clients).get(k), pc, k);
  assert.ok(alice.of('participant-reconnected').length === 1);
  await Promise.all(clients.map((c) => c.leave()));
});

test('the resume window closed: bob joins afresh, everyone rebuilds the connection to him', async () => {
  const { server, clock, clients } = await mesh(['alice', 'bob', 'carol']);
  const [alice, bob, carol] = clients;
  const oldToBob = [alice.peer('bob').pc, carol.peer('bob').pc];
  const oldOfBob = bob.peers().map((p) => p.pc);
  const oldId = bob.resumeId;
  server.drop('bob', 1006);
  await waitFor(() => bob.state === 'reconnecting', 'bob reconnecting');
  server.expire('bob');
  await waitFor(() => oldToBob.every((pc) => pc.signalingState === 'closed'), 'the others closed their connection to bob');
  clock.advance(200);
  await waitFor(() => bob.joinCount === 2, 'bob joined again');
  assert.equal(bob.resumeCount, 0);
  assert.notEqual(bob.resumeId, oldId, 'a new incarnation');
  await waitFor(() => meshComplete(clients), 'mesh rebuilt');
  assert.ok(oldOfBob.every((pc) => pc.signalingState === 'closed'));
  assert.deepEqual(alice.of('participant-left').map((e) => e.userId), ['bob']);
  await Promise.all(clients.map((c) => c.leave()));
});

test('undelivered (the queue of the away peer is full): the polite sender sends its offer again once the peer is back', async () => {
  const { server, clock, clients } = await mesh(['alice', 'bob'], { queueMax: 0 });
  const [alice, bob] = clients;
  const a = alice.peer('bob').pc;
  const b = bob.peer('alice').pc;
  server.drop('bob', 1006);
  await waitFor(() => alice.of('participant-reconnecting').length === 1, 'alice told');
  const screen = new FakeTrack('video', 'alice screen');
  alice.addTrack(screen, new FakeMediaStream([screen]));
  await waitFor(() => alice.of('error').some((e) => e.code === 'undelivered' && e.toUserId === 'bob' && !e.fatal), 'undelivered');
  assert.equal(a.signalingState, 'have-local-offer');
  clock.advance(200);
  await waitFor(() => bob.resumeCount === 1, 'bob resumed');
  await waitFor(() => a.signalingState === 'stable' && b.getTransceivers().some((t) => t.receiver && t.remoteDirection === 'sendrecv' && t.mid === '2'), "alice's screen negotiated with bob");
  assert.equal(alice.peer('bob').pc, a);
  assert.equal(bob.peer('alice').pc, b);
  assert.equal(a.restartedIce, undefined, 'alice (polite) did not restart ICE');
  await Promise.all(clients.map((c) => c.leave()));
});

test('undelivered to the impolite sender: it sends its offer again and restarts ICE once the peer is back', async () => {
  const { server, clock, clients } = await mesh(['alice', 'bob'], { queueMax: 0 });
  const [alice, bob] = clients;
  const a = alice.peer('bob').pc;
  const b = bob.peer('alice').pc;
  const [ua, ub] = [a.ufrag, b.ufrag];
  server.drop('alice', 1006);
  await waitFor(() => bob.of('participant-reconnecting').length === 1, 'bob told');
  const screen = new FakeTrack('video', 'bob screen');
  bob.addTrack(screen, new FakeMediaStream([screen]));
  await waitFor(() => bob.of('error').some((e) => e.code === 'undelivered' && e.toUserId === 'alice'), 'undelivered');
  clock.advance(200);
  await waitFor(() => alice.resumeCount === 1, 'alice resumed');
  await waitFor(() => a.signalingState === 'stable' && b.signalingState === 'stable' && b.ufrag !== ub && a.ufrag !== ua && a.remoteIceUfrag === b.ufrag, 'renegotiated with an ICE restart');
  assert.equal(b.restartedIce, 1);
  assert.equal(a.restartedIce, undefined);
  assert.ok(a.getTransceivers().some((t) => t.mid === '2' && t.remoteDirection === 'sendrecv'), "bob's screen reached alice");
  assert.equal(alice.peer('bob').pc, a);
  assert.equal(bob.peer('alice').pc, b);
  await Promise.all(clients.map((c) => c.leave()));
});

test('a server without resume (no resumeId) keeps the old behaviour: the others drop and rebuild', async () => {
  const { server, clock, clients } = await mesh(['alice', 'bob'], { resume: false });
  const [alice, bob] = clients;
  assert.equal(bob.resumeId, null);
  const old = alice.peer('bob').pc;
  server.drop('bob', 1006);
  await waitFor(() => old.signalingState === 'closed', 'alice closed it');
  clock.advance(200);
  await waitFor(() => bob.joinCount === 2 && meshComplete(clients), 'rebuilt');
  assert.notEqual(alice.peer('bob').pc, old);
  await Promise.all(clients.map((c) => c.leave()));
});
