// AC8: heartbeat, heartbeat-ack and the liveness timeout (with short flags, never 30 s).
import assert from 'node:assert/strict';
import test from 'node:test';
import { expectClose, expectError, expectParticipantLeft, quietAll, sessionWith, sleep, startServer } from './harness.mjs';

const FAST = ['--heartbeat-interval', '200ms', '--heartbeat-timeout', '600ms'];

/** Sends a heartbeat every `ms` until stopped; returns the stop function. */
function keepAlive(client, ms = 150) {
  const timer = setInterval(() => {
    if (client.isOpen) client.heartbeat();
  }, ms);
  return () => clearInterval(timer);
}

test('heartbeat with a numeric ts gets heartbeat-ack echoing ts, and nothing else', async (t) => {
  const server = await startServer(t);
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b']);
  for (const ts of [1732443330123, 0, 42.5]) {
    a.heartbeat(ts);
    const ack = await a.next();
    assert.deepEqual({ ...ack }, { type: 'heartbeat-ack', ts });
  }
  await quietAll([a, b]);
});

test('heartbeat without ts gets {"type":"heartbeat-ack"}', async (t) => {
  const server = await startServer(t);
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b']);
  a.heartbeat();
  const ack = await a.next();
  assert.deepEqual({ ...ack }, { type: 'heartbeat-ack' });
  await quietAll([a, b]);
});

test('every heartbeat gets its own ack, in order', async (t) => {
  const server = await startServer(t);
  const { clients: { a } } = await sessionWith(server, ['a']);
  const N = 20;
  for (let i = 1; i <= N; i++) a.heartbeat(i);
  const acks = await a.take(N, () => true);
  assert.deepEqual(acks.map((m) => ({ ...m })), Array.from({ length: N }, (_, i) => ({ type: 'heartbeat-ack', ts: i + 1 })));
  await a.expectNoMessage();
});

test('a silent client gets heartbeat_timeout and close 4408; the others get participant-left', async (t) => {
  const server = await startServer(t, { args: FAST });
  const stops = [];
  t.after(() => stops.forEach((s) => s()));
  // b says nothing; a and c send heartbeats from the moment they joined.
  const { sessionId, clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c'],
    { onJoin: (cl, u) => u !== 'b' && stops.push(keepAlive(cl)) });
  await expectError(b, 'heartbeat_timeout', 5000);
  await expectClose(b, 4408);
  await expectParticipantLeft([a, c], 'b');
  // Only heartbeat-acks besides that.
  const isAck = (m) => m.type === 'heartbeat-ack';
  a.queue = a.queue.filter((m) => !isAck(m));
  c.queue = c.queue.filter((m) => !isAck(m));
  assert.deepEqual(a.queue, [], 'a got something else than acks');
  assert.deepEqual(c.queue, [], 'c got something else than acks');
  assert.ok(a.isOpen && c.isOpen, 'the clients that send heartbeats stay connected');
  const s = await server.getSession(sessionId);
  assert.deepEqual([...s.json.connected].sort(), ['a', 'c']);
});

test('a client that sends a heartbeat every 150 ms stays connected for 2 s (timeout 600 ms)', async (t) => {
  const server = await startServer(t, { args: FAST });
  const stops = [];
  t.after(() => stops.forEach((s) => s()));
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b'], { onJoin: (cl) => stops.push(keepAlive(cl)) });
  await sleep(2000);
  assert.ok(a.isOpen, `a was closed: ${JSON.stringify(a.closeInfo)}`);
  assert.ok(b.isOpen, `b was closed: ${JSON.stringify(b.closeInfo)}`);
  for (const c of [a, b]) {
    const others = c.received.filter((m) => m.type !== 'heartbeat-ack' && m.type !== 'joined' && m.type !== 'participant-joined');
    assert.deepEqual(others, [], `${c.label} got more than heartbeat-acks`);
    assert.ok(c.received.filter((m) => m.type === 'heartbeat-ack').length >= 5, `${c.label}: its heartbeats were acknowledged`);
  }
  stops.forEach((s) => s());
  await a.ping();
});

test('any message counts as activity: a client sending only offers stays connected', async (t) => {
  const server = await startServer(t, { args: FAST });
  const stops = [];
  t.after(() => stops.forEach((s) => s()));
  const offerLoop = (cl) => {
    const timer = setInterval(() => {
      if (cl.isOpen) cl.send({ type: 'offer', toUserId: 'b', sdp: 'v=0\r\n' });
    }, 150);
    return () => clearInterval(timer);
  };
  // Both send heartbeats from the moment they join; once b is there, a switches to sending only
  // offers to b.
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b'], { onJoin: (cl) => stops.push(keepAlive(cl)) });
  stops.shift()(); // a's heartbeats
  stops.push(offerLoop(a));
  await sleep(1500);
  assert.ok(a.isOpen, `a was closed: ${JSON.stringify(a.closeInfo)}`);
  assert.ok(!a.received.some((m) => m.type === 'error'), `a got an error: ${JSON.stringify(a.received)}`);
  assert.ok(!b.received.some((m) => m.type === 'participant-left'), 'b was told that a left');
  assert.ok(b.received.filter((m) => m.type === 'offer').length >= 5, 'b received a\'s offers');
});

test('the heartbeat timeout of one session does not end the session: a timed-out user can rejoin', async (t) => {
  const server = await startServer(t, { args: FAST });
  const stops = [];
  t.after(() => stops.forEach((s) => s()));
  const { sessionId, clients: { a, b } } = await sessionWith(server, ['a', 'b'],
    { onJoin: (cl, u) => u === 'a' && stops.push(keepAlive(cl)) });
  await expectError(b, 'heartbeat_timeout', 5000);
  await expectClose(b, 4408);
  await expectParticipantLeft([a], 'b');
  const [b2, j] = await server.join(sessionId, 'b');
  stops.push(keepAlive(b2));
  assert.deepEqual(j.participants.map((p) => p.userId), ['a']);
  await a.next((m) => m.type === 'participant-joined' && m.participant.userId === 'b');
  await b2.ping();
});
