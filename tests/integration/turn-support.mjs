// A real coturn for the tests: writes a turnserver configuration (loopback, a free port, the TURN
// REST API with a static secret, no TLS/DTLS, no CLI, logging to stdout), starts
// /usr/bin/turnserver in the foreground and stops it. Plus a minimal TURN client over UDP (RFC
// 5766 Allocate with the long-term credential mechanism of RFC 5389), enough to check that a
// credential is accepted (a relayed address) or refused (401). And the network namespaces of the
// netns tests (integration and browser): participants linked only to coturn's namespace.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { waitFor, withTimeout } from './harness.mjs';

export const TURN_BIN = process.env.TURNSERVER_BIN || '/usr/bin/turnserver';
export const TURN_REALM = 'turn.signaling.test';

/** Skips the test when coturn is not installed (scripts/setup.sh installs it). */
export function skipWithoutTurn(t) {
  if (fs.existsSync(TURN_BIN)) return false;
  t.skip(`${TURN_BIN} not found (apt-get install coturn)`);
  return true;
}

/** A port free on 127.0.0.1 for both TCP and UDP (TURN listens on both); bounded attempts. */
export async function freeTurnPort() {
  for (let i = 0; i < 20; i += 1) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const p = srv.address().port;
        srv.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no port free for both TCP and UDP after 20 attempts');
}

/**
 * One turnserver. By default on 127.0.0.1 at a free port; with `netns`, inside that network
 * namespace (`ip netns exec`) on `listenIp` (relays on `relayIp`), port 3478 unless `port`.
 * `transports`: 'udp+tcp' (default) or 'tcp' (no-udp: TURN over TCP only).
 */
export class TurnServer {
  constructor({ secret, extra = [], netns = null, listenIp = '127.0.0.1', relayIp = listenIp, port = null, transports = 'udp+tcp' }) {
    this.secret = secret;
    this.extra = extra;
    this.netns = netns;
    this.listenIp = listenIp;
    this.relayIp = relayIp;
    this.wantedPort = port;
    this.transports = transports;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-coturn-'));
    this.port = null;
    this.proc = null;
    this.log = '';
  }

  get uri() {
    return `turn:${this.listenIp}:${this.port}?transport=${this.transports === 'tcp' ? 'tcp' : 'udp'}`;
  }

  config() {
    return [
      `listening-ip=${this.listenIp}`,
      `relay-ip=${this.relayIp}`,
      `listening-port=${this.port}`,
      // Relay ports from a range of their own; coturn takes a free one in it.
      'min-port=40000',
      'max-port=44999',
      'use-auth-secret',
      `static-auth-secret=${this.secret}`,
      `realm=${TURN_REALM}`,
      'fingerprint',
      'no-cli',
      'no-tls',
      'no-dtls',
      'no-multicast-peers',
      ...(this.listenIp.startsWith('127.') ? ['allow-loopback-peers'] : []), // peers on 127.0.0.1
      ...(this.transports === 'tcp' ? ['no-udp'] : []),
      'no-software-attribute',
      'log-file=stdout',
      'simple-log',
      `pidfile=${path.join(this.dir, 'turnserver.pid')}`,
      `userdb=${path.join(this.dir, 'turndb')}`,
      ...this.extra,
    ].join('\n') + '\n';
  }

  async start() {
    this.port = this.wantedPort ?? (this.netns ? 3478 : await freeTurnPort());
    const file = path.join(this.dir, 'turnserver.conf');
    fs.writeFileSync(file, this.config(), { mode: 0o600 });
    const proc = this.netns
      ? spawn('ip', ['netns', 'exec', this.netns, TURN_BIN, '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(TURN_BIN, ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
    const keep = (d) => {
      this.log += d;
      if (this.log.length > 1 << 20) this.log = this.log.slice(-(1 << 19)); // bounded
    };
    proc.stdout.setEncoding('utf8').on('data', keep);
    proc.stderr.setEncoding('utf8').on('data', keep);
    // Ready when it answers a STUN Binding request on its port (in a namespace: when its TCP
    // listener is bound, seen with ss from inside).
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`turnserver exited at start-up:\n${this.log}`);
      if (this.netns || this.transports === 'tcp') {
        const ss = ['ss', '-H', '-ltn', `sport = :${this.port}`];
        const out = this.netns ? execFileSync('ip', ['netns', 'exec', this.netns, ...ss]) : execFileSync(ss[0], ss.slice(1));
        return out.toString().includes(`:${this.port}`);
      }
      return (await stunRequest(this.port, buildMessage(0x0001, []), 300).catch(() => null)) !== null;
    }, { timeoutMs: 10_000, what: `turnserver listening on ${this.listenIp}:${this.port}` });
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const done = await withTimeout(this.exited, 5000, 'turnserver exit').catch(() => null);
      if (!done) this.proc.kill('SIGKILL');
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a coturn for `t` (stopped with t.after). */
export async function startTurn(t, options = {}) {
  const s = new TurnServer(options);
  t.after(() => s.stop());
  await s.start();
  return s;
}

// ---- network namespaces: participants that reach coturn and nothing else --------------------

/** coturn's address in its namespace; participant i is peerIp(i), its link's far end turnSideIp(i). */
export const NETNS_TURN_IP = '198.18.255.1';
export const netnsPeerIp = (i) => `198.18.${i + 1}.2`;
const turnSideIp = (i) => `198.18.${i + 1}.1`;

const ipCmd = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString();

/** True when this process may make network namespaces (root; `ip netns` needs CAP_SYS_ADMIN). */
export const canMakeNetns = () => process.getuid?.() === 0;

/**
 * `count` participant namespaces, each linked by a veth pair only to the TURN namespace (which
 * does not forward: nothing is routed between participants). Addresses from 198.18.0.0/15 exist
 * inside these namespaces only. remove() kills what still runs in them and deletes them
 * (bounded, idempotent).
 */
export class NetnsTopology {
  constructor(count) {
    const sfx = crypto.randomBytes(2).toString('hex');
    this.turnNs = `sigturn-${sfx}`;
    this.peerNs = Array.from({ length: count }, (_, i) => `sigp${i + 1}-${sfx}`);
    this.sfx = sfx;
  }

  create() {
    ipCmd('netns', 'add', this.turnNs);
    ipCmd('-n', this.turnNs, 'link', 'set', 'lo', 'up');
    ipCmd('-n', this.turnNs, 'addr', 'add', `${NETNS_TURN_IP}/32`, 'dev', 'lo');
    // No forwarding in the TURN namespace: a participant reaches coturn, never another participant.
    execFileSync('ip', ['netns', 'exec', this.turnNs, 'sysctl', '-qw', 'net.ipv4.ip_forward=0'], { timeout: 10_000 });
    this.peerNs.forEach((ns, i) => {
      ipCmd('netns', 'add', ns);
      ipCmd('-n', ns, 'link', 'set', 'lo', 'up');
      const turnEnd = `vt${i + 1}${this.sfx}`;
      const peerEnd = `vp${i + 1}${this.sfx}`;
      ipCmd('link', 'add', turnEnd, 'netns', this.turnNs, 'type', 'veth', 'peer', 'name', peerEnd, 'netns', ns);
      ipCmd('-n', this.turnNs, 'addr', 'add', `${turnSideIp(i)}/24`, 'dev', turnEnd);
      ipCmd('-n', this.turnNs, 'link', 'set', turnEnd, 'up');
      ipCmd('-n', ns, 'addr', 'add', `${netnsPeerIp(i)}/24`, 'dev', peerEnd);
      ipCmd('-n', ns, 'link', 'set', peerEnd, 'up');
      ipCmd('-n', ns, 'route', 'add', `${NETNS_TURN_IP}/32`, 'via', turnSideIp(i));
    });
  }

  /** The pids running in namespace `ns` (none if it does not exist). */
  static pidsIn(ns) {
    try {
      return ipCmd('netns', 'pids', ns).split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return []; // not created
    }
  }

  /** The pids still running in the namespaces (only what the test started lives there). */
  pids() {
    return [...this.peerNs, this.turnNs].flatMap((ns) => NetnsTopology.pidsIn(ns));
  }

  remove() {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const ns of [...this.peerNs, this.turnNs]) {
      try {
        ipCmd('netns', 'del', ns); // the veth pairs go with their namespaces
      } catch {
        /* not created */
      }
    }
  }
}

/** From namespace `ns`, the error code of a TCP connection to host:port, or 'connected'. */
export function netnsTryConnect(ns, host, port) {
  const code = `const s=require('net').connect(${port},'${host}');s.setTimeout(2000);` +
    "s.on('connect',()=>{console.log('connected');s.destroy()});s.on('timeout',()=>{console.log('ETIMEDOUT');s.destroy()});" +
    "s.on('error',(e)=>console.log(e.code))";
  return execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { timeout: 10_000 }).toString().trim();
}

/**
 * A Unix socket that forwards every connection to 127.0.0.1:port (the signaling server): the
 * file system crosses namespaces, the network does not. Resolves with {socket, close()}.
 */
export async function unixForwarder(port) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-netns-'));
  const socket = path.join(dir, 'signaling.sock');
  const conns = new Set();
  const srv = net.createServer((c) => {
    const up = net.connect(port, '127.0.0.1');
    conns.add(c).add(up);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.on('close', () => conns.delete(c));
    up.on('close', () => conns.delete(up));
    c.pipe(up).pipe(c);
  });
  await new Promise((r) => srv.listen(socket, r));
  return {
    socket,
    close() {
      for (const c of conns) c.destroy();
      srv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Inside namespace `ns`, a process listening on 127.0.0.1:port that forwards every connection to
 * the Unix socket `socket` (so that a browser there loads http://127.0.0.1:port/..., a secure
 * context, from the server outside). Resolves once it listens; stop() kills it (bounded).
 */
export async function netnsTcpToUnix(ns, port, socket) {
  const code = "const net=require('net');const [port,sock]=process.argv.slice(1);" +
    "net.createServer((c)=>{const u=net.connect(sock);c.on('error',()=>u.destroy());u.on('error',()=>c.destroy());c.pipe(u).pipe(c)})" +
    ".listen(+port,'127.0.0.1',()=>console.log('listening'));process.stdin.on('end',()=>process.exit(0)).resume()";
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code, String(port), socket], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  proc.stderr.setEncoding('utf8').on('data', (d) => { if (out.length < 10_000) out += d; });
  const exited = new Promise((r) => proc.on('exit', r));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.stdin.end();
    if (!(await withTimeout(exited, 5000, 'forwarder exit').catch(() => null))) proc.kill('SIGKILL');
  };
  try {
    await waitFor(() => {
      if (proc.exitCode !== null) throw new Error(`forwarder in ${ns} exited: ${out}`);
      return out.includes('listening');
    }, { timeoutMs: 10_000, what: `forwarder listening on 127.0.0.1:${port} in ${ns}` });
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, stop };
}

// ---- STUN / TURN messages -------------------------------------------------------------------

const MAGIC = 0x2112a442;
const ATTR = {
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_RELAYED_ADDRESS: 0x0016,
  REQUESTED_TRANSPORT: 0x0019,
};

function attr(type, value) {
  const pad = (4 - (value.length % 4)) % 4;
  const b = Buffer.alloc(4 + value.length + pad);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(value.length, 2);
  value.copy(b, 4);
  return b;
}

function buildMessage(type, attrs, integrityKey) {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt32BE(MAGIC, 4);
  crypto.randomBytes(12).copy(header, 8);
  let body = Buffer.concat(attrs);
  if (integrityKey) {
    // RFC 5389 15.4: the length counts the MESSAGE-INTEGRITY attribute (24 bytes), the HMAC covers
    // everything before it.
    header.writeUInt16BE(body.length + 24, 2);
    const mac = crypto.createHmac('sha1', integrityKey).update(Buffer.concat([header, body])).digest();
    body = Buffer.concat([body, attr(ATTR.MESSAGE_INTEGRITY, mac)]);
  }
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function parseMessage(buf) {
  if (buf.length < 20 || buf.readUInt32BE(4) !== MAGIC) throw new Error('not a STUN message');
  const type = buf.readUInt16BE(0);
  const attrs = new Map();
  let off = 20;
  const end = Math.min(buf.length, 20 + buf.readUInt16BE(2));
  while (off + 4 <= end) {
    const t = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    if (!attrs.has(t)) attrs.set(t, buf.subarray(off + 4, off + 4 + len));
    off += 4 + len + ((4 - (len % 4)) % 4);
  }
  return { type, txid: buf.subarray(8, 20), attrs };
}

/**
 * Sends one request over UDP and resolves with the parsed answer of the same transaction. With
 * `sock`, from that socket (coturn binds its nonce to the client's address), left open.
 */
function stunRequest(port, message, timeoutMs = 2000, sock = null) {
  const own = sock === null;
  const s = own ? dgram.createSocket('udp4') : sock;
  return new Promise((resolve, reject) => {
    const txid = message.subarray(8, 20);
    const finish = (fn, v) => {
      clearTimeout(timer);
      s.off('message', onMessage);
      s.off('error', onError);
      if (own) s.close();
      fn(v);
    };
    const timer = setTimeout(
      () => finish(reject, new Error(`no STUN answer from 127.0.0.1:${port} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (msg) => {
      try {
        const m = parseMessage(msg);
        if (m.txid.equals(txid)) finish(resolve, m);
      } catch {
        /* not ours */
      }
    };
    const onError = (err) => finish(reject, err);
    s.on('message', onMessage);
    s.on('error', onError);
    s.send(message, port, '127.0.0.1');
  });
}

function errorCode(m) {
  const v = m.attrs.get(ATTR.ERROR_CODE);
  return v ? (v[2] & 7) * 100 + v[3] : null;
}

/**
 * A TURN Allocate (UDP relay) with `username` / `credential`: first without credentials (the
 * server answers 401 with its realm and nonce), then signed. Resolves with {ok: true, relayed:
 * "ip:port"} or {ok: false, code} (the error code of the second answer).
 */
export async function turnAllocate(port, { username, credential }) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  try {
    return await allocateFrom(sock, port, username, credential);
  } finally {
    sock.close();
  }
}

async function allocateFrom(sock, port, username, credential) {
  const transport = attr(ATTR.REQUESTED_TRANSPORT, Buffer.from([17, 0, 0, 0]));
  const first = await stunRequest(port, buildMessage(0x0003, [transport]), 2000, sock);
  if (errorCode(first) !== 401) throw new Error(`unauthenticated Allocate answered ${errorCode(first) ?? first.type}`);
  const realm = first.attrs.get(ATTR.REALM);
  const nonce = first.attrs.get(ATTR.NONCE);
  const key = crypto.createHash('md5').update(`${username}:${realm.toString()}:${credential}`).digest();
  const signed = buildMessage(0x0003, [
    transport,
    attr(ATTR.USERNAME, Buffer.from(username)),
    attr(ATTR.REALM, realm),
    attr(ATTR.NONCE, nonce),
  ], key);
  const answer = await stunRequest(port, signed, 2000, sock);
  if (answer.type === 0x0103) {
    const x = answer.attrs.get(ATTR.XOR_RELAYED_ADDRESS);
    const p = x.readUInt16BE(2) ^ (MAGIC >>> 16);
    const ip = [0, 1, 2, 3].map((i) => x[4 + i] ^ ((MAGIC >>> (24 - 8 * i)) & 0xff)).join('.');
    return { ok: true, relayed: `${ip}:${p}` };
  }
  return { ok: false, code: errorCode(answer) };
}
