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

    const pc = new o.RTCPeerConnection(o.rtcConfig);
    this.pc = pc;
    pc.onnegotiationneeded = () => {
      this.#enqueue(() => this.#negotiate());
    };
    pc.onicecandidate = (ev) => {
      // A null candidate marks the end of gathering; the protocol requires an object, and
      // remote ends do not need the marker, so it is not sent.
      if (this.closed || !ev.candidate) return;
      this.#signal({ type: 'ice-candidate', candidate: candidateToJSON(ev.candidate) });
    };
    pc.ontrack = (ev) => this.#onTrack(ev);
    const onState = () => {
      if (this.closed) return;
      this.#events('peer-state', {
        userId: this.userId,
        connectionState: pc.connectionState,
        iceConnectionState: pc.iceConnectionState,
      });
      // A failed connection gets an ICE restart; with perfect negotiation either end may do it.
      if (pc.connectionState === 'failed' && typeof pc.restartIce === 'function') pc.restartIce();
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

  close() {
    if (this.closed) return;
    this.closed = true;
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
    await pc.setLocalDescription();
    if (this.closed) return;
    const d = pc.localDescription;
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
    await this.#flushCandidates();
    if (type === 'offer') {
      if (!this.#localAttached) this.#attachLocal(this.#pendingLocal ?? []);
      await pc.setLocalDescription();
      if (this.closed) return;
      const d = pc.localDescription;
      this.#signal({ type: d.type, sdp: d.sdp });
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

export function candidateToJSON(c) {
  if (typeof c.toJSON === 'function') return c.toJSON();
  const out = { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex };
  if (c.usernameFragment != null) out.usernameFragment = c.usernameFragment;
  return out;
}
