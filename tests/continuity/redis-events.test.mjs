// Scenario 4, two nodes on Redis behind nginx: Redis restarted (empty), Redis stalled longer than
// --node-ttl (DEBUG SLEEP), Redis emptied (FLUSHALL). No RTCPeerConnection torn down or created,
// video on every directed pair goes on.
import assert from 'node:assert/strict';
import test from 'node:test';

import { sleep, waitFor } from '../integration/harness.mjs';
import { skipWithoutNginx } from '../integration/cluster-harness.mjs';
import { assertContinuity, measure, report, skipWithoutWrtc } from './media-support.mjs';
import { NODE_TTL_MS, redisCommand } from './cluster-support.mjs';
import { startClusterMesh } from './cluster-mesh.mjs';

const skip = skipWithoutWrtc || skipWithoutNginx;
/** After the Redis event, long enough for the nodes to notice (node TTL and a cluster sync, twice). */
const REACT_MS = 2 * (NODE_TTL_MS + 1000);

async function allReady(nodes) {
  for (const n of nodes) {
    await waitFor(async () => (await n.http('GET', '/readyz')).status === 200, { timeoutMs: 20_000, what: `${n.nodeId} /readyz 200` });
  }
}

async function scenario(t, name, event) {
  const { nodes, mesh, where, redis } = await startClusterMesh(t, { prefix: name });
  try {
    const record = await measure(mesh, name, async () => {
      const extra = await event(redis);
      await sleep(REACT_MS);
      await allReady(nodes);
      return { placementBefore: where, ...extra };
    }, { settleMs: 4000 });
    report(t, record);
    assertContinuity(assert, record);
  } finally {
    await mesh.close();
  }
}

test('Redis restarted (empty) under a live session: no RTCPeerConnection torn down', { skip }, (t) =>
  scenario(t, 'redis-restart', async (redis) => {
    // Same ports, no persistence: empty (a cluster: all six instances, their nodes.conf kept).
    if (redis.mode === 'cluster') {
      await redis.killAll();
      await redis.startAll();
    } else {
      await redis.stop();
      await redis.start();
    }
    return {};
  }));

test(`Redis stalled longer than --node-ttl (DEBUG SLEEP ${(2 * NODE_TTL_MS) / 1000}): no RTCPeerConnection torn down`, { skip }, (t) =>
  scenario(t, 'redis-debug-sleep', async (redis) => {
    const reply = await redisCommand(redis, 'DEBUG', 'SLEEP', String((2 * NODE_TTL_MS) / 1000));
    assert.equal(reply, 'OK');
    return { sleptMs: 2 * NODE_TTL_MS };
  }));

test('Redis emptied (FLUSHALL) under a live session: no RTCPeerConnection torn down', { skip }, (t) =>
  scenario(t, 'redis-flushall', async (redis) => {
    assert.equal(await redisCommand(redis, 'FLUSHALL'), 'OK');
    return {};
  }));
