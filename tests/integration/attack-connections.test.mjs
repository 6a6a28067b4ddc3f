// Issue 9, attack 4: one address (or a crowd of unauthenticated sockets) cannot take every
// descriptor. The test process has the same open-file limit as the server, so the limits are
// shown with small flags; the default is checked to come from getrlimit.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import test from 'node:test';
import WebSocket from 'ws';
import { Client, randomId, startServer, waitFor, withTimeout } from './harness.mjs';
import {
  closedWithin, guardedPair, rawConnect, receivedText, RSS_SCALE, sampleRss,
} from './net-attack-support.mjs';

const RSS_BOUND_KIB = 16 * 1024 * RSS_SCALE;

/** A learner that joins from `localAddress`; resolves with the client after `joined`. */
async function learnerJoins(server, sessionId, user, localAddress) {
  const url = server.wsUrl({ token: server.token(user), sessionId });
  const client = await withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
    const c = new Client(ws, user);
    ws.once('open', () => resolve(c));
    ws.once('unexpected-response', (req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  }), 5000, `learner ${user} from ${localAddress}`);
  server.clients.add(client);
  const joined = await client.next((m) => m.type === 'joined' || m.type === 'error', 5000, `joined ${user}`);
  assert.equal(joined.type, 'joined', JSON.stringify(joined));
  return client;
}

/** Opens `n` idle TCP connections from `localAddress`; returns them (refused ones included). */
async function idleConnections(port, n, localAddress) {
  const socks = [];
  for (let i = 0; i < n; i++) {
    const s = await rawConnect(port, { localAddress });
    s.on('error', () => {});
    socks.push(s);
  }
  return socks;
}

async function refusedOnes(socks) {
  // A refused connection gets its 503 at once, without sending anything.
  await new Promise((r) => setTimeout(r, 300));
  return socks.filter((s) => /^HTTP\/1\.1 503 /.test(receivedText(s)));
}

async function metric(server, name) {
  const r = await server.http('GET', '/metrics');
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : undefined;
}

test('the default --max-connections comes from the open-file limit, and is logged', async (t) => {
  const server = await startServer(t);
  const line = server.logs.find((l) => l.msg === 'connection limits');
  assert.ok(line, 'a "connection limits" log line');
  const limits = fs.readFileSync(`/proc/${server.proc.pid}/limits`, 'utf8');
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)[1]);
  assert.equal(line.nofile_soft_limit, soft);
  assert.equal(line.computed, true);
  assert.equal(line.max_connections, soft - Math.max(256, Math.floor(soft / 20)));
  assert.equal(line.max_per_ip, 1000);
  assert.equal(line.max_pending, Math.floor(line.max_connections / 4));
});

test('one address at --max-connections-per-ip: refused with 503 at once; a learner from another address joins', async (t) => {
  const server = await startServer(t, { args: ['--max-connections-per-ip', '50', '--http-idle-timeout', '30s'] });
  const g = await guardedPair(server);
  const sessionId = randomId();
  await server.createSession(sessionId, { participants: ['h', 'learner'] });
  const rss = sampleRss(g.pid);
  const socks = await idleConnections(server.port, 60, '127.0.0.3');
  const refused = await refusedOnes(socks);
  assert.equal(refused.length, 10, 'the ten beyond the limit');
  assert.match(receivedText(refused[0]), /"error":"overloaded"/);
  const learner = await learnerJoins(server, sessionId, 'learner', '127.0.0.2');
  assert.ok(learner.isOpen);
  assert.equal(await metric(server, 'signaling_connections_refused_total{reason="per_ip"}'), 10);
  assert.ok(server.logs.some((l) => l.msg === 'connection refused' && l.client === '127.0.0.3' && l.reason === 'per_ip'));
  const grew = rss.stop() - g.rss;
  t.diagnostic(`RSS grew by ${grew} KiB with 60 idle connections (bound ${RSS_BOUND_KIB})`);
  assert.ok(grew < RSS_BOUND_KIB);
  for (const s of socks) s.destroy();
  learner.close();
  await g.after();
});

test('unauthenticated sockets fill --max-pending-connections, not the joined participants; they drain at the idle timeout', async (t) => {
  const server = await startServer(t, { args: ['--max-pending-connections', '20', '--http-idle-timeout', '1s'] });
  const g = await guardedPair(server); // joined: no longer pending
  const sessionId = randomId();
  await server.createSession(sessionId, { participants: ['h', 'learner'] });
  const socks = await idleConnections(server.port, 25, '127.0.0.3');
  const refused = await refusedOnes(socks);
  assert.ok(refused.length >= 5, `${refused.length} refused`);
  // The joined pair relays meanwhile.
  g.clients.a.send({ type: 'offer', toUserId: 'b', sdp: 'v=0\r\ns=during\r\n' });
  await g.clients.b.next((m) => m.type === 'offer', 5000, 'offer during the attack');
  assert.ok(await metric(server, 'signaling_connections_refused_total{reason="pending"}') >= 5);
  // The idle ones are closed at the idle timeout; then the learner gets in.
  await waitFor(() => socks.every((s) => s.destroyed || s.readyState === 'closed' || s.writableEnded), { timeoutMs: 5000, what: 'idle sockets closed' }).catch(() => {});
  await Promise.all(socks.map((s) => closedWithin(s, 5000)));
  const learner = await learnerJoins(server, sessionId, 'learner', '127.0.0.2');
  learner.close();
  await g.after();
});

test('--max-connections: refused with 503 beyond it; metrics count it', async (t) => {
  const server = await startServer(t, { args: ['--max-connections', '30', '--max-pending-connections', '30', '--http-idle-timeout', '30s'] });
  const g = await guardedPair(server);
  const open = await metric(server, 'signaling_connections_open'); // the pair and this keep-alive fetch
  const socks = await idleConnections(server.port, 35, '127.0.0.3');
  const refused = await refusedOnes(socks);
  assert.equal(refused.length, 35 - (30 - open));
  for (const s of socks) s.destroy();
  await waitFor(async () => (await metric(server, 'signaling_connections_open')) <= 3, { what: 'connections released' });
  assert.equal(await metric(server, 'signaling_connections_refused_total{reason="max_connections"}'), refused.length);
  await g.after();
});

test('--trusted-proxy: the per-address limit applies to the forwarded client, only for trusted peers', async (t) => {
  const server = await startServer(t, {
    args: ['--trusted-proxy', '127.0.0.4/32', '--trusted-proxy', '::1/128', '--max-connections-per-ip', '4', '--http-idle-timeout', '30s'],
  });
  const g = await guardedPair(server);
  const request = (xff) => `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ${xff}\r\n\r\n`;
  // Through the trusted proxy 127.0.0.4: five keep-alive connections for one client (the
  // rightmost untrusted hop), then one for another.
  const socks = await idleConnections(server.port, 6, '127.0.0.4');
  const xffs = ['198.51.100.1, 203.0.113.7', '203.0.113.7', '10.9.9.9, 203.0.113.7, 127.0.0.4', '203.0.113.7',
    '203.0.113.7', '203.0.113.7, 203.0.113.8'];
  for (let i = 0; i < xffs.length; i++) {
    socks[i].write(request(xffs[i]));
    await waitFor(() => receivedText(socks[i]).includes('\r\n\r\n'), { what: `answer ${i}` });
  }
  const status = socks.map((s) => receivedText(s).slice(9, 12));
  assert.deepEqual(status, ['200', '200', '200', '200', '503', '200']);
  assert.ok(server.logs.some((l) => l.msg === 'connection refused' && l.client === '203.0.113.7' && l.proxy === '127.0.0.4'));
  // A WebSocket client over the limit is upgraded, then closed with 1013 (retryable), which a
  // browser can read where a refused handshake is only a failure.
  const ws = new WebSocket(server.wsUrl({ token: server.token('a'), sessionId: 'x' }), {
    localAddress: '127.0.0.4', headers: { 'X-Forwarded-For': '203.0.113.7' },
  });
  const errorMessage = new Promise((r) => ws.on('message', (d) => r(JSON.parse(d.toString()))));
  const [code] = await withTimeout(new Promise((r) => ws.once('close', (c, reason) => r([c, reason]))), 5000, 'close 1013');
  assert.equal(code, 1013);
  assert.equal((await errorMessage).code, 'overloaded');
  // From an untrusted peer the header is ignored: the limit is on 127.0.0.5 itself.
  const direct = await idleConnections(server.port, 5, '127.0.0.5');
  for (const [i, s] of direct.entries()) s.write(request(`192.0.2.${i}`));
  const refused = await refusedOnes(direct);
  assert.equal(refused.length, 1);
  for (const s of [...socks, ...direct]) s.destroy();
  await g.after();
});

test('--admin-listen: the admin API and /metrics only there; health on both', async (t) => {
  const server = await startServer(t, { args: ['--admin-listen', '127.0.0.1:0'] });
  const line = server.logs.find((l) => l.msg === 'admin listening');
  assert.ok(line && line.port > 0, 'an "admin listening" log line with the port');
  for (const p of ['/api/sessions/x', '/metrics']) {
    const r = await server.http('GET', p);
    assert.equal(r.status, 404, `${p} on the public port`);
  }
  assert.equal((await server.http('GET', '/healthz', { key: null })).status, 200);
  const admin = (p, init = {}) => fetch(`http://127.0.0.1:${line.port}${p}`, {
    ...init, headers: { authorization: `Bearer ${server.adminKey}`, ...(init.headers ?? {}) },
  });
  assert.equal((await admin('/healthz')).status, 200);
  assert.equal((await admin('/readyz')).status, 200);
  assert.equal((await admin('/metrics')).status, 200);
  const put = await admin('/api/sessions/s1', {
    method: 'PUT', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hostUserId: 'h', participants: [{ userId: 'h' }] }),
  });
  assert.equal(put.status, 201, await put.text());
  assert.equal((await admin('/ws/signaling')).status, 404);
  assert.equal((await admin('/')).status, 404);
  // The public port still serves the signaling path.
  assert.equal((await fetch(`${server.baseUrl}/ws/signaling`)).status, 426);
});
