import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  KeepaliveOptionError,
  MAX_DURATION_MS,
  SESSION_DEFAULTS,
  createSessionState,
  defineReconnectConfig,
  definePingPolicy,
  defineSessionConfig,
} from './index.js';

const durations = ['heartbeatIntervalMs', 'idleDelayMs', 'pongTimeoutMs', 'stuckActivityMs'] as const;
const bad = [0, -1, -0.5, Number.NaN, Infinity, -Infinity, MAX_DURATION_MS + 1, 1e20, '30000', true, {}];

describe('B1 configurable and validated', () => {
  for (const option of durations) {
    it(`B1: ${option} refuses non-finite, negative, zero and absurd values, naming option and value`, () => {
      for (const value of bad) {
        let error: unknown;
        try {
          createSessionState({ [option]: value });
        } catch (caught) {
          error = caught;
        }
        expect(error, option).toBeInstanceOf(KeepaliveOptionError);
        const e = error as KeepaliveOptionError;
        expect(e.option).toBe(option);
        expect(Object.is(e.value, value)).toBe(true);
        expect(e.message).toContain(option);
        expect(e.name).toBe('KeepaliveOptionError');
        expect(e).toBeInstanceOf(RangeError);
      }
    });
  }

  it('B1: the error message shows the value', () => {
    expect(() => defineSessionConfig({ heartbeatIntervalMs: -5 })).toThrow('Invalid option heartbeatIntervalMs: -5 (expected a finite number of milliseconds');
    expect(() => defineSessionConfig({ idleDelayMs: Number.NaN })).toThrow('idleDelayMs: NaN');
    expect(() => defineSessionConfig({ idleDelayMs: 'x'.repeat(100) as unknown as number })).toThrow(/idleDelayMs: "x{40}…"/);
    expect(() => defineSessionConfig({ idleDelayMs: [] as unknown as number })).toThrow('idleDelayMs: an array');
    expect(() => defineSessionConfig({ idleDelayMs: (() => 1) as unknown as number })).toThrow('idleDelayMs: a function');
    expect(() => defineSessionConfig({ idleDelayMs: null as unknown as number })).toThrow('idleDelayMs: null');
    expect(() => defineSessionConfig({ idleDelayMs: 10n as unknown as number })).toThrow('idleDelayMs: 10');
    expect(() => defineSessionConfig({ idleDelayMs: {} as unknown as number })).toThrow('idleDelayMs: an object');
  });

  it('B1: flags must be booleans', () => {
    expect(() => defineSessionConfig({ sendKeepalives: 'yes' as unknown as boolean })).toThrow(/sendKeepalives: "yes"/);
    expect(() => defineSessionConfig({ permitWithoutActivity: 1 as unknown as boolean })).toThrow(/permitWithoutActivity: 1/);
  });

  it('B1: unknown option names (typos) are refused', () => {
    expect(() => defineSessionConfig({ heartbeatIntervalMS: 5 } as never)).toThrow(/heartbeatIntervalMS: 5 \(expected a known session option/);
  });

  it('B1: options must be an object', () => {
    expect(() => defineSessionConfig(null as never)).toThrow('expected an object, got null');
    expect(() => defineSessionConfig(5 as never)).toThrow('got number');
  });

  it('B1: null turns optional durations off; undefined means the default', () => {
    const config = defineSessionConfig({ pongTimeoutMs: null, stuckActivityMs: undefined, heartbeatIntervalMs: undefined });
    expect(config).toEqual(SESSION_DEFAULTS);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('B1: the largest accepted duration is 2^31 - 1 ms', () => {
    expect(defineSessionConfig({ heartbeatIntervalMs: MAX_DURATION_MS }).heartbeatIntervalMs).toBe(MAX_DURATION_MS);
    expect(defineSessionConfig({ heartbeatIntervalMs: 0.5 }).heartbeatIntervalMs).toBe(0.5);
  });

  it('B1: a frozen but invalid config is still refused', () => {
    expect(() => createSessionState(Object.freeze({ ...SESSION_DEFAULTS, idleDelayMs: -1 }))).toThrow(KeepaliveOptionError);
  });

  test.prop([fc.double({ min: Number.MIN_VALUE, max: MAX_DURATION_MS, noNaN: true })])('B1: every valid duration is accepted as given', (ms) => {
    expect(defineSessionConfig({ heartbeatIntervalMs: ms }).heartbeatIntervalMs).toBe(ms);
  });

  test.prop([fc.oneof(fc.double({ max: 0 }), fc.double({ min: MAX_DURATION_MS + 1 }), fc.constant(Number.NaN))])(
    'B1: every invalid duration is refused',
    (ms) => {
      expect(() => defineSessionConfig({ idleDelayMs: ms })).toThrow(KeepaliveOptionError);
    },
  );

  it('B1: reconnect and ping-policy options are validated the same way', () => {
    expect(() => defineReconnectConfig({ initialDelayMs: 0 })).toThrow(/initialDelayMs: 0/);
    expect(() => defineReconnectConfig({ initialDelayMs: 1_000, maxDelayMs: 10 })).toThrow(/maxDelayMs: 10 \(expected a duration >= initialDelayMs \(1000\)\)/);
    expect(() => defineReconnectConfig({ multiplier: 0.5 })).toThrow(/multiplier: 0.5/);
    expect(() => defineReconnectConfig({ maxAttempts: 0 })).toThrow(/maxAttempts: 0/);
    expect(() => defineReconnectConfig({ maxAttempts: 1.5 })).toThrow(/maxAttempts: 1.5/);
    expect(() => defineReconnectConfig({ jitter: 1 } as never)).toThrow(/jitter/);
    expect(() => definePingPolicy({ maxPingStrikes: -1 })).toThrow(/maxPingStrikes: -1/);
    expect(() => definePingPolicy({ minPingIntervalMs: Infinity })).toThrow(/minPingIntervalMs: Infinity/);
    expect(defineReconnectConfig({ maxAttempts: 3 }).maxAttempts).toBe(3);
    expect(definePingPolicy({ maxPingStrikes: 0 }).maxPingStrikes).toBe(0);
  });
});
