// Several nodes, one Redis or a Redis Cluster: the session timers of a session nobody hosts
// (docs/deployment.md, "Deadlines"). A node keeps a session only while it has local participants,
// so --start-timeout, --empty-timeout and the duration run from the deadlines kept in Redis
// (session:deadlines): some node ends the session at its deadline with the reason a single node
// gives (docs/protocol.md: timeout, completed), and session.ended is emitted once over all nodes.
// Bounded waits only; no duration is asserted. Needs /usr/bin/redis-server.
import assert from 'node:assert/strict';
import { randomId, sleep, waitFor } from './harness.mjs';
import { redisClient, redisTest, startNodes, startRedis } from './cluster-harness.mjs';

const FAST = ['--node-ttl', '900ms', '--cluster-sync', '1s'];
// An admin call (PUT, POST start) leaves a copy of the session on the node that served it for a
// few seconds (Mirror::kVisitorKeep, 5 s), whose own timer would end it: the deadlines below come
// after that copy is dropped, so that only the deadlines in Redis can end the session.
const PAST_VISITOR_COPY_S = 8;

/** How many times each "type reason" event of `sid` was emitted over all nodes' logs. */
function counts(nodes, sid) {
  const c = {};
  for (const n of nodes) {
    for (const r of n.logs) {
      if (r.msg !== 'platform event' || r.session !== sid) continue;
      const key = [r.type, r.user, r.reason].filter(Boolean).join(' ');
      c[key] = (c[key] ?? 0) + 1;
    }
  }
  return c;
}

/**
 * Waits until Redis shows the session ended; returns its directory entry. Polled in Redis, not
 * through GET /api/sessions/{id}: an admin call makes the node read the session and keep a copy
 * for a while, whose own timer would end it (what this file checks is the session nobody holds).
 */
async function ended(rc, sid) {
  return waitFor(async () => {
    const dir = await rc.hgetall(rc.k.dir(sid));
    return dir.status === 'ended' ? dir : null;
  }, { timeoutMs: PAST_VISITOR_COPY_S * 1000 + 12_000, intervalMs: 100, what: `${sid} ended` });
}

redisTest('a declared session nobody joins ends at --start-timeout (timeout), once over all nodes', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const nodes = await startNodes(t, redis, 2, { args: [...FAST, '--start-timeout', `${PAST_VISITOR_COPY_S}s`] });
  const [a, b] = nodes;
  const rc = await redisClient(t, redis);
  const sid = randomId('nostart');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2'] });
  assert.equal((await ended(rc, sid)).endReason, 'timeout');
  const s = (await b.getSession(sid)).json;
  assert.equal(s.status, 'ended');
  assert.equal(s.endReason, 'timeout');
  await sleep(300); // a losing node's (wrong) copy would come now
  const c = counts(nodes, sid);
  assert.equal(c['session.ended timeout'], 1, JSON.stringify(c));
  // The deadline entry goes once the session is ended (after the claim's lease).
  const keys = mode.name === 'cluster'
    ? Array.from({ length: 16 }, (_, i) => `session:deadlines:{b${i}}`)
    : ['session:deadlines'];
  await waitFor(async () => {
    for (const k of keys) if ((await rc.cmd('ZSCORE', k, sid)) !== null) return false;
    return true;
  }, { timeoutMs: 10_000, intervalMs: 200, what: 'deadline entry removed' });
});

redisTest('a started session left empty ends at --empty-timeout (timeout), once over all nodes', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const nodes = await startNodes(t, redis, 2, { args: [...FAST, '--empty-timeout', '1s'] });
  const [a, b] = nodes;
  const rc = await redisClient(t, redis);
  const sid = randomId('empty');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2'] });
  const [c1] = await a.join(sid, 'u1');
  assert.equal((await b.admin('POST', `/api/sessions/${sid}/start`)).status, 200);
  await c1.next('session-started');
  c1.close();
  assert.equal((await ended(rc, sid)).endReason, 'timeout');
  const s = (await b.getSession(sid)).json;
  assert.equal(s.status, 'ended');
  assert.equal(s.endReason, 'timeout');
  await sleep(300);
  const c = counts(nodes, sid);
  assert.equal(c['session.ended timeout'], 1, JSON.stringify(c));
});

redisTest('a started session whose duration ends while nobody is connected ends (completed), once over all nodes', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const nodes = await startNodes(t, redis, 2, { args: FAST });
  const [a, b] = nodes;
  const rc = await redisClient(t, redis);
  const sid = randomId('dur');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2'], durationSeconds: PAST_VISITOR_COPY_S });
  const [c1] = await a.join(sid, 'u1');
  assert.equal((await b.admin('POST', `/api/sessions/${sid}/start`)).status, 200);
  await c1.next('session-started');
  c1.close();
  // Left empty, it is still started (--empty-timeout is 5 min): only the duration can end it.
  assert.equal((await ended(rc, sid)).endReason, 'completed');
  assert.equal((await a.getSession(sid)).json.endReason, 'completed');
  await sleep(300);
  const c = counts(nodes, sid);
  assert.equal(c['session.ended completed'], 1, JSON.stringify(c));
  assert.equal(c['session.ended timeout'], undefined, JSON.stringify(c));
});
