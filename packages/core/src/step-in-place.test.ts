import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  SESSION_TIMERS,
  clearCommands,
  createSessionState,
  pollTimeout,
  step,
  stepInPlace,
  transition,
  type MutableSessionState,
  type SessionCommand,
  type SessionEvent,
  type SessionState,
  type StepOptions,
} from './index.js';
import { sessionOptions as options } from './__tests__/arbitraries.js';

/**
 * The driver paths against the reference: `step` with options and
 * `stepInPlace` must give, for every event sequence, exactly the state
 * `transition` gives and exactly its commands minus what the options leave out.
 */

type Raw =
  | { k: 'start' | 'stop'; reason: string }
  | { k: 'release'; token: number }
  | { k: 'attach' | 'detach' | 'alive' | 'shutdown' | 'bad' }
  | { k: 'signal' | 'timeout'; gate: boolean | undefined }
  | { k: 'timer'; timer: string; atDeadline: boolean; gate: boolean | undefined };

const gate = fc.option(fc.boolean(), { nil: undefined });
const reason = fc.constantFrom('api_call', 'tool_exec', '__proto__', '');
const raw: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constantFrom('start' as const, 'stop' as const), reason }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('release' as const), token: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constantFrom('attach' as const, 'detach' as const, 'alive' as const, 'shutdown' as const, 'bad' as const) }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constantFrom('signal' as const, 'timeout' as const), gate }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('timer' as const), timer: fc.constantFrom(...SESSION_TIMERS, 'nope'), atDeadline: fc.boolean(), gate }) },
);
const timed = fc.record({ raw, dt: fc.oneof(fc.integer({ min: 0, max: 1_500 }), fc.constant(-20)) });

const stepOptions: fc.Arbitrary<StepOptions> = fc.record({ debug: fc.option(fc.boolean(), { nil: undefined }), timerCommands: fc.option(fc.boolean(), { nil: undefined }) });

function toEvent(state: SessionState, r: Raw, now: number): SessionEvent {
  switch (r.k) {
    case 'start':
    case 'stop':
      return { type: r.k, reason: r.reason, now };
    case 'release':
      return { type: 'release', token: r.token, now };
    case 'signal':
    case 'timeout':
      return { type: r.k, now, sendKeepalives: r.gate };
    case 'timer': {
      const deadline = pollTimeout(state);
      return { type: 'timer', timer: r.timer as never, now: r.atDeadline && deadline !== null ? Math.max(now, deadline) : now, sendKeepalives: r.gate };
    }
    case 'bad':
      return { type: 'bogus', now } as unknown as SessionEvent;
    default:
      return { type: r.k, now };
  }
}

/** The reference commands with what `options` leaves out removed. */
function wanted(commands: readonly SessionCommand[], options: StepOptions): SessionCommand[] {
  return commands.filter((command) => {
    if (options.timerCommands === false && (command.type === 'arm' || command.type === 'cancel')) return false;
    if (options.debug === false && command.type === 'diagnostic' && command.level === 'debug') return false;
    return true;
  });
}

describe('driver paths against transition', () => {
  test.prop([options, fc.array(fc.tuple(timed, stepOptions), { maxLength: 80 })], { numRuns: 400 })(
    'step with options and stepInPlace give transition’s state and its commands minus what the options leave out, for any event sequence',
    (sessionOptions, events) => {
      let reference = createSessionState(sessionOptions, 0);
      let stepped: SessionState = reference;
      const placed: MutableSessionState = { ...reference };
      const snapshots: [SessionState, string][] = [];
      let now = 0;
      const out: SessionCommand[] = [];
      for (const [{ raw: r, dt }, opts] of events) {
        now += dt;
        const event = toEvent(reference, r, now);
        snapshots.push([reference, JSON.stringify(reference)]);
        const [next, commands] = transition(reference, event);

        out.length = 0;
        const steppedNext = step(stepped, event, out, opts);
        expect(out).toEqual(wanted(commands, opts));
        // The same object exactly when nothing changed.
        expect(steppedNext === stepped).toBe(next === reference);
        stepped = steppedNext;

        out.length = 0;
        const changed = stepInPlace(placed, event, out, opts);
        expect(out).toEqual(wanted(commands, opts));
        expect(changed).toBe(next !== reference);
        expect({ ...placed }).toEqual({ ...next });
        reference = next;
      }
      expect(stepped).toEqual(reference);
      // The pure paths never wrote to a state they were given.
      for (const [state, json] of snapshots) expect(JSON.stringify(state)).toBe(json);
    },
  );
});

describe('stepInPlace', () => {
  it('S5: a heartbeat tick with nobody listening at debug level and no timer commands appends only the send, and allocates no state', () => {
    const state: MutableSessionState = createSessionState({ heartbeatIntervalMs: 1_000, sendKeepalives: true }, 0);
    const out: SessionCommand[] = [];
    stepInPlace(state, { type: 'attach', now: 0 }, out);
    stepInPlace(state, { type: 'start', reason: 'api_call', now: 0 }, out);
    out.length = 0;
    const before = state;
    expect(stepInPlace(state, { type: 'timeout', now: 1_000 }, out, { debug: false, timerCommands: false })).toBe(true);
    expect(state).toBe(before);
    expect(out).toEqual([{ type: 'send' }]);
    expect(state.heartbeatAt).toBe(2_000);
    expect(state.keepalivesSent).toBe(1);
    out.length = 0;
    expect(stepInPlace(state, { type: 'alive', now: 1_001 }, out)).toBe(false);
    expect(out).toEqual([]);
  });

  it('leaves step and transition pure after it ran (the in-place mode does not leak)', () => {
    const placed: MutableSessionState = createSessionState({}, 0);
    stepInPlace(placed, { type: 'attach', now: 0 }, [], { timerCommands: false });
    const pure = createSessionState({}, 0);
    const [next, commands] = transition(pure, { type: 'attach', now: 1 });
    expect(next).not.toBe(pure);
    expect(pure.attached).toBe(false);
    expect(commands).toEqual([]);
    const [busy, armed] = transition(next, { type: 'start', reason: 'api_call', now: 2 });
    expect(armed).toEqual([{ type: 'arm', timer: 'heartbeat', deadline: 2 + busy.config.heartbeatIntervalMs }]);
  });

  it('clearCommands empties a buffer, or keeps the front of it', () => {
    const out: SessionCommand[] = [{ type: 'send' }, { type: 'send' }, { type: 'cancel', timer: 'idle' }];
    clearCommands(out, 1);
    expect(out).toEqual([{ type: 'send' }]);
    clearCommands(out);
    expect(out).toEqual([]);
  });
});
