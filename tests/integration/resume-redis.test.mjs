// Redis faults under resume: a FLUSHALL and a Redis stall longer than --node-ttl (DEBUG SLEEP)
// used to close every client on every node with 1001 (each node found its alive key gone and
// took itself for dead). Now no connection is closed and nobody is announced as gone: every node
// writes its participants again and the relays across nodes go on. One Redis and a Redis Cluster
// (the fault on every primary).
import assert from 'node:assert/strict';
import test from 'node:test';
import { randomId, waitFor } from './harness.mjs';
import { redisClient, redisTest, startNodes, startRedis } from './cluster-harness.mjs';

const ARGS = ['--node-ttl', '900ms', '--cluster-sync', '1s', '--resume-window', '5s'];

async function meshOnTwoNodes(t, mode) {
  const redis = await startRedis(t, mode);
  const [n1, n2] = await startNodes(t, redis, 2, { args: ARGS });
  const rc = await redisClient(t, redis);
  const sid = randomId('rf');
  await n1.createSession(sid, { host: 'u1', participants: ['u1', 'u2', 'u3'] });
  const [c1] = await n1.join(sid, 'u1');
  const [c2] = await n2.join(sid, 'u2');
  const [c3] = await n2.join(sid, 'u3');
  await c1.take(2, (m) => m.type === 'participant-joined');
  await c2.next('participant-joined');
  return { rc, rk: redis.k, sid, clients: [c1, c2, c3] };
}

const mark = (clients) => new Map(clients.map((c) => [c, c.received.length]));

async function stillMeshed(clients, since) {
  const [c1, c2, c3] = clients;
  for (const [from, to] of [[c1, c2], [c2, c1], [c3, c1], [c1, c3]]) {
    from.send({ type: 'ice-candidate', toUserId: to.userId, candidate: { candidate: `from ${from.userId}` } });
    assert.equal((await to.next('ice-candidate', 10_000)).fromUserId, from.userId);
  }
  for (const c of clients) {
    assert.equal(c.closeInfo, null, `${c.userId} was closed: ${JSON.stringify(c.closeInfo)}`);
    const gone = c.received.slice(since.get(c)).filter((m) => m.type === 'participant-left' || m.type === 'participant-joined' ||
      (m.type === 'error' && m.code !== 'undelivered'));
    assert.deepEqual(gone, [], `${c.userId}: nobody may leave or rejoin`);
  }
  // What they did see (a reconnecting/reconnected pair is allowed: it keeps every peer connection).
  return clients.map((c) => `${c.userId}: ${c.received.slice(since.get(c)).map((m) => m.type).join(',')}`).join('; ');
}

redisTest('FLUSHALL: no connection closed, nobody announced as gone, the layout written again', {}, async (t, mode) => {
  const { rc, rk, sid, clients } = await meshOnTwoNodes(t, mode);
  const before = await rc.hgetall(rk.ws(sid));
  const since = mark(clients);
  // (On a cluster: every primary at once.)
  assert.deepEqual([...new Set(await rc.onPrimaries('FLUSHALL'))], ['OK']);
  await waitFor(async () => Object.keys(await rc.hgetall(rk.ws(sid))).length === 3,
    { timeoutMs: 10_000, what: 'session:ws written again' });
  assert.deepEqual(await rc.hgetall(rk.ws(sid)), before);
  assert.deepEqual(Object.keys(await rc.hgetall(rk.resume(sid))).sort(), ['u1', 'u2', 'u3'],
    'the resumeIds are written again, so a later resume still works');
  await new Promise((r) => setTimeout(r, 2500));  // past one --node-ttl and a sync
  t.diagnostic(await stillMeshed(clients, since));
});

redisTest('a Redis stall longer than --node-ttl (DEBUG SLEEP): no connection closed, nobody announced as gone', {}, async (t, mode) => {
  const { rc, rk, clients } = await meshOnTwoNodes(t, mode);
  const since = mark(clients);
  // 2.5 s > --node-ttl 900ms: every alive key is past its TTL when Redis wakes up.
  // On a cluster every primary stalls at once (the nodes' alive keys are on several shards).
  assert.deepEqual([...new Set(await rc.onPrimaries('DEBUG', 'SLEEP', '2.5'))], ['OK']);
  await new Promise((r) => setTimeout(r, 2500));  // past one --node-ttl and a sync
  t.diagnostic(await stillMeshed(clients, since));
  for (const n of ['n1', 'n2']) assert.equal(await rc.cmd('EXISTS', rk.alive(n)), 1);
});
