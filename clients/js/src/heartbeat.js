/**
 * The heartbeat of a joined client: one at once (its ack also tells that the server delivered
 * what it queued for us), then one every interval, while there is a socket.
 */
export class Heartbeat {
  #timers;
  #beat;
  #timer = null;

  /** `beat` sends one heartbeat (when there is a socket). */
  constructor(timers, beat) {
    this.#timers = timers;
    this.#beat = beat;
  }

  start(intervalMs) {
    this.stop();
    this.#beat();
    this.#timer = this.#timers.setInterval(this.#beat, intervalMs);
  }

  stop() {
    if (this.#timer) {
      this.#timers.clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}
