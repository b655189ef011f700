import { describe, expect, it } from 'vitest';
import { createScheduler, createSessionActivity, type Platform } from './index.js';

describe('activity state snapshots', () => {
  it('S1 S5: state is a snapshot: the same object until something changes, never written after it was handed out', () => {
    let time = 0;
    const timers: { at: number; fn: () => void }[] = [];
    const platform: Platform = {
      now: () => time,
      setTimeout: (fn, delay) => {
        timers.push({ at: time + delay, fn });
        return timers.length;
      },
      clearTimeout: () => undefined,
      unref: () => undefined,
    };
    const activity = createSessionActivity({ scheduler: createScheduler({ platform }), heartbeatIntervalMs: 100 });
    const idle = activity.state;
    expect(activity.state).toBe(idle);
    activity.attach(() => undefined);
    activity.start('api_call');
    const busy = activity.state;
    expect(busy).not.toBe(idle);
    expect(idle.total).toBe(0);
    expect(idle.attached).toBe(false);
    expect(busy.total).toBe(1);
    // A tick nobody reads changes the live state; the old snapshot stays as it was.
    time = 100;
    for (const timer of timers.splice(0)) if (timer.at <= time) timer.fn();
    expect(busy.keepalivesSent).toBe(0);
    expect(activity.state.keepalivesSent).toBe(1);
    expect(activity.state).toBe(activity.state);
    activity.shutdown();
    expect(activity.state.shutdown).toBe(true);
  });
});
