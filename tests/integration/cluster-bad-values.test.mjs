// Issue 9, points 3 and 5 (several nodes): a value in Redis that is not UTF-8, out of range or
// malformed is logged and skipped, never forwarded to a browser, never fatal. Such a field of
// session:ws or value of session:dir used to abort every node that read it, and nodes started
// afterwards crashed in a loop. One Redis and a Redis Cluster (the keys and channels of its
// layout). Needs /usr/bin/redis-server (skipped with a message otherwise).
import assert from 'node:assert/strict';
import test from 'node:test';
import { SignalingServer, randomId, waitFor } from './harness.mjs';
import { redisClient, redisTest, startNodes, startRedis } from './cluster-harness.mjs';

// Lua builds the bytes: the test's RESP client sends its arguments as UTF-8 text.
const BAD = {
  ff: 'string.char(255)',
  overlong: 'string.char(192, 175)',
  surrogate: 'string.char(237, 160, 128)',
};

async function evalLua(rc, script, ...keys) {
  return rc.cmd('EVAL', script, keys.length, ...keys);
}

const skippedLogs = (node) => node.logs.filter((l) => l.msg === 'skipped a value read from redis');

redisTest('cluster: values that are not UTF-8 or out of range in Redis are skipped; nodes stay up, start up, and relay', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const rk = redis.k;
  // A short --node-ttl so that the node-death check (which writes a departure for every member of
  // a dead node, the bad entry included) runs within the test.
  const args = ['--node-ttl', '900ms', '--cluster-sync', '300ms'];
  const [n1, n2] = await startNodes(t, redis, 2, { args });
  const rc = await redisClient(t, redis);
  const sid = randomId('bad');
  await n1.createSession(sid, { host: 'a', participants: ['a', 'b', 'c'] });
  const [a] = await n1.join(sid, 'a');
  const [b] = await n2.join(sid, 'b');
  await a.next((m) => m.type === 'participant-joined' && m.participant.userId === 'b');

  // session:ws / session:peers: a user id that is not UTF-8 on a node that does not exist (n9),
  // a valid user with a display name that is not UTF-8, and a connection id that is not.
  await evalLua(rc, `
    redis.call('HSET', KEYS[1], ${BAD.ff}, 'n9:1', 'd', 'n9:2', 'e', 'n9:' .. ${BAD.surrogate})
    redis.call('HSET', KEYS[2], ${BAD.ff}, '8|x', 'd', '9|' .. ${BAD.overlong}, 'e', '10|E')
    return 1`, rk.ws(sid), rk.peers(sid));
  // session:dir: a host id that is not UTF-8, a year that wraps, a duration that overflows, a
  // session id (in the key) that is not UTF-8. One script per key: on a cluster they are in
  // different slots.
  const participants = JSON.stringify([{ userId: 'x', displayName: 'X' }]);
  const hset = (key, fields) => evalLua(rc, `redis.call('HSET', KEYS[1], ${fields}, 'participants', '${participants}') return 1`, key);
  await hset(rk.dir(`${sid}-host`), `'hostUserId', ${BAD.ff}`);
  await hset(rk.dir(`${sid}-year`), "'hostUserId', 'x', 'createdAt', '9999-12-31T23:59:59.000Z'");
  await hset(rk.dir(`${sid}-long`), "'hostUserId', 'x', 'durationSeconds', '9300000000'");
  // The session id 0xff (its key and channel sent as bytes, not as text).
  const ffId = (name) => Buffer.from(name('\x00'), 'latin1').map((b) => (b === 0 ? 0xff : b));
  await hset(ffId(rk.dir), "'hostUserId', 'x'");
  // Events and relays with bad bytes, straight on the channels (SPUBLISH on a cluster).
  const pub = (channel, message) => evalLua(rc, `redis.call('${rk.publish}', KEYS[1], ${message}) return 1`, channel);
  await pub(rk.sessionChannel(sid), `'{"e":"changed"}'`);
  await pub(ffId(rk.sessionChannel), `'{"e":"changed"}'`);
  await pub(rk.sessionChannel(sid), `'{"e":"joined","userId":"' .. ${BAD.ff} .. '","connection":"n9:3","seq":99}'`);
  await pub(rk.nodeChannel('n1'), `'${sid.length}:${sid}4:n1:1{"type":"offer","sdp":"' .. ${BAD.ff} .. '"}'`);

  // Both nodes read the bad values (the event, then their periodic full sync) and say so.
  for (const node of [n1, n2]) {
    await waitFor(() => skippedLogs(node).length >= 4, { what: `${node.nodeId} logs the skipped values`, timeoutMs: 8000 });
  }
  // Past --node-ttl: the dead-node check has run over n9's members.
  await new Promise((r) => setTimeout(r, 1500));
  n1.assertAlive();
  n2.assertAlive();

  // A node started now reads everything at start-up and comes up.
  const n3 = new SignalingServer({ jwtSecret: n1.jwtSecret, adminKey: n1.adminKey,
    args: [...redis.serverArgs(), '--node-id', 'n3', ...args] });
  t.after(() => n3.stop());
  await n3.start();
  const [c, joined] = await n3.join(sid, 'c');
  const others = joined.participants.map((p) => p.userId).sort();
  assert.deepEqual(others, ['a', 'b'], `c sees a and b only: ${JSON.stringify(joined.participants)}`);

  // The participants relay across the three nodes.
  a.send({ type: 'offer', toUserId: 'b', sdp: 'v=0\r\n' });
  assert.equal((await b.next((m) => m.type === 'offer')).fromUserId, 'a');
  c.send({ type: 'offer', toUserId: 'a', sdp: 'v=0\r\n' });
  assert.equal((await a.next((m) => m.type === 'offer')).fromUserId, 'c');
  b.send({ type: 'answer', toUserId: 'c', sdp: 'v=0\r\n' });
  assert.equal((await c.next((m) => m.type === 'answer')).fromUserId, 'b');

  // No browser ever heard of the bad entries, nor got the bad relay.
  for (const cl of [a, b, c]) {
    for (const m of cl.received) {
      if (m.type === 'participant-joined') assert.ok(['b', 'c'].includes(m.participant.userId), JSON.stringify(m));
      assert.ok(!m.unparsable, `${cl.label} got text that is not JSON: ${JSON.stringify(m)}`);
      if (m.type === 'offer') assert.equal(m.sdp, 'v=0\r\n');
    }
  }
  // The admin API on any node: the good session without the bad entries, the bad ones unknown.
  for (const node of [n1, n2, n3]) {
    const g = await node.getSession(sid);
    assert.equal(g.status, 200, g.text);
    assert.deepEqual(g.json.connected.sort(), ['a', 'b', 'c']);
    for (const suffix of ['-host', '-year', '-long']) {
      const r = await node.getSession(`${sid}${suffix}`);
      assert.equal(r.status, 404, `${node.nodeId} ${suffix}: ${r.text}`);
    }
    node.assertAlive();
  }
  // Logged once per key and reason, not at every full sync.
  const lines = skippedLogs(n1).map((l) => `${l.key} ${l.reason}`);
  assert.ok(lines.length > 0, 'the skipped values were logged');
  assert.equal(new Set(lines).size, lines.length, `no repeated line: ${JSON.stringify(lines)}`);
});

// A session id that begins with '}' has an empty hash tag in the cluster layout (`{}x}`): Redis
// would hash each whole key and put a session's keys in different slots, where every script fails
// (CROSSSLOT). Refused at the door in cluster mode (join: 4400 bad_request; admin API: 400); with
// one Redis it is an id like any other. An id with a '}' further in keeps a non-empty tag.
redisTest('cluster: a session id that begins with "}" is refused on a Redis Cluster, served with one Redis', {}, async (t, mode) => {
  const redis = await startRedis(t, mode);
  const [n1, n2] = await startNodes(t, redis, 2);
  const odd = `}${randomId('brace')}`;
  const put = await n1.admin('PUT', `/api/sessions/${encodeURIComponent(odd)}`,
    { hostUserId: 'a', participants: [{ userId: 'a' }, { userId: 'b' }] });
  const c = await n2.connect({ user: 'a', sessionId: odd });
  const first = await c.next((m) => m.type === 'joined' || m.type === 'error');
  if (mode.name === 'cluster') {
    assert.equal(put.status, 400, put.text);
    assert.equal(put.json.error, 'bad_request');
    assert.match(put.json.message, /cannot begin with '}'/);
    assert.equal(first.type, 'error');
    assert.equal(first.code, 'bad_request');
    assert.equal((await c.closed).code, 4400);
  } else {
    assert.equal(put.status, 201, put.text);
    assert.equal(first.type, 'joined');
    const [b] = await n1.join(odd, 'b');
    await c.next((m) => m.type === 'participant-joined' && m.participant.userId === 'b');
    c.send({ type: 'offer', toUserId: 'b', sdp: 'v=0\r\n' });
    assert.equal((await b.next((m) => m.type === 'offer')).fromUserId, 'a');
  }
  // Inside the id, a '}' is harmless: the tag is the id up to it, the same for all its keys.
  const inner = `${randomId('in')}}x`;
  await n1.createSession(inner, { host: 'a', participants: ['a', 'b'] });
  const [a2] = await n1.join(inner, 'a');
  const [b2] = await n2.join(inner, 'b');
  await a2.next((m) => m.type === 'participant-joined' && m.participant.userId === 'b');
  a2.send({ type: 'offer', toUserId: 'b', sdp: 'v=0\r\n' });
  assert.equal((await b2.next((m) => m.type === 'offer')).fromUserId, 'a');
  n1.assertAlive();
  n2.assertAlive();
});
