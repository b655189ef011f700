import { describe, expect, it } from 'vitest';
import { Emitter, toError } from './index.js';

/** The shared emitter: listener errors never escape (they are reported), names and listeners are checked. */
describe('Emitter', () => {
  it('calls listeners in order; a throwing listener is reported and the others still hear', () => {
    const failures: [string, unknown][] = [];
    const events = new Emitter<{ open: number; close: string }>(['open', 'close'], (event, error) => failures.push([event, error]));
    const heard: string[] = [];
    events.on('open', (n) => heard.push(`a${String(n)}`));
    events.on('open', () => {
      throw new Error('boom');
    });
    const off = events.on('open', (n) => heard.push(`c${String(n)}`));
    events.emit('open', 1);
    off();
    events.emit('open', 2);
    events.emit('close', 'nobody listens');
    expect(heard).toEqual(['a1', 'c1', 'a2']);
    expect(failures.map(([event, error]) => [event, (error as Error).message])).toEqual([
      ['open', 'boom'],
      ['open', 'boom'],
    ]);
    events.clear();
    events.emit('open', 3);
    expect(heard).toHaveLength(3);
  });

  it('refuses unknown event names and listeners that are not functions, clearly', () => {
    const events = new Emitter<{ open: number }>(['open'], () => undefined);
    expect(() => events.on('nope' as 'open', () => undefined)).toThrow(/unknown event nope \(expected one of open\)/);
    expect(() => events.on('open', 42 as unknown as () => void)).toThrow(/listener must be a function/);
  });
});

describe('toError', () => {
  it('keeps an Error as it is, and names only the type of anything else (S10: never its contents)', () => {
    const error = new RangeError('x');
    expect(toError(error)).toBe(error);
    expect(toError('secret token').message).toBe('Non-error thrown: string');
    expect(toError({ password: 1 }).message).toBe('Non-error thrown: object');
  });
});
