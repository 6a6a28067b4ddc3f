// Several nodes: a session's iceTransportPolicy set through one node is stored in Redis (field
// iceTransportPolicy of session:dir) and applied by the others; each node hands out TURN
// credentials of its own (same secret).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import test from 'node:test';

import { randomId, waitFor } from './harness.mjs';
import { redisClient, redisTest, startNodes, startRedis } from './cluster-harness.mjs';

const SECRET = crypto.randomBytes(24).toString('hex');
const TURN = 'turn:127.0.0.1:3478?transport=udp';

redisTest('cluster: iceTransportPolicy goes through Redis; joined on another node carries it and credentials', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const [a, b] = await startNodes(t, redis, 2, { args: ['--turn-uri', TURN, '--turn-secret', SECRET] });
  const rc = await redisClient(t, redis);
  const sid = randomId('ice');
  const spec = { hostUserId: 'u1', participants: [{ userId: 'u1' }, { userId: 'u2' }, { userId: 'u3' }] };

  const put = await a.admin('PUT', `/api/sessions/${sid}`, { ...spec, iceTransportPolicy: 'relay' });
  assert.equal(put.status, 201, put.text);
  assert.equal((await rc.hgetall(rk.dir(sid))).iceTransportPolicy, 'relay');
  await waitFor(async () => (await b.getSession(sid)).json?.iceTransportPolicy === 'relay', { what: 'node 2 knows the policy' });

  const [, joined] = await b.join(sid, 'u2');
  assert.equal(joined.iceTransportPolicy, 'relay');
  const ice = joined.iceServers[0];
  assert.deepEqual(ice.urls, [TURN]);
  assert.match(ice.username, /^\d+:u2$/);
  assert.equal(ice.credential, crypto.createHmac('sha1', SECRET).update(ice.username).digest('base64'));

  // Replaced without the field: back to the default, on every node and in Redis.
  assert.equal((await a.admin('PUT', `/api/sessions/${sid}`, spec)).status, 200);
  assert.equal((await rc.hgetall(rk.dir(sid))).iceTransportPolicy, undefined);
  await waitFor(async () => (await b.getSession(sid)).json?.iceTransportPolicy === null, { what: 'node 2 dropped the policy' });
  const [, later] = await b.join(sid, 'u3');
  assert.equal(later.iceTransportPolicy, 'all');
});
