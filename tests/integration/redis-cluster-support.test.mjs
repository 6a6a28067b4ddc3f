// The Redis Cluster support itself (redis-cluster-support.mjs), without the server: three
// primaries and three replicas come up in sync, keys of one hash tag share a primary, and a
// primary killed with SIGKILL is replaced by its replica with the data (written before the kill,
// replicated with WAIT) still there.
import assert from 'node:assert/strict';
import test from 'node:test';
import { haveRedisCluster, keySlot, startRedisCluster } from './redis-cluster-support.mjs';

const skip = haveRedisCluster() ? false : 'redis-server and redis-cli are not installed (apt-get install redis-server)';

test('keySlot follows the Redis Cluster spec (hash tags included)', () => {
  // Values from CLUSTER KEYSLOT on Redis 7.
  assert.equal(keySlot('foo'), 12182);
  assert.equal(keySlot('{user1000}.following'), keySlot('user1000'));
  assert.equal(keySlot('session:ws:{abc}'), keySlot('session:heartbeat:{abc}:u1'));
  assert.equal(keySlot('a{}b'), keySlot('a{}b'));
});

test('a 3+3 Redis Cluster: in sync, routed by hash tag, a killed primary replaced by its replica', { skip }, async (t) => {
  const cluster = await startRedisCluster(t);
  assert.equal(cluster.seeds().split(',').length, 6);
  for (const s of cluster.seeds().split(',')) assert.ok(Number(s.split(':')[1]) < 55536, s);
  const primaries = await cluster.primaries();
  assert.equal(primaries.length, 3);

  const rc = cluster.client();
  t.after(() => rc.close());
  // The cluster agrees with our slot function.
  assert.equal(await rc.cmd('CLUSTER', 'KEYSLOT', 'session:ws:{s1}'), keySlot('session:ws:{s1}'));

  const tagged = ['session:ws:{s1}', 'session:dir:{s1}', 'session:heartbeat:{s1}:u1'];
  await rc.cmd('HSET', tagged[0], 'u1', 'n1:1');
  await rc.cmd('HSET', tagged[1], 'hostUserId', 'u1');
  await rc.cmd('SET', tagged[2], '1');
  const owner = await cluster.primaryForKey(tagged[0]);
  for (const k of tagged) assert.equal(await cluster.primaryForKey(k), owner, k);
  // Several keys of one tag in one script: the same slot, no CROSSSLOT.
  assert.equal(await rc.cmd('EVAL', "return redis.call('HGET', KEYS[1], 'u1')", 2, tagged[0], tagged[1]), 'n1:1');
  // Keys spread over the primaries (a few ids land on every shard).
  for (let i = 0; i < 30; i++) await rc.cmd('SET', `spread:{${i}}`, String(i));
  const owners = new Set();
  for (let i = 0; i < 30; i++) owners.add(await cluster.primaryForKey(`spread:{${i}}`));
  assert.equal(owners.size, 3);
  assert.equal((await cluster.keys('spread:*')).length, 30);
  assert.deepEqual(await cluster.keys('session:*'), [...tagged].sort());

  // The replica has the writes before the primary dies.
  const primary = await rc.conn(owner);
  assert.equal(await primary.cmd('WAIT', 1, 5000), 1);
  const replicas = await cluster.killPrimary(owner);
  assert.equal(replicas.length, 1);
  const promoted = await cluster.waitFailover();
  assert.equal(promoted, replicas[0]);
  assert.notEqual(await cluster.primaryForKey(tagged[0]), owner);
  assert.deepEqual(await rc.hgetall(tagged[0]), { u1: 'n1:1' }, 'read through the cluster after the failover');
  assert.equal(await rc.cmd('GET', tagged[2]), '1');
  await rc.cmd('HSET', tagged[0], 'u2', 'n2:1');
  assert.equal(await rc.cmd('HLEN', tagged[0]), 2, 'writes go to the new primary');

  // The old primary comes back as a replica of the new one.
  await cluster.restart(owner);
  assert.deepEqual(await cluster.primaries(), [...primaries.filter((p) => p !== owner), promoted].sort());
});
