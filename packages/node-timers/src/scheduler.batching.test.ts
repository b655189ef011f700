import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { defaultPlatform, type TimerHandle } from './clock.js';
import { ManualPlatform } from './test-support/manual-platform.js';
import { PASS_CHECK_EVERY, ScheduledNode, createScheduler, slackClass, type ScheduledEntry, type Scheduler } from './scheduler.js';

/** `count` entries re-arming one `interval` ahead (drift-free), phases spread over the interval with fractional offsets. */
function periodic(scheduler: Scheduler, platform: ManualPlatform, count: number, interval: number, slackMs: number) {
  const late: number[] = [];
  let early = 0;
  let fires = 0;
  const entries: ScheduledEntry[] = [];
  for (let i = 0; i < count; i++) {
    const entry = scheduler.entry((now) => {
      const due = entry.deadline as number;
      fires++;
      if (now < due) early++;
      late.push(now - due);
      entry.schedule(due + interval, slackMs);
    });
    entry.schedule(platform.time + 1 + ((i + 0.37) * interval) / count, slackMs);
    entries.push(entry);
  }
  return {
    entries,
    get fires() {
      return fires;
    },
    get early() {
      return early;
    },
    worstLate: () => late.reduce((a, b) => Math.max(a, b), 0),
  };
}

/** `count` entries due at `deadline` (with `slackMs`), each moving the clock `costMs` when woken (work taking time), then disposed. */
function oneShots(scheduler: Scheduler, platform: ManualPlatform, count: number, costMs: number, deadline: number, slackMs = 0): { readonly fired: number } {
  const run = { fired: 0 };
  for (let i = 0; i < count; i++) {
    const entry = scheduler.entry(() => {
      run.fired++;
      platform.time += costMs;
      entry.dispose();
    });
    entry.schedule(deadline, slackMs);
  }
  return run;
}

describe('slack: the wake rate follows the work', () => {
  it('5,000 entries at a 1 s interval with 31 ms of slack: at most one wake per 31 ms, each fire on time within it (exact: a wake per millisecond)', () => {
    const platform = new ManualPlatform({ maxFires: 50_000 });
    const scheduler = createScheduler({ platform });
    const run = periodic(scheduler, platform, 5_000, 1_000, 31.25);
    platform.advance(10_000);
    // Every deadline up to 10 s fired (about 50,000), none early, none later than the slack (+1 ms of timer rounding).
    expect(run.fires).toBeGreaterThanOrEqual(49_000);
    expect(run.early).toBe(0);
    expect(run.worstLate()).toBeLessThanOrEqual(slackClass(31.25) + 1);
    // The bound the precision implies: after a wake at t every entry due by t has fired, so the next wake is past the
    // next deadline + 31: at most 10,000 / 31 + 1 wakes in 10 s.
    expect(slackClass(31.25)).toBe(31);
    expect(platform.wakes).toBeLessThanOrEqual(Math.floor(10_000 / 31) + 1);
    expect(scheduler.osTimersArmed).toBe(1);
    for (const entry of run.entries) entry.dispose();
    expect(scheduler.size).toBe(0);
    expect(scheduler.osTimersArmed).toBe(0);
  });

  it('the same entries without slack wake once per millisecond that has a deadline (what the slack saves)', () => {
    const platform = new ManualPlatform({ maxFires: 50_000 });
    const scheduler = createScheduler({ platform });
    const run = periodic(scheduler, platform, 5_000, 1_000, 0);
    platform.advance(10_000);
    expect(run.fires).toBeGreaterThanOrEqual(49_000);
    expect(run.worstLate()).toBeLessThan(1);
    expect(platform.wakes).toBeGreaterThan(9_000);
  });

  it('at 30 s with 313 ms of slack: at most one wake per 312 ms whatever the number of entries', () => {
    for (const count of [1_000, 20_000]) {
      const platform = new ManualPlatform({ maxFires: 50_000 });
      const scheduler = createScheduler({ platform });
      const run = periodic(scheduler, platform, count, 30_000, 312.5);
      platform.advance(61_000);
      // Every deadline whose latest moment is past fired; none that is not due yet.
      const deadlines = Array.from({ length: count }, (_, i) => 1 + ((i + 0.37) * 30_000) / count).flatMap((first) => [first, first + 30_000, first + 60_000]);
      expect(run.fires).toBeGreaterThanOrEqual(deadlines.filter((d) => d + 305 <= 61_000).length);
      expect(run.fires).toBeLessThanOrEqual(deadlines.filter((d) => d <= 61_000).length);
      expect(run.early).toBe(0);
      expect(run.worstLate()).toBeLessThanOrEqual(304 + 1);
      expect(platform.wakes).toBeLessThanOrEqual(Math.floor(61_000 / 304) + 1);
      for (const entry of run.entries) entry.dispose();
    }
  });

  it('a few entries far apart still get one wake each (the rate follows the work, not a tick)', () => {
    const platform = new ManualPlatform({ maxFires: 50_000 });
    const scheduler = createScheduler({ platform });
    const run = periodic(scheduler, platform, 3, 30_000, 312.5);
    platform.advance(90_000);
    expect(run.fires).toBe(9);
    expect(platform.wakes).toBe(9);
  });

  it('an entry with slack is woken at its deadline when the scheduler was quiet; within its slack of the last wake, it waits and rides along', () => {
    const platform = new ManualPlatform({ maxFires: 50_000 });
    const scheduler = createScheduler({ platform });
    const woke: string[] = [];
    const lax = scheduler.entry((now) => woke.push(`lax@${now}`));
    const other = scheduler.entry((now) => woke.push(`other@${now}`));
    const strict = scheduler.entry((now) => woke.push(`strict@${now}`));
    // Quiet: at its very deadline.
    lax.schedule(100, 50);
    expect(scheduler.armedFor).toBe(100);
    platform.advance(100);
    expect(woke).toEqual(['lax@100']);
    // 20 ms after that wake, with 50 ms of slack: it waits for 150, and the strict entry due at 140 takes it along.
    lax.schedule(120, 50);
    other.schedule(125, 50);
    expect(scheduler.armedFor).toBe(150);
    strict.schedule(140);
    expect(scheduler.armedFor).toBe(140);
    platform.advance(200);
    expect(woke).toEqual(['lax@100', 'lax@140', 'other@140', 'strict@140']);
    expect(platform.wakes).toBe(2);
    // The same deadline with another slack is a move (the timer follows it).
    lax.schedule(160, 50);
    expect(scheduler.armedFor).toBe(190);
    lax.schedule(160, 8);
    expect(scheduler.armedFor).toBe(160);
    lax.schedule(300, 8);
    expect(scheduler.armedFor).toBe(300);
    for (const entry of [lax, other, strict]) entry.dispose();
    expect(scheduler.osTimersArmed).toBe(0);
  });

  it('a ScheduledNode takes a slack too; slack is rounded down to five leading bits, capped, and 0 under 1 ms', () => {
    class Node extends ScheduledNode {
      readonly woke: number[] = [];
      wake(now: number): void {
        this.woke.push(now);
      }
    }
    const platform = new ManualPlatform({ maxFires: 50_000 });
    const scheduler = createScheduler({ platform });
    const node = new Node();
    expect(scheduler.entry(node)).toBe(node);
    node.schedule(1_000, 100);
    expect(scheduler.armedFor).toBe(1_000);
    platform.advance(1_000);
    node.schedule(1_050, 100);
    expect(scheduler.armedFor).toBe(1_100);
    platform.advance(2_000);
    expect(node.woke).toEqual([1_000, 1_100]);
    expect([slackClass(0), slackClass(0.9), slackClass(-3), slackClass(Number.NaN), slackClass(17.5), slackClass(100), slackClass(312.5), slackClass(1e9)]).toEqual([
      0, 0, 0, 0, 17, 100, 304, slackClass(0xfffff),
    ]);
    expect(slackClass(0xfffff)).toBeLessThanOrEqual(0xfffff);
  });
});

describe('a pass is bounded', () => {
  it('10,000 entries due at once, 10 µs of work each: passes of at most 2 ms, the rest at once in the next wakes, in deadline order, none early', () => {
    const platform = new ManualPlatform({ maxFires: 50_000 });
    const scheduler = createScheduler({ platform });
    const order: number[] = [];
    let early = 0;
    for (let i = 0; i < 10_000; i++) {
      const deadline = 100 + i / 10_000;
      const entry = scheduler.entry((now) => {
        if (now < deadline) early++;
        order.push(i);
        platform.time += 0.01;
        entry.schedule(null);
      });
      entry.schedule(deadline);
    }
    platform.advance(1_000);
    expect(order.length).toBe(10_000);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(early).toBe(0);
    // 100 ms of work in passes of at most the budget (checked every PASS_CHECK_EVERY entries).
    const longest = Math.max(...platform.passes.map((pass) => pass.end - pass.start));
    expect(longest).toBeLessThanOrEqual(2 + PASS_CHECK_EVERY * 0.01 + 1e-9);
    expect(platform.passes.length).toBeGreaterThanOrEqual(45);
    // Each continuation was armed at once (a 0 ms timer, on a platform without setImmediate: the event loop handles its
    // I/O, then the rest is served).
    expect(platform.delays.slice(1).every((delay) => delay === 0)).toBe(true);
    expect(scheduler.size).toBe(0);
  });

  it('passBudgetMs: Infinity serves every due entry in one pass; a bad budget throws naming the option', () => {
    const platform = new ManualPlatform({ maxFires: 50_000 });
    const scheduler = createScheduler({ platform, passBudgetMs: Number.POSITIVE_INFINITY });
    const run = oneShots(scheduler, platform, 1_000, 0.1, 10);
    platform.advance(20);
    expect(run.fired).toBe(1_000);
    expect(platform.wakes).toBe(1);
    for (const bad of [0, -1, Number.NaN, '2']) expect(() => createScheduler({ passBudgetMs: bad as number })).toThrow(/passBudgetMs/);
  });

  it('a sliced pass is resumed at once even when an entry with slack moves before the next wake', () => {
    const platform = new ManualPlatform({ maxFires: 50_000 });
    const scheduler = createScheduler({ platform, passBudgetMs: 1 });
    const run = oneShots(scheduler, platform, 100, 0.5, 10, 500);
    const other = scheduler.entry(() => undefined);
    other.schedule(10_000, 500);
    // The first wake is at 10; it serves a slice, and the rest follow at once.
    platform.advance(10);
    expect(run.fired).toBeGreaterThan(0);
    expect(run.fired).toBeLessThan(100);
    other.schedule(20_000, 500);
    expect(scheduler.armedFor).toBe(10);
    platform.advance(platform.time + 200);
    expect(run.fired).toBe(100);
    // Each pass stopped at its budget: the check before every PASS_CHECK_EVERY-th entry saw more than 1 ms spent.
    expect(platform.passes.every((pass) => pass.end - pass.start <= 1 + PASS_CHECK_EVERY * 0.5)).toBe(true);
    other.dispose();
  });
});

/** A {@link ManualPlatform} with `setImmediate`: an immediate is a timer due now, recorded apart from zero timeouts. */
class ImmediatePlatform extends ManualPlatform {
  /** The clock's time at each `setImmediate`. */
  readonly immediates: number[] = [];
  /** `setTimeout(fn, 0)` calls (what a platform without `setImmediate` gets for a due deadline). */
  zeroTimeouts = 0;
  private immediate = false;

  override setTimeout(fn: () => void, delay: number): TimerHandle {
    if (delay === 0 && !this.immediate) this.zeroTimeouts++;
    return super.setTimeout(fn, delay);
  }

  setImmediate(fn: () => void): TimerHandle {
    this.immediates.push(this.time);
    this.immediate = true;
    try {
      return this.setTimeout(fn, 0);
    } finally {
      this.immediate = false;
    }
  }

  clearImmediate(handle: TimerHandle): void {
    this.clearTimeout(handle);
  }
}

describe('due deadlines run on setImmediate where the platform has it', () => {
  it('a pass cut at its budget resumes on setImmediate (no zero timeout, so no sleep between slices); a future deadline still gets setTimeout', () => {
    const platform = new ImmediatePlatform({ maxFires: 50_000 });
    const scheduler = createScheduler({ platform, passBudgetMs: 1 });
    const run = oneShots(scheduler, platform, 200, 0.05, 10, 5);
    platform.advance(100);
    expect(run.fired).toBe(200);
    // 200 entries of 0.05 ms in passes of about 1 ms: the first wake is a 10 ms timer, every continuation an immediate.
    expect(platform.delays[0]).toBe(10);
    expect(platform.passes.length).toBeGreaterThanOrEqual(5);
    expect(platform.immediates).toHaveLength(platform.passes.length - 1);
    expect(platform.zeroTimeouts).toBe(0);
    expect(scheduler.size).toBe(0);
    expect(scheduler.osTimersArmed).toBe(0);
  });

  it('a deadline already past is armed as an immediate, and removing it clears the immediate', () => {
    const platform = new ImmediatePlatform();
    platform.time = 50;
    const scheduler = createScheduler({ platform });
    let fired = 0;
    const entry = scheduler.entry(() => {
      fired++;
    });
    entry.schedule(20);
    expect(platform.immediates).toEqual([50]);
    expect(platform.pending).toBe(1);
    entry.schedule(null);
    expect(platform.pending).toBe(0);
    expect(scheduler.osTimersArmed).toBe(0);
    entry.schedule(49);
    platform.advance(50);
    expect(fired).toBe(1);
    expect(platform.zeroTimeouts).toBe(0);
    entry.dispose();
  });

  it('real timers: a pass cut at its budget inside a timer callback goes on at once, with nothing else to wake the loop', async () => {
    // Node runs an unref'd immediate only when something else wakes the event loop: the scheduler's must not be one.
    const scheduler = createScheduler({ passBudgetMs: 1 });
    const count = PASS_CHECK_EVERY * 8;
    const firedAt: number[] = [];
    let done: () => void = () => undefined;
    const all = new Promise<'all fired'>((resolve) => {
      done = () => {
        resolve('all fired');
      };
    });
    const entries = Array.from({ length: count }, () => {
      const entry = scheduler.entry(() => {
        // About 0.1 ms of work each: the pass stops at its budget several times.
        const until = performance.now() + 0.1;
        while (performance.now() < until) {
          // busy
        }
        firedAt.push(performance.now());
        entry.schedule(null);
        if (firedAt.length === count) done();
      });
      return entry;
    });
    const start = performance.now();
    for (const entry of entries) entry.schedule(start + 5);
    let guard: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      all,
      new Promise<'guard'>((resolve) => {
        guard = setTimeout(() => {
          resolve('guard');
        }, 5_000);
      }),
    ]);
    clearTimeout(guard);
    expect(outcome).toBe('all fired');
    expect(firedAt).toHaveLength(count);
    for (const entry of entries) entry.dispose();
    expect(scheduler.osTimersArmed).toBe(0);
  });

  it('the default platform: setImmediate runs its callback after the current turn, and clearImmediate stops one', async () => {
    const ran: string[] = [];
    const kept = defaultPlatform.setImmediate?.(() => ran.push('kept'));
    const cleared = defaultPlatform.setImmediate?.(() => ran.push('cleared'));
    expect(kept).toBeDefined();
    if (cleared !== undefined) defaultPlatform.clearImmediate?.(cleared);
    ran.push('sync');
    await new Promise<void>((resolve) => {
      setImmediate(resolve);
    });
    expect(ran).toEqual(['sync', 'kept']);
  });
});

/** What an entry does when woken (property tests). */
type Behaviour =
  | { readonly kind: 'interval'; readonly ms: number; readonly slack: number }
  | { readonly kind: 'once' }
  | { readonly kind: 'stay' }
  | { readonly kind: 'other'; readonly slot: number; readonly delay: number; readonly slack: number }
  | { readonly kind: 'dispose' };

type Op =
  | { readonly k: 'schedule'; readonly slot: number; readonly delay: number; readonly slack: number }
  | { readonly k: 'cancel'; readonly slot: number }
  | { readonly k: 'dispose'; readonly slot: number }
  | { readonly k: 'advance'; readonly ms: number };

const SLOTS = 10;
const slackArb = fc.constantFrom(0, 0, 0.5, 1, 3, 31.25, 100, 312.5);
const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('interval' as const), ms: fc.constantFrom(100, 250, 1_000, 30_000), slack: slackArb }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'once' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'stay' as const }) },
  // A wake schedules at least 1 ms ahead: entries that keep moving each other to a deadline already past would
  // wake each other forever on a clock that only moves between wakes (past deadlines come from the ops).
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('other' as const), slot: fc.nat(SLOTS - 1), delay: fc.integer({ min: 1, max: 2_000 }), slack: slackArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'dispose' as const }) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('schedule' as const), slot: fc.nat(SLOTS - 1), delay: fc.integer({ min: -100, max: 40_000 }), slack: slackArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('cancel' as const), slot: fc.nat(SLOTS - 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('dispose' as const), slot: fc.nat(SLOTS - 1) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 5_000 }) }) },
);

class WakeNode extends ScheduledNode {
  constructor(private readonly fn: (now: number) => void) {
    super();
  }
  wake(now: number): void {
    this.fn(now);
  }
}

describe('slack, for any schedule/cancel/re-arm/dispose sequence', () => {
  test.prop([fc.array(behaviour, { minLength: SLOTS, maxLength: SLOTS }), fc.array(op, { maxLength: 120 }), fc.constantFrom(0.05, 0)], { numRuns: 300 })(
    'never early; never later than the slack (+1 ms of timer rounding); every deadline in force fires once; one OS timer while any entry waits, armed no later than any entry may wait',
    (behaviours, ops, workPerWake) => {
      const platform = new ManualPlatform({ maxFires: 50_000 });
      const scheduler = createScheduler({ platform, passBudgetMs: 1 });
      const disposed = new Set<number>();
      /**
       * What each slot's entry was last scheduled for, as the test sees it: deadline, slack, and from when it counts
       * (the deadline, or the time it was scheduled when that was later: a deadline already past is due at once).
       */
      const model: ({ deadline: number; slack: number; from: number } | null)[] = Array.from({ length: SLOTS }, () => null);
      const problems: string[] = [];
      const fraction = (slot: number): number => slot / 1_000;
      const set = (slot: number, deadline: number | null, slack = 0): void => {
        entries[slot]?.schedule(deadline, slack);
        if (!disposed.has(slot)) model[slot] = deadline === null ? null : { deadline, slack, from: Math.max(deadline, platform.time) };
      };
      const entries: ScheduledEntry[] = behaviours.map((b, slot) => {
        const wake = (now: number): void => {
          const expected = model[slot];
          if (expected === null || expected === undefined) problems.push(`${slot} woken with nothing in force at ${now}`);
          else {
            if (now < expected.deadline) problems.push(`${slot} early: ${now} < ${expected.deadline}`);
            // A sliced pass may make a due entry later than its slack only by the work before it; none is done here
            // when workPerWake is 0, and the bound then is the slack's class plus the timer's rounding.
            if (workPerWake === 0 && now > expected.from + slackClass(expected.slack) + 1) problems.push(`${slot} late: ${now} for ${expected.deadline} + ${expected.slack}`);
          }
          if (entry.deadline !== (expected?.deadline ?? null)) problems.push(`${slot} shows ${String(entry.deadline)}`);
          // Woken and not re-scheduled: done with this deadline.
          model[slot] = null;
          platform.time += workPerWake;
          switch (b.kind) {
            case 'interval':
              set(slot, (expected?.deadline ?? now) + b.ms, b.slack);
              return;
            case 'once':
              set(slot, null);
              return;
            case 'stay':
              return;
            case 'other':
              set(b.slot, Math.floor(now) + b.delay + fraction(b.slot), b.slack);
              if (b.slot !== slot) set(slot, null);
              return;
            case 'dispose':
              entry.dispose();
              disposed.add(slot);
              model[slot] = null;
              return;
          }
        };
        const entry: ScheduledEntry = scheduler.entry(slot % 2 === 1 ? new WakeNode(wake) : wake);
        return entry;
      });
      for (const o of ops) {
        if (o.k === 'schedule') set(o.slot, Math.floor(platform.time) + o.delay + fraction(o.slot), o.slack);
        else if (o.k === 'cancel') set(o.slot, null);
        else if (o.k === 'dispose') {
          entries[o.slot]?.dispose();
          disposed.add(o.slot);
          model[o.slot] = null;
        } else {
          const to = platform.time + o.ms;
          platform.advance(to);
          // Without work, every deadline whose latest moment has passed has fired (or been moved by a wake).
          if (workPerWake === 0) {
            model.forEach((m, slot) => {
              if (m !== null && m.from + slackClass(m.slack) + 1 <= to) problems.push(`${slot} missed ${m.deadline} + ${m.slack} by ${to}`);
            });
          }
        }
        const waiting = model.filter((m) => m !== null);
        if (scheduler.size !== waiting.length) problems.push(`size ${scheduler.size}, ${waiting.length} waiting`);
        if (scheduler.osTimersArmed !== (waiting.length > 0 ? 1 : 0)) problems.push(`${scheduler.osTimersArmed} timers for ${waiting.length}`);
        const latest = Math.min(...waiting.map((m) => m.from + slackClass(m.slack)));
        if (waiting.length > 0 && (scheduler.armedFor as number) > latest) problems.push(`armed for ${String(scheduler.armedFor)} past ${latest}`);
        entries.forEach((entry, slot) => {
          if (entry.deadline !== (model[slot]?.deadline ?? null)) problems.push(`${slot} shows ${String(entry.deadline)} for ${String(model[slot]?.deadline)}`);
        });
        if (problems.length > 0) break;
      }
      expect(problems).toEqual([]);
    },
  );
});
