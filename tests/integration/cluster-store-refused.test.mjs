// Issue 9, point 8: the admin API reports what Redis did. With Redis out of memory (maxmemory
// reached, noeviction), PUT /api/sessions/{id} used to answer 201 while the session existed
// nowhere, and joins got 4404, which the client library takes as final. Now: 503
// store_unavailable, and a join refused for a store error closes with 1013 (try again later).
// Needs /usr/bin/redis-server (skipped with a message otherwise).
import assert from 'node:assert/strict';
import test from 'node:test';
import { expectRefused, randomId } from './harness.mjs';
import { redisClient, skipWithoutRedis, startNodes, startRedis } from './cluster-harness.mjs';

/** Sets maxmemory 1mb with noeviction and writes filler keys until Redis refuses one (bounded). */
async function fillUp(rc) {
  await rc.cmd('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  await rc.cmd('CONFIG', 'SET', 'maxmemory', '1mb');
  const filler = 'x'.repeat(16 * 1024);
  for (let i = 0; i < 200; i++) {
    try {
      await rc.cmd('SET', `filler:${i}`, filler);
    } catch (err) {
      assert.match(err.message, /OOM/);
      return;
    }
  }
  assert.fail('Redis never refused a write at maxmemory 1mb');
}

test('cluster: with Redis out of memory, admin writes answer 503 store_unavailable and joins close with 1013', { skip: skipWithoutRedis }, async (t) => {
  const redis = await startRedis(t);
  const [n1, n2] = await startNodes(t, redis, 2);
  const rc = await redisClient(t, redis);
  const sid = randomId('oom');
  await n1.createSession(sid, { host: 'a', participants: ['a', 'b'] });
  const [a] = await n1.join(sid, 'a');

  await fillUp(rc);
  const fresh = randomId('oom-new');
  for (const node of [n1, n2]) {
    const r = await node.admin('PUT', `/api/sessions/${fresh}`, { hostUserId: 'a', participants: [{ userId: 'a' }] });
    assert.equal(r.status, 503, `${node.nodeId}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'store_unavailable');
  }
  // (Not DELETE /api/sessions: Redis lets DEL through at maxmemory, since it frees memory.)
  for (const [method, path] of [['PUT', `/api/sessions/${sid}/participants/c`],
    ['DELETE', `/api/sessions/${sid}/participants/b`], ['POST', `/api/sessions/${sid}/start`]]) {
    const r = await n2.admin(method, path, method === 'PUT' ? { displayName: 'C' } : undefined);
    assert.equal(r.status, 503, `${method} ${path}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'store_unavailable');
  }
  // Nothing was written; no node shows the session that the store does not hold.
  assert.equal(await rc.cmd('EXISTS', `session:dir:${fresh}`), 0);
  const dir = await rc.hgetall(`session:dir:${sid}`);
  assert.equal(dir.status, 'waiting');
  assert.deepEqual(JSON.parse(dir.participants).map((p) => p.userId), ['a', 'b']);
  for (const node of [n1, n2]) {
    assert.equal((await node.getSession(fresh)).status, 404, `${node.nodeId} has no phantom session`);
    const g = await node.getSession(sid);
    assert.equal(g.status, 200);
    assert.deepEqual(g.json.participants.map((p) => p.userId), ['a', 'b'], `${node.nodeId} shows what the store holds`);
  }
  // A join the store cannot record is refused with "try again later", not "no such session".
  const b = await n2.connect({ user: 'b', sessionId: sid });
  await expectRefused(b, 'store_unavailable', 1013);

  // Redis has room again: the same calls succeed, and the participant already joined relays.
  await rc.cmd('CONFIG', 'SET', 'maxmemory', '0');
  const r = await n2.admin('PUT', `/api/sessions/${fresh}`, { hostUserId: 'a', participants: [{ userId: 'a' }] });
  assert.equal(r.status, 201, r.text);
  const [b2] = await n2.join(sid, 'b');
  b2.send({ type: 'offer', toUserId: 'a', sdp: 'v=0\r\n' });
  assert.equal((await a.next((m) => m.type === 'offer')).fromUserId, 'b');
  n1.assertAlive();
  n2.assertAlive();
});
