import diagnosticsChannel from 'node:diagnostics_channel';
import { createSessionState, step, type Diagnostic, type SessionCommand, type SessionState } from '@keepalive/core';
import { describe, expect, it } from 'vitest';
import { DIAGNOSTICS_CHANNEL, StateSubscribers, createDiagnosticSink, createWorkActivity, runActivity, type WorkEvent } from './index.node.js';

/** The shared pieces of every activity front and the one diagnostic sink, on a session machine stepped by hand. */

function host(): { state: () => SessionState; events: WorkEvent[]; front: ReturnType<typeof createWorkActivity>; subscribers: StateSubscribers; clock: { now: number } } {
  let session = createSessionState({ heartbeatIntervalMs: 100 });
  const events: WorkEvent[] = [];
  const clock = { now: 0 };
  const subscribers = new StateSubscribers(() => undefined);
  const front = createWorkActivity({
    id: 7,
    session: () => session,
    now: () => clock.now,
    work: (event) => {
      events.push(event);
      const out: SessionCommand[] = [];
      session = step(session, event, out);
      subscribers.notify(() => session);
    },
    readGate: () => false,
    subscribers,
  });
  return { state: () => session, events, front, subscribers, clock };
}

describe('createWorkActivity: work in, session state out (S1, S2, S7, S9)', () => {
  it('S1: start returns a release for exactly that activity; run releases in every outcome; stop stops the oldest', async () => {
    const { front, events, state, clock } = host();
    const release = front.start('api_call');
    clock.now = 5;
    front.start('api_call');
    expect(front.state.total).toBe(2);
    release();
    release();
    expect(state().total).toBe(1);
    expect(front.run('tool_exec', () => 42)).toBe(42);
    await expect(front.run('tool_exec', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(() => front.run('tool_exec', () => { throw new Error('sync'); })).toThrow('sync');
    front.stop('api_call');
    expect(state().total).toBe(0);
    expect(events.map((event) => event.type)).toContain('release');
    front.signal();
    expect(events.at(-1)).toEqual({ type: 'signal', now: 5, sendKeepalives: false });
    expect(front.id).toBe(7);
    expect(front.isTrackingActive()).toBe(false);
    expect(front.snapshot()).toMatchObject({ total: 0 });
  });

  it('a tick nobody listens to reads no state; the first subscriber is told from the next change on', () => {
    let state = createSessionState();
    let reads = 0;
    const subscribers = new StateSubscribers(
      () => undefined,
      () => {
        reads++;
        return state;
      },
    );
    for (let i = 1; i <= 3; i++) {
      state = step(state, { type: 'start', reason: 'x', now: i }, []);
      subscribers.notify();
    }
    expect(reads).toBe(0);
    const seen: number[] = [];
    subscribers.add((s) => seen.push(s.total));
    subscribers.notify();
    expect(seen).toEqual([]);
    state = step(state, { type: 'start', reason: 'x', now: 4 }, []);
    subscribers.notify();
    expect(seen).toEqual([4]);
  });

  it('subscribers see each new state once, in order; a throwing one is reported and never stops the others; nothing after shutdown', () => {
    const { front, subscribers } = host();
    const seen: number[] = [];
    const failures: unknown[] = [];
    const reporting = new StateSubscribers((error) => failures.push(error));
    const off = front.subscribe((s) => seen.push(s.total));
    front.start('a');
    front.start('b');
    off();
    front.start('c');
    expect(seen).toEqual([1, 2]);
    expect(subscribers.size).toBe(0);
    expect(() => front.subscribe(5 as never)).toThrow(/expected a function/);
    let state = createSessionState();
    reporting.add(() => {
      throw new Error('listener');
    });
    const after: number[] = [];
    reporting.add((s) => after.push(s.total));
    state = step(state, { type: 'start', reason: 'x', now: 1 }, []);
    reporting.notify(() => state);
    expect(failures).toHaveLength(1);
    expect(after).toEqual([1]);
    state = step(state, { type: 'shutdown', now: 2 }, []);
    const closed = createWorkActivity({ id: 1, session: () => state, now: () => 2, work: () => undefined, readGate: () => undefined, subscribers: reporting });
    const unsubscribe = closed.subscribe(() => undefined);
    expect(reporting.size).toBe(2);
    unsubscribe();
    reporting.clear();
    expect(reporting.size).toBe(0);
  });

  it('runActivity releases once whatever the outcome', async () => {
    let releases = 0;
    const start = (): (() => void) => () => {
      releases++;
    };
    await runActivity(start, 'x', () => Promise.resolve(1));
    expect(runActivity(start, 'x', () => 'sync')).toBe('sync');
    expect(releases).toBe(2);
  });
});

describe('createDiagnosticSink: one sink for the logger, the channel and the hook (S10)', () => {
  const diagnostic: Diagnostic = { type: 'diagnostic', level: 'info', name: 'idle', fields: { idle_ms: 5 } };

  it('delivers to the channel, then the logger, then the hook; a failing logger is reported once as logger_failed', () => {
    const published: unknown[] = [];
    const onMessage = (message: unknown): void => {
      published.push(message);
    };
    diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNEL, onMessage);
    try {
      const logged: string[] = [];
      const hooked: string[] = [];
      const sink = createDiagnosticSink({
        session: 3,
        logger: (level, event) => {
          logged.push(`${level}:${event}`);
          if (event === 'idle') throw new TypeError('broken');
        },
        onDiagnostic: (d) => {
          hooked.push(d.name);
          throw new Error('hook');
        },
      });
      sink(diagnostic);
      expect(logged).toEqual(['info:idle', 'warn:logger_failed']);
      expect(hooked).toEqual(['idle']);
      expect(published).toEqual([
        { session: 3, level: 'info', name: 'idle', fields: { idle_ms: 5 } },
        { session: 3, level: 'warn', name: 'logger_failed', fields: { error: 'TypeError', event: 'idle' } },
      ]);
      const twice = createDiagnosticSink({
        session: 4,
        logger: () => {
          throw new RangeError('always');
        },
      });
      expect(() => twice(diagnostic)).not.toThrow();
    } finally {
      diagnosticsChannel.unsubscribe(DIAGNOSTICS_CHANNEL, onMessage);
    }
  });

  it('B1: refuses a bad logger or hook by name; console-style and pino-style loggers get their shapes', () => {
    expect(() => createDiagnosticSink({ session: 1, onDiagnostic: 'x' as never })).toThrow(/Invalid option onDiagnostic/);
    expect(() => createDiagnosticSink({ session: 1, logger: null as never })).toThrow(/Invalid option logger: null/);
    const calls: unknown[][] = [];
    const consoleLike = { debug: (...args: unknown[]) => calls.push(args), info: (...args: unknown[]) => calls.push(args), warn: (...args: unknown[]) => calls.push(args) };
    createDiagnosticSink({ session: 1, logger: consoleLike })(diagnostic);
    createDiagnosticSink({ session: 1, logger: { ...consoleLike, child: () => consoleLike, level: 'info' } })(diagnostic);
    expect(calls).toEqual([
      ['idle', { idle_ms: 5 }],
      [{ event: 'idle', idle_ms: 5 }, 'idle'],
    ]);
  });
});
