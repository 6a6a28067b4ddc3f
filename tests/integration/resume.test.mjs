// Resume (docs/protocol.md, "Resume") against the real binary: a lost connection keeps its place,
// a resume with the resumeId gives the others participant-reconnected and nothing else, kept
// messages arrive after the resumed joined, the window closing gives participant-left, a new
// incarnation gives left then joined; on several nodes a resume works on any node, also after
// the node that served the participant was killed.
import assert from 'node:assert/strict';
import test from 'node:test';
import { expectParticipantLeft, randomId, sessionWith, startServer } from './harness.mjs';
import { killNode, redisTest, startNodes, startRedis } from './cluster-harness.mjs';

// Drops the TCP connection without a close frame, as a Wi-Fi loss does (seen by the server as
// a reset or an end of stream, never as a goodbye).
function cut(client) {
  client.ws._socket.destroy();
}

const shape = (m) => `${m.type} ${m.userId ?? m.participant?.userId ?? ''}`.trim();

test('resume on the same node: the others see reconnecting then reconnected, nothing else; kept messages follow the resumed joined in order', async (t) => {
  const server = await startServer(t, { args: ['--resume-window', '5s'] });
  const { sessionId, clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);
  const resumeId = b.joined?.resumeId ?? b.received.find((m) => m.type === 'joined').resumeId;
  assert.match(resumeId, /^[A-Za-z0-9_-]{16,64}$/);
  cut(b);
  for (const cl of [a, c]) assert.equal(shape(await cl.next()), 'participant-reconnecting b');
  // While b is away: offers and candidates for it are kept.
  a.send({ type: 'offer', toUserId: 'b', sdp: 'v=0 one' });
  a.send({ type: 'ice-candidate', toUserId: 'b', candidate: { candidate: 'two' } });
  c.send({ type: 'offer', toUserId: 'b', sdp: 'v=0 three' });
  const snap = (await server.getSession(sessionId)).json;
  assert.deepEqual(snap.reconnecting, ['b']);
  assert.deepEqual(snap.connected, ['a', 'b', 'c'], 'b keeps its place');
  assert.match((await server.http('GET', '/metrics')).text, /^signaling_participants_reconnecting 1$/m);

  const [b2, joined] = await server.join(sessionId, 'b', undefined, { resume: resumeId });
  assert.equal(joined.resumed, true);
  assert.equal(joined.resumeId, resumeId);
  assert.deepEqual(joined.participants.map((p) => p.userId), ['a', 'c']);
  const kept = await b2.take(3);
  // In order per sender (a and c are two connections: the server may take c's first).
  assert.deepEqual(kept.filter((m) => m.fromUserId === 'a').map((m) => m.type), ['offer', 'ice-candidate']);
  assert.deepEqual(kept.filter((m) => m.fromUserId === 'c').map((m) => m.sdp), ['v=0 three']);
  assert.equal(kept.find((m) => m.fromUserId === 'a').sdp, 'v=0 one');
  assert.equal(b2.received[0].type, 'joined', 'the kept messages come after the resumed joined');
  for (const cl of [a, c]) {
    assert.equal(shape(await cl.next()), 'participant-reconnected b');
    await cl.expectNoMessage();
  }
  // It relays as before, both ways.
  b2.send({ type: 'answer', toUserId: 'a', sdp: 'v=0 answer' });
  assert.equal((await a.next('answer')).fromUserId, 'b');
  assert.deepEqual((await server.getSession(sessionId)).json.reconnecting, []);
});

test('the resume window closing without a resume gives participant-left; the resumeId then opens a new incarnation', async (t) => {
  const server = await startServer(t, { args: ['--resume-window', '400ms'] });
  const { sessionId, clients: { a, b } } = await sessionWith(server, ['a', 'b']);
  const resumeId = b.received.find((m) => m.type === 'joined').resumeId;
  a.send({ type: 'offer', toUserId: 'b', sdp: 'v=0' });  // before the loss: delivered
  await b.next('offer');
  cut(b);
  assert.equal(shape(await a.next()), 'participant-reconnecting b');
  a.send({ type: 'offer', toUserId: 'b', sdp: 'v=0 kept' });
  await expectParticipantLeft([a], 'b');
  const told = await a.next('error');
  assert.equal(told.code, 'undelivered');
  assert.equal(told.toUserId, 'b');
  const [, joined] = await server.join(sessionId, 'b', undefined, { resume: resumeId });
  assert.equal(joined.resumed, false);
  assert.notEqual(joined.resumeId, resumeId);
  assert.equal(shape(await a.next()), 'participant-joined b');
});

test('a new incarnation (no resumeId, or a wrong one) gives left then joined; a clean close gives left at once', async (t) => {
  const server = await startServer(t, { args: ['--resume-window', '10s'] });
  const { sessionId, clients: { a, b, c } } = await sessionWith(server, ['a', 'b', 'c']);
  cut(b);
  assert.equal(shape(await a.next()), 'participant-reconnecting b');
  const [b2, j2] = await server.join(sessionId, 'b');  // a reloaded tab: no resumeId
  assert.equal(j2.resumed, false);
  assert.deepEqual((await a.take(2)).map(shape), ['participant-left b', 'participant-joined b']);
  const [, j3] = await server.join(sessionId, 'b', undefined, { resume: 'not-its-resume-id' });
  assert.equal(j3.resumed, false);
  assert.deepEqual((await a.take(2)).map(shape), ['participant-left b', 'participant-joined b']);
  assert.equal((await b2.next()).type, 'error', 'the replaced connection is told');
  // A close frame from the client is a goodbye: no reconnecting state.
  c.ws.close(1000);
  assert.equal(shape(await a.next()), 'participant-left c');
});

test('a resume with another user\'s resumeId or without a valid token grants nothing', async (t) => {
  const server = await startServer(t, { args: ['--resume-window', '10s'] });
  const { sessionId, clients: { a, b } } = await sessionWith(server, ['a', 'b', 'c']);
  const resumeOfB = b.received.find((m) => m.type === 'joined').resumeId;
  cut(b);
  await a.next();
  const [, joinedC] = await server.join(sessionId, 'c', undefined, { resume: resumeOfB });
  assert.equal(joinedC.resumed, false, 'c cannot take over b');
  const forged = await server.connect({ token: 'x.y.z', sessionId, resume: resumeOfB });
  assert.equal((await forged.next()).code, 'invalid_token');
});

redisTest('several nodes: a participant resumes on another node; messages kept by its old node follow it', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const [n1, n2] = await startNodes(t, redis, 2, { args: ['--node-ttl', '900ms', '--cluster-sync', '1s', '--resume-window', '5s'] });
  const sid = randomId('resume');
  await n1.createSession(sid, { host: 'u1', participants: ['u1', 'u2', 'u3'] });
  const [c1] = await n1.join(sid, 'u1');
  const [c2, j2] = await n2.join(sid, 'u2');
  const [c3] = await n1.join(sid, 'u3');
  await c1.take(2, (m) => m.type === 'participant-joined');
  await c2.next((m) => m.type === 'participant-joined');
  cut(c2);
  for (const cl of [c1, c3]) assert.equal(shape(await cl.next()), 'participant-reconnecting u2');
  c1.send({ type: 'offer', toUserId: 'u2', sdp: 'v=0 kept on n2' });
  await new Promise((r) => setTimeout(r, 200));  // the offer reaches node 2 and is kept there
  const [d2, resumed] = await n1.join(sid, 'u2', undefined, { resume: j2.resumeId });
  assert.equal(resumed.resumed, true);
  assert.deepEqual(resumed.participants.map((p) => p.userId), ['u1', 'u3']);
  const offer = await d2.next('offer');
  assert.equal(offer.sdp, 'v=0 kept on n2');
  assert.equal(offer.fromUserId, 'u1');
  for (const cl of [c1, c3]) {
    assert.equal(shape(await cl.next()), 'participant-reconnected u2');
    await cl.expectNoMessage(500);
  }
  d2.send({ type: 'answer', toUserId: 'u1', sdp: 'v=0 a' });
  assert.equal((await c1.next('answer')).fromUserId, 'u2');
});

redisTest('several nodes: kill -9 of a node while its clients resume on another node; nobody sees a departure', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const [n1, n2] = await startNodes(t, redis, 2, { args: ['--node-ttl', '900ms', '--cluster-sync', '1s', '--resume-window', '5s'] });
  const sid = randomId('kill');
  await n1.createSession(sid, { host: 'u1', participants: ['u1', 'u2', 'u3', 'u4'] });
  const [c1] = await n1.join(sid, 'u1');
  const [c2, j2] = await n2.join(sid, 'u2');
  const [c3, j3] = await n2.join(sid, 'u3');
  const [c4] = await n1.join(sid, 'u4');
  void c2;
  void c3;
  await c1.take(3, (m) => m.type === 'participant-joined');
  const before = new Map([c1, c4].map((cl) => [cl, cl.received.length]));
  await killNode(n2);
  // u2 comes back at once; u3 only once node 2 is presumed dead (after --node-ttl).
  const [, r2] = await n1.join(sid, 'u2', undefined, { resume: j2.resumeId });
  assert.equal(r2.resumed, true);
  await new Promise((r) => setTimeout(r, 2000));
  const [, r3] = await n1.join(sid, 'u3', undefined, { resume: j3.resumeId });
  assert.equal(r3.resumed, true);
  await new Promise((r) => setTimeout(r, 6000));  // past the window: nothing more may come
  for (const cl of [c1, c4]) {
    const seen = cl.received.slice(before.get(cl)).map(shape);
    assert.ok(!seen.some((m) => m.startsWith('participant-left') || m.startsWith('participant-joined')),
      `${cl.label}: a departure or a rejoin was announced: ${JSON.stringify(seen)}`);
    assert.ok(seen.includes('participant-reconnected u2'), JSON.stringify(seen));
    assert.ok(seen.includes('participant-reconnected u3'), JSON.stringify(seen));
  }
});
