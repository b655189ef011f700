import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextRetry, retryDelay, type RetryPolicy } from './retry.js';

const policyArb: fc.Arbitrary<RetryPolicy> = fc
  .record({ floorMs: fc.integer({ min: 1, max: 10_000 }), extraMs: fc.integer({ min: 0, max: 3_600_000 }) })
  .map(({ floorMs, extraMs }) => ({ floorMs, maxMs: floorMs + extraMs }));

/** Any value a random source might give, including broken ones (clamped). */
const drawArb = fc.oneof(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.double(), fc.constantFrom(Number.NaN, -1, 2));

describe('retry decision (pure)', () => {
  it('every delay is within [floorMs, maxMs], whatever the failure count and the random draw', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 10_000 }), drawArb, (policy, failures, draw) => {
        const delay = retryDelay(failures, policy, () => draw);
        expect(delay).toBeGreaterThanOrEqual(policy.floorMs);
        expect(delay).toBeLessThanOrEqual(policy.maxMs);
        expect(Number.isFinite(delay)).toBe(true);
      }),
    );
  });

  it('the delay after the nth consecutive failure is between half the doubling ceiling and the ceiling (floor and max applied)', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (policy, failures, draw) => {
        const ceiling = Math.min(policy.maxMs, policy.floorMs * 2 ** (failures - 1));
        const delay = retryDelay(failures, policy, () => draw);
        expect(delay).toBeGreaterThanOrEqual(Math.max(policy.floorMs, ceiling / 2));
        expect(delay).toBeLessThanOrEqual(Math.max(policy.floorMs, ceiling));
      }),
    );
  });

  it('over any sequence of outcomes: never a retry sooner than the floor after a failure, no wait after a success, one state change per transition', () => {
    fc.assert(
      fc.property(policyArb, fc.array(fc.record({ ok: fc.boolean(), draw: drawArb }), { maxLength: 200 }), (policy, outcomes) => {
        let failures = 0;
        let failing = false;
        let changes = 0;
        let transitions = 0;
        for (const { ok, draw } of outcomes) {
          const decision = nextRetry(failures, ok, policy, () => draw);
          if (ok) {
            expect(decision).toEqual({ failures: 0, delayMs: 0, change: failing ? 'recovered' : null });
          } else {
            expect(decision.failures).toBe(failures + 1);
            expect(decision.delayMs).toBeGreaterThanOrEqual(policy.floorMs);
            expect(decision.delayMs).toBeLessThanOrEqual(policy.maxMs);
            expect(decision.change).toBe(failing ? null : 'failing');
          }
          if (failing === ok) transitions++;
          if (decision.change !== null) changes++;
          failing = !ok;
          failures = decision.failures;
        }
        // One report per change of state (failing, recovered), never one per attempt.
        expect(changes).toBe(transitions);
      }),
    );
  });

  it('the time spent on n consecutive failures grows at least as half the doubling ceilings: a refusing Redis is not hammered', () => {
    fc.assert(
      fc.property(policyArb, fc.array(drawArb, { minLength: 1, maxLength: 50 }), (policy, draws) => {
        let failures = 0;
        let waited = 0;
        let least = 0;
        for (const draw of draws) {
          const decision = nextRetry(failures, false, policy, () => draw);
          failures = decision.failures;
          waited += decision.delayMs;
          least += Math.max(policy.floorMs, Math.min(policy.maxMs, policy.floorMs * 2 ** (failures - 1)) / 2);
        }
        expect(waited).toBeGreaterThanOrEqual(least - 1e-6);
        expect(waited).toBeLessThanOrEqual(policy.maxMs * draws.length);
      }),
    );
  });

  it('examples: the writer defaults (floor 100 ms, max 10 s)', () => {
    const policy = { floorMs: 100, maxMs: 10_000 };
    const low = (n: number): number => retryDelay(n, policy, () => 0);
    const high = (n: number): number => retryDelay(n, policy, () => 0.999_999);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map(low)).toEqual([100, 100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => Math.round(high(n)))).toEqual([100, 200, 400, 800, 1_600, 3_200, 6_400, 10_000]);
    expect(retryDelay(1_000_000, policy, () => 0.5)).toBe(7_500);
    expect(nextRetry(0, false, policy, () => 0)).toEqual({ failures: 1, delayMs: 100, change: 'failing' });
    expect(nextRetry(1, false, policy, () => 0)).toEqual({ failures: 2, delayMs: 100, change: null });
    expect(nextRetry(2, true, policy, () => 0)).toEqual({ failures: 0, delayMs: 0, change: 'recovered' });
    expect(nextRetry(0, true, policy, () => 0)).toEqual({ failures: 0, delayMs: 0, change: null });
  });
});
