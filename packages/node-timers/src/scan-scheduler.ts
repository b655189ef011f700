import { MAX_DURATION_MS } from '@keepalive/core';
import { defaultPlatform, type Platform, type TimerHandle } from './clock.js';
import type { ScheduledEntry, Scheduler, WakeTarget } from './scheduler.js';

/**
 * A scheduler for a handful of entries (the clients of a web page): it keeps
 * the entries that have a deadline in one array, finds the earliest by
 * scanning it, and arms one timer for it. When that fires it wakes every
 * entry that is due, earliest deadline first (at the same instant, in the
 * order they were scheduled), each with the fire's time, then re-arms for
 * the new earliest. As the lane scheduler ({@link createScheduler}), it never
 * wakes an entry before its deadline, rounds no deadline, and an entry woken
 * that asks for no new deadline loses the one it had. It is a fraction of the
 * lane scheduler's size, and its cost grows with the number of entries
 * (every re-arm scans them all): what the `browser` build of the clients uses
 * by default, not what a server with many connections should. It takes no
 * slack into account (`schedule(deadline, slackMs)` wakes at the deadline: a
 * handful of entries has nothing to batch).
 */

/** Options of {@link createScanScheduler}. */
export interface ScanSchedulerOptions {
  /** Clock and timer functions; default {@link defaultPlatform}. */
  readonly platform?: Platform | undefined;
}

/** An entry: its deadline, and the scheduler while it belongs to one. */
class ScanEntry implements ScheduledEntry {
  deadline: number | null = null;
  constructor(
    public owner: ScanScheduler | null,
    readonly target: WakeTarget,
  ) {}
  schedule(deadline: number | null): void {
    this.owner?.move(this, deadline);
  }
  dispose(): void {
    this.owner?.release(this);
  }
}

/** See the module comment. Exported for the `browser` entry; the package exports {@link createScanScheduler}. */
export class ScanScheduler implements Scheduler {
  /** The entries with a deadline, in the order they were (last) scheduled. */
  private readonly due: ScanEntry[] = [];
  private handle: TimerHandle | null = null;
  /** The deadline the timer is armed for. */
  private target: number | null = null;
  /** What the timer's fire stands for at least: its deadline, or nothing when the delay was capped (it fires early). */
  private reach = -Infinity;
  private firing = false;
  /** The entry being woken, until it asks for a deadline (it is then not done with it). */
  private waking: ScanEntry | null = null;

  constructor(private readonly platform: Platform) {}

  now(): number {
    return this.platform.now();
  }

  entry(wake: WakeTarget): ScheduledEntry {
    return new ScanEntry(this, wake);
  }

  get size(): number {
    return this.due.length;
  }

  get osTimersArmed(): number {
    return this.handle === null ? 0 : 1;
  }

  get armedFor(): number | null {
    return this.target;
  }

  /** Each hold is the platform's own (none where the platform has no `hold`: a page has no process to hold open). */
  hold(): () => void {
    const release = this.platform.hold?.();
    if (release === undefined) return noop;
    let held = true;
    return () => {
      if (held) {
        held = false;
        release();
      }
    };
  }

  /** @internal */
  move(entry: ScanEntry, deadline: number | null): void {
    if (entry === this.waking) this.waking = null;
    if (deadline === entry.deadline) return;
    // A moved deadline goes to the back: entries due at the same instant fire in the order they were scheduled.
    if (entry.deadline !== null) this.unlist(entry);
    entry.deadline = deadline;
    if (deadline !== null) this.due.push(entry);
    if (!this.firing) this.rearm();
  }

  /** @internal */
  release(entry: ScanEntry): void {
    entry.owner = null;
    if (entry.deadline === null) return;
    this.unlist(entry);
    entry.deadline = null;
    if (!this.firing) this.rearm();
  }

  private unlist(entry: ScanEntry): void {
    this.due.splice(this.due.indexOf(entry), 1);
  }

  private fire(now: number): void {
    const due = this.due;
    this.firing = true;
    try {
      // Each wake moves its entry past `now` (or removes it); the guard bounds the loop even if one does not.
      for (let guard = due.length * 4 + 16; guard > 0; guard--) {
        let top: ScanEntry | null = null;
        for (const entry of due) if ((entry.deadline as number) <= now && (top === null || (entry.deadline as number) < (top.deadline as number))) top = entry;
        if (top === null) break;
        this.waking = top;
        try {
          const target = top.target;
          if (typeof target === 'function') target(now);
          else target.wake(now);
        } catch {
          // Wakers catch their own errors; a throw here must not stop the others.
        }
        // A wake that asked for no deadline is done with this one; one that asked again for a due one is woken again.
        const done = this.waking === top;
        this.waking = null;
        if (done && top.deadline !== null) {
          this.unlist(top);
          top.deadline = null;
        }
      }
    } finally {
      this.firing = false;
      this.rearm();
    }
  }

  /** Arms the one timer for the earliest deadline, unless it already is. */
  private rearm(): void {
    let top = Infinity;
    for (const entry of this.due) if ((entry.deadline as number) < top) top = entry.deadline as number;
    const wanted = top === Infinity ? null : top;
    if (wanted === this.target) return;
    const platform = this.platform;
    if (this.handle !== null) platform.clearTimeout(this.handle);
    this.handle = null;
    this.target = wanted;
    if (wanted === null) return;
    const delay = Math.max(0, Math.ceil(wanted - platform.now()));
    // A deadline beyond what a timer can wait for is reached in more than one fire.
    this.reach = delay > MAX_DURATION_MS ? -Infinity : wanted;
    this.handle = platform.setTimeout(this.onTimer, Math.min(delay, MAX_DURATION_MS));
    platform.unref(this.handle);
  }

  private readonly onTimer = (): void => {
    const reach = this.reach;
    this.handle = null;
    this.target = null;
    // A timer may fire a hair early by the monotonic clock (and a test's clock may not move with its timers): the
    // fire stands for the deadline it was armed for, never earlier.
    this.fire(Math.max(this.platform.now(), reach));
  };
}

/**
 * Creates a scan scheduler (see the module comment): one timer for a handful
 * of entries, in a fraction of the lane scheduler's code. A browser build of
 * the clients uses one per page by default ({@link defaultClientScheduler});
 * elsewhere, pass it as the `scheduler` option where a few clients run alone.
 *
 * @example
 * ```ts
 * import { createScanScheduler, createSessionActivity } from '@keepalive/node-timers';
 * const scheduler = createScanScheduler();
 * const activity = createSessionActivity({ scheduler, heartbeatIntervalMs: 15_000 });
 * activity.shutdown();
 * ```
 */
export function createScanScheduler(options: ScanSchedulerOptions = {}): Scheduler {
  return new ScanScheduler(options.platform ?? defaultPlatform);
}

function noop(): void {
  // Nothing was held.
}
