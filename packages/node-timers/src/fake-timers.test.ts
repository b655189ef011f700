import FakeTimers from '@sinonjs/fake-timers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSessionActivity } from './index.js';

/**
 * Users can test their own code that uses keepalive with the fake timers
 * they already use: vitest's and sinon's. Both work with the default,
 * process-wide scheduler because it looks the timer functions and the clock
 * up at each call.
 */

afterEach(() => {
  vi.useRealTimers();
});

async function userCode(activity: ReturnType<typeof createSessionActivity>, work: () => Promise<void>): Promise<void> {
  await activity.run('tool_exec', work);
}

describe('fake timers', () => {
  it("vitest's fake timers drive the default scheduler", async () => {
    vi.useFakeTimers();
    const activity = createSessionActivity({ heartbeatIntervalMs: 1_000 });
    const pings: number[] = [];
    activity.attach(() => pings.push(performance.now()));
    const done = userCode(activity, () => new Promise((resolve) => setTimeout(resolve, 3_500)));
    await vi.advanceTimersByTimeAsync(3_500);
    await done;
    expect(pings.map((t) => t - pings[0]!)).toEqual([0, 1_000, 2_000]);
    expect(activity.snapshot().total).toBe(0);
    activity.shutdown();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("sinon's fake timers drive the default scheduler", async () => {
    const clock = FakeTimers.install();
    try {
      const activity = createSessionActivity({ heartbeatIntervalMs: 1_000, idleDelayMs: 500 });
      const pings: number[] = [];
      const notices: string[] = [];
      const logged = createSessionActivity({ heartbeatIntervalMs: 1_000, logger: (_l, event) => notices.push(event) });
      activity.attach(() => pings.push(performance.now()));
      logged.attach(() => undefined);
      const done = userCode(activity, () => new Promise((resolve) => setTimeout(resolve, 2_500)));
      logged.start('api_call');
      await clock.tickAsync(2_500);
      await done;
      expect(pings.map((t) => t - pings[0]!)).toEqual([0, 1_000]);
      expect(notices).toEqual(['heartbeat', 'heartbeat']);
      activity.shutdown();
      logged.shutdown();
      expect(clock.countTimers()).toBe(0);
    } finally {
      clock.uninstall();
    }
  });
});
