export {
  SignalingClient,
  backoffDelay,
  signalingUrl,
  isRejectionCloseCode,
  FATAL_ERROR_CODES,
  DEFAULT_RECONNECT,
} from './client.js';
export { Peer, candidateToJSON } from './peer.js';
export { Emitter } from './emitter.js';
