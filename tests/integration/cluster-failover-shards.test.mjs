// Issue 12, "Prove it": a Redis Cluster primary killed (kill -9) while sessions relay. Three
// server nodes on a 3-primary + 3-replica cluster (redis-cluster-support.mjs, its own cluster with
// a 1 s cluster-node-timeout), six sessions spread over the three shards, three participants each
// (one per node), relaying all the time. The primary owning one session's slot is killed; once
// its replica has taken over: relays go on in every session, a join and a departure work in that
// session and in one on another shard, and Redis (read through the cluster) holds exactly the
// connected participants in session:ws:{id}; no participant closed or announced as gone, no
// session lost. Needs redis-server, redis-cli and a binary with --redis-cluster.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { expectClose, randomId, sleep, waitFor } from './harness.mjs';
import { keysFor, redisModes, startNodes } from './cluster-harness.mjs';
import { startRedisCluster } from './redis-cluster-support.mjs';

const clusterMode = redisModes().find((m) => m.name === 'cluster');
const skip = clusterMode?.skip ?? 'SIG_REDIS_MODES excludes the cluster';
const rk = keysFor('cluster');
// --node-ttl past a failover (about 2-3 s with a 1 s cluster-node-timeout): an alive key on the
// lost shard must not make its node presumed dead meanwhile. A long --heartbeat-timeout: the test
// clients send no heartbeats, and some only receive until the checks after the failover.
const ARGS = ['--node-ttl', '6s', '--cluster-sync', '1s', '--resume-window', '10s', '--heartbeat-timeout', '2m'];
const USERS = ['u1', 'u2', 'u3'];

/** Sends `from` → `to` until one arrives (a message sent while its shard had no primary may be lost). */
async function relayArrives(from, to, tag) {
  let n = 0;
  await waitFor(async () => {
    const mark = `${tag}#${n++}`;
    from.send({ type: 'ice-candidate', toUserId: to.userId, candidate: { candidate: mark } });
    try {
      await to.next((m) => m.type === 'ice-candidate' && m.candidate?.candidate === mark, 500);
      return true;
    } catch {
      return false;
    }
  }, { timeoutMs: 20_000, intervalMs: 0, what: `a relay ${from.userId} → ${to.userId} (${tag})` });
}

test('a Redis Cluster primary killed while sessions relay: after the failover relays, joins and departures work, Redis holds exactly the connected participants', { skip, timeout: 180_000 }, async (t) => {
  const cluster = await startRedisCluster(t, { nodeTimeoutMs: 1000 });
  cluster.k = rk;
  const nodes = await startNodes(t, cluster, 3, { args: ARGS });
  // On a failure: what the nodes logged about Redis from the kill on (warnings and errors), and
  // with SIG_KEEP_LOGS=<dir> their whole logs there.
  let killedAt;
  t.after(() => {
    if (t.passed || !killedAt) return;
    for (const n of nodes) {
      const lines = n.logs.filter((r) => Date.parse(r.time ?? 0) >= killedAt - 100 && /warn|error/.test(r.level ?? ''));
      for (const r of lines.slice(0, 12)) t.diagnostic(`${n.nodeId}: ${JSON.stringify(r)}`);
      if (process.env.SIG_KEEP_LOGS) fs.writeFileSync(path.join(process.env.SIG_KEEP_LOGS, `failover-shards-${n.nodeId}.log`), n.stdout);
    }
  });
  const rc = cluster.client();
  t.after(() => rc.close());

  // Six sessions, two on each shard.
  const sessions = [];
  const perShard = new Map();
  for (let i = 0; sessions.length < 6 && i < 500; i++) {
    const sid = randomId(`shard${i}-`);
    const port = await cluster.primaryForKey(rk.ws(sid));
    if ((perShard.get(port) ?? 0) >= 2) continue;
    perShard.set(port, (perShard.get(port) ?? 0) + 1);
    sessions.push({ sid, port });
  }
  assert.equal(perShard.size, 3, 'sessions on every shard');
  for (const s of sessions) {
    await nodes[0].createSession(s.sid, { host: 'u1', participants: ['u1', 'u2', 'u3', 'u4'] });
    s.clients = {};
    for (let i = 0; i < USERS.length; i++) {
      [s.clients[USERS[i]]] = await nodes[i].join(s.sid, USERS[i]);
      s.clients[USERS[i]].label = `${s.sid}${s.port === sessions[0]?.port ? ' (killed shard)' : ''}/${USERS[i]}@n${i + 1}`;
    }
    await s.clients.u1.take(2, (m) => m.type === 'participant-joined');
  }
  const all = () => sessions.flatMap((s) => Object.values(s.clients));
  for (const s of sessions) {
    assert.deepEqual(Object.keys(await rc.hgetall(rk.ws(s.sid))).sort(), USERS, `${s.sid} before`);
  }

  // The session whose primary dies, and one on another shard.
  const target = sessions[0];
  const other = sessions.find((s) => s.port !== target.port);
  await cluster.waitSynced(target.port);
  const mark = new Map(all().map((c) => [c, c.received.length]));

  // Relays all the time (bounded), in every session, while the primary dies and is replaced.
  let relaying = true;
  const loop = (async () => {
    for (let i = 0; relaying && i < 2000; i++) {
      for (const s of sessions) {
        s.clients.u1.send({ type: 'ice-candidate', toUserId: 'u2', candidate: { candidate: `loop ${i}` } });
        s.clients.u3.send({ type: 'ice-candidate', toUserId: 'u1', candidate: { candidate: `loop ${i}` } });
      }
      await sleep(50);
    }
  })();
  t.after(() => { relaying = false; });
  await sleep(300);
  killedAt = Date.now();
  const [replica] = await cluster.killPrimary(target.port);
  const promoted = await cluster.waitFailover();
  assert.equal(promoted, replica);
  t.diagnostic(`failover: replica ${promoted} took over ${Date.now() - killedAt} ms after the kill of ${target.port}`);
  assert.equal(await cluster.primaryForKey(rk.ws(target.sid)), promoted);

  // Relays go on (or resume) in every session, each way across the nodes.
  for (const s of sessions) {
    const { u1, u2, u3 } = s.clients;
    await relayArrives(u1, u2, `${s.sid} after`);
    await relayArrives(u2, u3, `${s.sid} after`);
    await relayArrives(u3, u1, `${s.sid} after`);
  }
  relaying = false;
  await loop;
  t.diagnostic(`relays flowing again in all sessions ${Date.now() - killedAt} ms after the kill`);

  // A join and a departure in a session on another shard, then in the failed-over one.
  for (const s of [other, target]) {
    const { u1, u2, u3 } = s.clients;
    const [u4, joined] = await nodes[1].join(s.sid, 'u4');
    u4.label = `${s.sid}/u4@n2`;
    assert.deepEqual(joined.participants.map((p) => p.userId).sort(), USERS, `${s.sid}: u4 sees everyone`);
    // Earlier participant-joined messages may still be queued (u2 joined before u3): wait for u4's.
    for (const c of [u1, u2, u3]) await c.next((m) => m.type === 'participant-joined' && m.participant?.userId === 'u4', 10_000);
    s.clients.u4 = u4;
    u2.send({ type: 'leave' });
    await expectClose(u2, 1000);
    delete s.clients.u2;
    for (const c of [u1, u3, u4]) assert.deepEqual({ ...(await c.next('participant-left', 10_000)) }, { type: 'participant-left', userId: 'u2' });
    await relayArrives(u4, u1, `${s.sid} newcomer`);
    await relayArrives(u3, u4, `${s.sid} newcomer`);
  }

  // Redis, read through the cluster: exactly the connected participants, on their nodes.
  for (const s of sessions) {
    const expected = s.clients;
    const where = { u1: 'n1', u2: 'n2', u3: 'n3', u4: 'n2' };
    await waitFor(async () => {
      const ws = await rc.hgetall(rk.ws(s.sid));
      return JSON.stringify(Object.keys(ws).sort()) === JSON.stringify(Object.keys(expected).sort())
        && Object.entries(ws).every(([u, conn]) => conn.startsWith(`${where[u]}:`));
    }, { timeoutMs: 15_000, what: `session:ws of ${s.sid} = ${Object.keys(expected).sort()}` });
    for (const u of Object.keys(expected)) assert.match(await rc.cmd('GET', rk.heartbeat(s.sid, u)) ?? '', /^\d{13}$/, `${s.sid} heartbeat of ${u}`);
    const dir = await rc.hgetall(rk.dir(s.sid));
    assert.equal(dir.hostUserId, 'u1', `${s.sid}: its directory entry is there`);
    for (const n of nodes) {
      const got = await n.getSession(s.sid);
      assert.equal(got.status, 200, `${s.sid} on ${n.nodeId}`);
      assert.deepEqual([...got.json.connected].sort(), Object.keys(expected).sort(), `${s.sid} connected, on ${n.nodeId}`);
    }
  }
  for (const n of ['n1', 'n2', 'n3']) assert.equal(await rc.cmd('EXISTS', rk.alive(n)), 1, `${n} alive`);

  // Nobody lost: no connection closed but the one that left, nobody announced as gone but it.
  const reconnecting = [];
  for (const s of sessions) {
    for (const [u, c] of Object.entries(s.clients)) {
      assert.equal(c.closeInfo, null, `${s.sid} ${u} was closed: ${JSON.stringify(c.closeInfo)}`);
      const seen = c.received.slice(mark.get(c) ?? 0);
      const left = seen.filter((m) => m.type === 'participant-left' && m.userId !== 'u2');
      assert.deepEqual(left, [], `${s.sid} ${u}: nobody else left`);
      const errors = seen.filter((m) => m.type === 'error' && m.code !== 'undelivered');
      assert.deepEqual(errors, [], `${s.sid} ${u}: no error`);
      reconnecting.push(...seen.filter((m) => m.type === 'participant-reconnecting').map((m) => `${s.sid}:${m.userId}`));
    }
  }
  t.diagnostic(`participant-reconnecting seen during the failover: ${reconnecting.length ? reconnecting.join(', ') : 'none'}`);
  for (const n of nodes) n.assertAlive();
});
