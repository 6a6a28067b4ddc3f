import { Emitter } from './emitter.js';
import { Peer } from './peer.js';

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
export function signalingUrl({ base, path = '/ws/signaling', token, sessionId }) {
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
  return u.toString();
}

function defaultPolite(selfId, peerId) {
  return selfId < peerId;
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
    return [...this.#participants.values()].map((p) => ({ ...p }));
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
      const url = signalingUrl({ base: this.#o.url, path: this.#o.path, token, sessionId: this.#o.sessionId });
      ws = new this.#WebSocket(url);
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
    const delayMs = backoffDelay(this.#attempt, this.#reconnect, this.#random);
    this.#attempt += 1;
    this.#setState('reconnecting', { code });
    this.emit('reconnecting', { attempt: this.#attempt, delayMs, code });
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
    const rejoin = this.joinCount > 0;
    this.joinCount += 1;
    this.#attempt = 0;
    // A fresh `joined` (first one, or after a reconnect): the others dropped their connections to
    // our previous socket, so every old peer connection goes and the mesh is built again.
    for (const userId of [...this.#peers.keys()]) this.#closePeer(userId);
    this.self = msg.self ?? null;
    this.hostUserId = msg.hostUserId ?? null;
    this.#participants = new Map();
    for (const p of msg.participants ?? []) this.#participants.set(p.userId, { userId: p.userId, displayName: p.displayName ?? p.userId });
    const previousStatus = this.sessionStatus;
    this.sessionStatus = msg.status === 'started' ? 'started' : 'waiting';
    this.startedAt = msg.startedAt ?? null;
    this.#serverIceServers = Array.isArray(msg.iceServers) ? msg.iceServers : null;
    this.#sessionPolicy = msg.iceTransportPolicy === 'relay' || msg.iceTransportPolicy === 'all' ? msg.iceTransportPolicy : null;
    this.#startHeartbeat(msg.heartbeatIntervalMs ?? this.#o.heartbeatIntervalMs ?? 15000);
    this.#setState('joined');
    this.emit('joined', {
      rejoin,
      self: this.self,
      participants: this.participants(),
      hostUserId: this.hostUserId,
      status: this.sessionStatus,
      startedAt: this.startedAt,
    });
    if (previousStatus !== this.sessionStatus) {
      this.emit('session', { status: this.sessionStatus, startedAt: this.startedAt, reason: null });
    }
    // Per AC3 the newcomer offers to everyone already there.
    for (const p of this.#participants.values()) this.#createPeer(p.userId, true);
    if (this.#joinSettle) {
      this.#joinSettle.resolve(msg);
      this.#joinSettle = null;
    }
  }

  #onParticipantJoined(participant) {
    if (!participant || typeof participant.userId !== 'string') return;
    const p = { userId: participant.userId, displayName: participant.displayName ?? participant.userId };
    // A peer connection left over from an earlier connection of that user is stale: the newcomer
    // will offer again.
    if (this.#peers.has(p.userId)) this.#closePeer(p.userId);
    this.#participants.set(p.userId, p);
    this.emit('participant-joined', { participant: { ...p } });
  }

  #onParticipantLeft(userId) {
    if (typeof userId !== 'string') return;
    this.#closePeer(userId);
    const had = this.#participants.delete(userId);
    if (had) this.emit('participant-left', { userId });
  }

  #onDescription(msg) {
    const from = msg.fromUserId;
    if (typeof from !== 'string' || typeof msg.sdp !== 'string') return;
    let peer = this.#peers.get(from);
    if (!peer) {
      if (msg.type !== 'offer') return; // an answer for a connection we no longer have
      peer = this.#createPeer(from, false);
    }
    peer.handleDescription({ type: msg.type, sdp: msg.sdp });
  }

  #onCandidate(msg) {
    const from = msg.fromUserId;
    if (typeof from !== 'string' || !msg.candidate || typeof msg.candidate !== 'object') return;
    let peer = this.#peers.get(from);
    if (!peer) {
      // Candidates follow the offer on the same socket, so this is rare; keep them for the
      // offer to come, but only from someone we know is here.
      if (!this.#participants.has(from)) return;
      peer = this.#createPeer(from, false);
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
    const e = { code: msg.code ?? 'unknown', message: msg.message ?? '' };
    if (msg.toUserId !== undefined) e.toUserId = msg.toUserId;
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
    });
    this.#peers.set(userId, peer);
    this.emit('peer-created', { userId, initiator, polite });
    return peer;
  }

  #closePeer(userId) {
    const peer = this.#peers.get(userId);
    if (!peer) return;
    this.#peers.delete(userId);
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
