// ICE servers from the server: `joined` carries iceServers (STUN URIs, TURN URIs with TURN REST
// API credentials that this test recomputes with Node's crypto) and iceTransportPolicy; the
// admin API's iceTransportPolicy per session; bad --stun-uri/--turn-uri/--turn-secret/--turn-ttl
// refused at start-up, naming the option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startServer, randomId, serverBin, withTimeout } from './harness.mjs';

const SECRET = 'integration-turn-secret-0123456789';
const TURN = ['turn:127.0.0.1:3478?transport=udp', 'turns:turn.example.org:5349?transport=tcp'];
const STUN = 'stun:127.0.0.1:3478';

function secretFile(t, content) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-turn-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'turn-secret');
  fs.writeFileSync(file, content);
  fs.chmodSync(file, 0o600);
  return file;
}

async function refused(args) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SIGNALING_')));
  const proc = spawn(serverBin, ['--listen', '127.0.0.1', '--port', '0', '--jwt-secret', 'x'.repeat(32), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => proc.on('close', (code) => resolve(code)));
  try {
    return { code: await withTimeout(exited, 10_000, `exit of ${args.join(' ')}`), out };
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}

test('joined carries iceServers: STUN, then TURN with credentials coturn can check', async (t) => {
  const file = secretFile(t, `${SECRET}\n`);
  const args = ['--stun-uri', STUN, '--turn-secret-file', file, '--turn-ttl', '2h'];
  for (const u of TURN) args.push('--turn-uri', u);
  const server = await startServer(t, { args });
  const sessionId = randomId();
  await server.createSession(sessionId, { participants: ['alice', 'bob'] });
  const before = Math.floor(Date.now() / 1000);
  const [, joined] = await server.join(sessionId, 'alice');
  const after = Math.floor(Date.now() / 1000);
  assert.equal(joined.iceTransportPolicy, 'all');
  assert.equal(joined.iceServers.length, 2);
  assert.deepEqual(joined.iceServers[0], { urls: [STUN] });
  const turn = joined.iceServers[1];
  assert.deepEqual(Object.keys(turn).sort(), ['credential', 'urls', 'username']);
  assert.deepEqual(turn.urls, TURN);
  const [expiry, user] = turn.username.split(':');
  assert.equal(user, 'alice');
  assert.ok(Number(expiry) >= before + 7200 && Number(expiry) <= after + 7200 + 1, `expiry ${expiry}`);
  const expected = crypto.createHmac('sha1', SECRET).update(turn.username).digest('base64');
  assert.equal(turn.credential, expected);

  // Every participant gets credentials of its own.
  const [, joinedBob] = await server.join(sessionId, 'bob');
  assert.match(joinedBob.iceServers[1].username, /^\d+:bob$/);
});

test('without --stun-uri and --turn-uri, joined has no iceServers, and relay-only sessions are refused', async (t) => {
  const server = await startServer(t);
  const sessionId = randomId();
  await server.createSession(sessionId, { participants: ['alice'] });
  const [, joined] = await server.join(sessionId, 'alice');
  assert.equal('iceServers' in joined, false);
  assert.equal(joined.iceTransportPolicy, 'all');
  const relay = await server.admin('PUT', `/api/sessions/${randomId()}`, {
    hostUserId: 'alice', participants: [{ userId: 'alice' }], iceTransportPolicy: 'relay',
  });
  assert.equal(relay.status, 400);
  assert.match(relay.json.message, /--turn-uri/);
});

test('ice-servers: fresh credentials before the old ones expire (--turn-ttl 10s: at 8 s)', async (t) => {
  const server = await startServer(t, { args: ['--turn-uri', TURN[0], '--turn-secret', SECRET, '--turn-ttl', '10s'] });
  const sessionId = randomId();
  await server.createSession(sessionId, { participants: ['alice'] });
  const [alice, joined] = await server.join(sessionId, 'alice');
  const first = Number(joined.iceServers[0].username.split(':')[0]);
  const update = await alice.next((m) => m.type === 'ice-servers', 15_000, 'ice-servers');
  const renewed = update.iceServers[0];
  assert.deepEqual(Object.keys(update).sort(), ['iceServers', 'type']);
  assert.deepEqual(renewed.urls, [TURN[0]]);
  const [expiry, user] = renewed.username.split(':');
  assert.equal(user, 'alice');
  assert.ok(Number(expiry) > first, `the new expiry ${expiry} is after the first ${first}`);
  assert.ok(Number(expiry) - 10 <= Math.floor(Date.now() / 1000) + 1, 'made now, for 10 s');
  assert.equal(renewed.credential, crypto.createHmac('sha1', SECRET).update(renewed.username).digest('base64'));
});

test('iceTransportPolicy: the session (admin API) wins over --ice-transport-policy', async (t) => {
  const server = await startServer(t, {
    args: ['--turn-uri', TURN[0], '--turn-secret', SECRET, '--ice-transport-policy', 'relay'],
  });
  const byDefault = randomId();
  await server.createSession(byDefault, { participants: ['alice'] });
  assert.equal((await server.join(byDefault, 'alice'))[1].iceTransportPolicy, 'relay');
  assert.equal((await server.getSession(byDefault)).json.iceTransportPolicy, null);

  const open = randomId();
  const put = await server.admin('PUT', `/api/sessions/${open}`, {
    hostUserId: 'alice', participants: [{ userId: 'alice' }], iceTransportPolicy: 'all',
  });
  assert.equal(put.status, 201);
  assert.equal(put.json.iceTransportPolicy, 'all');
  assert.equal((await server.join(open, 'alice'))[1].iceTransportPolicy, 'all');

  const bad = await server.admin('PUT', `/api/sessions/${randomId()}`, {
    hostUserId: 'alice', participants: [{ userId: 'alice' }], iceTransportPolicy: 'direct',
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, 'invalid_body');
});

test('bad ICE options are refused at start-up, naming the option', async (t) => {
  const cases = [
    [['--turn-uri', 'http://turn.example.org'], '--turn-uri'],
    [['--turn-uri', 'turn://turn.example.org:3478', '--turn-secret', SECRET], '--turn-uri'],
    [['--turn-uri', 'turn:turn.example.org:99999', '--turn-secret', SECRET], '--turn-uri'],
    [['--turn-uri', 'turn:turn.example.org?transport=sctp', '--turn-secret', SECRET], '--turn-uri'],
    [['--stun-uri', 'turn:turn.example.org'], '--stun-uri'],
    [['--turn-uri', TURN[0]], '--turn-secret'],
    [['--turn-secret', SECRET], '--turn-uri'],
    [['--turn-uri', TURN[0], '--turn-secret', 'short'], '--turn-secret'],
    [['--turn-uri', TURN[0], '--turn-secret', SECRET, '--turn-ttl', '5s'], '--turn-ttl'],
    [['--turn-uri', TURN[0], '--turn-secret', SECRET, '--turn-ttl', '2d'], '--turn-ttl'],
    [['--turn-uri', TURN[0], '--turn-secret', SECRET, '--ice-transport-policy', 'none'], '--ice-transport-policy'],
    [['--stun-uri', STUN, '--ice-transport-policy', 'relay'], '--ice-transport-policy'],
    [['--turn-uri', TURN[0], '--turn-secret', SECRET, '--turn-secret-file', secretFile(t, SECRET)], '--turn-secret-file'],
  ];
  const loose = secretFile(t, SECRET);
  fs.chmodSync(loose, 0o644);
  cases.push([['--turn-uri', TURN[0], '--turn-secret-file', loose], '--turn-secret-file']);
  for (const [args, name] of cases) {
    const r = await refused(args);
    assert.notEqual(r.code, 0, `${args.join(' ')} started\n${r.out}`);
    assert.ok(r.out.includes(name), `${args.join(' ')}: the error does not name ${name}:\n${r.out}`);
  }
});
