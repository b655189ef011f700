import { afterEach, describe, expect, it, vi } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { MAX_DURATION_MS } from '@keepalive/core';
import type { Platform } from './clock.js';
import { ManualPlatform } from './test-support/manual-platform.js';
import { ScanScheduler, createScanScheduler } from './scan-scheduler.js';
import { ScheduledNode, defaultClientScheduler as sharedClientScheduler, defaultScheduler, type ScheduledEntry, type Scheduler } from './index.js';
import { defaultClientScheduler as pageClientScheduler } from './index.browser.js';
import { sharedRuntime } from './runtime.js';
import { createHeapScheduler } from './test-support/heap-scheduler.js';

/** An entry that records each wake (`name@now`) and asks for no new deadline (it is then done with it). */
function once(scheduler: Scheduler, name: string, log: string[]): ScheduledEntry {
  return scheduler.entry((now) => {
    log.push(`${name}@${now}`);
  });
}

describe('scan scheduler', () => {
  it('wakes each entry at its deadline, earliest first, never before it; one timer armed for the earliest', () => {
    const platform = new ManualPlatform();
    const scheduler = createScanScheduler({ platform });
    const log: string[] = [];
    const c = once(scheduler, 'c', log);
    const a = once(scheduler, 'a', log);
    const b = once(scheduler, 'b', log);
    c.schedule(300);
    a.schedule(100.5);
    b.schedule(200);
    expect(scheduler.size).toBe(3);
    expect(scheduler.osTimersArmed).toBe(1);
    expect(platform.timers.size).toBe(1);
    expect(scheduler.armedFor).toBe(100.5);
    // A whole millisecond later than the clock at most (timers take whole milliseconds), never earlier.
    expect([...platform.timers.values()][0]?.delay).toBe(101);
    platform.advance(100);
    expect(log).toEqual([]);
    platform.advance(1_000);
    expect(log).toEqual(['a@101', 'b@200', 'c@300']);
    expect(scheduler.size).toBe(0);
    expect(scheduler.osTimersArmed).toBe(0);
    expect(scheduler.armedFor).toBeNull();
    expect(platform.timers.size).toBe(0);
    expect([a.deadline, b.deadline, c.deadline]).toEqual([null, null, null]);
  });

  it('wakes every entry due by the fire in one fire, each with the fire time, in deadline order', () => {
    const platform = new ManualPlatform();
    const scheduler = createScanScheduler({ platform });
    const log: string[] = [];
    once(scheduler, 'late', log).schedule(40);
    once(scheduler, 'early', log).schedule(10);
    // The timer fires late (the page was busy): both are due by then.
    const fire = platform.take();
    platform.time = 50;
    fire();
    expect(log).toEqual(['early@50', 'late@50']);
  });

  test.prop([fc.array(fc.double({ min: 0, max: 5_000, noNaN: true }), { minLength: 1, maxLength: 12 }), fc.array(fc.double({ min: 0, max: 5_000, noNaN: true }), { maxLength: 12 })])(
    'never wakes an entry before its deadline (by its time or by the clock), and at most 1 ms (timer rounding) after it',
    (deadlines, stops) => {
      const platform = new ManualPlatform();
      const scheduler = createScanScheduler({ platform });
      let early = 0;
      let worst = 0;
      let wakes = 0;
      for (const deadline of deadlines) {
        const entry: ScheduledEntry = scheduler.entry((now) => {
          wakes++;
          if (now < deadline || platform.now() < deadline) early++;
          worst = Math.max(worst, now - deadline);
          entry.dispose();
        });
        entry.schedule(deadline);
      }
      // The clock stops anywhere on the way (timers armed again from there), then runs past every deadline.
      for (const stop of [...stops].sort((a, b) => a - b)) platform.advance(stop);
      platform.advance(5_010);
      expect(wakes).toBe(deadlines.length);
      expect(early).toBe(0);
      expect(worst).toBeLessThanOrEqual(1);
      expect(scheduler.size).toBe(0);
    },
  );

  it('a moved deadline re-arms the timer: later, earlier, or to nothing', () => {
    const platform = new ManualPlatform();
    const scheduler = createScanScheduler({ platform });
    const log: string[] = [];
    const a = once(scheduler, 'a', log);
    const b = once(scheduler, 'b', log);
    a.schedule(1_000);
    b.schedule(500);
    expect(scheduler.armedFor).toBe(500);
    b.schedule(2_000);
    expect(scheduler.armedFor).toBe(1_000);
    a.schedule(100);
    expect(scheduler.armedFor).toBe(100);
    a.schedule(null);
    expect(a.deadline).toBeNull();
    expect(scheduler.size).toBe(1);
    expect(scheduler.armedFor).toBe(2_000);
    expect(platform.timers.size).toBe(1);
    platform.advance(1_999);
    expect(log).toEqual([]);
    platform.advance(2_000);
    expect(log).toEqual(['b@2000']);
    b.schedule(null);
    expect(scheduler.osTimersArmed).toBe(0);
  });

  it('touches the timer only when the earliest deadline changes, and once per fire however many wakes re-arm', () => {
    const platform = new ManualPlatform();
    const arms = vi.spyOn(platform, 'setTimeout');
    const clears = vi.spyOn(platform, 'clearTimeout');
    const scheduler = createScanScheduler({ platform });
    const a: ScheduledEntry = scheduler.entry(() => {
      a.schedule((a.deadline as number) + 1_000);
    });
    const b: ScheduledEntry = scheduler.entry(() => {
      b.schedule((b.deadline as number) + 1_000);
    });
    a.schedule(100);
    b.schedule(200);
    b.schedule(150);
    expect(arms).toHaveBeenCalledTimes(1);
    expect(clears).not.toHaveBeenCalled();
    // Both due in one fire, both re-arming in their wakes: one new timer, for the earliest of their next deadlines.
    const fire = platform.take();
    platform.time = 150;
    fire();
    expect(arms).toHaveBeenCalledTimes(2);
    expect(arms).toHaveBeenLastCalledWith(expect.any(Function), 950);
    expect(scheduler.armedFor).toBe(1_100);
    expect(clears).not.toHaveBeenCalled();
  });

  it('a disposed entry is never woken, and scheduling it again does nothing', () => {
    const platform = new ManualPlatform();
    const scheduler = createScanScheduler({ platform });
    const log: string[] = [];
    const a = once(scheduler, 'a', log);
    const b = once(scheduler, 'b', log);
    a.schedule(10);
    b.schedule(20);
    a.dispose();
    a.schedule(5);
    a.dispose();
    expect(a.deadline).toBeNull();
    expect(scheduler.size).toBe(1);
    expect(scheduler.armedFor).toBe(20);
    platform.advance(100);
    expect(log).toEqual(['b@20']);
    // An entry disposed by another's wake, both due in the same fire, is not woken.
    const victim = once(scheduler, 'victim', log);
    scheduler.entry(() => {
      log.push('killer');
      victim.dispose();
    }).schedule(200);
    victim.schedule(200.5);
    platform.advance(300);
    expect(log).toEqual(['b@20', 'killer']);
    expect(scheduler.size).toBe(0);
  });

  it('entries due at the same instant wake in the order they were (last) scheduled', () => {
    const platform = new ManualPlatform();
    const scheduler = createScanScheduler({ platform });
    const log: string[] = [];
    const a = once(scheduler, 'a', log);
    const b = once(scheduler, 'b', log);
    const c = once(scheduler, 'c', log);
    a.schedule(50);
    b.schedule(50);
    c.schedule(50);
    // a moves away and back: it is now the last scheduled.
    a.schedule(60);
    a.schedule(50);
    platform.advance(50);
    expect(log).toEqual(['b@50', 'c@50', 'a@50']);
  });

  it('an entry that re-arms in its wake keeps ticking at its own deadlines; one that asks again for a due deadline is woken again', () => {
    const platform = new ManualPlatform();
    const scheduler = createScanScheduler({ platform });
    const ticks: number[] = [];
    const tick: ScheduledEntry = scheduler.entry((now) => {
      ticks.push(now);
      tick.schedule((tick.deadline as number) + 100);
    });
    tick.schedule(100);
    platform.advance(450);
    expect(ticks).toEqual([100, 200, 300, 400]);
    expect(tick.deadline).toBe(500);
    tick.dispose();
    // The same deadline again (a step that moved to a phase due at once): not lost.
    const seen: number[] = [];
    const again: ScheduledEntry = scheduler.entry((now) => {
      seen.push(now);
      if (seen.length < 3) again.schedule(now);
    });
    again.schedule(500);
    platform.advance(600);
    expect(seen).toEqual([500, 500, 500]);
    expect(again.deadline).toBeNull();
    expect(scheduler.osTimersArmed).toBe(0);
  });

  it('a waker that throws, or that does not move its deadline, cannot stall the others', () => {
    const platform = new ManualPlatform();
    const scheduler = createScanScheduler({ platform });
    const log: string[] = [];
    scheduler.entry(() => {
      throw new Error('x');
    }).schedule(10);
    once(scheduler, 'stuck', log).schedule(10);
    once(scheduler, 'ok', log).schedule(10);
    platform.advance(10);
    expect(log).toEqual(['stuck@10', 'ok@10']);
    expect(scheduler.size).toBe(0);
    expect(scheduler.osTimersArmed).toBe(0);
  });

  it('a wake that asks for the same due deadline forever ends the fire at the guard, and stays armed, not lost', () => {
    const platform = new ManualPlatform();
    const scheduler = createScanScheduler({ platform });
    let wakes = 0;
    const loop: ScheduledEntry = scheduler.entry((now) => {
      wakes++;
      loop.schedule(now);
    });
    loop.schedule(10);
    const fire = platform.take();
    platform.time = 10;
    fire();
    expect(wakes).toBe(1 * 4 + 16);
    expect(loop.deadline).toBe(10);
    expect(scheduler.armedFor).toBe(10);
    expect(platform.timers.size).toBe(1);
    loop.dispose();
    expect(scheduler.osTimersArmed).toBe(0);
    expect(platform.timers.size).toBe(0);
  });

  it('the fire stands for the deadline it was armed for when the clock lags the timer', () => {
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
    const scheduler = createScanScheduler({ platform });
    const seen: number[] = [];
    scheduler.entry((now) => seen.push(now)).schedule(250);
    pending.shift()?.();
    expect(seen).toEqual([250]);
  });

  it('a deadline beyond the longest timer is reached in two fires, not woken at the first', () => {
    const platform = new ManualPlatform();
    const scheduler = createScanScheduler({ platform });
    const log: string[] = [];
    const far = MAX_DURATION_MS + 1_000;
    once(scheduler, 'far', log).schedule(far);
    expect([...platform.timers.values()].map((timer) => timer.delay)).toEqual([MAX_DURATION_MS]);
    platform.advance(MAX_DURATION_MS);
    expect(log).toEqual([]);
    expect(scheduler.armedFor).toBe(far);
    expect([...platform.timers.values()].map((timer) => timer.delay)).toEqual([1_000]);
    platform.advance(far);
    expect(log).toEqual([`far@${far}`]);
  });

  it('unrefs its timer; each hold is the platform hold, released once; no hold where the platform has none', () => {
    const platform = new ManualPlatform({ holds: true });
    const unref = vi.spyOn(platform, 'unref');
    const scheduler = createScanScheduler({ platform });
    scheduler.entry(() => undefined).schedule(10);
    expect(unref).toHaveBeenCalledTimes(1);
    const first = scheduler.hold();
    const second = scheduler.hold();
    expect(platform.holds).toBe(2);
    first();
    first();
    expect(platform.holds).toBe(1);
    second();
    expect(platform.holds).toBe(0);
    const release = createScanScheduler({ platform: new ManualPlatform() }).hold();
    expect(() => {
      release();
    }).not.toThrow();
  });

  it('a ScheduledNode is a plain wake target on it (woken through wake(now), scheduled through the returned entry)', () => {
    const platform = new ManualPlatform();
    const scheduler = createScanScheduler({ platform });
    class Connection extends ScheduledNode {
      readonly woke: number[] = [];
      wake(now: number): void {
        this.woke.push(now);
      }
    }
    const node = new Connection();
    const entry = scheduler.entry(node);
    expect(entry).not.toBe(node);
    entry.schedule(10);
    platform.advance(10);
    expect(node.woke).toEqual([10]);
  });

  it('reads the default platform (the global timers) at each call: fake timers drive it', () => {
    vi.useFakeTimers();
    try {
      const scheduler = createScanScheduler();
      const start = scheduler.now();
      const seen: number[] = [];
      const entry: ScheduledEntry = scheduler.entry((now) => {
        seen.push(now - start);
        if (seen.length < 3) entry.schedule((entry.deadline as number) + 1_000);
      });
      entry.schedule(start + 1_000);
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(5_000);
      expect(seen).toEqual([1_000, 2_000, 3_000]);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

/** What an entry does when woken (the comparison with the reference heap). */
type Behaviour = { readonly kind: 'interval'; readonly ms: number } | { readonly kind: 'stay' } | { readonly kind: 'other'; readonly slot: number; readonly delay: number } | { readonly kind: 'dispose' };
type Op =
  | { readonly k: 'schedule'; readonly slot: number; readonly delay: number }
  | { readonly k: 'cancel'; readonly slot: number }
  | { readonly k: 'dispose'; readonly slot: number }
  | { readonly k: 'advance'; readonly ms: number };

const SLOTS = 6;
const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('interval' as const), ms: fc.constantFrom(100, 250, 1_000, 30_000) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'stay' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('other' as const), slot: fc.nat(SLOTS - 1), delay: fc.integer({ min: -50, max: 2_000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'dispose' as const }) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('schedule' as const), slot: fc.nat(SLOTS - 1), delay: fc.integer({ min: -100, max: 40_000 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('cancel' as const), slot: fc.nat(SLOTS - 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('dispose' as const), slot: fc.nat(SLOTS - 1) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 5_000 }) }) },
);

/**
 * Every wake (`slot@time`) and, after each op, what the scheduler shows. Deadlines carry a per-slot fraction, so no
 * two entries are due at the same instant and the order is fixed by the deadlines alone.
 */
function run(make: (platform: Platform) => Scheduler, behaviours: readonly Behaviour[], ops: readonly Op[]): string[] {
  const platform = new ManualPlatform();
  const scheduler = make(platform);
  const log: string[] = [];
  const fraction = (slot: number): number => slot / 1_000;
  const entries: ScheduledEntry[] = behaviours.map((b, slot) => {
    const entry: ScheduledEntry = scheduler.entry((now) => {
      log.push(`${slot}@${now}`);
      if (b.kind === 'interval') entry.schedule((entry.deadline ?? now) + b.ms);
      else if (b.kind === 'dispose') entry.dispose();
      else if (b.kind === 'other') {
        entries[b.slot]?.schedule(Math.floor(now) + b.delay + fraction(b.slot));
        if (b.slot !== slot) entry.schedule(null);
      }
    });
    return entry;
  });
  for (const o of ops) {
    if (o.k === 'schedule') entries[o.slot]?.schedule(Math.floor(platform.time) + o.delay + fraction(o.slot));
    else if (o.k === 'cancel') entries[o.slot]?.schedule(null);
    else if (o.k === 'dispose') entries[o.slot]?.dispose();
    else platform.advance(platform.time + o.ms);
    log.push(`size=${scheduler.size} armed=${String(scheduler.armedFor)} os=${scheduler.osTimersArmed} timers=${platform.timers.size} ${entries.map((e) => String(e.deadline)).join(',')}`);
  }
  return log;
}

describe('scan scheduler against the reference heap', () => {
  test.prop([fc.array(behaviour, { minLength: SLOTS, maxLength: SLOTS }), fc.array(op, { maxLength: 100 })], { numRuns: 300 })(
    'wakes the same entries at the same times in the same order, and shows the same deadlines and timer, for any schedule/cancel/re-arm/dispose sequence',
    (behaviours, ops) => {
      expect(run((platform) => createScanScheduler({ platform }), behaviours, ops)).toEqual(run(createHeapScheduler, behaviours, ops));
    },
  );
});

describe("a browser build's client scheduler (index.browser.ts)", () => {
  const runtime = sharedRuntime();
  afterEach(() => {
    vi.useRealTimers();
    delete runtime.pageScheduler;
  });

  it('is one scan scheduler for the page, apart from the lane scheduler; elsewhere the clients share the default scheduler', () => {
    delete runtime.pageScheduler;
    const page = pageClientScheduler();
    expect(page).toBeInstanceOf(ScanScheduler);
    expect(pageClientScheduler()).toBe(page);
    expect(page).not.toBe(defaultScheduler());
    expect(sharedClientScheduler()).toBe(defaultScheduler());
  });

  it("runs on the page's timers, looked up at each call (fake timers drive it), and holds nothing", () => {
    vi.useFakeTimers();
    const scheduler = pageClientScheduler();
    const start = scheduler.now();
    const seen: number[] = [];
    const entry: ScheduledEntry = scheduler.entry((now) => {
      seen.push(now - start);
      entry.schedule(seen.length < 2 ? (entry.deadline as number) + 500 : null);
    });
    entry.schedule(start + 500);
    const release = scheduler.hold();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(499);
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(2_000);
    expect(seen).toEqual([500, 1_000]);
    expect(vi.getTimerCount()).toBe(0);
    release();
    expect(scheduler.osTimersArmed).toBe(0);
  });
});
