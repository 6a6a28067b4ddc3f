// Scenarios 2 and 3, two nodes on Redis behind nginx: a node killed with SIGKILL (its participants
// resume on the other node through nginx), and a rolling restart of both nodes with SIGTERM
// (drained: 1012; an older server: 1001). No RTCPeerConnection torn down or created, video on
// every directed pair goes on.
import assert from 'node:assert/strict';
import test from 'node:test';

import { waitFor } from '../integration/harness.mjs';
import { killNode, skipWithoutNginx } from '../integration/cluster-harness.mjs';
import { assertContinuity, joinCounts, measure, report, skipWithoutWrtc, waitRejoined } from './media-support.mjs';
import { placement, restartNode, serverHas, terminateNode } from './cluster-support.mjs';
import { startClusterMesh } from './cluster-mesh.mjs';

const skip = skipWithoutWrtc || skipWithoutNginx;

test('a node killed with SIGKILL: its participants resume on the other node, no RTCPeerConnection torn down', { skip }, async (t) => {
  const { nodes, mesh, where, redis, sessionId } = await startClusterMesh(t, { prefix: 'kill' });
  try {
    const record = await measure(mesh, 'node-kill', async () => {
      const victims = mesh.peers.filter((p) => where[p.userId] === 'n1');
      const before = joinCounts(victims);
      await killNode(nodes[0]);
      await waitRejoined(before);
      return { placementBefore: where, moved: victims.map((p) => p.userId), placementAfter: await placement(redis, sessionId).catch(() => null) };
    });
    report(t, record);
    assertContinuity(assert, record);
  } finally {
    await mesh.close();
  }
});

test('a rolling restart of both nodes (SIGTERM, restart, then the other): no RTCPeerConnection torn down', { skip }, async (t) => {
  const { nodes, mesh, where } = await startClusterMesh(t, { prefix: 'roll' });
  try {
    const record = await measure(mesh, 'rolling-restart', async () => {
      const closes = [];
      const steps = [];
      for (const i of [0, 1]) {
        const node = nodes[i];
        const served = mesh.peers.filter((p) => p.client.socket && p.client.state === 'joined');
        const before = joinCounts(served);
        const codes = new Map();
        for (const p of served) p.client.socket.once?.('close', (code) => codes.set(p.userId, code));
        await terminateNode(node);
        // Its participants come back through nginx on the other node.
        const moved = [...before.keys()].filter((p) => codes.has(p.userId));
        await waitRejoined(new Map(moved.map((p) => [p, before.get(p)])));
        closes.push(...[...codes].map(([u, code]) => ({ node: node.nodeId, user: u, code })));
        nodes[i] = await restartNode(t, node);
        steps.push(`${node.nodeId} restarted`);
        // As an operator would: the next node only once this one is ready to take traffic.
        await waitFor(async () => (await nodes[i].http('GET', '/readyz')).status === 200, { timeoutMs: 20_000, what: `${node.nodeId} ready` });
      }
      return { placementBefore: where, closeCodes: closes, steps };
    }, { recoverMs: 60_000 });
    report(t, record);
    assertContinuity(assert, record);
    // A server that drains closes with 1012 (service restart); an older one with 1001.
    const expected = serverHas('--drain-period') ? 1012 : 1001;
    for (const c of record.closeCodes) assert.equal(c.code, expected, `close code on SIGTERM: ${JSON.stringify(c)}`);
  } finally {
    await mesh.close();
  }
});
