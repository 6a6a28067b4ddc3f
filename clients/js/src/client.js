import { Emitter } from './emitter.js';
import { Peer, sdpSessionId } from './peer.js';

/**
 * Close codes after which the client never reconnects: the server refused the connection
 * (4400-4410), replaced it with a newer one (4440) or removed the user (4450). 4408 (heartbeat
 * timeout) is in that range but is a dropped connection: it is retried.
 */
export function isRejectionCloseCode(code) {
  return (code >= 4400 && code <= 4410 && code !== 4408) || code === 4440 || code === 4450;
}

/** `error` codes that the server follows with a close we must not retry. */
export const FATAL_ERROR_CODES = new Set([
  'bad_request',
  'invalid_token',
  'not_participant',
  'session_not_found',
  'session_full',
  'session_ended',
  'replaced',
  'removed',
]);

const OPEN = 1; // WebSocket.OPEN

/** Close code of a draining node (service restart): resume at once, elsewhere. */
export const DRAIN_CLOSE_CODE = 1012;

/** Bounds of the heartbeat interval a server may ask for (ms). */
export const HEARTBEAT_MIN_MS = 100;
export const HEARTBEAT_MAX_MS = 300000;

/** Session cap (people, this client included) when the option maxPeers is not given. */
export const DEFAULT_MAX_PEERS = 6;

/** Longest resumeId kept (docs/protocol.md: at most 64 characters). */
const MAX_RESUME_ID = 64;

/**
 * After a resumed `joined`, how long to wait for the messages queued for us before sending again
 * what may have been lost. The first heartbeat-ack ends the wait sooner: the server answers our
 * heartbeat (sent right after `joined`) after it has delivered the queue.
 */
const RESUME_SYNC_FALLBACK_MS = 2000;

export const DEFAULT_RECONNECT = Object.freeze({
  baseMs: 500,
  maxMs: 10000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Infinity,
});

/**
 * Delay before reconnect attempt number `attempt` (0 for the first retry): exponential
 * (baseMs * factor^attempt, capped at maxMs) with jitter: the last `jitter` fraction of it is
 * random, so with jitter 0.5 the delay lies in [d/2, d].
 */
export function backoffDelay(attempt, options = {}, random = Math.random) {
  const o = { ...DEFAULT_RECONNECT, ...options };
  const exp = Math.min(o.maxMs, o.baseMs * o.factor ** attempt);
  const j = Math.min(1, Math.max(0, o.jitter));
  return Math.round(exp * (1 - j) + random() * exp * j);
}

/**
 * The WebSocket URL of the signaling endpoint.
 * `base` is the server's base URL (ws:, wss:, http: or https:, with or without the
 * `/ws/signaling` path); without it, the page's origin is used.
 */
export function signalingUrl({ base, path = '/ws/signaling', token, sessionId, resume }) {
  const loc = globalThis.location;
  let u;
  if (base) {
    u = new URL(base, loc ? loc.href : undefined);
  } else if (loc) {
    u = new URL(loc.origin);
  } else {
    throw new TypeError('SignalingClient: `url` is required outside a browser page');
  }
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (!u.pathname.endsWith(path)) u.pathname = u.pathname.replace(/\/+$/, '') + path;
  u.search = '';
  u.hash = '';
  u.searchParams.set('token', token);
  u.searchParams.set('sessionId', sessionId);
  if (resume) u.searchParams.set('resume', resume);
  return u.toString();
}

function defaultPolite(selfId, peerId) {
  return selfId < peerId;
}

/** The heartbeat interval to use: the server's if it is a number, clamped to [100 ms, 300 s]. */
export function clampHeartbeat(ms, fallback = 15000) {
  const v = typeof ms === 'number' && Number.isFinite(ms) ? ms : fallback;
  return Math.min(HEARTBEAT_MAX_MS, Math.max(HEARTBEAT_MIN_MS, v));
}

/**
 * Checks a `joined` message: `self` with a string userId; `participants` an array of objects
 * with distinct string userIds, not the client itself. Returns a reason string when it is
 * malformed, null when it is fine.
 */
export function joinedProblem(msg) {
  const self = msg.self;
  if (!self || typeof self !== 'object' || typeof self.userId !== 'string' || self.userId === '') return 'self has no userId';
  if (!Array.isArray(msg.participants)) return 'participants is not an array';
  const seen = new Set();
  for (const p of msg.participants) {
    if (!p || typeof p !== 'object') return 'a participant is not an object';
    if (typeof p.userId !== 'string' || p.userId === '') return 'a participant has no userId';
    if (p.userId === self.userId) return 'the client itself is listed among the participants';
    if (seen.has(p.userId)) return `participant ${p.userId} is listed twice`;
    seen.add(p.userId);
  }
  return null;
}

/**
 * Browser client of the signaling server: one WebSocket, and one RTCPeerConnection per other
 * participant (full mesh). See README.md for the API and the events.
 */
export class SignalingClient extends Emitter {
  /** 'idle' | 'connecting' | 'joined' | 'reconnecting' | 'closed' */
  state = 'idle';
  /** Why the client closed: 'left' | 'ended' | 'rejected' | 'closed' | 'failed' | null */
  closeReason = null;
  /** 'unknown' | 'waiting' | 'started' | 'ended' */
  sessionStatus = 'unknown';
  startedAt = null;
  endReason = null;
  hostUserId = null;
  /** {userId, displayName} of this client once joined */
  self = null;
  /** Last measured heartbeat round trip in ms (null before the first ack). */
  rtt = null;
  /** The current WebSocket (null between connections). */
  socket = null;
  /** Number of `joined` messages received (2 and more: rejoined after a reconnect). */
  joinCount = 0;
  /** Number of `joined` messages that resumed the previous connection (resumed: true). */
  resumeCount = 0;

  #o;
  #WebSocket;
  #RTCPeerConnection;
  #timers;
  #now;
  #random;
  #reconnect;
  #participants = new Map();
  #peers = new Map();
  #localStream = null;
  /** [{track, stream}] sent to every peer */
  #localTracks = [];
  #attempt = 0;
  #reconnectTimer = null;
  #heartbeatTimer = null;
  #final = false;
  #leaving = false;
  #lastError = null;
  #joinPromise = null;
  #joinSettle = null;
  #hostCommands = [];
  /** iceServers of the last `joined` / `ice-servers` (null: the server gave none) */
  #serverIceServers = null;
  /** the session's iceTransportPolicy from `joined` ('all' | 'relay' | null) */
  #sessionPolicy = null;
  /** resumeId of the last `joined` (null: the server gave none) */
  #resumeId = null;
  /** the resumeId sent in the URL of the current socket (null: a fresh join) */
  #socketResume = null;
  /** users whose connection to the server is lost (participant-reconnecting) */
  #reconnectingUsers = new Set();
  /** users whose negotiation must be redone once they are back (an `undelivered` error) */
  #redo = new Set();
  /** after a resumed `joined`: the timer that ends the wait for the queued messages */
  #resumeSyncTimer = null;
  #maxRemotePeers;

  /**
   * @param {object} options see index.d.ts (SignalingClientOptions)
   */
  constructor(options = {}) {
    super();
    if (!options.sessionId) throw new TypeError('SignalingClient: sessionId is required');
    if (!options.token) throw new TypeError('SignalingClient: token is required');
    this.#o = options;
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.#RTCPeerConnection = options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    if (!this.#WebSocket) throw new TypeError('SignalingClient: no WebSocket constructor');
    if (!this.#RTCPeerConnection) throw new TypeError('SignalingClient: no RTCPeerConnection constructor');
    const g = globalThis;
    this.#timers = {
      setTimeout: options.timers?.setTimeout ?? g.setTimeout.bind(g),
      clearTimeout: options.timers?.clearTimeout ?? g.clearTimeout.bind(g),
      setInterval: options.timers?.setInterval ?? g.setInterval.bind(g),
      clearInterval: options.timers?.clearInterval ?? g.clearInterval.bind(g),
    };
    this.#now = options.now ?? (() => Date.now());
    this.#random = options.random ?? Math.random;
    this.#reconnect = options.reconnect === false ? null : { ...DEFAULT_RECONNECT, ...(options.reconnect ?? {}) };
    if (options.localStream) this.#setLocalTracksFrom(options.localStream);
    const maxPeers = Number.isInteger(options.maxPeers) && options.maxPeers >= 2 ? options.maxPeers : DEFAULT_MAX_PEERS;
    this.#maxRemotePeers = maxPeers - 1;
  }

  /** The resumeId of the last `joined` (sent as `&resume=` on every reconnect), or null. */
  get resumeId() {
    return this.#resumeId;
  }

  get sessionId() {
    return this.#o.sessionId;
  }

  get isHost() {
    return !!this.self && this.self.userId === this.hostUserId;
  }

  get localStream() {
    return this.#localStream;
  }

  /**
   * Connects and joins the session. Resolves with the first `joined` message; rejects when the
   * server refuses the connection (the error has `code` and `closeCode`) or the client is closed
   * before joining. Dropped connections are retried (see `reconnect`) and do not reject.
   */
  join() {
    if (this.#joinPromise) return this.#joinPromise;
    if (this.#final) return Promise.reject(new Error('SignalingClient is closed'));
    this.#joinPromise = new Promise((resolve, reject) => {
      this.#joinSettle = { resolve, reject };
    });
    this.#setState('connecting');
    this.#connect();
    return this.#joinPromise;
  }

  /** Leaves the session: sends `leave`, closes the socket and every peer connection. */
  async leave() {
    if (this.#final) return;
    this.#leaving = true;
    const ws = this.socket;
    if (ws && ws.readyState === OPEN) {
      this.#sendRaw(ws, { type: 'leave' });
    }
    this.#finish('left', { code: 1000 });
    if (ws) {
      try {
        ws.close(1000, 'leave');
      } catch {
        // closing a closing socket
      }
    }
  }

  /** The other connected participants, in the order they joined. */
  participants() {
    return [...this.#participants.values()].map((p) => ({ ...p, reconnecting: this.#reconnectingUsers.has(p.userId) }));
  }

  /** A snapshot of the peer connections. */
  peers() {
    return [...this.#peers.values()].map(peerInfo);
  }

  /** The peer connection to `userId`, or undefined. */
  peer(userId) {
    const p = this.#peers.get(userId);
    return p ? peerInfo(p) : undefined;
  }

  /**
   * Replaces the local stream: tracks of a kind already sent are swapped with replaceTrack (no
   * renegotiation); new kinds are added and missing ones removed (renegotiation).
   */
  async setLocalStream(stream) {
    const oldStream = this.#localStream;
    const oldEntries = this.#localTracks.filter((t) => t.stream === oldStream && oldStream);
    const newTracks = stream ? stream.getTracks() : [];
    const remaining = [...oldEntries];
    const ops = [];
    const plan = [];
    for (const track of newTracks) {
      const i = remaining.findIndex((e) => e.track.kind === track.kind);
      if (i >= 0) {
        plan.push({ op: 'replace', from: remaining[i].track, to: track });
        remaining.splice(i, 1);
      } else {
        plan.push({ op: 'add', to: track });
      }
    }
    for (const e of remaining) plan.push({ op: 'remove', from: e.track });

    const others = this.#localTracks.filter((t) => !oldEntries.includes(t));
    this.#localStream = stream ?? null;
    this.#localTracks = [...newTracks.map((track) => ({ track, stream })), ...others];
    for (const peer of this.#peers.values()) {
      for (const step of plan) {
        if (step.op === 'replace') ops.push(peer.replaceTrack(step.from, step.to, stream));
        else if (step.op === 'add') peer.addTrack(step.to, stream);
        else peer.removeTrack(step.from);
      }
    }
    await Promise.all(ops);
  }

  /** Sends one more track (e.g. a screen share) to every peer, now and later. */
  addTrack(track, stream) {
    if (this.#localTracks.some((t) => t.track === track)) return;
    this.#localTracks.push({ track, stream: stream ?? null });
    for (const peer of this.#peers.values()) peer.addTrack(track, stream ?? undefined);
  }

  /** Stops sending a track added with addTrack (or one of the local stream). */
  removeTrack(track) {
    const before = this.#localTracks.length;
    this.#localTracks = this.#localTracks.filter((t) => t.track !== track);
    if (this.#localTracks.length === before) return;
    for (const peer of this.#peers.values()) peer.removeTrack(track);
  }

  /**
   * ICE restart of the connection to `userId` (or of every connection), e.g. after the
   * application saw the network change. Same rules as the automatic one: only the impolite end
   * restarts (the polite end waits for its offer), at most one per `iceRestartAfterMs` per peer.
   * Returns the user ids whose connection restarted now.
   */
  restartIce(userId) {
    const targets = userId === undefined ? [...this.#peers.values()] : [this.#peers.get(userId)].filter(Boolean);
    return targets.filter((peer) => peer.requestIceRestart()).map((peer) => peer.userId);
  }

  /** Host only: starts the session. Resolves on `session-started`, rejects on `error`. */
  startSession() {
    return this.#hostCommand('start-session');
  }

  /** Host only: ends the session. Resolves on `session-ended`, rejects on `error`. */
  endSession() {
    return this.#hostCommand('end-session');
  }

  /** Sends a raw protocol message; returns false when not connected. */
  send(msg) {
    return this.socket ? this.#sendRaw(this.socket, msg) : false;
  }

  // ---- connection ----

  async #connect() {
    if (this.#final) return;
    let token;
    try {
      token = typeof this.#o.token === 'function' ? await this.#o.token() : this.#o.token;
    } catch (err) {
      this.#emitError({ code: 'token_unavailable', message: `could not get a token: ${err?.message ?? err}` });
      this.#scheduleReconnect(null);
      return;
    }
    if (this.#final) return;
    let ws;
    try {
      const resume = this.#resumeId;
      const url = signalingUrl({ base: this.#o.url, path: this.#o.path, token, sessionId: this.#o.sessionId, resume });
      ws = new this.#WebSocket(url);
      this.#socketResume = resume;
    } catch (err) {
      this.#emitError({ code: 'connect_failed', message: String(err?.message ?? err) });
      this.#scheduleReconnect(null);
      return;
    }
    this.socket = ws;
    this.#lastError = null;
    ws.onmessage = (ev) => {
      if (ws === this.socket) this.#onMessage(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws === this.socket) this.#onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // A close event always follows; the close code tells what happened.
    };
  }

  #onClose(code, reason) {
    this.socket = null;
    this.#stopHeartbeat();
    this.#stopResumeSync();
    if (this.#final) return;
    const fatalError = this.#lastError && FATAL_ERROR_CODES.has(this.#lastError.code) ? this.#lastError : null;
    if (this.#leaving) {
      this.#finish('left', { code });
    } else if (this.sessionStatus === 'ended' || reason === 'session_ended') {
      this.#finish('ended', { code });
    } else if (isRejectionCloseCode(code) || fatalError) {
      this.#finish('rejected', { code, errorCode: fatalError?.code ?? null, message: fatalError?.message });
    } else if (code === 1000) {
      this.#finish('closed', { code });
    } else {
      this.#scheduleReconnect(code);
    }
  }

  #scheduleReconnect(code) {
    if (this.#final) return;
    if (!this.#reconnect || this.#attempt >= this.#reconnect.maxAttempts) {
      this.#finish('failed', { code });
      return;
    }
    // A draining node (1012) closed a connection that worked: come back at once, with a small
    // random delay (the server spreads its closes already). A 1012 on a connection that never
    // joined takes the backoff, so a server that keeps closing cannot make us spin.
    const drain = code === DRAIN_CLOSE_CODE && this.#attempt === 0;
    const delayMs = drain ? Math.round(this.#random() * 1000) : backoffDelay(this.#attempt, this.#reconnect, this.#random);
    this.#attempt += 1;
    this.#setState('reconnecting', { code });
    this.emit('reconnecting', { attempt: this.#attempt, delayMs, code, resume: this.#resumeId !== null, drain });
    this.#reconnectTimer = this.#timers.setTimeout(() => {
      this.#reconnectTimer = null;
      this.#connect();
    }, delayMs);
  }

  #finish(reason, detail = {}) {
    if (this.#final) return;
    this.#final = true;
    this.closeReason = reason;
    this.#stopHeartbeat();
    this.#stopResumeSync();
    if (this.#reconnectTimer) {
      this.#timers.clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = null;
    }
    for (const userId of [...this.#peers.keys()]) this.#closePeer(userId);
    const err = Object.assign(new Error(closeMessage(reason, detail)), {
      reason,
      code: detail.errorCode ?? null,
      closeCode: detail.code ?? null,
    });
    for (const cmd of this.#hostCommands.splice(0)) {
      this.#timers.clearTimeout(cmd.timer);
      if (reason === 'ended' && cmd.type === 'end-session') cmd.resolve();
      else cmd.reject(err);
    }
    if (this.#joinSettle && this.joinCount === 0) this.#joinSettle.reject(err);
    this.#joinSettle = null;
    const ws = this.socket;
    this.socket = null;
    if (ws && reason !== 'left') {
      try {
        ws.close();
      } catch {
        // already closing
      }
    }
    this.#setState('closed', { reason, code: detail.code ?? null, errorCode: detail.errorCode ?? null });
  }

  #setState(state, detail = {}) {
    if (this.state === state) return;
    const previous = this.state;
    this.state = state;
    this.emit('state', { state, previous, ...detail });
  }

  #sendRaw(ws, msg) {
    if (ws.readyState !== OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  // ---- messages ----

  #onMessage(data) {
    if (typeof data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      this.#emitError({ code: 'invalid_server_message', message: 'server sent a frame that is not JSON' });
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    this.emit('message', msg);
    switch (msg.type) {
      case 'joined':
        return this.#onJoined(msg);
      case 'participant-joined':
        return this.#onParticipantJoined(msg.participant);
      case 'participant-left':
        return this.#onParticipantLeft(msg.userId);
      case 'participant-reconnecting':
        return this.#onParticipantReconnecting(msg.userId);
      case 'participant-reconnected':
        return this.#onParticipantReconnected(msg.userId);
      case 'offer':
      case 'answer':
        return this.#onDescription(msg);
      case 'ice-candidate':
        return this.#onCandidate(msg);
      case 'session-started':
        return this.#onSessionStarted(msg);
      case 'session-ended':
        return this.#onSessionEnded(msg);
      case 'heartbeat-ack':
        if (typeof msg.ts === 'number') {
          this.rtt = Math.max(0, this.#now() - msg.ts);
          this.emit('rtt', { rttMs: this.rtt });
        }
        if (this.#resumeSyncTimer) this.#resumeSynced();
        return undefined;
      case 'ice-servers':
        return this.#onIceServers(msg);
      case 'error':
        return this.#onErrorMessage(msg);
      default:
        return undefined;
    }
  }

  #onJoined(msg) {
    const problem = joinedProblem(msg);
    if (problem) {
      // A confused or hostile server: nothing of it is applied. join() rejects (or, after a
      // reconnect, the client closes): retrying would most likely get the same answer.
      const message = `malformed joined: ${problem}`;
      this.#emitError({ code: 'invalid_joined', message, fatal: true });
      this.#finish('rejected', { code: null, errorCode: 'invalid_joined', message });
      return;
    }
    const rejoin = this.joinCount > 0;
    const previousSelf = this.self?.userId ?? null;
    // Resumed: the server kept our place, and the others kept their connections to us. Only when
    // we asked for it on this socket, as the same user.
    const resumed = msg.resumed === true && rejoin && this.#socketResume !== null && previousSelf === msg.self.userId;
    this.joinCount += 1;
    if (resumed) this.resumeCount += 1;
    this.#attempt = 0;
    this.#resumeId = typeof msg.resumeId === 'string' && msg.resumeId.length > 0 && msg.resumeId.length <= MAX_RESUME_ID ? msg.resumeId : null;
    this.self = { userId: msg.self.userId, displayName: msg.self.displayName ?? msg.self.userId };
    this.hostUserId = msg.hostUserId ?? null;

    const oldRoster = this.#participants;
    const roster = new Map();
    const refused = [];
    for (const p of msg.participants) {
      if (roster.size >= this.#maxRemotePeers) {
        refused.push(p.userId);
        continue;
      }
      roster.set(p.userId, { userId: p.userId, displayName: p.displayName ?? p.userId });
    }
    this.#participants = roster;
    const wasReconnecting = [...this.#reconnectingUsers];
    this.#reconnectingUsers = new Set();
    const left = [];
    const arrived = [];
    if (resumed) {
      // Keep every connection; close only those to people who left while we were away.
      for (const userId of [...this.#peers.keys()]) if (!roster.has(userId)) this.#closePeer(userId);
      for (const userId of oldRoster.keys()) if (!roster.has(userId)) left.push(userId);
      for (const userId of roster.keys()) if (!oldRoster.has(userId)) arrived.push(userId);
      for (const userId of [...this.#redo]) if (!roster.has(userId)) this.#redo.delete(userId);
    } else {
      // A fresh `joined` (first one, or the server did not resume us): the others dropped their
      // connections to our previous socket, so every old peer connection goes and the mesh is
      // built again.
      for (const userId of [...this.#peers.keys()]) this.#closePeer(userId);
      this.#redo.clear();
    }

    const previousStatus = this.sessionStatus;
    this.sessionStatus = msg.status === 'started' ? 'started' : 'waiting';
    this.startedAt = msg.startedAt ?? null;
    this.#serverIceServers = Array.isArray(msg.iceServers) ? msg.iceServers : null;
    this.#sessionPolicy = msg.iceTransportPolicy === 'relay' || msg.iceTransportPolicy === 'all' ? msg.iceTransportPolicy : null;
    this.#startHeartbeat(clampHeartbeat(msg.heartbeatIntervalMs, this.#o.heartbeatIntervalMs ?? 15000));
    this.#setState('joined');
    this.emit('joined', {
      rejoin,
      resumed,
      resumeId: this.#resumeId,
      self: this.self,
      participants: this.participants(),
      hostUserId: this.hostUserId,
      status: this.sessionStatus,
      startedAt: this.startedAt,
    });
    if (previousStatus !== this.sessionStatus) {
      this.emit('session', { status: this.sessionStatus, startedAt: this.startedAt, reason: null });
    }
    for (const userId of refused) this.#refusePeer(userId);
    if (resumed) {
      // What happened while we were away, as the events the application already handles.
      for (const userId of left) this.emit('participant-left', { userId });
      for (const userId of arrived) this.emit('participant-joined', { participant: { ...roster.get(userId) } });
      // We missed their participant-reconnected (only relayed messages are queued): they are
      // listed, so they count as back.
      for (const userId of wasReconnecting) if (roster.has(userId)) this.emit('participant-reconnected', { userId });
      // No offer to people we have no connection to: they joined while we were away and their
      // offer is queued for us. Negotiation that was under way is sent again once the queue is in.
      this.#resumeSyncTimer = this.#timers.setTimeout(() => this.#resumeSynced(), RESUME_SYNC_FALLBACK_MS);
    } else {
      // Per AC3 the newcomer offers to everyone already there.
      for (const p of roster.values()) this.#createPeer(p.userId, true);
    }
    if (this.#joinSettle) {
      this.#joinSettle.resolve(msg);
      this.#joinSettle = null;
    }
  }

  /** The messages queued for us while we were away are in: send again what may have been lost. */
  #resumeSynced() {
    this.#stopResumeSync();
    if (this.state !== 'joined') return;
    for (const peer of this.#peers.values()) {
      if (this.#redo.has(peer.userId) && !this.#reconnectingUsers.has(peer.userId)) {
        this.#redo.delete(peer.userId);
        this.#redoNegotiation(peer);
      }
      peer.resync();
    }
  }

  #stopResumeSync() {
    if (this.#resumeSyncTimer) {
      this.#timers.clearTimeout(this.#resumeSyncTimer);
      this.#resumeSyncTimer = null;
    }
  }

  /**
   * A message of ours to this peer was dropped (`undelivered`): its unanswered offer is sent
   * again, and the impolite end restarts ICE (lost candidates or a lost answer); the polite end
   * waits for that offer.
   */
  #redoNegotiation(peer) {
    this.emit('negotiation', { userId: peer.userId, event: 'redo' });
    const before = peer.iceRestarts;
    peer.resync();
    if (!peer.polite && peer.iceRestarts === before) peer.restartIce('undelivered');
  }

  #onParticipantJoined(participant) {
    if (!participant || typeof participant !== 'object' || typeof participant.userId !== 'string' || participant.userId === '') return;
    if (participant.userId === this.self?.userId) return;
    const p = { userId: participant.userId, displayName: participant.displayName ?? participant.userId };
    // A peer connection left over from an earlier connection of that user is stale: the newcomer
    // will offer again.
    if (this.#peers.has(p.userId)) this.#closePeer(p.userId);
    if (!this.#participants.has(p.userId) && this.#participants.size >= this.#maxRemotePeers) {
      this.#refusePeer(p.userId);
      return;
    }
    this.#reconnectingUsers.delete(p.userId);
    this.#redo.delete(p.userId);
    this.#participants.set(p.userId, p);
    this.emit('participant-joined', { participant: { ...p } });
  }

  #onParticipantLeft(userId) {
    if (typeof userId !== 'string') return;
    this.#closePeer(userId);
    this.#reconnectingUsers.delete(userId);
    this.#redo.delete(userId);
    const had = this.#participants.delete(userId);
    if (had) this.emit('participant-left', { userId });
  }

  /** Its connection to the server is lost; it keeps its place, and we keep the connection to it. */
  #onParticipantReconnecting(userId) {
    if (typeof userId !== 'string' || !this.#participants.has(userId)) return;
    this.#reconnectingUsers.add(userId);
    this.emit('participant-reconnecting', { userId });
  }

  #onParticipantReconnected(userId) {
    if (typeof userId !== 'string' || !this.#participants.has(userId)) return;
    this.#reconnectingUsers.delete(userId);
    this.emit('participant-reconnected', { userId });
    const peer = this.#peers.get(userId);
    if (!peer) return;
    if (this.#redo.delete(userId)) this.#redoNegotiation(peer);
    else peer.retryDeferredRestart();
  }

  /** The sender of a relayed message must be in the roster; returns its name or null. */
  #knownSender(msg) {
    const from = msg.fromUserId;
    if (typeof from !== 'string') return null;
    if (from === this.self?.userId || !this.#participants.has(from)) {
      this.#emitError({ code: 'unknown_peer', message: `ignored ${msg.type} from ${from}: not a participant of the session`, userId: from });
      return null;
    }
    return from;
  }

  #onDescription(msg) {
    if (typeof msg.sdp !== 'string') return;
    const from = this.#knownSender(msg);
    if (!from) return;
    let peer = this.#peers.get(from);
    if (peer && msg.type === 'offer') {
      // An offer from another RTCPeerConnection of that user (it joined afresh while we were
      // away, so we saw no participant-left/joined): our connection is stale, start over.
      const sid = sdpSessionId(msg.sdp);
      if (sid && peer.remoteSessionId && sid !== peer.remoteSessionId) {
        this.emit('negotiation', { userId: from, event: 'replaced-stale-connection' });
        this.#closePeer(from);
        peer = undefined;
      }
    }
    if (!peer) {
      if (msg.type !== 'offer') return; // an answer for a connection we no longer have
      peer = this.#createPeer(from, false);
      if (!peer) return;
    }
    peer.handleDescription({ type: msg.type, sdp: msg.sdp });
  }

  #onCandidate(msg) {
    if (!msg.candidate || typeof msg.candidate !== 'object') return;
    const from = this.#knownSender(msg);
    if (!from) return;
    let peer = this.#peers.get(from);
    if (!peer) {
      // Candidates follow the offer on the same socket, so this is rare; keep them for the
      // offer to come.
      peer = this.#createPeer(from, false);
      if (!peer) return;
    }
    peer.handleCandidate(msg.candidate);
  }

  #onSessionStarted(msg) {
    this.sessionStatus = 'started';
    this.startedAt = msg.startedAt ?? null;
    this.#settleHostCommand('start-session');
    this.emit('session-started', { startedAt: this.startedAt });
    this.emit('session', { status: 'started', startedAt: this.startedAt, reason: null });
  }

  #onSessionEnded(msg) {
    this.sessionStatus = 'ended';
    this.endReason = msg.reason ?? null;
    this.#settleHostCommand('end-session');
    this.emit('session-ended', { reason: this.endReason });
    this.emit('session', { status: 'ended', startedAt: this.startedAt, reason: this.endReason });
    // The session is over: media stops now; the server closes the socket (1000) right after.
    this.#finish('ended', { code: null });
  }

  #onErrorMessage(msg) {
    const e = { code: typeof msg.code === 'string' ? msg.code : 'unknown', message: typeof msg.message === 'string' ? msg.message : '' };
    if (msg.toUserId !== undefined) e.toUserId = msg.toUserId;
    if (e.code === 'undelivered') {
      // A message of ours to a reconnecting user was dropped. Not fatal; its negotiation is
      // redone once it is back (now, if it is back already).
      const u = msg.toUserId;
      if (typeof u === 'string' && this.#participants.has(u)) {
        const peer = this.#peers.get(u);
        if (peer && !this.#reconnectingUsers.has(u)) this.#redoNegotiation(peer);
        else if (peer) this.#redo.add(u);
      }
      this.#emitError({ ...e, fatal: false });
      return;
    }
    this.#lastError = e;
    // fatal: the server closes the connection and the client will not reconnect.
    const fatal = FATAL_ERROR_CODES.has(e.code);
    if (e.code === 'not_host' || e.code === 'invalid_state') {
      const cmd = this.#hostCommands.shift();
      if (cmd) {
        this.#timers.clearTimeout(cmd.timer);
        cmd.reject(Object.assign(new Error(e.message || e.code), { code: e.code }));
      }
    }
    this.#emitError({ ...e, fatal });
  }

  #emitError(e) {
    this.emit('error', { fatal: false, ...e });
  }

  // ---- host commands ----

  #hostCommand(type) {
    if (this.state !== 'joined' || !this.socket) {
      return Promise.reject(Object.assign(new Error('not joined'), { code: 'not_joined' }));
    }
    return new Promise((resolve, reject) => {
      const cmd = { type, resolve, reject, timer: null };
      const timeoutMs = this.#o.hostCommandTimeoutMs ?? 10000;
      cmd.timer = this.#timers.setTimeout(() => {
        const i = this.#hostCommands.indexOf(cmd);
        if (i >= 0) this.#hostCommands.splice(i, 1);
        reject(Object.assign(new Error(`no answer to ${type} within ${timeoutMs} ms`), { code: 'timeout' }));
      }, timeoutMs);
      this.#hostCommands.push(cmd);
      this.#sendRaw(this.socket, { type });
    });
  }

  #settleHostCommand(type) {
    const i = this.#hostCommands.findIndex((c) => c.type === type);
    if (i < 0) return;
    const [cmd] = this.#hostCommands.splice(i, 1);
    this.#timers.clearTimeout(cmd.timer);
    cmd.resolve();
  }

  // ---- heartbeat ----

  #startHeartbeat(intervalMs) {
    this.#stopHeartbeat();
    const beat = () => {
      if (this.socket) this.#sendRaw(this.socket, { type: 'heartbeat', ts: this.#now() });
    };
    beat();
    this.#heartbeatTimer = this.#timers.setInterval(beat, intervalMs);
  }

  #stopHeartbeat() {
    if (this.#heartbeatTimer) {
      this.#timers.clearInterval(this.#heartbeatTimer);
      this.#heartbeatTimer = null;
    }
  }

  /**
   * The RTCConfiguration of every peer connection: the application's `rtcConfig`, with
   * `iceServers` = the application's (option `iceServers`, else `rtcConfig.iceServers`) followed
   * by the server's (from `joined` / `ice-servers`; option `useServerIceServers: false` leaves
   * them out). A session whose policy is `relay` forces `iceTransportPolicy: 'relay'` whatever the
   * application asked (the platform's privacy choice); otherwise the application's policy stays.
   */
  rtcConfiguration() {
    const config = { ...(this.#o.rtcConfig ?? {}) };
    const own = this.#o.iceServers ?? this.#o.rtcConfig?.iceServers ?? [];
    const fromServer = this.#o.useServerIceServers === false ? [] : (this.#serverIceServers ?? []);
    if (own.length > 0 || fromServer.length > 0 || this.#o.iceServers) config.iceServers = [...own, ...fromServer];
    if (this.#sessionPolicy === 'relay') config.iceTransportPolicy = 'relay';
    return config;
  }

  /** The session's iceTransportPolicy ('all' | 'relay'), null before `joined` or from an older server. */
  get iceTransportPolicy() {
    return this.#sessionPolicy;
  }

  #onIceServers(msg) {
    if (!Array.isArray(msg.iceServers)) return;
    this.#serverIceServers = msg.iceServers;
    const config = this.rtcConfiguration();
    // Fresh TURN credentials: relays allocated already stay up; the next allocation (an ICE
    // restart, a new peer) uses these.
    for (const peer of this.#peers.values()) {
      try {
        peer.pc.setConfiguration?.(config);
      } catch (err) {
        this.#emitError({ code: 'set_configuration_failed', message: String(err?.message ?? err), userId: peer.userId });
      }
    }
    this.emit('ice-servers', { iceServers: msg.iceServers });
  }

  // ---- peers ----

  #createPeer(userId, initiator) {
    if (this.#peers.has(userId)) this.#closePeer(userId);
    if (this.#peers.size >= this.#maxRemotePeers) {
      this.#refusePeer(userId);
      return null;
    }
    const selfId = this.self?.userId ?? '';
    const polite = (this.#o.polite ?? defaultPolite)(selfId, userId);
    const rtcConfig = this.rtcConfiguration();
    const peer = new Peer({
      userId,
      displayName: this.#participants.get(userId)?.displayName ?? userId,
      polite,
      initiator,
      RTCPeerConnection: this.#RTCPeerConnection,
      rtcConfig,
      localTracks: this.#localTracks.map((t) => ({ track: t.track, stream: t.stream ?? undefined })),
      receiveKinds: this.#o.receiveKinds,
      MediaStream: this.#o.MediaStream ?? globalThis.MediaStream,
      send: (msg) => (this.socket ? this.#sendRaw(this.socket, msg) : false),
      emit: (type, ev) => this.emit(type, ev),
      timers: this.#timers,
      now: this.#now,
      iceRestartAfterMs: this.#o.iceRestartAfterMs ?? 3000,
      // An ICE restart needs our socket, and the peer's: towards a peer that is reconnecting it
      // waits for participant-reconnected.
      canSignal: () => this.state === 'joined' && !!this.socket && this.socket.readyState === OPEN && !this.#reconnectingUsers.has(userId),
    });
    this.#peers.set(userId, peer);
    this.emit('peer-created', { userId, initiator, polite });
    return peer;
  }

  /** More people than the session cap (maxPeers): no connection, a non-fatal error. */
  #refusePeer(userId) {
    this.#emitError({ code: 'peer_limit', message: `no connection to ${userId}: the session cap is ${this.#maxRemotePeers + 1} people`, userId });
  }

  #closePeer(userId) {
    const peer = this.#peers.get(userId);
    if (!peer) return;
    this.#peers.delete(userId);
    this.#redo.delete(userId);
    peer.close();
    this.emit('peer-state', { userId, connectionState: 'closed', iceConnectionState: 'closed' });
    this.emit('peer-closed', { userId, pc: peer.pc });
  }

  #setLocalTracksFrom(stream) {
    this.#localStream = stream;
    this.#localTracks = stream.getTracks().map((track) => ({ track, stream }));
  }
}

function peerInfo(p) {
  return {
    userId: p.userId,
    displayName: p.displayName,
    polite: p.polite,
    initiator: p.initiator,
    connectionState: p.connectionState,
    iceConnectionState: p.closed ? 'closed' : p.pc.iceConnectionState,
    iceRestarts: p.iceRestarts,
    signalingState: p.closed ? 'closed' : p.pc.signalingState,
    streams: [...p.remoteStreams.values()],
    pc: p.pc,
  };
}

function closeMessage(reason, { code, errorCode, message }) {
  switch (reason) {
    case 'left':
      return 'left the session';
    case 'ended':
      return 'the session has ended';
    case 'rejected':
      return `the server refused the connection${errorCode ? ` (${errorCode})` : ''}${code ? ` [close ${code}]` : ''}${message ? `: ${message}` : ''}`;
    case 'failed':
      return `could not reconnect${code ? ` (last close code ${code})` : ''}`;
    default:
      return `connection closed${code ? ` (close ${code})` : ''}`;
  }
}
