// Real Chromium pages in one session: the full mesh of four, a departure, a fifth participant.
// The tests of this file run in order and share the room they build.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  ROOT,
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
  ensureResultsDir,
} from './helpers.mjs';

describe('mesh of real browsers', () => {
  let server;
  let browser;
  let sessionId;
  const rooms = new Map(); // userId -> room page

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    sessionId = await createSession(server, [USERS.alice, USERS.bob, USERS.carol, USERS.dave, USERS.erin]);
  });

  after(async () => {
    for (const r of rooms.values()) await closeRoom(r);
    await browser?.close();
    await server?.stop();
  });

  const others = (me, list) => list.filter((u) => u.userId !== me.userId);

  test('four participants: six connections, each end connected, video decoded from the three others', async () => {
    const four = [USERS.alice, USERS.bob, USERS.carol, USERS.dave];
    for (const u of four) rooms.set(u.userId, await openRoom(browser, server, sessionId, u));

    for (const u of four) await connectedTo(rooms.get(u.userId), others(u, four));
    // 4 pages x 3 connected ends = 12 ends = 6 connections.
    let ends = 0;
    for (const u of four) ends += (await rooms.get(u.userId).page.evaluate(() => window.room.client.peers().filter((p) => p.connectionState === 'connected').length));
    assert.equal(ends, 12);

    // The newcomer of each pair made the offer: its end of the connection is the initiator.
    for (const [i, u] of four.entries()) {
      const initiators = await rooms.get(u.userId).page.evaluate(() => window.room.client.peers().filter((p) => p.initiator).map((p) => p.userId).sort());
      assert.deepEqual(initiators, four.slice(0, i).map((x) => x.userId).sort(), `${u.userId} offered to those who were there before it`);
    }

    for (const u of four) await decodesVideoFrom(rooms.get(u.userId), others(u, four));

    // What a person sees: three remote tiles marked connected, each with a playing video.
    for (const u of four) {
      const r = rooms.get(u.userId);
      await inPage(
        r,
        () => {
          const tiles = [...document.querySelectorAll('.tile:not(.self)')];
          return tiles.length === 3 && tiles.every((t) => t.dataset.state === 'connected' && t.querySelector('video')?.videoWidth > 0);
        },
        undefined,
        'three remote tiles show "connected" and a video with frames',
        T.frames,
      );
    }

    // Screenshot of Alice's room for the docs (test-results/ always; docs/img when asked).
    const alice = rooms.get('alice');
    await inPage(alice, () => [...document.querySelectorAll('.tile:not(.self) .frames')].every((e) => /[1-9]/.test(e.textContent)), undefined, 'the frame counters are filled', T.frames);
    const shot = await alice.page.screenshot({ fullPage: true });
    fs.writeFileSync(path.join(ensureResultsDir(), 'room-4.png'), shot);
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
      fs.mkdirSync(path.join(ROOT, 'docs', 'img'), { recursive: true });
      fs.writeFileSync(path.join(ROOT, 'docs', 'img', 'room-4.png'), shot);
    }
  });

  test('one leaves: the three others close their connection to it and keep the others connected', async () => {
    const dave = rooms.get('dave');
    const stay = [USERS.alice, USERS.bob, USERS.carol];
    await dave.page.click('#leave');
    await inPage(dave, () => window.room.client.state === 'closed' && window.room.client.closeReason === 'left', undefined, 'its client is closed after Leave', T.event);
    for (const u of stay) {
      const r = rooms.get(u.userId);
      await inPage(
        r,
        () => {
          const pc = window.room.closedPeers.get('dave');
          return !!pc && pc.connectionState === 'closed' && pc.signalingState === 'closed' && !window.room.client.peer('dave') && !document.querySelector('.tile[data-user-id="dave"]');
        },
        undefined,
        'its connection to dave is closed and its tile gone',
        T.event,
      );
      const events = await r.page.evaluate(() => window.room.events.filter((e) => e.type === 'participant-left').map((e) => e.userId));
      assert.deepEqual(events, ['dave'], `${u.userId} saw participant-left for dave once`);
    }
    for (const u of stay) {
      const r = rooms.get(u.userId);
      await connectedTo(r, others(u, stay));
      const closed = await r.page.evaluate(() => [...window.room.closedPeers.keys()]);
      assert.deepEqual(closed, ['dave'], `${u.userId} closed no other connection`);
      await decodesVideoFrom(r, others(u, stay));
    }
    await closeRoom(dave);
    rooms.delete('dave');
  });

  test('a fifth participant joins and connects to everyone', async () => {
    const erin = await openRoom(browser, server, sessionId, USERS.erin);
    rooms.set('erin', erin);
    const now = [USERS.alice, USERS.bob, USERS.carol, USERS.erin];
    for (const u of now) await connectedTo(rooms.get(u.userId), others(u, now));
    const initiators = await erin.page.evaluate(() => window.room.client.peers().filter((p) => p.initiator).map((p) => p.userId).sort());
    assert.deepEqual(initiators, ['alice', 'bob', 'carol'], 'erin, the newcomer, offered to all three');
    await decodesVideoFrom(erin, others(USERS.erin, now));
    for (const u of [USERS.alice, USERS.bob, USERS.carol]) await decodesVideoFrom(rooms.get(u.userId), [USERS.erin]);
  });
});
