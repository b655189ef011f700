import type { SessionState } from '@keepalive/core';

/**
 * The pieces every activity front shares, in one copy: `run` (an activity
 * released in every outcome) and state subscribers (told about each new
 * state once, in order). The session activity of this package and the
 * client's activity are both built on them.
 */

/**
 * Runs `fn` (sync or async) between `start(reason)` and the release it
 * returns, released in every outcome: return, throw, resolve or reject.
 */
export function runActivity<T>(start: (reason: string) => () => void, reason: string, fn: () => T): T {
  const release = start(reason);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    release();
    throw error;
  }
  if (isPromiseLike(result)) {
    return result.then(
      (value) => {
        release();
        return value;
      },
      (error: unknown) => {
        release();
        throw error;
      },
    ) as T;
  }
  release();
  return result;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Subscribers to a session state. `notify(current)` tells every listener
 * about the newest state if it changed since the last round; a change made by
 * a listener is delivered after the current round, so each listener sees the
 * states in order and never the same one twice. A listener that throws is
 * passed to `onError` and never stops the others.
 */
export class StateSubscribers {
  private readonly listeners = new Set<(state: SessionState) => void>();
  private notified: SessionState | null = null;
  private notifying = false;

  constructor(private readonly onError: (error: unknown) => void) {}

  /** Adds a listener (a new subscription even for a function already added); returns its unsubscribe. */
  add(listener: (state: SessionState) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('subscribe(listener): expected a function');
    const entry = (state: SessionState): void => {
      listener(state);
    };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Tells the listeners about `read()` while it differs from what they were last told. */
  notify(read: () => SessionState): void {
    // Called from a listener: the running loop below delivers the newer state after its round.
    if (this.notifying) return;
    if (this.listeners.size === 0) {
      this.notified = read();
      return;
    }
    this.notifying = true;
    try {
      for (let state = read(); state !== this.notified; state = read()) {
        this.notified = state;
        // Subscribed during this round: from the next change on. Unsubscribed during it: at once.
        for (const listener of [...this.listeners]) {
          if (!this.listeners.has(listener)) continue;
          try {
            listener(state);
          } catch (error) {
            this.onError(error);
          }
        }
      }
    } finally {
      this.notifying = false;
    }
  }

  /** Listeners subscribed. */
  get size(): number {
    return this.listeners.size;
  }

  /** Drops every listener. */
  clear(): void {
    this.listeners.clear();
  }
}
