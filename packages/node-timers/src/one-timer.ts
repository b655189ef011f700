import { MAX_DURATION_MS } from '@keepalive/core';
import type { Platform, TimerHandle } from './clock.js';

/**
 * What every scheduler shares, whatever keeps its deadlines in order (the
 * lane scheduler in scheduler.ts, and the heap reference the tests compare it
 * with): one unref'd OS timer armed for the earliest deadline, the clock, and
 * the holds that keep the process open while busy. Subclasses keep the
 * deadlines and fire them; they call {@link OneTimer.rearm} with their
 * earliest deadline. Not exported from the package.
 */
export abstract class OneTimer {
  protected readonly platform: Platform;
  private handle: TimerHandle | null = null;
  private clear: ((handle: TimerHandle) => void) | null = null;
  private target: number | null = null;
  private holds = 0;
  private releaseHold: (() => void) | null = null;
  /** The OS timer fires at most once per this many milliseconds (0: as soon as the earliest deadline is due). */
  private readonly precisionMs: number;
  private lastFire = -Infinity;

  constructor(platform: Platform, precisionMs = 0) {
    this.platform = platform;
    this.precisionMs = precisionMs;
  }

  now(): number {
    return this.platform.now();
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

  /** Fires every entry due at `now` (the subclass's loop). */
  protected abstract fire(now: number): void;

  private readonly onTimer = (): void => {
    const target = this.target;
    this.handle = null;
    this.clear = null;
    this.target = null;
    this.lastFire = this.platform.now();
    // A timer may fire a hair early by the monotonic clock, and a fake clock
    // may not be advanced with fake timers: never treat the fire as earlier
    // than the deadline it was armed for.
    this.fire(Math.max(this.lastFire, target ?? -Infinity));
  };

  /** Arms the one OS timer for `top` (the earliest deadline, `Infinity` for none), unless it already is. */
  protected rearm(top: number): void {
    const wanted = top === Infinity ? null : top;
    if (wanted === this.target) return;
    if (this.handle !== null && this.clear !== null) this.clear(this.handle);
    this.handle = null;
    this.clear = null;
    this.target = wanted;
    if (wanted === null) return;
    const platform = this.platform;
    const now = platform.now();
    // Deadlines due within `precisionMs` of the last fire wait for the next one: never early, at most that late.
    let delay = Math.min(MAX_DURATION_MS, Math.max(0, Math.ceil(wanted - now)));
    const precision = this.precisionMs;
    // (Bounded by the precision, in case the clock was swapped, e.g. for fake timers, since the last fire.)
    if (precision > 0) delay = Math.max(delay, Math.ceil(Math.min(precision, this.lastFire + precision - now)));
    if (delay === 0 && platform.setImmediate !== undefined && platform.clearImmediate !== undefined) {
      // Already due (the rest of a pass cut at its budget, a deadline in the past): once the I/O waiting now is
      // handled, without the millisecond's sleep of a zero timeout. A burst's slices run back to back, I/O between.
      // Not unref'd: it runs at once, and Node runs an unref'd immediate only once something else wakes the loop.
      this.clear = platform.clearImmediate.bind(platform);
      this.handle = platform.setImmediate(this.onTimer);
    } else {
      // Capture the clear function that matches this setTimeout (fake timers may be installed later).
      this.clear = platform.clearTimeout.bind(platform);
      this.handle = platform.setTimeout(this.onTimer, delay);
      platform.unref(this.handle);
    }
  }
}

/** Calls a wake target. */
export function wakeTarget(target: ((now: number) => void) | { wake(now: number): void }, now: number): void {
  if (typeof target === 'function') target(now);
  else target.wake(now);
}
