// Integration test harness: runs the real signaling-server binary, mints JWTs, calls the
// admin API and drives WebSocket clients. docs/protocol.md is the contract these tests check.
//
// Environment:
//   SIGNALING_BIN   path of the server binary (default: <repo>/build/signaling-server)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const serverBin = process.env.SIGNALING_BIN || path.join(repoRoot, 'build', 'signaling-server');

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
/** Default bound for waiting on one message / event. Generous: 2 shared cores, maybe ASan. */
export const DEFAULT_WAIT_MS = 5_000;
/** Short window used only to check that nothing else arrives. */
export const QUIET_MS = 300;

/** The raw text of a received frame is kept on the parsed object under this symbol. */
export const RAW = Symbol('raw');

export const ISO_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const SANITIZER_PATTERNS = [
  'ERROR: AddressSanitizer',
  'ERROR: LeakSanitizer',
  'ERROR: ThreadSanitizer',
  'WARNING: ThreadSanitizer',
  'runtime error:',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects with `message` if `promise` does not settle within `ms`. */
export function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${message}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `fn` (sync or async) until it returns a truthy value; fails after `ms`. */
export async function waitFor(fn, { timeoutMs = DEFAULT_WAIT_MS, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timeout after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export function randomId(prefix = 's') {
  return `${prefix}-${crypto.randomBytes(6).toString('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// JWT

function b64url(input) {
  return Buffer.from(input).toString('base64url');
}

const HMAC_ALGS = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/**
 * Builds a compact JWS. `header` defaults to {alg, typ:"JWT"}; `alg` "none" produces an empty
 * signature. `payload` may be an object or a raw string.
 */
export function signJwt(payload, secret, { alg = 'HS256', header } = {}) {
  const h = header ?? { alg, typ: 'JWT' };
  const headerPart = b64url(typeof h === 'string' ? h : JSON.stringify(h));
  const payloadPart = b64url(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const signingInput = `${headerPart}.${payloadPart}`;
  const effAlg = typeof h === 'object' ? h.alg : alg;
  if (effAlg === 'none') return `${signingInput}.`;
  // Any other alg in the header (RS256, made-up ones) is signed with HMAC-SHA256 of the secret:
  // hostile tokens for algorithm-confusion tests.
  const hash = HMAC_ALGS[effAlg] ?? 'sha256';
  const sig = crypto.createHmac(hash, secret).update(signingInput).digest('base64url');
  return `${signingInput}.${sig}`;
}

const nowSec = () => Math.floor(Date.now() / 1000);

/**
 * Standard claims for user `sub`: exp one hour ahead, `name` when given. `extra` is merged in
 * last (use it for nbf / iss / aud / overriding exp; a value of undefined removes the claim).
 */
export function claimsFor(sub, name, extra = {}) {
  const claims = { sub, exp: nowSec() + 3600, iat: nowSec() };
  if (name !== undefined && name !== null) claims.name = name;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete claims[k];
    else claims[k] = v;
  }
  return claims;
}

// ---------------------------------------------------------------------------------------------
// Server

/**
 * Starts the server for test context `t` and registers its stop (and the closing of every client
 * opened through it) with t.after. The test fails if the server exits on its own with a
 * non-zero status or is killed by a signal, if a sanitizer report appears in its output, or if it
 * does not stop within 3 s of SIGINT (the immediate stop; SIGTERM drains: drain.test.mjs).
 *
 * options.args: extra command-line flags (array of strings).
 * options.adminKey: null to start without --admin-key.
 * options.defaultClaims: claims added to every token minted by server.token() (e.g. iss, aud).
 */
export async function startServer(t, { args = [], adminKey, jwtSecret, defaultClaims } = {}) {
  const server = new SignalingServer({ args, adminKey, jwtSecret, defaultClaims });
  if (t) {
    t.after(async () => {
      await server.stop();
    });
  }
  await server.start();
  return server;
}

export class SignalingServer {
  constructor({ args = [], adminKey, jwtSecret, defaultClaims = {} } = {}) {
    this.defaultClaims = defaultClaims; // merged into every token minted by token()
    this.jwtSecret = jwtSecret ?? crypto.randomBytes(32).toString('hex');
    this.adminKey = adminKey === null ? null : adminKey ?? crypto.randomBytes(24).toString('hex');
    this.extraArgs = args;
    this.stdout = '';
    this.stderr = '';
    this.logs = [];
    this.clients = new Set();
    this.port = null;
    this.proc = null;
    this.exit = null; // {code, signal}
    this.stopping = false;
    this.stopped = false;
  }

  get args() {
    const a = ['--listen', '127.0.0.1', '--port', '0', '--jwt-secret', this.jwtSecret, '--log-level', 'debug'];
    if (this.adminKey !== null) a.push('--admin-key', this.adminKey);
    return a.concat(this.extraArgs);
  }

  output() {
    const tail = (s) => (s.length > 8000 ? `...${s.slice(-8000)}` : s);
    return `--- server command: ${serverBin} ${this.args.join(' ')}\n--- stdout:\n${tail(this.stdout)}\n--- stderr:\n${tail(this.stderr)}`;
  }

  async start() {
    if (!fs.existsSync(serverBin)) {
      throw new Error(`server binary not found: ${serverBin} (build it, or set SIGNALING_BIN)`);
    }
    const proc = spawn(serverBin, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((resolve) => {
      // 'close' comes after the exit and after stdout/stderr are drained.
      proc.on('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    proc.on('error', (err) => {
      this.stderr += `\n[harness] spawn error: ${err.message}\n`;
    });

    let lineBuf = '';
    let resolvePort;
    const portPromise = new Promise((r) => (resolvePort = r));
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk) => {
      this.stdout += chunk;
      lineBuf += chunk;
      let nl;
      while ((nl = lineBuf.indexOf('\n')) >= 0) {
        const line = lineBuf.slice(0, nl).trim();
        lineBuf = lineBuf.slice(nl + 1);
        if (!line) continue;
        let rec;
        try {
          rec = JSON.parse(line);
        } catch {
          continue;
        }
        this.logs.push(rec);
        if (rec && rec.msg === 'listening' && Number.isInteger(rec.port) && rec.port > 0) resolvePort(rec.port);
      }
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      this.stderr += chunk;
    });

    const exitedEarly = this.exited.then((e) => {
      throw new Error(`server exited before listening (code ${e.code}, signal ${e.signal})`);
    });
    try {
      this.port = await withTimeout(Promise.race([portPromise, exitedEarly]), STARTUP_TIMEOUT_MS,
        'no {"msg":"listening","port":N} log line on the server stdout');
    } catch (err) {
      if (!this.exit) proc.kill('SIGKILL');
      await withTimeout(this.exited, 2000, 'server exit').catch(() => {});
      throw new Error(`${err.message}\n${this.output()}`);
    }
    this.baseUrl = `http://127.0.0.1:${this.port}`;
    this.wsBase = `ws://127.0.0.1:${this.port}`;
    return this;
  }

  /** Checks the server's own health so far (without stopping it). */
  problems() {
    const problems = [];
    if (this.exit && !this.stopping) {
      if (this.exit.code !== 0) {
        problems.push(`server exited by itself (code ${this.exit.code}, signal ${this.exit.signal})`);
      }
    }
    for (const p of SANITIZER_PATTERNS) {
      if (this.stderr.includes(p) || this.stdout.includes(p)) problems.push(`sanitizer report in server output: "${p}"`);
    }
    return problems;
  }

  /**
   * Closes the clients, sends SIGINT (SIGKILL after 3 s) and throws on any server problem. SIGINT
   * stops at once; SIGTERM would drain (close 1012 spread over --drain-period, 10 s by default).
   */
  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    for (const c of this.clients) c.terminate();
    const problems = this.problems(); // before we signal it: did it die by itself?
    if (this.proc && !this.exit) {
      this.stopping = true;
      this.proc.kill('SIGINT');
      try {
        await withTimeout(this.exited, STOP_GRACE_MS, 'server stop after SIGINT');
      } catch {
        this.proc.kill('SIGKILL');
        await withTimeout(this.exited, 5000, 'server exit after SIGKILL').catch(() => {});
        problems.push('server did not exit within 3 s of SIGINT (killed with SIGKILL)');
      }
    }
    // Sanitizer reports are often printed at exit.
    for (const p of SANITIZER_PATTERNS) {
      const msg = `sanitizer report in server output: "${p}"`;
      if ((this.stderr.includes(p) || this.stdout.includes(p)) && !problems.includes(msg)) problems.push(msg);
    }
    if (problems.length) throw new Error(`${problems.join('; ')}\n${this.output()}`);
  }

  /** Fails (throws) now if the server has crashed. */
  assertAlive() {
    if (this.exit) throw new Error(`server is not running (code ${this.exit.code}, signal ${this.exit.signal})\n${this.output()}`);
  }

  // --- tokens -----------------------------------------------------------------------------

  /** A valid HS256 token for `sub` (with `name` if given); `extra` claims override. */
  token(sub, name, extra = {}) {
    return signJwt(claimsFor(sub, name, { ...this.defaultClaims, ...extra }), this.jwtSecret);
  }
  expiredToken(sub, name) {
    // One hour in the past: far beyond the default 30 s leeway.
    return signJwt(claimsFor(sub, name, { exp: nowSec() - 3600, iat: nowSec() - 7200 }), this.jwtSecret);
  }
  notYetValidToken(sub, name) {
    return signJwt(claimsFor(sub, name, { nbf: nowSec() + 3600 }), this.jwtSecret);
  }
  wrongSignatureToken(sub, name) {
    return signJwt(claimsFor(sub, name), `${this.jwtSecret}-not-the-secret`);
  }
  algNoneToken(sub, name) {
    return signJwt(claimsFor(sub, name), '', { alg: 'none' });
  }

  // --- admin API ----------------------------------------------------------------------------

  /**
   * Calls the HTTP API. `body` objects are JSON-encoded, strings are sent as they are.
   * `key`: undefined → the server's admin key, null → no Authorization header, string → that key.
   * Returns {status, headers, text, json} (json undefined when the body is not JSON).
   */
  async http(method, urlPath, { body, key, headers = {} } = {}) {
    const h = { ...headers };
    const k = key === undefined ? this.adminKey : key;
    if (k !== null && k !== undefined) h.authorization = `Bearer ${k}`;
    let payload;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      if (!h['content-type']) h['content-type'] = 'application/json';
    }
    const res = await withTimeout(fetch(`${this.baseUrl}${urlPath}`, { method, headers: h, body: payload }),
      DEFAULT_WAIT_MS, `HTTP ${method} ${urlPath}`);
    const text = await withTimeout(res.text(), DEFAULT_WAIT_MS, `body of HTTP ${method} ${urlPath}`);
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  admin(method, urlPath, body, opts = {}) {
    return this.http(method, urlPath, { ...opts, body });
  }

  /**
   * PUT /api/sessions/{id}. participants: array of userIds or of {userId, displayName}.
   * Asserts a 200/201 answer and returns the response.
   */
  async createSession(sessionId, { host, participants, durationSeconds } = {}) {
    const parts = participants.map((p) => (typeof p === 'string' ? { userId: p, displayName: `Name of ${p}` } : p));
    const body = { hostUserId: host ?? parts[0].userId, participants: parts };
    if (durationSeconds !== undefined) body.durationSeconds = durationSeconds;
    const res = await this.admin('PUT', `/api/sessions/${encodeURIComponent(sessionId)}`, body);
    if (res.status !== 201 && res.status !== 200) {
      throw new Error(`PUT /api/sessions/${sessionId} answered ${res.status}: ${res.text}`);
    }
    return res;
  }

  async getSession(sessionId) {
    return this.admin('GET', `/api/sessions/${encodeURIComponent(sessionId)}`);
  }

  // --- WebSocket ----------------------------------------------------------------------------

  wsUrl({ token, sessionId, query, resume } = {}) {
    if (query !== undefined) return `${this.wsBase}/ws/signaling${query}`;
    const params = new URLSearchParams();
    if (token !== undefined) params.set('token', token);
    if (sessionId !== undefined) params.set('sessionId', sessionId);
    if (resume !== undefined) params.set('resume', resume);
    const qs = params.toString();
    return `${this.wsBase}/ws/signaling${qs ? `?${qs}` : ''}`;
  }

  /**
   * Opens a WebSocket (resolves once the upgrade succeeded). Either {user, name, sessionId}
   * (a valid token is minted), or {token, sessionId}, or {query: "?..."} for a raw query string.
   */
  async connect({ user, name, sessionId, token, query, claims, resume } = {}) {
    const tok = token !== undefined ? token : user !== undefined ? this.token(user, name, claims) : undefined;
    const url = this.wsUrl({ token: tok, sessionId, query, resume });
    const client = await Client.open(url, { label: user ?? '(client)' });
    this.clients.add(client);
    return client;
  }

  /** Connects (with `resume`: a resumeId) and waits for `joined`; returns [client, joinedMessage]. */
  async join(sessionId, user, name, { resume } = {}) {
    const c = await this.connect({ user, name, sessionId, resume });
    const joined = await c.next((m) => m.type === 'joined' || m.type === 'error', DEFAULT_WAIT_MS, `joined for ${user}`);
    if (joined.type !== 'joined') throw new Error(`${user} was refused: ${JSON.stringify(joined)}`);
    c.userId = user;
    return [c, joined];
  }

  /** Raw TCP connection to the server's port. */
  rawSocket() {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: this.port }, () => resolve(s));
      s.once('error', reject);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// WebSocket client with a message queue

const describePredicate = (what) => (what ? ` (${what})` : '');

export class Client {
  constructor(ws, label) {
    this.ws = ws;
    this.label = label;
    this.queue = []; // parsed messages (or {binary: Buffer}) not consumed yet
    this.onMessage = null; // optional hook, called with each message as it arrives (it stays queued)
    this.received = []; // everything ever received, for diagnostics
    this.waiters = new Set();
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        resolve(this.closeInfo);
        this.#wake();
      });
    });
    ws.on('message', (data, isBinary) => {
      let msg;
      if (isBinary) {
        msg = { [RAW]: data, binary: true };
      } else {
        const raw = data.toString('utf8');
        try {
          msg = JSON.parse(raw);
          if (msg === null || typeof msg !== 'object') msg = { notAnObject: msg };
        } catch {
          msg = { unparsable: raw };
        }
        Object.defineProperty(msg, RAW, { value: raw, enumerable: false });
      }
      this.queue.push(msg);
      this.received.push(msg);
      if (this.onMessage) this.onMessage(msg);
      this.#wake();
    });
    ws.on('error', (err) => {
      this.lastError = err;
    });
  }

  static open(url, { label = '(client)', timeoutMs = DEFAULT_WAIT_MS } = {}) {
    return withTimeout(new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
      const client = new Client(ws, label);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (req, res) => {
        const err = new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`);
        err.statusCode = res.statusCode;
        req.destroy();
        reject(err);
      });
      ws.once('error', (err) => reject(err));
    }), timeoutMs, `WebSocket open ${url}`);
  }

  #wake() {
    for (const w of [...this.waiters]) w();
  }

  /** Sends an object (JSON-encoded) or a string as it is. */
  send(msg) {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }
  sendBinary(buf) {
    this.ws.send(buf, { binary: true });
  }
  heartbeat(ts) {
    this.send(ts === undefined ? { type: 'heartbeat' } : { type: 'heartbeat', ts });
  }

  /**
   * Resolves with the first queued (or future) message matching `predicate` (default: any) and
   * removes it from the queue; messages that do not match stay queued. Fails after `timeoutMs`,
   * or at once when the socket is closed and no queued message matches.
   */
  next(predicate = () => true, timeoutMs = DEFAULT_WAIT_MS, what = '') {
    if (typeof predicate === 'string') {
      const type = predicate;
      predicate = (m) => m.type === type;
      what = what || `type ${type}`;
    }
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.queue.findIndex((m) => predicate(m));
        if (i >= 0) {
          const [m] = this.queue.splice(i, 1);
          done();
          resolve(m);
          return;
        }
        if (this.closeInfo) {
          done();
          reject(new Error(`${this.label}: connection closed (code ${this.closeInfo.code}, reason "${this.closeInfo.reason}") `
            + `while waiting for a message${describePredicate(what)}; unconsumed: ${this.#dump()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: no message${describePredicate(what)} within ${timeoutMs} ms; unconsumed: ${this.#dump()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Takes `n` messages matching `predicate`, in arrival order. */
  async take(n, predicate, timeoutMs = DEFAULT_WAIT_MS, what = '') {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await this.next(predicate, timeoutMs, `${what} #${i + 1}/${n}`));
    return out;
  }

  /**
   * Fails if a message is queued or arrives within `ms`. Used only to check that nothing else
   * arrives; the window is short.
   */
  async expectNoMessage(ms = QUIET_MS) {
    if (this.queue.length) throw new Error(`${this.label}: unexpected message(s): ${this.#dump()}`);
    await sleep(ms);
    if (this.queue.length) throw new Error(`${this.label}: unexpected message(s): ${this.#dump()}`);
  }

  /** Resolves with {code, reason} once closed; fails after `timeoutMs`. */
  waitClosed(timeoutMs = DEFAULT_WAIT_MS) {
    return withTimeout(this.closed, timeoutMs, `${this.label}: connection close; unconsumed: ${this.#dump()}`);
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a heartbeat with a unique ts and waits for its ack: proves the connection still works. */
  async ping(timeoutMs = DEFAULT_WAIT_MS) {
    const ts = Date.now() * 1000 + Math.floor(Math.random() * 1000);
    this.heartbeat(ts);
    return this.next((m) => m.type === 'heartbeat-ack' && m.ts === ts, timeoutMs, `heartbeat-ack ts=${ts}`);
  }

  close(code = 1000, reason = '') {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }
  terminate() {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
  /** Drops the TCP connection without a close frame. */
  destroySocket() {
    this.ws._socket.destroy();
  }

  #dump() {
    const s = JSON.stringify(this.queue.map((m) => (m.binary ? '<binary>' : m)));
    return s.length > 2000 ? `${s.slice(0, 2000)}...` : s;
  }
}

// ---------------------------------------------------------------------------------------------
// Assertions shared by the tests

/** Next message must be an error with `code`; returns it. */
export async function expectError(client, code, timeoutMs = DEFAULT_WAIT_MS) {
  const m = await client.next(() => true, timeoutMs, `error ${code}`);
  assert.equal(m.type, 'error', `${client.label}: expected error ${code}, got ${JSON.stringify(m)}`);
  assert.equal(m.code, code, `${client.label}: expected error code ${code}, got ${JSON.stringify(m)}`);
  assert.equal(typeof m.message, 'string', `error message must be a string: ${JSON.stringify(m)}`);
  return m;
}

/**
 * A refused connection: exactly one error message with `code`, then a close with `closeCode`,
 * and nothing else.
 */
export async function expectRefused(client, code, closeCode) {
  await expectError(client, code);
  const { code: got } = await client.waitClosed();
  assert.equal(got, closeCode, `${client.label}: expected close code ${closeCode}, got ${got}`);
  assert.deepEqual(client.queue, [], `${client.label}: more than one message before the close`);
}

/** Waits for the close and checks its code. */
export async function expectClose(client, closeCode, timeoutMs = DEFAULT_WAIT_MS) {
  const info = await client.waitClosed(timeoutMs);
  assert.equal(info.code, closeCode, `${client.label}: expected close code ${closeCode}, got ${info.code} (reason "${info.reason}")`);
  return info;
}

/** Each of `clients` gets exactly one {"type":"participant-left","userId":userId} (and the test checks no more later). */
export async function expectParticipantLeft(clients, userId, timeoutMs = DEFAULT_WAIT_MS) {
  for (const c of clients) {
    const m = await c.next((x) => x.type === 'participant-left', timeoutMs, `participant-left ${userId}`);
    assert.deepEqual({ ...m }, { type: 'participant-left', userId }, `${c.label}: participant-left shape`);
  }
}

/**
 * Sets up a session with `users` (first one host) and joins `join` (default: all) one after
 * another; `onJoin(client, userId)` runs right after each join (e.g. to start heartbeats).
 */
export async function sessionWith(server, users, { sessionId = randomId(), durationSeconds, join = users, onJoin } = {}) {
  await server.createSession(sessionId, { host: users[0], participants: users, durationSeconds });
  const clients = {};
  for (const u of join) {
    const [c] = await server.join(sessionId, u);
    clients[u] = c;
    if (onJoin) onJoin(c, u);
  }
  // Drain the participant-joined notifications caused by the later joiners.
  for (let i = 0; i < join.length; i++) {
    for (let j = i + 1; j < join.length; j++) {
      await clients[join[i]].next((m) => m.type === 'participant-joined' && m.participant?.userId === join[j],
        DEFAULT_WAIT_MS, `participant-joined ${join[j]}`);
    }
  }
  return { sessionId, clients };
}

export async function quietAll(clients, ms = QUIET_MS) {
  await Promise.all(clients.map((c) => c.expectNoMessage(ms)));
}

// ---------------------------------------------------------------------------------------------
// A raw WebSocket client that can send frames `ws` refuses to build (protocol-error tests).

/** Encodes one frame. `mask` defaults to true (clients must mask). */
export function encodeFrame({ fin = true, rsv = 0, opcode, payload = Buffer.alloc(0), mask = true, lengthOverride }) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = lengthOverride ?? data.length;
  const head = [((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f))];
  const maskBit = mask ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 65536) head.push(maskBit | 126, (len >> 8) & 0xff, len & 0xff);
  else {
    head.push(maskBit | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(len));
    head.push(...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = crypto.randomBytes(4);
  const masked = Buffer.from(data);
  for (let i = 0; i < masked.length; i++) masked[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), key, masked]);
}

export class RawWs {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.frames = []; // {fin, opcode, payload}
    this.waiters = new Set();
    this.ended = false;
    this.handshake = null; // the HTTP answer head
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.#parse();
    });
    sock.on('close', () => {
      this.ended = true;
      this.#wake();
    });
    sock.on('error', () => {});
  }

  static async open(server, query) {
    const sock = await server.rawSocket();
    const raw = new RawWs(sock);
    const key = crypto.randomBytes(16).toString('base64');
    sock.write(`GET /ws/signaling${query} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUpgrade: websocket\r\n`
      + `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await waitFor(() => raw.handshake !== null || raw.ended, { what: 'raw WebSocket handshake answer' });
    assert.match(raw.handshake ?? '', /^HTTP\/1\.1 101/, `raw WebSocket handshake: ${raw.handshake}`);
    return raw;
  }

  #wake() {
    for (const w of [...this.waiters]) w();
  }

  #parse() {
    if (this.handshake === null) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.handshake = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
    }
    for (;;) {
      if (this.buf.length < 2) break;
      const b0 = this.buf[0];
      const b1 = this.buf[1];
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (b1 & 0x80) off += 4; // a server must not mask, but parse it anyway
      if (this.buf.length < off + len) break;
      this.frames.push({ fin: !!(b0 & 0x80), opcode: b0 & 0x0f, payload: this.buf.subarray(off, off + len), masked: !!(b1 & 0x80) });
      this.buf = this.buf.subarray(off + len);
    }
    this.#wake();
  }

  send(frame) {
    this.sock.write(Buffer.isBuffer(frame) ? frame : encodeFrame(frame));
  }
  sendText(text) {
    this.send({ opcode: 1, payload: Buffer.from(text) });
  }

  /** The next frame (removed from the queue); fails after `timeoutMs` or when the socket ended. */
  nextFrame(timeoutMs = DEFAULT_WAIT_MS) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.frames.length) {
          done();
          resolve(this.frames.shift());
        } else if (this.ended) {
          done();
          reject(new Error('raw WebSocket: connection ended without a further frame'));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`raw WebSocket: no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Next text frame parsed as JSON. */
  async nextJson(timeoutMs) {
    const f = await this.nextFrame(timeoutMs);
    assert.equal(f.opcode, 1, `expected a text frame, got opcode ${f.opcode}`);
    return JSON.parse(f.payload.toString('utf8'));
  }

  /**
   * Skips text frames until a close frame; returns its code (undefined for an empty close
   * payload) and the skipped text frames.
   */
  async closeCode(timeoutMs = DEFAULT_WAIT_MS) {
    const skipped = [];
    for (;;) {
      const f = await this.nextFrame(timeoutMs);
      if (f.opcode === 8) {
        assert.equal(f.masked, false, 'server frames must not be masked');
        return { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined, skipped };
      }
      skipped.push(f);
    }
  }

  destroy() {
    this.sock.destroy();
  }
}
