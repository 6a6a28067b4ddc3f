// A deployment for the several-node scenarios: redis-server (DEBUG allowed; a Redis Cluster with
// SIG_CONTINUITY_REDIS=cluster), two nodes, nginx in front (the documented block), four wrtc
// peers joined through nginx so that both nodes serve some of them.
import assert from 'node:assert/strict';

import { randomId } from '../integration/harness.mjs';
import { startNginx, startNodes, startRedis } from '../integration/cluster-harness.mjs';
import { USERS, startMesh } from './media-support.mjs';
import { clusterArgs, continuityRedisMode, placement } from './cluster-support.mjs';

export async function startClusterMesh(t, { prefix = 'cl' } = {}) {
  const redis = await startRedis(t, continuityRedisMode());
  const nodes = await startNodes(t, redis, 2, { args: clusterArgs() });
  const nginx = await startNginx(t, nodes.map((n) => n.port));
  const sessionId = randomId(prefix);
  await nodes[0].createSession(sessionId, { host: USERS[0], participants: USERS });
  const mesh = await startMesh({ sessionId, urlFor: () => `http://127.0.0.1:${nginx.port}`, tokenFor: (u) => nodes[0].token(u) });
  let where;
  try {
    where = await placement(redis, sessionId);
    assert.deepEqual([...new Set(Object.values(where))].sort(), ['n1', 'n2'], `peers on both nodes: ${JSON.stringify(where)}`);
  } catch (err) {
    await mesh.close();
    throw err;
  }
  return { redis, nodes, nginx, sessionId, mesh, where };
}
