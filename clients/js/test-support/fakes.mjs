// Fakes for the unit tests: WebSocket, RTCPeerConnection (a small model of the JSEP signaling
// state machine), MediaStream/track, a manual clock, and an in-memory signaling server that
// follows docs/protocol.md closely enough to build a mesh. No network.

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

let nextId = 1;

export class FakeTrack {
  constructor(kind, label = kind) {
    this.kind = kind;
    this.id = `track-${nextId++}`;
    this.label = label;
    this.enabled = true;
  }
}

export class FakeMediaStream {
  constructor(tracks = []) {
    this.id = `stream-${nextId++}`;
    this.tracks = [...tracks];
  }
  getTracks() {
    return [...this.tracks];
  }
  addTrack(t) {
    if (!this.tracks.includes(t)) this.tracks.push(t);
  }
}

export function fakeLocalStream() {
  return new FakeMediaStream([new FakeTrack('audio'), new FakeTrack('video')]);
}

function domError(name, message) {
  const e = new Error(message);
  e.name = name;
  return e;
}

class FakeSender {
  constructor(track) {
    this.track = track;
    this.replaced = [];
  }
  async replaceTrack(t) {
    this.replaced.push(t);
    this.track = t;
  }
}

/**
 * SDP of the fake: a header line, an `o=` line whose session id is the connection's id (as in
 * real SDP it never changes for one RTCPeerConnection), then one line per m-section:
 * `m <mid> <kind> <direction>`.
 */
function encodeSdp(pcId, type, version, ufrag, transceivers) {
  const lines = [`fake ${type} pc=${pcId} v=${version} ufrag=${ufrag}`, `o=- ${pcId} ${version} IN IP4 127.0.0.1`];
  for (const t of transceivers) lines.push(`m ${t.mid} ${t.kind} ${t.sdpDirection}`);
  return lines.join('\n');
}

function decodeSdp(sdp) {
  const [header, ...ms] = sdp.split('\n');
  const ufrag = /ufrag=(\S+)/.exec(header)?.[1];
  const pcId = /pc=(\S+)/.exec(header)?.[1];
  return {
    pcId,
    ufrag,
    media: ms.filter((l) => l.startsWith('m ')).map((l) => {
      const [, mid, kind, direction] = l.split(' ');
      return { mid, kind, direction };
    }),
  };
}

const reverse = { sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' };
function intersect(local, remoteReversed) {
  const send = local.includes('send') && remoteReversed.includes('send');
  const recv = (local === 'sendrecv' || local === 'recvonly') && (remoteReversed === 'sendrecv' || remoteReversed === 'recvonly');
  if (send && recv) return 'sendrecv';
  if (send) return 'sendonly';
  if (recv) return 'recvonly';
  return 'inactive';
}

export class FakeRTCPeerConnection {
  static instances = [];

  constructor(config = {}) {
    this.id = `pc${nextId++}`;
    this.config = config;
    /** every configuration given to setConfiguration, in order */
    this.configurations = [];
    this.signalingState = 'stable';
    this.connectionState = 'new';
    this.iceConnectionState = 'new';
    this.localDescription = null;
    this.remoteDescription = null;
    this.currentLocalDescription = null;
    this.currentRemoteDescription = null;
    this.transceivers = [];
    this.remoteCandidates = [];
    /** every description set, in order: {side:'local'|'remote', type} */
    this.history = [];
    this.version = 0;
    this.ufrag = `u${nextId++}`;
    this.closed = false;
    this.nnScheduled = false;
    this.gathered = false;
    this.remoteStream = new FakeMediaStream();
    this.onnegotiationneeded = null;
    this.onicecandidate = null;
    this.ontrack = null;
    this.onconnectionstatechange = null;
    this.oniceconnectionstatechange = null;
    FakeRTCPeerConnection.instances.push(this);
  }

  // --- tracks ---
  addTrack(track, ...streams) {
    if (this.closed) throw domError('InvalidStateError', 'closed');
    let t = this.transceivers.find(
      (x) => !x.stopped && x.kind === track.kind && !x.sender.track && !x.everSent && x.receiverOnlyReusable,
    );
    if (t) {
      t.sender.track = track;
      t.direction = t.direction === 'recvonly' ? 'sendrecv' : 'sendonly';
    } else {
      t = this.#newTransceiver(track.kind, 'sendrecv', track);
    }
    t.streams = streams;
    this.#updateNegotiationNeeded();
    return t.sender;
  }

  addTransceiver(kind, { direction = 'sendrecv' } = {}) {
    const t = this.#newTransceiver(kind, direction, null);
    this.#updateNegotiationNeeded();
    return t;
  }

  removeTrack(sender) {
    const t = this.transceivers.find((x) => x.sender === sender);
    if (!t || !sender.track) return;
    sender.track = null;
    t.direction = t.direction === 'sendrecv' ? 'recvonly' : 'inactive';
    this.#updateNegotiationNeeded();
  }

  getTransceivers() {
    return [...this.transceivers];
  }
  getSenders() {
    return this.transceivers.map((t) => t.sender);
  }

  #newTransceiver(kind, direction, track) {
    const t = {
      kind,
      mid: null,
      direction,
      current: null,
      sender: new FakeSender(track),
      everSent: false,
      receiverOnlyReusable: true,
      firedTrack: false,
      receiver: { track: new FakeTrack(kind, `remote ${kind}`) },
      stopped: false,
    };
    this.transceivers.push(t);
    return t;
  }

  // --- negotiation ---
  #needsNegotiation() {
    if (this.iceRestartPending) return true;
    return this.transceivers.some((t) => t.mid === null || t.current === null || t.direction !== t.negotiatedLocal);
  }

  #updateNegotiationNeeded() {
    if (this.closed || this.nnScheduled) return;
    this.nnScheduled = true;
    setTimeout(() => {
      this.nnScheduled = false;
      if (this.closed || this.signalingState !== 'stable' || !this.#needsNegotiation()) return;
      this.onnegotiationneeded?.({});
    }, 0);
  }

  async setLocalDescription(desc) {
    await tick();
    if (this.closed) throw domError('InvalidStateError', 'closed');
    const type = desc?.type ?? (this.signalingState === 'have-remote-offer' ? 'answer' : 'offer');
    if (type === 'rollback') {
      if (this.signalingState !== 'have-local-offer' && this.signalingState !== 'have-remote-offer') {
        throw domError('InvalidStateError', `rollback in ${this.signalingState}`);
      }
      if (this.signalingState === 'have-local-offer') {
        for (const t of this.transceivers) if (t.provisionalMid) {
          t.mid = null;
          t.provisionalMid = false;
        }
        this.localDescription = this.currentLocalDescription;
      } else {
        this.remoteDescription = this.currentRemoteDescription;
      }
      this.history.push({ side: 'local', type: 'rollback' });
      this.signalingState = 'stable';
      this.#updateNegotiationNeeded();
      return;
    }
    if (type === 'offer') {
      if (this.signalingState !== 'stable' && this.signalingState !== 'have-local-offer') {
        throw domError('InvalidStateError', `offer in ${this.signalingState}`);
      }
      for (const t of this.transceivers) {
        if (t.mid === null) {
          const used = this.transceivers.filter((x) => x.mid !== null).map((x) => Number(x.mid));
          t.mid = String(Math.max(-1, ...used) + 1);
          t.provisionalMid = true;
        }
        t.sdpDirection = t.direction;
      }
      if (this.iceRestartPending) {
        // An ICE restart: new credentials, candidates gathered again.
        this.iceRestartPending = false;
        this.ufrag = `u${nextId++}`;
        this.gathered = false;
        this.iceRestartOffers = (this.iceRestartOffers ?? 0) + 1;
      }
      this.version += 1;
      this.localDescription = { type, sdp: encodeSdp(this.id, type, this.version, this.ufrag, this.transceivers) };
      this.signalingState = 'have-local-offer';
    } else if (type === 'answer') {
      if (this.signalingState !== 'have-remote-offer') throw domError('InvalidStateError', `answer in ${this.signalingState}`);
      const offer = decodeSdp(this.remoteDescription.sdp);
      const ms = [];
      for (const m of offer.media) {
        const t = this.transceivers.find((x) => x.mid === m.mid);
        t.sdpDirection = intersect(t.direction, reverse[m.direction]);
        t.current = t.sdpDirection;
        t.negotiatedLocal = t.direction;
        if (t.current.includes('send')) t.everSent = true;
        ms.push(t);
      }
      this.version += 1;
      this.localDescription = { type, sdp: encodeSdp(this.id, type, this.version, this.ufrag, ms) };
      this.currentLocalDescription = this.localDescription;
      this.currentRemoteDescription = this.remoteDescription;
      this.signalingState = 'stable';
      this.#updateNegotiationNeeded();
    } else {
      throw domError('TypeError', `bad type ${type}`);
    }
    this.history.push({ side: 'local', type });
    this.#gather();
  }

  async setRemoteDescription(desc) {
    await tick();
    if (this.closed) throw domError('InvalidStateError', 'closed');
    const { type, sdp } = desc;
    const parsed = decodeSdp(sdp);
    if (type === 'offer') {
      // No implicit rollback in this fake: the client must roll back explicitly.
      if (this.signalingState !== 'stable') throw domError('InvalidStateError', `remote offer in ${this.signalingState}`);
      for (const m of parsed.media) {
        let t = this.transceivers.find((x) => x.mid === m.mid);
        if (!t) {
          t = this.transceivers.find((x) => x.mid === null && x.kind === m.kind && !x.stopped);
          if (t) t.mid = m.mid;
        }
        if (!t) {
          t = this.#newTransceiver(m.kind, 'recvonly', null);
          t.mid = m.mid;
        }
        t.remoteDirection = m.direction;
        if (m.direction.includes('send')) this.#fireTrack(t);
      }
      if (this.remoteUfrag && parsed.ufrag && parsed.ufrag !== this.remoteUfrag && this.currentRemoteDescription) {
        // The remote end restarted ICE: this end gets new credentials too.
        this.ufrag = `u${nextId++}`;
        this.gathered = false;
      }
      this.remoteDescription = desc;
      this.signalingState = 'have-remote-offer';
    } else if (type === 'answer') {
      if (this.signalingState !== 'have-local-offer') throw domError('InvalidStateError', `remote answer in ${this.signalingState}`);
      for (const m of parsed.media) {
        const t = this.transceivers.find((x) => x.mid === m.mid);
        if (!t) continue;
        t.provisionalMid = false;
        t.current = reverse[m.direction];
        t.negotiatedLocal = t.direction;
        if (t.current.includes('send')) t.everSent = true;
        if (m.direction.includes('send')) this.#fireTrack(t);
      }
      this.remoteDescription = desc;
      this.currentRemoteDescription = desc;
      this.currentLocalDescription = this.localDescription;
      this.signalingState = 'stable';
      this.#updateNegotiationNeeded();
    } else {
      throw domError('TypeError', `bad type ${type}`);
    }
    this.remoteUfrag = parsed.ufrag;
    this.history.push({ side: 'remote', type });
  }

  async addIceCandidate(candidate) {
    await tick();
    if (this.closed) throw domError('InvalidStateError', 'closed');
    if (!this.remoteDescription) throw domError('InvalidStateError', 'no remote description');
    if (candidate?.usernameFragment && candidate.usernameFragment !== this.remoteUfrag) {
      throw domError('OperationError', 'unknown ufrag');
    }
    this.remoteCandidates.push(candidate);
  }

  setConfiguration(config) {
    // Like the browsers: the transport policy and the servers may change, not the bundle policy.
    if (config.bundlePolicy !== undefined && config.bundlePolicy !== this.config.bundlePolicy) {
      throw new Error('InvalidModificationError: bundlePolicy cannot change');
    }
    this.configurations.push(config);
    this.config = config;
  }

  getConfiguration() {
    return this.config;
  }

  restartIce() {
    this.restartedIce = (this.restartedIce ?? 0) + 1;
    if (this.closed) return;
    this.iceRestartPending = true;
    this.#updateNegotiationNeeded();
  }

  #fireTrack(t) {
    if (t.firedTrack) return;
    t.firedTrack = true;
    this.remoteStream.addTrack(t.receiver.track);
    const ev = { track: t.receiver.track, streams: [this.remoteStream], transceiver: t };
    setTimeout(() => this.ontrack?.(ev), 0);
  }

  #gather() {
    if (this.gathered) return;
    this.gathered = true;
    const ufrag = this.ufrag;
    const mk = (n) => ({
      candidate: `candidate:${n} 1 udp 2122260223 127.0.0.1 ${50000 + n} typ host`,
      sdpMid: '0',
      sdpMLineIndex: 0,
      usernameFragment: ufrag,
      toJSON() {
        return { candidate: this.candidate, sdpMid: this.sdpMid, sdpMLineIndex: this.sdpMLineIndex, usernameFragment: this.usernameFragment };
      },
    });
    setTimeout(() => {
      if (this.closed) return;
      this.onicecandidate?.({ candidate: mk(1) });
      this.onicecandidate?.({ candidate: mk(2) });
      this.onicecandidate?.({ candidate: null });
    }, 0);
  }

  close() {
    this.closed = true;
    this.signalingState = 'closed';
    this.connectionState = 'closed';
    this.iceConnectionState = 'closed';
  }

  // --- test helpers ---
  _setConnectionState(state) {
    this.connectionState = state;
    this.iceConnectionState = state === 'connected' ? 'connected' : state;
    this.onconnectionstatechange?.({});
  }

  /** The ICE credentials (ufrag) of the last remote description. */
  get remoteIceUfrag() {
    return this.remoteDescription ? decodeSdp(this.remoteDescription.sdp).ufrag : null;
  }
}

export class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static instances = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    this.closedByClient = null;
    FakeWebSocket.instances.push(this);
  }

  get query() {
    return Object.fromEntries(new URL(this.url).searchParams);
  }

  send(data) {
    if (this.readyState !== 1) throw domError('InvalidStateError', 'not open');
    this.sent.push(data);
  }

  /** Messages the client sent, parsed. */
  messages(type) {
    const all = this.sent.map((d) => JSON.parse(d));
    return type ? all.filter((m) => m.type === type) : all;
  }

  close(code = 1000, reason = '') {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    this.closedByClient = { code, reason };
    setTimeout(() => this._close(code, reason), 0);
  }

  // --- "server side" ---
  _open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  _receive(msg) {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) });
  }
  _close(code, reason = '') {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason, wasClean: code !== 1006 });
  }
}

/** A manual clock for the client's timers (heartbeat, reconnect backoff, host commands). */
export class FakeClock {
  nowMs = 1_700_000_000_000;
  #timers = new Map();
  #nextId = 1;

  now = () => this.nowMs;
  setTimeout = (fn, ms) => this.#add(fn, ms, null);
  setInterval = (fn, ms) => this.#add(fn, ms, ms);
  clearTimeout = (id) => {
    this.#timers.delete(id);
  };
  clearInterval = (id) => {
    this.#timers.delete(id);
  };

  get timers() {
    return { setTimeout: this.setTimeout, clearTimeout: this.clearTimeout, setInterval: this.setInterval, clearInterval: this.clearInterval };
  }

  pending() {
    return [...this.#timers.values()].map((t) => ({ inMs: t.at - this.nowMs, every: t.every }));
  }

  #add(fn, ms, every) {
    const id = this.#nextId++;
    this.#timers.set(id, { fn, at: this.nowMs + Math.max(0, ms ?? 0), every });
    return id;
  }

  /** Moves time forward by `ms`, running due timers in order. */
  advance(ms) {
    const end = this.nowMs + ms;
    for (;;) {
      let nextId = null;
      let next = null;
      for (const [id, t] of this.#timers) if (t.at <= end && (!next || t.at < next.at)) [nextId, next] = [id, t];
      if (!next) break;
      this.nowMs = next.at;
      if (next.every) next.at += next.every;
      else this.#timers.delete(nextId);
      next.fn();
    }
    this.nowMs = end;
  }
}

/** Waits (real time, bounded) until `cond()` is truthy. */
export async function waitFor(cond, what, timeoutMs = 2000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Lets pending fake work (promise chains, setTimeout 0) run. */
export async function settle(turns = 30) {
  for (let i = 0; i < turns; i += 1) await tick();
}

/**
 * An in-memory signaling server (docs/protocol.md, the parts a client sees): the token is the
 * user id; `joined` to the newcomer then `participant-joined` to the others; relays with
 * fromUserId; `participant-left` on close; start/end session from the host.
 *
 * With `resume: true` it also follows the resume contract (issue 10): `joined` carries `resumeId`
 * and `resumed`; a connection lost without a close frame (drop() with a code other than 1000),
 * or closed by drain() (1012), keeps its place: the others get `participant-reconnecting`, the
 * relayed messages addressed to it are queued (at most `queueMax`, then `undelivered` to the
 * sender); a reconnect with `&resume=<its resumeId>` gets `joined` with `resumed: true` and the
 * current roster, then the queue in order, and the others get `participant-reconnected`.
 * expire(userId) closes the window (participant-left; `undelivered` for what was queued). A
 * resumeId that does not match is a fresh join.
 */
export class FakeSignalingServer {
  constructor({ sessionId = 's1', hostUserId = 'alice', heartbeatIntervalMs = 15000, iceServers, iceTransportPolicy, resume = false, queueMax = 64 } = {}) {
    this.sessionId = sessionId;
    this.iceServers = iceServers;
    this.iceTransportPolicy = iceTransportPolicy;
    this.hostUserId = hostUserId;
    this.heartbeatIntervalMs = heartbeatIntervalMs;
    this.resume = resume;
    this.queueMax = queueMax;
    this.status = 'waiting';
    this.conns = new Map(); // userId -> socket (null while away, resume mode)
    /** resume mode: userId -> {resumeId, queue: [{from, msg}]} for every listed user */
    this.incarnations = new Map();
    this.log = [];
    this.nextResume = 1;
    const server = this;
    this.WebSocket = class extends FakeWebSocket {
      constructor(url) {
        super(url);
        setTimeout(() => server.#accept(this), 0);
      }
      send(data) {
        super.send(data);
        const ws = this;
        setTimeout(() => server.#onMessage(ws, JSON.parse(data)), 0);
      }
      close(code = 1000, reason = '') {
        if (this.readyState >= 2) return;
        super.close(code, reason);
        // A close frame from the client: a clean departure.
        setTimeout(() => server.#drop(this, true), 0);
      }
    };
  }

  /** The connected (or, in resume mode, away) user ids, in join order. */
  roster() {
    return [...this.conns.keys()];
  }

  #deliver(ws, msg) {
    if (!ws || ws.readyState !== 1) return;
    this.log.push({ to: ws.userId, msg });
    setTimeout(() => ws._receive(msg), 0);
  }

  #others(userId) {
    return [...this.conns.entries()].filter(([u, ws]) => u !== userId && ws).map(([, ws]) => ws);
  }

  #accept(ws) {
    const { token, sessionId, resume } = ws.query;
    ws.userId = token;
    ws._open();
    if (sessionId !== this.sessionId) {
      this.#deliver(ws, { type: 'error', code: 'session_not_found', message: 'no such session' });
      setTimeout(() => ws._close(4404, 'session_not_found'), 0);
      return;
    }
    const inc = this.incarnations.get(token);
    if (this.resume && inc && resume && resume === inc.resumeId) {
      this.#resumeJoin(ws, token, inc);
      return;
    }
    if (this.conns.has(token)) {
      if (this.conns.get(token)) this.drop(token, 4440);
      else this.#remove(token);
    }
    const participants = this.roster().map((u) => ({ userId: u, displayName: u.toUpperCase() }));
    const resumeFields = {};
    if (this.resume) {
      const fresh = { resumeId: `r${this.nextResume++}-${token}`, queue: [] };
      this.incarnations.set(token, fresh);
      Object.assign(resumeFields, { resumeId: fresh.resumeId, resumed: false });
    }
    this.#deliver(ws, { ...this.#joinedBody(token, participants), ...resumeFields });
    for (const other of this.#others(token)) {
      this.#deliver(other, { type: 'participant-joined', participant: { userId: token, displayName: token.toUpperCase() } });
    }
    this.conns.set(token, ws);
  }

  #joinedBody(token, participants) {
    return {
      type: 'joined',
      sessionId: this.sessionId,
      self: { userId: token, displayName: token.toUpperCase() },
      participants,
      hostUserId: this.hostUserId,
      status: this.status,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      ...(this.iceServers ? { iceServers: this.iceServers } : {}),
      ...(this.iceTransportPolicy ? { iceTransportPolicy: this.iceTransportPolicy } : {}),
    };
  }

  #resumeJoin(ws, token, inc) {
    const old = this.conns.get(token);
    if (old) {
      // The server had not noticed the loss: the old socket goes, silently.
      old.userId = null;
      setTimeout(() => old._close(4440, ''), 0);
    }
    this.conns.set(token, ws);
    const participants = this.roster().filter((u) => u !== token).map((u) => ({ userId: u, displayName: u.toUpperCase() }));
    this.#deliver(ws, { ...this.#joinedBody(token, participants), resumeId: inc.resumeId, resumed: true });
    for (const { msg } of inc.queue.splice(0)) this.#deliver(ws, msg);
    for (const other of this.#others(token)) this.#deliver(other, { type: 'participant-reconnected', userId: token });
  }

  #onMessage(ws, msg) {
    if (this.conns.get(ws.userId) !== ws) return;
    this.log.push({ from: ws.userId, msg });
    switch (msg.type) {
      case 'offer':
      case 'answer':
      case 'ice-candidate': {
        if (this.dropRelays?.(ws.userId, msg)) return;
        const relayed = { ...msg, fromUserId: ws.userId };
        if (this.resume && this.conns.has(msg.toUserId) && !this.conns.get(msg.toUserId)) {
          const inc = this.incarnations.get(msg.toUserId);
          if (inc.queue.length >= this.queueMax) {
            this.#deliver(ws, { type: 'error', code: 'undelivered', message: 'queue full', toUserId: msg.toUserId });
          } else {
            inc.queue.push({ from: ws.userId, msg: relayed });
          }
          return;
        }
        const to = this.conns.get(msg.toUserId);
        if (!to) {
          this.#deliver(ws, { type: 'error', code: 'target_not_connected', message: 'no', toUserId: msg.toUserId });
          return;
        }
        this.#deliver(to, relayed);
        return;
      }
      case 'heartbeat':
        this.#deliver(ws, typeof msg.ts === 'number' ? { type: 'heartbeat-ack', ts: msg.ts } : { type: 'heartbeat-ack' });
        return;
      case 'start-session':
        if (ws.userId !== this.hostUserId) return this.#deliver(ws, { type: 'error', code: 'not_host', message: 'not the host' });
        this.status = 'started';
        for (const c of this.#others(null)) this.#deliver(c, { type: 'session-started', startedAt: '2026-11-24T10:15:30.123Z' });
        return;
      case 'end-session':
        if (ws.userId !== this.hostUserId) return this.#deliver(ws, { type: 'error', code: 'not_host', message: 'not the host' });
        this.status = 'ended';
        for (const c of this.#others(null)) {
          this.#deliver(c, { type: 'session-ended', reason: 'host_ended' });
          setTimeout(() => c._close(1000, 'session_ended'), 0);
        }
        this.conns.clear();
        this.incarnations.clear();
        return;
      case 'leave':
        this.drop(ws.userId, 1000);
        return;
      default:
        return;
    }
  }

  /** The socket `ws` ended; `clean`: a leave or a close frame (else lost, resumable). */
  #drop(ws, clean) {
    if (!ws.userId || this.conns.get(ws.userId) !== ws) return;
    if (this.resume && !clean) {
      this.conns.set(ws.userId, null);
      for (const other of this.#others(ws.userId)) this.#deliver(other, { type: 'participant-reconnecting', userId: ws.userId });
      return;
    }
    this.#remove(ws.userId);
  }

  #remove(userId) {
    this.conns.delete(userId);
    const inc = this.incarnations.get(userId);
    this.incarnations.delete(userId);
    for (const { from } of inc?.queue ?? []) {
      this.#deliver(this.conns.get(from), { type: 'error', code: 'undelivered', message: 'did not come back', toUserId: userId });
    }
    for (const other of this.#others(userId)) this.#deliver(other, { type: 'participant-left', userId });
  }

  /**
   * Closes a user's socket from the server side with `code` and tells the others: 1000 is a
   * departure; any other code, in resume mode, a loss (the user may resume).
   */
  drop(userId, code = 1006) {
    const ws = this.conns.get(userId);
    if (!ws) return;
    this.#drop(ws, code === 1000 || code === 4440 || code === 4408 || !this.resume);
    setTimeout(() => ws._close(code, ''), 0);
  }

  /** A draining node: close code 1012, the user keeps its place (resume mode). */
  drain(userId) {
    this.drop(userId, 1012);
  }

  /** The resume window of an away user closed: it leaves. */
  expire(userId) {
    if (this.conns.has(userId) && !this.conns.get(userId)) this.#remove(userId);
  }
}
