// AC7: session start / end, by the host, by the platform, by the clock.
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  DEFAULT_WAIT_MS, ISO_MS_UTC, expectClose, expectError, expectRefused, quietAll, randomId, sessionWith,
  startServer, waitFor,
} from './harness.mjs';

/** Every client gets exactly {"type":"session-ended","reason":reason}, then close 1000. */
async function expectEnded(clients, reason, timeoutMs = DEFAULT_WAIT_MS) {
  for (const c of clients) {
    const m = await c.next((x) => x.type === 'session-ended', timeoutMs, `session-ended ${reason}`);
    assert.deepEqual({ ...m }, { type: 'session-ended', reason }, `${c.label}: session-ended`);
  }
  for (const c of clients) {
    await expectClose(c, 1000);
    assert.deepEqual(c.queue, [], `${c.label}: nothing else, no participant-left, when the session ends`);
  }
}

async function expectStarted(clients) {
  let startedAt;
  for (const c of clients) {
    const m = await c.next('session-started');
    assert.deepEqual(Object.keys(m).sort(), ['startedAt', 'type'], `${c.label}: session-started fields`);
    assert.match(m.startedAt, ISO_MS_UTC, 'startedAt is ISO-8601 UTC with milliseconds');
    assert.ok(Math.abs(Date.parse(m.startedAt) - Date.now()) < 60_000, `startedAt ${m.startedAt} is not now`);
    if (startedAt === undefined) startedAt = m.startedAt;
    assert.equal(m.startedAt, startedAt, 'everyone gets the same startedAt');
  }
  return startedAt;
}

async function refusedEnded(server, sessionId, user) {
  const c = await server.connect({ user, sessionId });
  await expectRefused(c, 'session_ended', 4410);
}

test('host start-session: everyone gets session-started; a late joiner sees status started and startedAt', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { h, b, c } } = await sessionWith(server, ['h', 'b', 'c', 'late'], { join: ['h', 'b', 'c'] });
  h.send({ type: 'start-session' });
  const startedAt = await expectStarted([h, b, c]);
  await quietAll([h, b, c]);
  const [late, j] = await server.join(sessionId, 'late');
  assert.equal(j.status, 'started');
  assert.equal(j.startedAt, startedAt);
  for (const x of [h, b, c]) await x.next('participant-joined');
  const s = await server.getSession(sessionId);
  assert.equal(s.json.status, 'started');
  assert.equal(s.json.startedAt, startedAt);
  await quietAll([h, b, c, late]);
});

test('start-session from a non-host: not_host, nothing else happens', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { h, b } } = await sessionWith(server, ['h', 'b']);
  b.send({ type: 'start-session' });
  await expectError(b, 'not_host');
  b.send({ type: 'end-session' });
  await expectError(b, 'not_host');
  await quietAll([h, b]);
  await b.ping();
  const s = await server.getSession(sessionId);
  assert.equal(s.json.status, 'waiting');
});

test('start-session twice: invalid_state the second time', async (t) => {
  const server = await startServer(t);
  const { clients: { h, b } } = await sessionWith(server, ['h', 'b']);
  h.send({ type: 'start-session' });
  await expectStarted([h, b]);
  h.send({ type: 'start-session' });
  await expectError(h, 'invalid_state');
  await quietAll([h, b]);
  await h.ping();
});

test('host end-session: everyone gets session-ended host_ended then close 1000; new connections get session_ended/4410', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { h, b, c } } = await sessionWith(server, ['h', 'b', 'c']);
  h.send({ type: 'start-session' });
  await expectStarted([h, b, c]);
  h.send({ type: 'end-session' });
  await expectEnded([h, b, c], 'host_ended');
  await refusedEnded(server, sessionId, 'b');
  const s = await server.getSession(sessionId);
  assert.equal(s.status, 200);
  assert.equal(s.json.status, 'ended');
  assert.equal(s.json.endReason, 'host_ended');
  assert.match(s.json.endedAt, ISO_MS_UTC);
  assert.deepEqual(s.json.connected, []);
});

test('host end-session of a session that was never started also ends it', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { h, b } } = await sessionWith(server, ['h', 'b']);
  h.send({ type: 'end-session' });
  await expectEnded([h, b], 'host_ended');
  await refusedEnded(server, sessionId, 'h');
});

test('admin POST /start and /end do what the host messages do; repeats answer 409 invalid_state', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { h, b } } = await sessionWith(server, ['h', 'b']);
  const start = await server.admin('POST', `/api/sessions/${sessionId}/start`);
  assert.equal(start.status, 200, start.text);
  assert.equal(start.json.status, 'started');
  const startedAt = await expectStarted([h, b]);
  assert.equal(start.json.startedAt, startedAt);
  const again = await server.admin('POST', `/api/sessions/${sessionId}/start`);
  assert.equal(again.status, 409, again.text);
  assert.equal(again.json.error, 'invalid_state');
  await quietAll([h, b]);

  const end = await server.admin('POST', `/api/sessions/${sessionId}/end`);
  assert.equal(end.status, 200, end.text);
  assert.equal(end.json.status, 'ended');
  assert.equal(end.json.endReason, 'host_ended');
  await expectEnded([h, b], 'host_ended');
  const endAgain = await server.admin('POST', `/api/sessions/${sessionId}/end`);
  assert.equal(endAgain.status, 409, endAgain.text);
  assert.equal(endAgain.json.error, 'invalid_state');
  const startEnded = await server.admin('POST', `/api/sessions/${sessionId}/start`);
  assert.equal(startEnded.status, 409, startEnded.text);
  await refusedEnded(server, sessionId, 'h');
});

test('admin POST /end on a waiting session ends it (host_ended); reconnecting gets 4410', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { h } } = await sessionWith(server, ['h']);
  const end = await server.admin('POST', `/api/sessions/${sessionId}/end`);
  assert.equal(end.status, 200, end.text);
  await expectEnded([h], 'host_ended');
  await refusedEnded(server, sessionId, 'h');
});

test('durationSeconds: 1 s after the start everyone gets session-ended completed', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { h, b } } = await sessionWith(server, ['h', 'b'], { durationSeconds: 1 });
  // Not before the start: the duration counts from the start.
  h.send({ type: 'start-session' });
  await expectStarted([h, b]);
  await expectEnded([h, b], 'completed', 6000);
  const s = await server.getSession(sessionId);
  assert.equal(s.json.status, 'ended');
  assert.equal(s.json.endReason, 'completed');
  await refusedEnded(server, sessionId, 'b');
});

test('--start-timeout: a session not started in time ends with reason timeout', async (t) => {
  const server = await startServer(t, { args: ['--start-timeout', '500ms'] });
  const { sessionId, clients: { h, b } } = await sessionWith(server, ['h', 'b']);
  await expectEnded([h, b], 'timeout', 6000);
  const s = await server.getSession(sessionId);
  assert.equal(s.json.status, 'ended');
  assert.equal(s.json.endReason, 'timeout');
  await refusedEnded(server, sessionId, 'h');
});

test('--start-timeout does not end a session that was started in time', async (t) => {
  const server = await startServer(t, { args: ['--start-timeout', '500ms'] });
  const { sessionId, clients: { h, b } } = await sessionWith(server, ['h', 'b']);
  h.send({ type: 'start-session' });
  await expectStarted([h, b]);
  await quietAll([h, b], 1200); // the start timeout has passed since the creation
  const s = await server.getSession(sessionId);
  assert.equal(s.json.status, 'started');
});

test('--empty-timeout: a started session that everybody left ends with reason timeout', async (t) => {
  const server = await startServer(t, { args: ['--empty-timeout', '500ms'] });
  const { sessionId, clients: { h, b } } = await sessionWith(server, ['h', 'b']);
  h.send({ type: 'start-session' });
  await expectStarted([h, b]);
  b.send({ type: 'leave' });
  await expectClose(b, 1000);
  h.send({ type: 'leave' });
  await expectClose(h, 1000);
  const s = await waitFor(async () => {
    const r = await server.getSession(sessionId);
    return r.json?.status === 'ended' ? r : null;
  }, { timeoutMs: 6000, what: `GET /api/sessions/${sessionId} status "ended"` });
  assert.equal(s.json.endReason, 'timeout');
  await refusedEnded(server, sessionId, 'h');
});

test('--empty-timeout: a participant back in time keeps the session alive', async (t) => {
  const server = await startServer(t, { args: ['--empty-timeout', '800ms'] });
  const { sessionId, clients: { h } } = await sessionWith(server, ['h', 'b']);
  h.send({ type: 'start-session' });
  await h.next('session-started');
  h.send({ type: 'leave' });
  await expectClose(h, 1000);
  const [b] = await server.join(sessionId, 'b'); // someone is connected again
  await b.expectNoMessage(1500);
  const s = await server.getSession(sessionId);
  assert.equal(s.json.status, 'started');
  await b.ping();
});

test('--empty-timeout does not apply to a session that was not started', async (t) => {
  const server = await startServer(t, { args: ['--empty-timeout', '500ms'] });
  const { sessionId, clients: { h } } = await sessionWith(server, ['h']);
  h.send({ type: 'leave' });
  await expectClose(h, 1000);
  await new Promise((r) => setTimeout(r, 1200));
  const s = await server.getSession(sessionId);
  assert.equal(s.json.status, 'waiting');
  await server.join(sessionId, 'h');
});

test('SIGINT (the immediate stop; SIGTERM drains: drain.test.mjs): connected clients are closed with 1001', async (t) => {
  const server = await startServer(t);
  const { clients: { h, b } } = await sessionWith(server, ['h', 'b']);
  const closing = Promise.all([h.waitClosed(), b.waitClosed()]);
  server.stopping = true; // for the harness: this exit is expected
  server.proc.kill('SIGINT');
  const [ch, cb] = await closing;
  assert.equal(ch.code, 1001);
  assert.equal(cb.code, 1001);
  const exit = await server.exited;
  assert.equal(exit.code, 0, `server exit status after SIGINT: ${JSON.stringify(exit)}`);
});

test('sessionIds are independent: ending one session does not touch another', async (t) => {
  const server = await startServer(t);
  const s1 = await sessionWith(server, ['h', 'b'], { sessionId: randomId('one') });
  const s2 = await sessionWith(server, ['h', 'b'], { sessionId: randomId('two') });
  s1.clients.h.send({ type: 'end-session' });
  await expectEnded([s1.clients.h, s1.clients.b], 'host_ended');
  await quietAll([s2.clients.h, s2.clients.b]);
  await s2.clients.b.ping();
});
