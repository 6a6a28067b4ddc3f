// The demo room: one tile per participant (video, name, per-peer connection state), mute,
// camera and screen-share buttons, the host's start/end buttons, session status and errors.
//
// Query parameters:
//   sessionId, token   join that session with that JWT;
//   userId             without a token: ask the development server for one (/dev/token);
//   vw, vh, fps        size and rate asked of the camera (default 320x240 at 15 fps).
//
// `window.room` exposes the client and a few helpers for debugging and the browser tests.
import { SignalingClient } from './lib/index.js';

const params = new URLSearchParams(location.search);
const $ = (sel) => document.querySelector(sel);

const room = {
  client: null,
  localStream: null,
  screenStream: null,
  /** Every event the page handled, in order: {type, ...}. */
  events: [],
  /** Peer connections the client closed, by user id (the last one). */
  closedPeers: new Map(),
  stats,
};
window.room = room;

// Errors that normal races produce (a candidate sent just as its target left, a message for
// someone reconnecting that the server could not keep): shown greyed.
const MINOR_ERRORS = new Set(['target_not_connected', 'undelivered', 'unknown_peer']);

function record(type, detail = {}) {
  room.events.push({ type, at: Date.now(), ...detail });
}

function showError(code, message, minor = false) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${code}: ${message}`;
  li.dataset.code = code;
  if (minor) li.className = 'minor';
  const list = $('#errors');
  list.prepend(li);
  while (list.children.length > 20) list.lastElementChild.remove();
}

function notice(text) {
  const el = $('#notice');
  el.textContent = text ?? '';
  el.hidden = !text;
}

async function credentials() {
  const token = params.get('token');
  const sessionId = params.get('sessionId');
  if (token && sessionId) return { token, sessionId };
  const userId = params.get('userId');
  if (!userId) throw new Error('no token: open the room from the index page, or pass ?sessionId=...&token=...');
  const body = await devToken(userId);
  // Development tokens are short-lived: every later (re)connection asks for a fresh one.
  let first = body.token;
  const fresh = async () => {
    if (first === null) return (await devToken(userId)).token;
    const t = first;
    first = null;
    return t;
  };
  return { token: fresh, sessionId: body.sessionId };
}

async function devToken(userId) {
  const res = await fetch(`/dev/token?userId=${encodeURIComponent(userId)}`);
  if (!res.ok) throw new Error(`/dev/token answered ${res.status}: is the server running with --dev?`);
  return res.json();
}

async function openCamera() {
  const num = (name, dflt) => {
    const v = Number(params.get(name));
    return Number.isFinite(v) && v > 0 ? v : dflt;
  };
  const video = { width: { ideal: num('vw', 320) }, height: { ideal: num('vh', 240) }, frameRate: { ideal: num('fps', 15) } };
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video });
  } catch (err) {
    showError('media', `camera/microphone unavailable (${err.name}): you will receive the others without sending`);
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      return null;
    }
  }
}

// ---- tiles ----

const tiles = new Map(); // userId -> figure

function tileFor(userId, displayName, isSelf = false) {
  let tile = tiles.get(userId);
  if (!tile) {
    tile = $('#tile-template').content.firstElementChild.cloneNode(true);
    tile.dataset.userId = userId;
    if (isSelf) tile.classList.add('self');
    tiles.set(userId, tile);
    $('#grid').append(tile);
    layout();
  }
  tile.querySelector('.name').textContent = displayName ?? userId;
  const tags = [];
  if (isSelf) tags.push('you');
  if (room.client?.hostUserId === userId) tags.push('host');
  tile.querySelector('.tags').textContent = tags.join(' · ');
  if (isSelf) setTileState(userId, 'self');
  return tile;
}

function setTileState(userId, state) {
  const tile = tiles.get(userId);
  if (!tile) return;
  tile.dataset.state = state;
  const el = tile.querySelector('.state');
  el.dataset.state = state;
  el.textContent = state === 'self' ? 'local' : state;
}

/** The "reconnecting" badge: that participant's signaling connection is lost; its media may flow. */
function setReconnecting(userId, on) {
  const tile = tiles.get(userId);
  if (!tile) return;
  tile.classList.toggle('reconnecting', on);
  tile.querySelector('.reconnecting-badge').hidden = !on;
}

function removeTile(userId) {
  tiles.get(userId)?.remove();
  tiles.delete(userId);
  layout();
}

/** A square-ish grid: 2 columns for 2 to 4 people, 3 for 5 to 6. */
function layout() {
  const n = Math.max(1, tiles.size);
  $('#grid').style.setProperty('--cols', String(Math.ceil(Math.sqrt(n))));
}

function showStream(userId, stream, { muted = false } = {}) {
  const tile = tiles.get(userId);
  if (!tile) return;
  const box = tile.querySelector('.videos');
  let video = [...box.querySelectorAll('video')].find((v) => v.srcObject === stream);
  if (!video) {
    video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = muted;
    video.dataset.streamId = stream.id;
    video.srcObject = stream;
    box.prepend(video);
    stream.addEventListener?.('removetrack', () => {
      if (stream.getTracks().length === 0) video.remove();
    });
  }
  video.play?.().catch(() => {
    // autoplay with sound may need a click; the video still shows once the user interacts
  });
}

function clearRemoteTiles() {
  for (const userId of [...tiles.keys()]) if (userId !== room.client?.self?.userId) removeTile(userId);
}

// ---- status bar ----

function renderSession() {
  const c = room.client;
  const el = $('#session-status');
  let text = c.sessionStatus;
  if (c.sessionStatus === 'started' && c.startedAt) text = `started at ${new Date(c.startedAt).toLocaleTimeString()}`;
  if (c.sessionStatus === 'ended') text = `ended (${c.endReason ?? 'unknown'})`;
  el.textContent = text;
  el.dataset.status = c.sessionStatus;
  const host = c.isHost;
  $('#host-controls').hidden = !host;
  $('#start-session').disabled = !host || c.state !== 'joined' || c.sessionStatus !== 'waiting';
  $('#end-session').disabled = !host || c.state !== 'joined' || c.sessionStatus === 'ended';
}

function renderConnection() {
  const c = room.client;
  const el = $('#connection-state');
  el.textContent = c.state === 'closed' ? `closed (${c.closeReason})` : c.state;
  el.dataset.state = c.state;
  const live = c.state !== 'closed';
  $('#leave').disabled = !live;
  for (const id of ['#mute', '#camera', '#share']) $(id).disabled = !live || (id !== '#share' && !room.localStream);
  if (!navigator.mediaDevices?.getDisplayMedia) $('#share').disabled = true;
}

// ---- diagnostics ----

/**
 * Per peer: connection state, video frames decoded (inbound-rtp, summed over the video
 * streams) and how many inbound video streams have decoded frames.
 */
async function stats() {
  const out = {};
  for (const p of room.client?.peers() ?? []) {
    let framesDecoded = 0;
    let bytesReceived = 0;
    let videosDecoding = 0;
    try {
      const report = await p.pc.getStats();
      report.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          framesDecoded += s.framesDecoded ?? 0;
          bytesReceived += s.bytesReceived ?? 0;
          if (s.framesDecoded > 0) videosDecoding += 1;
        }
      });
    } catch {
      // closed meanwhile
    }
    out[p.userId] = { connectionState: p.connectionState, framesDecoded, bytesReceived, videosDecoding };
  }
  return out;
}

async function refreshFrames() {
  const s = await stats();
  for (const [userId, v] of Object.entries(s)) {
    const el = tiles.get(userId)?.querySelector('.frames');
    if (el) el.textContent = `${v.framesDecoded} frames`;
  }
}

// ---- wiring ----

function wire(client) {
  client.on('state', (e) => {
    record('state', { state: e.state, reason: e.reason ?? null, code: e.code ?? null });
    renderConnection();
    renderSession();
    if (e.state === 'reconnecting') notice(e.code === 1012 ? 'The server is restarting: reconnecting…' : 'Connection lost: reconnecting…');
    else if (e.state === 'joined') notice(null);
    else if (e.state === 'closed') {
      const why = {
        left: 'You left the room.',
        ended: 'The session has ended.',
        rejected: `The server refused the connection${e.errorCode ? ` (${e.errorCode})` : ''}.`,
        failed: 'Could not reconnect.',
        closed: 'The connection was closed.',
      }[e.reason] ?? 'Closed.';
      notice(why);
    }
  });
  client.on('joined', (e) => {
    record('joined', { rejoin: e.rejoin, resumed: e.resumed, participants: e.participants.map((p) => p.userId) });
    document.title = `Room – ${e.self.displayName}`;
    $('#self-name').textContent = e.self.displayName;
    // Resumed: the connections and their videos stay; the client reports who left or came
    // meanwhile (participant-left / participant-joined). Otherwise the mesh starts over.
    if (!e.resumed) clearRemoteTiles();
    tileFor(e.self.userId, e.self.displayName, true);
    if (room.localStream) showStream(e.self.userId, room.localStream, { muted: true });
    for (const p of e.participants) {
      const known = e.resumed && tiles.has(p.userId);
      tileFor(p.userId, p.displayName);
      if (!known) setTileState(p.userId, 'new');
      setReconnecting(p.userId, p.reconnecting === true);
    }
    renderSession();
  });
  client.on('participant-joined', ({ participant }) => {
    record('participant-joined', { userId: participant.userId });
    tileFor(participant.userId, participant.displayName);
    setTileState(participant.userId, 'new');
  });
  client.on('participant-left', ({ userId }) => {
    record('participant-left', { userId });
    removeTile(userId);
  });
  // Its tile (and video) stays: the peer connection is kept while it reconnects.
  client.on('participant-reconnecting', ({ userId }) => {
    record('participant-reconnecting', { userId });
    setReconnecting(userId, true);
  });
  client.on('participant-reconnected', ({ userId }) => {
    record('participant-reconnected', { userId });
    setReconnecting(userId, false);
  });
  client.on('peer-state', ({ userId, connectionState }) => {
    record('peer-state', { userId, connectionState });
    setTileState(userId, connectionState);
  });
  client.on('peer-closed', ({ userId, pc }) => {
    record('peer-closed', { userId });
    room.closedPeers.set(userId, pc);
  });
  client.on('stream', ({ userId, stream }) => {
    record('stream', { userId, streamId: stream.id });
    showStream(userId, stream);
  });
  client.on('session', () => renderSession());
  client.on('session-started', (e) => record('session-started', e));
  client.on('session-ended', (e) => record('session-ended', e));
  client.on('rtt', ({ rttMs }) => {
    $('#rtt').textContent = `${rttMs} ms`;
  });
  client.on('reconnecting', (e) => record('reconnecting', e));
  client.on('negotiation', (e) => record('negotiation', { userId: e.userId, event: e.event }));
  client.on('error', (e) => {
    record('error', { code: e.code, message: e.message, ...(e.toUserId !== undefined ? { toUserId: e.toUserId } : {}) });
    showError(e.code, e.message, MINOR_ERRORS.has(e.code));
  });
}

function wireButtons() {
  $('#mute').addEventListener('click', () => {
    const tracks = room.localStream?.getAudioTracks() ?? [];
    const muted = $('#mute').getAttribute('aria-pressed') !== 'true';
    for (const t of tracks) t.enabled = !muted;
    $('#mute').setAttribute('aria-pressed', String(muted));
    $('#mute').textContent = muted ? 'Unmute' : 'Mute';
  });
  $('#camera').addEventListener('click', () => {
    const tracks = room.localStream?.getVideoTracks() ?? [];
    const off = $('#camera').getAttribute('aria-pressed') !== 'true';
    for (const t of tracks) t.enabled = !off;
    $('#camera').setAttribute('aria-pressed', String(off));
    $('#camera').textContent = off ? 'Camera on' : 'Camera off';
  });
  $('#share').addEventListener('click', async () => {
    const c = room.client;
    if (room.screenStream) {
      for (const t of room.screenStream.getTracks()) {
        c.removeTrack(t);
        t.stop();
      }
      room.screenStream = null;
      $('#share').setAttribute('aria-pressed', 'false');
      $('#share').textContent = 'Share screen';
      return;
    }
    try {
      const s = await navigator.mediaDevices.getDisplayMedia({ video: true });
      room.screenStream = s;
      for (const t of s.getVideoTracks()) {
        c.addTrack(t, s);
        t.addEventListener('ended', () => {
          if (room.screenStream === s) $('#share').click();
        });
      }
      $('#share').setAttribute('aria-pressed', 'true');
      $('#share').textContent = 'Stop sharing';
    } catch (err) {
      showError('screen', `screen share failed: ${err.message}`);
    }
  });
  $('#start-session').addEventListener('click', () => {
    room.client.startSession().catch((err) => showError(err.code ?? 'start', err.message));
  });
  $('#end-session').addEventListener('click', () => {
    room.client.endSession().catch((err) => showError(err.code ?? 'end', err.message));
  });
  $('#leave').addEventListener('click', () => room.client.leave());
}

async function main() {
  wireButtons();
  let creds;
  try {
    creds = await credentials();
  } catch (err) {
    notice(err.message);
    showError('setup', err.message);
    return;
  }
  $('#session-id').textContent = creds.sessionId;
  room.localStream = await openCamera();
  const client = new SignalingClient({
    token: creds.token,
    sessionId: creds.sessionId,
    iceServers: [],
    localStream: room.localStream,
  });
  room.client = client;
  wire(client);
  renderConnection();
  addEventListener('pagehide', () => client.leave());
  setInterval(refreshFrames, 2000);
  try {
    await client.join();
  } catch (err) {
    // Already shown by the state and error handlers.
    record('join-failed', { code: err.code, reason: err.reason });
  }
}

main();
