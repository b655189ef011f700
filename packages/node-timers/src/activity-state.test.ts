import { describe, expect, it } from 'vitest';
import { createSessionActivity } from './index.js';
import { manualScheduler } from './test-support/manual-scheduler.js';

describe('activity state snapshots', () => {
  it('S1 S5: state is a snapshot: the same object until something changes, never written after it was handed out', () => {
    const clock = manualScheduler();
    const activity = createSessionActivity({ scheduler: clock.scheduler, heartbeatIntervalMs: 100 });
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
    expect(clock.armedAt).toBe(100);
    clock.fire();
    expect(busy.keepalivesSent).toBe(0);
    expect(activity.state.keepalivesSent).toBe(1);
    expect(activity.state).toBe(activity.state);
    activity.shutdown();
    expect(activity.state.shutdown).toBe(true);
  });
});
