// Renegotiation with perfect negotiation: both ends add a video track at the same moment (their
// offers cross); the polite end rolls back, and both new videos get through.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { T, USERS, startServer, createSession, launchBrowser, openRoom, closeRoom, connectedTo, inPage } from './helpers.mjs';

let server;
let browser;
const rooms = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  for (const r of rooms) await closeRoom(r);
  await browser?.close();
  await server?.stop();
});

test('both ends add a second video at once: offers collide, alice (polite) rolls back, both new videos are decoded', async () => {
  const users = [USERS.alice, USERS.bob];
  const sessionId = await createSession(server, users);
  for (const u of users) rooms.push(await openRoom(browser, server, sessionId, u));
  const [alice, bob] = rooms;
  await connectedTo(alice, ['bob']);
  await connectedTo(bob, ['alice']);
  await inPage(alice, () => window.room.client.peer('bob').signalingState === 'stable', undefined, 'stable', T.event);
  await inPage(bob, () => window.room.client.peer('alice').signalingState === 'stable', undefined, 'stable', T.event);

  // Hold each page's outgoing offers until both have made one, so that they cross for sure.
  for (const r of rooms) {
    await r.page.evaluate(async () => {
      const ws = window.room.client.socket;
      const send = ws.send.bind(ws);
      window.__held = [];
      window.__hold = true;
      ws.send = (d) => {
        if (window.__hold && String(d).includes('"type":"offer"')) window.__held.push(d);
        else send(d);
      };
      window.__release = () => {
        window.__hold = false;
        for (const d of window.__held.splice(0)) send(d);
      };
      const extra = await navigator.mediaDevices.getUserMedia({ video: { width: 160, height: 120, frameRate: 10 } });
      window.__extra = extra;
    });
  }
  await Promise.all(rooms.map((r) => r.page.evaluate(() => window.room.client.addTrack(window.__extra.getVideoTracks()[0], window.__extra))));
  for (const r of rooms) await inPage(r, () => window.__held.length === 1, undefined, 'it made a renegotiation offer', T.event);
  await Promise.all(rooms.map((r) => r.page.evaluate(() => window.__release())));

  const negotiation = (r) => r.page.evaluate(() => window.room.events.filter((e) => e.type === 'negotiation').map((e) => e.event));
  await inPage(alice, () => window.room.events.some((e) => e.type === 'negotiation' && e.event === 'rollback'), undefined, 'alice (polite) rolled back its offer', T.event);
  await inPage(bob, () => window.room.events.some((e) => e.type === 'negotiation' && e.event === 'ignored-colliding-offer'), undefined, 'bob (impolite) ignored the colliding offer', T.event);
  assert.ok(!(await negotiation(bob)).includes('rollback'), 'bob never rolls back');

  for (const [r, other] of [[alice, 'bob'], [bob, 'alice']]) {
    await inPage(
      r,
      async (o) => {
        const p = window.room.client.peer(o);
        if (!p || p.signalingState !== 'stable' || p.connectionState !== 'connected') return false;
        const s = await window.room.stats();
        return s[o].videosDecoding === 2;
      },
      other,
      `it decodes two videos from ${other} on a stable, connected connection`,
      T.frames,
    );
    await inPage(
      r,
      (o) => [...document.querySelectorAll(`.tile[data-user-id="${o}"] video`)].filter((v) => v.videoWidth > 0).length === 2,
      other,
      `its tile of ${other} shows both videos`,
      T.frames,
    );
    const errors = await r.page.evaluate(() => window.room.events.filter((e) => e.type === 'error').map((e) => e.code));
    assert.deepEqual(errors, [], `${r.userId} reported no error`);
  }
});
