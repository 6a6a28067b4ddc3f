// Admin HTTP API (protocol.md section 6) and the operations endpoints.
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  ISO_MS_UTC, expectClose, expectError, expectParticipantLeft, expectRefused, quietAll, randomId, sessionWith,
  startServer, waitFor,
} from './harness.mjs';

const body = (host, users, extra = {}) => ({
  hostUserId: host,
  participants: users.map((u) => ({ userId: u, displayName: `Name ${u}` })),
  ...extra,
});

test('admin: 401 unauthorized without a key, with a wrong key, and with a non-Bearer scheme', async (t) => {
  const server = await startServer(t);
  const id = randomId();
  const cases = [
    ['no key', { key: null }],
    ['wrong key', { key: `${server.adminKey}x` }],
    ['empty key', { key: '' }],
    ['Basic scheme', { key: null, headers: { authorization: `Basic ${server.adminKey}` } }],
  ];
  for (const [name, opts] of cases) {
    for (const [method, path, b] of [
      ['GET', `/api/sessions/${id}`],
      ['PUT', `/api/sessions/${id}`, body('u1', ['u1'])],
      ['POST', `/api/sessions/${id}/start`],
      ['DELETE', `/api/sessions/${id}`],
    ]) {
      const r = await server.http(method, path, { ...opts, body: b });
      assert.equal(r.status, 401, `${name}: ${method} ${path} -> ${r.status} ${r.text}`);
      assert.equal(r.json?.error, 'unauthorized', `${name}: ${method} ${path} body ${r.text}`);
      assert.equal(typeof r.json?.message, 'string');
    }
  }
  // None of the unauthorised PUTs created the session.
  const g = await server.getSession(id);
  assert.equal(g.status, 404, g.text);
});

test('admin: without --admin-key the API answers 401 to everything, /healthz still 200', async (t) => {
  const server = await startServer(t, { adminKey: null });
  for (const key of [null, 'anything', '']) {
    const r = await server.http('PUT', `/api/sessions/${randomId()}`, { key, body: body('u1', ['u1']) });
    assert.equal(r.status, 401, `key ${JSON.stringify(key)}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'unauthorized');
  }
  assert.equal((await server.http('GET', '/healthz', { key: null })).status, 200);
});

test('admin: PUT creates (201) then replaces (200); the body is the session as GET shows it', async (t) => {
  const server = await startServer(t);
  const id = randomId();
  const created = await server.admin('PUT', `/api/sessions/${id}`, body('u1', ['u1', 'u2'], { durationSeconds: 3600 }));
  assert.equal(created.status, 201, created.text);
  assert.equal(created.json.sessionId, id);
  assert.equal(created.json.hostUserId, 'u1');
  assert.equal(created.json.status, 'waiting');
  assert.equal(created.json.startedAt, null);
  assert.equal(created.json.endedAt, null);
  assert.equal(created.json.endReason, null);
  assert.equal(created.json.durationSeconds, 3600);
  assert.match(created.json.createdAt, ISO_MS_UTC);
  assert.deepEqual(created.json.participants, [
    { userId: 'u1', displayName: 'Name u1', connected: false },
    { userId: 'u2', displayName: 'Name u2', connected: false },
  ]);
  assert.deepEqual(created.json.connected, []);

  const got = await server.getSession(id);
  assert.equal(got.status, 200);
  assert.deepEqual(got.json, created.json);

  const replaced = await server.admin('PUT', `/api/sessions/${id}`, body('u3', ['u1', 'u3']));
  assert.equal(replaced.status, 200, replaced.text);
  assert.equal(replaced.json.hostUserId, 'u3');
  assert.deepEqual(replaced.json.participants.map((p) => p.userId), ['u1', 'u3']);
  assert.equal(replaced.json.createdAt, created.json.createdAt, 'replacing keeps the session');
  assert.deepEqual((await server.getSession(id)).json, replaced.json);
});

test('admin: replacing keeps the status of a started session', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { u1, u2 } } = await sessionWith(server, ['u1', 'u2']);
  const st = await server.admin('POST', `/api/sessions/${sessionId}/start`);
  assert.equal(st.status, 200, st.text);
  await u1.next('session-started');
  await u2.next('session-started');
  const r = await server.admin('PUT', `/api/sessions/${sessionId}`, body('u1', ['u1', 'u2', 'u3']));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'started');
  assert.equal(r.json.startedAt, st.json.startedAt);
  await quietAll([u1, u2]); // nobody removed, nothing to tell
});

test('admin: GET shows the connected users', async (t) => {
  const server = await startServer(t);
  const { sessionId } = await sessionWith(server, ['u1', 'u2', 'u3'], { join: ['u1', 'u3'] });
  const r = await server.getSession(sessionId);
  assert.equal(r.status, 200);
  assert.deepEqual([...r.json.connected].sort(), ['u1', 'u3']);
  const byId = Object.fromEntries(r.json.participants.map((p) => [p.userId, p.connected]));
  assert.deepEqual(byId, { u1: true, u2: false, u3: true });
});

test('admin: PUT with invalid JSON -> 400 invalid_json', async (t) => {
  const server = await startServer(t);
  const id = randomId();
  for (const raw of ['{"hostUserId":', 'not json', '']) {
    const r = await server.admin('PUT', `/api/sessions/${id}`, raw);
    assert.equal(r.status, 400, `${JSON.stringify(raw)}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'invalid_json', `${JSON.stringify(raw)}: ${r.text}`);
  }
  assert.equal((await server.getSession(id)).status, 404, 'nothing was created');
});

test('admin: PUT with a bad body -> 400 invalid_body', async (t) => {
  const server = await startServer(t);
  const id = randomId();
  const bad = [
    ['hostUserId not among the participants', body('u9', ['u1', 'u2'])],
    ['no hostUserId', { participants: [{ userId: 'u1' }] }],
    ['participants not an array', { hostUserId: 'u1', participants: { userId: 'u1' } }],
    ['participant without userId', { hostUserId: 'u1', participants: [{ userId: 'u1' }, { displayName: 'x' }] }],
    ['empty userId', { hostUserId: 'u1', participants: [{ userId: 'u1' }, { userId: '' }] }],
    ['string durationSeconds', body('u1', ['u1'], { durationSeconds: '60' })],
    ['a JSON array', [body('u1', ['u1'])]],
  ];
  for (const [name, b] of bad) {
    const r = await server.admin('PUT', `/api/sessions/${id}`, b);
    assert.equal(r.status, 400, `${name}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'invalid_body', `${name}: ${r.text}`);
    assert.equal(typeof r.json?.message, 'string');
  }
  assert.equal((await server.getSession(id)).status, 404, 'nothing was created');
});

test('admin: unknown session -> 404 not_found (GET, start, end, participants); unknown route -> 404', async (t) => {
  const server = await startServer(t);
  const id = randomId('nope');
  for (const [method, path, b] of [
    ['GET', `/api/sessions/${id}`],
    ['POST', `/api/sessions/${id}/start`],
    ['POST', `/api/sessions/${id}/end`],
    ['PUT', `/api/sessions/${id}/participants/u1`, { displayName: 'x' }],
    ['DELETE', `/api/sessions/${id}/participants/u1`],
    ['DELETE', `/api/sessions/${id}`],
    ['GET', '/api/nothing-here'],
    ['GET', '/no/such/route'],
  ]) {
    const r = await server.admin(method, path, b);
    assert.equal(r.status, 404, `${method} ${path}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'not_found', `${method} ${path}: ${r.text}`);
  }
});

test('admin: wrong method -> 405 method_not_allowed', async (t) => {
  const server = await startServer(t);
  const { sessionId } = await sessionWith(server, ['u1'], { join: [] });
  for (const [method, path] of [
    ['PATCH', `/api/sessions/${sessionId}`],
    ['POST', `/api/sessions/${sessionId}`],
    ['GET', `/api/sessions/${sessionId}/start`],
    ['PUT', `/api/sessions/${sessionId}/end`],
    ['POST', `/api/sessions/${sessionId}/participants/u1`],
  ]) {
    const r = await server.admin(method, path, method === 'GET' ? undefined : {});
    assert.equal(r.status, 405, `${method} ${path}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'method_not_allowed', `${method} ${path}: ${r.text}`);
  }
  // Nothing changed.
  assert.equal((await server.getSession(sessionId)).json.status, 'waiting');
});

test('admin: a PUT that drops a connected participant removes it (removed/4450); the others get participant-left', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { u1, u2, u3 } } = await sessionWith(server, ['u1', 'u2', 'u3']);
  const r = await server.admin('PUT', `/api/sessions/${sessionId}`, body('u1', ['u1', 'u3']));
  assert.equal(r.status, 200, r.text);
  await expectError(u2, 'removed');
  await expectClose(u2, 4450);
  await expectParticipantLeft([u1, u3], 'u2');
  await quietAll([u1, u3]);
  assert.deepEqual([...(await server.getSession(sessionId)).json.connected].sort(), ['u1', 'u3']);
  // u2 can no longer join.
  const again = await server.connect({ user: 'u2', sessionId });
  await expectRefused(again, 'not_participant', 4403);
  await quietAll([u1, u3]);
});

test('admin: DELETE /participants/{userId} removes a connected participant (removed/4450); PUT adds one', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { u1, u2 } } = await sessionWith(server, ['u1', 'u2']);

  // Not yet a participant.
  const early = await server.connect({ user: 'u4', sessionId });
  await expectRefused(early, 'not_participant', 4403);

  const add = await server.admin('PUT', `/api/sessions/${sessionId}/participants/u4`, { displayName: 'Fourth' });
  assert.equal(add.status, 200, add.text);
  assert.ok(add.json.participants.some((p) => p.userId === 'u4' && p.displayName === 'Fourth'), add.text);
  const [u4, j] = await server.join(sessionId, 'u4');
  assert.deepEqual(j.self, { userId: 'u4', displayName: 'Fourth' });
  for (const c of [u1, u2]) {
    assert.deepEqual({ ...(await c.next()) }, { type: 'participant-joined', participant: { userId: 'u4', displayName: 'Fourth' } });
  }

  const del = await server.admin('DELETE', `/api/sessions/${sessionId}/participants/u2`);
  assert.equal(del.status, 200, del.text);
  assert.deepEqual(del.json.participants.map((p) => p.userId).sort(), ['u1', 'u4']);
  await expectError(u2, 'removed');
  await expectClose(u2, 4450);
  await expectParticipantLeft([u1, u4], 'u2');
  await quietAll([u1, u4]);

  // Removing a participant who is not connected tells nobody anything.
  const add5 = await server.admin('PUT', `/api/sessions/${sessionId}/participants/u5`);
  assert.equal(add5.status, 200, add5.text);
  const del5 = await server.admin('DELETE', `/api/sessions/${sessionId}/participants/u5`);
  assert.equal(del5.status, 200, del5.text);
  await quietAll([u1, u4]);
});

test('admin: DELETE of the session ends it (session-ended host_ended, close 1000), 204, then GET 404', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { u1, u2 } } = await sessionWith(server, ['u1', 'u2']);
  const r = await server.admin('DELETE', `/api/sessions/${sessionId}`);
  assert.equal(r.status, 204, r.text);
  for (const c of [u1, u2]) {
    assert.deepEqual({ ...(await c.next()) }, { type: 'session-ended', reason: 'host_ended' });
  }
  for (const c of [u1, u2]) {
    await expectClose(c, 1000);
    assert.deepEqual(c.queue, []);
  }
  assert.equal((await server.getSession(sessionId)).status, 404);
  // Forgotten: connecting says not found.
  const c = await server.connect({ user: 'u1', sessionId });
  await expectRefused(c, 'session_not_found', 4404);
});

test('admin: a session id may be created again after DELETE', async (t) => {
  const server = await startServer(t);
  const id = randomId();
  assert.equal((await server.admin('PUT', `/api/sessions/${id}`, body('u1', ['u1']))).status, 201);
  assert.equal((await server.admin('DELETE', `/api/sessions/${id}`)).status, 204);
  const again = await server.admin('PUT', `/api/sessions/${id}`, body('u1', ['u1']));
  assert.equal(again.status, 201, again.text);
  assert.equal(again.json.status, 'waiting');
  const [c] = await server.join(id, 'u1');
  await c.ping();
});

test('ops: /healthz 200, /readyz 200, /metrics 200 Prometheus text (no key needed)', async (t) => {
  const server = await startServer(t);
  await sessionWith(server, ['u1', 'u2']);
  const h = await server.http('GET', '/healthz', { key: null });
  assert.equal(h.status, 200);
  const r = await server.http('GET', '/readyz', { key: null });
  assert.equal(r.status, 200);
  const m = await server.http('GET', '/metrics', { key: null });
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type') ?? '', /^text\/plain/);
  assert.ok(m.text.length > 0, 'metrics body is empty');
  // Prometheus text format: every non-comment, non-empty line is "name{labels} value".
  for (const line of m.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eEInfNa]+( \d+)?$/, `not a Prometheus sample line: ${line}`);
  }
});

test('admin: a body over the limit (Content-Length 4 MiB) -> 413 body_too_large, and the server keeps serving', async (t) => {
  const server = await startServer(t);
  const id = randomId();
  // Raw socket: the server may answer before reading the whole body, which fetch reports as EPIPE.
  const sock = await server.rawSocket();
  sock.on('error', () => {});
  let answer = '';
  sock.on('data', (d) => {
    answer += d.toString('latin1');
  });
  const size = 4 * 1024 * 1024;
  sock.write(`PUT /api/sessions/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${server.adminKey}\r\n`
    + `Content-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`);
  sock.write(`{"hostUserId":"u1","participants":[{"userId":"u1"}],"padding":"${'x'.repeat(60_000)}`);
  await waitFor(() => /\r\n\r\n/.test(answer) && (/content-length: *0\r\n/i.test(answer) || answer.includes('}')),
    { what: 'the answer to the oversized PUT' });
  sock.destroy();
  assert.match(answer, /^HTTP\/1\.1 413 /, answer.slice(0, 300));
  const bodyText = answer.slice(answer.indexOf('\r\n\r\n') + 4);
  assert.equal(JSON.parse(bodyText).error, 'body_too_large', bodyText);
  assert.equal((await server.getSession(id)).status, 404, 'nothing was created');
  assert.equal((await server.http('GET', '/healthz', { key: null })).status, 200);
});
