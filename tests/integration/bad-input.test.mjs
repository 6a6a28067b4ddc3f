// Bad input on an open socket (protocol.md sections 3-5): the sender gets an error, the
// connection keeps working unless the doc says it closes, and nobody else hears anything.
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  expectClose, expectError, expectParticipantLeft, quietAll, sessionWith, sleep, startServer,
} from './harness.mjs';

const CAND = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host', sdpMid: '0', sdpMLineIndex: 0 };

const cases = [
  ['malformed JSON', '{"type":"offer","toUserId":', 'invalid_json'],
  ['not JSON at all', 'hello', 'invalid_json'],
  ['an empty text frame', '', 'invalid_json'],
  ['a JSON array [1]', '[1]', 'invalid_message'],
  ['a JSON string "x"', '"x"', 'invalid_message'],
  ['a JSON number 3', '3', 'invalid_message'],
  ['JSON null', 'null', 'invalid_message'],
  ['an object without type', '{"toUserId":"b","sdp":"v=0"}', 'invalid_message'],
  ['a numeric type', '{"type":5}', 'invalid_message'],
  ['a null type', '{"type":null}', 'invalid_message'],
  ['an object type', '{"type":{"t":"offer"}}', 'invalid_message'],
  ['an unknown type', '{"type":"dance"}', 'unknown_type'],
  ['a server-to-client type sent by a client', '{"type":"joined"}', 'unknown_type'],
  ['a type differing only by case', '{"type":"Offer","toUserId":"b","sdp":"v=0"}', 'unknown_type'],
  ['offer without sdp', '{"type":"offer","toUserId":"b"}', 'invalid_message'],
  ['offer with a numeric sdp', '{"type":"offer","toUserId":"b","sdp":42}', 'invalid_message'],
  ['offer with an object sdp', '{"type":"offer","toUserId":"b","sdp":{"sdp":"v=0"}}', 'invalid_message'],
  ['answer without sdp', '{"type":"answer","toUserId":"b"}', 'invalid_message'],
  ['offer with an empty sdp', '{"type":"offer","toUserId":"b","sdp":""}', 'invalid_message'],
  ['offer without toUserId', '{"type":"offer","sdp":"v=0"}', 'invalid_message'],
  ['offer with an empty toUserId', '{"type":"offer","toUserId":"","sdp":"v=0"}', 'invalid_message'],
  ['offer with a numeric toUserId', '{"type":"offer","toUserId":7,"sdp":"v=0"}', 'invalid_message'],
  ['ice-candidate with a string candidate', '{"type":"ice-candidate","toUserId":"b","candidate":"candidate:1 1 udp 1 127.0.0.1 1 typ host"}', 'invalid_message'],
  ['ice-candidate with an array candidate', '{"type":"ice-candidate","toUserId":"b","candidate":[1]}', 'invalid_message'],
  ['ice-candidate with a null candidate', '{"type":"ice-candidate","toUserId":"b","candidate":null}', 'invalid_message'],
  ['ice-candidate without candidate', '{"type":"ice-candidate","toUserId":"b"}', 'invalid_message'],
  ['ice-candidate without toUserId', JSON.stringify({ type: 'ice-candidate', candidate: CAND }), 'invalid_message'],
];

for (const [name, frame, code] of cases) {
  test(`bad input: ${name} -> ${code}, connection still works, others hear nothing`, async (t) => {
    const server = await startServer(t);
    const { clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);
    a.send(frame);
    await expectError(a, code);
    await quietAll([a, b, c]);
    await a.ping();
    assert.ok(a.isOpen);
  });
}

test('bad input: a binary frame -> binary_not_supported, connection still works, others hear nothing', async (t) => {
  const server = await startServer(t);
  const { clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);
  a.sendBinary(Buffer.from(JSON.stringify({ type: 'offer', toUserId: 'b', sdp: 'v=0' })));
  await expectError(a, 'binary_not_supported');
  await quietAll([a, b, c]);
  await a.ping();
});

test('bad input: many different bad frames in a row, each gets its error in order and the connection survives', async (t) => {
  const server = await startServer(t);
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b']);
  for (const [, frame] of cases) a.send(frame);
  const errors = await a.take(cases.length, () => true);
  assert.deepEqual(errors.map((e) => `${e.type}:${e.code}`), cases.map(([, , code]) => `error:${code}`));
  await quietAll([a, b]);
  await a.ping();
});

test('--max-message-size 4096: a frame just under the limit is accepted, a bigger one closes with 1009', async (t) => {
  const server = await startServer(t, { args: ['--max-message-size', '4096'] });
  const { clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);
  // Under the limit: relayed.
  const small = { type: 'offer', toUserId: 'b', sdp: '' };
  small.sdp = 'x'.repeat(4000 - JSON.stringify(small).length);
  assert.ok(JSON.stringify(small).length <= 4096);
  a.send(small);
  assert.equal((await b.next('offer')).sdp, small.sdp);

  // Over the limit: close 1009.
  const big = { type: 'offer', toUserId: 'b', sdp: 'y'.repeat(5000) };
  a.send(big);
  await expectClose(a, 1009);
  // The big frame reached nobody; a protocol error of the client is a departure (no resume), once.
  await expectParticipantLeft([b, c], 'a');
  await quietAll([b, c]);
  assert.ok(!b.received.some((m) => m.type === 'offer' && m.sdp === big.sdp), 'the oversized frame was relayed');
});

test('rate limit (--rate-limit 20 --rate-burst 40): a burst of 100 gets rate_limited but the connection survives', async (t) => {
  // 100 at once: about 40 pass (the burst), about 60 are dropped; that is fewer than
  // 4 x 40 = 160 within one second, so no 4429 (protocol.md section 5).
  const server = await startServer(t, { args: ['--rate-limit', '20', '--rate-burst', '40'] });
  const { clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);
  const N = 100;
  for (let i = 1; i <= N; i++) a.heartbeat(i);
  // Collect what arrives until it has been quiet for a moment.
  const got = [];
  for (;;) {
    try {
      got.push(await a.next(() => true, 700));
    } catch {
      break;
    }
  }
  const acks = got.filter((m) => m.type === 'heartbeat-ack');
  const limited = got.filter((m) => m.type === 'error' && m.code === 'rate_limited');
  const other = got.filter((m) => m.type !== 'heartbeat-ack' && !(m.type === 'error' && m.code === 'rate_limited'));
  assert.deepEqual(other, [], 'only heartbeat-acks and rate_limited errors');
  assert.ok(limited.length >= 1, `expected at least one rate_limited error, got ${acks.length} acks and no error`);
  assert.ok(limited.length <= 2, `rate_limited is sent at most once per second, got ${limited.length}`);
  assert.ok(acks.length >= 40 && acks.length < N, `about the burst (40) of ${N} heartbeats should pass, ${acks.length} did`);
  assert.ok(a.isOpen, `the connection was closed: ${JSON.stringify(a.closeInfo)}`);
  // Once tokens are back, the connection works.
  await sleep(200);
  await a.ping();
  await quietAll([b, c]);
});

test('rate limit (--rate-limit 20 --rate-burst 40): a flood of 2000 closes the connection with 4429', async (t) => {
  const server = await startServer(t, { args: ['--rate-limit', '20', '--rate-burst', '40'] });
  const { clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);
  for (let i = 0; i < 2000; i++) a.heartbeat(i);
  await expectClose(a, 4429, 10_000);
  assert.ok(a.received.some((m) => m.type === 'error' && m.code === 'rate_limited'), 'a rate_limited error came before the close');
  await expectParticipantLeft([b, c], 'a');
  await quietAll([b, c]);
});

test('rate limit 0 disables it: 500 heartbeats at once all get their ack', async (t) => {
  const server = await startServer(t, { args: ['--rate-limit', '0'] });
  const { clients: { a } } = await sessionWith(server, ['a']);
  const N = 500;
  for (let i = 0; i < N; i++) a.heartbeat(i);
  const acks = await a.take(N, () => true, 10_000);
  assert.ok(acks.every((m, i) => m.type === 'heartbeat-ack' && m.ts === i));
  await a.expectNoMessage();
});

test('slow consumer: a client that stops reading is dropped with 4458 (--write-queue-limit); the others get participant-reconnecting at once, then participant-left', async (t) => {
  // A 60 s heartbeat timeout: only the write-queue overflow can explain a prompt departure.
  // A 1 MiB queue limit: it overflows only once the socket buffers towards b are full, i.e. when
  // b really stopped reading (not because a burst outran one write).
  const server = await startServer(t, {
    args: ['--write-queue-limit', '1048576', '--rate-limit', '0', '--heartbeat-interval', '20s', '--heartbeat-timeout', '60s',
      '--resume-window', '500ms'],
  });
  const { clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);
  b.ws._socket.pause(); // b stops reading
  const sdp = 'v'.repeat(60_000);
  // 1000 x 60 kB = 60 MB, far more than the loopback socket buffers and the 1 MiB queue hold.
  for (let i = 0; i < 1000; i++) {
    a.send({ type: 'offer', toUserId: 'b', sdp, i });
    if (a.ws.bufferedAmount > 4 * 1024 * 1024) {
      await new Promise((r) => setTimeout(r, 5));
      if (a.ws.bufferedAmount > 4 * 1024 * 1024) await new Promise((r) => a.ws._socket.once('drain', r));
    }
  }
  // The server dropped b when its queue overflowed: a lost connection (b may resume), even though
  // b's socket cannot take the close frame; b does not come back within the window: it has left.
  assert.deepEqual({ ...(await c.next(undefined, 10_000)) }, { type: 'participant-reconnecting', userId: 'b' });
  await expectParticipantLeft([c], 'b', 10_000);
  b.ws._socket.resume();
  await expectClose(b, 4458, 10_000);
  assert.ok(b.received.filter((m) => m.type === 'offer').length < 1000, 'b got every message: the queue limit did not apply');
  await c.expectNoMessage();
  await a.ping();
  // Once b is lost, a's offers still on their way to b are kept up to the bound, then refused
  // (undelivered), and refused as to anyone not connected once b has left; any other error would
  // be a fault.
  const errors = a.received.filter((m) => m.type === 'error');
  const unexpected = errors.filter((m) => !['target_not_connected', 'undelivered'].includes(m.code) || m.toUserId !== 'b');
  assert.deepEqual(unexpected, [], 'the sender got an unexpected error');
});
