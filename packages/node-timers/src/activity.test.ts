import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeepaliveOptionError, type SessionState } from '@keepalive/core';
import { ADAPTER_DIAGNOSTICS, DIAGNOSTICS_CHANNEL, createScheduler, createSessionActivity, type DiagnosticMessage, type SessionActivityOptions } from './index.node.js';
import { recorder } from './test-support/recorder.js';

/**
 * Every rule of the spec observed through the adapter with vitest's fake
 * timers: timers armed and cleared on the (faked) timer API, sends and
 * diagnostics.
 */

const INTERVAL = 30_000;
const IDLE = 30_000;

function make(options: SessionActivityOptions = {}) {
  const rec = recorder();
  const sends: number[] = [];
  const scheduler = createScheduler();
  const activity = createSessionActivity({ scheduler, logger: rec.log, ...options });
  const sender = () => sends.push(performance.now());
  return { activity, rec, sends, sender, scheduler };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the Node adapter under fake timers', () => {
  it('S1 S2 B2: counts by reason; an unmatched stop warns and changes nothing', () => {
    const { activity, rec } = make();
    activity.start('api_call');
    activity.start('tool_exec');
    activity.start('api_call');
    activity.stop('api_call');
    expect(activity.snapshot()).toMatchObject({ total: 2, counts: { api_call: 1, tool_exec: 1 } });
    activity.stop('nope');
    expect(activity.snapshot().total).toBe(2);
    expect(rec.entries.at(-1)).toEqual({ level: 'warn', event: 'unmatched_stop', fields: { reason: 'nope' } });
  });

  it('S4 S5: the heartbeat arms one real (fake) timer while busy and attached, and ticks every interval', () => {
    const { activity, sends, sender, rec } = make();
    activity.attach(sender);
    expect(vi.getTimerCount()).toBe(0);
    activity.start('api_call');
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(3 * INTERVAL);
    expect(sends).toEqual([INTERVAL, 2 * INTERVAL, 3 * INTERVAL]);
    expect(rec.names().filter((n) => n === 'heartbeat')).toHaveLength(3);
    expect(rec.entries[0]).toEqual({ level: 'debug', event: 'heartbeat', fields: { total: 1 } });
  });

  it('S6: stop arms the idle notice; it fires once; no timer remains', () => {
    const { activity, sender, rec } = make();
    activity.attach(sender);
    activity.start('api_call');
    vi.advanceTimersByTime(1_000);
    activity.stop('api_call');
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(IDLE);
    expect(rec.entries.filter((e) => e.event === 'idle')).toEqual([{ level: 'info', event: 'idle', fields: { idle_ms: IDLE } }]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('S4: detach clears the timer; attach while busy (reconnect mid-stream) restarts it', () => {
    const { activity, sender, sends } = make();
    activity.attach(sender);
    activity.start('tool_exec');
    activity.detach();
    expect(vi.getTimerCount()).toBe(0);
    expect(activity.isTrackingActive()).toBe(false);
    vi.advanceTimersByTime(5_000);
    activity.attach(sender);
    expect(activity.isTrackingActive()).toBe(true);
    vi.advanceTimersByTime(INTERVAL);
    expect(sends).toEqual([5_000 + INTERVAL]);
  });

  it('S3: a new sender replaces the old one', () => {
    const { activity } = make();
    const a: number[] = [];
    const b: number[] = [];
    activity.attach(() => a.push(1));
    activity.start('api_call');
    activity.attach(() => b.push(1));
    vi.advanceTimersByTime(INTERVAL);
    expect([a.length, b.length]).toEqual([0, 1]);
  });

  it('S5 S7: sendKeepalives as a function is read at each tick and each signal', () => {
    let enabled = false;
    const { activity, sender, sends, rec } = make({ sendKeepalives: () => enabled });
    activity.attach(sender);
    activity.start('api_call');
    activity.signal();
    vi.advanceTimersByTime(INTERVAL);
    expect(sends).toHaveLength(0);
    expect(rec.names()).toContain('heartbeat');
    enabled = true;
    activity.signal();
    vi.advanceTimersByTime(INTERVAL);
    expect(sends).toEqual([INTERVAL, 2 * INTERVAL]);
  });

  it('S7: signal sends at once and changes no timer', () => {
    const { activity, sender, sends } = make();
    activity.attach(sender);
    activity.start('api_call');
    vi.advanceTimersByTime(10_000);
    activity.signal();
    expect(sends).toEqual([10_000]);
    vi.advanceTimersByTime(20_000);
    expect(sends).toEqual([10_000, INTERVAL]);
  });

  it('S9: shutdown reports once, clears every timer, and dispose is the same', () => {
    const { activity, sender, rec } = make();
    activity.attach(sender);
    vi.advanceTimersByTime(1_000);
    activity.start('api_call');
    activity.start('tool_exec');
    vi.advanceTimersByTime(4_000);
    const report = activity.shutdown();
    expect(report).toEqual({ total: 2, active: { api_call: 1, tool_exec: 1 }, oldestActivityMs: 4_000, keepalivesSent: 0 });
    expect(vi.getTimerCount()).toBe(0);
    expect(activity.shutdown()).toBe(report);
    activity[Symbol.dispose]();
    expect(rec.names().filter((n) => n === 'activity_at_shutdown')).toHaveLength(1);
    expect(activity.isTrackingActive()).toBe(false);
    activity.attach(sender);
    expect(activity.isTrackingActive()).toBe(false);
  });

  it('Symbol.asyncDispose shuts down too (await using)', async () => {
    const { activity, sender } = make();
    activity.attach(sender);
    activity.start('api_call');
    await activity[Symbol.asyncDispose]();
    expect(activity.snapshot().shutdown).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('release functions: idempotent, the second call warns', () => {
    const { activity, rec } = make();
    const release = activity.start('api_call');
    release();
    release();
    expect(activity.snapshot().total).toBe(0);
    expect(rec.entries.at(-1)).toEqual({ level: 'warn', event: 'released_twice', fields: { token: 1 } });
  });

  it('run brackets sync and async work, releasing on success and on failure', async () => {
    const { activity } = make();
    expect(activity.run('tool_exec', () => activity.snapshot().total)).toBe(1);
    expect(() =>
      activity.run('tool_exec', () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    const pending = activity.run('api_call', async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return activity.snapshot().counts;
    });
    expect(activity.snapshot().total).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    await expect(pending).resolves.toEqual({ api_call: 1 });
    await expect(activity.run('api_call', () => Promise.reject(new Error('nope')))).rejects.toThrow('nope');
    expect(activity.snapshot().total).toBe(0);
  });

  it('snapshot: total, counts, age of the oldest activity, timers armed, keep-alives sent', () => {
    const { activity, sender } = make({ pongTimeoutMs: 5_000 });
    activity.attach(sender);
    activity.start('api_call');
    vi.advanceTimersByTime(INTERVAL + 10);
    expect(activity.snapshot()).toEqual({
      total: 1,
      counts: { api_call: 1 },
      oldestActivityMs: INTERVAL + 10,
      timersArmed: 2,
      keepalivesSent: 1,
      trackingActive: true,
      heartbeatRunning: true,
      shutdown: false,
    });
  });

  it('B5: no proof of life in time closes the transport through the sender', () => {
    const closes: string[] = [];
    const { activity } = make({ pongTimeoutMs: 2_000 });
    let pings = 0;
    activity.attach({ sendKeepalive: () => pings++, closeTransport: (c) => closes.push(c.reason) });
    activity.start('api_call');
    vi.advanceTimersByTime(INTERVAL);
    activity.alive();
    vi.advanceTimersByTime(INTERVAL + 1_999);
    expect(closes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(closes).toEqual(['dead_peer']);
    expect(activity.isTrackingActive()).toBe(false);
    expect(pings).toBe(2);
  });

  it('B7: permitWithoutActivity keeps the heartbeat while idle', () => {
    const { activity, sender, sends } = make({ permitWithoutActivity: true });
    activity.attach(sender);
    vi.advanceTimersByTime(2 * INTERVAL);
    expect(sends).toHaveLength(2);
  });

  it('an exception from the sender or the logger is a warn diagnostic and never stops the heartbeat', () => {
    const seen: string[] = [];
    let throwing = true;
    const activity = createSessionActivity({
      scheduler: createScheduler(),
      logger: (level, event) => {
        seen.push(`${level}:${event}`);
        if (throwing && event === 'heartbeat') throw new TypeError('logger broke');
      },
    });
    let calls = 0;
    activity.attach(() => {
      calls++;
      throw new RangeError('secret payload');
    });
    activity.start('api_call');
    expect(() => vi.advanceTimersByTime(3 * INTERVAL)).not.toThrow();
    expect(calls).toBe(3);
    expect(seen.filter((s) => s === 'warn:sender_failed')).toHaveLength(3);
    expect(seen.filter((s) => s === 'warn:logger_failed')).toHaveLength(3);
    throwing = false;
    vi.advanceTimersByTime(INTERVAL);
    expect(calls).toBe(4);
    expect(JSON.stringify(seen)).not.toContain('secret');
  });

  it('a throwing gate is read as disabled and reported', () => {
    const { activity, sender, sends, rec } = make({
      sendKeepalives: () => {
        throw new Error('env broke');
      },
    });
    activity.attach(sender);
    activity.start('api_call');
    vi.advanceTimersByTime(INTERVAL);
    expect(sends).toHaveLength(0);
    expect(rec.entries).toContainEqual({ level: 'warn', event: 'send_gate_failed', fields: { error: 'Error' } });
  });

  it('re-entrant calls from a sender are handled after the current event', () => {
    const { activity } = make();
    activity.attach(() => {
      activity.stop('api_call');
    });
    activity.start('api_call');
    vi.advanceTimersByTime(INTERVAL);
    expect(activity.snapshot().total).toBe(0);
    expect(vi.getTimerCount()).toBe(1); // the idle notice
  });

  it('diagnostics are published on the keepalive:diagnostics channel (default logger: silent)', () => {
    const messages: DiagnosticMessage[] = [];
    const listener = (message: unknown) => messages.push(message as DiagnosticMessage);
    diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNEL, listener);
    try {
      const activity = createSessionActivity({ scheduler: createScheduler() });
      activity.stop('x');
      expect(messages).toEqual([{ session: activity.id, level: 'warn', name: 'unmatched_stop', fields: { reason: 'x' } }]);
    } finally {
      diagnosticsChannel.unsubscribe(DIAGNOSTICS_CHANNEL, listener);
    }
  });

  it('console-style and pino-style loggers are both accepted', () => {
    const consoleLike = { debug: vi.fn(), info: vi.fn(), warn: vi.fn() };
    createSessionActivity({ scheduler: createScheduler(), logger: consoleLike }).stop('x');
    expect(consoleLike.warn).toHaveBeenCalledWith('unmatched_stop', { reason: 'x' });
    const pinoLike = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), child: vi.fn(), level: 'info' };
    createSessionActivity({ scheduler: createScheduler(), logger: pinoLike }).stop('y');
    expect(pinoLike.warn).toHaveBeenCalledWith({ event: 'unmatched_stop', reason: 'y' }, 'unmatched_stop');
  });

  it('onDiagnostic sees every diagnostic; a throwing one is contained', () => {
    const names: string[] = [];
    const a = createSessionActivity({ scheduler: createScheduler(), onDiagnostic: (d) => names.push(d.name) });
    a.stop('x');
    expect(names).toEqual(['unmatched_stop']);
    const b = createSessionActivity({
      scheduler: createScheduler(),
      onDiagnostic: () => {
        throw new Error('x');
      },
    });
    expect(() => { b.stop('x'); }).not.toThrow();
  });

  it('bad options throw at construction, naming the option and value', () => {
    expect(() => createSessionActivity({ heartbeatIntervalMs: -1 })).toThrow(KeepaliveOptionError);
    expect(() => createSessionActivity({ heartbeatIntervalMs: -1 })).toThrow(/heartbeatIntervalMs: -1/);
    expect(() => createSessionActivity({ sendKeepalives: 'yes' as never })).toThrow(/sendKeepalives: "yes"/);
    expect(() => createSessionActivity({ keepProcessAlive: true as never })).toThrow(/keepProcessAlive: true/);
    expect(() => createSessionActivity({ reportOnExit: 1 as never })).toThrow(/reportOnExit: 1/);
    expect(() => createSessionActivity({ scheduler: {} as never })).toThrow(/scheduler/);
    expect(() => createSessionActivity({ onDiagnostic: 5 as never })).toThrow(/onDiagnostic: 5/);
    expect(() => createSessionActivity({ logger: 5 as never })).toThrow(/logger/);
    expect(() => createSessionActivity({ logger: { info: () => undefined } as never })).toThrow(/Invalid option logger: an object \(expected .*debug\(\), info\(\) and warn\(\)\)/);
    expect(() => createSessionActivity({ heartbeatIntervalMS: 5 } as never)).toThrow(/heartbeatIntervalMS/);
    expect(() => { createSessionActivity().attach(5 as never); }).toThrow(/attach\(sender\)/);
  });
});

describe('subscribe: observing state changes without polling', () => {
  it('S1 S4 S5: a listener sees every change (start, release, heartbeat tick) once, with the new state; no change, no call', () => {
    const { activity, sender } = make();
    const seen: SessionState[] = [];
    activity.subscribe((state) => seen.push(state));
    activity.attach(sender);
    expect(seen.map((s) => s.attached)).toEqual([true]);
    const release = activity.start('api_call');
    expect(seen.at(-1)).toBe(activity.state);
    expect(seen.at(-1)).toMatchObject({ total: 1, counts: { api_call: 1 } });
    expect(seen.at(-1)!.heartbeatAt).not.toBeNull(); // told after the change is complete (S4: heartbeat armed)
    const before = seen.length;
    activity.stop('nope'); // B2: an unmatched stop changes nothing, so nobody is called
    expect(seen).toHaveLength(before);
    vi.advanceTimersByTime(INTERVAL); // S5: a tick changes the state (keep-alives sent)
    expect(seen.at(-1)!.keepalivesSent).toBe(1);
    release();
    expect(seen.at(-1)!.total).toBe(0);
    // Never the same state twice in a row.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toBe(seen[i - 1]);
  });

  it('S1: total 0 → 1 and 1 → 0 are observed without polling (the transition a lazy client waits for)', () => {
    const { activity } = make();
    const edges: string[] = [];
    let busy = false;
    activity.subscribe((state) => {
      if (state.total > 0 !== busy) {
        busy = state.total > 0;
        edges.push(busy ? 'busy' : 'idle');
      }
    });
    const a = activity.start('api_call');
    const b = activity.start('tool_exec');
    a();
    b();
    activity.run('api_call', () => undefined);
    expect(edges).toEqual(['busy', 'idle', 'busy', 'idle']);
  });

  it('a throwing listener is a warn diagnostic (its error name only) and never stops the others or the heartbeat', () => {
    const { activity, sender, sends, rec } = make();
    const calls: string[] = [];
    activity.subscribe(() => {
      calls.push('a');
      throw new RangeError('secret payload');
    });
    activity.subscribe(() => calls.push('b'));
    activity.attach(sender);
    expect(() => activity.start('api_call')).not.toThrow();
    vi.advanceTimersByTime(2 * INTERVAL);
    expect(sends).toHaveLength(2);
    expect(calls).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
    expect(rec.entries.filter((e) => e.event === 'subscriber_failed')).toEqual(
      Array.from({ length: 4 }, () => ({ level: 'warn', event: ADAPTER_DIAGNOSTICS.subscriberFailed, fields: { error: 'RangeError' } })),
    );
    expect(JSON.stringify(rec.entries)).not.toContain('secret');
  });

  it('re-entrant: a listener that changes the state; every listener then sees the states in order, never a stale one twice', () => {
    const { activity } = make();
    const first: number[] = [];
    const second: number[] = [];
    activity.subscribe((state) => {
      first.push(state.total);
      if (state.total === 1) activity.start('tool_exec');
    });
    activity.subscribe((state) => second.push(state.total));
    activity.start('api_call');
    expect(first).toEqual([1, 2]);
    expect(second).toEqual([1, 2]);
    expect(activity.state.total).toBe(2);
  });

  it('unsubscribe stops the calls at once (even mid-round), is idempotent, and each subscription is its own', () => {
    const { activity } = make();
    const calls: string[] = [];
    const listener = (): void => {
      calls.push('x');
    };
    const offA = activity.subscribe(listener);
    const offB = activity.subscribe(listener);
    let offC: () => void = () => undefined;
    activity.subscribe(() => {
      calls.push('remover');
      offC();
    });
    offC = activity.subscribe(() => calls.push('c'));
    activity.start('api_call');
    expect(calls).toEqual(['x', 'x', 'remover']);
    offA();
    offA();
    activity.stop('api_call');
    expect(calls).toEqual(['x', 'x', 'remover', 'x', 'remover']);
    offB();
    expect(() => activity.subscribe(5 as never)).toThrow(/subscribe\(listener\)/);
  });

  it('S9: at shutdown the listeners see the final state once, then none is kept; subscribing afterwards adds nothing', () => {
    const { activity, sender } = make();
    const seen: SessionState[] = [];
    let nested: unknown = null;
    activity.subscribe((state) => {
      seen.push(state);
      // A listener that shuts down again from the final notification gets the same report.
      if (state.shutdown) nested = activity.shutdown();
    });
    activity.attach(sender);
    activity.start('api_call');
    const report = activity.shutdown();
    expect(report).toEqual({ total: 1, active: { api_call: 1 }, oldestActivityMs: 0, keepalivesSent: 0 });
    expect(nested).toBe(report);
    expect(seen.filter((state) => state.shutdown)).toHaveLength(1);
    expect(seen.at(-1)).toBe(activity.state);
    const count = seen.length;
    const late: SessionState[] = [];
    const off = activity.subscribe((state) => late.push(state));
    activity.attach(sender);
    activity.start('api_call');
    off();
    expect(seen).toHaveLength(count);
    expect(late).toHaveLength(0);
    expect(activity.shutdown()).toBe(report);
    expect((activity as unknown as { subscribers: { size: number } }).subscribers.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
