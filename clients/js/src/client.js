import { Emitter } from './emitter.js';
import { Mesh } from './mesh.js';
import { LocalMedia } from './local-media.js';
import { HostCommands } from './host-commands.js';
import { Heartbeat } from './heartbeat.js';
import { FATAL_ERROR_CODES, DEFAULT_RECONNECT, closeOutcome, closeMessage, reconnectDelay, signalingUrl } from './reconnect.js';
import { clampHeartbeat, joinedProblem, maxRemotePeersOf, resumeIdOf, rtcConfigurationOf, sessionPolicyOf } from './joined.js';

// The public names of the modules this one was split into, so that it stays the entry point.
export { isRejectionCloseCode, FATAL_ERROR_CODES, DRAIN_CLOSE_CODE, DEFAULT_RECONNECT, backoffDelay, signalingUrl } from './reconnect.js';
export { HEARTBEAT_MIN_MS, HEARTBEAT_MAX_MS, DEFAULT_MAX_PEERS, clampHeartbeat, joinedProblem } from './joined.js';

const OPEN = 1; // WebSocket.OPEN

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
  /** the tracks sent to every peer */
  #media;
  #attempt = 0;
  #reconnectTimer = null;
  #heartbeat;
  #final = false;
  #leaving = false;
  #lastError = null;
  #joinPromise = null;
  #joinSettle = null;
  #hostCommands;
  /** iceServers of the last `joined` / `ice-servers` (null: the server gave none) */
  #serverIceServers = null;
  /** the session's iceTransportPolicy from `joined` ('all' | 'relay' | null) */
  #sessionPolicy = null;
  /** resumeId of the last `joined` (null: the server gave none) */
  #resumeId = null;
  /** the resumeId sent in the URL of the current socket (null: a fresh join) */
  #socketResume = null;
  /** the other participants and the peer connections to them */
  #mesh;

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
    this.#media = new LocalMedia(options.localStream);
    this.#hostCommands = new HostCommands(this.#timers);
    this.#heartbeat = new Heartbeat(this.#timers, () => {
      if (this.socket) this.#sendRaw(this.socket, { type: 'heartbeat', ts: this.#now() });
    });
    this.#mesh = new Mesh({
      options,
      RTCPeerConnection: this.#RTCPeerConnection,
      timers: this.#timers,
      now: this.#now,
      maxRemotePeers: maxRemotePeersOf(options),
      emit: (type, ev) => this.emit(type, ev),
      selfId: () => this.self?.userId,
      isJoined: () => this.state === 'joined',
      canSignal: () => this.state === 'joined' && !!this.socket && this.socket.readyState === OPEN,
      send: (msg) => (this.socket ? this.#sendRaw(this.socket, msg) : false),
      rtcConfiguration: () => this.rtcConfiguration(),
      localTracks: () => this.#media.tracks,
    });
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
    return this.#media.stream;
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
    return this.#mesh.participants();
  }

  /** A snapshot of the peer connections. */
  peers() {
    return this.#mesh.peers();
  }

  /** The peer connection to `userId`, or undefined. */
  peer(userId) {
    return this.#mesh.peer(userId);
  }

  /**
   * Replaces the local stream: tracks of a kind already sent are swapped with replaceTrack (no
   * renegotiation); new kinds are added and missing ones removed (renegotiation).
   */
  async setLocalStream(stream) {
    await Promise.all(this.#media.setStream(stream, this.#mesh.peerObjects()));
  }

  /** Sends one more track (e.g. a screen share) to every peer, now and later. */
  addTrack(track, stream) {
    this.#media.add(track, stream, this.#mesh.peerObjects());
  }

  /** Stops sending a track added with addTrack (or one of the local stream). */
  removeTrack(track) {
    this.#media.remove(track, this.#mesh.peerObjects());
  }

  /**
   * ICE restart of the connection to `userId` (or of every connection), e.g. after the
   * application saw the network change. Same rules as the automatic one: only the impolite end
   * restarts (the polite end waits for its offer), at most one per `iceRestartAfterMs` per peer.
   * Returns the user ids whose connection restarted now.
   */
  restartIce(userId) {
    return this.#mesh.restartIce(userId);
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
    this.#heartbeat.stop();
    this.#mesh.stopResumeSync();
    if (this.#final) return;
    const outcome = closeOutcome({ code, reason, leaving: this.#leaving, sessionEnded: this.sessionStatus === 'ended', lastError: this.#lastError });
    if (outcome) this.#finish(...outcome);
    else this.#scheduleReconnect(code);
  }

  #scheduleReconnect(code) {
    if (this.#final) return;
    if (!this.#reconnect || this.#attempt >= this.#reconnect.maxAttempts) {
      this.#finish('failed', { code });
      return;
    }
    const { delayMs, drain } = reconnectDelay(this.#attempt, code, this.#reconnect, this.#random);
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
    this.#heartbeat.stop();
    this.#mesh.stopResumeSync();
    if (this.#reconnectTimer) {
      this.#timers.clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = null;
    }
    this.#mesh.closeAll();
    const err = Object.assign(new Error(closeMessage(reason, detail)), {
      reason,
      code: detail.errorCode ?? null,
      closeCode: detail.code ?? null,
    });
    this.#hostCommands.finish(reason, err);
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
        return this.#mesh.participantJoined(msg.participant);
      case 'participant-left':
        return this.#mesh.participantLeft(msg.userId);
      case 'participant-reconnecting':
        return this.#mesh.participantReconnecting(msg.userId);
      case 'participant-reconnected':
        return this.#mesh.participantReconnected(msg.userId);
      case 'offer':
      case 'answer':
        return this.#mesh.description(msg);
      case 'ice-candidate':
        return this.#mesh.candidate(msg);
      case 'session-started':
        return this.#onSessionStarted(msg);
      case 'session-ended':
        return this.#onSessionEnded(msg);
      case 'heartbeat-ack':
        if (typeof msg.ts === 'number') {
          this.rtt = Math.max(0, this.#now() - msg.ts);
          this.emit('rtt', { rttMs: this.rtt });
        }
        if (this.#mesh.resumeSyncPending) this.#mesh.resumeSynced();
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
    this.#resumeId = resumeIdOf(msg);
    this.self = { userId: msg.self.userId, displayName: msg.self.displayName ?? msg.self.userId };
    this.hostUserId = msg.hostUserId ?? null;

    const change = this.#mesh.applyJoined(msg.participants, resumed);

    const previousStatus = this.sessionStatus;
    this.sessionStatus = msg.status === 'started' ? 'started' : 'waiting';
    this.startedAt = msg.startedAt ?? null;
    this.#serverIceServers = Array.isArray(msg.iceServers) ? msg.iceServers : null;
    this.#sessionPolicy = sessionPolicyOf(msg);
    this.#heartbeat.start(clampHeartbeat(msg.heartbeatIntervalMs, this.#o.heartbeatIntervalMs ?? 15000));
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
    this.#mesh.afterJoined(change);
    if (this.#joinSettle) {
      this.#joinSettle.resolve(msg);
      this.#joinSettle = null;
    }
  }

  #onSessionStarted(msg) {
    this.sessionStatus = 'started';
    this.startedAt = msg.startedAt ?? null;
    this.#hostCommands.settle('start-session');
    this.emit('session-started', { startedAt: this.startedAt });
    this.emit('session', { status: 'started', startedAt: this.startedAt, reason: null });
  }

  #onSessionEnded(msg) {
    this.sessionStatus = 'ended';
    this.endReason = msg.reason ?? null;
    this.#hostCommands.settle('end-session');
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
      this.#mesh.undelivered(msg.toUserId);
      this.#emitError({ ...e, fatal: false });
      return;
    }
    this.#lastError = e;
    // fatal: the server closes the connection and the client will not reconnect.
    const fatal = FATAL_ERROR_CODES.has(e.code);
    if (e.code === 'not_host' || e.code === 'invalid_state') {
      this.#hostCommands.failOldest(e);
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
    const ws = this.socket;
    return this.#hostCommands.run(type, this.#o.hostCommandTimeoutMs ?? 10000, (msg) => this.#sendRaw(ws, msg));
  }

  /** The RTCConfiguration of every peer connection (see rtcConfigurationOf in joined.js). */
  rtcConfiguration() {
    return rtcConfigurationOf(this.#o, this.#serverIceServers, this.#sessionPolicy);
  }

  /** The session's iceTransportPolicy ('all' | 'relay'), null before `joined` or from an older server. */
  get iceTransportPolicy() {
    return this.#sessionPolicy;
  }

  #onIceServers(msg) {
    if (!Array.isArray(msg.iceServers)) return;
    this.#serverIceServers = msg.iceServers;
    this.#mesh.setConfiguration(this.rtcConfiguration());
    this.emit('ice-servers', { iceServers: msg.iceServers });
  }
}
