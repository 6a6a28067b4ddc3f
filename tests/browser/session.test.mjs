// The host starts and ends the session with the buttons of its page; everyone sees it.
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

test('the host starts then ends the session from its page; every page sees session-started then session-ended', async () => {
  const users = [USERS.alice, USERS.bob, USERS.carol];
  const sessionId = await createSession(server, users, { hostUserId: 'alice' });
  for (const u of users) rooms.push(await openRoom(browser, server, sessionId, u));
  const [alice, bob, carol] = rooms;
  for (const r of rooms) await connectedTo(r, users.filter((u) => u.userId !== r.userId));

  for (const r of rooms) {
    const s = await r.page.evaluate(() => document.querySelector('#session-status').dataset.status);
    assert.equal(s, 'waiting', `${r.userId} shows the session as waiting`);
  }
  // Only the host has the buttons.
  assert.equal(await alice.page.isVisible('#start-session'), true, 'the host sees Start session');
  assert.equal(await bob.page.isVisible('#start-session'), false, 'bob does not');
  assert.equal(await carol.page.isVisible('#end-session'), false, 'carol does not');

  await alice.page.click('#start-session');
  for (const r of rooms) {
    await inPage(r, () => document.querySelector('#session-status').dataset.status === 'started', undefined, 'the page shows the session as started', T.event);
  }
  assert.equal(await alice.page.isDisabled('#start-session'), true, 'Start is disabled once started');
  const session = await fetch(`${server.baseUrl}/api/sessions/${sessionId}`, { headers: { authorization: `Bearer ${server.adminKey}` } }).then((r) => r.json());
  assert.equal(session.status, 'started');

  await alice.page.click('#end-session');
  for (const r of rooms) {
    await inPage(
      r,
      () => document.querySelector('#session-status').dataset.status === 'ended' && window.room.client.state === 'closed',
      undefined,
      'the page shows the session as ended and its client is closed',
      T.event,
    );
    const seen = await r.page.evaluate(() => window.room.events.filter((e) => e.type.startsWith('session-')).map((e) => [e.type, e.reason ?? null]));
    assert.deepEqual(seen, [['session-started', null], ['session-ended', 'host_ended']], `${r.userId}: started then ended, once each`);
    const after = await r.page.evaluate(() => ({
      closeReason: window.room.client.closeReason,
      peers: window.room.client.peers().length,
      text: document.querySelector('#session-status').textContent,
      notice: document.querySelector('#notice').textContent,
    }));
    assert.equal(after.closeReason, 'ended', `${r.userId} will not reconnect: the session is over`);
    assert.equal(after.peers, 0, `${r.userId} closed its peer connections`);
    assert.match(after.text, /ended \(host_ended\)/);
    assert.match(after.notice, /session has ended/);
  }
});
