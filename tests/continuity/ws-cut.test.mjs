// Scenario 1, one node: four wrtc peers send video to each other; one participant's WebSocket is
// cut without a close frame (its TCP socket destroyed). It resumes; nobody's RTCPeerConnection is
// torn down or created, and video goes on on all 12 directed pairs.
import assert from 'node:assert/strict';
import test from 'node:test';

import { randomId, startServer } from '../integration/harness.mjs';
import { USERS, assertContinuity, cutSocket, joinCounts, measure, report, skipWithoutWrtc, startMesh, waitRejoined } from './media-support.mjs';

test('one WebSocket cut (no close frame): no RTCPeerConnection torn down, video on every pair goes on', { skip: skipWithoutWrtc }, async (t) => {
  const server = await startServer(t);
  const sessionId = randomId('cut');
  await server.createSession(sessionId, { host: USERS[0], participants: USERS });
  const mesh = await startMesh({ sessionId, urlFor: () => server.baseUrl, tokenFor: (u) => server.token(u) });
  try {
    const record = await measure(mesh, 'ws-cut', async () => {
      const victim = mesh.byId.get('cat');
      const before = joinCounts([victim]);
      cutSocket(victim);
      // The event is over when the cut participant is joined again.
      await waitRejoined(before);
      return { cut: 'cat' };
    });
    report(t, record);
    assertContinuity(assert, record);
  } finally {
    await mesh.close();
  }
});
