import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { Stepper, diag } from './__tests__/kernel-driver.js';
import { canRestart, connectionStep, defineConnectionConfig, defineKernelConfig, openConnection, type ConnectionCommand, type ConnectionEvent, type ConnectionState } from './index.js';

/**
 * `restart` (the client's `reconnect()`): a connection closed for good because the peer rejected it (B12) or its
 * attempts ran out (B11) starts again, as new; anywhere else it is a warning and no change, never a throw.
 */

const options = { heartbeatIntervalMs: 1_000, pongTimeoutMs: 500, connectTimeoutMs: 2_000, reconnect: { initialDelayMs: 100, maxDelayMs: 1_000, maxAttempts: 2 } } as const;

/** Two attempts that fail to open, then a third: exhausted at 1 000. */
function exhausted(): Stepper {
  const k = new Stepper(defineKernelConfig(options), 0, 1);
  k.step({ type: 'socket_closed', now: 10, code: 1006, reason: '', random: 0 });
  k.step({ type: 'timeout', now: 10 });
  k.step({ type: 'socket_closed', now: 20, code: 1006, reason: '', random: 0 });
  k.step({ type: 'timeout', now: 20 });
  k.step({ type: 'socket_closed', now: 1_000, code: 1006, reason: '', random: 0 });
  expect([k.state.phase, k.state.cause]).toEqual(['closed', 'exhausted']);
  return k;
}

function rejected(): Stepper {
  const k = new Stepper(defineKernelConfig(options), 0, 1);
  k.step({ type: 'socket_opened', now: 10, canPing: true });
  k.step({ type: 'socket_closed', now: 20, code: 4401, reason: 'unauthorized' });
  expect([k.state.phase, k.state.cause]).toEqual(['closed', 'rejected']);
  return k;
}

describe('restart (B11, B12): a closed client starts again', () => {
  it('B11: after exhausted, a restart opens attempt 0 with a fresh attempt count and backoff level, and says so', () => {
    const k = exhausted();
    expect(canRestart(k.state)).toBe(true);
    expect(k.state.backoff.attempt).toBe(2);
    const commands = k.step({ type: 'restart', now: 5_000 });
    expect(commands).toEqual([diag('info', 'restarted', { cause: 'exhausted' }), { type: 'open_socket', attempt: 0, serial: 4, resume: null }]);
    expect([k.state.phase, k.state.attempt, k.state.cause, k.state.backoff.phase, k.state.backoff.attempt, k.state.backoff.level]).toEqual(['connecting', 0, null, 'connecting', 0, 0]);
    // The connect timeout is armed again; the session is new and not shut down.
    expect(k.state.timers[0]).toBe(7_000);
    expect(k.state.session.shutdown).toBe(false);
    // The fresh count: maxAttempts (2) failures again before it is exhausted again.
    k.step({ type: 'socket_closed', now: 5_010, code: 1006, reason: '', random: 0 });
    expect(k.state.phase).toBe('backoff');
    k.step({ type: 'timeout', now: 5_010 });
    k.step({ type: 'socket_closed', now: 5_020, code: 1006, reason: '', random: 0 });
    expect(k.state.phase).toBe('backoff');
    k.step({ type: 'timeout', now: 5_020 });
    k.step({ type: 'socket_closed', now: 5_030, code: 1006, reason: '', random: 0 });
    expect([k.state.phase, k.state.cause]).toEqual(['closed', 'exhausted']);
  });

  it('B12: after rejected, a restart connects again; the open runs the session (heartbeat while busy, S4)', () => {
    const k = rejected();
    expect(canRestart(k.state)).toBe(true);
    expect(k.step({ type: 'restart', now: 100 })).toContainEqual({ type: 'open_socket', attempt: 0, serial: 2, resume: null });
    k.step({ type: 'socket_opened', now: 110, canPing: true });
    expect(k.state.phase).toBe('open');
    const started = k.step({ type: 'start', now: 120, reason: 'api_call' });
    expect(started).toEqual([]);
    expect(k.step({ type: 'timeout', now: 1_120 })).toContainEqual({ type: 'keepalive', frame: 'ping', ack: null });
  });

  it('B10: a restart anywhere else (connecting, open, backoff, closed on request) warns, changes nothing, never throws', () => {
    const k = new Stepper(defineKernelConfig(options), 0, 1);
    const check = (phase: string, cause: string | null): void => {
      const before = k.state;
      expect(k.step({ type: 'restart', now: before.now + 1 })).toEqual([diag('warn', 'restart_ignored', { phase, cause })]);
      expect(k.state).toBe(before);
      expect(canRestart(before)).toBe(false);
    };
    check('connecting', null);
    k.step({ type: 'socket_opened', now: 10, canPing: true });
    check('open', null);
    k.step({ type: 'socket_closed', now: 20, code: 1006, reason: '', random: 0.5 });
    check('backoff', null);
    k.step({ type: 'close', now: 30, code: 1000, reason: '' });
    check('closed', 'closed');
    const aborted = new Stepper(defineKernelConfig(options), 0, 1);
    aborted.step({ type: 'close', now: 1, code: 1000, reason: '', cause: 'aborted' });
    expect(aborted.step({ type: 'restart', now: 2 })).toEqual([diag('warn', 'restart_ignored', { phase: 'closed', cause: 'aborted' })]);
  });

  it('B14: work in flight at the close is reported (S9) and not carried over; its late release is unknown to the new session', () => {
    const k = rejected();
    const busy = new Stepper(defineKernelConfig(options), 0, 1);
    busy.step({ type: 'socket_opened', now: 10, canPing: true });
    busy.step({ type: 'start', now: 11, reason: 'api_call' });
    const token = busy.state.session.lastToken;
    busy.step({ type: 'socket_closed', now: 20, code: 4401, reason: 'unauthorized' });
    busy.step({ type: 'restart', now: 30 });
    expect(busy.state.session.total).toBe(0);
    expect(busy.step({ type: 'release', now: 40, token })).toContainEqual(diag('warn', 'released_twice', { token }));
    expect(busy.state.session.total).toBe(0);
    expect(k.state.session.total).toBe(0);
  });
});

/** Any event of the connection, with its time (what a driver may deliver; restarts included, often). */
const anyEvent: fc.Arbitrary<(now: number) => ConnectionEvent> = fc.oneof(
  fc.constant((now: number): ConnectionEvent => ({ type: 'restart', now })),
  fc.boolean().map((canPing) => (now: number): ConnectionEvent => ({ type: 'socket_opened', now, canPing })),
  fc.constantFrom(1000, 1006, 4000, 4401).map((code) => (now: number): ConnectionEvent => ({ type: 'socket_closed', now, code, reason: '', random: 0.5 })),
  fc.constant((now: number): ConnectionEvent => ({ type: 'timeout', now: now + 5_000 })),
  fc.constant((now: number): ConnectionEvent => ({ type: 'start', now, reason: 'api_call' })),
  fc.constant((now: number): ConnectionEvent => ({ type: 'stop', now, reason: 'api_call' })),
  fc.constant((now: number): ConnectionEvent => ({ type: 'close', now, code: 1000, reason: '' })),
);

describe('restart: properties', () => {
  test.prop([fc.array(anyEvent, { maxLength: 50 }), fc.constantFrom<'eager' | 'lazy'>('eager', 'lazy')])(
    'B10 B11 B12: restart changes the state only from a rejected or exhausted close, and then always to connecting at attempt 0',
    (events, whenIdle) => {
      const config = defineConnectionConfig({ ...options, reconnect: { ...options.reconnect, whenIdle } });
      let [state] = openConnection(config, 0, 7);
      let now = 0;
      for (const make of events) {
        now += 10;
        const event = make(now);
        const out: ConnectionCommand[] = [];
        const before: ConnectionState = state;
        state = connectionStep(state, event, out);
        if (event.type !== 'restart') continue;
        if (canRestart(before)) {
          expect([state.phase, state.attempt, state.backoff.attempt, state.cause]).toEqual(['connecting', 0, 0, null]);
          expect(out.filter((command) => command.type === 'open_socket')).toHaveLength(1);
        } else {
          expect(state).toBe(before);
          expect(out).toEqual([diag('warn', 'restart_ignored', { phase: before.phase, cause: before.phase === 'closed' ? before.cause : null })]);
        }
      }
    },
  );
});
