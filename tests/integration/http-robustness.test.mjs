// Malformed HTTP / upgrade requests on the server's port must not bring it down.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import test from 'node:test';
import { expectParticipantLeft, quietAll, sessionWith, startServer, withTimeout } from './harness.mjs';

/**
 * Writes `chunks` on a fresh TCP connection, then reads until the server closes or `ms` pass.
 * Returns what the server answered (possibly nothing).
 */
async function rawExchange(server, chunks, { ms = 1500, endAfterWrite = false } = {}) {
  const sock = await server.rawSocket();
  const data = [];
  sock.on('data', (d) => data.push(d));
  sock.on('error', () => {});
  const closed = new Promise((r) => sock.once('close', r));
  for (const c of chunks) {
    if (!sock.writable) break;
    sock.write(c);
  }
  if (endAfterWrite && sock.writable) sock.end();
  await Promise.race([closed, new Promise((r) => setTimeout(r, ms))]);
  sock.destroy();
  return Buffer.concat(data).toString('latin1');
}

async function assertHealthy(server) {
  server.assertAlive();
  const h = await server.http('GET', '/healthz', { key: null });
  assert.equal(h.status, 200, 'GET /healthz after the bad request');
}

const upgradeHeaders = (port, extra = {}, drop = []) => {
  const h = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...extra,
  };
  for (const d of drop) delete h[d];
  return Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('');
};

test('GET /ws/signaling without an upgrade answers 426', async (t) => {
  const server = await startServer(t);
  const r = await server.http('GET', '/ws/signaling?token=x&sessionId=y', { key: null });
  assert.equal(r.status, 426, r.text);
  await assertHealthy(server);
});

const badRequests = [
  ['plain garbage', () => ['GARBAGE\r\n\r\n']],
  ['random binary bytes', () => [crypto.randomBytes(4096)]],
  ['a request cut in the middle of the request line', () => ['GET /heal'], true],
  ['a request cut in the middle of the headers', () => ['GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Cut: abc'], true],
  ['an unknown HTTP version', () => ['GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n']],
  ['a bare LF request with an absurd method', () => ['FOO\x00BAR /\x01 HTTP/1.1\nHost: x\n\n']],
  ['a 100 kB header line', () => [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`]],
  ['10000 headers', () => [`GET /healthz HTTP/1.1\r\nHost: x\r\n${'X-H: v\r\n'.repeat(10_000)}\r\n`]],
  ['a negative Content-Length', () => ['PUT /api/sessions/x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}']],
  ['a huge Content-Length with a short body', () => ['PUT /api/sessions/x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}'], true],
  ['an invalid chunk size', () => ['PUT /api/sessions/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n']],
  ['both Content-Length and chunked', () => ['PUT /api/sessions/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n']],
  ['a percent-encoding error in the path', () => ['GET /api/sessions/%zz%%% HTTP/1.1\r\nHost: x\r\n\r\n']],
];

for (const [name, build, endAfterWrite] of badRequests) {
  test(`malformed HTTP: ${name} does not crash the server`, async (t) => {
    const server = await startServer(t);
    const answer = await rawExchange(server, build(server), { endAfterWrite });
    if (answer) assert.match(answer, /^HTTP\/1\.[01] [1-5]\d\d /, `the answer, if any, is an HTTP response: ${answer.slice(0, 200)}`);
    await assertHealthy(server);
  });
}

const badUpgrades = [
  ['no Sec-WebSocket-Key', (p) => upgradeHeaders(p, {}, ['Sec-WebSocket-Key'])],
  ['no Connection: Upgrade', (p) => upgradeHeaders(p, {}, ['Connection'])],
  ['a POST upgrade', (p) => upgradeHeaders(p), 'POST'],
];

async function badUpgrade(t, headers, method = 'GET') {
  const server = await startServer(t);
  const { sessionId, clients: { a } } = await sessionWith(server, ['a', 'b'], { join: ['a'] });
  const req = `${method} /ws/signaling?sessionId=${sessionId}&token=${server.token('b')} HTTP/1.1\r\n${headers(server.port)}\r\n`;
  const answer = await rawExchange(server, [req]);
  assert.doesNotMatch(answer, /^HTTP\/1\.1 101/, `a malformed upgrade was accepted: ${answer.slice(0, 300)}`);
  await a.expectNoMessage();
  await assertHealthy(server);
  await a.ping();
  return answer;
}

for (const [name, headers, method] of badUpgrades) {
  test(`malformed upgrade: ${name} is not upgraded and does not crash the server`, async (t) => {
    await badUpgrade(t, headers, method);
  });
}

test('upgrade with a Sec-WebSocket-Key that is not 16 bytes of base64 -> 400', async (t) => {
  for (const key of ['!!not-base64!!', Buffer.alloc(15).toString('base64'), Buffer.alloc(17).toString('base64')]) {
    const answer = await badUpgrade(t, (p) => upgradeHeaders(p, { 'Sec-WebSocket-Key': key }));
    assert.match(answer, /^HTTP\/1\.1 400 /, `key ${key}: ${answer.slice(0, 200)}`);
  }
});

test('upgrade with Sec-WebSocket-Version 99 -> 426 with Sec-WebSocket-Version: 13', async (t) => {
  const answer = await badUpgrade(t, (p) => upgradeHeaders(p, { 'Sec-WebSocket-Version': '99' }));
  assert.match(answer, /^HTTP\/1\.1 426 /, answer.slice(0, 200));
  assert.match(answer, /\r\nSec-WebSocket-Version: *13\r\n/i, answer.slice(0, 400));
});

test('an upgraded connection that sends an invalid WebSocket frame is closed; the others get participant-left', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { a } } = await sessionWith(server, ['a', 'b'], { join: ['a'] });
  const sock = await server.rawSocket();
  sock.on('error', () => {});
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
  });
  const closed = new Promise((r) => sock.once('close', r));
  sock.write(`GET /ws/signaling?sessionId=${sessionId}&token=${server.token('b')} HTTP/1.1\r\n${upgradeHeaders(server.port)}\r\n`);
  await withTimeout((async () => {
    while (!buf.includes('"joined"')) await new Promise((r) => setTimeout(r, 20));
  })(), 5000, 'raw client: 101 and joined');
  assert.match(buf.toString('latin1'), /^HTTP\/1\.1 101/);
  await a.next('participant-joined');
  // An unmasked text frame from a client (RFC 6455 5.1: the server must close), then a
  // frame with a reserved opcode.
  sock.write(Buffer.from([0x81, 0x02, 0x7b, 0x7d]));
  sock.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4]));
  await withTimeout(closed, 5000, 'server closes the connection after an invalid frame');
  // The server's close frame (0x88) carries 1002 (protocol.md section 5).
  const i = buf.indexOf(0x88, buf.indexOf('"joined"'));
  assert.ok(i >= 0, 'no close frame from the server');
  assert.equal(buf.readUInt16BE(i + 2), 1002, 'close code');
  await expectParticipantLeft([a], 'b');
  await quietAll([a]);
  await assertHealthy(server);
});

test('many connections opened and dropped at once do not crash the server', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { a } } = await sessionWith(server, ['a', 'b'], { join: ['a'] });
  const socks = await Promise.all(Array.from({ length: 50 }, () => server.rawSocket()));
  socks.forEach((s, i) => {
    s.on('error', () => {});
    // Half of them send a partial upgrade before being dropped.
    if (i % 2) s.write(`GET /ws/signaling?sessionId=${sessionId}&token=${server.token('b')} HTTP/1.1\r\nUpgrade: websocket\r\n`);
    s.destroy();
  });
  await assertHealthy(server);
  await a.expectNoMessage();
  await a.ping();
});
