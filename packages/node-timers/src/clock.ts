/**
 * The platform pieces the adapter needs, injected (as TanStack Query injects
 * its TimeoutProvider) and looked up on `globalThis` at call time, so fake
 * timers installed after import (vitest, sinon) are honoured.
 */

/** A timer handle as Node, Bun, Deno and fake-timer libraries return it. */
export type TimerHandle = object | number;

/**
 * How the scheduler reads the time and arms its one timer.
 *
 * @example
 * ```ts
 * import { createScheduler, type Platform } from '@keepalive/node-timers';
 * const platform: Platform = {
 *   now: () => performance.now(),
 *   setTimeout: (fn, ms) => setTimeout(fn, ms),
 *   clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
 *   unref: (handle) => (handle as NodeJS.Timeout).unref(),
 * };
 * const scheduler = createScheduler({ platform });
 * ```
 */
export interface Platform {
  /** Monotonic milliseconds (never wall-clock time). */
  now(): number;
  /** Arms a one-shot timer. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Clears a timer armed by this platform's `setTimeout`. */
  clearTimeout(handle: TimerHandle): void;
  /** Lets the process exit while only this timer is pending. */
  unref(handle: TimerHandle): void;
  /**
   * Runs `callback` once the event loop has handled the I/O already waiting, without sleeping first (`setImmediate`).
   * The scheduler uses it for a deadline already due, such as the rest of a pass cut at its budget; without it, such
   * a deadline gets `setTimeout(callback, 0)`, which sleeps at least a millisecond before it runs. Give it together
   * with {@link Platform.clearImmediate}. What it returns is not unref'd: it runs at once (Node runs an unref'd
   * immediate only when something else wakes the event loop).
   */
  setImmediate?(callback: () => void): TimerHandle;
  /** Clears what this platform's `setImmediate` returned. */
  clearImmediate?(handle: TimerHandle): void;
  /** Holds the process open until the returned release function is called. */
  hold?(): () => void;
}

/** `setImmediate` and `clearImmediate`, where the runtime has them. */
interface ImmediateGlobals {
  setImmediate?: (callback: () => void) => TimerHandle;
  clearImmediate?: (handle: TimerHandle) => void;
}

interface Unrefable {
  unref?: () => unknown;
}

/**
 * The default platform, the same on Node, Bun, Deno and in browsers:
 * `performance.now()` and the global timer functions, read at each call (so
 * fake timers installed after import are honoured). Timers are unref'd so
 * that they never keep a process alive: `timer.unref()` where the handle has
 * it (Node, Bun), `Deno.unrefTimer(id)` on Deno; browsers have nothing to
 * unref.
 */
export const defaultPlatform: Platform = Object.freeze({
  now: () => globalThis.performance.now(),
  setTimeout: (callback: () => void, delayMs: number): TimerHandle => globalThis.setTimeout(callback, delayMs) as TimerHandle,
  clearTimeout: (handle: TimerHandle): void => {
    globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
  unref: (handle: TimerHandle): void => {
    if (typeof handle === 'object') (handle as Unrefable).unref?.();
    else denoUnref()?.(handle);
  },
  // Node's and Bun's `setImmediate` (Deno's too, where it has one); `setTimeout(callback, 0)` where there is none.
  setImmediate: (callback: () => void): TimerHandle => {
    const immediate = (globalThis as ImmediateGlobals).setImmediate;
    return typeof immediate === 'function' ? immediate(callback) : globalThis.setTimeout(callback, 0);
  },
  clearImmediate: (handle: TimerHandle): void => {
    const clear = (globalThis as ImmediateGlobals).clearImmediate;
    if (typeof clear === 'function') clear(handle);
    else globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
  hold: (): (() => void) => {
    // One long, ref'd interval keeps the event loop alive; cleared on release.
    const clear = globalThis.clearInterval;
    const handle = globalThis.setInterval(noop, 1_000_000_000);
    return () => {
      clear(handle);
    };
  },
});

/** The platform of earlier versions, by its old name: it is {@link defaultPlatform}. */
export const nodePlatform: Platform = defaultPlatform;

/** `Deno.unrefTimer` where the runtime has it (Deno's timers are numbers). */
function denoUnref(): ((id: number) => void) | undefined {
  const deno = (globalThis as { Deno?: { unrefTimer?: unknown } }).Deno;
  const unref = deno?.unrefTimer;
  return typeof unref === 'function' ? (id: number) => { (unref as (id: number) => void).call(deno, id); } : undefined;
}

function noop(): void {
  // Holding the event loop open is the whole job.
}
