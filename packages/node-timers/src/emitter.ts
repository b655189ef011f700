/**
 * A small typed event emitter, in one copy for every client and server of
 * the packages: listeners by event name, each call isolated so that a
 * listener that throws never stops the others or the caller (the error goes
 * to `onListenerError`, which reports it). Unknown event names and
 * non-function listeners are refused at `on`.
 *
 * Besides `on`/`off` it has the shapes people bring from elsewhere: `once`,
 * `addEventListener(type, listener, { once, signal })` and
 * `removeEventListener` (so `events.once(emitter, 'open')` of `node:events`
 * works, and an `AbortSignal` removes a listener), and {@link Emitter.iterate},
 * an async iterator of one event's payloads with a bounded buffer.
 *
 * @example
 * ```ts
 * import { Emitter } from '@keepalive/node-timers';
 * const events = new Emitter<{ open: { attempt: number } }>(['open'], (event, error) => console.warn(event, error));
 * const off = events.on('open', ({ attempt }) => console.log(attempt));
 * events.once('open', () => console.log('only the first open'));
 * events.emit('open', { attempt: 0 });
 * events.emit('open', { attempt: 1 });
 * off();
 * ```
 */
export class Emitter<Events extends object> {
  /** Each event's listeners, in the order they were added, by the function (or object) given. */
  private readonly listeners = new Map<keyof Events, Map<unknown, Registration>>();
  /** The ends of open iterators, called by {@link Emitter.clear}. */
  private readonly iterators = new Set<() => void>();

  constructor(
    private readonly names: readonly (keyof Events)[],
    private readonly onListenerError: (event: keyof Events, error: unknown) => void,
  ) {}

  /** Adds a listener; returns the function that removes it. Unknown names and non-functions are refused. */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('on(event, listener): listener must be a function');
    return this.add(event, listener, false, undefined, 'on');
  }

  /** Adds a listener called at most once (removed before it is called); returns the function that removes it. */
  once<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('once(event, listener): listener must be a function');
    return this.add(event, listener, true, undefined, 'once');
  }

  /** Removes a listener added with `on` or `once`. */
  off<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): void {
    this.remove(event, listener);
  }

  /**
   * Adds a listener as an `EventTarget` does: a function or an object with `handleEvent`, called with the event's
   * payload; `{ once }` removes it before its first call, `{ signal }` removes it when the signal aborts (an aborted
   * signal adds nothing). Adding the same listener twice to one event adds it once. `null` adds nothing.
   */
  addEventListener<K extends keyof Events>(event: K, listener: EmitterListener<Events[K]> | null, options?: EmitterListenerOptions | boolean): void {
    // Checked as a JavaScript caller may pass anything.
    const value: unknown = listener;
    if (value === null || value === undefined) return;
    if (typeof value !== 'function' && (typeof value !== 'object' || typeof (value as { handleEvent?: unknown }).handleEvent !== 'function')) {
      throw new TypeError('addEventListener(type, listener): listener must be a function or an object with handleEvent');
    }
    const given: unknown = options;
    const { once, signal } = typeof given === 'object' && given !== null ? (given as EmitterListenerOptions) : {};
    this.add(event, value as EmitterListener<Events[K]>, once === true, signal, 'addEventListener');
  }

  /** Removes a listener added with `addEventListener` (or `on`, `once`). */
  removeEventListener<K extends keyof Events>(event: K, listener: EmitterListener<Events[K]> | null): void {
    const value: unknown = listener;
    if (value !== null && value !== undefined) this.remove(event, value);
  }

  /** Calls every listener of `event` with `payload`, in the order they were added. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const registered = this.listeners.get(event);
    if (registered === undefined || registered.size === 0) return;
    for (const [listener, registration] of [...registered]) {
      // Removed by an earlier listener of this round: not called.
      if (registered.get(listener) !== registration) continue;
      if (registration.once) this.remove(event, listener);
      try {
        const call = listener as EmitterListener<Events[K]>;
        if (typeof call === 'function') call(payload);
        else call.handleEvent(payload);
      } catch (error) {
        this.onListenerError(event, error);
      }
    }
  }

  /**
   * The payloads of `event` as an async iterator, from now on, buffered while the consumer is busy: at most `limit`
   * are kept; one more ends the iterator with a {@link BufferOverflowError} after the ones it kept (never a silent
   * drop). An `end` event (or {@link Emitter.clear}) ends it once the buffer is read; `signal` ends it with the
   * signal's reason. Leaving a `for await` loop (break, return, throw) removes its listeners.
   */
  iterate<K extends keyof Events>(event: K, options: EmitterIterateOptions<keyof Events>): AsyncIterableIterator<Events[K]> {
    const { limit, end = [], signal } = options;
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`iterate(event, { limit }): expected an integer >= 1, got ${String(limit)}`);
    const buffer: Events[K][] = [];
    let wake = noop;
    /** How it ends: `null` while it runs; `true` once ended; the error it ends with. */
    const state: { stop: Error | true | null } = { stop: null };
    const removers: (() => void)[] = [];
    // Ends it: nothing more is kept (its listeners go at once); what was kept is still read first.
    const finish = (why: Error | true): void => {
      state.stop ??= why;
      for (const remove of removers.splice(0)) remove();
      wake();
    };
    const aborted = (): void => {
      finish(asError(signal?.reason));
    };
    const ended = (): void => {
      finish(true);
    };
    removers.push(
      this.add(event, (payload: Events[K]) => {
        if (buffer.length < limit) buffer.push(payload);
        else finish(new BufferOverflowError(String(event), limit));
        wake();
      }, false, undefined, 'iterate'),
      ...end.map((name) => this.add(name, ended, false, undefined, 'iterate')),
      () => signal?.removeEventListener('abort', aborted),
      () => this.iterators.delete(ended),
    );
    this.iterators.add(ended);
    signal?.addEventListener('abort', aborted);
    if (signal?.aborted === true) aborted();
    return (async function* read(): AsyncGenerator<Events[K], undefined, undefined> {
      try {
        // Each turn yields, ends, or waits for the next payload or the end.
        for (;;) {
          if (buffer.length > 0) yield buffer.shift() as Events[K];
          else if (state.stop instanceof Error) throw state.stop;
          else if (state.stop === true) return undefined;
          else await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        finish(true);
        buffer.length = 0;
      }
    })();
  }

  /** Drops every listener; iterators end once their buffers are read. */
  clear(): void {
    for (const registered of this.listeners.values()) {
      for (const registration of registered.values()) registration.release();
      registered.clear();
    }
    this.listeners.clear();
    for (const ended of [...this.iterators]) ended();
  }

  private add<K extends keyof Events>(event: K, listener: EmitterListener<Events[K]>, once: boolean, signal: AbortSignal | undefined, method: string): () => void {
    const name: unknown = event;
    if (!this.names.includes(event)) throw new TypeError(`${method}(event): unknown event ${String(name)} (expected one of ${this.names.join(', ')})`);
    const remove = (): void => {
      this.remove(event, listener);
    };
    if (signal?.aborted === true) return noop;
    const registered = this.listeners.get(event) ?? new Map<unknown, Registration>();
    this.listeners.set(event, registered);
    const key: unknown = listener;
    if (registered.has(key)) return remove;
    let release = noop;
    if (signal !== undefined) {
      signal.addEventListener('abort', remove, { once: true });
      release = () => {
        signal.removeEventListener('abort', remove);
      };
    }
    registered.set(key, { once, release });
    return remove;
  }

  private remove(event: keyof Events, listener: unknown): void {
    const registered = this.listeners.get(event);
    const key: unknown = listener;
    const registration = registered?.get(key);
    if (registration === undefined) return;
    registered?.delete(key);
    registration.release();
  }
}

/** One listener's registration: called once, and what lets go of its abort signal. */
interface Registration {
  readonly once: boolean;
  readonly release: () => void;
}

function noop(): void {
  // Nothing to remove.
}

/** An abort signal's reason as an Error (a reason that is not one is named by its type only). */
function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(`aborted (${typeof reason})`);
}

/** A listener as `addEventListener` takes it: a function, or an object whose `handleEvent` is called. */
export type EmitterListener<T> = ((payload: T) => void) | { handleEvent(payload: T): void };

/** Options of `addEventListener`: `once` removes the listener before its first call, `signal` when it aborts. */
export interface EmitterListenerOptions {
  readonly once?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Accepted for `EventTarget` compatibility; there is no capture phase here. */
  readonly capture?: boolean | undefined;
  /** Accepted for `EventTarget` compatibility; listeners never cancel anything here. */
  readonly passive?: boolean | undefined;
}

/** Options of {@link Emitter.iterate}. */
export interface EmitterIterateOptions<Name> {
  /** How many payloads are kept while the consumer is busy; one more ends the iterator with a {@link BufferOverflowError}. */
  readonly limit: number;
  /** Events that end the iterator (after the buffer is read). */
  readonly end?: readonly Name[] | undefined;
  /** Ends the iterator (its next read rejects with the signal's reason) when it aborts. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Ends an async iterator of events whose consumer fell behind: more than `limit` payloads arrived while it was busy.
 * The ones kept were read first; what came after was not kept (so it is said, not dropped silently).
 */
export class BufferOverflowError extends Error {
  /** The event iterated. */
  readonly event: string;
  /** The bound that was exceeded. */
  readonly limit: number;

  constructor(event: string, limit: number) {
    super(`The async iterator of '${event}' fell more than ${String(limit)} behind: it ended, and the ${event}s after the ${String(limit)} it kept were not kept (raise the limit, or read faster)`);
    this.name = 'BufferOverflowError';
    this.event = event;
    this.limit = limit;
  }
}
