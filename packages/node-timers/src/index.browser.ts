/**
 * @keepalive/node-timers in a browser build (the `browser` export
 * condition): everything of the runtime-neutral entry, with one difference:
 * {@link defaultClientScheduler}, the scheduler the WebSocket and SSE
 * clients use unless given one, is a {@link createScanScheduler | scan
 * scheduler} shared by the page's clients, on the page's clock and timers. A
 * page runs a few clients, so it bundles no lane scheduler for them; the
 * `scheduler` option still takes any scheduler (`createScheduler()`), and
 * {@link defaultScheduler} is the lane scheduler here as everywhere.
 *
 * @module @keepalive/node-timers
 */
import type { Platform, TimerHandle } from './clock.js';
import { sharedRuntime } from './runtime.js';
import { ScanScheduler } from './scan-scheduler.js';
import type { Scheduler } from './scheduler.js';

export * from './index.js';

/**
 * The page's clock and timers, looked up at each call (fake timers installed
 * later are honoured): a page has no process to hold open (no `hold`), and
 * its timers keep nothing alive (unref'd only where a handle has `unref`, as
 * in a DOM emulation on Node that resolves the `browser` condition).
 */
const pagePlatform: Platform = {
  now: () => performance.now(),
  setTimeout: (callback, delayMs): TimerHandle => setTimeout(callback, delayMs),
  clearTimeout: (handle) => {
    clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
  unref: (handle) => {
    (handle as { unref?: () => unknown }).unref?.();
  },
};

/**
 * The scheduler a client uses unless given one; in a browser build, one
 * scan scheduler for every client on the page (see the module comment).
 */
export function defaultClientScheduler(): Scheduler {
  const runtime = sharedRuntime();
  runtime.pageScheduler ??= new ScanScheduler(pagePlatform);
  return runtime.pageScheduler;
}
