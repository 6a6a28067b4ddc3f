// AC6: departures are reported exactly once, whatever the cause.
import assert from 'node:assert/strict';
import test from 'node:test';
import { expectClose, expectParticipantLeft, quietAll, sessionWith, startServer } from './harness.mjs';

test('leave: the others get exactly one participant-left and the socket closes with 1000', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);
  b.send({ type: 'leave' });
  await expectClose(b, 1000);
  await expectParticipantLeft([a, c], 'b');
  await quietAll([a, c]);
  assert.deepEqual(b.queue, [], 'the leaver gets no message before the close');
  // The leaver is no longer a target, and no longer listed.
  a.send({ type: 'offer', toUserId: 'b', sdp: 'v=0\r\n' });
  const err = await a.next('error');
  assert.equal(err.code, 'target_not_connected');
  const s = await server.getSession(sessionId);
  assert.equal(s.status, 200);
  assert.deepEqual([...s.json.connected].sort(), ['a', 'c']);
  // The user may come back.
  const [b2, j] = await server.join(sessionId, 'b');
  assert.deepEqual(j.participants.map((p) => p.userId), ['a', 'c']);
  await a.next((m) => m.type === 'participant-joined' && m.participant.userId === 'b');
  await c.next((m) => m.type === 'participant-joined' && m.participant.userId === 'b');
  await quietAll([a, b2, c]);
});

test('a close frame from the client: the others get exactly one participant-left', async (t) => {
  const server = await startServer(t);
  const { clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);
  c.close(1000, 'bye');
  await c.waitClosed();
  await expectParticipantLeft([a, b], 'c');
  await quietAll([a, b]);
});

test('TCP drop without a close frame is reported at once as reconnecting, and as left when the resume window closes (not by the heartbeat timeout)', async (t) => {
  // A 60 s heartbeat timeout: only the TCP close can explain a prompt report.
  const server = await startServer(t, {
    args: ['--heartbeat-interval', '20s', '--heartbeat-timeout', '60s', '--resume-window', '500ms'],
  });
  const { sessionId, clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);
  b.destroySocket();
  for (const cl of [a, c]) assert.deepEqual({ ...(await cl.next()) }, { type: 'participant-reconnecting', userId: 'b' });
  await expectParticipantLeft([a, c], 'b', 5000);
  await quietAll([a, c]);
  const s = await server.getSession(sessionId);
  assert.deepEqual([...s.json.connected].sort(), ['a', 'c']);
  await a.ping();
});

test('leave of the last participants one by one: each departure reported once to those still there', async (t) => {
  const server = await startServer(t, { args: ['--resume-window', '0'] });  // a dropped socket leaves at once
  const { clients: { a, b, c, d } } = await sessionWith(server, ['a', 'b', 'c', 'd']);
  d.send({ type: 'leave' });
  await expectClose(d, 1000);
  await expectParticipantLeft([a, b, c], 'd');
  c.destroySocket();
  await expectParticipantLeft([a, b], 'c');
  b.close();
  await expectParticipantLeft([a], 'b');
  await quietAll([a]);
  await a.ping();
});
