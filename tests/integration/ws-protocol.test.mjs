// RFC 6455 behaviour promised by protocol.md: fragments, pings, invalid UTF-8, size limit from
// the frame header, close 1002 on protocol errors.
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  RawWs, encodeFrame, expectClose, expectError, expectParticipantLeft, quietAll, sessionWith, startServer,
} from './harness.mjs';

/** A session with a and b connected, plus c connected through a raw socket. */
async function withRaw(t, args = []) {
  const server = await startServer(t, { args });
  const { sessionId, clients: { a, b } } = await sessionWith(server, ['a', 'b', 'c'], { join: ['a', 'b'] });
  const raw = await RawWs.open(server, `?sessionId=${sessionId}&token=${server.token('c')}`);
  const joined = await raw.nextJson();
  assert.equal(joined.type, 'joined');
  for (const x of [a, b]) await x.next((m) => m.type === 'participant-joined' && m.participant.userId === 'c');
  return { server, sessionId, a, b, raw };
}

test('a text message sent in three fragments is reassembled and relayed whole', async (t) => {
  const server = await startServer(t);
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b']);
  const text = JSON.stringify({ type: 'offer', toUserId: 'b', sdp: `v=0\r\ns=fragmented é😀\r\n${'x'.repeat(3000)}` });
  const bytes = Buffer.from(text);
  // Cut inside a multi-byte UTF-8 character on purpose.
  const cut1 = bytes.indexOf(Buffer.from('é')) + 1;
  const cut2 = 2000;
  a.ws.send(bytes.subarray(0, cut1), { binary: false, fin: false });
  a.ws.send(bytes.subarray(cut1, cut2), { binary: false, fin: false });
  a.ws.send(bytes.subarray(cut2), { binary: false, fin: true });
  const m = await b.next('offer');
  assert.equal(m.sdp, JSON.parse(text).sdp);
  assert.equal(m.fromUserId, 'a');
  await quietAll([a, b]);
});

test('a ping is answered with a pong carrying the same payload', async (t) => {
  const server = await startServer(t);
  const { clients: { a } } = await sessionWith(server, ['a']);
  const payload = Buffer.from('ping-payload-123');
  const pong = new Promise((resolve) => a.ws.once('pong', resolve));
  a.ws.ping(payload);
  const got = await Promise.race([pong, new Promise((_, rej) => setTimeout(() => rej(new Error('no pong within 5 s')), 5000))]);
  assert.deepEqual(got, payload);
  await a.expectNoMessage();
});

test('a ping between the fragments of a message is answered and the message still arrives', async (t) => {
  const { a, raw } = await withRaw(t);
  const text = Buffer.from(JSON.stringify({ type: 'offer', toUserId: 'a', sdp: 'v=0\r\ns=interleaved\r\n' }));
  raw.send({ fin: false, opcode: 1, payload: text.subarray(0, 10) });
  raw.send({ opcode: 9, payload: Buffer.from('hi') });
  raw.send({ fin: true, opcode: 0, payload: text.subarray(10) });
  const pong = await raw.nextFrame();
  assert.equal(pong.opcode, 10);
  assert.equal(pong.payload.toString(), 'hi');
  const m = await a.next('offer');
  assert.equal(m.sdp, 'v=0\r\ns=interleaved\r\n');
  assert.equal(m.fromUserId, 'c');
});

test('text that is not valid UTF-8 gets invalid_json; the connection still works; nobody else hears anything', async (t) => {
  const server = await startServer(t);
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b']);
  // {"type":"offer","toUserId":"b","sdp":"<0xC3 0x28>"}: an invalid two-byte sequence.
  const bad = Buffer.concat([Buffer.from('{"type":"offer","toUserId":"b","sdp":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
  a.ws.send(bad, { binary: false });
  await expectError(a, 'invalid_json');
  const lone = Buffer.concat([Buffer.from('{"type":"heartbeat","x":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]); // a UTF-16 surrogate
  a.ws.send(lone, { binary: false });
  await expectError(a, 'invalid_json');
  await quietAll([a, b]);
  await a.ping();
});

test('--max-message-size 4096: a message whose fragments are small but whose total is bigger closes with 1009', async (t) => {
  const server = await startServer(t, { args: ['--max-message-size', '4096'] });
  const { clients: { a, b } } = await sessionWith(server, ['a', 'b']);
  const text = Buffer.from(JSON.stringify({ type: 'offer', toUserId: 'b', sdp: 'z'.repeat(6000) }));
  for (let off = 0; off < text.length; off += 1000) {
    const end = Math.min(off + 1000, text.length);
    a.ws.send(text.subarray(off, end), { binary: false, fin: end === text.length });
  }
  await expectClose(a, 1009);
  await expectParticipantLeft([b], 'a');
  await b.expectNoMessage();
});

test('a frame header announcing 100 MB is refused with 1009 at once, before any payload is sent', async (t) => {
  const { a, b, raw, server } = await withRaw(t, ['--max-message-size', '4096']);
  // Only the header and 10 bytes: the server must not wait for the rest.
  const frame = encodeFrame({ opcode: 1, payload: Buffer.from('{"type":"x'), lengthOverride: 100 * 1024 * 1024 });
  raw.send(frame);
  const { code } = await raw.closeCode();
  assert.equal(code, 1009);
  await expectParticipantLeft([a, b], 'c');
  await quietAll([a, b]);
  server.assertAlive();
});

const protocolErrors = [
  ['an unmasked client frame', () => encodeFrame({ opcode: 1, payload: '{"type":"heartbeat"}', mask: false })],
  ['RSV1 set (no extension negotiated)', () => encodeFrame({ rsv: 4, opcode: 1, payload: '{"type":"heartbeat"}' })],
  ['RSV3 set', () => encodeFrame({ rsv: 1, opcode: 1, payload: '{"type":"heartbeat"}' })],
  ['a reserved data opcode (0x3)', () => encodeFrame({ opcode: 3, payload: 'x' })],
  ['a reserved control opcode (0xB)', () => encodeFrame({ opcode: 0xb, payload: 'x' })],
  ['a fragmented ping', () => encodeFrame({ fin: false, opcode: 9, payload: 'x' })],
  ['a ping with a 126-byte payload', () => encodeFrame({ opcode: 9, payload: Buffer.alloc(126, 0x61) })],
  ['a continuation frame with no message started', () => encodeFrame({ opcode: 0, payload: '{"type":"heartbeat"}' })],
  ['a new text frame in the middle of a fragmented message', () => Buffer.concat([
    encodeFrame({ fin: false, opcode: 1, payload: '{"type":' }),
    encodeFrame({ opcode: 1, payload: '{"type":"heartbeat"}' }),
  ])],
];

for (const [name, frame] of protocolErrors) {
  test(`protocol error: ${name} closes with 1002; the others get participant-left only`, async (t) => {
    const { a, b, raw, server } = await withRaw(t);
    raw.send(frame());
    const { code, skipped } = await raw.closeCode();
    assert.equal(code, 1002, `close code (frames before it: ${JSON.stringify(skipped.map((f) => f.payload.toString()))})`);
    await expectParticipantLeft([a, b], 'c');
    await quietAll([a, b]);
    server.assertAlive();
    await a.ping();
  });
}
