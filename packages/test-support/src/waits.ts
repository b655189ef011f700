/**
 * Bounded waits for tests that talk to real sockets and processes: every wait is for an event, and every wait has a
 * limit that fails the test with what it was waiting for (never a sleep standing in for synchronisation).
 */

/** `promise`, or a rejection naming `what` after `ms`; the timer is cleared either way (nothing keeps the process). */
export function within<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Items in arrival order; `next()` takes the oldest, waiting (bounded) for one to come. */
export class Queue<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];

  /** @param limitMs - how long `next()` waits by default. */
  constructor(private readonly limitMs = 5_000) {}

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter === undefined) this.items.push(item);
    else waiter(item);
  }

  next(what: string, ms = this.limitMs): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift() as T);
    return within(new Promise<T>((resolve) => this.waiters.push(resolve)), ms, what);
  }

  /** Items that arrived and were not taken. */
  get pending(): readonly T[] {
    return this.items;
  }
}
