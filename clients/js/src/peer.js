/**
 * One RTCPeerConnection to one remote participant, negotiated with "perfect negotiation"
 * (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example):
 *
 * - every offer comes from `negotiationneeded` (the initial one included), so adding a track or a
 *   screen share later renegotiates the same way;
 * - both ends agree on who is polite (by default the smaller userId, see SignalingClient);
 * - on an offer collision the impolite end ignores the incoming offer and the polite end rolls
 *   its own offer back, then answers;
 * - remote ICE candidates that arrive before a remote description are queued and applied right
 *   after it is set.
 *
 * All signaling work of one peer runs on one promise chain, so a remote description, a candidate
 * and our own offer never interleave.
 *
 * ICE restarts (network change): a connection that stays `disconnected` for `iceRestartAfterMs` or
 * becomes `failed` gets restartIce() and a new offer, on the same RTCPeerConnection, from the
 * impolite end only (both ends agree on it, so two restarts never cross); the polite end waits
 * and answers. At most one restart per `iceRestartAfterMs`.
 *
 * Only the initiator (the newcomer, who got this participant in its `joined` list) attaches its
 * local tracks at creation, so it is the one whose `negotiationneeded` fires and whose offer goes
 * first (user story AC3). The other end creates its connection when the offer arrives and
 * attaches its tracks between setRemoteDescription(offer) and the answer, so they ride on the
 * transceivers of the offer and need no second round.
 */
export class Peer {
  /** @type {RTCPeerConnection} */
  pc;
  userId;
  displayName;
  polite;
  initiator;
  closed = false;
  /** Remote MediaStreams seen on this connection, by id. */
  remoteStreams = new Map();
  /** ICE restarts this end started. */
  iceRestarts = 0;
  /** An ICE restart is due but could not be signaled (no socket): done on the next resync(). */
  restartPending = false;
  /** The o= session id of the last remote description (identifies the remote RTCPeerConnection). */
  remoteSessionId = null;

  #send;
  #events;
  #chain = Promise.resolve();
  #pendingCandidates = [];
  #ignoreOffer = false;
  #localAttached = false;
  /** local tracks waiting for the first remote offer (non-initiator only) */
  #pendingLocal = null;
  /** local MediaStreamTrack -> RTCRtpSender */
  #senders = new Map();
  #receiveKinds;
  #MediaStream;
  #fallbackStream = null;
  #timers;
  #now;
  #iceRestartAfterMs;
  #canSignal;
  #iceTimer = null;
  #lastIceRestart = null;
  /** local candidates that could not be sent (no socket), re-sent by resync() */
  #unsentCandidates = [];
  /** our last answer could not be sent: resync() sends it again */
  #unsentAnswer = false;
  /** no restartIce() on this RTCPeerConnection: the next offer is made with {iceRestart: true} */
  #manualIceRestart = false;

  /**
   * @param {object} o
   * @param {string} o.userId remote user id
   * @param {string} [o.displayName]
   * @param {boolean} o.polite
   * @param {boolean} o.initiator whether this end sends the first offer
   * @param {Function} o.RTCPeerConnection constructor
   * @param {object} o.rtcConfig RTCConfiguration
   * @param {Array<{track: MediaStreamTrack, stream?: MediaStream}>} o.localTracks
   * @param {string[]} [o.receiveKinds] kinds to receive even without a local track of that kind
   * @param {(msg: object) => boolean} o.send sends a signaling message (toUserId added here)
   * @param {(type: string, event: object) => void} o.emit
   * @param {Function} [o.MediaStream] constructor used when a remote track comes without a stream
   * @param {object} [o.timers] setTimeout/clearTimeout (default: the globals)
   * @param {() => number} [o.now]
   * @param {number} [o.iceRestartAfterMs] how long `disconnected` lasts before an ICE restart (3000)
   * @param {() => boolean} [o.canSignal] whether the signaling socket is up (default: always)
   */
  constructor(o) {
    this.userId = o.userId;
    this.displayName = o.displayName ?? o.userId;
    this.polite = o.polite;
    this.initiator = o.initiator;
    this.#send = o.send;
    this.#events = o.emit;
    this.#receiveKinds = o.receiveKinds ?? ['audio', 'video'];
    this.#MediaStream = o.MediaStream;
    const g = globalThis;
    this.#timers = {
      setTimeout: o.timers?.setTimeout ?? g.setTimeout.bind(g),
      clearTimeout: o.timers?.clearTimeout ?? g.clearTimeout.bind(g),
    };
    this.#now = o.now ?? (() => Date.now());
    // At least 100 ms: a restart needs a round trip through the server anyway.
    const after = o.iceRestartAfterMs;
    this.#iceRestartAfterMs = typeof after === 'number' && Number.isFinite(after) ? Math.max(100, after) : 3000;
    this.#canSignal = o.canSignal ?? (() => true);

    const pc = new o.RTCPeerConnection(o.rtcConfig);
    this.pc = pc;
    pc.onnegotiationneeded = () => {
      this.#enqueue(() => this.#negotiate());
    };
    pc.onicecandidate = (ev) => {
      // A null candidate marks the end of gathering; the protocol requires an object, and
      // remote ends do not need the marker, so it is not sent.
      if (this.closed || !ev.candidate) return;
      const msg = { type: 'ice-candidate', candidate: candidateToJSON(ev.candidate) };
      // Kept for resync(), bounded: a gathering yields a handful; older ones are of no use.
      if (!this.#signal(msg)) this.#unsentCandidates = [...this.#unsentCandidates.slice(-49), msg];
    };
    pc.ontrack = (ev) => this.#onTrack(ev);
    const onState = () => {
      if (this.closed) return;
      this.#events('peer-state', {
        userId: this.userId,
        connectionState: pc.connectionState,
        iceConnectionState: pc.iceConnectionState,
      });
      this.#watchIce();
    };
    pc.onconnectionstatechange = onState;
    pc.oniceconnectionstatechange = onState;

    if (this.initiator) this.#attachLocal(o.localTracks);
    else this.#pendingLocal = [...o.localTracks];
  }

  get connectionState() {
    return this.closed ? 'closed' : this.pc.connectionState;
  }

  /** Handles a relayed `offer` or `answer`. Returns when it has been processed. */
  handleDescription(description) {
    return this.#enqueue(() => this.#onDescription(description));
  }

  /** Handles a relayed `ice-candidate`. */
  handleCandidate(candidate) {
    return this.#enqueue(() => this.#onCandidate(candidate));
  }

  /** Sends a local track to this peer (renegotiates when needed). */
  addTrack(track, stream) {
    if (this.closed) return;
    if (!this.#localAttached) {
      // Not negotiated yet (we wait for the remote offer): it is attached with the answer.
      if (!this.#pendingLocal.some((t) => t.track === track)) this.#pendingLocal.push({ track, stream });
      return;
    }
    if (this.#senders.has(track)) return;
    this.#senders.set(track, this.pc.addTrack(track, ...(stream ? [stream] : [])));
  }

  /** Stops sending a local track to this peer (renegotiates). */
  removeTrack(track) {
    if (this.closed) return;
    if (!this.#localAttached) {
      this.#pendingLocal = this.#pendingLocal.filter((t) => t.track !== track);
      return;
    }
    const sender = this.#senders.get(track);
    if (!sender) return;
    this.#senders.delete(track);
    this.pc.removeTrack(sender);
  }

  /** Swaps the track a sender carries without renegotiation. */
  async replaceTrack(oldTrack, newTrack, stream) {
    if (this.closed) return;
    if (!this.#localAttached) {
      this.#pendingLocal = this.#pendingLocal.map((t) =>
        t.track === oldTrack ? { track: newTrack, stream: stream ?? t.stream } : t,
      );
      return;
    }
    const sender = this.#senders.get(oldTrack);
    if (!sender) {
      this.addTrack(newTrack, stream);
      return;
    }
    this.#senders.delete(oldTrack);
    this.#senders.set(newTrack, sender);
    await sender.replaceTrack(newTrack);
  }

  /**
   * Restarts ICE on this connection: restartIce() (or an offer with iceRestart: true where the
   * browser has no restartIce), so the next offer carries new ICE credentials; the media goes on
   * on the same RTCPeerConnection once the new pair is checked. Without a signaling socket the
   * restart waits for resync(). The caller decides which end restarts (see #iceTrouble).
   */
  restartIce(reason = 'requested') {
    if (this.closed) return false;
    if (!this.#canSignal()) {
      this.restartPending = true;
      this.#events('negotiation', { userId: this.userId, event: 'ice-restart-deferred', reason });
      return false;
    }
    this.restartPending = false;
    this.#lastIceRestart = this.#now();
    this.iceRestarts += 1;
    this.#events('negotiation', { userId: this.userId, event: 'ice-restart', reason });
    if (typeof this.pc.restartIce === 'function') this.pc.restartIce();
    else this.#manualIceRestart = true;
    // restartIce() fires negotiationneeded when stable; negotiating here too does not depend on
    // it (#negotiate does nothing unless stable, so one offer goes out either way).
    this.#enqueue(() => this.#negotiate());
    // Look again later: still disconnected or failed then (the network is still down), one more.
    this.#armIceTimer(this.#iceRestartAfterMs);
    return true;
  }

  /**
   * Asks for an ICE restart under the same rules as a network change: only from the impolite
   * end, at most one per iceRestartAfterMs. Returns whether one was started now.
   */
  requestIceRestart() {
    const before = this.iceRestarts;
    this.#iceTrouble('requested');
    return this.iceRestarts > before;
  }

  /** A restart deferred for want of signaling (see restartIce) is started now, impolite end only. */
  retryDeferredRestart() {
    if (!this.restartPending) return;
    if (this.polite) this.restartPending = false;
    else this.restartIce('deferred');
  }

  /**
   * After the signaling connection came back (a resumed `joined` and the messages queued for us):
   * sends again what may have been lost: our offer still unanswered (the same offer: with perfect
   * negotiation a duplicate is harmless, the remote end answers it again or resolves a
   * collision), our last answer if it could not be sent, local candidates that could not be sent,
   * and a deferred ICE restart (impolite end only).
   */
  resync() {
    if (this.closed) return;
    this.#enqueue(async () => {
      const pc = this.pc;
      const d = pc.localDescription;
      if (pc.signalingState === 'have-local-offer' && d && d.type === 'offer') {
        this.#events('negotiation', { userId: this.userId, event: 'resent-offer' });
        this.#signal({ type: 'offer', sdp: d.sdp });
      } else if (this.#unsentAnswer && pc.signalingState === 'stable' && d && d.type === 'answer') {
        this.#events('negotiation', { userId: this.userId, event: 'resent-answer' });
        if (this.#signal({ type: 'answer', sdp: d.sdp })) this.#unsentAnswer = false;
      }
      const candidates = this.#unsentCandidates;
      this.#unsentCandidates = [];
      for (const c of candidates) if (!this.#signal(c)) this.#unsentCandidates.push(c);
    });
    this.retryDeferredRestart();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.#clearIceTimer();
    const pc = this.pc;
    pc.onnegotiationneeded = null;
    pc.onicecandidate = null;
    pc.ontrack = null;
    pc.onconnectionstatechange = null;
    pc.oniceconnectionstatechange = null;
    this.#pendingCandidates = [];
    try {
      pc.close();
    } catch {
      // already closed
    }
  }

  // ---- internals ----

  #signal(msg) {
    return this.#send({ ...msg, toUserId: this.userId });
  }

  /** `disconnected` for iceRestartAfterMs, or `failed`: an ICE restart from the impolite end. */
  #watchIce() {
    const pc = this.pc;
    const failed = pc.connectionState === 'failed' || pc.iceConnectionState === 'failed';
    const disconnected = pc.connectionState === 'disconnected' || pc.iceConnectionState === 'disconnected';
    if (failed) {
      this.#iceTrouble('failed');
    } else if (disconnected) {
      if (!this.#iceTimer) this.#armIceTimer(this.#iceRestartAfterMs);
    } else {
      this.#clearIceTimer();
    }
  }

  #iceTrouble(reason) {
    if (this.closed) return;
    if (this.polite) {
      // The impolite end restarts; we answer its offer. Nothing to do but wait.
      this.#events('negotiation', { userId: this.userId, event: 'ice-restart-waiting', reason });
      return;
    }
    const since = this.#lastIceRestart === null ? Infinity : this.#now() - this.#lastIceRestart;
    if (since < this.#iceRestartAfterMs) {
      // Bounded: one restart per iceRestartAfterMs; look again when that time is up.
      if (!this.#iceTimer) this.#armIceTimer(this.#iceRestartAfterMs - since);
      return;
    }
    this.#clearIceTimer();
    this.restartIce(reason);
  }

  #armIceTimer(ms) {
    this.#clearIceTimer();
    this.#iceTimer = this.#timers.setTimeout(() => {
      this.#iceTimer = null;
      if (this.closed) return;
      const pc = this.pc;
      if (pc.connectionState === 'failed' || pc.iceConnectionState === 'failed') this.#iceTrouble('failed');
      else if (pc.connectionState === 'disconnected' || pc.iceConnectionState === 'disconnected') this.#iceTrouble('disconnected');
    }, ms);
  }

  #clearIceTimer() {
    if (this.#iceTimer) {
      this.#timers.clearTimeout(this.#iceTimer);
      this.#iceTimer = null;
    }
  }

  #enqueue(fn) {
    const run = this.#chain.then(() => (this.closed ? undefined : fn()));
    this.#chain = run.catch((err) => {
      if (this.closed) return;
      this.#events('error', {
        code: 'negotiation_failed',
        message: `negotiation with ${this.userId} failed: ${err?.message ?? err}`,
        userId: this.userId,
        fatal: false,
        cause: err,
      });
    });
    return this.#chain;
  }

  #attachLocal(tracks) {
    if (this.#localAttached) return;
    this.#localAttached = true;
    this.#pendingLocal = null;
    const kinds = new Set();
    for (const { track, stream } of tracks) {
      if (this.#senders.has(track)) continue;
      this.#senders.set(track, this.pc.addTrack(track, ...(stream ? [stream] : [])));
      kinds.add(track.kind);
    }
    if (this.initiator) {
      // Without a local track of a kind, still ask to receive it (a participant without a camera
      // sees the others). A track added later reuses this transceiver.
      for (const kind of this.#receiveKinds) {
        if (!kinds.has(kind)) this.pc.addTransceiver(kind, { direction: 'recvonly' });
      }
    }
  }

  async #negotiate() {
    const pc = this.pc;
    // Not stable: an exchange is under way; the browser fires negotiationneeded again when it
    // returns to stable if a new offer is still needed.
    if (pc.signalingState !== 'stable') return;
    if (this.#manualIceRestart) {
      this.#manualIceRestart = false;
      await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
    } else {
      await pc.setLocalDescription();
    }
    if (this.closed) return;
    const d = pc.localDescription;
    // Unsent (no socket): resync() sends it again while it is still unanswered.
    this.#signal({ type: d.type, sdp: d.sdp });
  }

  async #onDescription({ type, sdp }) {
    const pc = this.pc;
    if (type !== 'offer' && type !== 'answer') return;
    const offerCollision = type === 'offer' && pc.signalingState !== 'stable';
    this.#ignoreOffer = !this.polite && offerCollision;
    if (this.#ignoreOffer) {
      this.#events('negotiation', { userId: this.userId, event: 'ignored-colliding-offer' });
      return;
    }
    if (type === 'answer' && pc.signalingState !== 'have-local-offer') {
      // An answer to an offer we rolled back or never made: nothing to apply it to.
      this.#events('negotiation', { userId: this.userId, event: 'ignored-stray-answer' });
      return;
    }
    if (offerCollision) {
      this.#events('negotiation', { userId: this.userId, event: 'rollback' });
      await pc.setLocalDescription({ type: 'rollback' });
    }
    await pc.setRemoteDescription({ type, sdp });
    this.remoteSessionId = sdpSessionId(sdp) ?? this.remoteSessionId;
    await this.#flushCandidates();
    if (type === 'offer') {
      if (!this.#localAttached) this.#attachLocal(this.#pendingLocal ?? []);
      await pc.setLocalDescription();
      if (this.closed) return;
      const d = pc.localDescription;
      this.#unsentAnswer = !this.#signal({ type: d.type, sdp: d.sdp });
    }
  }

  async #onCandidate(candidate) {
    if (!this.pc.remoteDescription) {
      this.#pendingCandidates.push(candidate);
      return;
    }
    await this.#addCandidate(candidate);
  }

  async #flushCandidates() {
    const pending = this.#pendingCandidates;
    this.#pendingCandidates = [];
    for (const c of pending) await this.#addCandidate(c);
  }

  async #addCandidate(candidate) {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      // Candidates of an offer we ignored (collision) or of a previous ICE generation are
      // expected to fail; they do not break the connection.
      if (this.closed) return;
      this.#events('negotiation', {
        userId: this.userId,
        event: 'candidate-rejected',
        message: String(err?.message ?? err),
      });
    }
  }

  #onTrack(ev) {
    if (this.closed) return;
    let stream = ev.streams && ev.streams[0];
    if (!stream && this.#MediaStream) {
      this.#fallbackStream ??= new this.#MediaStream();
      this.#fallbackStream.addTrack(ev.track);
      stream = this.#fallbackStream;
    }
    this.#events('track', { userId: this.userId, track: ev.track, stream, streams: ev.streams ?? [] });
    if (stream && !this.remoteStreams.has(stream.id)) {
      this.remoteStreams.set(stream.id, stream);
      this.#events('stream', { userId: this.userId, stream });
    }
  }
}

/**
 * The session id of the SDP's o= line (RFC 4566): it stays the same for the whole life of the
 * RTCPeerConnection that made the description, so a new one means a new remote connection.
 */
export function sdpSessionId(sdp) {
  if (typeof sdp !== 'string') return null;
  const m = /^o=\S+ (\S+) /m.exec(sdp);
  return m ? m[1] : null;
}

export function candidateToJSON(c) {
  if (typeof c.toJSON === 'function') return c.toJSON();
  const out = { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex };
  if (c.usernameFragment != null) out.usernameFragment = c.usernameFragment;
  return out;
}
