// Issue 9, point 8: the admin API reports what Redis did. With Redis out of memory (maxmemory
// reached, noeviction), PUT /api/sessions/{id} used to answer 201 while the session existed
// nowhere, and joins got 4404, which the client library takes as final. Now: 503
// store_unavailable, and a join refused for a store error closes with 1013 (try again later).
// One Redis and a Redis Cluster (every primary full). Needs /usr/bin/redis-server (skipped with a
// message otherwise).
import assert from 'node:assert/strict';
import test from 'node:test';
import { expectRefused, randomId } from './harness.mjs';
import { redisClient, redisTest, startNodes, startRedis } from './cluster-harness.mjs';

/**
 * Sets maxmemory 1mb with noeviction and writes filler keys until Redis refuses one (bounded); on
 * a cluster, maxmemory 1 byte on every primary, and filler keys of many slots until each primary
 * has refused one.
 */
async function fillUp(rc, redis) {
  await rc.onPrimaries('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  // A cluster instance uses more than 1 MB before any key (slot tables, replication backlog) and
  // its usage moves around that: a limit of 1 byte keeps every primary refused, not just once.
  await rc.onPrimaries('CONFIG', 'SET', 'maxmemory', redis.mode === 'cluster' ? '1' : '1mb');
  const primaries = (await rc.onPrimaries('PING')).length;
  const full = new Set();
  const filler = 'x'.repeat(16 * 1024);
  for (let i = 0; i < 200 * primaries; i++) {
    const key = `filler:{${i}}`;
    try {
      await rc.cmd('SET', key, filler);
    } catch (err) {
      assert.match(err.message, /OOM/);
      full.add(redis.mode === 'cluster' ? await redis.primaryForKey(key) : redis.port);
      if (full.size === primaries) return;
    }
  }
  assert.fail(`Redis never refused a write at maxmemory 1mb on all of its ${primaries} primaries`);
}

redisTest('cluster: with Redis out of memory, admin writes answer 503 store_unavailable and joins close with 1013', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const [n1, n2] = await startNodes(t, redis, 2);
  const rc = await redisClient(t, redis);
  const sid = randomId('oom');
  await n1.createSession(sid, { host: 'a', participants: ['a', 'b'] });
  const [a] = await n1.join(sid, 'a');

  await fillUp(rc, redis);
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
  assert.equal(await rc.cmd('EXISTS', rk.dir(fresh)), 0);
  const dir = await rc.hgetall(rk.dir(sid));
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
  await rc.onPrimaries('CONFIG', 'SET', 'maxmemory', '0');
  const r = await n2.admin('PUT', `/api/sessions/${fresh}`, { hostUserId: 'a', participants: [{ userId: 'a' }] });
  assert.equal(r.status, 201, r.text);
  const [b2] = await n2.join(sid, 'b');
  b2.send({ type: 'offer', toUserId: 'a', sdp: 'v=0\r\n' });
  assert.equal((await a.next((m) => m.type === 'offer')).fromUserId, 'b');
  n1.assertAlive();
  n2.assertAlive();
});
