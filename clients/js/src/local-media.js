/**
 * The tracks this client sends to every peer: those of the local stream, and the ones added on
 * their own (e.g. a screen share). The peers given to each change get it at once; a peer created
 * later takes `tracks`.
 */
export class LocalMedia {
  stream = null;
  /** [{track, stream}] sent to every peer */
  tracks = [];

  constructor(stream) {
    if (stream) {
      this.stream = stream;
      this.tracks = stream.getTracks().map((track) => ({ track, stream }));
    }
  }

  /**
   * Replaces the local stream: tracks of a kind already sent are swapped with replaceTrack (no
   * renegotiation); new kinds are added and missing ones removed (renegotiation). Returns the
   * pending replaceTrack promises.
   */
  setStream(stream, peers) {
    const oldStream = this.stream;
    const oldEntries = this.tracks.filter((t) => t.stream === oldStream && oldStream);
    const newTracks = stream ? stream.getTracks() : [];
    const remaining = [...oldEntries];
    const ops = [];
    const plan = [];
    for (const track of newTracks) {
      const i = remaining.findIndex((e) => e.track.kind === track.kind);
      if (i >= 0) {
        plan.push({ op: 'replace', from: remaining[i].track, to: track });
        remaining.splice(i, 1);
      } else {
        plan.push({ op: 'add', to: track });
      }
    }
    for (const e of remaining) plan.push({ op: 'remove', from: e.track });

    const others = this.tracks.filter((t) => !oldEntries.includes(t));
    this.stream = stream ?? null;
    this.tracks = [...newTracks.map((track) => ({ track, stream })), ...others];
    for (const peer of peers) {
      for (const step of plan) {
        if (step.op === 'replace') ops.push(peer.replaceTrack(step.from, step.to, stream));
        else if (step.op === 'add') peer.addTrack(step.to, stream);
        else peer.removeTrack(step.from);
      }
    }
    return ops;
  }

  /** Sends one more track to every peer, now and later. */
  add(track, stream, peers) {
    if (this.tracks.some((t) => t.track === track)) return;
    this.tracks.push({ track, stream: stream ?? null });
    for (const peer of peers) peer.addTrack(track, stream ?? undefined);
  }

  /** Stops sending a track added with add (or one of the local stream). */
  remove(track, peers) {
    const before = this.tracks.length;
    this.tracks = this.tracks.filter((t) => t.track !== track);
    if (this.tracks.length === before) return;
    for (const peer of peers) peer.removeTrack(track);
  }
}
