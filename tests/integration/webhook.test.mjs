// Signed webhooks (docs/webhooks.md), through the real binary and a real receiver that verifies
// every delivery with the reference `standardwebhooks` package (webhook-support.mjs):
// signatures, retries with the same webhook-id after a 500, a timeout and a refused connection,
// the order of one session's events, reconnecting/reconnected, the bounded queue and droppedBefore, https with a test CA
// and the refusal of an untrusted certificate, 4xx not retried, and the options failing closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ISO_MS_UTC, QUIET_MS, randomId, serverBin, sleep, startServer, waitFor, withTimeout } from './harness.mjs';
import { freePort } from './cluster-harness.mjs';
import { OPENSSL_BIN, makePki } from './tls-support.mjs';
import { WebhookReceiver, newWebhookSecret, parseMetrics } from './webhook-support.mjs';

const skipWithoutOpenssl = fs.existsSync(OPENSSL_BIN) ? false : `${OPENSSL_BIN} is not installed`;

// Short timers: a retry within tens of milliseconds, an attempt given up after 400 ms.
const FAST = ['--webhook-retry-min', '20ms', '--webhook-retry-max', '150ms', '--webhook-timeout', '400ms'];

async function startWithWebhooks(t, urls, secret, extra = []) {
  const args = [...urls.flatMap((u) => ['--webhook-url', u]), '--webhook-secret', secret, ...FAST, ...extra];
  return startServer(t, { args });
}

async function startReceiver(t, secret, opts, port) {
  const r = await new WebhookReceiver(secret, opts).start(port);
  t.after(() => r.stop());
  return r;
}

async function metrics(server) {
  const m = await server.http('GET', '/metrics', { key: null });
  assert.equal(m.status, 200);
  return parseMetrics(m.text);
}

/** A session of host u1 and u2; u1 and u2 join, u1 starts, u2 leaves, u1 ends it. */
async function runSession(server, sessionId) {
  await server.createSession(sessionId, {
    host: 'u1',
    participants: [
      { userId: 'u1', displayName: 'Ada' },
      { userId: 'u2', displayName: 'Bob' },
    ],
  });
  const [c1] = await server.join(sessionId, 'u1', 'Ada');
  const [c2] = await server.join(sessionId, 'u2', 'Bob');
  c1.send({ type: 'start-session' });
  await c2.next((m) => m.type === 'session-started', undefined, 'session-started');
  c2.send({ type: 'leave' });
  await c1.next((m) => m.type === 'participant-left', undefined, 'participant-left');
  c1.send({ type: 'end-session' });
  await c1.next((m) => m.type === 'session-ended', undefined, 'session-ended');
}

// The events of runSession, in the order the domain decides them (docs/webhooks.md).
const SESSION_EVENTS = [
  ['participant.joined', 'u1'],
  ['participant.joined', 'u2'],
  ['session.started', undefined],
  ['participant.left', 'u2'],
  ['participant.left', 'u1'],
  ['session.ended', undefined],
];

function checkSessionBodies(bodies, sessionId) {
  assert.deepEqual(
    bodies.map((b) => [b.type, b.data.userId]),
    SESSION_EVENTS,
    `event order: ${JSON.stringify(bodies.map((b) => b.type))}`,
  );
  for (const b of bodies) {
    assert.equal(b.data.sessionId, sessionId);
    assert.match(b.timestamp, ISO_MS_UTC);
    assert.equal(b.droppedBefore, undefined);
  }
  assert.equal(bodies[0].data.displayName, 'Ada');
  assert.equal(bodies[3].data.reason, 'left');
  assert.equal(bodies[4].data.reason, 'session_ended');
  assert.match(bodies[2].data.startedAt, ISO_MS_UTC);
  const ended = bodies[5].data;
  assert.equal(ended.reason, 'host_ended');
  assert.equal(ended.startedAt, bodies[2].data.startedAt);
  assert.match(ended.endedAt, ISO_MS_UTC);
  assert.deepEqual(
    ended.attendance.map((a) => [a.userId, a.displayName, a.connections, a.connected]),
    [
      ['u1', 'Ada', 1, false],
      ['u2', 'Bob', 1, false],
    ],
  );
  for (const a of ended.attendance) {
    assert.match(a.firstJoinedAt, ISO_MS_UTC);
    assert.match(a.lastLeftAt, ISO_MS_UTC);
    assert.equal(typeof a.connectedSeconds, 'number');
    assert.ok(a.connectedSeconds >= 0);
  }
}

test('every delivery is signed; the first of each event fails (500 or a timeout) and comes again with the same id; one session in order', async (t) => {
  const secret = newWebhookSecret();
  const seen = new Map(); // id -> attempts so far
  const receiver = await startReceiver(t, secret, {
    respond: (d) => {
      const n = (seen.get(d.id) ?? 0) + 1;
      seen.set(d.id, n);
      if (n > 1) return 'ok';
      // Alternate the failures over the events: a 500, then a request never answered.
      return seen.size % 2 === 1 ? 500 : 'hang';
    },
  });
  const server = await startWithWebhooks(t, [receiver.url()], secret);
  const sessionId = randomId();
  await runSession(server, sessionId);
  const accepted = await receiver.waitAccepted(SESSION_EVENTS.length);

  for (const d of receiver.deliveries) {
    assert.ok(d.verified, `a delivery failed verification: ${d.verifyError} ${d.raw}`);
    assert.equal(d.method, 'POST');
    assert.equal(d.path, '/hook');
    assert.equal(d.headers['content-type'], 'application/json');
    assert.equal(d.headers['user-agent'], 'signaling-server');
    assert.match(d.id, /^msg_[A-Za-z0-9_-]{24}$/);
    assert.match(d.timestamp, /^\d+$/);
  }
  // Each event: first a failure, then the same id and the same bytes again, accepted once.
  const ids = [...new Set(receiver.deliveries.map((d) => d.id))];
  assert.equal(ids.length, SESSION_EVENTS.length, 'one id per event');
  for (const id of ids) {
    const tries = receiver.deliveries.filter((d) => d.id === id);
    assert.ok(tries.length >= 2, `event ${id} was not retried`);
    assert.ok(tries[0].answer === 500 || tries[0].answer === 'hang');
    assert.ok(tries.every((d) => d.raw === tries[0].raw), 'a retry changed the body');
    assert.equal(tries.filter((d) => d.answer === 'ok').length, 1, `event ${id} accepted more than once`);
  }
  assert.ok(receiver.deliveries.some((d) => d.answer === 500));
  assert.ok(receiver.deliveries.some((d) => d.answer === 'hang'));
  // One session: one event out at a time, so both the first attempts and the acceptances follow
  // the order of the events.
  assert.deepEqual(
    receiver.deliveries.filter((d, i, all) => all.findIndex((x) => x.id === d.id) === i).map((d) => d.id),
    accepted.map((d) => d.id),
  );
  checkSessionBodies(
    accepted.map((d) => d.body),
    sessionId,
  );
  await sleep(QUIET_MS);
  assert.equal(receiver.accepted().length, SESSION_EVENTS.length, 'an event was delivered again after a 200');

  const m = await metrics(server);
  assert.equal(m.signaling_webhook_delivered_total, SESSION_EVENTS.length);
  assert.ok(m.signaling_webhook_retried_total >= SESSION_EVENTS.length);
  assert.equal(m.signaling_webhook_queue_depth, 0);
});

test('a refused connection is retried with the same webhook-id once the receiver is up', async (t) => {
  const secret = newWebhookSecret();
  const port = await freePort(); // nothing listens there yet
  const server = await startWithWebhooks(t, [`http://127.0.0.1:${port}/hook`], secret);
  const sessionId = randomId();
  await server.createSession(sessionId, { host: 'u1', participants: ['u1'] });
  await server.join(sessionId, 'u1', 'Ada');
  const failed = await waitFor(() => server.logs.find((l) => l.msg === 'webhook attempt failed; retrying'), {
    what: 'a failed attempt in the log',
  });
  assert.match(failed.id, /^msg_/);
  assert.ok(failed.error, 'the log names the connection error');
  const receiver = await startReceiver(t, secret, {}, port);
  const [d] = await receiver.waitAccepted(1);
  assert.equal(d.id, failed.id, 'the retry carries the id of the refused attempt');
  assert.equal(d.body.type, 'participant.joined');
  assert.equal(d.body.data.userId, 'u1');
});

test('a full queue drops the oldest events; the next delivery carries droppedBefore', async (t) => {
  const secret = newWebhookSecret();
  const port = await freePort(); // the receiver is down while the events pile up
  const server = await startWithWebhooks(t, [`http://127.0.0.1:${port}/hook`], secret, [
    '--webhook-queue-limit',
    '2',
  ]);
  const sessionId = randomId();
  await runSession(server, sessionId);
  const dropped = SESSION_EVENTS.length - 2;
  await waitFor(async () => (await metrics(server)).signaling_webhook_dropped_total === dropped, {
    what: `${dropped} events dropped`,
  });
  const receiver = await startReceiver(t, secret, {}, port);
  const accepted = await receiver.waitAccepted(2);
  await sleep(QUIET_MS);
  assert.equal(receiver.accepted().length, 2, 'only the two newest events were kept');
  assert.deepEqual(
    accepted.map((d) => d.body.type),
    ['participant.left', 'session.ended'],
  );
  assert.equal(accepted[0].body.droppedBefore, dropped);
  assert.equal(accepted[1].body.droppedBefore, undefined, 'the count is announced once');
  const m = await metrics(server);
  assert.equal(m.signaling_webhook_dropped_total, dropped);
  assert.equal(m.signaling_webhook_delivered_total, 2);
});

test('a lost connection gives participant.reconnecting, then participant.reconnected on a resume or participant.left (disconnected) when the window closes', async (t) => {
  const secret = newWebhookSecret();
  const receiver = await startReceiver(t, secret);
  const server = await startWithWebhooks(t, [receiver.url()], secret, ['--resume-window', '1s']);
  const sessionId = randomId();
  await server.createSession(sessionId, { host: 'u1', participants: ['u1', 'u2'] });
  const [c1] = await server.join(sessionId, 'u1', 'Ada');
  const [c2, joined] = await server.join(sessionId, 'u2', 'Bob');
  c2.ws._socket.destroy(); // lost: no close frame
  await c1.next((m) => m.type === 'participant-reconnecting', undefined, 'participant-reconnecting');
  await server.join(sessionId, 'u2', 'Bob', { resume: joined.resumeId });
  await c1.next((m) => m.type === 'participant-reconnected', undefined, 'participant-reconnected');
  c1.ws._socket.destroy(); // lost again, and this time the window closes
  const accepted = await receiver.waitAccepted(6);
  assert.deepEqual(
    accepted.map((d) => [d.body.type, d.body.data.userId, d.body.data.reason]),
    [
      ['participant.joined', 'u1', undefined],
      ['participant.joined', 'u2', undefined],
      ['participant.reconnecting', 'u2', undefined],
      ['participant.reconnected', 'u2', undefined],
      ['participant.reconnecting', 'u1', undefined],
      ['participant.left', 'u1', 'disconnected'],
    ],
  );
  assert.ok(receiver.deliveries.every((d) => d.verified));
});

test('SIGTERM: the drain waits for the events not yet delivered before the process exits', async (t) => {
  const secret = newWebhookSecret();
  // The receiver refuses everything until told otherwise: the reconnecting events of the drained
  // participants are still being retried when their connections are gone.
  let refusing = true;
  const receiver = await startReceiver(t, secret, { respond: () => (refusing ? 503 : 'ok') });
  const server = await startWithWebhooks(t, [receiver.url()], secret,
    ['--resume-window', '5s', '--drain-period', '0', '--drain-timeout', '20s']);
  const sessionId = randomId();
  await server.createSession(sessionId, { host: 'u1', participants: ['u1', 'u2'] });
  const [c1] = await server.join(sessionId, 'u1', 'Ada');
  const [c2] = await server.join(sessionId, 'u2', 'Bob');
  await waitFor(() => receiver.deliveries.filter((d) => d.body?.type === 'participant.joined').length >= 1,
    { what: 'the joins attempted' });
  let exitedAt = null;
  server.exited.then(() => { exitedAt = receiver.deliveries.length; });
  server.stopping = true;  // the exit that follows is expected
  server.proc.kill('SIGTERM');
  // The clients are told 1012 at once (period 0) and do not come back; the events are retried
  // meanwhile (one session's in order: the reconnecting ones wait behind the joined ones).
  await Promise.all([c1, c2].map((c) => withTimeout(c.closed, 5000, 'close 1012')));
  await sleep(1000);
  assert.equal(exitedAt, null, 'the process waits while events are undelivered');
  assert.ok(receiver.deliveries.length > 2, 'the events were being retried');
  refusing = false;
  assert.deepEqual(await withTimeout(server.exited, 15_000, 'exit after the events are delivered'), { code: 0, signal: null });
  const accepted = receiver.accepted().filter((d) => d.body.data.sessionId === sessionId);
  assert.deepEqual(accepted.map((d) => [d.body.type, d.body.data.userId]).sort(), [
    ['participant.joined', 'u1'], ['participant.joined', 'u2'],
    ['participant.reconnecting', 'u1'], ['participant.reconnecting', 'u2'],
  ]);
  const drained = server.logs.find((r) => r.msg === 'drained');
  assert.equal(drained?.reason, 'all_gone');
  assert.equal(drained?.outstanding, 0);
});

test('a 4xx other than 408/429 is not retried', async (t) => {
  const secret = newWebhookSecret();
  const receiver = await startReceiver(t, secret, { respond: (d) => (d.body.data.userId === 'u1' ? 410 : 'ok') });
  const server = await startWithWebhooks(t, [receiver.url()], secret);
  const sessionId = randomId();
  await server.createSession(sessionId, { host: 'u1', participants: ['u1', 'u2'] });
  await server.join(sessionId, 'u1', 'Ada');
  await server.join(sessionId, 'u2', 'Bob');
  await receiver.waitAccepted(1);
  await sleep(QUIET_MS);
  assert.deepEqual(
    receiver.deliveries.map((d) => [d.body.data.userId, d.answer]),
    [
      ['u1', 410],
      ['u2', 'ok'],
    ],
  );
  const m = await metrics(server);
  assert.equal(m.signaling_webhook_failed_total, 1);
  assert.equal(m.signaling_webhook_retried_total, 0);
});

/** A self-signed certificate for 127.0.0.1, trusted by nobody. */
function selfSigned(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-selfsigned-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync(
    OPENSSL_BIN,
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem',
      '-out', 'c.pem', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { cwd: dir, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return { cert: fs.readFileSync(path.join(dir, 'c.pem')), key: fs.readFileSync(path.join(dir, 'k.pem')) };
}

test('https: a receiver with a certificate of the test CA gets the events; an untrusted one gets nothing', { skip: skipWithoutOpenssl }, async (t) => {
  const pki = makePki(t);
  const secret = newWebhookSecret();
  const trusted = await startReceiver(t, secret, {
    tls: { cert: fs.readFileSync(pki.serverCert), key: fs.readFileSync(pki.serverKey) },
  });
  const untrusted = await startReceiver(t, secret, { tls: selfSigned(t) });
  const server = await startWithWebhooks(t, [trusted.url(), untrusted.url()], secret, ['--webhook-tls-ca', pki.ca]);
  const sessionId = randomId();
  await server.createSession(sessionId, { host: 'u1', participants: ['u1'] });
  await server.join(sessionId, 'u1', 'Ada');
  const [d] = await trusted.waitAccepted(1);
  assert.ok(d.verified);
  assert.equal(d.body.type, 'participant.joined');
  // The untrusted receiver sees handshakes that the server aborts, and no request.
  await waitFor(() => untrusted.tlsErrors.length >= 2, { what: 'two refused handshakes (a retry)' });
  const failed = server.logs.filter(
    (l) => l.msg === 'webhook attempt failed; retrying' && l.target === untrusted.url(),
  );
  assert.ok(failed.length >= 1, 'the failed attempts are logged');
  assert.match(failed[0].error, /certificate/i);
  assert.equal(untrusted.deliveries.length, 0);
});

test('SIGHUP: new targets and a new secret apply to the next events; a bad secret is refused and changes nothing', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-webhook-hup-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const [secret1, secret2] = [newWebhookSecret(), newWebhookSecret()];
  const first = await startReceiver(t, secret1);
  const second = await startReceiver(t, secret2);
  const configFile = path.join(dir, 'config.toml');
  const secretFile = path.join(dir, 'webhook-secret');
  fs.writeFileSync(configFile, `webhook-url = "${first.url()}"\n`);
  fs.writeFileSync(secretFile, `${secret1}\n`, { mode: 0o600 });
  const server = await startServer(t, { args: ['--config', configFile, '--webhook-secret-file', secretFile, ...FAST] });
  const sessionId = randomId();
  await server.createSession(sessionId, { host: 'u1', participants: ['u1', 'u2', 'u3'] });
  const [c1] = await server.join(sessionId, 'u1', 'Ada');
  await first.waitAccepted(1);

  fs.writeFileSync(configFile, `webhook-url = "${second.url()}"\n`);
  fs.writeFileSync(secretFile, `${secret2}\n`);
  server.proc.kill('SIGHUP');
  await waitFor(() => server.logs.some((l) => l.msg === 'reload: webhook targets'), { what: 'the reload of the targets' });
  await server.join(sessionId, 'u2', 'Bob');
  const [d] = await second.waitAccepted(1);
  assert.equal(d.body.data.userId, 'u2');
  assert.ok(d.verified, 'signed with the new secret');

  fs.writeFileSync(secretFile, 'whsec_c2hvcnQ=\n');
  server.proc.kill('SIGHUP');
  await waitFor(() => server.logs.some((l) => l.msg?.startsWith('reload refused')), { what: 'the refused reload' });
  await server.join(sessionId, 'u3', 'Cy');
  const after = await second.waitAccepted(2);
  assert.equal(after[1].body.data.userId, 'u3');
  assert.ok(second.deliveries.every((x) => x.verified));
  assert.equal(first.deliveries.length, 1, 'the removed target got nothing more');
  assert.ok(!server.stdout.includes(secret2.slice(6)) && !server.stdout.includes('c2hvcnQ'), 'no secret in the log');
  c1.send({ type: 'heartbeat' });
  server.assertAlive();
});

test('options fail closed: a URL without a secret, a bad secret, a bad URL, a URL twice', async () => {
  const base = ['--listen', '127.0.0.1', '--port', '0', '--jwt-secret', 'x'.repeat(32)];
  const cases = [
    [['--webhook-url', 'http://127.0.0.1:9/hook'], /--webhook-url needs --webhook-secret/],
    [['--webhook-url', 'http://127.0.0.1:9/hook', '--webhook-secret', 'not-a-secret'], /whsec_/],
    [['--webhook-url', 'http://127.0.0.1:9/hook', '--webhook-secret', 'whsec_c2hvcnQ='], /16 bytes/],
    [['--webhook-url', 'ftp://x/', '--webhook-secret', newWebhookSecret()], /--webhook-url/],
    [['--webhook-url', 'http://x/a', '--webhook-url', 'http://x/a', '--webhook-secret', newWebhookSecret()],
      /the same URL is given twice/],
    [['--webhook-url', 'http://x/', '--webhook-secret', newWebhookSecret(), '--webhook-retry-min', '2s',
      '--webhook-retry-max', '1s'], /--webhook-retry-max/],
  ];
  for (const [args, message] of cases) {
    const proc = spawn(serverBin, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c) => (stderr += c));
    proc.stdout.resume();
    const code = await withTimeout(new Promise((r) => proc.on('close', r)), 10_000, `exit of ${args.join(' ')}`);
    assert.notEqual(code, 0, `${args.join(' ')} started`);
    assert.match(stderr, message);
    assert.doesNotMatch(stderr, /c2hvcnQ/, 'the secret is never printed');
  }
});
