// One participant of tests/integration/turn-netns.test.mjs, run inside its own network namespace
// (`ip netns exec`): the client library with @roamhq/wrtc. Its signaling goes through a Unix
// socket that the test forwards to the server (file system, not network: the namespace itself
// reaches only the TURN namespace). Reports JSON lines on stdout:
//   {"event":"connected","pairs":[{"local":"relay","remote":"relay"},...]}
//   {"event":"received","from":["ben",...]}   {"event":"error","message":...}
//   {"event":"relayed","types":[...]}         (candidate types of every SDP/candidate it saw)
// It says hello on every data channel once all are open, and leaves when stdin closes (or after
// MAX_LIFE_MS).
import WebSocket from 'ws';

import { SignalingClient } from '../../clients/js/src/index.js';
import { loadWrtc, makePeerConnectionClass, selectedPair, sdpCandidateTypes } from './wrtc-support.mjs';

const MAX_LIFE_MS = 120_000;
const cfg = JSON.parse(process.env.PEER_CONFIG);
const wrtc = loadWrtc();
const report = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

class UnixWebSocket extends WebSocket {
  constructor(url, protocols) {
    const u = new URL(url);
    super(`ws+unix://${cfg.socket}:${u.pathname}${u.search}`, protocols);
  }
}

const pcs = [];
const types = new Set();
const client = new SignalingClient({
  url: 'http://signaling.invalid',
  token: cfg.token,
  sessionId: cfg.sessionId,
  WebSocket: UnixWebSocket,
  RTCPeerConnection: makePeerConnectionClass(wrtc, pcs),
  MediaStream: wrtc.MediaStream,
  receiveKinds: [],
  reconnect: false,
});
client.on('message', (m) => {
  if (m.type === 'offer' || m.type === 'answer') for (const t of sdpCandidateTypes(m.sdp)) types.add(t);
  if (m.type === 'ice-candidate') for (const t of sdpCandidateTypes(`a=${m.candidate?.candidate ?? ''}`)) types.add(t);
});

const finish = async (code) => {
  report({ event: 'relayed', types: [...types] });
  await client.leave().catch(() => {});
  for (const pc of pcs) pc.close();
  process.exit(code);
};
setTimeout(() => finish(3), MAX_LIFE_MS).unref();
process.stdin.on('end', () => finish(0));
process.stdin.resume();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, ms, what) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

try {
  await client.join();
  report({ event: 'joined', policy: client.iceTransportPolicy });
  await until(() => pcs.length === cfg.peers && pcs.every((pc) => pc.connectionState === 'connected'), 60_000,
    `${cfg.peers} connected peer connections (${pcs.map((pc) => pc.connectionState).join(' ')})`);
  const pairs = [];
  for (const pc of pcs) {
    const p = await selectedPair(pc);
    pairs.push({ local: p?.local?.candidateType ?? null, remote: p?.remote?.candidateType ?? null, localAddress: p?.local?.address ?? p?.local?.ip ?? null });
  }
  report({ event: 'connected', pairs, policy: pcs.map((pc) => pc.testConfig.iceTransportPolicy ?? 'all') });
  await until(() => pcs.every((pc) => pc.channel.readyState === 'open'), 20_000, 'data channels open');
  for (const pc of pcs) pc.channel.send(`hello from ${cfg.user}`);
  await until(() => pcs.every((pc) => pc.received.length >= 1), 20_000, 'a message on every channel');
  report({ event: 'received', from: pcs.flatMap((pc) => pc.received).map((m) => m.replace('hello from ', '')) });
} catch (err) {
  report({ event: 'error', message: String(err?.message ?? err) });
}
