// Start-up configuration fails closed: bad options are refused with an exit status other than 0
// and a message that names the option; flags win over the environment, which wins over the
// config file; secrets can come from files that only the owner may read; --dev is safe by
// construction (loopback only, its own secret, tokens for the demo session only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { SignalingServer, serverBin, withTimeout, expectRefused, signJwt, claimsFor } from './harness.mjs';
import { keysFor, redisModes, skipWithoutRedis, startRedis, redisClient } from './cluster-harness.mjs';
import { startRedisCluster } from './redis-cluster-support.mjs';

const EXIT_WAIT_MS = 10_000;

/** The environment without any SIGNALING_* variable of the test runner, plus `env`. */
function cleanEnv(env = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SIGNALING_')));
  return { ...base, ...env };
}

/**
 * Runs the server with `args` and waits for it to exit (it must refuse to start). Returns
 * {code, signal, stderr, stdout}. A server that logs "listening" instead is killed and the
 * result says so (listened: true).
 */
async function runRefused(args, { env = {} } = {}) {
  const proc = spawn(serverBin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(env) });
  let stdout = '';
  let stderr = '';
  let listened = false;
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    stdout += d;
    if (!listened && stdout.includes('"msg":"listening"')) {
      listened = true;
      proc.kill('SIGKILL');
    }
  });
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  try {
    const { code, signal } = await withTimeout(exited, EXIT_WAIT_MS, `exit of ${args.join(' ')}`);
    return { code, signal, stdout, stderr, listened };
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}

/** Asserts that the server refuses to start with `args` and that stderr contains each of `names`. */
async function assertRefused(args, names, opts = {}) {
  const r = await runRefused(args, opts);
  const what = `${args.join(' ')} ${JSON.stringify(opts.env ?? {})}`;
  assert.equal(r.listened, false, `${what}: the server started (it must refuse)\n${r.stdout}\n${r.stderr}`);
  assert.notEqual(r.code, 0, `${what}: exit status 0\n${r.stderr}`);
  assert.equal(r.signal, null, `${what}: died by signal ${r.signal} (it must exit cleanly)\n${r.stderr}`);
  for (const n of names) assert.ok(r.stderr.includes(n), `${what}: stderr does not name ${n}:\n${r.stderr}`);
  return r;
}

/** A server started with exactly `args` (no harness defaults) and `env`. */
class BareServer extends SignalingServer {
  constructor(args, { env = {}, jwtSecret, adminKey } = {}) {
    super({ jwtSecret, adminKey });
    this.bareArgs = args;
    this.env = env;
  }
  get args() {
    return this.bareArgs;
  }
}

async function startBare(t, args, opts = {}) {
  // SignalingServer.start spawns with the process environment: set it for the spawn only.
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (k.startsWith('SIGNALING_') && k !== 'SIGNALING_BIN') delete process.env[k];
  Object.assign(process.env, opts.env ?? {});
  const server = new BareServer(args, opts);
  t.after(() => server.stop());
  try {
    await server.start();
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
  return server;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-config-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
let fileCount = 0;
function tempFile(content, mode = 0o600) {
  const p = path.join(tmp, `f${++fileCount}`);
  fs.writeFileSync(p, content, { mode });
  fs.chmodSync(p, mode); // the umask may have removed bits
  return p;
}

const SECRET = ['--jwt-secret', 'x'.repeat(32)];
const BASE = ['--listen', '127.0.0.1', '--port', '0', ...SECRET];

// ---------------------------------------------------------------------------------------------
// 1. Fails closed

test('an unknown key in the config file is an error that names it (a misspelled jwt-isuer)', async () => {
  const file = tempFile('jwt-isuer = "https://issuer.example"\nport = 0\n');
  await assertRefused([...BASE, '--config', file], ['jwt-isuer']);
  // Two unknown keys: both named.
  const two = tempFile('jwt-isuer = "a"\nheartbeat-intervall = "5s"\n');
  await assertRefused([...BASE, '--config', two], ['jwt-isuer', 'heartbeat-intervall']);
});

test('numbers: NaN, infinities and out-of-range values are refused, naming the option', async () => {
  const cases = [
    [['--rate-limit', 'nan'], '--rate-limit'],
    [['--rate-limit', 'inf'], '--rate-limit'],
    [['--rate-limit', '-1'], '--rate-limit'],
    [['--rate-burst', 'nan'], '--rate-burst'],
    [['--rate-burst', '-inf'], '--rate-burst'],
    [['--rate-burst', '0.5'], '--rate-burst'],
    [['--heartbeat-interval', '0'], '--heartbeat-interval'],
    [['--heartbeat-interval', '2147483648ms', '--heartbeat-timeout', '15m'], '--heartbeat-interval'],
    [['--heartbeat-interval', '20s', '--heartbeat-timeout', '10s'], '--heartbeat-timeout'],
    [['--heartbeat-timeout', '1h'], '--heartbeat-timeout'],
    [['--threads', '4294967295'], '--threads'],
    [['--threads', '257'], '--threads'],
    [['--threads', '-1'], '--threads'],
    [['--port', '70000'], '--port'],
    [['--jwt-leeway', '1h'], '--jwt-leeway'],
    [['--start-timeout', '0'], '--start-timeout'],
    [['--empty-timeout', '10000h'], '--empty-timeout'],
    [['--ended-retention', 'soon'], '--ended-retention'],
    [['--node-ttl', '100ms'], '--node-ttl'],
    [['--cluster-sync', '10ms'], '--cluster-sync'],
    [['--max-participants', '0'], '--max-participants'],
    [['--node-id', 'a:b'], '--node-id'],
    [['--node-id', 'n'.repeat(65)], '--node-id'],
    [['--drain-period', '11m', '--drain-timeout', '10m'], '--drain-period'],
    [['--drain-timeout', '1h'], '--drain-timeout'],
    [['--drain-timeout', 'soon'], '--drain-timeout'],
    // The period must fit in the timeout (the default period is 10 s): both are named.
    [['--drain-period', '5s', '--drain-timeout', '2s'], '--drain-timeout'],
    [['--drain-timeout', '5s'], '--drain-period'],
  ];
  for (const [args, name] of cases) await assertRefused([...BASE, ...args], [name]);
});

test('an unparsable --listen is an error that names --listen', async () => {
  await assertRefused(['--listen', 'not-an-address', '--port', '0', ...SECRET], ['--listen']);
  await assertRefused(['--listen', '300.1.1.1', '--port', '0', ...SECRET], ['--listen']);
});

test('bad values from the environment and the config file also name the option', async () => {
  await assertRefused(['--listen', '127.0.0.1', '--port', '0', ...SECRET], ['--rate-limit'], {
    env: { SIGNALING_RATE_LIMIT: 'nan' },
  });
  await assertRefused(['--listen', '127.0.0.1', '--port', '0', ...SECRET], ['--drain-period', '--drain-timeout'], {
    env: { SIGNALING_DRAIN_PERIOD: '2m', SIGNALING_DRAIN_TIMEOUT: '1m' },
  });
  const file = tempFile('threads = 4294967295\n');
  await assertRefused([...BASE, '--config', file], ['--threads']);
});

test('other start-up errors name their option (--jwt-public-key, --redis, no key at all)', async () => {
  const notPem = tempFile('not a key\n', 0o644);
  await assertRefused(['--listen', '127.0.0.1', '--port', '0', '--jwt-public-key', notPem], ['--jwt-public-key']);
  await assertRefused([...BASE, '--redis', 'http://localhost'], ['--redis']);
  await assertRefused(['--listen', '127.0.0.1', '--port', '0'], ['--jwt-secret']);
  // A port already taken: the error names --listen and --port, not only bind().
  const taken = net.createServer();
  await new Promise((r) => taken.listen(0, '127.0.0.1', r));
  try {
    await assertRefused(['--listen', '127.0.0.1', '--port', String(taken.address().port), ...SECRET], ['--listen', '--port']);
  } finally {
    taken.close();
  }
});

test('precedence: a flag wins over the environment, which wins over the config file', async (t) => {
  const file = tempFile('node-id = "from-file"\nthreads = 3\n');
  const listening = (s) => s.logs.find((l) => l.msg === 'listening');
  // File only.
  let s = await startBare(t, [...BASE, '--config', file]);
  assert.equal(listening(s).node, 'from-file');
  assert.equal(listening(s).threads, 3);
  await s.stop();
  // Environment over file (only for the option the environment sets).
  s = await startBare(t, [...BASE, '--config', file], { env: { SIGNALING_NODE_ID: 'from-env' } });
  assert.equal(listening(s).node, 'from-env');
  assert.equal(listening(s).threads, 3, 'the file still sets the options the environment does not');
  await s.stop();
  // Flag over environment and file.
  s = await startBare(t, [...BASE, '--config', file, '--node-id', 'from-flag'], {
    env: { SIGNALING_NODE_ID: 'from-env' },
  });
  assert.equal(listening(s).node, 'from-flag');
  await s.stop();
});

// ---------------------------------------------------------------------------------------------
// 2. Secrets from files

test('secrets from files: --jwt-secret-file and --admin-key-file (trailing newline ignored); joins work', async (t) => {
  const secret = crypto.randomBytes(32).toString('hex');
  const adminKey = crypto.randomBytes(24).toString('hex');
  const secretFile = tempFile(`${secret}\n`, 0o600);
  const keyFile = tempFile(`${adminKey}\r\n`, 0o400);
  const server = await startBare(
    t,
    ['--listen', '127.0.0.1', '--port', '0', '--jwt-secret-file', secretFile, '--admin-key-file', keyFile],
    { jwtSecret: secret, adminKey },
  );
  assert.ok(!server.logs.some((l) => JSON.stringify(l).includes(secret)), 'the secret is not logged');
  // The admin key of the file works ("\r\n" removed), the token signed with the file's secret joins.
  await server.createSession('s1', { host: 'a', participants: ['a', 'b'] });
  const [a] = await server.join('s1', 'a');
  const [b] = await server.join('s1', 'b');
  await a.next((m) => m.type === 'participant-joined', 5000, 'b joined');
  assert.ok(b);
  // The same secret from the environment's file variable.
  await server.stop();
  const envServer = await startBare(t, ['--listen', '127.0.0.1', '--port', '0'], {
    jwtSecret: secret,
    adminKey,
    env: { SIGNALING_JWT_SECRET_FILE: secretFile, SIGNALING_ADMIN_KEY_FILE: keyFile },
  });
  await envServer.createSession('s2', { host: 'a', participants: ['a'] });
  await envServer.join('s2', 'a');
});

test('a secret file readable or writable by group or others, not regular, empty or missing is refused', async () => {
  const L = ['--listen', '127.0.0.1', '--port', '0'];
  for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602]) {
    const f = tempFile('s3cr3t-value\n', mode);
    const r = await assertRefused([...L, '--jwt-secret-file', f], ['--jwt-secret-file', f]);
    assert.ok(!r.stderr.includes('s3cr3t-value'), 'the secret is not printed');
    await assertRefused([...L, ...SECRET, '--admin-key-file', f], ['--admin-key-file']);
  }
  await assertRefused([...L, '--jwt-secret-file', tmp], ['--jwt-secret-file', 'not a regular file']);
  await assertRefused([...L, '--jwt-secret-file', tempFile('\n')], ['--jwt-secret-file', 'empty']);
  await assertRefused([...L, '--jwt-secret-file', path.join(tmp, 'missing')], ['--jwt-secret-file']);
  // Symbolic links are followed (Kubernetes mounts secrets so); the target's mode is what counts.
  const open = tempFile('s3cr3t\n', 0o644);
  const link = path.join(tmp, 'link-to-open');
  fs.symlinkSync(open, link);
  await assertRefused([...L, '--jwt-secret-file', link], ['--jwt-secret-file']);
  // Both forms of one secret: refused rather than one silently chosen.
  await assertRefused([...L, ...SECRET, '--jwt-secret-file', tempFile('x\n')], ['--jwt-secret-file', '--jwt-secret']);
  await assertRefused([...BASE, '--admin-key', 'k', '--admin-key-file', tempFile('x\n')], ['--admin-key-file']);
});

test('--redis-password-file: needs --redis, not with a password in the URL, same file rules', async () => {
  const pw = tempFile('pw\n');
  await assertRefused([...BASE, '--redis-password-file', pw], ['--redis-password-file']);
  await assertRefused([...BASE, '--redis', 'redis://:inurl@127.0.0.1:1', '--redis-password-file', pw], [
    '--redis-password-file',
  ]);
  await assertRefused([...BASE, '--redis', 'redis://127.0.0.1:1', '--redis-password-file', tempFile('pw\n', 0o644)], [
    '--redis-password-file',
  ]);
});

test('--redis-password-file authenticates to a Redis that requires a password', { skip: skipWithoutRedis }, async (t) => {
  const redis = await startRedis(t);
  const password = `p@ss:${crypto.randomBytes(8).toString('hex')}/#`;
  const c = await redisClient(t, redis);
  assert.equal(await c.cmd('CONFIG', 'SET', 'requirepass', password), 'OK');
  const secret = crypto.randomBytes(32).toString('hex');
  const server = await startBare(
    t,
    [...BASE.slice(0, 4), '--jwt-secret', secret, '--redis', redis.url, '--redis-password-file', tempFile(`${password}\n`)],
    { jwtSecret: secret },
  );
  assert.ok(!server.stdout.includes(password), 'the password is not logged');
  // A wrong password: the node cannot connect at start-up and exits (status 1).
  const wrong = await runRefused([...BASE, '--redis', redis.url, '--redis-password-file', tempFile('wrong\n')]);
  assert.equal(wrong.listened, false);
  assert.notEqual(wrong.code, 0);
  await server.stop();
});

// --redis-cluster (issue 12): seeds, not with --redis, the password options of --redis.
const clusterMode = redisModes().find((m) => m.name === 'cluster');
const skipCluster = clusterMode?.skip ?? 'SIG_REDIS_MODES excludes the cluster';

test('--redis-cluster: not with --redis; seeds must be host[:port]', { skip: skipCluster }, async () => {
  await assertRefused([...BASE, '--redis', 'redis://127.0.0.1:1', '--redis-cluster', '127.0.0.1:2'], ['--redis-cluster']);
  // (A host without a port is port 6379, as for redis-cli; an empty value is no cluster.)
  for (const bad of [',', '127.0.0.1:', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:x']) {
    await assertRefused([...BASE, '--redis-cluster', bad], ['--redis-cluster']);
  }
});

test('--redis-password-file authenticates to a Redis Cluster that requires a password', { skip: skipCluster }, async (t) => {
  const password = `p@ss:${crypto.randomBytes(8).toString('hex')}/#`;
  const cluster = await startRedisCluster(t, { password });
  const secret = crypto.randomBytes(32).toString('hex');
  const adminKey = crypto.randomBytes(24).toString('hex');
  const server = await startBare(
    t,
    [...BASE.slice(0, 4), '--jwt-secret', secret, '--admin-key', adminKey, '--redis-cluster', cluster.seeds(),
      '--redis-password-file', tempFile(`${password}\n`)],
    { jwtSecret: secret, adminKey },
  );
  assert.ok(!server.stdout.includes(password), 'the password is not logged');
  // It works: a session declared through it is in the cluster.
  const created = await server.admin('PUT', '/api/sessions/pw1', { hostUserId: 'a', participants: [{ userId: 'a' }] });
  assert.equal(created.status, 201, created.text);
  const rc = cluster.client();
  t.after(() => rc.close());
  assert.equal((await rc.hgetall(keysFor('cluster').dir('pw1'))).hostUserId, 'a');
  const wrong = await runRefused([...BASE, '--redis-cluster', cluster.seeds(), '--redis-password-file', tempFile('wrong\n')]);
  assert.equal(wrong.listened, false);
  assert.notEqual(wrong.code, 0);
  await server.stop();
});

// ---------------------------------------------------------------------------------------------
// 3. --dev is safe by construction

test('--dev refuses --redis, a real key and a non-loopback --listen, naming them', async () => {
  const pem = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
  const D = ['--dev', '--port', '0'];
  await assertRefused([...D, '--redis', 'redis://127.0.0.1:1'], ['--dev', '--redis']);
  await assertRefused([...D, ...SECRET], ['--dev', '--jwt-secret']);
  await assertRefused([...D, '--jwt-secret-file', tempFile('x\n')], ['--dev', '--jwt-secret-file']);
  await assertRefused([...D, '--jwt-public-key', tempFile(pem, 0o644)], ['--dev', '--jwt-public-key']);
  for (const addr of ['0.0.0.0', '::', '192.0.2.1']) await assertRefused([...D, '--listen', addr], ['--dev', '--listen']);
  await assertRefused(D, ['--dev', '--listen'], { env: { SIGNALING_LISTEN: '0.0.0.0' } });
  await assertRefused(D, ['--dev', '--jwt-secret'], { env: { SIGNALING_JWT_SECRET: 'x'.repeat(32) } });
});

test('--dev: loopback by default, its own random secret, tokens short-lived and for the demo session only', async (t) => {
  const adminKey = crypto.randomBytes(24).toString('hex');
  const server = await startBare(t, ['--dev', '--port', '0', '--admin-key', adminKey], { adminKey });
  const listening = server.logs.find((l) => l.msg === 'listening');
  assert.equal(listening.address, '127.0.0.1', 'no --listen: loopback');

  const got = await server.http('GET', '/dev/token?userId=alice', { key: null });
  assert.equal(got.status, 200, got.text);
  const { token } = got.json;
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  assert.ok(claims.exp - claims.iat <= 600, `short-lived: ${JSON.stringify(claims)}`);

  // It joins the demo session...
  const a = await server.connect({ token, sessionId: 'demo' });
  const joined = await a.next((m) => m.type === 'joined' || m.type === 'error', 5000, 'joined demo');
  assert.equal(joined.type, 'joined', JSON.stringify(joined));

  // ...and no other: not a session the admin API made with the same user in it.
  await server.createSession('other', { host: 'alice', participants: ['alice', 'bob'] });
  await expectRefused(await server.connect({ token, sessionId: 'other' }), 'invalid_token', 4401);
  // /dev/token signs for the demo session only.
  const refused = await server.http('GET', '/dev/token?userId=alice&sessionId=other', { key: null });
  assert.equal(refused.status, 400, refused.text);

  // The secret is random: a token signed with a guessable secret is refused, and the tokens of
  // another dev node are worthless here.
  const guessed = signJwt(claimsFor('bob', 'Bob'), '');
  await expectRefused(await server.connect({ token: guessed, sessionId: 'demo' }), 'invalid_token', 4401);
  const other = await startBare(t, ['--dev', '--port', '0']);
  const foreign = (await other.http('GET', '/dev/token?userId=bob', { key: null })).json.token;
  await expectRefused(await server.connect({ token: foreign, sessionId: 'demo' }), 'invalid_token', 4401);
  await other.stop();
});

// ---------------------------------------------------------------------------------------------
// Key sets (issue 13): bad values of the JWKS and kid options name them

test('--jwt-secret kid:secret, --jwt-jwks-*: bad values and combinations are refused, naming the option', async () => {
  const L = ['--listen', '127.0.0.1', '--port', '0'];
  await assertRefused([...L, '--jwt-secret', 'a:x', '--jwt-secret', 'a:y'], ['--jwt-secret', 'kid "a"']);
  await assertRefused([...L, '--jwt-secret', 'plain-one', '--jwt-secret', 'plain-two'], ['--jwt-secret', 'without kid']);
  for (const url of ['ftp://idp/jwks', 'idp.example/jwks', 'https://', 'http://user:pw@idp/jwks', 'http://idp.example/jwks']) {
    await assertRefused([...L, '--jwt-jwks-url', url], ['--jwt-jwks-url']);
  }
  await assertRefused([...BASE, '--jwt-jwks-refresh', '10ms'], ['--jwt-jwks-refresh']);
  await assertRefused([...BASE, '--jwt-jwks-refresh', '25h'], ['--jwt-jwks-refresh']);
  await assertRefused([...BASE, '--jwt-jwks-unknown-kid-interval', 'soon'], ['--jwt-jwks-unknown-kid-interval']);
  await assertRefused([...BASE, '--jwt-jwks-refresh', '1s', '--jwt-jwks-refresh-min', '2s'],
    ['--jwt-jwks-refresh', '--jwt-jwks-refresh-min']);
  await assertRefused([...BASE, '--jwt-jwks-ca', path.join(tmp, 'missing.pem')], ['--jwt-jwks-ca']);
  await assertRefused([...L, '--jwt-jwks-file', path.join(tmp, 'missing.json')], ['--jwt-jwks-file']);
  await assertRefused([...L, '--jwt-jwks-file', tempFile('not json', 0o644)], ['--jwt-jwks-file']);
  await assertRefused([...L, '--jwt-jwks-file', tempFile('{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}', 0o644)],
    ['--jwt-jwks-file', 'no usable key']);
  await assertRefused([...L, '--jwt-jwks-file', tempFile('{"keys":[]}', 0o644)], ['--jwt-jwks-file']);
  // From the environment: the refresh below its minimum names both.
  await assertRefused(BASE, ['--jwt-jwks-refresh', '--jwt-jwks-refresh-min'], { env: { SIGNALING_JWT_JWKS_REFRESH: '1s' } });
  await assertRefused(['--dev', '--port', '0', '--jwt-jwks-url', 'http://127.0.0.1:9/jwks'], ['--dev', '--jwt-jwks']);
});

test('--jwt-jwks-url unreachable at start-up: an error naming it when it is the only key source; a warning beside another key', async (t) => {
  // A port that was free a moment ago: the connection is refused.
  const probe = net.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${probe.address().port}/jwks`;
  await new Promise((r) => probe.close(r));
  await assertRefused(['--listen', '127.0.0.1', '--port', '0', '--jwt-jwks-url', url], ['--jwt-jwks-url', url]);
  const adminKey = 'k'.repeat(32);
  const server = await startBare(t, [...BASE, '--admin-key', adminKey, '--jwt-jwks-url', url, '--jwt-jwks-refresh-min', '100ms'],
    { adminKey });
  assert.ok(server.logs.some((l) => l.msg.startsWith('--jwt-jwks-url not fetched at start-up')), server.output());
  // The other key serves meanwhile.
  const joined = await (async () => {
    const sessionId = 'jwks-down';
    await server.createSession(sessionId, { host: 'a', participants: ['a'] });
    const c = await server.connect({ token: signJwt(claimsFor('a'), 'x'.repeat(32)), sessionId });
    return c.next((m) => m.type === 'joined' || m.type === 'error', 5000, 'joined');
  })();
  assert.equal(joined.type, 'joined', JSON.stringify(joined));
});
