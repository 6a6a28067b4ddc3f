// Checks of what the server sends about the session (the `joined` message, participants, ICE
// servers), and the bounds the client puts on it: a confused or hostile server must not make it
// misbehave.

/** Bounds of the heartbeat interval a server may ask for (ms). */
export const HEARTBEAT_MIN_MS = 100;
export const HEARTBEAT_MAX_MS = 300000;

/** Session cap (people, this client included) when the option maxPeers is not given. */
export const DEFAULT_MAX_PEERS = 6;

/** Longest resumeId kept (docs/protocol.md: at most 64 characters). */
const MAX_RESUME_ID = 64;

/** The heartbeat interval to use: the server's if it is a number, clamped to [100 ms, 300 s]. */
export function clampHeartbeat(ms, fallback = 15000) {
  const v = typeof ms === 'number' && Number.isFinite(ms) ? ms : fallback;
  return Math.min(HEARTBEAT_MAX_MS, Math.max(HEARTBEAT_MIN_MS, v));
}

/**
 * Checks a `joined` message: `self` with a string userId; `participants` an array of objects
 * with distinct string userIds, not the client itself. Returns a reason string when it is
 * malformed, null when it is fine.
 */
export function joinedProblem(msg) {
  const self = msg.self;
  if (!self || typeof self !== 'object' || typeof self.userId !== 'string' || self.userId === '') return 'self has no userId';
  if (!Array.isArray(msg.participants)) return 'participants is not an array';
  const seen = new Set();
  for (const p of msg.participants) {
    if (!p || typeof p !== 'object') return 'a participant is not an object';
    if (typeof p.userId !== 'string' || p.userId === '') return 'a participant has no userId';
    if (p.userId === self.userId) return 'the client itself is listed among the participants';
    if (seen.has(p.userId)) return `participant ${p.userId} is listed twice`;
    seen.add(p.userId);
  }
  return null;
}

/** The resumeId of a `joined` message, or null when it has none or an invalid one. */
export function resumeIdOf(msg) {
  return typeof msg.resumeId === 'string' && msg.resumeId.length > 0 && msg.resumeId.length <= MAX_RESUME_ID ? msg.resumeId : null;
}

/** The session's iceTransportPolicy of a `joined` message ('all' | 'relay'), or null. */
export function sessionPolicyOf(msg) {
  return msg.iceTransportPolicy === 'relay' || msg.iceTransportPolicy === 'all' ? msg.iceTransportPolicy : null;
}

/** The number of other people this client connects to: option maxPeers minus itself. */
export function maxRemotePeersOf(options) {
  const maxPeers = Number.isInteger(options.maxPeers) && options.maxPeers >= 2 ? options.maxPeers : DEFAULT_MAX_PEERS;
  return maxPeers - 1;
}

/** A `participant-joined` participant with a string userId, as {userId, displayName}; else null. */
export function participantOf(participant) {
  if (!participant || typeof participant !== 'object' || typeof participant.userId !== 'string' || participant.userId === '') return null;
  return { userId: participant.userId, displayName: participant.displayName ?? participant.userId };
}

/**
 * The roster of a valid `joined` (see joinedProblem): the first `max` participants, in the
 * server's order; the others are `refused` (beyond the session cap).
 */
export function rosterOf(participants, max) {
  const roster = new Map();
  const refused = [];
  for (const p of participants) {
    if (roster.size >= max) {
      refused.push(p.userId);
      continue;
    }
    roster.set(p.userId, { userId: p.userId, displayName: p.displayName ?? p.userId });
  }
  return { roster, refused };
}

/**
 * The RTCConfiguration of every peer connection: the application's `rtcConfig`, with
 * `iceServers` = the application's (option `iceServers`, else `rtcConfig.iceServers`) followed
 * by the server's (from `joined` / `ice-servers`; option `useServerIceServers: false` leaves
 * them out). A session whose policy is `relay` forces `iceTransportPolicy: 'relay'` whatever the
 * application asked (the platform's privacy choice); otherwise the application's policy stays.
 */
export function rtcConfigurationOf(options, serverIceServers, sessionPolicy) {
  const config = { ...(options.rtcConfig ?? {}) };
  const own = options.iceServers ?? options.rtcConfig?.iceServers ?? [];
  const fromServer = options.useServerIceServers === false ? [] : (serverIceServers ?? []);
  if (own.length > 0 || fromServer.length > 0 || options.iceServers) config.iceServers = [...own, ...fromServer];
  if (sessionPolicy === 'relay') config.iceTransportPolicy = 'relay';
  return config;
}
