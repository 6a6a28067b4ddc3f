// Two instances behind Debian's nginx, as docs/deployment.md describes: the nginx configuration
// block of that document is the one this test runs (only the addresses are replaced), so the
// documentation cannot drift from a working setup. Needs /usr/bin/redis-server and nginx.
import assert from 'node:assert/strict';
import test from 'node:test';
import { DEFAULT_WAIT_MS, quietAll, randomId } from './harness.mjs';
import { redisClient, skipWithoutNginx, redisTest, startNginx, startNodes, startRedis } from './cluster-harness.mjs';

redisTest('a session through nginx in front of two instances: clients land on both and signal as on one server', { skip: skipWithoutNginx }, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  const nodes = await startNodes(t, redis, 2);
  const rc = await redisClient(t, redis);
  const nginx = await startNginx(t, nodes.map((n) => n.port));

  // A client of the front door: the servers' tokens and admin key, nginx's address.
  const front = Object.create(nodes[0]);
  front.baseUrl = `http://127.0.0.1:${nginx.port}`;
  front.wsBase = `ws://127.0.0.1:${nginx.port}`;

  const USERS = ['u1', 'u2', 'u3', 'u4'];
  const sid = randomId('nginx');
  await front.createSession(sid, { host: 'u1', participants: USERS });
  const clients = {};
  const joined = {};
  for (const u of USERS) {
    const [c, j] = await front.join(sid, u);
    c.label = u;
    clients[u] = c;
    joined[u] = j.participants.map((p) => p.userId);
  }
  USERS.forEach((u, i) => assert.deepEqual(joined[u], USERS.slice(0, i), `${u}: joined lists the earlier ones`));
  const ws = await rc.hgetall(rk.ws(sid));
  const used = new Set(Object.values(ws).map((conn) => conn.slice(0, conn.lastIndexOf(':'))));
  assert.deepEqual([...used].sort(), ['n1', 'n2'], `clients landed on both instances: ${JSON.stringify(ws)}`);
  t.diagnostic(`placement: ${JSON.stringify(ws)}`);

  for (let i = 0; i < USERS.length; i++) {
    const later = USERS.slice(i + 1);
    const got = await clients[USERS[i]].take(later.length, (m) => m.type === 'participant-joined');
    assert.deepEqual(got.map((m) => m.participant.userId).sort(), later);
  }
  // Every newcomer offers to those before it; each answer comes back.
  for (const u of USERS) for (const v of joined[u]) clients[u].send({ type: 'offer', toUserId: v, sdp: `v=0\r\ns=${u}>${v}\r\n` });
  for (const v of USERS) {
    const offerers = USERS.slice(USERS.indexOf(v) + 1);
    const offers = await clients[v].take(offerers.length, (m) => m.type === 'offer', DEFAULT_WAIT_MS, `${v}: offers`);
    assert.deepEqual(offers.map((m) => m.fromUserId).sort(), offerers);
    for (const o of offers) {
      assert.equal(o.sdp, `v=0\r\ns=${o.fromUserId}>${v}\r\n`);
      clients[v].send({ type: 'answer', toUserId: o.fromUserId, sdp: 'v=0\r\n' });
    }
  }
  for (const u of USERS) {
    const answers = await clients[u].take(joined[u].length, (m) => m.type === 'answer', DEFAULT_WAIT_MS, `${u}: answers`);
    assert.deepEqual(answers.map((m) => m.fromUserId).sort(), joined[u]);
  }
  await quietAll(Object.values(clients));

  const got = await front.getSession(sid);
  assert.equal(got.status, 200);
  assert.deepEqual(got.json.connected, USERS);

  clients.u2.send({ type: 'leave' });
  for (const u of ['u1', 'u3', 'u4']) assert.deepEqual({ ...(await clients[u].next('participant-left')) }, { type: 'participant-left', userId: 'u2' });
  await quietAll([clients.u1, clients.u3, clients.u4]);
});
