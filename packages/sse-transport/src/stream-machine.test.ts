import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { KeepaliveOptionError } from '@keepalive/core';
import { createSseStreamState, defineSseStreamConfig, sseStreamDeadline, sseStreamStep, type SseStreamCommand, type SseStreamEvent, type SseStreamState } from './index.js';

/** The server stream's life: when it ends, why, and that it releases exactly once. */

function run(state: SseStreamState, events: readonly SseStreamEvent[]): { state: SseStreamState; commands: SseStreamCommand[] } {
  const commands: SseStreamCommand[] = [];
  for (const event of events) state = sseStreamStep(state, event, commands);
  return { state, commands };
}

type Action = { k: 'event' | 'gone' | 'write_failed' | 'close' } | { k: 'wait'; dt: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ k: 'event' as const }) },
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 400 }).map((dt) => ({ k: 'wait' as const, dt })) },
  { weight: 1, arbitrary: fc.constantFrom({ k: 'gone' as const }, { k: 'write_failed' as const }, { k: 'close' as const }) },
);

describe('the stream machine', () => {
  test.prop([fc.option(fc.integer({ min: 1, max: 500 }), { nil: null }), fc.array(action, { maxLength: 60 })])(
    'idle close: the stream ends for idleness exactly when no event came for idleCloseMs; it releases once, then ignores everything',
    (idleCloseMs, actions) => {
      let state = createSseStreamState(defineSseStreamConfig({ idleCloseMs }), 0);
      let now = 0;
      let lastEvent = 0;
      const commands: SseStreamCommand[] = [];
      let expectedCause: string | null = null;
      for (const act of actions) {
        if (act.k === 'wait') {
          const end = now + act.dt;
          // Fire every deadline on the way at its own time, as a one-timer driver does.
          for (let deadline = sseStreamDeadline(state); deadline !== null && deadline <= end; deadline = sseStreamDeadline(state)) {
            now = Math.max(now, deadline);
            if (expectedCause === null && idleCloseMs !== null && now - lastEvent >= idleCloseMs) expectedCause = 'idle_timeout';
            state = sseStreamStep(state, { type: 'timeout', now }, commands);
          }
          now = end;
          continue;
        }
        if (expectedCause === null && act.k !== 'event') expectedCause = act.k === 'gone' ? 'client_gone' : act.k === 'close' ? 'closed' : 'write_failed';
        if (expectedCause === null) lastEvent = now;
        state = act.k === 'write_failed' ? sseStreamStep(state, { type: 'write_failed', now, error: 'Error' }, commands) : sseStreamStep(state, { type: act.k, now }, commands);
        // Never idle for idleCloseMs or more while open.
        if (state.phase === 'open' && idleCloseMs !== null) expect(now - state.lastEventAt).toBeLessThan(idleCloseMs + 400);
      }
      expect(state.cause).toBe(expectedCause);
      expect(commands.filter((command) => command.type === 'release')).toHaveLength(expectedCause === null ? 0 : 1);
      if (state.phase === 'closed') expect(sseStreamDeadline(state)).toBeNull();
      // An idle-closed or closed stream is ended politely; a failed one destroyed; a gone one left alone.
      const ends = commands.filter((command) => command.type === 'end').length;
      const destroys = commands.filter((command) => command.type === 'destroy').length;
      expect([ends, destroys]).toEqual(expectedCause === 'closed' || expectedCause === 'idle_timeout' ? [1, 0] : expectedCause === 'write_failed' ? [0, 1] : [0, 0]);
    },
  );

  it('an event since the check was armed moves the check to when the silence would be long enough', () => {
    const start = createSseStreamState(defineSseStreamConfig({ idleCloseMs: 1_000 }), 0);
    const { state, commands } = run(start, [
      { type: 'event', now: 600 },
      { type: 'timeout', now: 1_000 },
    ]);
    expect(state.idleAt).toBe(1_600);
    expect(commands).toEqual([]);
    const after = run(state, [{ type: 'timeout', now: 1_600 }]);
    expect(after.state.cause).toBe('idle_timeout');
    expect(after.commands).toEqual([
      { type: 'diagnostic', level: 'info', name: 'sse_idle_closed', fields: { idle_ms: 1_000 } },
      { type: 'end' },
      { type: 'diagnostic', level: 'info', name: 'sse_stream_closed', fields: { cause: 'idle_timeout', open_ms: 1_600, events: 1 } },
      { type: 'release', cause: 'idle_timeout' },
    ]);
  });

  it('a failed write is reported by its error name only (S10), and destroys the transport', () => {
    const { commands } = run(createSseStreamState(defineSseStreamConfig(), 5), [{ type: 'write_failed', now: 7, error: 'TypeError' }]);
    expect(commands[0]).toEqual({ type: 'diagnostic', level: 'warn', name: 'sse_write_failed', fields: { error: 'TypeError' } });
    expect(commands[1]).toEqual({ type: 'destroy' });
  });

  it('B1: idleCloseMs is null or a valid duration; an early timeout or time going backwards changes nothing', () => {
    expect(defineSseStreamConfig({}).idleCloseMs).toBeNull();
    expect(() => defineSseStreamConfig({ idleCloseMs: 0 })).toThrow(KeepaliveOptionError);
    expect(() => defineSseStreamConfig({ idleCloseMs: Number.POSITIVE_INFINITY })).toThrow(/idleCloseMs: Infinity/);
    expect(() => defineSseStreamConfig(null as unknown as object)).toThrow(KeepaliveOptionError);
    const state = createSseStreamState(defineSseStreamConfig({ idleCloseMs: 100 }), 50);
    expect(run(state, [{ type: 'timeout', now: 120 }]).state).toBe(state);
    expect(run(state, [{ type: 'event', now: 10 }]).state.lastEventAt).toBe(50);
    expect(sseStreamStep(state, { type: 'unknown', now: 60 } as unknown as SseStreamEvent, [])).toBe(state);
  });
});
