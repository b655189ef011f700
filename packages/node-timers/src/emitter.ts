/**
 * A small typed event emitter, in one copy for every client and server of
 * the packages: listeners by event name, each call isolated so that a
 * listener that throws never stops the others or the caller (the error goes
 * to `onListenerError`, which reports it). Unknown event names and
 * non-function listeners are refused at `on`.
 *
 * @example
 * ```ts
 * import { Emitter } from '@keepalive/node-timers';
 * const events = new Emitter<{ open: { attempt: number } }>(['open'], (event, error) => console.warn(event, error));
 * const off = events.on('open', ({ attempt }) => console.log(attempt));
 * events.emit('open', { attempt: 0 });
 * off();
 * ```
 */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  constructor(
    private readonly names: readonly (keyof Events)[],
    private readonly onListenerError: (event: keyof Events, error: unknown) => void,
  ) {}

  /** Adds a listener; returns the function that removes it. Unknown names and non-functions are refused. */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    const name: unknown = event;
    if (!this.names.includes(event)) throw new TypeError(`on(event): unknown event ${String(name)} (expected one of ${this.names.join(', ')})`);
    if (typeof listener !== 'function') throw new TypeError('on(event, listener): listener must be a function');
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener);
    this.listeners.set(event, set);
    return () => {
      this.off(event, listener);
    };
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): void {
    this.listeners.get(event)?.delete(listener);
  }

  /** Calls every listener of `event` with `payload`, in the order they were added. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: Events[K]) => void)(payload);
      } catch (error) {
        this.onListenerError(event, error);
      }
    }
  }

  /** Drops every listener. */
  clear(): void {
    this.listeners.clear();
  }
}
