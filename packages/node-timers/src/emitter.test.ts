import { once, on } from 'node:events';
import { describe, expect, it } from 'vitest';
import { BufferOverflowError, Emitter, toError } from './index.js';

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

describe('Emitter: the shapes people bring (once, EventTarget, node:events, async iteration)', () => {
  interface Events {
    open: { attempt: number };
    message: string;
    closed: object;
    error: Error;
  }
  const make = (failures: unknown[] = []): Emitter<Events> => new Emitter<Events>(['open', 'message', 'closed', 'error'], (_event, error) => failures.push(error));

  it('once: called at most once, removed before its call (an emit from inside it does not call it again); its remover works before', () => {
    const events = make();
    const heard: number[] = [];
    events.once('open', ({ attempt }) => {
      heard.push(attempt);
      events.emit('open', { attempt: attempt + 10 });
    });
    const off = events.once('open', ({ attempt }) => heard.push(-attempt - 1));
    off();
    events.emit('open', { attempt: 1 });
    events.emit('open', { attempt: 2 });
    expect(heard).toEqual([1]);
  });

  it('addEventListener: functions and handleEvent objects, { once }, { signal } (already aborted adds nothing), added once, null ignored', () => {
    const events = make();
    const heard: string[] = [];
    const listener = (message: string): void => {
      heard.push(`f:${message}`);
    };
    events.addEventListener('message', listener);
    events.addEventListener('message', listener);
    events.addEventListener('message', { handleEvent: (message: string) => heard.push(`o:${message}`) }, { once: true });
    const controller = new AbortController();
    events.addEventListener('message', (message) => heard.push(`s:${message}`), { signal: controller.signal });
    events.addEventListener('message', (message) => heard.push(`never:${message}`), { signal: AbortSignal.abort() });
    events.addEventListener('message', null);
    events.emit('message', 'a');
    controller.abort();
    events.emit('message', 'b');
    events.removeEventListener('message', listener);
    events.emit('message', 'c');
    expect(heard).toEqual(['f:a', 'o:a', 's:a', 'f:b']);
    expect(() => events.addEventListener('message', 42 as unknown as () => void)).toThrow(/function or an object with handleEvent/);
    expect(() => events.addEventListener('nope' as 'open', () => undefined)).toThrow(/addEventListener\(event\): unknown event nope/);
  });

  it('a listener removed by an earlier one in the same round is not called; a throwing once-listener is still removed and isolated', () => {
    const failures: unknown[] = [];
    const events = make(failures);
    const heard: string[] = [];
    const second = (): void => {
      heard.push('second');
    };
    events.on('message', () => {
      heard.push('first');
      events.off('message', second);
    });
    events.on('message', second);
    events.once('message', () => {
      throw new Error('boom');
    });
    events.on('message', () => heard.push('last'));
    events.emit('message', 'x');
    events.emit('message', 'y');
    expect(heard).toEqual(['first', 'last', 'first', 'last']);
    expect(failures).toHaveLength(1);
  });

  it('node:events once() and on() work on it, and an AbortSignal ends them (their listeners removed)', async () => {
    const events = make();
    const opened = once(events as unknown as EventTarget, 'open');
    events.emit('open', { attempt: 3 });
    expect(await opened).toEqual([{ attempt: 3 }]);
    const controller = new AbortController();
    const waiting = once(events as unknown as EventTarget, 'open', { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    // Nothing left behind: a later emit reaches no stale listener of once() (open, nor its error listener).
    const failures: unknown[] = [];
    events.on('error', (error) => failures.push(error));
    events.emit('error', new Error('later'));
    expect(failures).toHaveLength(1);
    const iteration = new AbortController();
    const messages: string[] = [];
    const reading = (async () => {
      try {
        for await (const [message] of on(events as unknown as EventTarget, 'message', { signal: iteration.signal })) {
          messages.push(message as string);
          if (messages.length === 2) iteration.abort();
        }
      } catch (error) {
        return (error as Error).name;
      }
      return 'ended';
    })();
    events.emit('message', 'a');
    events.emit('message', 'b');
    expect(await reading).toBe('AbortError');
    expect(messages).toEqual(['a', 'b']);
  });

  it('iterate: in order; buffered up to the limit; one more ends it loudly after the kept ones (BufferOverflowError)', async () => {
    const events = make();
    const iterator = events.iterate('message', { limit: 3, end: ['closed'] });
    for (const message of ['1', '2', '3', '4', '5']) events.emit('message', message);
    const got: string[] = [];
    let failure: unknown = null;
    try {
      for await (const message of iterator) got.push(message);
    } catch (error) {
      failure = error;
    }
    expect(got).toEqual(['1', '2', '3']);
    expect(failure).toBeInstanceOf(BufferOverflowError);
    expect((failure as BufferOverflowError).limit).toBe(3);
    expect((failure as Error).message).toMatch(/fell more than 3 behind/);
    // Its listener is gone: nothing accumulates after the overflow.
    events.emit('message', '6');
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('iterate: a waiting read gets the next payload at once; an end event finishes it after the buffer; break removes its listeners', async () => {
    const events = make();
    const iterator = events.iterate('message', { limit: 10, end: ['closed'] });
    const pending = iterator.next();
    events.emit('message', 'now');
    expect(await pending).toEqual({ value: 'now', done: false });
    events.emit('message', 'kept');
    events.emit('closed', {});
    events.emit('message', 'after the end');
    expect(await iterator.next()).toEqual({ value: 'kept', done: false });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    const second = events.iterate('message', { limit: 10 });
    const seen: string[] = [];
    const loop = (async () => {
      for await (const message of second) {
        seen.push(message);
        break;
      }
    })();
    events.emit('message', 'x');
    await loop;
    events.emit('message', 'y');
    expect(seen).toEqual(['x']);
    expect(await second.next()).toEqual({ value: undefined, done: true });
  });

  it('iterate: a signal ends it with its reason; clear() ends it; a bad limit is refused', async () => {
    const events = make();
    const controller = new AbortController();
    const iterator = events.iterate('message', { limit: 2, signal: controller.signal });
    const pending = iterator.next();
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    const cleared = events.iterate('message', { limit: 2 });
    const waiting = cleared.next();
    events.clear();
    expect(await waiting).toEqual({ value: undefined, done: true });
    await expect(events.iterate('message', { limit: 2, signal: AbortSignal.abort(new Error('early')) }).next()).rejects.toThrow('early');
    expect(() => events.iterate('message', { limit: 0 })).toThrow(RangeError);
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
