// RFC 6455 close handshake (protocol.md section 5): a valid close code is echoed; a code that
// §7.4 forbids on the wire, a one-byte close payload or a reason that is not UTF-8 is answered
// with 1002 (protocol error), never echoed nor answered with 1000.
import assert from 'node:assert/strict';
import test from 'node:test';
import { RawWs, expectParticipantLeft, quietAll, sessionWith, startServer } from './harness.mjs';

const codePayload = (code, reason = Buffer.alloc(0)) => {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(code);
  return Buffer.concat([p, reason]);
};

/** A raw connection joined to a session of its own. */
async function rawJoined(server, user = 'c') {
  const { sessionId } = await sessionWith(server, [user], { join: [] });
  const raw = await RawWs.open(server, `?sessionId=${sessionId}&token=${server.token(user)}`);
  const joined = await raw.nextJson();
  assert.equal(joined.type, 'joined');
  return raw;
}

/** Sends a close frame with `payload`; returns the code of the server's close frame. */
async function closeWith(server, payload) {
  const raw = await rawJoined(server);
  raw.send({ opcode: 8, payload });
  const { code, skipped } = await raw.closeCode();
  assert.deepEqual(skipped, [], 'nothing but the close frame after joined');
  raw.destroy();
  return code;
}

const forbidden = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

test('close codes that RFC 6455 §7.4 forbids on the wire are answered with 1002', async (t) => {
  const server = await startServer(t);
  for (const code of forbidden) {
    assert.equal(await closeWith(server, codePayload(code)), 1002, `close code ${code}`);
  }
  server.assertAlive();
});

test('a one-byte close payload is answered with 1002', async (t) => {
  const server = await startServer(t);
  for (const byte of [0x00, 0x03, 0xe8]) {
    assert.equal(await closeWith(server, Buffer.from([byte])), 1002, `payload 0x${byte.toString(16)}`);
  }
});

test('a close reason that is not valid UTF-8 is answered with 1002', async (t) => {
  const server = await startServer(t);
  const bad = [
    [0xff],
    [0x80],
    [0xc0, 0xaf], // overlong '/'
    [0xed, 0xa0, 0x80], // a surrogate
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0x6f, 0x6b, 0xe2, 0x82], // truncated at the end
  ];
  for (const bytes of bad) {
    assert.equal(await closeWith(server, codePayload(1000, Buffer.from(bytes))), 1002, `reason ${Buffer.from(bytes).toString('hex')}`);
  }
});

test('valid close codes are echoed; an empty close is answered with 1000', async (t) => {
  const server = await startServer(t);
  for (const code of [1000, 1001, 1003, 1011, 1013, 3000, 3999, 4000, 4999]) {
    assert.equal(await closeWith(server, codePayload(code, Buffer.from('bye \u00e9\u20ac'))), code, `close code ${code}`);
  }
  assert.equal(await closeWith(server, Buffer.alloc(0)), 1000, 'empty close payload');
});

test('after a bad close frame the others get participant-left only and keep relaying', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { a, b } } = await sessionWith(server, ['a', 'b', 'c'], { join: ['a', 'b'] });
  const raw = await RawWs.open(server, `?sessionId=${sessionId}&token=${server.token('c')}`);
  assert.equal((await raw.nextJson()).type, 'joined');
  for (const x of [a, b]) await x.next((m) => m.type === 'participant-joined' && m.participant.userId === 'c');
  raw.send({ opcode: 8, payload: codePayload(1005) });
  const { code } = await raw.closeCode();
  assert.equal(code, 1002);
  await expectParticipantLeft([a, b], 'c');
  await quietAll([a, b]);
  a.send({ type: 'offer', toUserId: 'b', sdp: 'v=0' });
  const got = await b.next((m) => m.type === 'offer');
  assert.equal(got.fromUserId, 'a');
  server.assertAlive();
});
