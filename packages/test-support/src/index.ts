/**
 * keepalive-test-support: the test doubles the runtime adapters' tests share,
 * in one copy. TypeScript source only: the consumers' vitest and tsc read it
 * straight from `src/` (nothing is built or published). Runtime-specific
 * doubles (Bun's `ping()`/`terminate()` socket, say) stay beside their tests
 * as small subclasses of these.
 */
import type { Platform, TimerHandle } from '@keepalive/node-timers';

/** A platform on a manual clock: timers fire only when the test advances time. */
export interface ManualPlatform extends Platform {
  /** Moves the clock forward by `ms`, firing every timer due by then in deadline order. */
  advance(ms: number): void;
  /** Timers set and not yet fired or cleared. */
  readonly pending: number;
}

/** Creates a {@link ManualPlatform} whose clock starts at 0. */
export function manualPlatform(): ManualPlatform {
  let now = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout: (fn: () => void, delayMs: number): TimerHandle => {
      const id = nextId++;
      timers.set(id, { at: now + delayMs, fn });
      return id;
    },
    clearTimeout: (handle: TimerHandle) => {
      timers.delete(handle as number);
    },
    unref: () => undefined,
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        let first: [number, { at: number; fn: () => void }] | undefined;
        for (const entry of timers) if (entry[1].at <= end && (first === undefined || entry[1].at < first[1].at)) first = entry;
        if (first === undefined) break;
        timers.delete(first[0]);
        now = Math.max(now, first[1].at);
        first[1].fn();
      }
      now = end;
    },
    get pending() {
      return timers.size;
    },
  };
}

/** A listener as a {@link FakeSocket} calls it. */
export type FakeSocketListener = (event: { data?: unknown }) => void;

/**
 * A WHATWG-style socket double: records what is sent and closed, lets the
 * test deliver events with {@link FakeSocket.emit}. `pings` and `terminated`
 * are there for subclasses that add `ping()` and `terminate()`.
 */
export class FakeSocket {
  readyState = 0;
  readonly sent: string[] = [];
  readonly closes: { code?: number | undefined; reason?: string | undefined }[] = [];
  pings = 0;
  terminated = 0;
  private readonly listeners = new Map<string, Set<FakeSocketListener>>();

  send(data: string): void {
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closes.push({ code, reason });
  }
  addEventListener(type: string, listener: FakeSocketListener): void {
    let set = this.listeners.get(type);
    if (set === undefined) this.listeners.set(type, (set = new Set()));
    set.add(listener);
  }
  removeEventListener(type: string, listener: FakeSocketListener): void {
    this.listeners.get(type)?.delete(listener);
  }
  /** Listeners registered now, over every event type. */
  listenerCount(): number {
    let count = 0;
    for (const set of this.listeners.values()) count += set.size;
    return count;
  }
  /** Delivers an event; `open` and `close` also move `readyState` (to 1 and 3). */
  emit(type: string, event: { data?: unknown } = {}): void {
    if (type === 'open') this.readyState = 1;
    if (type === 'close') this.readyState = 3;
    for (const listener of [...(this.listeners.get(type) ?? [])]) listener(event);
  }
}

export { Queue, within } from './waits.js';
