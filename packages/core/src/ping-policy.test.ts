import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { createPingPolicyState, definePingPolicy, pingFloodReason, pingPolicyStep, readPingFloodReason, type PingPolicyCommand, type PingPolicyState } from './index.js';

describe('B8 peer abuse', () => {
  const config = definePingPolicy({ minPingIntervalMs: 1_000, maxPingStrikes: 2 });

  function feed(times: number[], state: PingPolicyState = createPingPolicyState()) {
    const out: PingPolicyCommand[] = [];
    for (const now of times) state = pingPolicyStep(state, config, { type: 'ping', now }, out);
    return { state, out };
  }

  it('B8: pings at or above the minimum interval never strike', () => {
    const { state, out } = feed([0, 1_000, 2_000, 5_000, 6_000]);
    expect(state.strikes).toBe(0);
    expect(out).toEqual([]);
  });

  it('B8: pings faster than allowed collect strikes; one past the allowance closes with 1008', () => {
    const { state, out } = feed([0, 100, 200]);
    expect(state.strikes).toBe(2);
    expect(out).toEqual([]);
    const more = feed([300], state);
    expect(more.out).toEqual([
      { type: 'diagnostic', level: 'warn', name: 'ping_flood', fields: { strikes: 3 } },
      { type: 'close', reason: 'ping_flood', code: 1008, terminate: false, text: 'ping_flood min_interval_ms=1000' },
    ]);
    expect(more.state.violated).toBe(true);
    // Once closed, nothing more is emitted.
    expect(feed([301, 302], more.state).out).toEqual([]);
  });

  it('B8: application data clears the strikes', () => {
    const { state } = feed([0, 100, 200]);
    const out: PingPolicyCommand[] = [];
    const cleared = pingPolicyStep(state, config, { type: 'data', now: 250 }, out);
    expect(cleared.strikes).toBe(0);
    expect(pingPolicyStep(cleared, config, { type: 'data', now: 260 }, out)).toBe(cleared);
    expect(feed([300, 400], cleared).out).toEqual([]);
  });

  it('B8: peers are independent: a flooding peer does not affect a polite one', () => {
    const flood = feed([0, 1, 2, 3]);
    const polite = feed([0, 1_000, 2_000, 3_000]);
    expect(flood.state.violated).toBe(true);
    expect(polite.state.violated).toBe(false);
  });

  test.prop([fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 60 })])(
    'B8: closes exactly when the number of too-soon pings exceeds the allowance',
    (gaps) => {
      let now = 0;
      const times = gaps.map((gap) => (now += gap));
      const { out } = feed(times);
      const tooSoon = gaps.slice(1).filter((gap) => gap < 1_000).length;
      expect(out.some((c) => c.type === 'close')).toBe(tooSoon > 2);
    },
  );
});

describe('B13: the server says its minimum in the close', () => {
  it('B13: the ping flood reason carries the minimum and reads back; a bare ping_flood (servers that do not say) reads with none; anything else is not a flood', () => {
    expect(pingFloodReason(5_000)).toBe('ping_flood min_interval_ms=5000');
    expect(readPingFloodReason(pingFloodReason(5_000))).toEqual({ minIntervalMs: 5_000 });
    expect(readPingFloodReason('ping_flood')).toEqual({ minIntervalMs: null });
    for (const other of ['', 'ping_floods', 'ping_flood min_interval_ms=', 'ping_flood min_interval_ms=-1', 'ping_flood min_interval_ms=05', 'idle']) expect(readPingFloodReason(other), other).toBeNull();
    expect(new TextEncoder().encode(pingFloodReason(9_999_999_999)).byteLength).toBeLessThanOrEqual(123);
  });
});
