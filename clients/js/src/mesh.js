import { Peer, sdpSessionId } from './peer.js';
import { participantOf, rosterOf } from './joined.js';

/**
 * After a resumed `joined`, how long to wait for the messages queued for us before sending again
 * what may have been lost. The first heartbeat-ack ends the wait sooner: the server answers our
 * heartbeat (sent right after `joined`) after it has delivered the queue.
 */
const RESUME_SYNC_FALLBACK_MS = 2000;

function defaultPolite(selfId, peerId) {
  return selfId < peerId;
}

/**
 * The other participants of the session and the peer connections to them (full mesh): the
 * roster, the relayed messages (offer, answer, ice-candidate), and what a resume must redo.
 * Owned by a SignalingClient, which gives it `host`:
 *   { options, RTCPeerConnection, timers, now, maxRemotePeers, emit(type, ev), selfId(),
 *     isJoined(), canSignal(), send(msg), rtcConfiguration(), localTracks() }
 */
export class Mesh {
  #host;
  #participants = new Map();
  #peers = new Map();
  /** users whose connection to the server is lost (participant-reconnecting) */
  #reconnectingUsers = new Set();
  /** users whose negotiation must be redone once they are back (an `undelivered` error) */
  #redo = new Set();
  /** after a resumed `joined`: the timer that ends the wait for the queued messages */
  #resumeSyncTimer = null;

  constructor(host) {
    this.#host = host;
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

  /** The Peer objects (to add, remove or replace local tracks). */
  peerObjects() {
    return this.#peers.values();
  }

  /** ICE restart of the connection to `userId` (or of every one); the user ids restarted now. */
  restartIce(userId) {
    const targets = userId === undefined ? [...this.#peers.values()] : [this.#peers.get(userId)].filter(Boolean);
    return targets.filter((peer) => peer.requestIceRestart()).map((peer) => peer.userId);
  }

  /** New RTCConfiguration (fresh TURN credentials) for every peer connection. */
  setConfiguration(config) {
    // Fresh TURN credentials: relays allocated already stay up; the next allocation (an ICE
    // restart, a new peer) uses these.
    for (const peer of this.#peers.values()) {
      try {
        peer.pc.setConfiguration?.(config);
      } catch (err) {
        this.#emitError({ code: 'set_configuration_failed', message: String(err?.message ?? err), userId: peer.userId });
      }
    }
  }

  // ---- joined ----

  /**
   * Applies the roster of a valid `joined` (before the client announces it): the new roster,
   * nobody reconnecting, and the peer connections that no longer hold closed. Returns what
   * afterJoined needs.
   */
  applyJoined(participants, resumed) {
    const oldRoster = this.#participants;
    const { roster, refused } = rosterOf(participants, this.#host.maxRemotePeers);
    this.#participants = roster;
    const wasReconnecting = [...this.#reconnectingUsers];
    this.#reconnectingUsers = new Set();
    const left = [];
    const arrived = [];
    if (resumed) {
      // Keep every connection; close only those to people who left while we were away.
      for (const userId of [...this.#peers.keys()]) if (!roster.has(userId)) this.closePeer(userId);
      for (const userId of oldRoster.keys()) if (!roster.has(userId)) left.push(userId);
      for (const userId of roster.keys()) if (!oldRoster.has(userId)) arrived.push(userId);
      for (const userId of [...this.#redo]) if (!roster.has(userId)) this.#redo.delete(userId);
    } else {
      // A fresh `joined` (first one, or the server did not resume us): the others dropped their
      // connections to our previous socket, so every old peer connection goes and the mesh is
      // built again.
      for (const userId of [...this.#peers.keys()]) this.closePeer(userId);
      this.#redo.clear();
    }
    return { resumed, roster, refused, left, arrived, wasReconnecting };
  }

  /** After the client announced `joined`: the events of a resume, or the offers of a fresh join. */
  afterJoined({ resumed, roster, refused, left, arrived, wasReconnecting }) {
    const emit = this.#host.emit;
    for (const userId of refused) this.#refusePeer(userId);
    if (resumed) {
      // What happened while we were away, as the events the application already handles.
      for (const userId of left) emit('participant-left', { userId });
      for (const userId of arrived) emit('participant-joined', { participant: { ...roster.get(userId) } });
      // We missed their participant-reconnected (only relayed messages are queued): they are
      // listed, so they count as back.
      for (const userId of wasReconnecting) if (roster.has(userId)) emit('participant-reconnected', { userId });
      // No offer to people we have no connection to: they joined while we were away and their
      // offer is queued for us. Negotiation that was under way is sent again once the queue is in.
      this.#resumeSyncTimer = this.#host.timers.setTimeout(() => this.resumeSynced(), RESUME_SYNC_FALLBACK_MS);
    } else {
      // Per AC3 the newcomer offers to everyone already there.
      for (const p of roster.values()) this.#createPeer(p.userId, true);
    }
  }

  /** True while a resumed client waits for the messages queued for it. */
  get resumeSyncPending() {
    return !!this.#resumeSyncTimer;
  }

  /** The messages queued for us while we were away are in: send again what may have been lost. */
  resumeSynced() {
    this.stopResumeSync();
    if (!this.#host.isJoined()) return;
    for (const peer of this.#peers.values()) {
      if (this.#redo.has(peer.userId) && !this.#reconnectingUsers.has(peer.userId)) {
        this.#redo.delete(peer.userId);
        this.#redoNegotiation(peer);
      }
      peer.resync();
    }
  }

  stopResumeSync() {
    if (this.#resumeSyncTimer) {
      this.#host.timers.clearTimeout(this.#resumeSyncTimer);
      this.#resumeSyncTimer = null;
    }
  }

  /**
   * A message of ours to this peer was dropped (`undelivered`): its unanswered offer is sent
   * again, and the impolite end restarts ICE (lost candidates or a lost answer); the polite end
   * waits for that offer.
   */
  #redoNegotiation(peer) {
    this.#host.emit('negotiation', { userId: peer.userId, event: 'redo' });
    const before = peer.iceRestarts;
    peer.resync();
    if (!peer.polite && peer.iceRestarts === before) peer.restartIce('undelivered');
  }

  /**
   * An `undelivered` error: a message of ours to a reconnecting user was dropped. Its negotiation
   * is redone once it is back (now, if it is back already).
   */
  undelivered(u) {
    if (typeof u === 'string' && this.#participants.has(u)) {
      const peer = this.#peers.get(u);
      if (peer && !this.#reconnectingUsers.has(u)) this.#redoNegotiation(peer);
      else if (peer) this.#redo.add(u);
    }
  }

  // ---- roster messages ----

  participantJoined(participant) {
    const p = participantOf(participant);
    if (!p) return;
    if (p.userId === this.#host.selfId()) return;
    // A peer connection left over from an earlier connection of that user is stale: the newcomer
    // will offer again.
    if (this.#peers.has(p.userId)) this.closePeer(p.userId);
    if (!this.#participants.has(p.userId) && this.#participants.size >= this.#host.maxRemotePeers) {
      this.#refusePeer(p.userId);
      return;
    }
    this.#reconnectingUsers.delete(p.userId);
    this.#redo.delete(p.userId);
    this.#participants.set(p.userId, p);
    this.#host.emit('participant-joined', { participant: { ...p } });
  }

  participantLeft(userId) {
    if (typeof userId !== 'string') return;
    this.closePeer(userId);
    this.#reconnectingUsers.delete(userId);
    this.#redo.delete(userId);
    const had = this.#participants.delete(userId);
    if (had) this.#host.emit('participant-left', { userId });
  }

  /** Its connection to the server is lost; it keeps its place, and we keep the connection to it. */
  participantReconnecting(userId) {
    if (typeof userId !== 'string' || !this.#participants.has(userId)) return;
    this.#reconnectingUsers.add(userId);
    this.#host.emit('participant-reconnecting', { userId });
  }

  participantReconnected(userId) {
    if (typeof userId !== 'string' || !this.#participants.has(userId)) return;
    this.#reconnectingUsers.delete(userId);
    this.#host.emit('participant-reconnected', { userId });
    const peer = this.#peers.get(userId);
    if (!peer) return;
    if (this.#redo.delete(userId)) this.#redoNegotiation(peer);
    else peer.retryDeferredRestart();
  }

  isReconnecting(userId) {
    return this.#reconnectingUsers.has(userId);
  }

  // ---- relayed messages ----

  /** The sender of a relayed message must be in the roster; returns its name or null. */
  #knownSender(msg) {
    const from = msg.fromUserId;
    if (typeof from !== 'string') return null;
    if (from === this.#host.selfId() || !this.#participants.has(from)) {
      this.#emitError({ code: 'unknown_peer', message: `ignored ${msg.type} from ${from}: not a participant of the session`, userId: from });
      return null;
    }
    return from;
  }

  description(msg) {
    if (typeof msg.sdp !== 'string') return;
    const from = this.#knownSender(msg);
    if (!from) return;
    let peer = this.#peers.get(from);
    if (peer && msg.type === 'offer') {
      // An offer from another RTCPeerConnection of that user (it joined afresh while we were
      // away, so we saw no participant-left/joined): our connection is stale, start over.
      const sid = sdpSessionId(msg.sdp);
      if (sid && peer.remoteSessionId && sid !== peer.remoteSessionId) {
        this.#host.emit('negotiation', { userId: from, event: 'replaced-stale-connection' });
        this.closePeer(from);
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

  candidate(msg) {
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

  // ---- peers ----

  #createPeer(userId, initiator) {
    const h = this.#host;
    if (this.#peers.has(userId)) this.closePeer(userId);
    if (this.#peers.size >= h.maxRemotePeers) {
      this.#refusePeer(userId);
      return null;
    }
    const selfId = h.selfId() ?? '';
    const polite = (h.options.polite ?? defaultPolite)(selfId, userId);
    const rtcConfig = h.rtcConfiguration();
    const peer = new Peer({
      userId,
      displayName: this.#participants.get(userId)?.displayName ?? userId,
      polite,
      initiator,
      RTCPeerConnection: h.RTCPeerConnection,
      rtcConfig,
      localTracks: h.localTracks().map((t) => ({ track: t.track, stream: t.stream ?? undefined })),
      receiveKinds: h.options.receiveKinds,
      MediaStream: h.options.MediaStream ?? globalThis.MediaStream,
      send: h.send,
      emit: (type, ev) => h.emit(type, ev),
      timers: h.timers,
      now: h.now,
      iceRestartAfterMs: h.options.iceRestartAfterMs ?? 3000,
      // An ICE restart needs our socket, and the peer's: towards a peer that is reconnecting it
      // waits for participant-reconnected.
      canSignal: () => h.canSignal() && !this.#reconnectingUsers.has(userId),
    });
    this.#peers.set(userId, peer);
    h.emit('peer-created', { userId, initiator, polite });
    return peer;
  }

  /** More people than the session cap (maxPeers): no connection, a non-fatal error. */
  #refusePeer(userId) {
    this.#emitError({ code: 'peer_limit', message: `no connection to ${userId}: the session cap is ${this.#host.maxRemotePeers + 1} people`, userId });
  }

  closePeer(userId) {
    const peer = this.#peers.get(userId);
    if (!peer) return;
    this.#peers.delete(userId);
    this.#redo.delete(userId);
    peer.close();
    this.#host.emit('peer-state', { userId, connectionState: 'closed', iceConnectionState: 'closed' });
    this.#host.emit('peer-closed', { userId, pc: peer.pc });
  }

  closeAll() {
    for (const userId of [...this.#peers.keys()]) this.closePeer(userId);
  }

  #emitError(e) {
    this.#host.emit('error', { fatal: false, ...e });
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
