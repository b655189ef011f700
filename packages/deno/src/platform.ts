import { createScheduler as createNodeScheduler, defaultScheduler as sharedScheduler, type Platform, type Scheduler, type TimerHandle } from '@keepalive/node-timers';
import type { DenoLike } from './deno-like.ts';

/**
 * The `Deno` global, or `undefined` on another runtime (looked up at each call).
 */
export function denoGlobal(): DenoLike | undefined {
  const deno = (globalThis as { Deno?: unknown }).Deno;
  return typeof deno === 'object' && deno !== null && typeof (deno as Partial<DenoLike>).unrefTimer === 'function' ? (deno as DenoLike) : undefined;
}

interface Unrefable {
  unref?: () => unknown;
}

function noop(): void {
  // Holding the event loop open is the whole job.
}

/**
 * Deno's clock and timers for the shared scheduler: `performance.now()` (a
 * monotonic clock), the global `setTimeout` with each timer unref'd through
 * `Deno.unrefTimer` (an idle program exits), and an interval ref'd with
 * `Deno.refTimer` to hold the process open while busy
 * (`keepProcessAlive: 'while-busy'`). Everything is looked up at each call.
 * Off Deno it unrefs Node-style, so the package can be imported (and tested)
 * anywhere.
 */
export const denoPlatform: Platform = Object.freeze({
  now: (): number => globalThis.performance.now(),
  setTimeout: (callback: () => void, delayMs: number): TimerHandle => globalThis.setTimeout(callback, delayMs),
  clearTimeout: (handle: TimerHandle): void => {
    globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
  unref: (handle: TimerHandle): void => {
    const deno = denoGlobal();
    // The handle as setTimeout returned it: a number on older Deno, a Node-style Timeout on current Deno (whose
    // numeric conversion is not an id Deno.unrefTimer knows, so it must be given the object itself).
    if (deno !== undefined) deno.unrefTimer(handle);
    else if (typeof handle === 'object') (handle as Unrefable).unref?.();
  },
  hold: (): (() => void) => {
    const clear = globalThis.clearInterval;
    const handle = globalThis.setInterval(noop, 1_000_000_000);
    // Intervals are ref'd by default; say so explicitly in case the runtime's default changes.
    denoGlobal()?.refTimer(handle);
    return () => {
      clear(handle);
    };
  },
});

/**
 * Options of {@link createScheduler}.
 */
export interface DenoSchedulerOptions {
  /** Clock and timer functions; default {@link denoPlatform}. */
  readonly platform?: Platform | undefined;
}

/**
 * Creates a scheduler on Deno's clock and timers: one OS timer for every
 * session and connection registered on it (the `@keepalive/node-timers`
 * scheduler on {@link denoPlatform}).
 *
 * @example
 * ```ts
 * import { createScheduler, createSessionActivity } from '@keepalive/deno';
 * const scheduler = createScheduler();
 * const activity = createSessionActivity({ scheduler });
 * ```
 */
export function createScheduler(options: DenoSchedulerOptions = {}): Scheduler {
  return createNodeScheduler({ platform: options.platform ?? denoPlatform });
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
