import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { SESSION_DEFAULTS, defineSessionConfig } from './config.js';
import { KeepaliveOptionError, checkKnownKeys, nestedOptions } from './errors.js';
import { defineReconnectConfig } from './reconnect.js';
import { CONNECTION_OPTION_KEYS, KERNEL_OPTION_KEYS, checkDuration, checkOptions, defineConnectionConfig, defineKernelConfig, integerIn, type OptionSchema } from './index.js';

const SESSION_LIST = Object.keys(SESSION_DEFAULTS).join(', ');

/** The error `run` throws (fails the test if it throws nothing or something else). */
function refusal(run: () => unknown): KeepaliveOptionError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(KeepaliveOptionError);
    return error as KeepaliveOptionError;
  }
  throw new Error('expected a KeepaliveOptionError');
}

/** Reference Levenshtein distance (insertions, deletions, substitutions), for the property below. */
function levenshtein(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    row = next;
  }
  return row[b.length]!;
}

describe('B1: an unknown option key suggests the known key it is close to', () => {
  it('a wrongly cased suffix: did you mean, naming the option and the value as before', () => {
    const error = refusal(() => defineSessionConfig({ heartbeatIntervalMS: 1000 } as never));
    expect(error.option).toBe('heartbeatIntervalMS');
    expect(error.value).toBe(1000);
    expect(error.expectation).toBe(`a known session option: ${SESSION_LIST}; did you mean "heartbeatIntervalMs"?`);
    expect(error.message).toBe(`Invalid option heartbeatIntervalMS: 1000 (expected a known session option: ${SESSION_LIST}; did you mean "heartbeatIntervalMs"?)`);
  });

  it('a missing Ms suffix, a missing letter, swapped letters and any casing', () => {
    const hint = (key: string): string => refusal(() => defineSessionConfig({ [key]: 1 })).expectation.replace(/^.*; /, '');
    expect(hint('heartbeatInterval')).toBe('did you mean "heartbeatIntervalMs"?');
    expect(hint('pongTimeout')).toBe('did you mean "pongTimeoutMs"?');
    expect(hint('idleDelyMs')).toBe('did you mean "idleDelayMs"?');
    expect(hint('idelDelayMs')).toBe('did you mean "idleDelayMs"?');
    expect(hint('sendKeepAlive')).toBe('did you mean "sendKeepalives"?');
    expect(hint('PERMITWITHOUTACTIVITY')).toBe('did you mean "permitWithoutActivity"?');
    expect(hint('lateTimerMS')).toBe('did you mean "lateTimerMs"?');
  });

  it('a nested group: the option keeps its full path, the suggestion is the key within the group', () => {
    const config = { maxDelay: 1 };
    const direct = refusal(() => defineReconnectConfig(config as never));
    expect(direct).toMatchObject({ option: 'maxDelay', value: 1 });
    expect(direct.expectation).toMatch(/^a known reconnect option: initialDelayMs, maxDelayMs, .*; did you mean "maxDelayMs"\?$/);
    const nested = refusal(() => nestedOptions('reconnect', config as never, defineReconnectConfig));
    expect(nested).toMatchObject({ option: 'reconnect.maxDelay', value: 1, expectation: direct.expectation });
    expect(nested.message).toMatch(/^Invalid option reconnect\.maxDelay: 1 \(expected a known reconnect option: .*; did you mean "maxDelayMs"\?\)$/);
  });

  it('a key far from every known key gets no suggestion: the message is as before', () => {
    const value = { interval: 5 };
    const error = refusal(() => defineSessionConfig({ banana: value } as never));
    expect(error.option).toBe('banana');
    expect(error.value).toBe(value);
    expect(error.expectation).toBe(`a known session option: ${SESSION_LIST}`);
    expect(error.message).toBe(`Invalid option banana: an object (expected a known session option: ${SESSION_LIST})`);
    // Three edits away (a missing letter and a missing Ms): not suggested.
    expect(refusal(() => defineSessionConfig({ pongTimout: 1 } as never)).expectation).not.toContain('did you mean');
  });

  it('a key with a line break or a very long key gets no suggestion, at once', () => {
    for (const key of ['heartbeatIntervalMs\n', 'heartbeat\nIntervalMs', 'h'.repeat(1_000_000)]) {
      const error = refusal(() => defineSessionConfig({ [key]: 1 }));
      expect(error.option).toBe(key);
      expect(error.expectation).toBe(`a known session option: ${SESSION_LIST}`);
    }
  });

  it('any list of known keys: the first known key within two edits is suggested', () => {
    const known = ['url', 'prefix', 'commandTimeoutMs'];
    expect(refusal(() => checkKnownKeys({ prefx: 'k:' }, known, 'store')).expectation).toBe('a known store option: url, prefix, commandTimeoutMs; did you mean "prefix"?');
    expect(() => checkKnownKeys({ url: 'redis://', prefix: 'k:' }, known, 'store')).not.toThrow();
  });

  test.prop([fc.stringMatching(/^[abAB]{1,6}$/), fc.stringMatching(/^[abAB]{0,6}$/)])(
    'a suggestion exactly when the keys are at most two edits apart, case ignored',
    (known, given) => {
      fc.pre(known !== given);
      const error = refusal(() => checkKnownKeys({ [given]: 0 }, [known], 'test'));
      const close = levenshtein(known.toLowerCase(), given.toLowerCase()) <= 2;
      expect(error.expectation).toBe(`a known test option: ${known}${close ? `; did you mean "${known}"?` : ''}`);
    },
  );
});

describe('B1: options from one table (checkOptions over a schema)', () => {
  it('the default connection names every option of the kernel and its layers; a typo of a layer option suggests it, nested paths kept', () => {
    expect(CONNECTION_OPTION_KEYS).toEqual(expect.arrayContaining([...KERNEL_OPTION_KEYS, 'idleReadTimeoutMs', 'maxHeartbeatIntervalMs', 'resume']));
    expect(() => defineConnectionConfig({ idleReadTimeoutMS: 5 } as never)).toThrow(/Invalid option idleReadTimeoutMS: 5 .*did you mean "idleReadTimeoutMs"\?/);
    expect(() => defineConnectionConfig({ reconnect: { whenIdle: 'sometimes' as never } })).toThrow(/Invalid option reconnect\.whenIdle: "sometimes"/);
    expect(() => defineConnectionConfig({ reconnect: { maxDelay: 5 } as never })).toThrow(/Invalid option reconnect\.maxDelay: 5 .*did you mean "maxDelayMs"\?/);
    expect(() => defineKernelConfig({ idleReadTimeoutMs: 5 } as never)).toThrow(/Invalid option idleReadTimeoutMs: 5 \(expected a known connection option/);
  });

  it('a schema gives defaults, checks each value under its own name, and refuses unknown keys', () => {
    const schema: OptionSchema<{ a: number; b: number }> = { a: [1, checkDuration], b: [2, integerIn(0, 5)] };
    expect(checkOptions({}, schema, 'test')).toEqual({ a: 1, b: 2 });
    expect(checkOptions({ a: 7, b: undefined }, schema, 'test')).toEqual({ a: 7, b: 2 });
    expect(() => checkOptions({ b: 6 }, schema, 'test')).toThrow(/Invalid option b: 6 \(expected an integer in \[0, 5\]\)/);
    expect(() => checkOptions({ c: 1 }, schema, 'test')).toThrow(KeepaliveOptionError);
  });
});
