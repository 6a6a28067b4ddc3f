// The TURN credentials the server hands out in `joined` are accepted by a real coturn
// (use-auth-secret): an Allocate succeeds and gives a relayed address. Expired credentials, a
// credential signed with another secret and a username changed after signing get 401.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { startServer, randomId } from './harness.mjs';
import { startTurn, skipWithoutTurn, turnAllocate } from './turn-support.mjs';

const SECRET = crypto.randomBytes(24).toString('hex');

function sign(secret, username) {
  return crypto.createHmac('sha1', secret).update(username).digest('base64');
}

test('coturn accepts the credentials of joined, and refuses expired or wrongly signed ones (401)', async (t) => {
  if (skipWithoutTurn(t)) return;
  const turn = await startTurn(t, { secret: SECRET });
  const server = await startServer(t, { args: ['--turn-uri', turn.uri, '--turn-secret', SECRET, '--turn-ttl', '10m'] });
  const sessionId = randomId();
  await server.createSession(sessionId, { participants: ['alice', 'bob'] });
  const [, joined] = await server.join(sessionId, 'alice');
  const ice = joined.iceServers.find((s) => s.username);
  assert.deepEqual(ice.urls, [turn.uri]);

  const ok = await turnAllocate(turn.port, ice);
  assert.equal(ok.ok, true, `Allocate refused (${ok.code}); coturn log:\n${turn.log.slice(-3000)}`);
  assert.match(ok.relayed, /^127\.0\.0\.1:\d+$/);

  // Bob's credentials are his own, and work too.
  const [, joinedBob] = await server.join(sessionId, 'bob');
  assert.equal((await turnAllocate(turn.port, joinedBob.iceServers[0])).ok, true);

  // Expired a minute ago, correctly signed: refused.
  const expired = `${Math.floor(Date.now() / 1000) - 60}:alice`;
  assert.deepEqual(await turnAllocate(turn.port, { username: expired, credential: sign(SECRET, expired) }),
    { ok: false, code: 401 });
  // Signed with another secret: refused.
  assert.deepEqual(await turnAllocate(turn.port, { username: ice.username, credential: sign('another-secret-0123456789', ice.username) }),
    { ok: false, code: 401 });
  // The user id changed after signing (a participant borrowing another's expiry): refused.
  const forged = ice.username.replace(/:alice$/, ':mallory');
  assert.deepEqual(await turnAllocate(turn.port, { username: forged, credential: ice.credential }), { ok: false, code: 401 });
  // A later expiry with the old signature: refused.
  const extended = `${Number(ice.username.split(':')[0]) + 86400}:alice`;
  assert.deepEqual(await turnAllocate(turn.port, { username: extended, credential: ice.credential }), { ok: false, code: 401 });
});

test('rotating the secret: coturn with two static-auth-secret lines accepts credentials of both', async (t) => {
  if (skipWithoutTurn(t)) return;
  const oldSecret = crypto.randomBytes(24).toString('hex');
  const newSecret = crypto.randomBytes(24).toString('hex');
  const turn = await startTurn(t, { secret: newSecret, extra: [`static-auth-secret=${oldSecret}`] });
  const username = `${Math.floor(Date.now() / 1000) + 600}:alice`;
  for (const secret of [oldSecret, newSecret]) {
    const r = await turnAllocate(turn.port, { username, credential: sign(secret, username) });
    assert.equal(r.ok, true, `refused (${r.code}); coturn log:\n${turn.log.slice(-2000)}`);
  }
  assert.deepEqual(await turnAllocate(turn.port, { username, credential: sign('a-third-secret-0123456789', username) }),
    { ok: false, code: 401 });
});
