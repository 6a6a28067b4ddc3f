// Peers that cannot reach each other directly still form the whole mesh through TURN. Each of
// four participants runs in its own network namespace (made here), linked by a veth pair only to
// a namespace that holds coturn; the TURN namespace does not forward, so nothing is routed
// between participants (checked); addresses come from 198.18.0.0/15 and exist inside these
// namespaces only, so nothing leaves the machine. Real WebRTC (@roamhq/wrtc with the client
// library, tests/integration/turn-netns-peer.mjs) in a relay-only session: all six pairs
// connect, every selected pair is relay/relay, data flows both ways, and only relay candidates
// pass through the server. Twice: coturn on UDP, and coturn on TCP only (no-udp).
// Needs root (ip netns); skipped otherwise. The namespaces are removed at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';

import { startServer, randomId, waitFor } from './harness.mjs';
import {
  NETNS_TURN_IP as TURN_IP, NetnsTopology, TurnServer, canMakeNetns, netnsPeerIp as peerIp, netnsTryConnect as tryConnect,
  skipWithoutTurn, unixForwarder,
} from './turn-support.mjs';
import { loadWrtc } from './wrtc-support.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const USERS = ['ann', 'ben', 'cat', 'dan'];

function skipUnlessPossible(t) {
  if (skipWithoutTurn(t)) return true;
  if (!loadWrtc()) return t.skip('@roamhq/wrtc is not installed (npm ci)') ?? true;
  if (!canMakeNetns()) return t.skip('network namespaces need root') ?? true;
  return false;
}

function startPeer(ns, config) {
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, path.join(here, 'turn-netns-peer.mjs')], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PEER_CONFIG: JSON.stringify(config) },
  });
  const peer = { proc, events: [], stderr: '' };
  let buf = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        peer.events.push(JSON.parse(line));
      } catch {
        peer.stderr += `${line}\n`;
      }
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (d) => {
    if (peer.stderr.length < 20_000) peer.stderr += d;
  });
  peer.exited = new Promise((r) => proc.on('exit', r));
  return peer;
}

async function meshThroughTurn(t, transports) {
  const topo = new NetnsTopology(USERS.length);
  t.after(() => topo.remove());
  topo.create();

  const secret = crypto.randomBytes(24).toString('hex');
  const turn = new TurnServer({ secret, netns: topo.turnNs, listenIp: TURN_IP, transports });
  t.after(() => turn.stop());
  await turn.start();

  // Isolation: a participant reaches the TURN server and nothing else.
  const turnReach = tryConnect(topo.peerNs[0], TURN_IP, turn.port);
  assert.equal(turnReach, 'connected', 'participant 1 cannot reach coturn');
  for (const i of [1, 2, 3]) {
    const r = tryConnect(topo.peerNs[0], peerIp(i), 9);
    assert.notEqual(r, 'connected', `participant 1 reached participant ${i + 1} directly`);
    assert.match(r, /ENETUNREACH|EHOSTUNREACH|ETIMEDOUT/);
  }

  const server = await startServer(t, { args: ['--turn-uri', turn.uri, '--turn-secret', secret] });
  const sessionId = randomId();
  const put = await server.admin('PUT', `/api/sessions/${sessionId}`, {
    hostUserId: USERS[0], participants: USERS.map((u) => ({ userId: u })), iceTransportPolicy: 'relay',
  });
  assert.equal(put.status, 201);
  const forwarder = await unixForwarder(server.port);
  t.after(() => forwarder.close());
  const { socket } = forwarder;

  const peers = USERS.map((user, i) =>
    startPeer(topo.peerNs[i], { socket, sessionId, token: server.token(user), user, peers: USERS.length - 1 }));
  t.after(async () => {
    for (const p of peers) p.proc.stdin.end();
    await Promise.race([Promise.all(peers.map((p) => p.exited)), new Promise((r) => setTimeout(r, 10_000))]);
    for (const p of peers) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
  });

  const done = (p) => p.events.some((e) => e.event === 'received' || e.event === 'error') || p.proc.exitCode !== null;
  await waitFor(() => peers.every(done), { timeoutMs: 100_000, intervalMs: 200, what: 'every participant done' }).catch((err) => {
    throw new Error(`${err.message}\n${peers.map((p, i) => `${USERS[i]}: ${JSON.stringify(p.events)} ${p.stderr.slice(-500)}`).join('\n')}`);
  });
  for (const p of peers) p.proc.stdin.end();
  await Promise.race([Promise.all(peers.map((p) => p.exited)), new Promise((r) => setTimeout(r, 10_000))]);

  peers.forEach((p, i) => {
    const user = USERS[i];
    const what = `${user}: ${JSON.stringify(p.events)}\n${p.stderr.slice(-1000)}\ncoturn:\n${turn.log.slice(-1500)}`;
    const error = p.events.find((e) => e.event === 'error');
    assert.equal(error, undefined, what);
    assert.equal(p.events.find((e) => e.event === 'joined')?.policy, 'relay', what);
    const connected = p.events.find((e) => e.event === 'connected');
    assert.ok(connected, what);
    assert.equal(connected.pairs.length, 3, what);
    for (const pair of connected.pairs) {
      assert.equal(pair.local, 'relay', what);
      assert.equal(pair.remote, 'relay', what);
    }
    assert.deepEqual(connected.policy, ['relay', 'relay', 'relay'], what);
    const received = p.events.find((e) => e.event === 'received');
    assert.deepEqual([...received.from].sort(), USERS.filter((u) => u !== user).sort(), what);
    const relayed = p.events.find((e) => e.event === 'relayed');
    assert.ok(relayed && relayed.types.length > 0, `${user}: no candidate passed through the server\n${what}`);
    assert.deepEqual(relayed.types, ['relay'], what);
  });
}

test('netns: four participants with no route between them form the mesh through coturn (UDP)', async (t) => {
  if (skipUnlessPossible(t)) return;
  await meshThroughTurn(t, 'udp+tcp');
});

test('netns: the same with coturn on TCP only (no-udp, turn:...?transport=tcp)', async (t) => {
  if (skipUnlessPossible(t)) return;
  await meshThroughTurn(t, 'tcp');
});
