import type { Platform, TimerHandle } from '../clock.js';

/** One armed one-shot timer of a {@link ManualPlatform}. */
export interface ManualTimer {
  readonly at: number;
  readonly delay: number;
  readonly fn: () => void;
}

/**
 * The schedulers' tests' platform: a clock that moves only when the test says, and one-shot timers that fire only as
 * it moves, in deadline order. It records what a test may assert on: every delay armed, the fires (the process's
 * wakes) and how long each one ran (a test that moves `time` inside a wake models work taking time), and, when made
 * with `{ holds: true }`, the process holds taken and not yet released.
 */
export class ManualPlatform implements Platform {
  time = 0;
  /** The timers armed now, by handle. */
  readonly timers = new Map<number, ManualTimer>();
  /** Every delay armed, in order. */
  readonly delays: number[] = [];
  /** How many timers fired. */
  wakes = 0;
  /** Each fire's start and end on the clock. */
  readonly passes: { start: number; end: number }[] = [];
  /** Holds taken and not released (with `{ holds: true }`). */
  holds = 0;
  hold?: () => () => void;
  private nextId = 1;

  /**
   * @param options.holds - whether the platform can hold the process (`hold` counted in `holds`)
   * @param options.maxFires - how many timers one `advance` fires at most: entries that keep scheduling each other in
   *   the past would wake the scheduler forever
   */
  constructor(options: { holds?: boolean; maxFires?: number } = {}) {
    this.maxFires = options.maxFires ?? 10_000;
    if (options.holds === true) {
      this.hold = () => {
        this.holds++;
        return () => {
          this.holds--;
        };
      };
    }
  }

  private readonly maxFires: number;

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, delay: number): TimerHandle {
    const id = this.nextId++;
    this.delays.push(delay);
    this.timers.set(id, { at: this.time + delay, fn, delay });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  unref(): void {
    // Nothing holds this process.
  }

  /** How many timers are armed. */
  get pending(): number {
    return this.timers.size;
  }

  /** How many timers were ever armed. */
  get armed(): number {
    return this.delays.length;
  }

  /** Moves the clock to `to`, firing every timer due on the way, earliest first. */
  advance(to: number): void {
    for (let fired = 0; fired < this.maxFires; fired++) {
      let first: [number, ManualTimer] | null = null;
      for (const item of this.timers) if (item[1].at <= to && (first === null || item[1].at < first[1].at)) first = item;
      if (first === null) break;
      this.timers.delete(first[0]);
      this.time = Math.max(this.time, first[1].at);
      this.wakes++;
      const start = this.time;
      first[1].fn();
      this.passes.push({ start, end: this.time });
    }
    this.time = Math.max(this.time, to);
  }

  /** Takes the one armed timer out (the test fires it when it wants, at the time it sets); throws unless exactly one is armed. */
  take(): () => void {
    const [item, ...more] = [...this.timers];
    if (item === undefined || more.length > 0) throw new Error(`expected one armed timer, found ${this.timers.size}`);
    this.timers.delete(item[0]);
    return item[1].fn;
  }
}
