import { describe, expect, it } from 'vitest';
import { armedTimers, createSessionState, deadlineOf, earliestDeadline, nextRandom, pollTimeout, summarize, toSeed, isUnitInterval } from './index.js';
import { SimDriver } from './__tests__/driver.js';

describe('earliest deadline for one-timer drivers', () => {
  it('pollTimeout returns the earliest armed deadline of a session, or null', () => {
    const sim = new SimDriver({ heartbeatIntervalMs: 1_000, pongTimeoutMs: 200, stuckActivityMs: 5_000 });
    expect(pollTimeout(sim.state)).toBeNull();
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'a' });
    expect(pollTimeout(sim.state)).toBe(1_000);
    sim.advance(1_000);
    expect(pollTimeout(sim.state)).toBe(1_200);
    expect(deadlineOf(sim.state, 'stuck')).toBe(5_000);
    expect(deadlineOf(sim.state, 'idle')).toBeNull();
    expect(armedTimers(sim.state)).toBe(3);
  });

  it('earliestDeadline spans any number of sessions', () => {
    const sims = [0, 700, 300].map((at) => {
      const sim = new SimDriver({ heartbeatIntervalMs: 1_000 });
      sim.send({ type: 'attach' }, at);
      sim.send({ type: 'start', reason: 'a' }, at);
      return sim.state;
    });
    expect(earliestDeadline(sims)).toBe(1_000);
    expect(earliestDeadline(sims.slice(1))).toBe(1_300);
    expect(earliestDeadline([createSessionState()])).toBeNull();
    expect(earliestDeadline([])).toBeNull();
  });

  it('summarize reports counts, age, timers and keep-alives', () => {
    const sim = new SimDriver({ heartbeatIntervalMs: 1_000 });
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'tool_exec' }, 100);
    sim.advance(2_000);
    expect(summarize(sim.state, 2_500)).toEqual({
      total: 1,
      counts: { tool_exec: 1 },
      oldestActivityMs: 2_400,
      timersArmed: 1,
      keepalivesSent: 1,
      trackingActive: true,
      heartbeatRunning: true,
      shutdown: false,
    });
    expect(summarize(createSessionState(), 5).oldestActivityMs).toBeNull();
  });
});

describe('seeded randomness (B3)', () => {
  it('nextRandom is deterministic, in [0, 1), and well spread', () => {
    let seed = 1;
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const draw = nextRandom(seed);
      expect(isUnitInterval(draw.value)).toBe(true);
      buckets[Math.floor(draw.value * 10)]! += 1;
      seed = draw.seed;
    }
    expect(nextRandom(1)).toEqual(nextRandom(1));
    for (const count of buckets) expect(count).toBeGreaterThan(850);
  });

  it('toSeed normalises any number', () => {
    expect(toSeed(-1)).toBe(4_294_967_295);
    expect(toSeed(Number.NaN)).toBe(0);
    expect(toSeed(12.9)).toBe(12);
  });
});
