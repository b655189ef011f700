import { MAX_DURATION_MS } from '@keepalive/core';
import { nodePlatform, type Platform, type TimerHandle } from './clock.js';
import { DeadlineHeap } from './deadline-heap.js';
import { sharedRuntime } from './runtime.js';

/**
 * A shared scheduler: one OS timer serves every session registered on it.
 * Sessions tell it their earliest deadline (the core's `pollTimeout`); it
 * keeps them in a binary min-heap and arms a single timer for the top. When
 * that fires it wakes every session that is due, each at its own deadline,
 * then re-arms for the new top. 100,000 sessions cost one armed OS timer.
 */

/**
 * One party that wants to be woken at a deadline.
 */
export interface ScheduledEntry {
  /** The deadline it is scheduled for, or `null`. */
  readonly deadline: number | null;
  /** Moves (or removes, with `null`) its deadline. */
  schedule(deadline: number | null): void;
  /** Removes it from the scheduler for good. */
  dispose(): void;
}

/**
 * Options of {@link createScheduler}.
 */
export interface SchedulerOptions {
  /** Clock and timer functions; default {@link nodePlatform}. */
  readonly platform?: Platform | undefined;
}

/**
 * What a scheduler entry wakes: a function, or an object with a `wake(now)` method.
 */
export type WakeTarget = ((now: number) => void) | { wake(now: number): void };

/**
 * A scheduler shared by any number of sessions.
 */
export interface Scheduler {
  /** The clock every session on this scheduler reads. */
  now(): number;
  /**
   * Creates an entry; `wake(now)` is called when its deadline is due. `wake`
   * may be a function or an object with a `wake(now)` method (no closure per
   * entry: what servers with many connections use).
   */
  entry(wake: WakeTarget): ScheduledEntry;
  /** Entries with a deadline. */
  readonly size: number;
  /** OS timers currently armed by this scheduler: 0 or 1. */
  readonly osTimersArmed: number;
  /** The deadline the OS timer is armed for, or `null`. */
  readonly armedFor: number | null;
  /** Holds the process open while at least one hold is taken (`keepProcessAlive: 'while-busy'`). */
  hold(): () => void;
}

class Entry implements ScheduledEntry {
  deadline: number | null = null;
  /** Counts `schedule` calls: a wake that asked again for the deadline it fired at is not one that "did not move". */
  moves = 0;
  readonly id: number;
  constructor(
    readonly owner: HeapScheduler,
    readonly target: WakeTarget,
  ) {
    this.id = owner.heap.allocate();
  }
  wake(now: number): void {
    const target = this.target;
    if (typeof target === 'function') target(now);
    else target.wake(now);
  }
  schedule(deadline: number | null): void {
    this.owner.move(this, deadline);
  }
  dispose(): void {
    this.owner.release(this);
  }
}

class HeapScheduler implements Scheduler {
  readonly heap = new DeadlineHeap();
  private readonly entries: (Entry | undefined)[] = [];
  private readonly platform: Platform;
  private handle: TimerHandle | null = null;
  private clear: ((handle: TimerHandle) => void) | null = null;
  private target: number | null = null;
  private firing = false;
  private holds = 0;
  private releaseHold: (() => void) | null = null;

  constructor(platform: Platform) {
    this.platform = platform;
  }

  now(): number {
    return this.platform.now();
  }

  entry(wake: WakeTarget): ScheduledEntry {
    const entry = new Entry(this, wake);
    this.entries[entry.id] = entry;
    return entry;
  }

  get size(): number {
    return this.heap.size;
  }

  get osTimersArmed(): number {
    return this.handle === null ? 0 : 1;
  }

  get armedFor(): number | null {
    return this.target;
  }

  hold(): () => void {
    this.holds++;
    if (this.holds === 1 && this.platform.hold) this.releaseHold = this.platform.hold();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      if (this.holds === 0 && this.releaseHold !== null) {
        this.releaseHold();
        this.releaseHold = null;
      }
    };
  }

  move(entry: Entry, deadline: number | null): void {
    entry.moves++;
    if (deadline === entry.deadline || this.entries[entry.id] !== entry) return;
    entry.deadline = deadline;
    // Re-keyed in place when already scheduled: one sift over typed arrays.
    if (deadline === null) this.heap.remove(entry.id);
    else this.heap.set(entry.id, deadline);
    if (!this.firing) this.rearm();
  }

  release(entry: Entry): void {
    if (this.entries[entry.id] !== entry) return;
    entry.deadline = null;
    this.entries[entry.id] = undefined;
    this.heap.free(entry.id);
    if (!this.firing) this.rearm();
  }

  private readonly onTimer = (): void => {
    const target = this.target;
    this.handle = null;
    this.clear = null;
    this.target = null;
    // A timer may fire a hair early by the monotonic clock, and a fake clock
    // may not be advanced with fake timers: never treat the fire as earlier
    // than the deadline it was armed for.
    const now = Math.max(this.platform.now(), target ?? -Infinity);
    const heap = this.heap;
    this.firing = true;
    try {
      // Each wake moves its entry past `now` (or removes it); the guard
      // bounds the loop even if one does not.
      for (let guard = heap.size * 4 + 16; guard > 0 && heap.topKey() <= now; guard--) {
        const id = heap.topId();
        const top = this.entries[id];
        if (top === undefined) {
          heap.remove(id);
          continue;
        }
        const moves = top.moves;
        try {
          top.wake(now);
        } catch {
          // Wakers catch their own errors; a throw here must not stop the others.
        }
        // A wake that scheduled nothing is done with its deadline. One that asked again for a due deadline (even the
        // very one it fired at: a step that only moved to a phase due at once) is woken again in this loop.
        if (top.moves === moves && this.entries[id] === top) {
          heap.remove(id);
          top.deadline = null;
        }
      }
    } finally {
      this.firing = false;
      this.rearm();
    }
  };

  private rearm(): void {
    const top = this.heap.topKey();
    const wanted = top === Infinity ? null : top;
    if (wanted === this.target) return;
    if (this.handle !== null && this.clear !== null) this.clear(this.handle);
    this.handle = null;
    this.clear = null;
    this.target = wanted;
    if (wanted === null) return;
    const platform = this.platform;
    const delay = Math.min(MAX_DURATION_MS, Math.max(0, Math.ceil(wanted - platform.now())));
    // Capture the clear function that matches this setTimeout (fake timers may be installed later).
    this.clear = platform.clearTimeout.bind(platform);
    this.handle = platform.setTimeout(this.onTimer, delay);
    platform.unref(this.handle);
  }
}

/**
 * Creates a scheduler: one OS timer for every session created on it.
 *
 * @example
 * ```ts
 * import { createScheduler, createSessionActivity } from '@keepalive/node-timers';
 * const scheduler = createScheduler();
 * const sessions = Array.from({ length: 10_000 }, () => createSessionActivity({ scheduler }));
 * ```
 */
export function createScheduler(options: SchedulerOptions = {}): Scheduler {
  return new HeapScheduler(options.platform ?? nodePlatform);
}


/**
 * The process-wide scheduler every instance uses unless given another: one
 * unref'd Node timer (`setTimeout`, re-armed for the earliest deadline) for
 * all sessions in the process. It is the default because the cost of a
 * keep-alive should not grow with the number of sessions: one OS timer and
 * one heap operation per tick, instead of one timer per session, and timers
 * that never keep an idle process alive. It reads `performance.now()` and
 * the global timer functions at each call, so fake timers work with it.
 */
export function defaultScheduler(): Scheduler {
  const runtime = sharedRuntime();
  runtime.scheduler ??= createScheduler();
  return runtime.scheduler;
}
