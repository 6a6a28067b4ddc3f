// Replacement: the same user connecting again to the same session (a reloaded tab).
import assert from 'node:assert/strict';
import test from 'node:test';
import { expectClose, expectError, quietAll, sessionWith, startServer } from './harness.mjs';

test('a second connection of the same user replaces the first: replaced/4440, participant-left then participant-joined, joined', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);

  const [b2, j] = await server.join(sessionId, 'b', 'Bob reloaded');
  assert.deepEqual(j.self, { userId: 'b', displayName: 'Bob reloaded' });
  assert.deepEqual(j.participants.map((p) => p.userId), ['a', 'c'], 'the new connection does not see its old self');

  await expectError(b, 'replaced');
  await expectClose(b, 4440);
  assert.deepEqual(b.queue, [], 'old connection: nothing after the replaced error');

  for (const x of [a, c]) {
    const left = await x.next();
    assert.deepEqual({ ...left }, { type: 'participant-left', userId: 'b' }, `${x.label}: first participant-left`);
    const joined = await x.next();
    assert.deepEqual({ ...joined }, { type: 'participant-joined', participant: { userId: 'b', displayName: 'Bob reloaded' } },
      `${x.label}: then participant-joined`);
  }
  await quietAll([a, b2, c]);

  // Relays for b now reach the new connection only.
  a.send({ type: 'offer', toUserId: 'b', sdp: 'v=0\r\n' });
  const m = await b2.next('offer');
  assert.equal(m.fromUserId, 'a');
  b2.send({ type: 'answer', toUserId: 'a', sdp: 'v=0\r\n' });
  assert.equal((await a.next('answer')).fromUserId, 'b');
  const s = await server.getSession(sessionId);
  assert.deepEqual([...s.json.connected].sort(), ['a', 'b', 'c']);
  await quietAll([a, b2, c]);
});

test('replacement of the only connected participant: old gets replaced/4440, new gets joined with nobody', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { a } } = await sessionWith(server, ['a', 'b'], { join: ['a'] });
  const [a2, j] = await server.join(sessionId, 'a');
  assert.deepEqual(j.participants, []);
  await expectError(a, 'replaced');
  await expectClose(a, 4440);
  await a2.expectNoMessage();
  await a2.ping();
});
