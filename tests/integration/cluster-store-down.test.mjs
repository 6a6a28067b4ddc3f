// Redis unreachable, several nodes (issue 12 review): a session another node hosts is not gone
// for an instance that has no copy of it. A join there gets store_unavailable (close 1013, which
// clients retry) and the admin API 503, never session_not_found/4404 nor 404; once Redis is back
// both work. One Redis (stopped, then started again on its port, empty: the hosting node writes
// its state again). Needs /usr/bin/redis-server (skipped with a message otherwise).
import assert from 'node:assert/strict';
import test from 'node:test';
import { expectRefused, randomId, waitFor } from './harness.mjs';
import { skipWithoutRedis, startNodes, startRedis } from './cluster-harness.mjs';

test('Redis down: a join and an admin GET of a session this node does not host answer store_unavailable (1013, 503); after Redis is back both work', { skip: skipWithoutRedis, timeout: 60_000 }, async (t) => {
  const redis = await startRedis(t);
  const [a, b] = await startNodes(t, redis, 2, { args: ['--node-ttl', '1000ms', '--cluster-sync', '1s'] });
  const sid = randomId('down');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2'] });
  const [c1] = await a.join(sid, 'u1');  // hosted on a only
  // b is not asked about it before: a session read for one answer stays in its hub a few seconds
  // (and, while Redis is down, until it is back), answered from that copy.

  await redis.stop();
  for (const n of [a, b]) await waitFor(async () => (await n.http('GET', '/readyz')).status === 503, { what: `${n.nodeId} not ready` });

  // b has no copy: not a 404, not a 4404.
  const got = await b.getSession(sid);
  assert.equal(got.status, 503, got.text);
  assert.equal(got.json?.error, 'store_unavailable', got.text);
  const refused = await b.connect({ user: 'u2', sessionId: sid });
  await expectRefused(refused, 'store_unavailable', 1013);
  // A session nobody declared: the same (nothing says it does not exist).
  assert.equal((await b.getSession(randomId('nobody'))).status, 503);
  // a hosts it: it answers from its copy.
  assert.equal((await a.getSession(sid)).status, 200);

  await redis.start();  // same port, empty: a writes its state again
  for (const n of [a, b]) await waitFor(async () => (await n.http('GET', '/readyz')).status === 200, { timeoutMs: 20_000, what: `${n.nodeId} ready` });
  await waitFor(async () => (await b.getSession(sid)).status === 200, { timeoutMs: 15_000, what: 'b reads the session again' });
  const [c2] = await b.join(sid, 'u2');
  await c1.next((m) => m.type === 'participant-joined' && m.participant?.userId === 'u2');
  c2.send({ type: 'offer', toUserId: 'u1', sdp: 'v=0 back' });
  assert.equal((await c1.next('offer')).fromUserId, 'u2');
  assert.equal((await b.getSession(randomId('nobody'))).status, 404, 'with Redis up, an unknown session is 404');
});
