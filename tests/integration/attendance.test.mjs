// Attendance (docs/webhooks.md, "Attendance") through the real binary on one node:
// GET /api/sessions/{id} shows, per participant in join order, the first join, the last
// departure, the connections (joins and resumes), whether it is connected, and the connected
// time so far. Timings are noisy: the figures are checked against what the test itself observed
// (lower bounds, orderings, equalities between the server's own fields), never an upper bound.
import assert from 'node:assert/strict';
import test from 'node:test';
import { ISO_MS_UTC, randomId, sleep, startServer } from './harness.mjs';

const shape = (m) => `${m.type} ${m.userId ?? m.participant?.userId ?? ''}`.trim();
const ms = (iso) => Date.parse(iso);
// The server truncates times to the millisecond, and each interval's duration too.
const SLACK_S = 0.003;

async function attendance(server, sessionId) {
  const res = await server.getSession(sessionId);
  assert.equal(res.status, 200);
  return res.json.attendance;
}

function byUser(list) {
  return Object.fromEntries(list.map((r) => [r.userId, r]));
}

function checkShape(r) {
  assert.deepEqual(Object.keys(r).sort(),
    ['connected', 'connectedSeconds', 'connections', 'displayName', 'firstJoinedAt', 'lastLeftAt', 'userId']);
  assert.match(r.firstJoinedAt, ISO_MS_UTC);
  if (r.lastLeftAt !== null) assert.match(r.lastLeftAt, ISO_MS_UTC);
  assert.equal(r.connected, r.lastLeftAt === null);
  assert.equal(typeof r.connectedSeconds, 'number');
  assert.ok(Number.isInteger(Math.round(r.connectedSeconds * 1000)), 'milliseconds');
}

test('join, leave, rejoin and a resume: connections, first join, last departure and connected time', async (t) => {
  const server = await startServer(t, { args: ['--resume-window', '10s'] });
  const sessionId = randomId('att');
  await server.createSession(sessionId, { host: 'a', participants: ['a', 'b'] });
  assert.deepEqual(await attendance(server, sessionId), [], 'nobody joined yet');

  const beforeA = Date.now();
  const [a] = await server.join(sessionId, 'a');
  const afterA = Date.now();
  const beforeB = Date.now();
  const [b1] = await server.join(sessionId, 'b');
  const afterB = Date.now();
  assert.equal(shape(await a.next()), 'participant-joined b');

  await sleep(300);
  const leaveSent = Date.now();
  b1.send({ type: 'leave' });
  assert.equal(shape(await a.next()), 'participant-left b');
  const leftSeen = Date.now();

  let rec = byUser(await attendance(server, sessionId));
  assert.deepEqual(Object.keys(rec), ['a', 'b'], 'join order');
  for (const r of Object.values(rec)) checkShape(r);
  assert.equal(rec.a.displayName, 'Name of a');
  assert.ok(beforeA <= ms(rec.a.firstJoinedAt) && ms(rec.a.firstJoinedAt) <= afterA, rec.a.firstJoinedAt);
  assert.ok(beforeB <= ms(rec.b.firstJoinedAt) && ms(rec.b.firstJoinedAt) <= afterB, rec.b.firstJoinedAt);
  assert.equal(rec.b.connected, false);
  assert.equal(rec.b.connections, 1);
  assert.ok(leaveSent <= ms(rec.b.lastLeftAt) && ms(rec.b.lastLeftAt) <= leftSeen, rec.b.lastLeftAt);
  // One closed interval: exactly its two ends' difference, and at least the 300 ms waited.
  assert.ok(Math.abs(rec.b.connectedSeconds - (ms(rec.b.lastLeftAt) - ms(rec.b.firstJoinedAt)) / 1000) <= SLACK_S);
  assert.ok(rec.b.connectedSeconds >= (leaveSent - afterB) / 1000 - SLACK_S, JSON.stringify(rec.b));
  const firstStint = rec.b.connectedSeconds;

  // Away for a while (not counted), then a new incarnation.
  await sleep(400);
  const [b2, j2] = await server.join(sessionId, 'b');
  const rejoined = Date.now();
  assert.equal(shape(await a.next()), 'participant-joined b');
  rec = byUser(await attendance(server, sessionId));
  assert.equal(rec.b.connected, true);
  assert.equal(rec.b.lastLeftAt, null);
  assert.equal(rec.b.connections, 2);
  assert.ok(ms(rec.b.firstJoinedAt) <= afterB, 'the first join stays');

  // The connection is lost (no close frame), the participant resumes: one more connection, and
  // the time it was reconnecting counts as connected.
  await sleep(200);
  b2.destroySocket();
  assert.equal(shape(await a.next()), 'participant-reconnecting b');
  rec = byUser(await attendance(server, sessionId));
  assert.equal(rec.b.connected, true, 'still holding its place');
  assert.equal(rec.b.lastLeftAt, null);
  await sleep(400);
  const [b3, j3] = await server.join(sessionId, 'b', undefined, { resume: j2.resumeId });
  assert.equal(j3.resumed, true);
  assert.equal(shape(await a.next()), 'participant-reconnected b');
  await sleep(200);
  const asked = Date.now();
  rec = byUser(await attendance(server, sessionId));
  for (const r of Object.values(rec)) checkShape(r);
  assert.equal(rec.b.connections, 3, 'join, rejoin, resume');
  assert.equal(rec.b.connected, true);
  assert.equal(rec.a.connections, 1);
  assert.equal(rec.a.connected, true);
  // b's second stint runs from the rejoin to the request, the reconnecting gap included.
  assert.ok(rec.b.connectedSeconds >= firstStint + (asked - rejoined) / 1000 - SLACK_S, JSON.stringify(rec.b));
  // a was there all along; b was away at least the 400 ms between its leave and its rejoin.
  assert.ok(rec.a.connectedSeconds >= (asked - afterA) / 1000 - SLACK_S, JSON.stringify(rec.a));
  assert.ok(rec.a.connectedSeconds - rec.b.connectedSeconds >= 0.4 - SLACK_S,
    `a ${rec.a.connectedSeconds} s, b ${rec.b.connectedSeconds} s`);
  // Computed at each request: the open intervals grow.
  await sleep(100);
  const later = byUser(await attendance(server, sessionId));
  assert.ok(later.a.connectedSeconds >= rec.a.connectedSeconds + 0.1 - SLACK_S);

  // The end closes everyone at the end.
  const ended = await server.admin('POST', `/api/sessions/${sessionId}/end`);
  assert.equal(ended.status, 200);
  const final = byUser(ended.json.attendance);
  for (const u of ['a', 'b']) {
    checkShape(final[u]);
    assert.equal(final[u].connected, false);
    assert.equal(final[u].lastLeftAt, ended.json.endedAt, `${u} left when the session ended`);
  }
  assert.equal(final.b.connections, 3);
  void b3;
});

test('a resume window that closes without a resume: the connected time stops at the loss', async (t) => {
  const server = await startServer(t, { args: ['--resume-window', '1500ms'] });
  const sessionId = randomId('att');
  await server.createSession(sessionId, { host: 'a', participants: ['a', 'b'] });
  const [a] = await server.join(sessionId, 'a');
  const [b] = await server.join(sessionId, 'b');
  const afterB = Date.now();
  assert.equal(shape(await a.next()), 'participant-joined b');
  await sleep(300);
  const cutAt = Date.now();
  b.destroySocket();
  assert.equal(shape(await a.next()), 'participant-reconnecting b');
  const reconnectingSeen = Date.now();
  assert.equal(shape(await a.next()), 'participant-left b');
  const rec = byUser(await attendance(server, sessionId));
  checkShape(rec.b);
  assert.equal(rec.b.connected, false);
  assert.equal(rec.b.connections, 1);
  // The departure is dated at the loss, before the others heard of it, not at the window's end.
  assert.ok(cutAt <= ms(rec.b.lastLeftAt) && ms(rec.b.lastLeftAt) <= reconnectingSeen, rec.b.lastLeftAt);
  assert.ok(Math.abs(rec.b.connectedSeconds - (ms(rec.b.lastLeftAt) - ms(rec.b.firstJoinedAt)) / 1000) <= SLACK_S);
  assert.ok(rec.b.connectedSeconds >= (cutAt - afterB) / 1000 - SLACK_S);
});
