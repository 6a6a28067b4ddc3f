// Key rotation (issue 13): a JWK Set served over HTTP by the test (--jwt-jwks-url) with RSA,
// EC P-256 and oct keys; several --jwt-secret kid:secret; SIGHUP swapping a --jwt-jwks-file
// while participants stay connected and keep relaying. docs/security.md, "Key rotation".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

import { startServer, randomId, expectRefused, signJwt, claimsFor, waitFor, sleep } from './harness.mjs';
import { OPENSSL_BIN, makePki } from './tls-support.mjs';

const SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n';
const b64url = (s) => Buffer.from(s).toString('base64url');

/** A key of `kind` (rsa | ec | oct) with kid: its public JWK and a sign(payload) function. */
function makeKey(kind, kid) {
  if (kind === 'oct') {
    const secret = crypto.randomBytes(32);
    return {
      kid,
      jwk: { kty: 'oct', kid, k: secret.toString('base64url') },
      sign: (payload, alg = 'HS256') => signJwt(payload, secret, { header: { alg, typ: 'JWT', kid } }),
    };
  }
  const { publicKey, privateKey } =
    kind === 'rsa'
      ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
      : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = kind === 'rsa' ? 'RS256' : 'ES256';
  return {
    kid,
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg },
    sign: (payload) => {
      const input = `${b64url(JSON.stringify({ alg, typ: 'JWT', kid }))}.${b64url(JSON.stringify(payload))}`;
      const key = kind === 'rsa' ? privateKey : { key: privateKey, dsaEncoding: 'ieee-p1363' };
      return `${input}.${crypto.sign('sha256', Buffer.from(input), key).toString('base64url')}`;
    },
  };
}

/** An HTTP server publishing a JWK Set: set keys / status / cache-control; counts the GETs. */
async function startJwksServer(t, keys, tlsOptions) {
  const state = { keys, status: 200, body: null, cacheControl: null, requests: 0 };
  const handler = (req, res) => {
    state.requests += 1;
    const headers = { 'content-type': 'application/json' };
    if (state.cacheControl) headers['cache-control'] = state.cacheControl;
    res.writeHead(state.status, headers);
    res.end(state.body ?? JSON.stringify({ keys: state.keys.map((k) => k.jwk) }));
  };
  const server = tlsOptions ? https.createServer(tlsOptions, handler) : http.createServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  state.url = `${tlsOptions ? 'https' : 'http'}://127.0.0.1:${server.address().port}/.well-known/jwks.json`;
  return state;
}

/** Connects with `token`; resolves to the first message (joined or error). */
async function tryJoin(server, sessionId, token) {
  const c = await server.connect({ token, sessionId });
  const m = await c.next((x) => x.type === 'joined' || x.type === 'error', 5000, 'joined or error');
  return { client: c, message: m };
}

async function expectJoined(server, sessionId, token, what) {
  const { client, message } = await tryJoin(server, sessionId, token);
  assert.equal(message.type, 'joined', `${what}: ${JSON.stringify(message)}`);
  return client;
}

async function expectInvalidToken(server, sessionId, token) {
  await expectRefused(await server.connect({ token, sessionId }), 'invalid_token', 4401);
}

/** Joins with `token`, retrying (new connections, bounded) while refused: the unknown-kid refresh. */
async function joinOnceKnown(server, sessionId, token, what) {
  let refused = 0;
  for (let i = 0; i < 40; i += 1) {
    const { client, message } = await tryJoin(server, sessionId, token);
    if (message.type === 'joined') return { client, refused };
    assert.equal(message.code, 'invalid_token', JSON.stringify(message));
    refused += 1;
    await sleep(100);
  }
  throw new Error(`${what}: never accepted`);
}

const payload = (sub) => claimsFor(sub, `User ${sub}`);

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-rotation-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('JWKS URL: RSA, EC and oct keys by kid; a new kid works once published; an unknown kid is invalid_token; a removed kid stops after a refresh', async (t) => {
  const rsa1 = makeKey('rsa', 'rsa-1');
  const ec1 = makeKey('ec', 'ec-1');
  const oct1 = makeKey('oct', 'oct-1');
  const jwks = await startJwksServer(t, [rsa1, ec1, oct1]);
  // Periodic refreshes far away: what happens below comes from the unknown-kid refresh.
  const server = await startServer(t, {
    args: ['--jwt-jwks-url', jwks.url, '--jwt-jwks-refresh', '1h', '--jwt-jwks-refresh-min', '100ms',
      '--jwt-jwks-unknown-kid-interval', '100ms'],
  });
  assert.equal(jwks.requests, 1, 'fetched once at start-up');
  const sessionId = randomId('rot');
  await server.createSession(sessionId, { host: 'a', participants: ['a', 'b', 'c', 'd', 'e', 'f'] });

  const a = await expectJoined(server, sessionId, rsa1.sign(payload('a')), 'RS256 kid rsa-1');
  const b = await expectJoined(server, sessionId, ec1.sign(payload('b')), 'ES256 kid ec-1');
  await expectJoined(server, sessionId, oct1.sign(payload('c'), 'HS384'), 'HS384 kid oct-1');
  // A kid of one key with a signature of another: refused.
  await expectInvalidToken(server, sessionId, makeKey('rsa', 'rsa-1').sign(payload('d')));
  // An unknown kid: refused with invalid_token (and a refresh, which does not bring it).
  const before = jwks.requests;
  await expectInvalidToken(server, sessionId, makeKey('rsa', 'nobody').sign(payload('d')));
  await waitFor(() => jwks.requests > before, { what: 'the unknown-kid refresh' });

  // Rotation: a new RSA key is published; tokens with its kid work after (at most) the refusal
  // that asked for the refresh.
  const rsa2 = makeKey('rsa', 'rsa-2');
  await sleep(150); // past --jwt-jwks-unknown-kid-interval
  jwks.keys = [rsa1, rsa2, ec1, oct1];
  const { refused } = await joinOnceKnown(server, sessionId, rsa2.sign(payload('d')), 'kid rsa-2');
  assert.ok(refused <= 1, `refused ${refused} times before the new key was used`);

  // The old key is removed from the set: it works until a refresh happened, then no more.
  jwks.keys = [rsa2, ec1, oct1];
  await expectJoined(server, sessionId, rsa1.sign(payload('e')), 'rsa-1 before any refresh');
  const beforeRemoval = jwks.requests;
  await sleep(150);
  await expectInvalidToken(server, sessionId, makeKey('ec', 'still-unknown').sign(payload('f')));
  await waitFor(() => jwks.requests > beforeRemoval, { what: 'a refresh after the removal' });
  await waitFor(async () => {
    const { message } = await tryJoin(server, sessionId, rsa1.sign(payload('f')));
    return message.type === 'error' && message.code === 'invalid_token';
  }, { what: 'rsa-1 refused once removed' });
  // The first participant, admitted with the removed key, is still connected and relaying.
  a.send({ type: 'offer', toUserId: 'b', sdp: SDP });
  assert.equal((await b.next('offer')).fromUserId, 'a');
  assert.ok(server.logs.some((l) => l.msg === 'jwks keys' && String(l.keys).includes('rsa-2')));
});

test('JWKS URL: Cache-Control max-age drives the refresh; a failed refresh keeps the last good set', async (t) => {
  const ec1 = makeKey('ec', 'ec-1');
  const oct1 = makeKey('oct', 'oct-1');
  const jwks = await startJwksServer(t, [ec1, oct1]);
  jwks.cacheControl = 'public, max-age=0';
  const server = await startServer(t, {
    args: ['--jwt-jwks-url', jwks.url, '--jwt-jwks-refresh', '1h', '--jwt-jwks-refresh-min', '200ms',
      '--jwt-jwks-unknown-kid-interval', '1h'],
  });
  const sessionId = randomId('cc');
  await server.createSession(sessionId, { host: 'a', participants: ['a', 'b', 'c', 'd'] });
  await expectJoined(server, sessionId, ec1.sign(payload('a')), 'ec-1');
  // max-age=0: refreshed every --jwt-jwks-refresh-min, not every hour.
  const n = jwks.requests;
  await waitFor(() => jwks.requests >= n + 2, { what: 'periodic refreshes after max-age' });

  // The provider fails (500, then a set with no usable key): the keys stay.
  jwks.status = 500;
  let m = jwks.requests;
  await waitFor(() => jwks.requests > m, { what: 'a failed refresh' });
  await waitFor(() => server.logs.some((l) => l.msg?.startsWith('jwks fetch failed') && String(l.error).includes('500')),
    { what: 'the failure logged' });
  jwks.status = 200;
  jwks.body = JSON.stringify({ keys: [{ kty: 'oct', kid: 'short', k: 'c2hvcnQ' }] });
  m = jwks.requests;
  await waitFor(() => jwks.requests > m + 1, { what: 'a refresh with no usable key' });
  await expectJoined(server, sessionId, ec1.sign(payload('b')), 'ec-1 after failed refreshes');
  await expectJoined(server, sessionId, oct1.sign(payload('c')), 'oct-1 after failed refreshes');

  // A good set again, without ec-1: it stops.
  jwks.body = null;
  jwks.keys = [oct1];
  await waitFor(async () => {
    const { message } = await tryJoin(server, sessionId, ec1.sign(payload('d')));
    return message.type === 'error' && message.code === 'invalid_token';
  }, { what: 'ec-1 refused once the provider dropped it' });
});

test('several --jwt-secret kid:secret: the kid picks the secret; the secret without kid serves tokens without kid', async (t) => {
  const s1 = crypto.randomBytes(32).toString('hex');
  const s2 = crypto.randomBytes(32).toString('hex');
  const server = await startServer(t, { args: ['--jwt-secret', `k1:${s1}`, '--jwt-secret', `k2:${s2}`] });
  const sessionId = randomId('kids');
  await server.createSession(sessionId, { host: 'a', participants: ['a', 'b', 'c', 'd'] });
  const withKid = (sub, secret, kid) => signJwt(payload(sub), secret, { header: { alg: 'HS256', typ: 'JWT', kid } });
  await expectJoined(server, sessionId, withKid('a', s1, 'k1'), 'k1');
  await expectJoined(server, sessionId, withKid('b', s2, 'k2'), 'k2');
  await expectJoined(server, sessionId, server.token('c'), 'the secret without kid');
  await expectInvalidToken(server, sessionId, withKid('d', s1, 'k2'));
  await expectInvalidToken(server, sessionId, withKid('d', s1, 'k3'));
  await expectInvalidToken(server, sessionId, signJwt(payload('d'), s1)); // k1's secret without its kid
});

test('SIGHUP swaps a --jwt-jwks-file while participants stay connected; a bad file keeps the old keys', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'jwks.json');
  const old = makeKey('rsa', 'file-old');
  const fresh = makeKey('ec', 'file-new');
  fs.writeFileSync(file, JSON.stringify({ keys: [old.jwk] }));
  const configFile = path.join(dir, 'config.toml');
  fs.writeFileSync(configFile, 'rate-limit = 50\nmax-participants = 6\n');
  const server = await startServer(t, { args: ['--jwt-jwks-file', file, '--config', configFile] });
  const sessionId = randomId('hup');
  await server.createSession(sessionId, { host: 'a', participants: ['a', 'b', 'c', 'd'] });
  const a = await expectJoined(server, sessionId, old.sign(payload('a')), 'a with the old key');
  const b = await expectJoined(server, sessionId, old.sign(payload('b')), 'b with the old key');
  await a.next((m) => m.type === 'participant-joined', 5000, 'b joined');

  const reloads = () => server.logs.filter((l) => l.msg === 'reloaded').length;
  fs.writeFileSync(file, JSON.stringify({ keys: [fresh.jwk] }));
  fs.writeFileSync(configFile, 'rate-limit = 1\nrate-burst = 5\nmax-participants = 5\n');
  server.proc.kill('SIGHUP');
  await waitFor(() => reloads() === 1, { what: 'the reload logged' });
  const keysLine = server.logs.find((l) => l.msg === 'reload: token keys');
  assert.ok(keysLine && String(keysLine.keys).includes('file-new') && !String(keysLine.keys).includes('file-old'));
  // Each changed option is named (never its value): applied, or needing a restart.
  const named = (msg) => server.logs.filter((l) => l.msg === msg).map((l) => l.option);
  assert.deepEqual(named('reload: option changed, needs a restart to apply'), ['--max-participants']);
  assert.deepEqual(named('reload: option changed, applied'), ['--rate-burst', '--rate-limit']);

  // a and b were not disconnected: they keep relaying.
  a.send({ type: 'offer', toUserId: 'b', sdp: SDP });
  assert.equal((await b.next('offer')).fromUserId, 'a');
  b.send({ type: 'answer', toUserId: 'a', sdp: SDP });
  assert.equal((await a.next('answer')).fromUserId, 'b');
  // The new key works, the old one no more.
  const c = await expectJoined(server, sessionId, fresh.sign(payload('c')), 'c with the new key');
  await expectInvalidToken(server, sessionId, old.sign(payload('d')));

  // The new rate limit (1/s, bursts of 5) applies to connections admitted after the reload; a,
  // admitted before, keeps 50/s and bursts of 200.
  const burst = async (client) => {
    for (let i = 1; i <= 10; i += 1) client.heartbeat(i);
    const got = [];
    for (;;) {
      try {
        got.push(await client.next((m) => m.type === 'heartbeat-ack' || m.type === 'error', 700));
      } catch {
        return got;
      }
    }
  };
  const cGot = await burst(c);
  assert.ok(cGot.some((m) => m.type === 'error' && m.code === 'rate_limited'), JSON.stringify(cGot));
  assert.ok(cGot.filter((m) => m.type === 'heartbeat-ack').length < 10);
  const aGot = await burst(a);
  assert.equal(aGot.filter((m) => m.type === 'heartbeat-ack').length, 10, JSON.stringify(aGot));

  // A bad file: the reload is refused and logged; the keys stay; the participants stay.
  fs.writeFileSync(file, '{"keys": [ this is not json');
  server.proc.kill('SIGHUP');
  await waitFor(() => server.logs.some((l) => l.msg?.startsWith('reload refused') && String(l.error).includes('--jwt-jwks-file')),
    { what: 'the refused reload logged' });
  assert.equal(reloads(), 1);
  await expectJoined(server, sessionId, fresh.sign(payload('d')), 'd with the key still in force');
  a.send({ type: 'offer', toUserId: 'c', sdp: SDP });
  b.send({ type: 'offer', toUserId: 'a', sdp: SDP });
  assert.equal((await a.next('offer')).fromUserId, 'b');
  server.assertAlive();
});

test('JWKS over https: verified with --jwt-jwks-ca; a certificate of another CA is refused and the keys are not taken', { skip: fs.existsSync(OPENSSL_BIN) ? false : 'no openssl CLI' }, async (t) => {
  const pki = makePki(t);
  const key = makeKey('ec', 'tls-ec');
  const jwks = await startJwksServer(t, [key], { cert: fs.readFileSync(pki.serverCert), key: fs.readFileSync(pki.serverKey) });
  const sessionId = randomId('tls');
  const good = await startServer(t, { args: ['--jwt-jwks-url', jwks.url, '--jwt-jwks-ca', pki.ca] });
  await good.createSession(sessionId, { host: 'a', participants: ['a', 'b'] });
  await expectJoined(good, sessionId, key.sign(payload('a')), 'a key fetched over https');

  // Another CA: the fetch fails (the --jwt-secret of the harness lets the server start, with a
  // warning), and the provider's keys are not used.
  const bad = await startServer(t, { args: ['--jwt-jwks-url', jwks.url, '--jwt-jwks-ca', pki.otherCa] });
  const warning = bad.logs.find((l) => l.msg.startsWith('--jwt-jwks-url not fetched at start-up'));
  assert.ok(warning, bad.output());
  assert.match(warning.error, /certificate/, JSON.stringify(warning));
  await bad.createSession(sessionId, { host: 'a', participants: ['a', 'b'] });
  await expectInvalidToken(bad, sessionId, key.sign(payload('b')));
});
