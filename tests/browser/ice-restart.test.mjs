// ICE restart on a network change: a participant's address changes under a running call, and
// media resumes on the SAME RTCPeerConnections (an ICE restart negotiated through the signaling
// server), not on new ones.
//
// Two network namespaces made here, linked by two veth pairs and nothing else: "rest" holds one
// Chromium with alice, bob and carol (three contexts), "mover" one Chromium with dave. Link A
// carries 198.18.1.1 (rest) <-> 198.18.1.2 (mover); link B 198.18.2.1 (rest) <-> the mover's end,
// up but without an address. Nothing else is routed: no default route, addresses from
// 198.18.0.0/15 only, inside these namespaces only. Each namespace reaches the signaling server
// (running where the test runs) through its own 127.0.0.1:<port> forwarded to a Unix socket (the
// file system crosses namespaces, the network does not), so the signaling connection survives the
// move and the test is about ICE alone.
//
// The move: 198.18.1.2 is deleted from the mover's end of link A and 198.18.2.2 added on link B.
// Asserted: dave's connections leave 'connected' (the old path is dead), no RTCPeerConnection is
// constructed or closed in any page, the restart offers (a new ice-ufrag) come only from dave (the
// impolite side: the larger userId), the selected candidate pairs then use 198.18.2.2, and video
// is presented again on the six directed pairs with dave. The time without frames is printed.
// Needs root (ip netns); skipped otherwise. Namespaces and their processes are removed at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';

import {
  T, USERS, startServer, createSession, launchBrowser, openRoom, closeRoom, connectedTo, inPage,
  mediaMonitorScript, markAll, reportAll, framesFlowSince, gapTable, selectedPairs,
} from './helpers.mjs';
import { NetnsTopology, canMakeNetns, netnsTcpToUnix, unixForwarder } from '../integration/turn-support.mjs';

const FOUR = [USERS.alice, USERS.bob, USERS.carol, USERS.dave];
const OLD_IP = '198.18.1.2';
const NEW_IP = '198.18.2.2';

const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString();

/** The two namespaces and their links; remove() kills what runs in them and deletes them. */
class TwoRooms {
  constructor() {
    const sfx = crypto.randomBytes(2).toString('hex');
    this.rest = `sigir-r-${sfx}`;
    this.mover = `sigir-m-${sfx}`;
    this.linkA = { rest: `irar${sfx}`, mover: `iram${sfx}` };
    this.linkB = { rest: `irbr${sfx}`, mover: `irbm${sfx}` };
  }

  create() {
    for (const ns of [this.rest, this.mover]) {
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    for (const [link, net] of [[this.linkA, 1], [this.linkB, 2]]) {
      ip('link', 'add', link.rest, 'netns', this.rest, 'type', 'veth', 'peer', 'name', link.mover, 'netns', this.mover);
      ip('-n', this.rest, 'addr', 'add', `198.18.${net}.1/24`, 'dev', link.rest);
      ip('-n', this.rest, 'link', 'set', link.rest, 'up');
      ip('-n', this.mover, 'link', 'set', link.mover, 'up');
    }
    ip('-n', this.mover, 'addr', 'add', `${OLD_IP}/24`, 'dev', this.linkA.mover);
  }

  /** The mover leaves link A's address for link B's. */
  move() {
    ip('-n', this.mover, 'addr', 'del', `${OLD_IP}/24`, 'dev', this.linkA.mover);
    ip('-n', this.mover, 'addr', 'add', `${NEW_IP}/24`, 'dev', this.linkB.mover);
  }

  /** The mover's IPv4 addresses. */
  moverAddresses() {
    return [...ip('-n', this.mover, '-4', '-o', 'addr', 'show').matchAll(/inet (\S+)\//g)].map((m) => m[1]);
  }

  remove() {
    for (const ns of [this.rest, this.mover]) {
      for (const pid of NetnsTopology.pidsIn(ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const ns of [this.rest, this.mover]) {
      try {
        ip('netns', 'del', ns); // the veth pairs go with them
      } catch {
        /* not created */
      }
    }
  }
}

test('ICE restart: a participant moves to a new address; media resumes on the same RTCPeerConnections', { skip: canMakeNetns() ? false : 'network namespaces need root (ip netns)' }, async (t) => {
  const undo = [];
  t.after(async () => {
    for (const step of undo.reverse()) {
      let timer;
      const bound = new Promise((r) => { timer = setTimeout(r, 15_000); });
      await Promise.race([Promise.resolve().then(step).catch(() => {}), bound]);
      clearTimeout(timer);
    }
  });
  const topo = new TwoRooms();
  undo.push(() => topo.remove());
  topo.create();

  const server = await startServer({ extraArgs: ['--heartbeat-interval', '1s', '--heartbeat-timeout', '3s'] });
  undo.push(() => server.stop());
  const unix = await unixForwarder(server.port);
  undo.push(() => unix.close());
  const forwarders = [];
  undo.push(() => Promise.all(forwarders.map((f) => f.stop())));
  for (const ns of [topo.rest, topo.mover]) forwarders.push(await netnsTcpToUnix(ns, server.port, unix.socket));
  const sessionId = await createSession(server, FOUR);

  const restBrowser = await launchBrowser({ netns: topo.rest });
  undo.push(() => restBrowser.close());
  const moverBrowser = await launchBrowser({ netns: topo.mover });
  undo.push(() => moverBrowser.close());
  const rooms = [];
  undo.push(async () => {
    for (const r of rooms) await closeRoom(r);
  });
  const via = `http://127.0.0.1:${server.port}`; // inside each namespace: its forwarder
  for (const u of FOUR) {
    rooms.push(await openRoom(u.userId === 'dave' ? moverBrowser : restBrowser, server, sessionId, u, { via, init: [mediaMonitorScript] }));
  }
  const dave = rooms[3];
  const rest = rooms.slice(0, 3);
  for (const r of rooms) await connectedTo(r, FOUR.filter((u) => u.userId !== r.userId));
  await markAll(rooms, 'connected');
  await framesFlowSince(rooms, 'connected', 10);
  // Dave's media to and from the others takes link A.
  for (const s of await selectedPairs(dave)) assert.equal(s.localAddress, OLD_IP, `dave -> ${s.userId} before the move: ${JSON.stringify(s)}`);

  await markAll(rooms, 'before');
  await dave.page.evaluate(() => {
    window.__pcsBefore = Object.fromEntries(window.room.client.peers().map((p) => [p.userId, p.pc]));
  });
  const ufragBefore = await dave.page.evaluate(() =>
    Object.fromEntries(window.room.client.peers().map((p) => [p.userId, p.pc.localDescription?.sdp?.match(/a=ice-ufrag:(\S+)/)?.[1] ?? null])));
  await new Promise((r) => setTimeout(r, 2000));
  topo.move();
  assert.deepEqual(topo.moverAddresses().filter((a) => a !== '127.0.0.1'), [NEW_IP]);
  await markAll(rooms, 'moved');

  // The old path is dead: dave's connections leave 'connected' (disconnected or failed), then the
  // restart brings them back.
  await inPage(
    dave,
    () => window.room.events.filter((e) => e.type === 'peer-state' && ['disconnected', 'failed'].includes(e.connectionState))
      .map((e) => e.userId).filter((v, i, a) => a.indexOf(v) === i).length === 3,
    undefined,
    'its three connections left "connected" after the move',
    T.event,
  );
  for (const r of rooms) await connectedTo(r, FOUR.filter((u) => u.userId !== r.userId), 90_000);
  await framesFlowSince(rooms, 'moved', 10, 90_000);
  await markAll(rooms, 'after');

  const reports = await reportAll(rooms, 'before', 'after');
  const { lines } = gapTable(reports);
  const withDave = lines.filter((l) => l.includes('dave'));
  const sent = {};
  for (const r of rooms) {
    sent[r.userId] = await r.page.evaluate(() => {
      const at = window.__media.marks.moved.at;
      return window.__media.sent.filter((m) => m.at > at && (m.type === 'offer' || m.type === 'answer'))
        .map((m) => ({ type: m.type, to: m.toUserId, ufrag: m.sdp?.match(/a=ice-ufrag:(\S+)/)?.[1] ?? null }));
    });
  }
  // Dave's timeline after the move (ms): each connection's first 'disconnected'/'failed', its
  // restart offer, its 'connected' again.
  const timeline = await dave.page.evaluate(() => {
    const moved = window.__media.marks.moved.at;
    const perf = (wall) => wall - (Date.now() - performance.now());
    const out = {};
    for (const p of window.room.client.peers()) {
      const states = window.room.events.filter((e) => e.type === 'peer-state' && e.userId === p.userId && perf(e.at) > moved);
      const downAt = states.findIndex((e) => e.connectionState === 'disconnected' || e.connectionState === 'failed');
      const up = downAt < 0 ? null : states.slice(downAt).find((e) => e.connectionState === 'connected');
      const offer = window.__media.sent.find((m) => m.type === 'offer' && m.toUserId === p.userId && m.at > moved);
      const ms = (e) => (e ? Math.round(perf(e.at) - moved) : null);
      out[p.userId] = { down: ms(states[downAt]), offer: offer ? Math.round(offer.at - moved) : null, up: ms(up) };
    }
    return out;
  });
  const summary = [
    ...withDave,
    ...Object.entries(timeline).map(([id, x]) => `dave<->${id}: down after ${x.down} ms, restart offer after ${x.offer} ms, connected again after ${x.up} ms`),
    ...Object.entries(reports).map(([id, r]) => `${id}: PCs constructed ${r.created}, closed ${r.closeCalls}; tiles removed [${r.tileRemovals}]`),
    ...Object.entries(sent).map(([id, list]) => `${id} sent after the move: ${list.map((m) => `${m.type}->${m.to}`).join(' ') || 'nothing'}`),
  ];
  for (const line of summary) t.diagnostic(line);
  console.log(`--- ${t.name}\n${summary.join('\n')}`);

  // The same connections: none constructed or closed anywhere, dave's are the objects of before.
  const torn = Object.fromEntries(Object.entries(reports).map(([id, r]) => [id, { constructed: r.created, closed: r.closeCalls, tilesRemoved: r.tileRemovals }]));
  const zero = Object.fromEntries(rooms.map((r) => [r.userId, { constructed: 0, closed: 0, tilesRemoved: [] }]));
  assert.deepEqual(torn, zero, `RTCPeerConnections constructed or closed, tiles removed, by page: ${JSON.stringify(torn)}`);
  assert.ok(await dave.page.evaluate(() => window.room.client.peers().every((p) => p.pc === window.__pcsBefore[p.userId])), 'dave kept the same RTCPeerConnection objects');

  // The restart: offers with a new ice-ufrag, from dave (the impolite side) only; the others answer.
  for (const r of rest) {
    assert.deepEqual(sent[r.userId].filter((m) => m.type === 'offer'), [], `${r.userId} (polite towards dave) sent no offer`);
    assert.ok(sent[r.userId].some((m) => m.type === 'answer' && m.to === 'dave'), `${r.userId} answered dave's restart offer`);
  }
  for (const r of rest) {
    const offers = sent.dave.filter((m) => m.type === 'offer' && m.to === r.userId);
    assert.ok(offers.some((m) => m.ufrag && m.ufrag !== ufragBefore[r.userId]),
      `dave sent ${r.userId} an ICE restart offer (a new ice-ufrag, not ${ufragBefore[r.userId]}): ${JSON.stringify(offers)}`);
  }
  // Media takes the new address now.
  for (const s of await selectedPairs(dave)) assert.equal(s.localAddress, NEW_IP, `dave -> ${s.userId} after the move: ${JSON.stringify(s)}`);
  for (const r of rest) {
    const toDave = (await selectedPairs(r)).find((s) => s.userId === 'dave');
    assert.equal(toDave?.remoteAddress, NEW_IP, `${r.userId} -> dave after the move: ${JSON.stringify(toDave)}`);
  }
});
