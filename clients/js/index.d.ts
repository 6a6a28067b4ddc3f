// Type declarations of @signaling/client (src/index.js).

export type ClientState = 'idle' | 'connecting' | 'joined' | 'reconnecting' | 'closed';
export type CloseReason = 'left' | 'ended' | 'rejected' | 'closed' | 'failed';
export type SessionStatus = 'unknown' | 'waiting' | 'started' | 'ended';

export interface Participant {
  userId: string;
  displayName: string;
}

/** A participant as participants() lists it. */
export interface RosterEntry extends Participant {
  /** Its connection to the server is lost (participant-reconnecting); its peer connection is kept. */
  reconnecting: boolean;
}

export interface ReconnectOptions {
  /** First delay in ms (default 500). */
  baseMs?: number;
  /** Largest delay in ms (default 10000). */
  maxMs?: number;
  /** Growth factor per attempt (default 2). */
  factor?: number;
  /** Random fraction of the delay, 0..1 (default 0.5: the delay lies in [d/2, d]). */
  jitter?: number;
  /** Attempts in a row before giving up (default Infinity). */
  maxAttempts?: number;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
}

export interface SignalingClientOptions {
  /**
   * Base URL of the server (ws:, wss:, http: or https:; `/ws/signaling` is appended unless the
   * path already ends with it). Default: the page's origin.
   */
  url?: string;
  /** Endpoint path (default '/ws/signaling'). */
  path?: string;
  /** The JWT, or a function giving one (called before every connection, so it can refresh). */
  token: string | (() => string | Promise<string>);
  sessionId: string;
  /** The application's ICE servers; the server's (from `joined`, TURN credentials included) follow them. */
  iceServers?: RTCIceServer[];
  /** false: ignore the iceServers the server sends (default true). */
  useServerIceServers?: boolean;
  /** Extra RTCConfiguration (iceServers above wins; a relay session forces iceTransportPolicy 'relay'). */
  rtcConfig?: RTCConfiguration;
  /** Media sent to every peer. */
  localStream?: MediaStream | null;
  /**
   * Kinds the newcomer asks to receive even without a local track of that kind
   * (default ['audio', 'video']).
   */
  receiveKinds?: Array<'audio' | 'video'>;
  /** Used until `joined` gives the server's interval (default 15000); the server's is clamped to [100, 300000]. */
  heartbeatIntervalMs?: number;
  /**
   * The session cap, this client included (default 6): at most maxPeers - 1 remote peer
   * connections and roster entries; more are refused (error `peer_limit`).
   */
  maxPeers?: number;
  /**
   * A peer connection `disconnected` this long (or `failed`) gets an ICE restart, from the
   * impolite end only; at most one restart per this delay per peer (default 3000 ms).
   */
  iceRestartAfterMs?: number;
  /** Backoff of the reconnects, or false to never reconnect. */
  reconnect?: ReconnectOptions | false;
  /**
   * Whether this end is the polite one towards `peerId`; both ends must agree.
   * Default: the smaller user id is polite.
   */
  polite?: (selfUserId: string, peerUserId: string) => boolean;
  /** How long startSession/endSession wait for the server (default 10000 ms). */
  hostCommandTimeoutMs?: number;
  /** Injected for tests; default: the globals. */
  WebSocket?: { new (url: string): WebSocket };
  RTCPeerConnection?: { new (config?: RTCConfiguration): RTCPeerConnection };
  MediaStream?: { new (): MediaStream };
  timers?: Timers;
  now?: () => number;
  random?: () => number;
}

export interface PeerInfo {
  userId: string;
  displayName: string;
  polite: boolean;
  /** Whether this end sent the first offer (it is the newcomer of the pair). */
  initiator: boolean;
  connectionState: RTCPeerConnectionState;
  iceConnectionState: RTCIceConnectionState;
  signalingState: RTCSignalingState;
  /** ICE restarts this end started on this connection. */
  iceRestarts: number;
  /** Remote streams received from this peer. */
  streams: MediaStream[];
  pc: RTCPeerConnection;
}

export interface JoinedMessage {
  type: 'joined';
  sessionId: string;
  self: Participant;
  participants: Participant[];
  hostUserId: string;
  status: 'waiting' | 'started';
  startedAt?: string;
  heartbeatIntervalMs: number;
  /** Opaque id of this incarnation (servers with resume); sent back as `&resume=` on reconnect. */
  resumeId?: string;
  /** true: the server resumed the previous connection (same place, peer connections kept). */
  resumed?: boolean;
}

export interface SignalingError {
  /** Server error code (docs/protocol.md section 4; `undelivered` with `toUserId` is not fatal)
   * or a client one: negotiation_failed, token_unavailable, connect_failed,
   * invalid_server_message, invalid_joined (fatal), unknown_peer, peer_limit,
   * set_configuration_failed. */
  code: string;
  message: string;
  toUserId?: string;
  /** Peer concerned by a negotiation error. */
  userId?: string;
  /** The client stops for good (the server refused or replaced the connection). */
  fatal: boolean;
  cause?: unknown;
}

export interface SignalingEvents {
  state: { state: ClientState; previous: ClientState; reason?: CloseReason; code?: number | null; errorCode?: string | null };
  /**
   * Every `joined` (rejoin: true after a reconnect): `participants` replaces the list. resumed:
   * the previous connection was resumed, every peer connection kept (people who left or came
   * meanwhile are reported as participant-left / participant-joined right after).
   */
  joined: { rejoin: boolean; resumed: boolean; resumeId: string | null; self: Participant; participants: RosterEntry[]; hostUserId: string; status: SessionStatus; startedAt: string | null };
  'participant-joined': { participant: Participant };
  'participant-left': { userId: string };
  /** Its signaling connection is lost; it keeps its place and its peer connection stays. */
  'participant-reconnecting': { userId: string };
  /** It resumed (also after our own resume, for those we had seen reconnecting). */
  'participant-reconnected': { userId: string };
  'peer-created': { userId: string; initiator: boolean; polite: boolean };
  'peer-state': { userId: string; connectionState: RTCPeerConnectionState; iceConnectionState: RTCIceConnectionState };
  'peer-closed': { userId: string; pc: RTCPeerConnection };
  track: { userId: string; track: MediaStreamTrack; stream?: MediaStream; streams: readonly MediaStream[] };
  stream: { userId: string; stream: MediaStream };
  session: { status: SessionStatus; startedAt: string | null; reason: string | null };
  'session-started': { startedAt: string | null };
  'session-ended': { reason: string | null };
  rtt: { rttMs: number };
  /** resume: the attempt asks to resume (`&resume=`); drain: after close 1012, a 0-1 s delay instead of the backoff. */
  reconnecting: { attempt: number; delayMs: number; code: number | null; resume: boolean; drain: boolean };
  error: SignalingError;
  /**
   * Negotiation details: 'rollback', 'ignored-colliding-offer', 'ignored-stray-answer',
   * 'candidate-rejected', 'ice-restart', 'ice-restart-deferred', 'ice-restart-waiting' (polite
   * end), 'resent-offer', 'resent-answer', 'redo', 'replaced-stale-connection'.
   */
  negotiation: { userId: string; event: string; message?: string; reason?: string };
  /** Every message from the server, parsed. */
  message: { type: string; [field: string]: unknown };
}

export class Emitter<E = Record<string, unknown>> {
  on<K extends keyof E & string>(type: K, listener: (event: E[K]) => void): () => void;
  once<K extends keyof E & string>(type: K, listener: (event: E[K]) => void): () => void;
  off<K extends keyof E & string>(type: K, listener: (event: E[K]) => void): void;
  emit<K extends keyof E & string>(type: K, event: E[K]): boolean;
}

export class SignalingClient extends Emitter<SignalingEvents> {
  constructor(options: SignalingClientOptions);
  readonly state: ClientState;
  readonly closeReason: CloseReason | null;
  readonly sessionStatus: SessionStatus;
  readonly startedAt: string | null;
  readonly endReason: string | null;
  readonly hostUserId: string | null;
  readonly self: Participant | null;
  /** Last heartbeat round trip in ms. */
  readonly rtt: number | null;
  readonly socket: WebSocket | null;
  readonly joinCount: number;
  /** `joined` messages with resumed: true. */
  readonly resumeCount: number;
  /** The resumeId of the last `joined` (null: the server gave none, or none valid). */
  readonly resumeId: string | null;
  readonly sessionId: string;
  readonly isHost: boolean;
  readonly localStream: MediaStream | null;
  /**
   * Connects and resolves on the first `joined`. Rejects (error with `reason`, `code`,
   * `closeCode`) when refused or closed before joining.
   */
  join(): Promise<JoinedMessage>;
  /** Sends `leave`, closes the socket and every peer connection. */
  leave(): Promise<void>;
  participants(): RosterEntry[];
  peers(): PeerInfo[];
  peer(userId: string): PeerInfo | undefined;
  setLocalStream(stream: MediaStream | null): Promise<void>;
  addTrack(track: MediaStreamTrack, stream?: MediaStream): void;
  removeTrack(track: MediaStreamTrack): void;
  /**
   * ICE restart of the connection to userId (or all): only where this end is the impolite one,
   * at most one per iceRestartAfterMs per peer. Returns the user ids restarted now.
   */
  restartIce(userId?: string): string[];
  /** Host only. Resolves on `session-started`; rejects with code not_host, invalid_state or timeout. */
  startSession(): Promise<void>;
  /** Host only. Resolves on `session-ended`. */
  endSession(): Promise<void>;
  /** Sends a raw protocol message; false when not connected. */
  send(message: { type: string; [field: string]: unknown }): boolean;
  /** The RTCConfiguration given to every peer connection. */
  rtcConfiguration(): RTCConfiguration;
  /** The session's iceTransportPolicy, null before `joined` or from an older server. */
  readonly iceTransportPolicy: 'all' | 'relay' | null;
}

export const DEFAULT_RECONNECT: Readonly<Required<ReconnectOptions>>;
export const FATAL_ERROR_CODES: ReadonlySet<string>;
/** 1012: the node drains; reconnect (resume) at once. */
export const DRAIN_CLOSE_CODE: 1012;
export const DEFAULT_MAX_PEERS: number;
export const HEARTBEAT_MIN_MS: number;
export const HEARTBEAT_MAX_MS: number;
/** The server's heartbeat interval clamped to [HEARTBEAT_MIN_MS, HEARTBEAT_MAX_MS]; `fallback` if not a number. */
export function clampHeartbeat(ms: unknown, fallback?: number): number;
/** Why a `joined` message is malformed, or null. */
export function joinedProblem(msg: object): string | null;
/** The session id of an SDP's o= line (constant for one RTCPeerConnection), or null. */
export function sdpSessionId(sdp: string): string | null;
export function backoffDelay(attempt: number, options?: ReconnectOptions, random?: () => number): number;
export function signalingUrl(o: { base?: string; path?: string; token: string; sessionId: string; resume?: string | null }): string;
export function isRejectionCloseCode(code: number): boolean;
export function candidateToJSON(c: RTCIceCandidate | RTCIceCandidateInit): RTCIceCandidateInit;

export class Peer {
  readonly pc: RTCPeerConnection;
  readonly userId: string;
  readonly displayName: string;
  readonly polite: boolean;
  readonly initiator: boolean;
  readonly closed: boolean;
  readonly remoteStreams: Map<string, MediaStream>;
  readonly connectionState: RTCPeerConnectionState;
  readonly iceRestarts: number;
  readonly restartPending: boolean;
  readonly remoteSessionId: string | null;
  /** Restarts ICE now (or once signaling is back); the caller picks the end that may. */
  restartIce(reason?: string): boolean;
  /** Sends again what the signaling outage may have lost (unanswered offer, answer, candidates). */
  resync(): void;
  retryDeferredRestart(): void;
  /** restartIce() under the side and rate rules; true if it started one now. */
  requestIceRestart(): boolean;
  handleDescription(d: { type: 'offer' | 'answer'; sdp: string }): Promise<void>;
  handleCandidate(c: RTCIceCandidateInit): Promise<void>;
  addTrack(track: MediaStreamTrack, stream?: MediaStream): void;
  removeTrack(track: MediaStreamTrack): void;
  replaceTrack(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack, stream?: MediaStream): Promise<void>;
  close(): void;
}
