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
export async function openRoom(browser, server, sessionId, user, { via, init = [] } = {}) {
  const context = await browser.newContext({ viewport: { width: 960, height: 720 } });
  // `init`: scripts that run in the page before its own (e.g. mediaMonitorScript).
  for (const script of init) await context.addInitScript(script);
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

// --------------------------------------------------------------------------------------------
// media continuity: what a page does with its peer connections and remote videos, measured in
// the page itself (an init script, before the room's own scripts)

/**
 * Init script (context.addInitScript / openRoom's `init`): window.__media counts the
 * RTCPeerConnections the page constructs and closes (close() calls, and the state 'closed'),
 * timestamps every video frame presented in each remote tile (requestVideoFrameCallback, keyed by
 * the tile's user id: the directed pair tile user -> this page), logs tile removals and the
 * tiles' "reconnecting" badge (a MutationObserver, so that a short one is seen too), and the
 * signaling messages the page's WebSockets sent and received, and their close codes.
 */
export function mediaMonitorScript() {
  const m = {
    created: 0, closeCalls: 0, closedState: 0, pcs: [], frames: {}, tileRemovals: [], badges: [],
    badgeOn: {}, wire: [], sent: [], wsCloses: [], marks: {},
  };
  window.__media = m;
  const NativePC = window.RTCPeerConnection;
  class CountedPeerConnection extends NativePC {
    constructor(...args) {
      super(...args);
      m.created += 1;
      m.pcs.push(this);
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'closed') m.closedState += 1;
      });
    }

    close() {
      if (!this.countedClose) {
        this.countedClose = true;
        m.closeCalls += 1;
      }
      return super.close();
    }
  }
  window.RTCPeerConnection = CountedPeerConnection;

  const NativeWS = window.WebSocket;
  class LoggedWebSocket extends NativeWS {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => {
        try {
          const msg = JSON.parse(ev.data);
          m.wire.push({
            at: performance.now(), type: msg.type, userId: msg.userId ?? msg.participant?.userId ?? msg.fromUserId,
            resumed: msg.resumed, code: msg.code,
          });
          if (m.wire.length > 5000) m.wire.splice(0, 1000);
        } catch {
          // not JSON
        }
      });
      this.addEventListener('close', (ev) => m.wsCloses.push({ at: performance.now(), code: ev.code }));
    }

    send(data) {
      try {
        const msg = JSON.parse(data);
        m.sent.push({ at: performance.now(), type: msg.type, toUserId: msg.toUserId, sdp: msg.sdp });
        if (m.sent.length > 5000) m.sent.splice(0, 1000);
      } catch {
        // not JSON
      }
      return super.send(data);
    }
  }
  window.WebSocket = LoggedWebSocket;

  // A remote tile shows the badge when the room marks it "reconnecting" (web/room.js: the class
  // `reconnecting` on the tile and a visible .reconnecting-badge).
  const badgeShown = (tile) =>
    tile.dataset.state === 'reconnecting' || tile.classList.contains('reconnecting') ||
    !!tile.querySelector('.reconnecting-badge:not([hidden])');
  const hook = (video, userId) => {
    if (video.monitored) return;
    video.monitored = true;
    const list = (m.frames[userId] ??= []);
    const onFrame = (now) => {
      list.push(now);
      if (list.length > 60000) list.splice(0, 10000);
      if (video.isConnected) video.requestVideoFrameCallback(onFrame);
      else video.monitored = false;
    };
    video.requestVideoFrameCallback(onFrame);
  };
  const scan = () => {
    const grid = document.querySelector('#grid');
    if (!grid) return;
    for (const tile of grid.querySelectorAll('figure.tile:not(.self)')) {
      const id = tile.dataset.userId;
      if (!id) continue;
      for (const v of tile.querySelectorAll('video')) hook(v, id);
      const on = badgeShown(tile);
      if ((m.badgeOn[id] ?? false) !== on) {
        m.badgeOn[id] = on;
        m.badges.push({ at: performance.now(), userId: id, on });
      }
    }
  };
  const observe = () => {
    const grid = document.querySelector('#grid');
    if (!grid) return;
    new MutationObserver((records) => {
      for (const r of records) {
        for (const n of r.removedNodes) {
          if (n.nodeType === 1 && n.matches('figure.tile:not(.self)')) {
            m.tileRemovals.push({ at: performance.now(), userId: n.dataset.userId });
          }
        }
      }
      scan();
    }).observe(grid, { childList: true, subtree: true, attributes: true, attributeFilter: ['class', 'data-state', 'hidden'] });
  };
  document.addEventListener('DOMContentLoaded', observe);
  setInterval(scan, 100);

  m.mark = (name) => {
    m.marks[name] = { at: performance.now(), created: m.created, closeCalls: m.closeCalls, closedState: m.closedState };
  };
  /**
   * Between two marks (`to` omitted: now): per remote user, the frames presented and the longest
   * gap between two of them (from the window's start to its first frame and from its last frame
   * to the window's end count too); the peer connections constructed and closed; tile removals,
   * badge changes, the signaling messages about users and the page's own close codes.
   */
  m.report = (from, to) => {
    const a = m.marks[from];
    const b = to ? m.marks[to] : { at: performance.now(), created: m.created, closeCalls: m.closeCalls, closedState: m.closedState };
    const frames = {};
    for (const [id, list] of Object.entries(m.frames)) {
      let prev = a.at;
      let maxGap = 0;
      let n = 0;
      for (const t of list) {
        if (t < a.at || t > b.at) continue;
        maxGap = Math.max(maxGap, t - prev);
        prev = t;
        n += 1;
      }
      maxGap = Math.max(maxGap, b.at - prev);
      frames[id] = { frames: n, maxGapMs: Math.round(maxGap) };
    }
    const inWin = (e) => e.at >= a.at && e.at <= b.at;
    return {
      windowMs: Math.round(b.at - a.at),
      created: b.created - a.created,
      closeCalls: b.closeCalls - a.closeCalls,
      closedState: b.closedState - a.closedState,
      frames,
      tileRemovals: m.tileRemovals.filter(inWin).map((e) => e.userId),
      badges: m.badges.filter(inWin).map((e) => `${e.userId}:${e.on ? 'on' : 'off'}`),
      wire: m.wire.filter(inWin).filter((e) => /^participant-|^joined$|^error$/.test(e.type))
        .map((e) => `${e.type}${e.userId ? `(${e.userId})` : ''}${e.resumed !== undefined ? `[resumed=${e.resumed}]` : ''}${e.code ? `[${e.code}]` : ''}`),
      wsCloses: m.wsCloses.filter(inWin).map((e) => e.code),
    };
  };
  /** The frames presented from each remote user since mark `from`. */
  m.framesSince = (from) => {
    const a = m.marks[from].at;
    return Object.fromEntries(Object.entries(m.frames).map(([id, list]) => [id, list.filter((t) => t > a).length]));
  };
}

/** Marks `name` in every page (window.__media.mark). */
export async function markAll(rooms, name) {
  await Promise.all(rooms.map((r) => r.page.evaluate((n) => window.__media.mark(n), name)));
}

/** window.__media.report(from, to) of every page, by user id. */
export async function reportAll(rooms, from, to) {
  const out = {};
  for (const r of rooms) out[r.userId] = await r.page.evaluate(([f, t]) => window.__media.report(f, t), [from, to]);
  return out;
}

/**
 * Waits until every page has presented at least `n` frames from each of `others` (every
 * directed pair) since mark `from`.
 */
export async function framesFlowSince(rooms, from, n = 10, timeoutMs = T.frames) {
  for (const r of rooms) {
    const want = rooms.filter((o) => o !== r).map((o) => o.userId);
    await inPage(
      r,
      ({ f, ids, k }) => {
        const got = window.__media.framesSince(f);
        return ids.every((id) => (got[id] ?? 0) >= k) ? got : false;
      },
      { f: from, ids: want, k: n },
      `it presents >= ${n} video frames from each of [${want}] since mark "${from}"`,
      timeoutMs,
    );
  }
}

/** One line per directed pair: "sender->receiver maxGapMs (frames)"; and the largest gap. */
export function gapTable(reports) {
  const lines = [];
  let worst = 0;
  for (const [receiver, rep] of Object.entries(reports)) {
    for (const [sender, f] of Object.entries(rep.frames)) {
      lines.push(`${sender}->${receiver} ${f.maxGapMs} ms (${f.frames} frames)`);
      worst = Math.max(worst, f.maxGapMs);
    }
  }
  return { lines, worst };
}
