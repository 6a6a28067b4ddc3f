// Media continuity with real WebRTC: four Chromium participants in the demo room send video to
// each other while the signaling side breaks under them; the peer connections must survive it
// (the server resumes the participant, the client library keeps its RTCPeerConnections).
//
//   1. one participant's WebSocket is cut without a close frame (a TCP reset in a proxy);
//   2. two nodes and a real Redis behind nginx (the configuration of docs/deployment.md): the node
//      serving some participants is killed with SIGKILL, they resume on the other one;
//   3. the same cluster: a rolling restart (SIGTERM, drain, close 1012) of both nodes in turn.
//
// Measured in each page (tests/browser/helpers.mjs mediaMonitorScript): the RTCPeerConnections
// constructed and closed, the tiles removed, the "reconnecting" badge, and every video frame
// presented per remote tile (requestVideoFrameCallback). Asserted: no peer connection constructed
// or closed and no tile removed in the whole window, the badge shown on the tile of a user the
// page heard was reconnecting and gone once it is back, frames presented again on all 12 directed
// pairs afterwards. The longest gap between two frames of every directed pair is printed (a
// timing: never asserted).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';

import {
  ROOT, T, USERS, startServer, createSession, launchBrowser, openRoom, closeRoom, connectedTo, inPage,
  startCuttableProxy, mediaMonitorScript, markAll, reportAll, framesFlowSince, gapTable,
} from './helpers.mjs';
import { SignalingServer, waitFor, withTimeout, randomId } from '../integration/harness.mjs';
import { RespClient, RedisProcess, freePort, killNode, skipWithoutNginx, startNginx } from '../integration/cluster-harness.mjs';

const FOUR = [USERS.alice, USERS.bob, USERS.carol, USERS.dave];
const INIT = [mediaMonitorScript];
const WEB_ROOT = process.env.BROWSER_TEST_WEB_ROOT ?? path.join(ROOT, 'web');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The flags of this server binary (features of other branches are used only when present). */
const SERVER_HELP = (() => {
  const bin = process.env.SIGNALING_SERVER ?? process.env.SIGNALING_BIN ?? path.join(ROOT, 'build', 'signaling-server');
  try {
    return execFileSync(bin, ['--help'], { timeout: 10_000 }).toString();
  } catch {
    return '';
  }
})();
const flagIf = (flag, value) => (SERVER_HELP.includes(flag) ? [flag, value] : []);

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Runs the set-up steps' undo in reverse order, each bounded. */
function undoer(t) {
  const undo = [];
  t.after(async () => {
    for (const step of undo.reverse()) {
      let timer;
      const bound = new Promise((r) => { timer = setTimeout(r, 15_000); });
      await Promise.race([Promise.resolve().then(step).catch(() => {}), bound]);
      clearTimeout(timer);
    }
  });
  return (fn) => undo.push(fn);
}

/** Waits until every room of `rooms` joined again (a `joined` received after mark `from`). */
async function rejoinedSince(rooms, from, timeoutMs = T.reconnect) {
  for (const r of rooms) {
    await inPage(
      r,
      (f) => {
        const at = window.__media.marks[f].at;
        return window.room.client.state === 'joined' && window.__media.wire.some((e) => e.type === 'joined' && e.at > at);
      },
      from,
      `it joined again after mark "${from}"`,
      timeoutMs,
    );
  }
}

/**
 * The assertions of every scenario, over the window [from, to] (the disruption and the recovery):
 * prints the report, then checks it; then waits for frames on every directed pair after `to`.
 */
async function assertContinuity(t, rooms, from, to, victims, noFrames = null) {
  const reports = await reportAll(rooms, from, to);
  const { lines, worst } = gapTable(reports);
  const summary = [
    `window ${Math.max(...Object.values(reports).map((r) => r.windowMs))} ms; largest gap between two presented frames: ${worst} ms`,
    ...lines,
    ...Object.entries(reports).map(([id, r]) =>
      `${id}: PCs constructed ${r.created}, closed ${r.closeCalls} (state closed ${r.closedState}); tiles removed [${r.tileRemovals}]; ` +
      `badges [${r.badges}]; ws closes [${r.wsCloses}]; signaling [${r.wire.join(' ')}]`),
  ];
  for (const line of summary) t.diagnostic(line);
  console.log(`--- ${t.name}\n${summary.join('\n')}`);
  if (noFrames) throw noFrames;

  const torn = Object.fromEntries(Object.entries(reports).map(([id, r]) => [id, {
    constructed: r.created, closed: r.closeCalls, closedState: r.closedState, tilesRemoved: r.tileRemovals,
  }]));
  const zero = Object.fromEntries(rooms.map((r) => [r.userId, { constructed: 0, closed: 0, closedState: 0, tilesRemoved: [] }]));
  assert.deepEqual(torn, zero, `RTCPeerConnections constructed or closed, tiles removed, by page: ${JSON.stringify(torn)}`);

  const victimIds = victims.map((v) => v.userId);
  for (const r of rooms) {
    const rep = reports[r.userId];
    for (const v of victimIds) {
      if (v === r.userId) continue;
      assert.ok(!rep.wire.includes(`participant-left(${v})`), `${r.userId} was told ${v} left: ${rep.wire.join(' ')}`);
      // The badge: seen when the page was told the user was reconnecting (a resume noticed by the
      // server only when it happened comes with participant-reconnected alone).
      if (rep.wire.includes(`participant-reconnecting(${v})`)) {
        assert.ok(rep.badges.includes(`${v}:on`), `${r.userId}: no reconnecting badge on ${v}'s tile: [${rep.badges}]`);
      }
    }
    const still = await r.page.evaluate(() => Object.entries(window.__media.badgeOn).filter(([, on]) => on).map(([id]) => id));
    assert.deepEqual(still, [], `${r.userId}: a reconnecting badge is still shown`);
  }
  for (const v of victims) {
    const rep = reports[v.userId];
    assert.ok(rep.wire.some((w) => w === 'joined[resumed=true]'), `${v.userId} resumed: [${rep.wire.join(' ')}]`);
  }
  // Media still flows on the 12 directed pairs (the same connections).
  await framesFlowSince(rooms, to, 10);
}

/**
 * After the disruption: waits (bounded) for frames on every directed pair, then checks the window
 * from mark 'before' to now. The report is printed even when the frames never come back.
 */
async function recovered(t, rooms, victims) {
  await markAll(rooms, 'back');
  let noFrames = null;
  await framesFlowSince(rooms, 'back', 10).catch((err) => {
    noFrames = err;
  });
  await markAll(rooms, 'after');
  await assertContinuity(t, rooms, 'before', 'after', victims, noFrames);
}

async function openFour(t, add, server, sessionId, { via = {}, beforeOpen } = {}) {
  const rooms = [];
  add(async () => {
    for (const r of rooms) await closeRoom(r);
  });
  for (const u of FOUR) {
    for (let attempt = 0; ; attempt += 1) {
      await beforeOpen?.(attempt);
      const r = await openRoom(browser, server, sessionId, u, { via: via[u.userId], init: INIT });
      if (!server.accept || (await server.accept(r, rooms)) || attempt >= 5) {
        rooms.push(r);
        break;
      }
      await closeRoom(r);
    }
  }
  for (const r of rooms) await connectedTo(r, FOUR.filter((u) => u.userId !== r.userId));
  await markAll(rooms, 'connected');
  await framesFlowSince(rooms, 'connected', 10);
  return rooms;
}

// ---------------------------------------------------------------------------------------------

test('1. a participant\'s WebSocket cut without a close frame: no peer connection torn down, media flows on every pair', async (t) => {
  const add = undoer(t);
  const server = await startServer({ extraArgs: ['--heartbeat-interval', '1s', '--heartbeat-timeout', '3s', ...flagIf('--resume-window', '10s')] });
  add(() => server.stop());
  const proxy = await startCuttableProxy(server.port);
  add(() => proxy.close());
  const sessionId = await createSession(server, FOUR);
  // Dave's page, and so his WebSocket, goes through a proxy whose connections the test resets.
  const rooms = await openFour(t, add, server, sessionId, { via: { dave: proxy.baseUrl } });
  const dave = rooms[3];

  await markAll(rooms, 'before');
  await sleep(2000); // frames before the cut, in the window
  assert.ok(proxy.cutAll() >= 1, 'the proxy had dave\'s WebSocket open');
  await inPage(dave, () => window.__media.wsCloses.some((c) => c.code === 1006), undefined, 'its WebSocket closed with 1006', T.event);
  await rejoinedSince([dave], 'before');
  await recovered(t, rooms, [dave]);
});

// ---------------------------------------------------------------------------------------------
// two nodes, Redis, nginx

/** A node on a fixed port (a restarted node takes its predecessor's place in nginx's upstream), logging at info. */
class NodeOnPort extends SignalingServer {
  constructor(options, port) {
    super(options);
    this.fixedPort = port;
  }

  get args() {
    const a = super.args;
    a[a.indexOf('--port') + 1] = String(this.fixedPort);
    a[a.indexOf('--log-level') + 1] = 'info'; // debug logs of 12 media negotiations: too much
    return a;
  }
}

/**
 * Redis, two nodes n1 and n2 (the demo room as web root, short liveness settings) and nginx in
 * front. `node(id)` restarts one on its port.
 */
async function startCluster(t, add) {
  const redis = new RedisProcess();
  add(() => redis.cleanup());
  await redis.start();
  const rc = await RespClient.connect(redis.port);
  add(() => rc.close());
  const ports = [await freePort(), await freePort()];
  const common = {
    jwtSecret: crypto.randomBytes(32).toString('hex'),
    adminKey: crypto.randomBytes(24).toString('hex'),
  };
  const args = (id) => [
    '--redis', redis.url, '--node-id', id, '--web-root', WEB_ROOT,
    '--node-ttl', '900ms', '--cluster-sync', '1s', '--heartbeat-interval', '1s', '--heartbeat-timeout', '3s',
    ...flagIf('--resume-window', '10s'), ...flagIf('--drain-period', '2s'),
  ];
  const nodes = {};
  const start = async (id) => {
    const i = id === 'n1' ? 0 : 1;
    const s = new NodeOnPort({ ...common, args: args(id) }, ports[i]);
    s.nodeId = id;
    add(() => s.stop());
    await s.start();
    nodes[id] = s;
    return s;
  };
  await start('n1');
  await start('n2');
  // nginx with the configuration of docs/deployment.md (tests/integration/cluster-harness.mjs).
  const nginx = await startNginx(t, ports);
  // What openRoom needs: the token secret and the front door.
  const front = { secret: common.jwtSecret, baseUrl: `http://127.0.0.1:${nginx.port}` };
  /** userId -> node id of its connection, from Redis (session:ws:{sid}: userId -> "node:conn"). */
  const placement = async (sid) => {
    const ws = await rc.hgetall(`session:ws:${sid}`);
    return Object.fromEntries(Object.entries(ws).map(([u, conn]) => [u, conn.slice(0, conn.indexOf(':'))]));
  };
  return { redis, nodes, start, nginx, front, placement };
}

/** Stops a node with SIGTERM (a drain where the server has one) and waits for its exit. */
async function terminate(node, timeoutMs = 30_000) {
  node.stopping = true;
  node.proc.kill('SIGTERM');
  await withTimeout(node.exited, timeoutMs, `node ${node.nodeId} exit after SIGTERM`);
}

/**
 * Opens the four rooms through nginx, alternating the nodes they land on (n1, n2, n1, n2):
 * nginx balances round-robin over every request, so a page that landed on the wrong node is
 * closed and opened again after one more request to nginx (bounded).
 */
async function openFourSpread(t, add, cluster, sessionId) {
  const want = { alice: 'n1', bob: 'n2', carol: 'n1', dave: 'n2' };
  const server = {
    ...cluster.front,
    accept: async (r) => {
      const where = await waitFor(async () => (await cluster.placement(sessionId))[r.userId], { timeoutMs: 5000, what: `${r.userId} in Redis` });
      return where === want[r.userId];
    },
  };
  const rooms = await openFour(t, add, server, sessionId, {
    beforeOpen: async (attempt) => {
      if (attempt > 0) await fetch(`${cluster.front.baseUrl}/healthz`);
    },
  });
  const placed = await cluster.placement(sessionId);
  t.diagnostic(`placement: ${JSON.stringify(placed)}`);
  return { rooms, placed };
}

/** Redis, two nodes, nginx, a session of four and the four rooms spread over the nodes. */
async function fourOnTwoNodes(t) {
  const add = undoer(t);
  const cluster = await startCluster(t, add);
  const sessionId = randomId('bt');
  const res = await cluster.nodes.n1.createSession(sessionId, { host: 'alice', participants: FOUR });
  assert.ok(res.status === 200 || res.status === 201);
  const { rooms, placed } = await openFourSpread(t, add, cluster, sessionId);
  return { add, cluster, sessionId, rooms, placed };
}

test('2. two nodes behind nginx, the node of two participants killed (SIGKILL): they resume on the other node, no peer connection torn down', { skip: skipWithoutNginx }, async (t) => {
  const { cluster, sessionId, rooms, placed } = await fourOnTwoNodes(t);
  const victimNode = placed.alice;
  const victims = rooms.filter((r) => placed[r.userId] === victimNode);
  const survivor = victimNode === 'n1' ? 'n2' : 'n1';
  assert.ok(victims.length < rooms.length, `the participants are all on ${victimNode}: ${JSON.stringify(placed)}`);

  await markAll(rooms, 'before');
  await sleep(2000);
  await killNode(cluster.nodes[victimNode]);
  await rejoinedSince(victims, 'before');
  await waitFor(async () => Object.values(await cluster.placement(sessionId)).every((n) => n === survivor),
    { timeoutMs: T.reconnect, what: `every participant on ${survivor}` });
  await recovered(t, rooms, victims);
});

test('3. two nodes behind nginx, a rolling restart (SIGTERM, drain): everyone moves twice, no peer connection torn down', { skip: skipWithoutNginx }, async (t) => {
  const { cluster, sessionId, rooms, placed } = await fourOnTwoNodes(t);

  await markAll(rooms, 'before');
  await sleep(2000);
  // n1 goes: its participants move to n2; then n1 comes back and n2 goes: everyone moves to n1.
  const onN1 = rooms.filter((r) => placed[r.userId] === 'n1');
  await terminate(cluster.nodes.n1);
  await rejoinedSince(onN1, 'before');
  await waitFor(async () => Object.values(await cluster.placement(sessionId)).every((n) => n === 'n2'),
    { timeoutMs: T.reconnect, what: 'every participant on n2' });
  await markAll(rooms, 'n1-restarted');
  await cluster.start('n1');
  await terminate(cluster.nodes.n2);
  await rejoinedSince(rooms, 'n1-restarted');
  await waitFor(async () => Object.values(await cluster.placement(sessionId)).every((n) => n === 'n1'),
    { timeoutMs: T.reconnect, what: 'every participant on n1' });
  await recovered(t, rooms, rooms);
});

test('4. two nodes behind nginx, Redis faults (a stall longer than --node-ttl, FLUSHALL, a restart): nobody moves, no peer connection torn down', { skip: skipWithoutNginx }, async (t) => {
  const { add, cluster, sessionId, rooms } = await fourOnTwoNodes(t);

  await markAll(rooms, 'before');
  await sleep(2000);
  const admin = await RespClient.connect(cluster.redis.port);
  add(() => admin.close());
  // 2 s > --node-ttl 900ms: every alive key is past its TTL when Redis wakes up.
  assert.equal(await admin.cmd('DEBUG', 'SLEEP', '2'), 'OK');
  await sleep(3000);
  assert.equal(await admin.cmd('FLUSHALL'), 'OK');
  await waitFor(async () => Object.keys(await admin.hgetall(`session:ws:${sessionId}`)).length === 4,
    { timeoutMs: T.reconnect, what: 'session:ws written again after FLUSHALL' });
  admin.close();
  await cluster.redis.stop();
  await sleep(1000);
  await cluster.redis.start();  // same port, empty
  const after = await RespClient.connect(cluster.redis.port);
  add(() => after.close());
  await waitFor(async () => Object.keys(await after.hgetall(`session:ws:${sessionId}`)).length === 4,
    { timeoutMs: T.reconnect, what: 'session:ws written again after the restart' });
  await recovered(t, rooms, []);
});
