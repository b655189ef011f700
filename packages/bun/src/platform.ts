import { createScheduler as createNodeScheduler, defaultScheduler as sharedScheduler, type Platform, type Scheduler, type TimerHandle } from '@keepalive/node-timers';

/**
 * The parts of the `Bun` global this package uses: a local interface, so the
 * published package needs no `bun-types`.
 */
export interface BunLike {
  /** Monotonic nanoseconds since the process started. */
  nanoseconds(): number;
  /** The runtime's version, e.g. `1.4.5`. */
  readonly version: string;
}

/**
 * A timer as Bun's `setTimeout` returns it: an object that can be unref'd and ref'd.
 */
export interface BunTimerLike {
  unref(): unknown;
  ref(): unknown;
}

/**
 * The `Bun` global, or `undefined` on another runtime (looked up at each call).
 */
export function bunGlobal(): BunLike | undefined {
  const bun = (globalThis as { Bun?: unknown }).Bun;
  return typeof bun === 'object' && bun !== null && typeof (bun as Partial<BunLike>).nanoseconds === 'function' ? (bun as BunLike) : undefined;
}

function hasUnref(handle: TimerHandle): handle is BunTimerLike {
  return typeof handle === 'object' && typeof (handle as Partial<BunTimerLike>).unref === 'function';
}

function noop(): void {
  // Holding the event loop open is the whole job.
}

/**
 * Bun's clock and timers for the shared scheduler: `Bun.nanoseconds() / 1e6`
 * as the monotonic clock, Bun's `setTimeout` with its Timer unref'd (an idle
 * program exits), and a ref'd interval to hold the process open while busy
 * (`keepProcessAlive: 'while-busy'`). Everything is looked up at each call,
 * so fake timers installed after import are honoured. Off Bun it falls back
 * to `performance.now()`, so the package can be imported (and tested) anywhere.
 */
export const bunPlatform: Platform = Object.freeze({
  now: (): number => {
    const bun = bunGlobal();
    return bun === undefined ? globalThis.performance.now() : bun.nanoseconds() / 1e6;
  },
  setTimeout: (callback: () => void, delayMs: number): TimerHandle => globalThis.setTimeout(callback, delayMs),
  clearTimeout: (handle: TimerHandle): void => {
    globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
  unref: (handle: TimerHandle): void => {
    if (hasUnref(handle)) handle.unref();
  },
  hold: (): (() => void) => {
    const clear = globalThis.clearInterval;
    const handle = globalThis.setInterval(noop, 1_000_000_000);
    return () => {
      clear(handle);
    };
  },
});

/**
 * Options of {@link createScheduler}.
 */
export interface BunSchedulerOptions {
  /** Clock and timer functions; default {@link bunPlatform}. */
  readonly platform?: Platform | undefined;
}

/**
 * Creates a scheduler on Bun's clock and timers: one OS timer for every
 * session and connection registered on it (the `@keepalive/node-timers`
 * scheduler on {@link bunPlatform}).
 *
 * @example
 * ```ts
 * import { createScheduler, createSessionActivity } from '@keepalive/bun';
 * const scheduler = createScheduler();
 * const activity = createSessionActivity({ scheduler });
 * ```
 */
export function createScheduler(options: BunSchedulerOptions = {}): Scheduler {
  return createNodeScheduler({ platform: options.platform ?? bunPlatform });
}

/**
 * The one process-wide scheduler, shared with every other keepalive package
 * in the program (`@keepalive/node-timers`' `defaultScheduler`): a program
 * that uses the client, a server integration and activities arms one OS
 * timer in all.
 */
export function defaultScheduler(): Scheduler {
  return sharedScheduler();
}
