// The reconnect policy of the client: which close codes end it for good, how long to wait before
// the next attempt, and how a final close is described.

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

/** Close code of a draining node (service restart): resume at once, elsewhere. */
export const DRAIN_CLOSE_CODE = 1012;

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
 * The wait before the next attempt after a close with `code` (null: no socket was opened), when
 * `attempt` attempts were made since the last `joined`. Returns { delayMs, drain }.
 */
export function reconnectDelay(attempt, code, options, random) {
  // A draining node (1012) closed a connection that worked: come back at once, with a small
  // random delay (the server spreads its closes already). A 1012 on a connection that never
  // joined takes the backoff, so a server that keeps closing cannot make us spin.
  const drain = code === DRAIN_CLOSE_CODE && attempt === 0;
  const delayMs = drain ? Math.round(random() * 1000) : backoffDelay(attempt, options, random);
  return { delayMs, drain };
}

/**
 * What a socket close means: [reason, detail] for a close that ends the client, null for a
 * dropped connection to retry. `lastError` is the last `error` message of that socket.
 */
export function closeOutcome({ code, reason, leaving, sessionEnded, lastError }) {
  const fatalError = lastError && FATAL_ERROR_CODES.has(lastError.code) ? lastError : null;
  if (leaving) return ['left', { code }];
  if (sessionEnded || reason === 'session_ended') return ['ended', { code }];
  if (isRejectionCloseCode(code) || fatalError) {
    return ['rejected', { code, errorCode: fatalError?.code ?? null, message: fatalError?.message }];
  }
  if (code === 1000) return ['closed', { code }];
  return null;
}

/** The message of the error with which join() rejects and pending host commands fail. */
export function closeMessage(reason, { code, errorCode, message }) {
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

/**
 * The WebSocket URL of the signaling endpoint.
 * `base` is the server's base URL (ws:, wss:, http: or https:, with or without the
 * `/ws/signaling` path); without it, the page's origin is used.
 */
export function signalingUrl({ base, path = '/ws/signaling', token, sessionId, resume }) {
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
  if (resume) u.searchParams.set('resume', resume);
  return u.toString();
}
