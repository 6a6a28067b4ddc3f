// A webhook receiver for the tests (docs/webhooks.md): a real Node http or https server that
// verifies every delivery with the reference `standardwebhooks` package and records it. What it
// answers is decided per request by `respond(delivery)`: 'ok' (200), a status number, 'hang'
// (never answers; the sender's --webhook-timeout must give up) or 'destroy' (drops the connection).
// It asserts nothing itself: a delivery whose signature fails is answered 401 and recorded with
// `verified: false` and `verifyError`, and the tests assert on the record (every delivery
// verified, ids, order, answers).
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { Webhook } from 'standardwebhooks';
import { waitFor } from './harness.mjs';

/** A fresh secret in the Standard Webhooks form: whsec_ + base64 of 32 random bytes. */
export function newWebhookSecret() {
  return `whsec_${crypto.randomBytes(32).toString('base64')}`;
}

export class WebhookReceiver {
  /**
   * secret: the whsec_ secret the server signs with. tls: {cert, key} (PEM text) for https.
   * respond(delivery): what to answer (see above); default 'ok'.
   */
  constructor(secret, { tls, respond } = {}) {
    this.verifier = new Webhook(secret);
    this.tls = tls;
    this.respond = respond ?? (() => 'ok');
    this.deliveries = []; // every request, in arrival order
    this.tlsErrors = []; // https: handshakes that failed (the client refused our certificate)
    this.server = null;
    this.port = null;
    this.hanging = new Set();
  }

  async start(port = 0) {
    const handler = (req, res) => this.#handle(req, res);
    this.server = this.tls ? https.createServer({ cert: this.tls.cert, key: this.tls.key }, handler) : http.createServer(handler);
    if (this.tls) this.server.on('tlsClientError', (err) => this.tlsErrors.push(err.message));
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this;
  }

  url(path = '/hook') {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}${path}`;
  }

  async stop() {
    if (!this.server) return;
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(() => resolve()));
    this.server = null;
  }

  #handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const delivery = {
        method: req.method,
        path: req.url,
        headers: req.headers,
        id: req.headers['webhook-id'],
        timestamp: req.headers['webhook-timestamp'],
        signature: req.headers['webhook-signature'],
        raw,
        body: null,
        verified: false,
        verifyError: null,
        answer: null,
      };
      try {
        // Throws unless the signature (and the timestamp's freshness) checks out.
        delivery.body = this.verifier.verify(raw, req.headers);
        delivery.verified = true;
      } catch (err) {
        delivery.verifyError = err.message;
      }
      this.deliveries.push(delivery);
      const answer = delivery.verified ? this.respond(delivery) : 401;
      delivery.answer = answer;
      if (answer === 'hang') {
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      }
      if (answer === 'destroy') {
        req.socket.destroy();
        return;
      }
      const status = answer === 'ok' ? 200 : answer;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'no');
    });
  }

  /** Deliveries answered 200, in order. */
  accepted() {
    return this.deliveries.filter((d) => d.answer === 'ok');
  }

  /** Waits until `n` deliveries were answered 200. */
  async waitAccepted(n, timeoutMs = 10_000) {
    await waitFor(() => this.accepted().length >= n, {
      timeoutMs,
      what: `${n} accepted webhook deliveries (have ${this.accepted().length}: ${this.accepted()
        .map((d) => d.body?.type)
        .join(', ')})`,
    });
    return this.accepted();
  }
}

/** Parses the Prometheus text of /metrics into {name: number} (labels kept in the name). */
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}
