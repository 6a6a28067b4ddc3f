// Issue 9, point 3 (single node): text that is not UTF-8 is refused where it comes in, and the
// process lives on. `PUT /api/sessions/%FF` and `.../participants/%C0%AF` used to abort the
// server (nlohmann's dump() threw type_error.316 on the id in the answer).
import assert from 'node:assert/strict';
import test from 'node:test';
import { expectRefused, sessionWith, startServer } from './harness.mjs';

const spec = { hostUserId: 'a', participants: [{ userId: 'a' }, { userId: 'b' }] };

/** One raw HTTP/1.1 request (any bytes); resolves with the status line's code and the body. */
async function rawRequest(server, head, body = Buffer.alloc(0)) {
  const sock = await server.rawSocket();
  const chunks = [];
  const done = new Promise((resolve) => {
    sock.on('data', (d) => chunks.push(d));
    sock.on('close', resolve);
    sock.on('error', resolve);
  });
  sock.end(Buffer.concat([head, Buffer.from(`Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]));
  const timer = setTimeout(() => sock.destroy(), 5000);
  await done;
  clearTimeout(timer);
  const text = Buffer.concat(chunks).toString('latin1');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  return { status, body: text.slice(text.indexOf('\r\n\r\n') + 4) };
}

/** A participant already joined keeps relaying (the process is alive and serving). */
async function stillRelays(clients) {
  clients.a.send({ type: 'offer', toUserId: 'b', sdp: 'v=0\r\n' });
  const m = await clients.b.next((x) => x.type === 'offer');
  assert.equal(m.fromUserId, 'a');
}

test('utf8: admin paths, queries and bodies that are not UTF-8 get 400 invalid_utf8; the server lives on', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients } = await sessionWith(server, ['a', 'b']);
  const targets = [
    ['PUT', '/api/sessions/%FF', spec],
    ['PUT', `/api/sessions/${sessionId}/participants/%C0%AF`, { displayName: 'x' }],
    ['GET', '/api/sessions/%ED%A0%80'],
    ['POST', '/api/sessions/%F4%90%80%80/start'],
    ['DELETE', `/api/sessions/${sessionId}/participants/%E2%82`],
    ['GET', `/api/sessions/${sessionId}?x=%FF`],
  ];
  for (const [method, path, body] of targets) {
    const r = await server.admin(method, path, body);
    assert.equal(r.status, 400, `${method} ${path}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'invalid_utf8', `${method} ${path}: ${r.text}`);
    server.assertAlive();
  }
  // Raw bytes: in the path (not percent-encoded) and in a JSON body.
  const key = Buffer.from(`Authorization: Bearer ${server.adminKey}\r\nHost: x\r\n`);
  const raw = await rawRequest(server, Buffer.concat([Buffer.from('PUT /api/sessions/'), Buffer.from([0xff, 0xfe]),
    Buffer.from(' HTTP/1.1\r\n'), key]), Buffer.from(JSON.stringify(spec)));
  assert.equal(raw.status, 400, raw.body);
  const badBody = Buffer.concat([Buffer.from('{"displayName":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
  const r = await rawRequest(server, Buffer.concat([Buffer.from(`PUT /api/sessions/${sessionId}/participants/c HTTP/1.1\r\n`), key]), badBody);
  assert.equal(r.status, 400, r.body);
  assert.equal(JSON.parse(r.body).error, 'invalid_utf8');
  server.assertAlive();
  // Nothing was created, and the session is as it was.
  const g = await server.getSession(sessionId);
  assert.deepEqual(g.json.participants.map((p) => p.userId), ['a', 'b']);
  await stillRelays(clients);
});

test('utf8: a WebSocket upgrade whose sessionId is not UTF-8 is refused with invalid_utf8 (4400)', async (t) => {
  const server = await startServer(t);
  const { clients } = await sessionWith(server, ['a', 'b']);
  const c = await server.connect({ query: `?token=${server.token('a')}&sessionId=%FF%FE` });
  await expectRefused(c, 'invalid_utf8', 4400);
  server.assertAlive();
  await stillRelays(clients);
});

test('utf8: durationSeconds beyond 7 days (9.3e9 used to overflow) is refused with 400 invalid_body', async (t) => {
  const server = await startServer(t);
  for (const d of [604801, 9.3e9, 1e19]) {
    const r = await server.admin('PUT', '/api/sessions/long', { ...spec, durationSeconds: d });
    assert.equal(r.status, 400, `${d}: ${r.text}`);
    assert.equal(r.json?.error, 'invalid_body');
  }
  const ok = await server.admin('PUT', '/api/sessions/long', { ...spec, durationSeconds: 604800 });
  assert.equal(ok.status, 201, ok.text);
  assert.equal(ok.json.durationSeconds, 604800);
  const started = await server.admin('POST', '/api/sessions/long/start');
  assert.equal(started.json.status, 'started');
  assert.equal((await server.getSession('long')).json.status, 'started', 'a week-long session does not end at once');
});
