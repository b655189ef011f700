import { summarize, type SessionEvent, type SessionState } from '@keepalive/core';
import type { WorkActivity } from './activity.js';

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
 * Subscribers to a session state. `notify()` tells every listener about the
 * newest state (from `read`) if it changed since the last round; a change
 * made by a listener is delivered after the current round, so each listener
 * sees the states in order and never the same one twice. A listener that
 * throws is passed to `onError` and never stops the others. While nobody
 * listens, `notify` reads nothing (a driver's snapshot is built only for a
 * reader); the first subscriber is told from the next change on.
 */
export class StateSubscribers {
  private readonly listeners = new Set<(state: SessionState) => void>();
  private notified: SessionState | null = null;
  private notifying = false;

  constructor(
    private readonly onError: (error: unknown) => void,
    private readonly read: (() => SessionState) | null = null,
  ) {}

  /** Adds a listener (a new subscription even for a function already added); returns its unsubscribe. */
  add(listener: (state: SessionState) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('subscribe(listener): expected a function');
    const entry = (state: SessionState): void => {
      listener(state);
    };
    // The first subscriber: what it is told about starts after the state as it is now.
    if (this.listeners.size === 0 && this.read !== null && !this.notifying) this.notified = this.read();
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Tells the listeners about `read()` (by default the constructor's) while it differs from what they were last told. */
  notify(read: (() => SessionState) | null = this.read): void {
    // Called from a listener: the running loop below delivers the newer state after its round.
    if (this.notifying || read === null) return;
    if (this.listeners.size === 0) {
      // Nobody listens: nothing is read (a subscriber added later starts from the state it finds).
      if (this.read === null) this.notified = read();
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

/**
 * What a work front needs from the machine it feeds: the session state, a
 * monotonic clock, and a way to hand it a work event.
 */
export interface WorkHost {
  /** The process-unique number of the instance. */
  readonly id: number;
  /** The session state as it is now. */
  session(): SessionState;
  /** Monotonic milliseconds, never earlier than the last event. */
  now(): number;
  /** Steps the machine with a work event (start, stop, release, signal). */
  work(event: WorkEvent): void;
  /** The send gate for a signal, when it is a function (else `undefined`). */
  readGate(): boolean | undefined;
  /** The subscribers to notify after each step. */
  readonly subscribers: StateSubscribers;
}

/** The session events a work front sends: the session machine's `start`, `stop`, `release` and `signal`. */
export type WorkEvent = Extract<SessionEvent, { readonly type: 'start' | 'stop' | 'release' | 'signal' }>;

/**
 * A {@link WorkActivity} over any machine that composes a session (a
 * client connection, say): work goes in as events, the state comes out.
 * What the host does with the work is the host's machine's business.
 */
export function createWorkActivity(host: WorkHost): WorkActivity {
  const start = (reason: string): (() => void) => {
    host.work({ type: 'start', reason, now: host.now() });
    const token = host.session().lastToken;
    return () => {
      host.work({ type: 'release', token, now: host.now() });
    };
  };
  return {
    id: host.id,
    get state() {
      return host.session();
    },
    start,
    stop: (reason) => {
      host.work({ type: 'stop', reason, now: host.now() });
    },
    run: (reason, fn) => runActivity(start, reason, fn),
    signal: () => {
      host.work({ type: 'signal', now: host.now(), sendKeepalives: host.readGate() });
    },
    isTrackingActive: () => host.session().attached,
    snapshot: () => summarize(host.session(), host.now()),
    subscribe: (listener) => {
      if (typeof listener !== 'function') throw new TypeError('subscribe(listener): expected a function');
      return host.session().shutdown ? noop : host.subscribers.add(listener);
    },
  };
}

function noop(): void {
  // Nothing to unsubscribe from a shut-down session.
}
