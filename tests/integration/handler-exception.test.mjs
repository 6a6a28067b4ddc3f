// No exception escapes a handler: a request that makes a library throw inside a handler (Beast
// throws std::length_error for a chunked trailer field of 64 KiB) costs only its own connection.
// The process lives on, a participant already joined keeps relaying, the exception is logged as
// one JSON line, and the descriptors return to their baseline.
import assert from 'node:assert/strict';
import test from 'node:test';
import { sessionWith, startServer, waitFor, withTimeout } from './harness.mjs';
import { openFds } from './attack-support.mjs';

/** Sends `request` on a raw socket; resolves with whatever came back once the server closed it. */
async function sendAndWaitForClose(server, request) {
  const sock = await server.rawSocket();
  let answer = '';
  sock.setEncoding('latin1');
  sock.on('data', (d) => (answer += d));
  const closed = new Promise((resolve) => sock.on('close', resolve));
  sock.on('error', () => {});
  sock.write(request);
  await withTimeout(closed, 5000, 'the server closing the attacking connection');
  return answer;
}

test('a handler that throws costs only its connection; the others keep relaying', async (t) => {
  const server = await startServer(t);
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b']);
  const baseline = openFds(server.proc.pid);

  const field = 'v'.repeat(65_534);
  const answer = await sendAndWaitForClose(server,
    `GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ${field}\r\n\r\n`);
  server.assertAlive();
  if (!/^HTTP\/1\.1 4\d\d/.test(answer)) {
    // No HTTP answer: the parser threw and the loop caught it.
    await waitFor(() => server.logs.some((r) => r.level === 'error' && /exception/.test(r.msg) && typeof r.error === 'string'),
      { what: 'the error line of the exception' });
  }

  a.send({ type: 'offer', toUserId: 'b', sdp: 'v=0' });
  const got = await b.next((m) => m.type === 'offer');
  assert.equal(got.fromUserId, 'a');

  // The same again on every thread of the pool: the loop is still there after each one.
  for (let i = 0; i < 8; i++) {
    await sendAndWaitForClose(server, `GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ${field}\r\n\r\n`);
  }
  server.assertAlive();
  b.send({ type: 'answer', toUserId: 'a', sdp: 'v=0' });
  assert.equal((await a.next((m) => m.type === 'answer')).fromUserId, 'b');
  const health = await server.http('GET', '/healthz', { key: null });
  assert.equal(health.status, 200);
  await waitFor(() => openFds(server.proc.pid) <= baseline, { what: `descriptors back to ${baseline}` });
});
