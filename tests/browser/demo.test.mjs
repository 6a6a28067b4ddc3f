// The development flow: a server in --dev mode, the index page, and rooms that get their token
// from /dev/token (no token in the URL).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { T, startServer, launchBrowser, inPage, connectedTo } from './helpers.mjs';

let server;
let browser;
const contexts = [];

before(async () => {
  server = await startServer({ extraArgs: ['--dev'] });
  browser = await launchBrowser();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await server?.stop();
});

async function openFromIndex(name) {
  const context = await browser.newContext({ viewport: { width: 960, height: 720 } });
  contexts.push(context);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  await page.goto(`${server.baseUrl}/`);
  await page.click(`#users a:text-is("${name}")`);
  const p = { userId: name.toLowerCase(), page, problems };
  await inPage(p, () => window.room?.client?.state === 'joined', undefined, 'joined the demo session', T.pageJoin);
  return p;
}

test('index page -> room as Alice and Bob: tokens come from /dev/token, both join "demo" and connect', async () => {
  const alice = await openFromIndex('Alice');
  const bob = await openFromIndex('Bob');
  for (const [p, other] of [[alice, 'bob'], [bob, 'alice']]) {
    const info = await p.page.evaluate(() => ({
      sessionId: window.room.client.sessionId,
      self: window.room.client.self,
      url: location.search,
      shownSession: document.querySelector('#session-id').textContent,
    }));
    assert.equal(info.sessionId, 'demo');
    assert.equal(info.shownSession, 'demo');
    assert.doesNotMatch(info.url, /token=/, 'no token in the URL: the page asked /dev/token');
    assert.equal(info.self.userId, p.userId);
    await connectedTo(p, [other]);
  }
  assert.equal(await alice.page.isVisible('#start-session'), true, 'alice is the demo host');
  assert.equal(await alice.page.textContent('#self-name'), 'Alice');
});

test('a room without token nor userId explains what to do', async () => {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${server.baseUrl}/room.html`);
  await page.waitForSelector('#notice:not([hidden])', { timeout: T.event });
  assert.match(await page.textContent('#notice'), /no token/);
});
