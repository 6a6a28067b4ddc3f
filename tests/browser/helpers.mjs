// Shared helpers of the browser tests: start the server on a free loopback port, create
// sessions through the admin API, mint HS256 tokens, launch Debian's Chromium with fake media,
// open room pages, and wait for conditions inside pages with bounded timeouts.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const RESULTS = path.join(ROOT, 'test-results', 'browser');

/** Timeouts (ms) of the waits; generous because 2 shared cores run several Chromium pages. */
export const T = {
  serverStart: 15_000,
  pageJoin: 20_000,
  connect: 45_000,
  frames: 30_000,
  event: 20_000,
  reconnect: 45_000,
};

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// --------------------------------------------------------------------------------------------
// server

/**
 * Starts build/signaling-server (or $SIGNALING_SERVER) on 127.0.0.1 with a random port, a random
 * JWT secret and admin key, and web/ as the web root.
 */
export async function startServer({ extraArgs = [] } = {}) {
  const bin = process.env.SIGNALING_SERVER ?? path.join(ROOT, 'build', 'signaling-server');
  if (!fs.existsSync(bin)) {
    throw new Error(`no server binary at ${bin}: build it (scripts/build.sh) or set SIGNALING_SERVER`);
  }
  const secret = crypto.randomBytes(24).toString('hex');
  const adminKey = crypto.randomBytes(24).toString('hex');
  // BROWSER_TEST_WEB_ROOT: another web root (e.g. a copy with web/lib dereferenced), for a
  // server that does not follow the web/lib symlink.
  const webRoot = process.env.BROWSER_TEST_WEB_ROOT ?? path.join(ROOT, 'web');
  // --dev makes its own secret and refuses a --jwt-secret: its tokens come from /dev/token only.
  const dev = extraArgs.includes('--dev');
  const server = await spawnServer(bin, [
    '--listen', '127.0.0.1',
    '--port', '0',
    ...(dev ? [] : ['--jwt-secret', secret]),
    '--admin-key', adminKey,
    '--web-root', webRoot,
    '--log-level', 'info',
    ...extraArgs,
  ]);
  Object.assign(server, { secret: dev ? null : secret, adminKey, webRoot });
  // The page imports the library through web/lib, a symlink to clients/js/src.
  const res = await fetch(`${server.baseUrl}/lib/index.js`);
  if (res.status !== 200) {
    await server.stop();
    throw new Error(
      `the server does not serve /lib/index.js (HTTP ${res.status}): web/lib is a symlink to ` +
        '../clients/js/src and the server must follow it when it loads --web-root',
    );
  }
  return server;
}

function spawnServer(bin, args) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SIGNALING_')));
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const logs = [];
  let buffered = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not log "listening" within ${T.serverStart} ms; output:\n${logs.join('\n')}`));
    }, T.serverStart);
    const onLine = (line) => {
      logs.push(line);
      if (logs.length > 5000) logs.shift();
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (entry.msg === 'listening' && Number.isInteger(entry.port)) {
        clearTimeout(timer);
        const port = entry.port;
        resolve({
          port,
          baseUrl: `http://127.0.0.1:${port}`,
          logs,
          child,
          stop: () => stopChild(child),
        });
      }
    };
    child.stdout.on('data', (d) => {
      buffered += d;
      let i;
      while ((i = buffered.indexOf('\n')) >= 0) {
        onLine(buffered.slice(0, i));
        buffered = buffered.slice(i + 1);
      }
    });
    child.stderr.on('data', (d) => logs.push(...String(d).split('\n').filter(Boolean)));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before listening; output:\n${logs.join('\n')}`));
    });
  });
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT'); // the immediate stop (SIGTERM would drain the browsers over 10 s)
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

// --------------------------------------------------------------------------------------------
// admin API and tokens

export async function admin(server, method, urlPath, body) {
  const res = await fetch(`${server.baseUrl}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${urlPath} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Creates a session with a fresh id; users: [{userId, displayName}], the first is the host. */
export async function createSession(server, users, { hostUserId = users[0].userId } = {}) {
  const sessionId = `bt-${crypto.randomBytes(6).toString('hex')}`;
  await admin(server, 'PUT', `/api/sessions/${sessionId}`, { hostUserId, participants: users });
  return sessionId;
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function mintToken(secret, { sub, name, ttlSeconds = 3600 }) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ sub, name, iat: now, exp: now + ttlSeconds }));
  const sig = crypto.createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${sig}`;
}

export const USERS = {
  alice: { userId: 'alice', displayName: 'Alice' },
  bob: { userId: 'bob', displayName: 'Bob' },
  carol: { userId: 'carol', displayName: 'Carol' },
  dave: { userId: 'dave', displayName: 'Dave' },
  erin: { userId: 'erin', displayName: 'Erin' },
  frank: { userId: 'frank', displayName: 'Frank' },
};

// --------------------------------------------------------------------------------------------
// browser

export const CHROMIUM_ARGS = [
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--no-sandbox',
  '--disable-gpu',
  // Background tabs must keep their timers (heartbeat) and media running.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/**
 * Launches Debian's Chromium; with `netns`, inside that network namespace (a wrapper script runs
 * `ip netns exec <netns> chromium`: Playwright drives Chromium over a pipe, which crosses
 * namespaces; the wrapper execs, so Playwright's process is Chromium itself and it can kill it).
 */
export async function launchBrowser({ netns } = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  let executablePath = CHROMIUM;
  let dir = null;
  if (netns) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'browser-netns-'));
    executablePath = path.join(dir, 'chromium-in-netns');
    const quote = (s) => `'${s.replaceAll("'", "'\\''")}'`;
    fs.writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec ${quote(netns)} ${quote(CHROMIUM)} "$@"\n`, { mode: 0o755 });
  }
  // playwright-core never downloads a browser: it drives Debian's Chromium.
  try {
    const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    if (dir) browser.on('disconnected', () => fs.rmSync(dir, { recursive: true, force: true }));
    return browser;
  } catch (err) {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Opens room.html for `user` in a new browser context (its own profile, like another person).
 * `via` is the base URL to load it from (default: the server itself; a proxy in the reconnect test).
 */
export async function openRoom(browser, server, sessionId, user, { via } = {}) {
  const context = await browser.newContext({ viewport: { width: 960, height: 720 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console.error: ${msg.text()}`);
  });
  const token = mintToken(server.secret, { sub: user.userId, name: user.displayName });
  const q = new URLSearchParams({ sessionId, token, vw: '160', vh: '120', fps: '10' });
  await page.goto(`${via ?? server.baseUrl}/room.html?${q}`);
  const p = { user, userId: user.userId, context, page, problems };
  await inPage(p, () => window.room?.client?.state === 'joined', undefined, 'joined the session', T.pageJoin);
  return p;
}

export async function closeRoom(p) {
  await p.context.close().catch(() => {});
}

/** What a page knows, for failure messages. */
export async function snapshot(p) {
  try {
    return await p.page.evaluate(() => {
      const c = window.room?.client;
      if (!c) return { client: null };
      return {
        state: c.state,
        closeReason: c.closeReason,
        session: c.sessionStatus,
        peers: c.peers().map((x) => `${x.userId}:${x.connectionState}/${x.signalingState}`),
        lastEvents: window.room.events.slice(-12).map((e) => `${e.type}${e.userId ? `(${e.userId})` : ''}${e.state ? `(${e.state})` : ''}${e.code ? `[${e.code}]` : ''}`),
      };
    });
  } catch (err) {
    return { unavailable: String(err.message) };
  }
}

/**
 * Waits until `fn(arg)` is truthy inside the page; on timeout, fails with `what`, the page's
 * state and its errors. `fn` may be async: then it is polled with page.evaluate (which awaits its
 * promise), because waitForFunction does not await a predicate's promise: it takes the promise
 * itself as truthy and returns at once whatever it resolves to, even false.
 */
export async function inPage(p, fn, arg, what, timeoutMs) {
  try {
    if (fn.constructor.name === 'AsyncFunction') return await pollInPage(p.page, fn, arg, timeoutMs);
    const handle = await p.page.waitForFunction(fn, arg, { timeout: timeoutMs, polling: 250 });
    return await handle.jsonValue();
  } catch (err) {
    const snap = await snapshot(p);
    throw new Error(
      `${p.userId}: timed out after ${timeoutMs} ms waiting until ${what}\n` +
        `  page state: ${JSON.stringify(snap)}\n` +
        (p.problems.length ? `  page errors: ${p.problems.slice(-5).join(' | ')}\n` : '') +
        `  (${err.message.split('\n')[0]})`,
    );
  }
}

/** Evaluates the async `fn(arg)` in the page every 250 ms until it resolves truthy; bounded by timeoutMs. */
async function pollInPage(page, fn, arg, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    let timer;
    const bound = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timeout ${timeoutMs}ms exceeded.`)), Math.max(left, 1));
    });
    try {
      const value = await Promise.race([page.evaluate(fn, arg), bound]);
      if (value) return value;
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() + 250 > deadline) throw new Error(`Timeout ${timeoutMs}ms exceeded.`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until the page has a `connected` peer connection to every user of `others`, and no other. */
export function connectedTo(p, others, timeoutMs = T.connect) {
  const ids = others.map((o) => o.userId ?? o).sort();
  return inPage(
    p,
    (expected) => {
      const peers = window.room.client.peers();
      const ok = peers.filter((x) => x.connectionState === 'connected').map((x) => x.userId).sort();
      return JSON.stringify(ok) === JSON.stringify(expected) && peers.length === expected.length;
    },
    ids,
    `its peer connections to [${ids}] are all connected`,
    timeoutMs,
  );
}

/** The frames decoded per peer, now. */
export function frameCounts(p) {
  return p.page.evaluate(async () => {
    const s = await window.room.stats();
    return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.framesDecoded]));
  });
}

/**
 * Waits until the page decodes video from each of `others`: framesDecoded > 0, then growing
 * past the value it had at that moment.
 */
export async function decodesVideoFrom(p, others, timeoutMs = T.frames) {
  const ids = others.map((o) => o.userId ?? o);
  const check = async (baseline, what) =>
    inPage(
      p,
      async ({ ids: wanted, baseline: base }) => {
        const s = await window.room.stats();
        const counts = {};
        for (const id of wanted) {
          const n = s[id]?.framesDecoded ?? 0;
          if (!(n > (base?.[id] ?? 0))) return false;
          counts[id] = n;
        }
        return counts;
      },
      { ids, baseline },
      what,
      timeoutMs,
    );
  const first = await check(null, `it decodes video frames (framesDecoded > 0) from [${ids}]`);
  const second = await check(first, `framesDecoded grows past ${JSON.stringify(first)}`);
  return { first, second };
}

// --------------------------------------------------------------------------------------------
// a TCP proxy whose connections the test can cut (a dropped network, seen as 1006)

export async function startCuttableProxy(targetPort) {
  const pairs = new Set();
  const srv = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    pairs.add(pair);
    const done = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = srv.address().port;
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    /** Resets every open connection: the browser sees a dropped WebSocket (1006). */
    cutAll() {
      const n = pairs.size;
      for (const { client, upstream } of [...pairs]) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      return n;
    },
    close: () => new Promise((resolve) => {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      srv.close(() => resolve());
    }),
  };
}

export function ensureResultsDir() {
  fs.mkdirSync(RESULTS, { recursive: true });
  return RESULTS;
}

export const tmpdir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'browser-test-'));

/** Per peer connection of the page: policy, selected pair's candidate types and addresses, SDP candidate types. */
export function selectedPairs(room) {
  return room.page.evaluate(async () => {
    const out = [];
    for (const p of window.room.client.peers()) {
      const stats = [...(await p.pc.getStats()).values()];
      const byId = new Map(stats.map((s) => [s.id, s]));
      const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
      const pair = transport ? byId.get(transport.selectedCandidatePairId) : null;
      const local = pair ? byId.get(pair.localCandidateId) : null;
      const remote = pair ? byId.get(pair.remoteCandidateId) : null;
      const sdp = `${p.pc.localDescription?.sdp ?? ''}${p.pc.remoteDescription?.sdp ?? ''}`;
      out.push({
        userId: p.userId,
        policy: p.pc.getConfiguration().iceTransportPolicy,
        local: local?.candidateType ?? null,
        remote: remote?.candidateType ?? null,
        localAddress: local?.address ?? local?.ip ?? null,
        remoteAddress: remote?.address ?? remote?.ip ?? null,
        sdpTypes: [...sdp.matchAll(/a=candidate:.* typ (\w+)/g)].map((m) => m[1]),
      });
    }
    return out;
  });
}
