import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  RECONNECT_DEFAULTS,
  backoffCeiling,
  createReconnectState,
  nextRandom,
  reconnectTransition,
  type ReconnectCommand,
  type ReconnectEvent,
  type ReconnectState,
} from './index.js';

function run(state: ReconnectState, events: ReconnectEvent[]): { state: ReconnectState; commands: ReconnectCommand[] } {
  const commands: ReconnectCommand[] = [];
  for (const event of events) {
    const [next, out] = reconnectTransition(state, event);
    state = next;
    commands.push(...out);
  }
  return { state, commands };
}

describe('B6 reconnect', () => {
  it('B6: connect, lose, wait a jittered delay, reconnect, and report it', () => {
    const { state, commands } = run(createReconnectState({ initialDelayMs: 1_000 }), [
      { type: 'connect', now: 0 },
      { type: 'connected', now: 10 },
      { type: 'disconnected', now: 20, random: 0.5 },
      { type: 'timer', now: 520 },
      { type: 'connected', now: 530 },
    ]);
    expect(commands).toEqual([
      { type: 'connect', attempt: 0 },
      { type: 'diagnostic', level: 'info', name: 'reconnecting', fields: { attempt: 1, delay_ms: 500 } },
      { type: 'arm', timer: 'reconnect', deadline: 520 },
      { type: 'connect', attempt: 1 },
      { type: 'diagnostic', level: 'info', name: 'reconnected', fields: { attempts: 1 } },
    ]);
    expect(state.phase).toBe('connected');
  });

  test.prop([
    fc.integer({ min: 1, max: 1_000 }),
    fc.integer({ min: 1_000, max: 10_000 }),
    fc.option(fc.integer({ min: -1_000, max: 50_000 }), { nil: undefined }),
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    fc.integer({ min: 1, max: 8 }),
  ])('B6: a peer floor (minDelayMs) delays by at least min(floor, cap) plus the jitter, never past the cap', (initialDelayMs, maxDelayMs, minDelayMs, random, losses) => {
    let state = run(createReconnectState({ initialDelayMs, maxDelayMs }), [{ type: 'connect', now: 0 }]).state;
    let now = 0;
    for (let i = 1; i <= losses; i++) {
      const [afterLoss, commands] = reconnectTransition(state, { type: 'disconnected', now, random, minDelayMs });
      const arm = commands.find((c) => c.type === 'arm');
      expect(arm).toBeDefined();
      const delay = arm!.deadline - now;
      const floor = minDelayMs !== undefined && minDelayMs > 0 ? Math.min(minDelayMs, maxDelayMs) : 0;
      expect(delay).toBe(Math.min(maxDelayMs, floor + Math.floor(random * backoffCeiling(afterLoss.config, afterLoss.level))));
      expect(delay).toBeGreaterThanOrEqual(floor);
      expect(delay).toBeLessThanOrEqual(maxDelayMs);
      now = arm!.deadline;
      [state] = reconnectTransition(afterLoss, { type: 'timer', now });
    }
  });

  it('B6: the ceiling grows exponentially and is capped', () => {
    const config = { ...RECONNECT_DEFAULTS, initialDelayMs: 100, multiplier: 3, maxDelayMs: 2_000 };
    expect([1, 2, 3, 4, 5, 40].map((n) => backoffCeiling(config, n))).toEqual([100, 300, 900, 2_000, 2_000, 2_000]);
  });

  it('B6: consecutive failures use growing ceilings (full jitter with random close to 1)', () => {
    let state = run(createReconnectState({ initialDelayMs: 100, maxDelayMs: 1_000 }), [{ type: 'connect', now: 0 }]).state;
    const delays: unknown[] = [];
    let now = 0;
    for (let i = 0; i < 6; i++) {
      const [afterLoss, commands] = reconnectTransition(state, { type: 'disconnected', now, random: 0.999 });
      const arm = commands.find((c) => c.type === 'arm');
      delays.push(arm && arm.deadline - now);
      now = arm ? arm.deadline : now;
      [state] = reconnectTransition(afterLoss, { type: 'timer', now });
    }
    expect(delays).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it('B6: a healthy period resets the backoff level; a short one does not. B11: an opened connection resets the attempt count', () => {
    const base = run(createReconnectState({ resetAfterMs: 10_000 }), [
      { type: 'connect', now: 0 },
      { type: 'disconnected', now: 1, random: 0 },
      { type: 'timer', now: 1 },
      { type: 'disconnected', now: 2, random: 0 },
      { type: 'timer', now: 2 },
      { type: 'connected', now: 3 },
    ]).state;
    expect(base.attempt).toBe(0);
    expect(base.level).toBe(2);
    const short = reconnectTransition(base, { type: 'disconnected', now: 500, random: 0 })[0];
    expect([short.attempt, short.level]).toEqual([1, 3]);
    const healthy = reconnectTransition(base, { type: 'disconnected', now: 10_003, random: 0 })[0];
    expect([healthy.attempt, healthy.level]).toEqual([1, 1]);
  });

  it('B11: connections that open and are lost at once never exhaust maxAttempts, and their backoff still grows', () => {
    let state = run(createReconnectState({ maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 1_000 }), [{ type: 'connect', now: 0 }]).state;
    const ceilings: number[] = [];
    for (let i = 0; i < 10; i++) {
      state = reconnectTransition(state, { type: 'connected', now: i * 10 })[0];
      const [lost, commands] = reconnectTransition(state, { type: 'disconnected', now: i * 10 + 1, random: 0.999_999 });
      const arm = commands.find((command) => command.type === 'arm');
      ceilings.push(arm === undefined ? -1 : arm.deadline - (i * 10 + 1) + 1);
      expect(lost.phase).toBe('waiting');
      state = reconnectTransition(lost, { type: 'timer', now: i * 10 + 2 })[0];
    }
    expect(state.phase).toBe('connecting');
    expect(ceilings).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000]);
  });

  it('B6: no reconnect after a deliberate close; a pending one is cancelled', () => {
    const waiting = run(createReconnectState(), [
      { type: 'connect', now: 0 },
      { type: 'connected', now: 1 },
      { type: 'disconnected', now: 2, random: 0.5 },
    ]).state;
    const { state, commands } = run(waiting, [
      { type: 'stop', now: 3 },
      { type: 'timer', now: 10_000 },
      { type: 'disconnected', now: 10_001 },
      { type: 'stop', now: 10_002 },
    ]);
    expect(commands).toEqual([{ type: 'cancel', timer: 'reconnect' }]);
    expect(state.phase).toBe('stopped');
    // An explicit connect afterwards starts afresh.
    expect(reconnectTransition(state, { type: 'connect', now: 20_000 })[1]).toEqual([{ type: 'connect', attempt: 0 }]);
  });

  it('B6: the attempt limit gives up loudly', () => {
    const { state, commands } = run(createReconnectState({ maxAttempts: 2 }), [
      { type: 'connect', now: 0 },
      { type: 'disconnected', now: 1, random: 0 },
      { type: 'timer', now: 1 },
      { type: 'disconnected', now: 2, random: 0 },
      { type: 'timer', now: 2 },
      { type: 'disconnected', now: 3, random: 0 },
    ]);
    expect(state.phase).toBe('exhausted');
    expect(commands.at(-1)).toEqual({ type: 'diagnostic', level: 'warn', name: 'reconnect_exhausted', fields: { attempts: 2 } });
    expect(reconnectTransition(state, { type: 'timer', now: 4 })[0]).toBe(state);
  });

  it('B6: events out of phase change nothing', () => {
    const idle = createReconnectState();
    for (const event of [
      { type: 'connected', now: 1 },
      { type: 'disconnected', now: 1 },
      { type: 'timer', now: 1 },
      { type: 'bogus', now: 1 },
    ] as ReconnectEvent[]) {
      expect(reconnectTransition(idle, event)[0]).toBe(idle);
    }
    const connecting = reconnectTransition(idle, { type: 'connect', now: 0 })[0];
    expect(reconnectTransition(connecting, { type: 'connect', now: 1 })[0]).toBe(connecting);
  });

  it('B6/B3: without a random input the seeded generator in the state draws; same seed, same delays', () => {
    const loss = (seed: number) =>
      run(createReconnectState({}, seed), [
        { type: 'connect', now: 0 },
        { type: 'disconnected', now: 0 },
        { type: 'timer', now: 1_000 },
        { type: 'disconnected', now: 1_000 },
      ]);
    expect(loss(42)).toEqual(loss(42));
    expect(loss(42).state.seed).not.toBe(42);
    const expected = Math.floor(nextRandom(42).value * 500);
    expect(loss(42).commands[1]).toEqual({ type: 'diagnostic', level: 'info', name: 'reconnecting', fields: { attempt: 1, delay_ms: expected } });
  });

  it('B6: an invalid random input warns and falls back to the seeded draw', () => {
    const connecting = reconnectTransition(createReconnectState(), { type: 'connect', now: 0 })[0];
    for (const random of [1, -0.1, Number.NaN]) {
      const [next, commands] = reconnectTransition(connecting, { type: 'disconnected', now: 0, random });
      expect(commands[0]).toEqual({ type: 'diagnostic', level: 'warn', name: 'invalid_random', fields: {} });
      expect(next.phase).toBe('waiting');
    }
  });

  test.prop([
    fc.integer({ min: 1, max: 10_000 }),
    fc.double({ min: 1, max: 10, noNaN: true }),
    fc.integer({ min: 0, max: 60_000 }),
    fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 30 }),
  ])('B6: every delay lies in [0, min(cap, initial * multiplier^(n-1)))', (initial, multiplier, extra, draws) => {
    const maxDelayMs = initial + extra;
    let state = reconnectTransition(createReconnectState({ initialDelayMs: initial, multiplier, maxDelayMs }), { type: 'connect', now: 0 })[0];
    let now = 0;
    draws.forEach((random, i) => {
      const [next, commands] = reconnectTransition(state, { type: 'disconnected', now, random });
      const arm = commands.find((c) => c.type === 'arm')!;
      const delay = arm.deadline - now;
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(Math.min(maxDelayMs, initial * multiplier ** i));
      expect(delay).toBeLessThanOrEqual(maxDelayMs);
      now = arm.deadline;
      state = reconnectTransition(next, { type: 'timer', now })[0];
    });
  });
});
