export {
  SignalingClient,
  backoffDelay,
  signalingUrl,
  isRejectionCloseCode,
  FATAL_ERROR_CODES,
  DEFAULT_RECONNECT,
  DRAIN_CLOSE_CODE,
  DEFAULT_MAX_PEERS,
  HEARTBEAT_MIN_MS,
  HEARTBEAT_MAX_MS,
  clampHeartbeat,
  joinedProblem,
} from './client.js';
export { Peer, candidateToJSON, sdpSessionId } from './peer.js';
export { Emitter } from './emitter.js';
