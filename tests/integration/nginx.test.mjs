// Two instances behind Debian's nginx, as docs/deployment.md describes: the nginx configuration
// block of that document is the one this test runs (only the addresses are replaced), so the
// documentation cannot drift from a working setup. Needs /usr/bin/redis-server and nginx.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { DEFAULT_WAIT_MS, quietAll, randomId, repoRoot, waitFor, withTimeout } from './harness.mjs';
import { NGINX_BIN, freePort, redisClient, skipWithoutNginx, startNodes, startRedis } from './cluster-harness.mjs';

/** The nginx block of docs/deployment.md, with the test's addresses. */
function configFromDocs(upstreams, listenPort) {
  const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'deployment.md'), 'utf8');
  const m = doc.match(/<!-- nginx-config: [^>]*-->\s*```nginx\n([\s\S]*?)```/);
  assert.ok(m, 'docs/deployment.md has the tested nginx block');
  let block = m[1];
  const replace = (from, to) => {
    assert.ok(block.includes(from), `the documented configuration contains "${from}"`);
    block = block.split(from).join(to);
  };
  replace('10.0.0.11:8080', `127.0.0.1:${upstreams[0]}`);
  replace('10.0.0.12:8080', `127.0.0.1:${upstreams[1]}`);
  replace('listen 80;', `listen 127.0.0.1:${listenPort};`);
  return block;
}

async function startNginx(t, upstreams) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-nginx-'));
  const port = await freePort();
  const temp = (name) => path.join(dir, name);
  const conf = `worker_processes 1;
error_log ${temp('error.log')} info;
pid ${temp('nginx.pid')};
events { worker_connections 256; }
http {
  access_log ${temp('access.log')};
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
${configFromDocs(upstreams, port)}
}
`;
  fs.writeFileSync(temp('nginx.conf'), conf);
  const proc = spawn(NGINX_BIN, ['-p', dir, '-c', temp('nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => proc.on('close', r));
  t.after(async () => {
    proc.kill('SIGQUIT');
    await withTimeout(exited, 5000, 'nginx exit').catch(() => proc.kill('SIGKILL'));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${out}\n${fs.readFileSync(temp('error.log'), 'utf8')}`);
    try {
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
    } catch {
      return false;
    }
  }, { timeoutMs: 10_000, what: 'nginx answering /healthz' });
  return { port, dir };
}

test('a session through nginx in front of two instances: clients land on both and signal as on one server', { skip: skipWithoutNginx }, async (t) => {
  const redis = await startRedis(t);
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
  const ws = await rc.hgetall(`session:ws:${sid}`);
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
