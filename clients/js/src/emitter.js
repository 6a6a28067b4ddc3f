/**
 * A tiny event emitter that works the same in browsers and in Node.
 * Listeners are called synchronously in the order they were added; an exception thrown by a
 * listener is reported with console.error and does not stop the others nor the client.
 */
export class Emitter {
  #listeners = new Map();

  /** Adds a listener; returns a function that removes it. */
  on(type, listener) {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    let set = this.#listeners.get(type);
    if (!set) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener);
    return () => this.off(type, listener);
  }

  /** Adds a listener called at most once; returns a function that removes it. */
  once(type, listener) {
    const off = this.on(type, (event) => {
      off();
      listener(event);
    });
    return off;
  }

  off(type, listener) {
    const set = this.#listeners.get(type);
    if (set) set.delete(listener);
  }

  /** Calls the listeners of `type` with `event`; returns whether there was any. */
  emit(type, event) {
    const set = this.#listeners.get(type);
    if (!set || set.size === 0) return false;
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (err) {
        console.error(`[signaling] listener for "${type}" threw`, err);
      }
    }
    return true;
  }
}
