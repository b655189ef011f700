import type { Platform, TimerHandle } from '@keepalive/node-timers';

/** A platform on a manual clock: timers fire only when the test advances time. */
export interface ManualPlatform extends Platform {
  advance(ms: number): void;
  readonly pending: number;
}

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

type Listener = (event: { data?: unknown }) => void;

/** A WHATWG-style socket double: records what is sent, lets the test deliver events. */
export class FakeSocket {
  readyState = 0;
  readonly sent: string[] = [];
  readonly closes: { code?: number | undefined; reason?: string | undefined }[] = [];
  pings = 0;
  terminated = 0;
  private readonly listeners = new Map<string, Set<Listener>>();

  send(data: string): void {
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closes.push({ code, reason });
  }
  addEventListener(type: string, listener: Listener): void {
    let set = this.listeners.get(type);
    if (set === undefined) this.listeners.set(type, (set = new Set()));
    set.add(listener);
  }
  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }
  listenerCount(): number {
    let count = 0;
    for (const set of this.listeners.values()) count += set.size;
    return count;
  }
  emit(type: string, event: { data?: unknown } = {}): void {
    if (type === 'open') this.readyState = 1;
    if (type === 'close') this.readyState = 3;
    for (const listener of [...(this.listeners.get(type) ?? [])]) listener(event);
  }
}

/** Bun's client socket double: a FakeSocket with ping() and terminate(). */
export class FakeBunSocket extends FakeSocket {
  ping(): void {
    this.pings++;
  }
  terminate(): void {
    this.terminated++;
  }
}
