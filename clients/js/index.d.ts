// Type declarations of @signaling/client (src/index.js).

export type ClientState = 'idle' | 'connecting' | 'joined' | 'reconnecting' | 'closed';
export type CloseReason = 'left' | 'ended' | 'rejected' | 'closed' | 'failed';
export type SessionStatus = 'unknown' | 'waiting' | 'started' | 'ended';

export interface Participant {
  userId: string;
  displayName: string;
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
  /** Used until `joined` gives the server's interval (default 15000). */
  heartbeatIntervalMs?: number;
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
}

export interface SignalingError {
  /** Server error code (docs/protocol.md section 4) or a client one: negotiation_failed,
   * token_unavailable, connect_failed, invalid_server_message. */
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
  /** Every `joined` (rejoin: true after a reconnect): `participants` replaces the list. */
  joined: { rejoin: boolean; self: Participant; participants: Participant[]; hostUserId: string; status: SessionStatus; startedAt: string | null };
  'participant-joined': { participant: Participant };
  'participant-left': { userId: string };
  'peer-created': { userId: string; initiator: boolean; polite: boolean };
  'peer-state': { userId: string; connectionState: RTCPeerConnectionState; iceConnectionState: RTCIceConnectionState };
  'peer-closed': { userId: string; pc: RTCPeerConnection };
  track: { userId: string; track: MediaStreamTrack; stream?: MediaStream; streams: readonly MediaStream[] };
  stream: { userId: string; stream: MediaStream };
  session: { status: SessionStatus; startedAt: string | null; reason: string | null };
  'session-started': { startedAt: string | null };
  'session-ended': { reason: string | null };
  rtt: { rttMs: number };
  reconnecting: { attempt: number; delayMs: number; code: number | null };
  error: SignalingError;
  /** Perfect-negotiation details: 'rollback', 'ignored-colliding-offer', 'ignored-stray-answer', 'candidate-rejected'. */
  negotiation: { userId: string; event: string; message?: string };
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
  participants(): Participant[];
  peers(): PeerInfo[];
  peer(userId: string): PeerInfo | undefined;
  setLocalStream(stream: MediaStream | null): Promise<void>;
  addTrack(track: MediaStreamTrack, stream?: MediaStream): void;
  removeTrack(track: MediaStreamTrack): void;
  /** Host only. Resolves on `session-started`; rejects with code not_host, invalid_state or timeout. */
  startSession(): Promise<void>;
  /** Host only. Resolves on `session-ended`. */
  endSession(): Promise<void>;
  /** Sends a raw protocol message; false when not connected. */
  send(message: { type: string; [field: string]: unknown }): boolean;
}

export const DEFAULT_RECONNECT: Readonly<Required<ReconnectOptions>>;
export const FATAL_ERROR_CODES: ReadonlySet<string>;
export function backoffDelay(attempt: number, options?: ReconnectOptions, random?: () => number): number;
export function signalingUrl(o: { base?: string; path?: string; token: string; sessionId: string }): string;
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
  handleDescription(d: { type: 'offer' | 'answer'; sdp: string }): Promise<void>;
  handleCandidate(c: RTCIceCandidateInit): Promise<void>;
  addTrack(track: MediaStreamTrack, stream?: MediaStream): void;
  removeTrack(track: MediaStreamTrack): void;
  replaceTrack(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack, stream?: MediaStream): Promise<void>;
  close(): void;
}
