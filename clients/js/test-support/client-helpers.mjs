// Helpers of the unit tests that drive one SignalingClient by hand (a FakeWebSocket per
// connection, the test playing the server).
import { SignalingClient } from '../src/index.js';
import { FakeWebSocket, FakeRTCPeerConnection, FakeClock, FakeMediaStream } from './fakes.mjs';

export const EVENT_TYPES = [
  'state',
  'joined',
  'participant-joined',
  'participant-left',
  'participant-reconnecting',
  'participant-reconnected',
  'peer-created',
  'peer-closed',
  'session',
  'session-started',
  'session-ended',
  'rtt',
  'error',
  'reconnecting',
  'negotiation',
  'track',
  'stream',
  'peer-state',
];

/** A client on FakeWebSocket/FakeRTCPeerConnection with a manual clock; `events` records everything. */
export function makeClient(extra = {}) {
  const clock = new FakeClock();
  const client = new SignalingClient({
    url: 'http://127.0.0.1:8080',
    token: 'tok',
    sessionId: 's1',
    WebSocket: FakeWebSocket,
    RTCPeerConnection: FakeRTCPeerConnection,
    MediaStream: FakeMediaStream,
    timers: clock.timers,
    now: clock.now,
    random: () => 0.5,
    ...extra,
  });
  const events = [];
  for (const type of EVENT_TYPES) client.on(type, (ev) => events.push({ type, ...ev }));
  const of = (type) => events.filter((e) => e.type === type);
  return { client, clock, events, of };
}

export const lastSocket = () => FakeWebSocket.instances.at(-1);

export function joinedMsg(self, participants, extra = {}) {
  return {
    type: 'joined',
    sessionId: 's1',
    self: { userId: self, displayName: self.toUpperCase() },
    participants: participants.map((u) => ({ userId: u, displayName: u.toUpperCase() })),
    hostUserId: 'alice',
    status: 'waiting',
    heartbeatIntervalMs: 15000,
    ...extra,
  };
}

/** Connects a client and delivers `joined` with the given participants. */
export async function joinAs(ctx, self, participants, extra) {
  const p = ctx.client.join();
  const ws = lastSocket();
  ws._open();
  ws._receive(joinedMsg(self, participants, extra));
  await p;
  return ws;
}

/** A fake SDP answer (or offer) as another RTCPeerConnection `pcId` would write it. */
export function fakeSdp(type, { pcId = 'remote', ufrag = 'ru', version = 1, media = ['0 audio sendrecv', '1 video sendrecv'] } = {}) {
  return [`fake ${type} pc=${pcId} v=${version} ufrag=${ufrag}`, `o=- ${pcId} ${version} IN IP4 127.0.0.1`, ...media.map((m) => `m ${m}`)].join('\n');
}

/** The ufrag of a fake SDP. */
export const ufragOf = (sdp) => /ufrag=(\S+)/.exec(sdp)?.[1];
