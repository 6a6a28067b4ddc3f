// AC1: refused connections (protocol.md section 1). Each refusal: the upgrade succeeds, then
// exactly one error message, then the close code; the connected participants hear nothing.
import assert from 'node:assert/strict';
import test from 'node:test';
import { expectRefused, quietAll, randomId, sessionWith, signJwt, startServer } from './harness.mjs';

const now = () => Math.floor(Date.now() / 1000);

/** A session with a and b; a is connected and must hear nothing of the refused attempt. */
async function setup(t, args = [], defaultClaims = {}) {
  const server = await startServer(t, { args, defaultClaims });
  const { sessionId, clients: { a } } = await sessionWith(server, ['a', 'b'], { join: ['a'] });
  return { server, sessionId, a };
}

async function refused(t, { args, defaultClaims, connect, code, closeCode }) {
  const { server, sessionId, a } = await setup(t, args, defaultClaims);
  const c = await server.connect(connect(server, sessionId));
  await expectRefused(c, code, closeCode);
  await a.expectNoMessage();
  await a.ping();
  return { server, sessionId, a };
}

const tokenCases = [
  ['no token', (s, id) => ({ sessionId: id })],
  ['empty token', (s, id) => ({ token: '', sessionId: id })],
  ['garbage token', (s, id) => ({ token: 'garbage', sessionId: id })],
  ['garbage token with three parts', (s, id) => ({ token: 'aaa.bbb.ccc', sessionId: id })],
  ['token whose payload is not JSON', (s, id) => ({ token: signJwt('not json', s.jwtSecret), sessionId: id })],
  ['expired token', (s, id) => ({ token: s.expiredToken('b'), sessionId: id })],
  ['token with a wrong signature', (s, id) => ({ token: s.wrongSignatureToken('b'), sessionId: id })],
  ['token with a truncated signature', (s, id) => ({ token: s.token('b').slice(0, -4), sessionId: id })],
  ['alg none token', (s, id) => ({ token: s.algNoneToken('b'), sessionId: id })],
  ['alg none token with a valid HMAC signature appended', (s, id) => {
    const none = s.algNoneToken('b');
    const good = s.token('b');
    return { token: none + good.split('.')[2], sessionId: id };
  }],
  ['RS256 header signed with the HMAC secret (no RSA key configured)', (s, id) => ({
    token: signJwt({ sub: 'b', exp: now() + 3600 }, s.jwtSecret, { header: { alg: 'RS256', typ: 'JWT' } }), sessionId: id,
  })],
  ['unknown alg', (s, id) => ({
    token: signJwt({ sub: 'b', exp: now() + 3600 }, s.jwtSecret, { header: { alg: 'XX256', typ: 'JWT' } }).split('.').slice(0, 2).join('.') + '.c2ln',
    sessionId: id,
  })],
  ['token with nbf in the future', (s, id) => ({ token: s.notYetValidToken('b'), sessionId: id })],
  ['token without exp', (s, id) => ({ token: s.token('b', undefined, { exp: undefined }), sessionId: id })],
  ['token with a string exp', (s, id) => ({ token: s.token('b', undefined, { exp: String(now() + 3600) }), sessionId: id })],
  ['token without sub', (s, id) => ({ token: s.token('b', undefined, { sub: undefined }), sessionId: id })],
  ['token with an empty sub', (s, id) => ({ token: s.token('', undefined), sessionId: id })],
  ['token with a numeric sub', (s, id) => ({ token: s.token(42, undefined), sessionId: id })],
];

for (const [name, connect] of tokenCases) {
  test(`refused: ${name} -> invalid_token / 4401`, async (t) => {
    await refused(t, { connect, code: 'invalid_token', closeCode: 4401 });
  });
}

test('refused: wrong iss when --jwt-issuer is set -> invalid_token / 4401 (right iss accepted)', async (t) => {
  const { server, sessionId, a } = await refused(t, {
    args: ['--jwt-issuer', 'https://platform.example'],
    defaultClaims: { iss: 'https://platform.example' },
    connect: (s, id) => ({ token: s.token('b', undefined, { iss: 'https://evil.example' }), sessionId: id }),
    code: 'invalid_token',
    closeCode: 4401,
  });
  const missing = await server.connect({ token: server.token('b', undefined, { iss: undefined }), sessionId });
  await expectRefused(missing, 'invalid_token', 4401);
  const ok = await server.connect({ token: server.token('b', 'B', { iss: 'https://platform.example' }), sessionId });
  assert.equal((await ok.next()).type, 'joined');
  assert.equal((await a.next()).type, 'participant-joined');
});

test('refused: wrong aud when --jwt-audience is set -> invalid_token / 4401 (string or array aud accepted)', async (t) => {
  const { server, sessionId, a } = await refused(t, {
    args: ['--jwt-audience', 'signaling'],
    defaultClaims: { aud: 'signaling' },
    connect: (s, id) => ({ token: s.token('b', undefined, { aud: ['other', 'another'] }), sessionId: id }),
    code: 'invalid_token',
    closeCode: 4401,
  });
  const wrongString = await server.connect({ token: server.token('b', undefined, { aud: 'other' }), sessionId });
  await expectRefused(wrongString, 'invalid_token', 4401);
  const missing = await server.connect({ token: server.token('b', undefined, { aud: undefined }), sessionId });
  await expectRefused(missing, 'invalid_token', 4401);
  const ok = await server.connect({ token: server.token('b', 'B', { aud: ['other', 'signaling'] }), sessionId });
  assert.equal((await ok.next()).type, 'joined');
  assert.equal((await a.next()).type, 'participant-joined');
  ok.send({ type: 'leave' });
  await ok.waitClosed();
  assert.equal((await a.next()).type, 'participant-left');
  const ok2 = await server.connect({ token: server.token('b', 'B', { aud: 'signaling' }), sessionId });
  assert.equal((await ok2.next()).type, 'joined');
});

test('accepted: HS384 and HS512 tokens, and an exp 10 s in the past (within the 30 s leeway)', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { a } } = await sessionWith(server, ['a', 'b', 'c', 'd'], { join: ['a'] });
  const cases = [
    ['b', signJwt({ sub: 'b', exp: now() + 3600 }, server.jwtSecret, { alg: 'HS384' })],
    ['c', signJwt({ sub: 'c', exp: now() + 3600 }, server.jwtSecret, { alg: 'HS512' })],
    ['d', signJwt({ sub: 'd', exp: now() - 10 }, server.jwtSecret)],
  ];
  for (const [user, token] of cases) {
    const c = await server.connect({ token, sessionId });
    const m = await c.next();
    assert.equal(m.type, 'joined', `${user}: ${JSON.stringify(m)}`);
    assert.equal(m.self.userId, user);
  }
  await a.take(3, (m) => m.type === 'participant-joined');
});

test('refused: unknown session -> session_not_found / 4404', async (t) => {
  await refused(t, { connect: (s) => ({ user: 'a', sessionId: randomId('nope') }), code: 'session_not_found', closeCode: 4404 });
});

test('refused: user not a participant -> not_participant / 4403', async (t) => {
  await refused(t, { connect: (s, id) => ({ user: 'mallory', sessionId: id }), code: 'not_participant', closeCode: 4403 });
});

test('refused: a third participant with --max-participants 2 -> session_full / 4409', async (t) => {
  const server = await startServer(t, { args: ['--max-participants', '2'] });
  const { sessionId, clients: { a, b } } = await sessionWith(server, ['a', 'b', 'c'], { join: ['a', 'b'] });
  const c = await server.connect({ user: 'c', sessionId });
  await expectRefused(c, 'session_full', 4409);
  await quietAll([a, b]);
  // Once someone leaves there is room again.
  b.send({ type: 'leave' });
  await b.waitClosed();
  assert.deepEqual({ ...(await a.next()) }, { type: 'participant-left', userId: 'b' });
  const [c2] = await server.join(sessionId, 'c');
  await c2.ping();
});

test('refused: the 7th participant with the default --max-participants (6) -> session_full / 4409', async (t) => {
  const server = await startServer(t);
  const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'];
  const { sessionId, clients } = await sessionWith(server, users, { join: users.slice(0, 6) });
  const c = await server.connect({ user: 'u7', sessionId });
  await expectRefused(c, 'session_full', 4409);
  await quietAll(Object.values(clients));
});

test('refused: ended session -> session_ended / 4410', async (t) => {
  const server = await startServer(t);
  const { sessionId, clients: { a } } = await sessionWith(server, ['a', 'b'], { join: ['a'] });
  a.send({ type: 'end-session' }); // a is the host
  assert.deepEqual({ ...(await a.next()) }, { type: 'session-ended', reason: 'host_ended' });
  await a.waitClosed();
  // Someone connected to another session hears nothing either.
  const other = await sessionWith(server, ['x', 'b'], { join: ['x'] });
  const c = await server.connect({ user: 'b', sessionId });
  await expectRefused(c, 'session_ended', 4410);
  // The ended check comes before the participant check.
  const m = await server.connect({ user: 'mallory', sessionId });
  await expectRefused(m, 'session_ended', 4410);
  await other.clients.x.expectNoMessage();
});

test('refused: missing sessionId -> bad_request / 4400', async (t) => {
  await refused(t, { connect: (s) => ({ user: 'a' }), code: 'bad_request', closeCode: 4400 });
});

test('refused: empty sessionId -> bad_request / 4400', async (t) => {
  await refused(t, { connect: (s) => ({ user: 'a', sessionId: '' }), code: 'bad_request', closeCode: 4400 });
});

test('refused: malformed query (bad percent-encoding) -> bad_request / 4400', async (t) => {
  await refused(t, { connect: (s, id) => ({ query: `?token=${s.token('b')}&sessionId=%zz${id}` }), code: 'bad_request', closeCode: 4400 });
});

test('check order: a missing sessionId comes before a bad token', async (t) => {
  await refused(t, { connect: () => ({ token: 'garbage' }), code: 'bad_request', closeCode: 4400 });
});

test('check order: a bad token comes before an unknown session', async (t) => {
  await refused(t, { connect: () => ({ token: 'garbage', sessionId: randomId('nope') }), code: 'invalid_token', closeCode: 4401 });
});

test('check order: session_full is not revealed to a non-participant (not_participant first)', async (t) => {
  const server = await startServer(t, { args: ['--max-participants', '1'] });
  const { sessionId, clients: { a } } = await sessionWith(server, ['a', 'b'], { join: ['a'] });
  const m = await server.connect({ user: 'mallory', sessionId });
  await expectRefused(m, 'not_participant', 4403);
  const b = await server.connect({ user: 'b', sessionId });
  await expectRefused(b, 'session_full', 4409);
  await a.expectNoMessage();
});

test('query values are percent-decoded', async (t) => {
  const server = await startServer(t);
  const sessionId = 'room-42';
  await server.createSession(sessionId, { host: 'a', participants: ['a'] });
  const c = await server.connect({ query: `?sessionId=%72oom%2D42&token=${server.token('a')}` });
  const m = await c.next();
  assert.equal(m.type, 'joined', JSON.stringify(m));
  assert.equal(m.sessionId, 'room-42');
});

test('--jwt-leeway 1s: an exp 10 s in the past is refused (invalid_token / 4401)', async (t) => {
  await refused(t, {
    args: ['--jwt-leeway', '1s'],
    connect: (s, id) => ({ token: s.token('b', undefined, { exp: now() - 10 }), sessionId: id }),
    code: 'invalid_token',
    closeCode: 4401,
  });
});
