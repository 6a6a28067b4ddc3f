// @roamhq/wrtc (libwebrtc for Node) for the client library: a peer connection class with the
// parameterless setLocalDescription() that perfect negotiation uses (wrtc lacks it) and a
// negotiated data channel for data checks, and the selected candidate pair from getStats.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The wrtc module, or null when it is not installed. */
export function loadWrtc() {
  try {
    return require('@roamhq/wrtc');
  } catch {
    return null;
  }
}

/**
 * A RTCPeerConnection class whose instances land in `registry`. Each gets a negotiated data
 * channel (id 0, part of the first offer, so no renegotiation): `pc.channel`, and the texts it
 * received in `pc.received`.
 */
export function makePeerConnectionClass(wrtc, registry) {
  return class TestPeerConnection extends wrtc.RTCPeerConnection {
    constructor(config) {
      super(config);
      this.testConfig = config;
      this.channel = this.createDataChannel('test', { negotiated: true, id: 0 });
      this.received = [];
      this.channel.onmessage = (ev) => this.received.push(String(ev.data));
      registry.push(this);
    }

    async setLocalDescription(description) {
      if (description && description.type) return super.setLocalDescription(description);
      const answering = this.signalingState === 'have-remote-offer' || this.signalingState === 'have-local-pranswer';
      const made = answering ? await this.createAnswer() : await this.createOffer();
      return super.setLocalDescription(made);
    }
  };
}

/** {local, remote} candidate stats of the selected pair, or null. */
export async function selectedPair(pc) {
  const report = await pc.getStats();
  const stats = [...report.values()];
  const byId = new Map(stats.map((s) => [s.id, s]));
  const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
  const pair = transport
    ? byId.get(transport.selectedCandidatePairId)
    : stats.find((s) => s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated);
  if (!pair) return null;
  return { local: byId.get(pair.localCandidateId), remote: byId.get(pair.remoteCandidateId) };
}

/** The types of the candidates in an SDP's a=candidate lines. */
export function sdpCandidateTypes(sdp) {
  return [...sdp.matchAll(/a=candidate:.* typ (\w+)/g)].map((m) => m[1]);
}
