import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSessionActivity } from './activity.js';
import { defaultScheduler as sharedScheduler } from '@keepalive/node-timers';
import { bunGlobal, bunPlatform, createScheduler, defaultScheduler } from './platform.js';

/** The Bun platform, with the Bun global stubbed (the real Bun runs in keepalive-conformance and the smoke test). */

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('bunPlatform', () => {
  it('reads Bun.nanoseconds() as monotonic milliseconds on Bun, performance.now() elsewhere', () => {
    expect(bunGlobal()).toBeUndefined();
    const before = performance.now();
    expect(bunPlatform.now()).toBeGreaterThanOrEqual(before);
    vi.stubGlobal('Bun', { nanoseconds: () => 1_500_000, version: '1.4.5' });
    expect(bunGlobal()?.version).toBe('1.4.5');
    expect(bunPlatform.now()).toBe(1.5);
  });

  it('unrefs the timers it arms, and clears them', () => {
    const fired = vi.fn();
    const handle = bunPlatform.setTimeout(fired, 10_000);
    const unref = vi.spyOn(handle as { unref(): unknown }, 'unref');
    bunPlatform.unref(handle);
    expect(unref).toHaveBeenCalledOnce();
    bunPlatform.clearTimeout(handle);
    bunPlatform.unref(42);
  });

  it('holds the process with a ref’d interval until released', () => {
    const setInterval = vi.spyOn(globalThis, 'setInterval');
    const clearInterval = vi.spyOn(globalThis, 'clearInterval');
    const release = bunPlatform.hold?.();
    expect(setInterval).toHaveBeenCalledOnce();
    release?.();
    expect(clearInterval).toHaveBeenCalledWith(setInterval.mock.results[0]?.value);
  });
});

describe('schedulers', () => {
  it('defaultScheduler() is the one process-wide scheduler, shared with every keepalive package', () => {
    expect(defaultScheduler()).toBe(defaultScheduler());
    expect(defaultScheduler()).toBe(sharedScheduler());
    vi.stubGlobal('Bun', { nanoseconds: () => 7_000_000, version: '1.4.5' });
    expect(createScheduler().now()).toBe(7);
  });

  it('createSessionActivity runs on the default Bun scheduler, or the one given', async () => {
    const activity = createSessionActivity({ heartbeatIntervalMs: 20 });
    let sent = 0;
    activity.attach(() => {
      sent += 1;
    });
    const release = activity.start('api_call');
    expect(defaultScheduler().size).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 90));
    release();
    expect(sent).toBeGreaterThanOrEqual(2);
    expect(activity.shutdown()).toMatchObject({ total: 0, keepalivesSent: sent });
    const scheduler = createScheduler();
    const own = createSessionActivity({ scheduler, heartbeatIntervalMs: 20 });
    own.attach(() => undefined);
    own.start('tool_exec');
    expect(scheduler.size).toBe(1);
    own.shutdown();
    expect(scheduler.size).toBe(0);
  });
});
