// Public-key tokens end to end (--jwt-public-key with RS256 and ES256), and options read from a
// config file (--config).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startServer, randomId, expectRefused } from './harness.mjs';

const b64url = (s) => Buffer.from(s).toString('base64url');
const nowSec = () => Math.floor(Date.now() / 1000);

// The order n of P-256. Node's ECDSA gives a high S half of the time; the server normalises it,
// and with --jwt-es256-require-low-s it accepts only low S (S <= n / 2), so this test's issuer
// normalises (the high-S case is built on purpose below).
const P256_N = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551');

function lowS(raw) {
  const s = BigInt(`0x${raw.subarray(32).toString('hex')}`);
  if (s <= P256_N / 2n) return raw;
  return Buffer.concat([raw.subarray(0, 32), Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex')]);
}

function signWithKey(alg, privateKey, payload) {
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
  const signature =
    alg === 'RS256'
      ? crypto.sign('sha256', Buffer.from(input), privateKey)
      : lowS(crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }));
  return `${input}.${signature.toString('base64url')}`;
}

function tempFile(t, name, content) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-keys-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

for (const [alg, keyType, options] of [
  ['RS256', 'rsa', { modulusLength: 2048 }],
  ['ES256', 'ec', { namedCurve: 'P-256' }],
]) {
  test(`${alg} tokens verify with --jwt-public-key; a token of another key or an HMAC over the PEM does not`, async (t) => {
    const { publicKey, privateKey } = crypto.generateKeyPairSync(keyType, options);
    const pem = publicKey.export({ type: 'spki', format: 'pem' });
    const server = await startServer(t, { args: ['--jwt-public-key', tempFile(t, 'key.pem', pem)] });
    const sessionId = randomId('keys');
    await server.createSession(sessionId, { host: 'a', participants: ['a', 'b', 'c'] });

    const good = signWithKey(alg, privateKey, { sub: 'a', name: 'Key Holder', exp: nowSec() + 600 });
    const a = await server.connect({ token: good, sessionId });
    const joined = await a.next((m) => m.type === 'joined' || m.type === 'error', 5000, 'joined');
    assert.equal(joined.type, 'joined', JSON.stringify(joined));
    assert.deepEqual(joined.self, { userId: 'a', displayName: 'Key Holder' });

    if (alg === 'ES256') {
      // The high-S twin of a valid signature (S -> n - S) is normalised to low S and accepted
      // (issuers that do not normalise keep working); with --jwt-es256-require-low-s, refused.
      const low = signWithKey(alg, privateKey, { sub: 'b', exp: nowSec() + 600 });
      const raw = Buffer.from(low.slice(low.lastIndexOf('.') + 1), 'base64url');
      const s = BigInt(`0x${raw.subarray(32).toString('hex')}`);
      const high = Buffer.concat([raw.subarray(0, 32), Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex')]);
      const twin = `${low.slice(0, low.lastIndexOf('.'))}.${high.toString('base64url')}`;
      const b = await server.connect({ token: twin, sessionId });
      const bJoined = await b.next((m) => m.type === 'joined' || m.type === 'error', 5000, 'joined (high S)');
      assert.equal(bJoined.type, 'joined', JSON.stringify(bJoined));
      await a.next((m) => m.type === 'participant-joined' && m.participant.userId === 'b', 5000, 'b joined');
      b.close();
      await a.next((m) => m.type === 'participant-left' && m.userId === 'b', 5000, 'b left');
      const strict = await startServer(t, {
        args: ['--jwt-public-key', tempFile(t, 'strict.pem', pem), '--jwt-es256-require-low-s'],
      });
      await strict.createSession(sessionId, { host: 'a', participants: ['a', 'b'] });
      await expectRefused(await strict.connect({ token: twin, sessionId }), 'invalid_token', 4401);
      const bLow = await strict.connect({ token: low, sessionId });
      const lowJoined = await bLow.next((m) => m.type === 'joined' || m.type === 'error', 5000, 'joined (low S)');
      assert.equal(lowJoined.type, 'joined', JSON.stringify(lowJoined));
      bLow.close();
    }

    const other = crypto.generateKeyPairSync(keyType, options).privateKey;
    const forged = signWithKey(alg, other, { sub: 'b', exp: nowSec() + 600 });
    await expectRefused(await server.connect({ token: forged, sessionId }), 'invalid_token', 4401);

    // Algorithm confusion: HS256 keyed with the public key's PEM text.
    const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify({ sub: 'c', exp: nowSec() + 600 }))}`;
    const confused = `${input}.${crypto.createHmac('sha256', pem).update(input).digest('base64url')}`;
    await expectRefused(await server.connect({ token: confused, sessionId }), 'invalid_token', 4401);

    await a.expectNoMessage();
  });
}

test('options come from a --config file', async (t) => {
  const config = tempFile(t, 'signaling.toml', 'max-participants = 1\nheartbeat-interval = "1234ms"\n');
  const server = await startServer(t, { args: ['--config', config] });
  const sessionId = randomId('cfg');
  await server.createSession(sessionId, { host: 'a', participants: ['a', 'b'] });
  const [a, joined] = await server.join(sessionId, 'a');
  assert.equal(joined.heartbeatIntervalMs, 1234);
  await expectRefused(await server.connect({ user: 'b', sessionId }), 'session_full', 4409);
  await a.expectNoMessage();
});
