// A page whose signaling connection is cut reconnects, and the mesh is rebuilt around it: the
// behaviour without resume (--resume-window 0; continuity.test.mjs covers the resume, where the
// mesh is kept).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import {
  T,
  USERS,
  startServer,
  createSession,
  launchBrowser,
  openRoom,
  closeRoom,
  connectedTo,
  decodesVideoFrom,
  inPage,
  startCuttableProxy,
} from './helpers.mjs';

let server;
let browser;
const rooms = [];
const proxies = [];

before(async () => {
  // A short heartbeat timeout (flag) so that the second test does not wait 30 s.
  server = await startServer({
    extraArgs: ['--heartbeat-interval', '1s', '--heartbeat-timeout', '3s', '--resume-window', '0'],
  });
  browser = await launchBrowser();
});

// Each test closes its pages: fewer videos to encode and decode for the next one.
afterEach(async () => {
  for (const r of rooms.splice(0)) await closeRoom(r);
});

after(async () => {
  for (const r of rooms) await closeRoom(r);
  for (const p of proxies) await p.close();
  await browser?.close();
  await server?.stop();
});

const others = (me, list) => list.filter((u) => u.userId !== me.userId);

/** Keeps the page's current peer connections so that the test can tell old from new. */
async function markPeers(r) {
  await r.page.evaluate(() => {
    window.__oldPeers = Object.fromEntries(window.room.client.peers().map((p) => [p.userId, p.pc]));
  });
}

async function rebuiltAround(rooms3, victim) {
  const users = rooms3.map((r) => r.user);
  for (const r of rooms3) await connectedTo(r, others(r.user, users), T.reconnect);
  for (const r of rooms3) {
    const check = await r.page.evaluate((vid) => {
      const old = window.__oldPeers;
      const now = Object.fromEntries(window.room.client.peers().map((p) => [p.userId, p.pc]));
      const out = {};
      for (const id of Object.keys(now)) out[id] = { replaced: now[id] !== old[id], oldState: old[id]?.connectionState };
      return { out, isVictim: window.room.client.self.userId === vid };
    }, victim.userId);
    for (const [id, v] of Object.entries(check.out)) {
      if (check.isVictim || id === victim.userId) {
        assert.ok(v.replaced, `${r.userId}: the connection to ${id} is a new one`);
        assert.equal(v.oldState, 'closed', `${r.userId}: the old connection to ${id} was closed`);
      } else {
        assert.ok(!v.replaced, `${r.userId}: the connection to ${id} (not involved) was kept`);
      }
    }
  }
  // Media flows again on the new connections, both ways.
  await decodesVideoFrom(victim, others(victim.user, users));
  for (const r of rooms3) if (r !== victim) await decodesVideoFrom(r, [victim.user]);
}

test('without resume (--resume-window 0), a dropped network connection (TCP reset, 1006): the page reconnects and its peers reconnect to it', async () => {
  const users = [USERS.alice, USERS.bob, USERS.carol];
  const sessionId = await createSession(server, users);
  const proxy = await startCuttableProxy(server.port);
  proxies.push(proxy);
  const alice = await openRoom(browser, server, sessionId, USERS.alice);
  const bob = await openRoom(browser, server, sessionId, USERS.bob);
  // Carol's page (and so its WebSocket) goes through a proxy whose connections we can cut.
  const carol = await openRoom(browser, server, sessionId, USERS.carol, { via: proxy.baseUrl });
  const three = [alice, bob, carol];
  rooms.push(...three);
  for (const r of three) await connectedTo(r, others(r.user, users));
  for (const r of three) await markPeers(r);

  const cut = proxy.cutAll();
  assert.ok(cut >= 1, 'the proxy had carol\'s WebSocket open');

  await inPage(carol, () => window.room.events.some((e) => e.type === 'reconnecting' && e.code === 1006), undefined, 'it reports a reconnect after close code 1006', T.event);
  await inPage(carol, () => window.room.client.joinCount === 2 && window.room.client.state === 'joined', undefined, 'it joined again', T.reconnect);
  for (const r of [alice, bob]) {
    await inPage(
      r,
      () => {
        const ev = window.room.events.filter((e) => (e.type === 'participant-left' || e.type === 'participant-joined') && e.userId === 'carol').map((e) => e.type);
        return ev.join() === 'participant-joined,participant-left,participant-joined' || ev.join() === 'participant-left,participant-joined';
      },
      undefined,
      'it saw carol leave then join again',
      T.event,
    );
  }
  await rebuiltAround(three, carol);
  assert.equal(await carol.page.evaluate(() => document.querySelector('#connection-state').dataset.state), 'joined');
});

test('a connection closed by the server for missing heartbeats (4408): the page reconnects and media flows again', async () => {
  const users = [USERS.alice, USERS.bob, USERS.carol];
  const sessionId = await createSession(server, users);
  const three = [];
  for (const u of users) three.push(await openRoom(browser, server, sessionId, u));
  rooms.push(...three);
  const [, bob] = three;
  for (const r of three) await connectedTo(r, others(r.user, users));
  for (const r of three) await markPeers(r);

  // Bob's page stops sending heartbeats on its current socket (and sends nothing else).
  await bob.page.evaluate(() => {
    const ws = window.room.client.socket;
    const send = ws.send.bind(ws);
    ws.send = (data) => {
      if (!String(data).includes('"heartbeat"')) send(data);
    };
  });
  await inPage(bob, () => window.room.events.some((e) => e.type === 'error' && e.code === 'heartbeat_timeout'), undefined, 'the server reports heartbeat_timeout', T.event);
  await inPage(bob, () => window.room.events.some((e) => e.type === 'reconnecting' && e.code === 4408), undefined, 'it reconnects after close code 4408', T.event);
  await inPage(bob, () => window.room.client.joinCount === 2 && window.room.client.state === 'joined', undefined, 'it joined again', T.reconnect);
  await rebuiltAround(three, bob);
});

test('the same user opens the room in a second tab: the old tab stops for good (replaced, 4440), the others connect to the new one', async () => {
  const users = [USERS.alice, USERS.bob];
  const sessionId = await createSession(server, users);
  const alice = await openRoom(browser, server, sessionId, USERS.alice);
  const bobOld = await openRoom(browser, server, sessionId, USERS.bob);
  rooms.push(alice, bobOld);
  await connectedTo(alice, ['bob']);
  await markPeers(alice);

  const bobNew = await openRoom(browser, server, sessionId, USERS.bob);
  rooms.push(bobNew);
  await inPage(
    bobOld,
    () => window.room.client.state === 'closed' && window.room.client.closeReason === 'rejected' && window.room.events.some((e) => e.type === 'error' && e.code === 'replaced'),
    undefined,
    'the old tab got "replaced" and closed for good',
    T.event,
  );
  const old = await bobOld.page.evaluate(() => ({
    reconnects: window.room.events.filter((e) => e.type === 'reconnecting').length,
    closeCode: window.room.events.filter((e) => e.type === 'state' && e.state === 'closed').map((e) => e.code),
    peers: window.room.client.peers().length,
  }));
  assert.deepEqual(old, { reconnects: 0, closeCode: [4440], peers: 0 });
  await connectedTo(alice, ['bob'], T.reconnect);
  await connectedTo(bobNew, ['alice'], T.reconnect);
  assert.ok(await alice.page.evaluate(() => window.room.client.peer('bob').pc !== window.__oldPeers.bob && window.__oldPeers.bob.connectionState === 'closed'), 'alice uses a new connection to the new tab');
  await decodesVideoFrom(alice, ['bob']);
  await decodesVideoFrom(bobNew, ['alice']);
});
