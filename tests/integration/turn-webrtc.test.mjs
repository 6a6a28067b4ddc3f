// Real WebRTC (libwebrtc through @roamhq/wrtc) and the client library, through a real coturn:
// four participants in a relay-only session (iceTransportPolicy "relay" from the admin API) form
// the whole mesh on loopback, every selected candidate pair is relay/relay (getStats), data flows
// both ways on every pair, and no SDP or candidate that passes through the server carries a host
// or server-reflexive candidate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import WebSocket from 'ws';

import { startServer, randomId, waitFor } from './harness.mjs';
import { startTurn, skipWithoutTurn } from './turn-support.mjs';
import { loadWrtc, makePeerConnectionClass, selectedPair, sdpCandidateTypes } from './wrtc-support.mjs';
import { SignalingClient } from '../../clients/js/src/index.js';

const wrtc = loadWrtc();

const USERS = ['ann', 'ben', 'cat', 'dan'];
const CONNECT_MS = 45_000;

test('relay-only session: four wrtc peers form the mesh through coturn, relay pairs, data both ways', async (t) => {
  if (skipWithoutTurn(t)) return;
  if (!wrtc) {
    t.skip('@roamhq/wrtc is not installed (npm ci)');
    return;
  }
  const secret = crypto.randomBytes(24).toString('hex');
  const turn = await startTurn(t, { secret });
  const server = await startServer(t, { args: ['--turn-uri', turn.uri, '--turn-secret', secret] });
  const sessionId = randomId();
  const put = await server.admin('PUT', `/api/sessions/${sessionId}`, {
    hostUserId: USERS[0],
    participants: USERS.map((u) => ({ userId: u })),
    iceTransportPolicy: 'relay',
  });
  assert.equal(put.status, 201);

  const pcs = {};
  const clients = {};
  const seen = []; // every offer, answer and ice-candidate that came through the server
  t.after(() => {
    for (const c of Object.values(clients)) c.leave?.().catch?.(() => {});
    for (const list of Object.values(pcs)) for (const pc of list) pc.close();
  });
  for (const user of USERS) {
    pcs[user] = [];
    const client = new SignalingClient({
      url: server.baseUrl,
      token: server.token(user),
      sessionId,
      WebSocket,
      RTCPeerConnection: makePeerConnectionClass(wrtc, pcs[user]),
      MediaStream: wrtc.MediaStream,
      receiveKinds: [],
      reconnect: false,
    });
    client.on('message', (m) => {
      if (m.type === 'offer' || m.type === 'answer' || m.type === 'ice-candidate') seen.push(m);
    });
    clients[user] = client;
    await client.join();
    assert.equal(client.iceTransportPolicy, 'relay');
  }

  const connected = () => USERS.every((u) => pcs[u].length === 3 && pcs[u].every((pc) => pc.connectionState === 'connected'));
  await waitFor(connected, { timeoutMs: CONNECT_MS, intervalMs: 200, what: 'all six pairs connected' }).catch((err) => {
    const states = USERS.map((u) => `${u}: ${pcs[u].map((pc) => `${pc.connectionState}/${pc.iceConnectionState}`).join(' ')}`);
    throw new Error(`${err.message}\n${states.join('\n')}\ncoturn:\n${turn.log.slice(-3000)}`);
  });

  for (const u of USERS) {
    for (const pc of pcs[u]) {
      assert.equal(pc.testConfig.iceTransportPolicy, 'relay');
      const pair = await selectedPair(pc);
      assert.ok(pair, `${u}: no selected candidate pair`);
      assert.equal(pair.local.candidateType, 'relay', `${u}: local candidate ${JSON.stringify(pair.local)}`);
      assert.equal(pair.remote.candidateType, 'relay', `${u}: remote candidate ${JSON.stringify(pair.remote)}`);
    }
  }

  // Data both ways on every connection: each peer says hello on each of its channels.
  await waitFor(() => USERS.every((u) => pcs[u].every((pc) => pc.channel.readyState === 'open')),
    { timeoutMs: 15_000, what: 'data channels open' });
  for (const u of USERS) for (const pc of pcs[u]) pc.channel.send(`hello from ${u}`);
  await waitFor(() => USERS.every((u) => pcs[u].every((pc) => pc.received.length >= 1)),
    { timeoutMs: 15_000, what: 'a message on every channel' });
  for (const u of USERS) {
    const from = pcs[u].flatMap((pc) => pc.received).map((m) => m.replace('hello from ', '')).sort();
    assert.deepEqual(from, USERS.filter((x) => x !== u).sort(), `${u} heard ${from}`);
  }

  // Nothing but relay candidates went through the server.
  assert.ok(seen.some((m) => m.type === 'ice-candidate'), 'no candidate was relayed');
  for (const m of seen) {
    const types = m.type === 'ice-candidate' ? sdpCandidateTypes(`a=${m.candidate.candidate}`) : sdpCandidateTypes(m.sdp);
    for (const type of types) assert.equal(type, 'relay', `a ${type} candidate went through the server: ${JSON.stringify(m).slice(0, 300)}`);
  }
});
