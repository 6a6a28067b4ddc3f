// Several nodes: a node killed with SIGKILL, Redis restarted in the middle of a session, Redis
// unreachable at start-up; each against one Redis and against a Redis Cluster (a primary's
// failover: cluster-failover-shards.test.mjs). Needs /usr/bin/redis-server (skipped with a message otherwise).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import test from 'node:test';
import { randomId, serverBin, waitFor, withTimeout } from './harness.mjs';
import { freePort, killNode, redisClient, redisModes, redisTest, skipWithoutRedis, startNodes, startRedis } from './cluster-harness.mjs';

// Short liveness settings so the tests do not wait for production timeouts.
const FAST = ['--node-ttl', '900ms', '--cluster-sync', '1s'];

redisTest('a node killed with SIGKILL: participants on the other nodes are reconnecting, then leave when the resume window closes, and Redis forgets its entries', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const [a, b, c] = await startNodes(t, redis, 3, { args: [...FAST, '--resume-window', '1500ms'] });
  const rc = await redisClient(t, redis);
  const sid = randomId('kill');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2', 'u3', 'u4'] });
  const [c1] = await a.join(sid, 'u1');
  const [c2] = await b.join(sid, 'u2');
  const [c3] = await c.join(sid, 'u3');
  const [c4] = await b.join(sid, 'u4');
  await c1.take(3, (m) => m.type === 'participant-joined');
  await c3.take(1, (m) => m.type === 'participant-joined');
  assert.ok(await rc.cmd('EXISTS', rk.alive('n2')));

  await killNode(b); // u2 and u4 were on node 2
  const killedAt = Date.now();
  for (const cl of [c1, c3]) {
    const lost = await cl.take(2, () => true, 10_000, 'participant-reconnecting after the kill');
    assert.deepEqual(lost.map((m) => `${m.type} ${m.userId}`).sort(),
      ['participant-reconnecting u2', 'participant-reconnecting u4']);
  }
  t.diagnostic(`participant-reconnecting arrived ${Date.now() - killedAt} ms after the kill (--node-ttl 900ms)`);
  for (const cl of [c1, c3]) {
    const left = await cl.take(2, () => true, 10_000, 'participant-left when the window closed');
    assert.deepEqual(left.map((m) => `${m.type} ${m.userId}`).sort(), ['participant-left u2', 'participant-left u4']);
    for (const m of left) assert.deepEqual(Object.keys(m).sort(), ['type', 'userId']);
  }
  t.diagnostic(`participant-left arrived ${Date.now() - killedAt} ms after the kill (--resume-window 1500ms)`);
  // The departure is written once, by whichever node's script came first.
  await waitFor(async () => Object.keys(await rc.hgetall(rk.ws(sid))).length === 2, { what: 'session:ws cleaned' });
  await Promise.all([c1.expectNoMessage(), c3.expectNoMessage()]);

  // Redis: no field of the dead node, its heartbeat keys and alive key gone.
  const ws = await rc.hgetall(rk.ws(sid));
  assert.deepEqual(Object.keys(ws).sort(), ['u1', 'u3']);
  assert.ok(Object.values(ws).every((conn) => !conn.startsWith('n2:')), JSON.stringify(ws));
  assert.equal(await rc.cmd('EXISTS', rk.heartbeat(sid, 'u2')), 0);
  assert.equal(await rc.cmd('EXISTS', rk.heartbeat(sid, 'u4')), 0);
  assert.equal(await rc.cmd('EXISTS', rk.alive('n2')), 0);
  assert.deepEqual((await c.getSession(sid)).json.connected, ['u1', 'u3']);

  // The survivors go on: a relay across the two remaining nodes, and u2 can come back on node 1.
  c1.send({ type: 'offer', toUserId: 'u3', sdp: 'v=0\r\n' });
  assert.equal((await c3.next('offer')).fromUserId, 'u1');
  const [, j] = await a.join(sid, 'u2');
  assert.deepEqual(j.participants.map((p) => p.userId), ['u1', 'u3']);
  assert.deepEqual({ ...(await c3.next('participant-joined')) }, { type: 'participant-joined', participant: { userId: 'u2', displayName: 'Name of u2' } });
});

// The thawed node runs its restore script while its client rejoins; the rejoin's entry must
// survive it (the script keeps entries newer than the node's last join reply, and the scripts are
// loaded before anything else so no EVALSHA is re-sent out of order).
redisTest('a node frozen longer than --node-ttl (SIGSTOP): the others see its participants reconnecting; when it wakes up it writes them again, announced as reconnected, and its connections stay open', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  // A longer --node-ttl than FAST: after the thaw, the node must keep its alive key fresh on a
  // loaded machine, or it is (rightly) presumed dead a second time and its new connection dropped.
  const [a, b] = await startNodes(t, redis, 2, { args: ['--node-ttl', '2500ms', '--cluster-sync', '1s'] });
  const rc = await redisClient(t, redis);
  const sid = randomId('frozen');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2'] });
  const [c1] = await a.join(sid, 'u1');
  const [c2] = await b.join(sid, 'u2');
  await c1.next('participant-joined');

  b.proc.kill('SIGSTOP');
  try {
    assert.deepEqual({ ...(await c1.next(undefined, 10_000)) }, { type: 'participant-reconnecting', userId: 'u2' });
  } finally {
    b.proc.kill('SIGCONT');
  }
  // Awake again within the resume window (10 s): nothing was closed; it announces u2 as resumed.
  // Generous bounds: a node thawed on a loaded machine first catches up with its timers.
  assert.deepEqual({ ...(await c1.next(undefined, 15_000)) }, { type: 'participant-reconnected', userId: 'u2' });
  c2.send({ type: 'offer', toUserId: 'u1', sdp: 'v=0\r\n' });
  assert.equal((await c1.next('offer', 15_000)).fromUserId, 'u2');
  c1.send({ type: 'answer', toUserId: 'u2', sdp: 'v=0\r\n' });
  assert.equal((await c2.next('answer', 15_000)).fromUserId, 'u1');
  assert.match((await rc.hgetall(rk.ws(sid))).u2, /^n2:/);
  assert.ok(!c2.received.some((m) => m.type === 'error'), JSON.stringify(c2.received));
  await c1.expectNoMessage();
});

redisTest('Redis restarted in the middle of a session: clients of one node keep signaling, /readyz says 503, then the layout is written again', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const nodes = await startNodes(t, redis, 3, { args: FAST });
  const [a, b, c] = nodes;
  let rc = await redisClient(t, redis);
  const sid = randomId('restart');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2', 'u3', 'u4'] });
  const [c1] = await a.join(sid, 'u1');
  const [c2] = await a.join(sid, 'u2');
  const [c3] = await b.join(sid, 'u3');
  const [c4] = await c.join(sid, 'u4');
  await c1.take(3, (m) => m.type === 'participant-joined');
  await c2.take(2, (m) => m.type === 'participant-joined');
  await c3.next('participant-joined');
  const before = await rc.hgetall(rk.ws(sid));
  rc.close();

  // On a cluster: every instance stopped, then started again on its ports and dirs (the cluster
  // configuration is kept in nodes.conf, the data is not: an empty cluster, like the empty Redis).
  if (mode.name === 'cluster') await redis.killAll();
  else await redis.stop();
  for (const s of nodes) {
    await waitFor(async () => (await s.http('GET', '/readyz')).status === 503, { what: `${s.nodeId} /readyz 503 while Redis is down` });
    assert.match((await s.http('GET', '/metrics')).text, /^signaling_redis_ready 0$/m);
  }
  // Same node: signaling goes on without Redis.
  c1.send({ type: 'offer', toUserId: 'u2', sdp: 'v=0\r\n' });
  assert.equal((await c2.next('offer')).fromUserId, 'u1');
  c2.send({ type: 'answer', toUserId: 'u1', sdp: 'v=0\r\n' });
  assert.equal((await c1.next('answer')).fromUserId, 'u2');
  for (const cl of [c1, c3, c4]) await cl.ping();

  if (mode.name === 'cluster') await redis.startAll();
  else await redis.start(); // same port, empty (no persistence)
  for (const s of nodes) {
    await waitFor(async () => (await s.http('GET', '/readyz')).status === 200, { timeoutMs: 15_000, what: `${s.nodeId} /readyz 200 after Redis is back` });
    assert.match((await s.http('GET', '/metrics')).text, /^signaling_redis_ready 1$/m);
  }
  rc = await redisClient(t, redis);
  await waitFor(async () => Object.keys(await rc.hgetall(rk.ws(sid))).length === 4,
    { timeoutMs: 10_000, what: 'session:ws written again' });
  assert.deepEqual(await rc.hgetall(rk.ws(sid)), before, 'the same connections as before the restart');
  assert.ok((await rc.cmd('TTL', rk.ws(sid))) > 1700);
  for (const u of ['u1', 'u2', 'u3', 'u4']) assert.match(await rc.cmd('GET', rk.heartbeat(sid, u)), /^\d{13}$/);
  const dir = await rc.hgetall(rk.dir(sid));
  assert.equal(dir.hostUserId, 'u1');
  assert.equal(dir.status, 'waiting');
  for (const n of ['n1', 'n2', 'n3']) assert.equal(await rc.cmd('EXISTS', rk.alive(n)), 1);

  // Across nodes again (each way), and nobody was announced as gone.
  const relay = async (from, to, toUser) => waitFor(async () => {
    from.send({ type: 'offer', toUserId: toUser, sdp: 'v=0\r\n' });
    try {
      return await to.next('offer', 300);
    } catch {
      return null;
    }
  }, { timeoutMs: 10_000, what: `a relay to ${toUser} after the restart` });
  await relay(c3, c1, 'u1');
  await relay(c1, c4, 'u4');
  await relay(c4, c3, 'u3');
  for (const cl of [c1, c2, c3, c4]) {
    assert.ok(!cl.received.some((m) => m.type === 'participant-left'), `${cl.label}: nobody left: ${JSON.stringify(cl.received)}`);
  }
  for (const s of nodes) assert.deepEqual((await s.getSession(sid)).json.connected, ['u1', 'u2', 'u3', 'u4'], `GET on ${s.nodeId}`);
});

redisTest('an instance stopped at once (SIGINT; SIGTERM drains: drain.test.mjs): its clients get 1001, the others see them reconnecting, then leaving when nobody resumes, and Redis forgets them', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const [a, b] = await startNodes(t, redis, 2, { args: ['--node-ttl', '1500ms', '--resume-window', '1s'] });
  const rc = await redisClient(t, redis);
  const sid = randomId('stop');
  await a.createSession(sid, { host: 'u1', participants: ['u1', 'u2'] });
  const [c1] = await a.join(sid, 'u1');
  const [c2] = await b.join(sid, 'u2');
  await c1.next('participant-joined');
  b.stopping = true; // SIGINT by hand: the harness's stop() would close the clients first
  b.proc.kill('SIGINT');
  assert.equal((await c2.waitClosed()).code, 1001);
  assert.deepEqual(await withTimeout(b.exited, 5000, 'exit after SIGINT'), { code: 0, signal: null });
  // Its alive key is deleted at once, so the other node notices within a third of --node-ttl.
  assert.equal(await rc.cmd('EXISTS', rk.alive('n2')), 0);
  assert.deepEqual({ ...(await c1.next()) }, { type: 'participant-reconnecting', userId: 'u2' });
  assert.deepEqual({ ...(await c1.next()) }, { type: 'participant-left', userId: 'u2' });
  await waitFor(async () => (await rc.cmd('HEXISTS', rk.ws(sid), 'u2')) === 0, { what: 'u2 removed from Redis' });
  assert.deepEqual(Object.keys(await rc.hgetall(rk.ws(sid))), ['u1']);
  assert.equal(await rc.cmd('HEXISTS', rk.ws(sid), 'u2'), 0);
  assert.equal(await rc.cmd('EXISTS', rk.heartbeat(sid, 'u2')), 0);
  assert.equal(await rc.cmd('EXISTS', rk.alive('n2')), 0);
  await c1.expectNoMessage();
});

async function runToExit(args) {
  const proc = spawn(serverBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const code = await withTimeout(new Promise((r) => proc.on('close', (c) => r(c))), 15_000, 'server exit').catch((e) => {
    proc.kill('SIGKILL');
    throw e;
  });
  return { code, out };
}

test('Redis unreachable at start-up: a clear error and a non-zero exit (redis:// and rediss://)', { skip: skipWithoutRedis }, async () => {
  const port = await freePort(); // nothing listens there
  const base = ['--listen', '127.0.0.1', '--port', '0', '--jwt-secret', 'x'.repeat(32)];
  for (const scheme of ['redis', 'rediss']) {
    const down = await runToExit([...base, '--redis', `${scheme}://127.0.0.1:${port}`]);
    assert.notEqual(down.code, 0, down.out);
    assert.match(down.out, /cannot connect to redis/, down.out);
    assert.ok(!down.out.includes('"msg":"listening"'), `${scheme}: it never listened`);
  }
});

const clusterMode = redisModes().find((m) => m.name === 'cluster');
test('Redis Cluster unreachable at start-up (no seed answers): a clear error and a non-zero exit', { skip: clusterMode?.skip ?? 'SIG_REDIS_MODES excludes the cluster' }, async () => {
  const ports = [await freePort(), await freePort()]; // nothing listens there
  const base = ['--listen', '127.0.0.1', '--port', '0', '--jwt-secret', 'x'.repeat(32)];
  const down = await runToExit([...base, '--redis-cluster', ports.map((p) => `127.0.0.1:${p}`).join(',')]);
  assert.notEqual(down.code, 0, down.out);
  assert.match(down.out, /redis/i, down.out);
  assert.ok(!down.out.includes('"msg":"listening"'), 'it never listened');
});
