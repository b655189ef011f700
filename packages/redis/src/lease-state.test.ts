import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_LEASE_INTERVALS, checkLeaseBounds, decodeLease, encodeLease, type Lease } from './lease-codec.js';
import { classifyLease, type LeaseLimits, type LeaseObservation } from './lease-state.js';

const limits: LeaseLimits = { idleLimitMs: 10_000, readStaleMs: 3_000, graceMs: 1_000 };

const leaseArb: fc.Arbitrary<Lease> = fc
  .record({
    owner: fc.string({ minLength: 1, maxLength: 20 }),
    busy: fc.boolean(),
    reasons: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 5 }), { minKeys: 1, maxKeys: 3 }),
    since: fc.integer({ min: 0, max: 2 ** 41 }),
    ageMs: fc.integer({ min: 0, max: 100_000 }),
    renewal: fc.integer({ min: 1, max: 2 ** 50 }),
    renewMs: fc.integer({ min: 1, max: 60_000 }),
    intervals: fc.integer({ min: 2, max: 5 }),
  })
  .map(({ reasons, busy, intervals, ...rest }) => ({ ...rest, busy, counts: busy ? reasons : {}, ttlMs: rest.renewMs * intervals }));

const observationArb: fc.Arbitrary<LeaseObservation> = fc.record({
  lease: fc.option(leaseArb, { nil: null }),
  last: fc.option(leaseArb, { nil: null }),
  listed: fc.boolean(),
  seenAt: fc.integer({ min: 0, max: 1_000_000 }),
  lostAt: fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: null }),
});

const timesArb = fc.record({ now: fc.integer({ min: 0, max: 2_000_000 }), lastReadAt: fc.option(fc.integer({ min: 0, max: 2_000_000 }), { nil: null }) });

describe('lease classification (pure rules)', () => {
  it('never reclaimable, idle, busy, expired or ended when the last successful read is older than readStaleMs (or there was none)', () => {
    fc.assert(
      fc.property(observationArb, fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: limits.readStaleMs + 1, max: 1_000_000 }), (seen, lastReadAt, age) => {
        expect(classifyLease(seen, { now: lastReadAt + age, lastReadAt }, limits).status).toBe('unknown');
        expect(classifyLease(seen, { now: lastReadAt, lastReadAt: null }, limits).status).toBe('unknown');
      }),
    );
  });

  it('a busy lease is never reclaimable (nor idle)', () => {
    fc.assert(
      fc.property(observationArb, leaseArb, timesArb, (seen, lease, at) => {
        const verdict = classifyLease({ ...seen, lease: { ...lease, busy: true, counts: { tool: 1 } } }, at, limits);
        expect(['busy', 'unknown']).toContain(verdict.status);
      }),
    );
  });

  it('a lease not renewed for longer than its interval plus the grace is unknown, whatever it says', () => {
    fc.assert(
      fc.property(leaseArb, fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 1, max: 100_000 }), (lease, seenAt, late) => {
        const now = seenAt + lease.renewMs + limits.graceMs + late;
        expect(classifyLease({ lease, listed: true, seenAt, lostAt: null }, { now, lastReadAt: now }, limits).status).toBe('unknown');
      }),
    );
  });

  it('reclaimable only for an idle lease whose idle time (owner age plus time seen unrenewed) reaches the limit, on fresh data', () => {
    fc.assert(
      fc.property(observationArb, timesArb, (seen, at) => {
        const verdict = classifyLease(seen, at, limits);
        if (verdict.status !== 'reclaimable') return;
        expect(at.lastReadAt).not.toBeNull();
        expect(at.now - (at.lastReadAt as number)).toBeLessThanOrEqual(limits.readStaleMs);
        expect(seen.lease?.busy).toBe(false);
        expect((seen.lease as Lease).ageMs + at.now - seen.seenAt).toBeGreaterThanOrEqual(limits.idleLimitMs);
        expect(verdict.idleMs).toBeGreaterThanOrEqual(limits.idleLimitMs);
      }),
    );
  });

  it('expired only when the lease key is gone: listed without it, or not written again within a renewal interval after Redis lost its data', () => {
    fc.assert(
      fc.property(observationArb, timesArb, (seen, at) => {
        const verdict = classifyLease(seen, at, limits);
        if (verdict.status === 'expired') {
          expect(seen.lease).toBeNull();
          if (seen.lostAt !== null) expect(at.now - seen.lostAt).toBeGreaterThan((seen.last?.renewMs ?? 0) + limits.graceMs);
          else expect(seen.listed).toBe(true);
        }
        if (verdict.status === 'ended') expect(seen.listed || seen.lease !== null || seen.lostAt !== null).toBe(false);
      }),
    );
  });

  it('examples: busy, idle, reclaimable, expired, ended, unknown after data loss', () => {
    const idle: Lease = { owner: 'w', busy: false, counts: {}, since: 0, ageMs: 4_000, renewal: 7, renewMs: 2_000, ttlMs: 6_000 };
    const at = { now: 5_000, lastReadAt: 5_000 };
    expect(classifyLease({ lease: idle, listed: true, seenAt: 4_000, lostAt: null }, at, limits)).toEqual({ status: 'idle', idleMs: 5_000 });
    expect(classifyLease({ lease: { ...idle, ageMs: 9_500 }, listed: true, seenAt: 4_000, lostAt: null }, at, limits)).toEqual({ status: 'reclaimable', idleMs: 10_500 });
    expect(classifyLease({ lease: { ...idle, busy: true, counts: { a: 1 } }, listed: true, seenAt: 4_000, lostAt: null }, at, limits).status).toBe('busy');
    expect(classifyLease({ lease: null, last: idle, listed: true, seenAt: 4_000, lostAt: null }, at, limits).status).toBe('expired');
    expect(classifyLease({ lease: null, last: idle, listed: false, seenAt: 4_000, lostAt: null }, at, limits).status).toBe('ended');
    expect(classifyLease({ lease: null, last: idle, listed: false, seenAt: 4_000, lostAt: 4_500 }, at, limits).status).toBe('unknown');
    expect(classifyLease({ lease: null, last: idle, listed: false, seenAt: 4_000, lostAt: 1_000 }, at, limits).status).toBe('expired');
  });
});

describe('lease codec', () => {
  it('round-trips every lease', () => {
    fc.assert(
      fc.property(leaseArb, (lease) => {
        const decoded = decodeLease(encodeLease(lease));
        expect(decoded).toEqual({ ok: true, lease });
      }),
    );
  });

  it('never throws on any text, and names the problem', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        const decoded = decodeLease(text);
        if (!decoded.ok) expect(['not_json', 'not_an_object', 'unknown_version', 'bad_field']).toContain(decoded.problem);
      }),
    );
    expect(decodeLease('nope')).toEqual({ ok: false, problem: 'not_json' });
    expect(decodeLease('[1]')).toEqual({ ok: false, problem: 'not_an_object' });
    expect(decodeLease('{"v":2}')).toEqual({ ok: false, problem: 'unknown_version' });
    expect(decodeLease('{"v":1,"o":"w","b":1,"c":{},"s":0,"a":0,"n":1,"r":1,"t":3}')).toEqual({ ok: false, problem: 'bad_field' });
  });

  it('a lease with one reason is about 120 bytes', () => {
    const text = encodeLease({ owner: 'web-1/4242', busy: true, counts: { api_call: 1 }, since: 1_790_000_000_000, ageMs: 1_234, renewal: 1_790_000_012_345, renewMs: 30_000, ttlMs: 90_000 });
    expect(text.length).toBeLessThan(140);
  });

  it('bounds: every lease the writer writes (expiry at most 100 renewal intervals, some of it left) is trusted; a longer renewal, expiry or time left is not', () => {
    const maxRenewalMs = 3_600_000;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_400_000 }),
        fc.boolean(),
        fc.double({ min: 2, max: 100, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (intervalMs, busy, leaseIntervals, left) => {
          // What the writer computes (lease-writer.ts): busy leases renew at 1.5 heartbeat intervals.
          const renewMs = Math.ceil(busy ? intervalMs * 1.5 : intervalMs);
          const ttlMs = Math.ceil(intervalMs * leaseIntervals);
          const lease: Lease = { owner: 'w', busy, counts: busy ? { a: 1 } : {}, since: 0, ageMs: 0, renewal: 1, renewMs, ttlMs };
          expect(checkLeaseBounds(lease, Math.floor(ttlMs * left), maxRenewalMs)).toBeNull();
          expect(checkLeaseBounds(lease, -1, maxRenewalMs)).toBe('no_expiry');
          expect(checkLeaseBounds(lease, ttlMs + 1, maxRenewalMs)).toBe('out_of_bounds');
          expect(checkLeaseBounds({ ...lease, ttlMs: renewMs * MAX_LEASE_INTERVALS + 1 }, 0, maxRenewalMs)).toBe('out_of_bounds');
          expect(checkLeaseBounds({ ...lease, renewMs: maxRenewalMs + 1 }, 0, maxRenewalMs)).toBe('out_of_bounds');
        },
      ),
    );
    const decade = 10 * 365 * 86_400_000;
    const absurd: Lease = { owner: 'x', busy: true, counts: { tool_exec: 1 }, since: 0, ageMs: 0, renewal: 1, renewMs: decade, ttlMs: decade };
    expect(decodeLease(encodeLease(absurd)).ok).toBe(true);
    expect(checkLeaseBounds(absurd, decade - 5, maxRenewalMs)).toBe('out_of_bounds');
  });
});
