import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import type { Platform } from './clock.js';
import { ManualPlatform } from './test-support/manual-platform.js';
import { createHeapScheduler } from './test-support/heap-scheduler.js';
import { ScheduledNode, createScheduler, laneKey, type ScheduledEntry, type Scheduler } from './scheduler.js';

/** What an entry does when woken. */
type Behaviour =
  | { readonly kind: 'interval'; readonly ms: number }
  | { readonly kind: 'once' }
  | { readonly kind: 'stay' }
  | { readonly kind: 'other'; readonly slot: number; readonly delay: number }
  | { readonly kind: 'dispose' };

type Op =
  | { readonly k: 'schedule'; readonly slot: number; readonly delay: number }
  | { readonly k: 'cancel'; readonly slot: number }
  | { readonly k: 'dispose'; readonly slot: number }
  | { readonly k: 'advance'; readonly ms: number };

const SLOTS = 12;
const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('interval' as const), ms: fc.constantFrom(100, 250, 1_000, 30_000) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'once' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'stay' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('other' as const), slot: fc.nat(SLOTS - 1), delay: fc.integer({ min: -50, max: 2_000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'dispose' as const }) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('schedule' as const), slot: fc.nat(SLOTS - 1), delay: fc.integer({ min: -100, max: 40_000 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('cancel' as const), slot: fc.nat(SLOTS - 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('dispose' as const), slot: fc.nat(SLOTS - 1) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 5_000 }) }) },
);

/** A scheduler node (an object that is its own entry, as a server's connection is). */
class WakeNode extends ScheduledNode {
  constructor(private readonly fn: (now: number) => void) {
    super();
  }
  wake(now: number): void {
    this.fn(now);
  }
}

/**
 * Runs one op sequence on a scheduler and returns every wake (`slot@time`)
 * and what it showed after each op. Deadlines carry a per-slot fraction
 * (slot ÷ 1000), so no two entries are ever due at the same instant and the
 * fire order is fully determined by the deadlines.
 */
function run(make: (platform: Platform) => Scheduler, behaviours: readonly Behaviour[], ops: readonly Op[]): string[] {
  const platform = new ManualPlatform();
  const scheduler = make(platform);
  const log: string[] = [];
  const fraction = (slot: number): number => slot / 1_000;
  const entries: ScheduledEntry[] = behaviours.map((b, slot) => {
    // Odd slots are nodes (their own entry on the lane scheduler, a plain wake target on the heap reference).
    const wake = (now: number): void => {
      log.push(`${slot}@${now}`);
      switch (b.kind) {
        case 'interval':
          entry.schedule((entry.deadline ?? now) + b.ms);
          return;
        case 'once':
          entry.schedule(null);
          return;
        case 'stay':
          return;
        case 'other':
          entries[b.slot]?.schedule(Math.floor(now) + b.delay + fraction(b.slot));
          if (b.slot !== slot) entry.schedule(null);
          return;
        case 'dispose':
          entry.dispose();
          return;
      }
    };
    const entry: ScheduledEntry = scheduler.entry(slot % 2 === 1 ? new WakeNode(wake) : wake);
    return entry;
  });
  for (const o of ops) {
    if (o.k === 'schedule') entries[o.slot]?.schedule(Math.floor(platform.time) + o.delay + fraction(o.slot));
    else if (o.k === 'cancel') entries[o.slot]?.schedule(null);
    else if (o.k === 'dispose') entries[o.slot]?.dispose();
    else platform.advance(platform.time + o.ms);
    log.push(`size=${scheduler.size} armed=${String(scheduler.armedFor)} os=${scheduler.osTimersArmed} ${entries.map((e) => String(e.deadline)).join(',')}`);
  }
  return log;
}

describe('lane scheduler against the reference heap', () => {
  test.prop([fc.array(behaviour, { minLength: SLOTS, maxLength: SLOTS }), fc.array(op, { maxLength: 120 })], { numRuns: 300 })(
    'fires the same entries at the same times in the same order, and shows the same deadlines, for any schedule/cancel/re-arm/dispose sequence',
    (behaviours, ops) => {
      expect(run((platform) => createScheduler({ platform }), behaviours, ops)).toEqual(run(createHeapScheduler, behaviours, ops));
    },
  );

  test.prop([fc.array(fc.integer({ min: 0, max: 60_000 }), { minLength: 1, maxLength: 200 })])(
    'entries scheduled together and due at the same instant fire in the order they were scheduled; every entry at its own deadline',
    (delays) => {
      const platform = new ManualPlatform();
      const scheduler = createScheduler({ platform });
      const woke: [number, number][] = [];
      const entries = delays.map((_, i) => {
        const entry: ScheduledEntry = scheduler.entry((now) => {
          woke.push([i, now]);
          entry.schedule(null);
        });
        return entry;
      });
      // Rounded to 1 s so that many share an instant.
      delays.forEach((delay, i) => entries[i]?.schedule(Math.round(delay / 1_000) * 1_000));
      platform.advance(61_000);
      const expected = delays.map((delay, i) => [i, Math.round(delay / 1_000) * 1_000] as [number, number]).sort((a, b) => a[1] - b[1] || a[0] - b[0]);
      expect(woke).toEqual(expected);
      expect(scheduler.size).toBe(0);
      expect(scheduler.osTimersArmed).toBe(0);
    },
  );
});

describe('lane scheduler', () => {
  it('100,000 entries re-arming one interval ahead stay in one lane and each fires at its own deadline', () => {
    const platform = new ManualPlatform();
    const scheduler = createScheduler({ platform });
    const interval = 30_000;
    let fires = 0;
    let wrong = 0;
    const entries = Array.from({ length: 100_000 }, (_, i) => {
      const entry: ScheduledEntry = scheduler.entry((now) => {
        fires++;
        // Never early; late only by the timer's rounding to whole milliseconds.
        const late = now - (entry.deadline as number);
        if (late < 0 || late >= 1) wrong++;
        entry.schedule((entry.deadline as number) + interval);
      });
      // Phases spread over the interval, as connections arrive.
      entry.schedule(interval + (i * interval) / 100_000);
      return entry;
    });
    let end = 0;
    for (let t = 0; t <= 3 * interval; t += 7) platform.advance((end = t));
    let expected = 0;
    for (let i = 0; i < 100_000; i++) for (let at = interval + (i * interval) / 100_000; at <= end; at += interval) expected++;
    expect(fires).toBe(expected);
    expect(fires).toBeGreaterThan(199_000);
    expect(wrong).toBe(0);
    expect(scheduler.osTimersArmed).toBe(1);
    for (const entry of entries) entry.dispose();
    expect(scheduler.size).toBe(0);
    expect(scheduler.osTimersArmed).toBe(0);
  });

  it('at the same instant, what was scheduled for the shorter delay fires first (a tick before a longer check due with it)', () => {
    const platform = new ManualPlatform();
    const scheduler = createScheduler({ platform });
    const woke: string[] = [];
    const idle = scheduler.entry(() => {
      woke.push('idle');
      idle.dispose();
    });
    const tick = scheduler.entry(() => {
      woke.push('tick');
      tick.dispose();
    });
    idle.schedule(1_000);
    platform.advance(900);
    tick.schedule(1_000);
    platform.advance(1_000);
    expect(woke).toEqual(['tick', 'idle']);
  });

  it('laneKey keeps five leading bits of the delay (lanes about 3 % wide)', () => {
    expect(laneKey(-5)).toBe(0);
    expect(laneKey(0.5)).toBe(0);
    expect(laneKey(17)).toBe(17);
    expect(laneKey(30_000)).toBe(29_696);
    expect(laneKey(29_999.5)).toBe(29_696);
    expect(laneKey(31_000)).toBe(30_720);
    expect(laneKey(Number.MAX_SAFE_INTEGER)).toBe(laneKey(0x7fffffff));
  });

  it('drops a lane when it empties (arbitrary delays do not pile up lanes)', () => {
    const platform = new ManualPlatform();
    const scheduler = createScheduler({ platform });
    const entry = scheduler.entry(() => entry.schedule(null));
    // 200 different delay classes, one after another.
    for (let i = 0; i < 200; i++) entry.schedule(2 ** (i % 30) + i);
    entry.schedule(null);
    const other = scheduler.entry(() => other.schedule(null));
    other.schedule(5);
    platform.advance(10);
    expect(scheduler.size).toBe(0);
  });

  test.prop([fc.array(fc.double({ min: 0, max: 5_000, noNaN: true }), { minLength: 1, maxLength: 300 }), fc.constantFrom(1, 4, 8, 25)])(
    'precisionMs: never early, at most precisionMs (+1 ms of timer rounding) late, and at most one OS wake per precisionMs',
    (deadlines, precisionMs) => {
      const platform = new ManualPlatform();
      const scheduler = createScheduler({ platform, precisionMs });
      const wakes = new Set<number>();
      let worst = 0;
      let early = 0;
      deadlines.forEach((deadline) => {
        const entry: ScheduledEntry = scheduler.entry((now) => {
          wakes.add(now);
          if (now < deadline) early++;
          worst = Math.max(worst, now - deadline);
          entry.dispose();
        });
        entry.schedule(deadline);
      });
      for (let t = 0; t <= 5_100; t += 0.5) platform.advance(t);
      expect(scheduler.size).toBe(0);
      expect(early).toBe(0);
      expect(worst).toBeLessThanOrEqual(precisionMs + 1);
      const times = [...wakes].sort((a, b) => a - b);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(precisionMs);
    },
  );

  it('precisionMs: a bad value throws naming the option', () => {
    for (const bad of [-1, Number.NaN, 2_000, '5']) expect(() => createScheduler({ precisionMs: bad as number })).toThrow(/precisionMs/);
  });
});

