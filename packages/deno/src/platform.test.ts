import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSessionActivity } from './activity.ts';
import { defaultScheduler as sharedScheduler } from '@keepalive/node-timers';
import { createScheduler, defaultScheduler, denoGlobal, denoPlatform } from './platform.ts';

/** The Deno platform, with the Deno global stubbed (the real Deno runs in keepalive-conformance and the smoke test). */

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

function stubDeno() {
  const deno = { unrefTimer: vi.fn(), refTimer: vi.fn(), upgradeWebSocket: vi.fn(), version: { deno: '2.9.6' } };
  vi.stubGlobal('Deno', deno);
  return deno;
}

describe('denoPlatform', () => {
  it('reads performance.now() as its monotonic clock', () => {
    const before = performance.now();
    const now = denoPlatform.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(performance.now());
  });

  it('on Deno, unrefs each timer with Deno.unrefTimer, giving it the handle setTimeout returned', () => {
    expect(denoGlobal()).toBeUndefined();
    const deno = stubDeno();
    expect(denoGlobal()?.version.deno).toBe('2.9.6');
    const handle = denoPlatform.setTimeout(() => undefined, 10_000);
    denoPlatform.unref(handle);
    denoPlatform.unref(7);
    expect(deno.unrefTimer.mock.calls).toEqual([[handle], [7]]);
    denoPlatform.clearTimeout(handle);
  });

  it('elsewhere, unrefs Node-style', () => {
    const handle = denoPlatform.setTimeout(() => undefined, 10_000);
    const unref = vi.spyOn(handle as { unref(): unknown }, 'unref');
    denoPlatform.unref(handle);
    denoPlatform.unref(3);
    expect(unref).toHaveBeenCalledOnce();
    denoPlatform.clearTimeout(handle);
  });

  it('holds the process with an interval ref’d by Deno.refTimer until released', () => {
    const deno = stubDeno();
    const setInterval = vi.spyOn(globalThis, 'setInterval');
    const clearInterval = vi.spyOn(globalThis, 'clearInterval');
    const release = denoPlatform.hold?.();
    const handle: unknown = setInterval.mock.results[0]?.value;
    expect(deno.refTimer).toHaveBeenCalledWith(handle);
    release?.();
    expect(clearInterval).toHaveBeenCalledWith(handle);
    vi.unstubAllGlobals();
    denoPlatform.hold?.()();
  });
});

describe('schedulers', () => {
  it('defaultScheduler() is one process-wide scheduler; createScheduler() makes isolated ones', () => {
    expect(defaultScheduler()).toBe(defaultScheduler());
    expect(defaultScheduler()).toBe(sharedScheduler());
    expect(createScheduler()).not.toBe(createScheduler());
  });

  it('createSessionActivity runs on the default Deno scheduler, or the one given', async () => {
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
    const own = createSessionActivity({ scheduler });
    own.attach(() => undefined);
    own.start('tool_exec');
    expect(scheduler.size).toBe(1);
    own.shutdown();
    expect(scheduler.size).toBe(0);
  });
});
