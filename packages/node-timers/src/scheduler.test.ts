import { createHook } from 'node:async_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ScheduledNode, createScheduler, createSessionActivity, defaultScheduler, type Platform } from './index.js';

/** Live Node `Timeout` objects (ref'd or not), seen through async_hooks. */
const liveTimers = new Set<number>();
const hook = createHook({
  init(id, type) {
    if (type === 'Timeout') liveTimers.add(id);
  },
  destroy(id) {
    liveTimers.delete(id);
  },
});

async function activeNodeTimers(): Promise<number> {
  // Destroy hooks run asynchronously: let them drain first.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return liveTimers.size;
}

beforeAll(() => hook.enable());
afterAll(() => hook.disable());
afterEach(() => {
  vi.useRealTimers();
});

describe('shared scheduler', () => {
  it('10,000 busy instances arm exactly one real Node timer', async () => {
    const before = await activeNodeTimers();
    const scheduler = createScheduler();
    const sessions = Array.from({ length: 10_000 }, (_, i) =>
      createSessionActivity({ scheduler, heartbeatIntervalMs: 60_000 + (i % 997) }),
    );
    for (const session of sessions) {
      session.attach(() => undefined);
      session.start('api_call');
    }
    expect(scheduler.size).toBe(10_000);
    expect(scheduler.osTimersArmed).toBe(1);
    expect((await activeNodeTimers()) - before).toBe(1);
    for (const session of sessions) session.shutdown();
    expect(scheduler.size).toBe(0);
    expect(scheduler.osTimersArmed).toBe(0);
    expect(await activeNodeTimers()).toBe(before);
  });

  it("each instance's ticks land on its own deadlines (fake timers)", () => {
    vi.useFakeTimers();
    const scheduler = createScheduler();
    const ticks = new Map<number, number[]>();
    const count = 10_000;
    const sessions = Array.from({ length: count }, (_, i) => {
      const session = createSessionActivity({ scheduler, heartbeatIntervalMs: 1_000 + (i % 50) * 10 });
      const list: number[] = [];
      ticks.set(i, list);
      session.attach(() => list.push(performance.now()));
      return session;
    });
    sessions.forEach((session, i) => {
      vi.setSystemTime(0);
      vi.advanceTimersByTime(i % 7);
      session.start('api_call');
    });
    expect(vi.getTimerCount()).toBe(1);
    const started = performance.now();
    vi.advanceTimersByTime(5_000);
    expect(vi.getTimerCount()).toBe(1);
    let checked = 0;
    sessions.forEach((session, i) => {
      const interval = 1_000 + (i % 50) * 10;
      const startAt = session.state.busySince!;
      const list = ticks.get(i)!;
      expect(list.length).toBe(Math.floor((started + 5_000 - startAt) / interval));
      list.forEach((t, k) => {
        expect(t).toBe(startAt + (k + 1) * interval);
        checked++;
      });
    });
    expect(checked).toBeGreaterThan(count * 3);
    for (const session of sessions) session.shutdown();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('re-arms earlier when a sooner deadline arrives, later when the top leaves', () => {
    vi.useFakeTimers();
    const scheduler = createScheduler();
    const woke: string[] = [];
    const a = scheduler.entry(() => {
      woke.push('a');
      a.schedule(null);
    });
    const b = scheduler.entry(() => {
      woke.push('b');
      b.schedule(null);
    });
    a.schedule(1_000);
    expect(scheduler.armedFor).toBe(1_000);
    b.schedule(500);
    expect(scheduler.armedFor).toBe(500);
    b.schedule(null);
    expect(scheduler.armedFor).toBe(1_000);
    b.schedule(1_000);
    vi.advanceTimersByTime(1_000);
    expect(woke.sort()).toEqual(['a', 'b']);
    expect(scheduler.osTimersArmed).toBe(0);
  });

  it('a waker that throws or does not move its deadline cannot stall the others', () => {
    vi.useFakeTimers();
    const scheduler = createScheduler();
    const woke: string[] = [];
    scheduler.entry(() => {
      throw new Error('x');
    }).schedule(10);
    scheduler.entry(() => woke.push('stuck')).schedule(10);
    const ok = scheduler.entry(() => {
      woke.push('ok');
      ok.dispose();
    });
    ok.schedule(10);
    vi.advanceTimersByTime(10);
    expect(woke.sort()).toEqual(['ok', 'stuck']);
    expect(scheduler.size).toBe(0);
  });

  it('a wake that schedules again the very deadline it fired at is woken again, not dropped (a client hung in backoff)', () => {
    // The timer fires a hair early (the clock reads 249 for a 250 deadline), so the wake runs at 250; the client's
    // step moves to a phase due at once (a reconnect with no delay: 250 again). That deadline must not be lost.
    const pending: (() => void)[] = [];
    const platform: Platform = {
      now: () => 249,
      setTimeout: (fn) => {
        pending.push(fn);
        return pending.length;
      },
      clearTimeout: () => undefined,
      unref: () => undefined,
    };
    const scheduler = createScheduler({ platform });
    const seen: number[] = [];
    const entry = scheduler.entry((now) => {
      seen.push(now);
      if (seen.length === 1) entry.schedule(now);
      else entry.schedule(null);
    });
    entry.schedule(250);
    pending.shift()?.();
    expect(seen).toEqual([250, 250]);
    expect(scheduler.size).toBe(0);
  });

  it('a ScheduledNode is its own entry on the shared scheduler (no entry object); on a second scheduler it is a plain wake target', () => {
    vi.useFakeTimers();
    class Connection extends ScheduledNode {
      readonly woke: number[] = [];
      wake(now: number): void {
        this.woke.push(now);
      }
    }
    const first = createScheduler();
    const second = createScheduler();
    const node = new Connection();
    const entry = first.entry(node);
    expect(entry).toBe(node);
    const elsewhere = second.entry(node);
    expect(elsewhere).not.toBe(node);
    entry.schedule(10);
    elsewhere.schedule(20);
    expect(node.deadline).toBe(10);
    expect(first.size).toBe(1);
    vi.advanceTimersByTime(20);
    expect(node.woke).toEqual([10, 20]);
    // Woken without re-scheduling: done with its deadline. Disposed: scheduling again does nothing.
    expect(node.deadline).toBeNull();
    node.schedule(30);
    node.dispose();
    node.schedule(40);
    expect(first.size).toBe(0);
    expect(first.osTimersArmed).toBe(0);
    vi.advanceTimersByTime(50);
    expect(node.woke).toEqual([10, 20]);
    elsewhere.dispose();
  });

  it('fires at the armed deadline even if the clock has not reached it', () => {
    const pending: (() => void)[] = [];
    const platform: Platform = {
      now: () => 0,
      setTimeout: (fn) => {
        pending.push(fn);
        return pending.length;
      },
      clearTimeout: () => undefined,
      unref: () => undefined,
    };
    const scheduler = createScheduler({ platform });
    const seen: number[] = [];
    const entry = scheduler.entry((now) => {
      seen.push(now);
      entry.dispose();
    });
    entry.schedule(250);
    pending.shift()?.();
    expect(seen).toEqual([250]);
    expect(scheduler.hold()).toBeTypeOf('function');
  });

  it('the default scheduler is one process-wide instance', () => {
    expect(defaultScheduler()).toBe(defaultScheduler());
  });
});
