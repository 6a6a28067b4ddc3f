// Several nodes on a TLS-only Redis (rediss://, --redis-tls-*): the cluster works through it, and
// TLS configuration errors stop the server at start-up. Needs /usr/bin/redis-server and
// /usr/bin/openssl (skipped with a message otherwise).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import test from 'node:test';
import { randomId, serverBin, withTimeout } from './harness.mjs';
import { RespClient, startNodes } from './cluster-harness.mjs';
import { makePki, skipWithoutTlsRedis, startTlsRedis, tlsRespClient } from './tls-support.mjs';

test('two nodes on a TLS-only Redis: clients on different nodes see each other join and relay an offer', { skip: skipWithoutTlsRedis }, async (t) => {
  const pki = makePki(t);
  const redis = await startTlsRedis(t, pki);
  // The Redis speaks TLS only: a plain RESP client gets no answer.
  const plain = await RespClient.connect(redis.port);
  await assert.rejects(plain.cmd('PING'), /redis connection closed|timed out/);
  plain.close();

  const [a, b] = await startNodes(t, redis, 2, { args: ['--redis-tls-ca', pki.ca] });
  for (const node of [a, b]) {
    const line = node.logs.find((l) => l.msg === 'redis over TLS');
    assert.ok(line, `${node.nodeId} logged its TLS settings`);
    assert.equal(line.ca, pki.ca);
    assert.equal(line.server_name, '127.0.0.1');
  }

  const sid = randomId('tls');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2'] });
  const [c1] = await a.join(sid, 'u1', 'Alice');
  const [c2, j2] = await b.join(sid, 'u2', 'Bob');
  assert.deepEqual(j2.participants, [{ userId: 'u1', displayName: 'Alice' }], 'u2 on node 2 sees u1 of node 1');
  assert.deepEqual({ ...(await c1.next('participant-joined')) },
    { type: 'participant-joined', participant: { userId: 'u2', displayName: 'Bob' } });

  const sdp = 'v=0\r\ns=offer over rediss\r\n';
  c2.send({ type: 'offer', toUserId: 'u1', sdp });
  assert.deepEqual({ ...(await c1.next('offer')) }, { type: 'offer', toUserId: 'u1', sdp, fromUserId: 'u2' });
  c1.send({ type: 'answer', toUserId: 'u2', sdp: 'v=0\r\ns=answer\r\n' });
  assert.deepEqual({ ...(await c2.next('answer')) },
    { type: 'answer', toUserId: 'u2', sdp: 'v=0\r\ns=answer\r\n', fromUserId: 'u1' });

  // And the state is in that Redis.
  const rc = await tlsRespClient(redis.port, pki.ca);
  t.after(() => rc.close());
  const ws = await rc.hgetall(`session:ws:${sid}`);
  assert.match(ws.u1, /^n1:\d+$/);
  assert.match(ws.u2, /^n2:\d+$/);
});

async function runToExit(args) {
  const proc = spawn(serverBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { err += d; });
  const code = await withTimeout(new Promise((r) => proc.on('close', (c) => r(c))), 15_000, 'server exit').catch((e) => {
    proc.kill('SIGKILL');
    throw e;
  });
  return { code, out, err, all: `--- stdout:\n${out}\n--- stderr:\n${err}` };
}

test('rediss:// at start-up: an unreadable CA file, or a CA that did not sign the Redis certificate, exits non-zero with a clear message', { skip: skipWithoutTlsRedis }, async (t) => {
  const pki = makePki(t);
  const redis = await startTlsRedis(t, pki);
  const base = ['--listen', '127.0.0.1', '--port', '0', '--jwt-secret', 'x'.repeat(32), '--redis', redis.url];

  const missing = await runToExit([...base, '--redis-tls-ca', '/nonexistent/redis-ca.pem']);
  assert.equal(missing.code, 1, missing.all);
  assert.match(missing.err, /--redis-tls-ca: cannot read \/nonexistent\/redis-ca\.pem: No such file or directory/, missing.all);
  assert.ok(!missing.out.includes('"msg":"listening"'), 'it never listened');

  const untrusted = await runToExit([...base, '--redis-tls-ca', pki.otherCa]);
  assert.equal(untrusted.code, 1, untrusted.all);
  assert.match(untrusted.err, /cannot connect to redis at rediss:\/\/127\.0\.0\.1:\d+\/0: TLS handshake with Redis failed/, untrusted.all);
  assert.ok(!untrusted.out.includes('"msg":"listening"'), 'it never listened');
});
