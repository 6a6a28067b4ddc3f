// Media continuity: four (or N) real libwebrtc peers (@roamhq/wrtc) joined through the client
// library (clients/js/src), each sending a synthetic video track, each recording when it decodes
// a frame from each other peer. What the tests read from it:
//   - how many RTCPeerConnections were created and torn down after the mesh was up (goal 0);
//   - the longest gap between decoded frames on every directed pair (from -> to) over a window;
//   - how long each reconnect took (client `reconnecting` -> `joined`).
// Nothing here asserts a duration: the figures are printed (and appended to $CONTINUITY_RESULTS).
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

import WebSocket from 'ws';

import { sleep, waitFor } from '../integration/harness.mjs';
import { loadWrtc, makePeerConnectionClass } from '../integration/wrtc-support.mjs';
import { SignalingClient } from '../../clients/js/src/index.js';

export const wrtc = loadWrtc();
// wrtc's teardown at a normal process end can abort (std::terminate in its environment cleanup
// once the peers lived through a resume; seen under node --test): when nothing is left to run,
// exit at once with the code the test runner set.
if (wrtc) process.once('beforeExit', (code) => process.exit(process.exitCode ?? code));
export const skipWithoutWrtc = wrtc ? false : '@roamhq/wrtc is not installed (npm ci)';
export const USERS = ['ann', 'ben', 'cat', 'dan'];

const WIDTH = 320;
const HEIGHT = 240;
const FPS = 20;
/** The frame pump stops by itself after this long, whatever happens to the test. */
const PUMP_MAX_MS = 5 * 60_000;
/** A pair counts as flowing when its last decoded frame is at most this old. */
const FLOWING_MS = 600;
const MESH_MS = 60_000;

const now = () => performance.now();

/**
 * Pushes one 320x240 I420 frame to every source FPS times a second (one timer for all). The luma
 * plane carries a moving bar so consecutive frames differ and the encoder has work to do.
 */
class FramePump {
  constructor(sources) {
    this.sources = sources;
    this.n = 0;
    this.data = new Uint8ClampedArray(WIDTH * HEIGHT * 1.5).fill(128);
    this.started = now();
    this.timer = setInterval(() => this.tick(), Math.round(1000 / FPS));
  }

  tick() {
    if (now() - this.started > PUMP_MAX_MS) return this.stop();
    const row = (this.n++ * 4) % HEIGHT;
    this.data.fill(16, 0, WIDTH * HEIGHT);
    this.data.fill(235, row * WIDTH, Math.min(HEIGHT, row + 16) * WIDTH);
    for (const s of this.sources) s.onFrame({ width: WIDTH, height: HEIGHT, data: this.data });
    return undefined;
  }

  stop() {
    clearInterval(this.timer);
  }
}

/** One participant: a client, its video source and sinks, and every RTCPeerConnection it made. */
export class MediaPeer {
  constructor(userId, { url, token, sessionId, reconnect }) {
    this.userId = userId;
    this.pcs = []; // every RTCPeerConnection constructed, in order
    this.frames = new Map(); // from userId -> [decode times, ms]
    this.sinks = new Map(); // from userId -> RTCVideoSink
    this.reconnects = []; // {at, code, joinedAt, resumed}
    this.messages = []; // server messages of interest: {at, type, userId}
    this.source = new wrtc.nonstandard.RTCVideoSource();
    this.track = this.source.createTrack();
    this.stream = new wrtc.MediaStream([this.track]);
    const peer = this;
    const Base = makePeerConnectionClass(wrtc, this.pcs);
    const CountingPeerConnection = class extends Base {
      constructor(config) {
        super(config);
        this.createdAt = now();
        this.closedAt = null;
      }

      close() {
        if (this.closedAt === null) this.closedAt = now();
        return super.close();
      }
    };
    // The library reports a failed attempt only as a close code (1006); the reason is kept here.
    const LoggingWebSocket = class extends WebSocket {
      constructor(...args) {
        super(...args);
        this.on('error', (err) => peer.errors.push({ at: now(), code: 'ws', message: err.message }));
      }
    };
    this.client = new SignalingClient({
      url,
      token,
      sessionId,
      WebSocket: LoggingWebSocket,
      RTCPeerConnection: CountingPeerConnection,
      MediaStream: wrtc.MediaStream,
      localStream: this.stream,
      receiveKinds: ['video'],
      reconnect: reconnect ?? { baseMs: 200, maxMs: 2000 },
    });
    this.client.on('track', ({ userId, track }) => {
      if (track.kind === 'video') peer.#watch(userId, track);
    });
    this.client.on('reconnecting', ({ code }) => {
      const open = this.reconnects.at(-1);
      if (!open || open.joinedAt !== null) this.reconnects.push({ at: now(), code, joinedAt: null, resumed: null, attempts: [] });
      this.reconnects.at(-1).attempts.push(code ?? null);
    });
    this.client.on('message', (m) => {
      if (m.type === 'joined') {
        const open = this.reconnects.at(-1);
        if (open && open.joinedAt === null) {
          open.joinedAt = now();
          open.resumed = m.resumed ?? null;
        }
      }
      if (m.type.startsWith('participant-')) this.messages.push({ at: now(), type: m.type, userId: m.userId ?? m.participant?.userId });
    });
    this.errors = [];
    this.client.on('error', (e) => this.errors.push({ at: now(), code: e.code, message: e.message }));
  }

  #watch(from, track) {
    this.sinks.get(from)?.stop();
    const sink = new wrtc.nonstandard.RTCVideoSink(track);
    if (!this.frames.has(from)) this.frames.set(from, []);
    const times = this.frames.get(from);
    sink.onframe = () => times.push(now());
    this.sinks.set(from, sink);
  }

  /** PCs created after `mark` and PCs torn down (close() or state 'closed') after it. */
  churnSince(mark) {
    const created = this.pcs.length - mark.pcCount;
    const closed = this.pcs.filter((pc) => (pc.closedAt !== null && pc.closedAt >= mark.at)
      || (pc.connectionState === 'closed' && !mark.closedBefore.has(pc))).length;
    return { created, closed };
  }

  live() {
    return this.client.peers();
  }

  stopMedia() {
    for (const s of this.sinks.values()) s.stop();
    this.track.stop();
  }

  close() {
    this.client.leave().catch(() => {});
    for (const pc of this.pcs) {
      try {
        pc.close();
      } catch {
        // already closed
      }
    }
  }
}

/**
 * Joins `users` one after another (the order of the mesh), each through `urlFor(userId)`, and
 * waits until every directed pair decodes frames. Returns a Mesh; call mesh.close() at the end.
 */
export async function startMesh({ users = USERS, sessionId, urlFor, tokenFor, reconnect }) {
  const peers = users.map((u) => new MediaPeer(u, { url: urlFor(u), token: tokenFor(u), sessionId, reconnect }));
  const mesh = new Mesh(peers);
  try {
    for (const p of peers) await p.client.join();
    await mesh.waitFlowing({ timeoutMs: MESH_MS, what: 'the mesh up with video on every directed pair' });
  } catch (err) {
    await mesh.close();
    throw new Error(`${err.message}\n${mesh.describe()}`);
  }
  return mesh;
}

export class Mesh {
  constructor(peers) {
    this.peers = peers;
    this.byId = new Map(peers.map((p) => [p.userId, p]));
    this.pump = new FramePump(peers.map((p) => p.source));
    // The test process's own stalls (a loaded machine): ticks of a 20 ms timer, read like frames,
    // so a gap on every pair at once can be told from a gap of the media.
    this.ticks = [];
    this.ticker = setInterval(() => this.ticks.length < 100_000 && this.ticks.push(now()), 20);
  }

  pairs() {
    const out = [];
    for (const to of this.peers) for (const from of this.peers) if (from !== to) out.push([from.userId, to.userId]);
    return out;
  }

  framesOf(from, to) {
    return this.byId.get(to).frames.get(from) ?? [];
  }

  /** Every peer joined, with one connected PC per other peer, and fresh frames on every pair. */
  flowing() {
    const t = now();
    for (const p of this.peers) {
      if (p.client.state !== 'joined') return false;
      const live = p.live();
      if (live.length !== this.peers.length - 1 || !live.every((x) => x.connectionState === 'connected')) return false;
    }
    return this.pairs().every(([from, to]) => {
      const f = this.framesOf(from, to);
      return f.length > 0 && t - f.at(-1) <= FLOWING_MS;
    });
  }

  async waitFlowing({ timeoutMs = 30_000, what = 'video on every directed pair' } = {}) {
    await waitFor(() => this.flowing(), { timeoutMs, intervalMs: 100, what }).catch((err) => {
      throw new Error(`${err.message}\n${this.describe()}`);
    });
  }

  /** A point in time to count churn and gaps from. */
  mark() {
    const at = now();
    return {
      at,
      perPeer: new Map(this.peers.map((p) => [p.userId, {
        at,
        pcCount: p.pcs.length,
        closedBefore: new Set(p.pcs.filter((pc) => pc.closedAt !== null || pc.connectionState === 'closed')),
      }])),
    };
  }

  churnSince(mark) {
    const per = {};
    let created = 0;
    let closed = 0;
    for (const p of this.peers) {
      const c = p.churnSince(mark.perPeer.get(p.userId));
      per[p.userId] = c;
      created += c.created;
      closed += c.closed;
    }
    return { created, closed, per };
  }

  /** Longest gap (ms) between decoded frames on every directed pair within [t0, t1]. */
  maxGaps(t0, t1) {
    const out = {};
    for (const [from, to] of this.pairs()) out[`${from}>${to}`] = maxGap(this.framesOf(from, to), t0, t1);
    return out;
  }

  /** Longest stall (ms) of the test process's event loop within [t0, t1]. */
  stall(t0, t1) {
    return maxGap(this.ticks, t0, t1);
  }

  /** Pairs with no decoded frame after `t`. */
  silentSince(t) {
    return this.pairs().filter(([from, to]) => !this.framesOf(from, to).some((x) => x > t)).map(([f, to]) => `${f}>${to}`);
  }

  /** Reconnect -> joined durations (ms) that started after `t`. */
  reconnectsSince(t) {
    const out = [];
    for (const p of this.peers) {
      for (const r of p.reconnects) {
        if (r.at >= t) {
          out.push({ user: p.userId, code: r.code, ms: r.joinedAt === null ? null : Math.round(r.joinedAt - r.at), resumed: r.resumed,
            attempts: r.attempts, atMs: Math.round(r.at - t) });
        }
      }
    }
    return out;
  }

  /** Client `error` events after `t`, by peer. */
  errorsSince(t) {
    const out = {};
    for (const p of this.peers) {
      const e = p.errors.filter((x) => x.at >= t).map((x) => `${x.code}: ${x.message}`.slice(0, 160));
      if (e.length) out[p.userId] = e.slice(0, 10);
    }
    return out;
  }

  /** participant-* messages received after `t`, by receiver. */
  messagesSince(t) {
    const out = {};
    for (const p of this.peers) {
      const m = p.messages.filter((x) => x.at >= t).map((x) => `${x.type}:${x.userId}@${Math.round(x.at - t)}ms`);
      if (m.length) out[p.userId] = m;
    }
    return out;
  }

  describe() {
    const t = now();
    return this.peers.map((p) => {
      const live = p.live().map((x) => `${x.userId}:${x.connectionState}`).join(' ');
      const fr = [...p.frames].map(([from, f]) => `${from}:${f.length}/${f.length ? Math.round(t - f.at(-1)) : '-'}ms`).join(' ');
      return `${p.userId} [${p.client.state}] pcs=${p.pcs.length} live: ${live} | frames(count/age) ${fr}`;
    }).join('\n');
  }

  /**
   * Stops the pump, the sinks and every connection, then gives libwebrtc's threads a moment: the
   * process exiting while they still tear down crashes wrtc (SIGSEGV / SIGABRT at exit).
   */
  async close() {
    this.pump.stop();
    clearInterval(this.ticker);
    for (const p of this.peers) p.stopMedia();
    await sleep(200);
    for (const p of this.peers) p.close();
    await sleep(1000);
  }
}

/** Longest interval between consecutive times of the sorted `times` within [t0, t1] (edges included). */
function maxGap(times, t0, t1) {
  let prev = t0;
  let worst = 0;
  for (const t of times) {
    if (t < t0) continue;
    if (t > t1) break;
    worst = Math.max(worst, t - prev);
    prev = t;
  }
  return Math.round(Math.max(worst, t1 - prev));
}

/** Cuts a client's WebSocket without a close frame (its TCP socket destroyed: 1006 both ways). */
export function cutSocket(peer) {
  const ws = peer.client.socket;
  if (!ws || !ws._socket) throw new Error(`${peer.userId} has no open WebSocket to cut`);
  ws._socket.destroy();
}

/**
 * Runs one scenario on a mesh that is up: a baseline window, `event()` (async; may return
 * extra fields for the record), then waits until media flows on every pair again and watches for
 * `settleMs` more. Returns the record (printed by report()).
 */
export async function measure(mesh, name, event, { baselineMs = 4000, settleMs = 3000, recoverMs = 45_000 } = {}) {
  const t0 = now();
  await sleep(baselineMs);
  const mark = mesh.mark();
  const extra = (await event()) ?? {};
  const eventDone = now();
  let recovered = true;
  let recoverError = null;
  try {
    await mesh.waitFlowing({ timeoutMs: recoverMs, what: `video on every pair again after: ${name}` });
  } catch (err) {
    recovered = false;
    recoverError = err.message;
  }
  await sleep(settleMs);
  const t1 = now();
  const baseline = mesh.maxGaps(t0, mark.at);
  const during = mesh.maxGaps(mark.at, t1);
  const worst = (o) => Math.max(...Object.values(o));
  return {
    scenario: name,
    date: new Date().toISOString(),
    churn: mesh.churnSince(mark),
    recovered,
    recoverError,
    eventMs: Math.round(eventDone - mark.at),
    windowMs: Math.round(t1 - mark.at),
    silentAfterEvent: mesh.silentSince(eventDone + (t1 - eventDone) / 2),
    baselineWorstGapMs: worst(baseline),
    eventWorstGapMs: worst(during),
    baselineLoopStallMs: mesh.stall(t0, mark.at),
    eventLoopStallMs: mesh.stall(mark.at, t1),
    baselineGapMs: baseline,
    eventGapMs: during,
    reconnects: mesh.reconnectsSince(mark.at),
    iceRestarts: mesh.peers.reduce((n, p) => n + p.live().reduce((m, x) => m + (x.iceRestarts ?? 0), 0), 0),
    participantMessages: mesh.messagesSince(mark.at),
    clientErrors: mesh.errorsSince(mark.at),
    ...extra,
  };
}

/** Prints the record as one JSON line (t.diagnostic and stdout) and appends it to $CONTINUITY_RESULTS. */
export function report(t, record) {
  let commit = null;
  try {
    commit = execSync('git log -1 --format=%h -- src clients/js/src', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    // not a git checkout
  }
  const line = JSON.stringify({ commit, ...record });
  t.diagnostic(`continuity: ${line}`);
  if (process.env.CONTINUITY_RESULTS) fs.appendFileSync(process.env.CONTINUITY_RESULTS, `${line}\n`);
}

/** What every scenario asserts: media went on, on the same RTCPeerConnections. */
export function assertContinuity(assert, record) {
  const detail = JSON.stringify({ churn: record.churn, reconnects: record.reconnects, participantMessages: record.participantMessages });
  assert.ok(record.recovered, `${record.scenario}: ${record.recoverError}`);
  assert.equal(record.churn.closed, 0, `${record.scenario}: RTCPeerConnections torn down: ${detail}`);
  assert.equal(record.churn.created, 0, `${record.scenario}: RTCPeerConnections created: ${detail}`);
  assert.deepEqual(record.silentAfterEvent, [], `${record.scenario}: pairs with no frame after the event`);
}

/** joinCount of each peer now, for waitRejoined. */
export function joinCounts(peers) {
  return new Map(peers.map((p) => [p, p.client.joinCount]));
}

/** Waits until every peer of `counts` got a `joined` after it was taken and is joined now. */
export async function waitRejoined(counts, { timeoutMs = 30_000 } = {}) {
  const names = [...counts.keys()].map((p) => p.userId).join(', ');
  await waitFor(() => [...counts].every(([p, n]) => p.client.joinCount > n && p.client.state === 'joined'),
    { timeoutMs, intervalMs: 20, what: `joined again: ${names}` });
}
