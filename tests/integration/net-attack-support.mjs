// Shared by the network-edge attack tests (attack-http, attack-connections): a joined pair that
// must keep relaying, the server's baseline of descriptors and memory, and raw TCP helpers.
import assert from 'node:assert/strict';
import net from 'node:net';
import { openFds, rssKiB, sampleRss, RSS_SCALE } from './attack-support.mjs';
import { sessionWith, waitFor, withTimeout } from './harness.mjs';

export { openFds, rssKiB, sampleRss, RSS_SCALE };

/**
 * A session of two joined participants, the server's descriptors and RSS before the attack, and
 * after(): the two still relay an offer, and the descriptors come back to the baseline.
 */
export async function guardedPair(server) {
  const { clients } = await sessionWith(server, ['a', 'b']);
  const pid = server.proc.pid;
  const fds = openFds(pid);
  const rss = rssKiB(pid);
  return {
    pid,
    fds,
    rss,
    clients,
    async after() {
      server.assertAlive();
      clients.a.send({ type: 'offer', toUserId: 'b', sdp: 'v=0\r\ns=after-the-attack\r\n' });
      const m = await clients.b.next((x) => x.type === 'offer', 5000, 'offer relayed after the attack');
      assert.equal(m.fromUserId, 'a');
      await waitFor(() => openFds(pid) <= fds, { timeoutMs: 10_000, what: `descriptors back to ${fds}` });
      const h = await server.http('GET', '/healthz', { key: null });
      assert.equal(h.status, 200);
    },
  };
}

/** A raw TCP connection from `localAddress` (default 127.0.0.1) with what it receives collected. */
export function rawConnect(port, { localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.received = [];
    s.on('data', (d) => s.received.push(d));
    s.whenClosed = new Promise((r) => s.once('close', r));
    s.once('error', (e) => {
      s.failure = e;
      reject(e);
    });
  });
}

export const receivedText = (s) => Buffer.concat(s.received).toString('latin1');

/** Resolves true when `s` is closed by the server within `ms`, false otherwise. */
export async function closedWithin(s, ms) {
  let timer;
  const t = new Promise((r) => (timer = setTimeout(() => r(false), ms)));
  const r = await Promise.race([s.whenClosed.then(() => true), t]);
  clearTimeout(timer);
  return r;
}

/**
 * Writes `first`, then `filler` again and again (awaiting drain) until `totalBytes` are written,
 * the server closes (its side of) the connection, or `ms` pass. Returns the bytes written.
 */
export async function stream(s, first, filler, totalBytes, ms = 5000) {
  const deadline = Date.now() + ms;
  let written = 0;
  let closed = false;
  s.whenClosed.then(() => (closed = true));
  s.once('end', () => (closed = true)); // the server answered and closed its side
  s.on('error', () => {});
  const write = (chunk) =>
    new Promise((resolve) => {
      if (closed || s.destroyed || !s.writable) return resolve(false);
      const ok = s.write(chunk);
      written += chunk.length;
      if (ok) return resolve(true);
      const onDone = () => resolve(true);
      s.once('drain', onDone);
      s.whenClosed.then(onDone);
      setTimeout(onDone, Math.max(0, deadline - Date.now()));
    });
  await write(first);
  while (written < totalBytes && !closed && Date.now() < deadline) {
    if (!(await write(filler))) break;
    await new Promise((r) => setImmediate(r)); // let the socket's events (data, end) run
  }
  return written;
}

export { withTimeout };
