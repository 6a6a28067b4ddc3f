// Helpers for the rediss:// tests: a throwaway PKI made with the openssl CLI in a temp dir (no key
// is committed), and a TLS-only redis-server (Debian's /usr/bin/redis-server, --port 0
// --tls-port N) on a free loopback port without persistence.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { waitFor, withTimeout } from './harness.mjs';
import { REDIS_BIN, RespClient, freePort, haveRedis } from './cluster-harness.mjs';

export const OPENSSL_BIN = '/usr/bin/openssl';
export const skipWithoutTlsRedis = !haveRedis()
  ? `${REDIS_BIN} is not installed (apt-get install redis-server)`
  : fs.existsSync(OPENSSL_BIN) ? false : `${OPENSSL_BIN} is not installed (apt-get install openssl)`;

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = sig-test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
`;

function openssl(dir, args) {
  const r = spawnSync(OPENSSL_BIN, args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * Makes, in a new temp dir removed with t.after: ca.crt (the CA the servers trust), server.crt/.key
 * signed by it for IP:127.0.0.1 and DNS:localhost, and other-ca.crt (a CA that signed nothing used).
 * Returns the paths.
 */
export function makePki(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-pki-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'openssl.cnf'), OPENSSL_CNF);
  for (const ca of ['ca', 'other-ca']) {
    openssl(dir, ['req', '-x509', '-config', 'openssl.cnf', '-extensions', 'ca_ext', ...EC, '-keyout', `${ca}.key`,
      '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=sig-${ca}`]);
  }
  openssl(dir, ['req', '-new', '-config', 'openssl.cnf', ...EC, '-keyout', 'server.key', '-out', 'server.csr',
    '-subj', '/CN=localhost']);
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '2',
    '-days', '2', '-extfile', 'openssl.cnf', '-extensions', 'server_ext', '-out', 'server.crt']);
  const p = (f) => path.join(dir, f);
  return { dir, ca: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), otherCa: p('other-ca.crt') };
}

/** A RESP client over TLS (trusting `ca`), for checks. */
export function tlsRespClient(port, ca) {
  return withTimeout(new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ca: fs.readFileSync(ca), servername: 'localhost' },
      () => resolve(new RespClient(sock)));
    sock.once('error', reject);
  }), 5000, `TLS connect to redis on ${port}`);
}

/** A TLS-only redis-server; clients need no certificate (--tls-auth-clients no). */
export class TlsRedisProcess {
  constructor(pki) {
    this.pki = pki;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sig-redis-tls-'));
    this.port = null;
    this.proc = null;
  }

  get url() {
    return `rediss://127.0.0.1:${this.port}`;
  }

  async start() {
    if (this.port === null) this.port = await freePort();
    const proc = spawn(REDIS_BIN, ['--port', '0', '--tls-port', String(this.port), '--bind', '127.0.0.1',
      '--tls-cert-file', this.pki.serverCert, '--tls-key-file', this.pki.serverKey, '--tls-ca-cert-file', this.pki.ca,
      '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--daemonize', 'no',
      '--logfile', path.join(this.dir, 'redis.log')], { stdio: 'ignore' });
    this.proc = proc;
    this.exited = new Promise((r) => proc.on('exit', r));
    await waitFor(async () => {
      try {
        const c = await tlsRespClient(this.port, this.pki.ca);
        const pong = await c.cmd('PING');
        c.close();
        return pong === 'PONG';
      } catch {
        return false;
      }
    }, { timeoutMs: 10_000, intervalMs: 50, what: `TLS redis-server on port ${this.port}` });
    return this;
  }

  /** The server's flags for this Redis (as cluster-harness.mjs's RedisProcess). */
  serverArgs() {
    return ['--redis', this.url];
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    await withTimeout(this.exited, 5000, 'redis-server exit').catch(() => this.proc.kill('SIGKILL'));
  }

  async cleanup() {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a TLS-only redis-server for test context `t` (stopped and removed with t.after). */
export async function startTlsRedis(t, pki) {
  const r = new TlsRedisProcess(pki);
  t.after(() => r.cleanup());
  await r.start();
  return r;
}
