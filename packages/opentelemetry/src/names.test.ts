import { describe, expect, it } from 'vitest';
import { metrics } from '@opentelemetry/api';
import { ATTRIBUTES, ATTRIBUTE_VALUES, DURATION_BUCKETS, METRICS, RTT_BUCKETS, closeClass, instrumentClient, instrumentReclaimer, instrumentServer } from './index.js';
import { Metrics, valueOf } from './test-support/metrics.js';

/** The naming rules every instrument follows, the close-code classes, and the meter options. */

describe('instrument names and attributes (S10)', () => {
  it('names are dotted lowercase keepalive.* and unique; attribute keys too, each with a closed set of lowercase values', () => {
    const names = Object.values(METRICS);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^keepalive\.(client|server|reclaimer)(\.[a-z_]+)+$/);
    for (const key of Object.values(ATTRIBUTES)) expect(key).toMatch(/^keepalive(\.[a-z_]+)+$/);
    for (const [key, values] of Object.entries(ATTRIBUTE_VALUES)) {
      expect(Object.values(ATTRIBUTES)).toContain(key);
      for (const value of values) expect(value).toMatch(/^[a-z_]+$/);
    }
    for (const buckets of [RTT_BUCKETS, DURATION_BUCKETS]) expect([...buckets].sort((a, b) => a - b)).toEqual(buckets);
  });

  it('close codes are reported by class, never as themselves', () => {
    const cases: [number, string][] = [
      [1000, 'normal'],
      [1001, 'going_away'],
      [1005, 'abnormal'],
      [1006, 'abnormal'],
      [1002, 'protocol_error'],
      [1003, 'protocol_error'],
      [1007, 'protocol_error'],
      [1008, 'policy_violation'],
      [1009, 'too_big'],
      [1011, 'server_error'],
      [1012, 'service_restart'],
      [1013, 'try_again_later'],
      [4000, 'idle_timeout'],
      [4001, 'replaced'],
      [4401, 'unauthorized'],
      [4403, 'forbidden'],
      [1014, 'other_standard'],
      [3000, 'registered'],
      [4242, 'application'],
      [5000, 'invalid'],
      [999, 'invalid'],
      [1000.5, 'invalid'],
    ];
    for (const [code, expected] of cases) {
      expect(closeClass(code), String(code)).toBe(expected);
      expect(ATTRIBUTE_VALUES[ATTRIBUTES.closeClass]).toContain(expected);
    }
  });
});

describe('meter options (B1)', () => {
  const reclaimer = { sessions: () => new Map([['s', { status: 'idle' }]]), stats: () => ({ sweeps: 3, failedSweeps: 1, lastReadAgeMs: null }), on: () => () => undefined };

  it('a meterProvider gives the @keepalive/opentelemetry meter; closing keeps counts (counters never go down)', async () => {
    const m = new Metrics();
    try {
      const instrumentation = instrumentReclaimer(reclaimer, { meterProvider: m.provider });
      let read = await m.read();
      expect(valueOf(read, METRICS.reclaimerSessions, { [ATTRIBUTES.leaseStatus]: 'idle' })).toBe(1);
      expect(valueOf(read, METRICS.reclaimerSweeps, { [ATTRIBUTES.sweepOutcome]: 'failed' })).toBe(1);
      // No read yet: no staleness reported (rather than a made-up 0).
      expect(read.has(METRICS.reclaimerStaleness) && read.get(METRICS.reclaimerStaleness)?.dataPoints.length !== 0).toBe(false);
      instrumentation.close();
      instrumentation.close();
      read = await m.read();
      expect(valueOf(read, METRICS.reclaimerSessions, { [ATTRIBUTES.leaseStatus]: 'idle' })).toBe(0);
      expect(valueOf(read, METRICS.reclaimerSweeps, { [ATTRIBUTES.sweepOutcome]: 'complete' })).toBe(3);
    } finally {
      await m.shutdown();
    }
  });

  it("without options the global meter provider is used (a no-op one until an SDK registers): nothing throws", () => {
    expect(metrics.getMeterProvider()).toBeDefined();
    const instrumentation = instrumentReclaimer(reclaimer);
    instrumentation[Symbol.dispose]();
    expect(() => instrumentReclaimer(reclaimer, {})).not.toThrow();
  });

  it('bad options throw a TypeError naming the option and the type given, never its contents', () => {
    expect(() => instrumentReclaimer(reclaimer, 'ws://secret' as never)).toThrow(/instrumentReclaimer options: string/);
    expect(() => instrumentReclaimer(reclaimer, { meter: null as never })).toThrow(/options\.meter: null/);
    expect(() => instrumentServer({ tracker: { observe: () => () => undefined, stats: () => ({ pingsSent: 0, heartbeatsAnswered: 0, deadPeers: 0, idleClosed: 0, floodClosed: 0 }), peers: () => [] }, sessions: {} as never }, {})).toThrow(/server\.sessions/);
    expect(() => instrumentClient([] as never)).toThrow(/instrumentClient client: an array/);
    try {
      instrumentReclaimer(reclaimer, { meterProvider: 'ws://secret' as never });
    } catch (error) {
      expect(String(error)).not.toContain('secret');
    }
  });
});
