// Log injection: a string from outside (here a user id, from the token's sub claim and the admin
// API) that holds a line break must not forge a log line, in either log format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';

import { startServer, serverBin, signJwt, claimsFor, Client, randomId, withTimeout, waitFor } from './harness.mjs';

const EVIL = 'eve\n2026-01-01T00:00:00.000Z error forged line\r\u001b[2K\u007f';

async function createSession(baseUrl, adminKey, sessionId, userId) {
  const res = await fetch(`${baseUrl}/api/sessions/${encodeURIComponent(sessionId)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ hostUserId: userId, participants: [{ userId, displayName: 'Eve' }] }),
  });
  assert.ok(res.status === 201 || res.status === 200, `PUT /api/sessions answered ${res.status}: ${await res.text()}`);
}

async function joinAs(wsBase, secret, sessionId, userId) {
  const token = signJwt(claimsFor(userId, 'Eve'), secret);
  const params = new URLSearchParams({ token, sessionId });
  const client = await Client.open(`${wsBase}/ws/signaling?${params}`, { label: 'eve' });
  const joined = await client.next((m) => m.type === 'joined' || m.type === 'error', 5000, 'joined');
  assert.equal(joined.type, 'joined', JSON.stringify(joined));
  return client;
}

test('JSON log: a user id with control characters stays inside one line and one string', async (t) => {
  const server = await startServer(t);
  const sessionId = randomId();
  await createSession(server.baseUrl, server.adminKey, sessionId, EVIL);
  const client = await joinAs(server.wsBase, server.jwtSecret, sessionId, EVIL);
  await waitFor(() => server.logs.some((r) => r.msg === 'joined'), { what: 'the joined log line' });
  const rec = server.logs.find((r) => r.msg === 'joined');
  assert.equal(rec.user, EVIL, 'the JSON value carries the user id exactly');
  assert.ok(!server.stdout.includes('\r') && !server.stdout.includes('\u001b') && !server.stdout.includes('\u007f'));
  for (const line of server.stdout.split('\n').filter(Boolean)) {
    assert.doesNotThrow(() => JSON.parse(line), `a log line that is not JSON: ${JSON.stringify(line)}`);
  }
  client.terminate();
});

test('text log: a user id with control characters is escaped and the line stays one line', async (t) => {
  const secret = crypto.randomBytes(32).toString('hex');
  const adminKey = crypto.randomBytes(24).toString('hex');
  const args = ['--listen', '127.0.0.1', '--port', '0', '--jwt-secret', secret, '--admin-key', adminKey,
    '--log-level', 'debug', '--log-format', 'text'];
  const proc = spawn(serverBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => (stdout += chunk));
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => (stderr += chunk));
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await withTimeout(exited, 5000, 'server exit').catch(() => {});
  });

  await waitFor(() => / info listening .*port=\d+/.test(stdout), { what: `the listening line\n${stdout}\n${stderr}` });
  const port = Number(/ info listening .*port=(\d+)/.exec(stdout)[1]);
  const sessionId = randomId();
  await createSession(`http://127.0.0.1:${port}`, adminKey, sessionId, EVIL);
  const client = await joinAs(`ws://127.0.0.1:${port}`, secret, sessionId, EVIL);
  await waitFor(() => / debug joined /.test(stdout), { what: `the joined line\n${stdout}` });
  client.terminate();

  proc.kill('SIGTERM');
  const exit = await withTimeout(exited, 5000, 'server stop after SIGTERM');
  assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}\n${stderr}`);

  const lines = stdout.split('\n').filter(Boolean);
  const joined = lines.filter((l) => / debug joined /.test(l));
  assert.equal(joined.length, 1, stdout);
  assert.ok(joined[0].includes(String.raw`user="eve\n2026-01-01T00:00:00.000Z error forged line\r\x1b[2K\x7f"`), joined[0]);
  // Every line is one log record: it starts with a timestamp and a level; nothing was forged.
  for (const line of lines) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trace|debug|info|warn|error) /);
  assert.ok(!lines.some((l) => l.startsWith('2026-01-01T00:00:00.000Z')), 'a forged line');
  assert.ok(!/[\r\u001b\u007f]/.test(stdout), 'a raw control character in the log');
});
