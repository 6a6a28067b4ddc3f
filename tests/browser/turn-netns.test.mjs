// Browsers that cannot reach each other directly still form the whole mesh through TURN. Four
// Chromium instances, each inside its own network namespace (made here), linked by a veth pair
// only to a namespace that holds coturn; the TURN namespace does not forward, so nothing is
// routed between participants (checked from every participant to every other); addresses come
// from 198.18.0.0/15 and exist inside these namespaces only, so nothing leaves the machine.
//
// Each namespace gets a small forwarder on its own 127.0.0.1:<server port> to a Unix socket that
// the test forwards to the server (the file system crosses namespaces, the network does not), so
// the page is the demo room at http://127.0.0.1:<port>/room.html (a secure context, as a real
// deployment's https origin), and its WebSocket takes the same path. The server runs where the
// test runs, with --turn-uri/--turn-secret pointing at coturn's 198.18.255.1; the session is
// relay-only. Asserted: six connections, every selected candidate pair relay/relay with coturn's
// address, video decoded both ways on each of the 12 directed pairs (framesDecoded growing), no
// SDP with a host or server-reflexive candidate, and Chromium's processes inside the namespaces.
// Needs root (ip netns) and coturn; skipped otherwise. Namespaces, links and processes are
// removed at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';

import { USERS, admin, startServer, launchBrowser, openRoom, closeRoom, connectedTo, decodesVideoFrom, inPage, selectedPairs } from './helpers.mjs';
import {
  NETNS_TURN_IP, NetnsTopology, TURN_BIN, TurnServer, canMakeNetns, netnsPeerIp, netnsTcpToUnix, netnsTryConnect,
  unixForwarder,
} from '../integration/turn-support.mjs';

const four = [USERS.alice, USERS.bob, USERS.carol, USERS.dave];

function skipReason() {
  if (!fs.existsSync(TURN_BIN)) return `${TURN_BIN} not found (apt-get install coturn)`;
  if (!canMakeNetns()) return 'network namespaces need root (ip netns)';
  return false;
}

/** The command names of the processes running in namespace `ns`. */
function commsIn(ns) {
  return NetnsTopology.pidsIn(ns).map((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      return ''; // gone
    }
  });
}

test('netns: four Chromium participants with no route between them form the mesh through coturn', { skip: skipReason() }, async (t) => {
  // One after hook that undoes the set-up in reverse order, whatever the order node:test runs
  // hooks in; the namespaces go last (remove() also kills whatever is still running in them).
  const undo = [];
  t.after(async () => {
    for (const step of undo.reverse()) {
      let timer;
      const bound = new Promise((r) => { timer = setTimeout(r, 15_000); }); // each step bounded
      await Promise.race([Promise.resolve().then(step).catch(() => {}), bound]);
      clearTimeout(timer);
    }
  });
  const topo = new NetnsTopology(four.length);
  undo.push(() => topo.remove());
  try {
    topo.create();
  } catch (err) {
    if (/Operation not permitted|Permission denied/.test(String(err.stderr ?? err.message))) {
      t.skip(`cannot make network namespaces here: ${String(err.stderr ?? err.message).trim()}`);
      return;
    }
    throw err;
  }

  const secret = crypto.randomBytes(24).toString('hex');
  const turn = new TurnServer({ secret, netns: topo.turnNs, listenIp: NETNS_TURN_IP });
  undo.push(() => turn.stop());
  await turn.start();

  // Isolation: each participant reaches coturn, and no other participant.
  topo.peerNs.forEach((ns, i) => {
    assert.equal(netnsTryConnect(ns, NETNS_TURN_IP, turn.port), 'connected', `participant ${i + 1} cannot reach coturn`);
    for (let j = 0; j < four.length; j += 1) {
      if (j === i) continue;
      const r = netnsTryConnect(ns, netnsPeerIp(j), 9);
      assert.match(r, /ENETUNREACH|EHOSTUNREACH|ETIMEDOUT/, `participant ${i + 1} -> participant ${j + 1}: ${r}`);
    }
  });

  const server = await startServer({ extraArgs: ['--turn-uri', turn.uri, '--turn-secret', secret] });
  undo.push(() => server.stop());
  const sessionId = `bt-${crypto.randomBytes(6).toString('hex')}`;
  await admin(server, 'PUT', `/api/sessions/${sessionId}`, {
    hostUserId: four[0].userId, participants: four, iceTransportPolicy: 'relay',
  });

  const unix = await unixForwarder(server.port);
  undo.push(() => unix.close());
  const forwarders = [];
  undo.push(() => Promise.all(forwarders.map((f) => f.stop())));
  for (const ns of topo.peerNs) forwarders.push(await netnsTcpToUnix(ns, server.port, unix.socket));

  const browsers = [];
  const rooms = [];
  undo.push(async () => {
    for (const r of rooms) await closeRoom(r);
    for (const b of browsers) await b.close().catch(() => {});
  });
  const via = `http://127.0.0.1:${server.port}`; // inside each namespace: its own forwarder
  for (const [i, u] of four.entries()) {
    browsers.push(await launchBrowser({ netns: topo.peerNs[i] }));
    rooms.push(await openRoom(browsers[i], server, sessionId, u, { via }));
  }
  topo.peerNs.forEach((ns, i) => {
    const comms = commsIn(ns);
    assert.ok(comms.some((c) => /chrom/i.test(c)), `no Chromium process in ${four[i].userId}'s namespace: ${comms}`);
  });

  const others = (me) => four.filter((u) => u.userId !== me.userId);
  for (const r of rooms) await connectedTo(r, others(r.user));
  // Each page decodes from the three others: together the 12 directed pairs, both ways each.
  for (const r of rooms) await decodesVideoFrom(r, others(r.user));

  for (const r of rooms) {
    const seen = await selectedPairs(r);
    const what = (s) => `${r.userId} -> ${s.userId}: ${JSON.stringify(s)}`;
    assert.equal(seen.length, 3, `${r.userId}: ${JSON.stringify(seen)}`);
    for (const s of seen) {
      assert.equal(s.policy, 'relay', what(s));
      assert.equal(s.local, 'relay', what(s));
      assert.equal(s.remote, 'relay', what(s));
      // Both relayed addresses are coturn's (the only address a participant can reach).
      assert.equal(s.localAddress, NETNS_TURN_IP, what(s));
      assert.equal(s.remoteAddress, NETNS_TURN_IP, what(s));
      assert.ok(s.sdpTypes.length > 0, what(s));
      for (const type of s.sdpTypes) assert.equal(type, 'relay', what(s));
    }
    await inPage(r, () => window.room.client.iceTransportPolicy === 'relay', undefined, 'the client knows the session is relay-only', 5000);
  }
});
