/**
 * The host commands (start-session, end-session) waiting for their answer: the server answers
 * with the matching event, or an `error` (not_host, invalid_state) for the oldest one.
 */
export class HostCommands {
  #timers;
  #pending = [];

  constructor(timers) {
    this.#timers = timers;
  }

  /** Sends `type` with `send`; settles on its answer, or rejects after `timeoutMs`. */
  run(type, timeoutMs, send) {
    return new Promise((resolve, reject) => {
      const cmd = { type, resolve, reject, timer: null };
      cmd.timer = this.#timers.setTimeout(() => {
        const i = this.#pending.indexOf(cmd);
        if (i >= 0) this.#pending.splice(i, 1);
        reject(Object.assign(new Error(`no answer to ${type} within ${timeoutMs} ms`), { code: 'timeout' }));
      }, timeoutMs);
      this.#pending.push(cmd);
      send({ type });
    });
  }

  /** The event that answers `type` came: its command succeeded. */
  settle(type) {
    const i = this.#pending.findIndex((c) => c.type === type);
    if (i < 0) return;
    const [cmd] = this.#pending.splice(i, 1);
    this.#timers.clearTimeout(cmd.timer);
    cmd.resolve();
  }

  /** An `error` answered the oldest command: it fails with that code. */
  failOldest(e) {
    const cmd = this.#pending.shift();
    if (cmd) {
      this.#timers.clearTimeout(cmd.timer);
      cmd.reject(Object.assign(new Error(e.message || e.code), { code: e.code }));
    }
  }

  /** The client closed: every command fails with `err`, except an end-session the end answers. */
  finish(reason, err) {
    for (const cmd of this.#pending.splice(0)) {
      this.#timers.clearTimeout(cmd.timer);
      if (reason === 'ended' && cmd.type === 'end-session') cmd.resolve();
      else cmd.reject(err);
    }
  }
}
