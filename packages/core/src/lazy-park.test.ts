import { describe, expect, it } from 'vitest';
import { Stepper, diag, ev, idleReport } from './__tests__/kernel-driver.js';
import { connectionDeadline, defineKernelConfig, lazyParkLayer, type KernelOptions } from './index.js';

/**
 * The lazy-park layer on the kernel alone (B10's parked phase): heartbeat 1 s, connect timeout 2 s, backoff 100 ms
 * doubling up to 1 s; every event that may start a backoff carries its jitter draw.
 */

const options: KernelOptions = {
  heartbeatIntervalMs: 1_000,
  pongTimeoutMs: 500,
  connectTimeoutMs: 2_000,
  reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
};

function lazy(): Stepper {
  const k = new Stepper(defineKernelConfig(options, [lazyParkLayer]), 0, 1);
  k.step({ type: 'socket_opened', now: 0, canPing: true });
  return k;
}

/** Open at 0, lost while idle at 1 000: parked. */
function parked(): Stepper {
  const k = lazy();
  k.step({ type: 'socket_closed', now: 1_000, code: 1006, reason: '', random: 0.5 });
  expect(k.state.phase).toBe('parked');
  return k;
}

describe('the lazy-park layer: parking (B10)', () => {
  it('B10: a loss while idle parks: parked diagnostic, idle event, no reconnect, nothing armed', () => {
    const k = lazy();
    expect(k.step({ type: 'socket_closed', now: 1_000, code: 1006, reason: '', random: 0.5 })).toEqual([
      diag('info', 'connection_lost', { code: 1006 }),
      ev({ type: 'close', code: 1006, reason: '', willReconnect: false }),
      diag('info', 'parked', { code: 1006 }),
      ev({ type: 'parked', code: 1006, reason: '' }), ev({ type: 'idle', code: 1006, reason: '' }),
    ]);
    expect([k.state.phase, k.state.parkedAt, k.state.backoff.phase, k.state.timers]).toEqual(['parked', 1_000, 'stopped', [null, null]]);
    expect(connectionDeadline(k.state)).toBeNull();
    expect(k.step({ type: 'timeout', now: 100_000 })).toEqual([]);
    expect([k.state.phase, k.state.sockets]).toEqual(['parked', 1]);
  });

  it('B10: a loss while busy, or with a message queued, backs off instead', () => {
    const busy = lazy();
    busy.step({ type: 'start', now: 500, reason: 'api_call' });
    expect(busy.step({ type: 'socket_closed', now: 1_000, code: 1006, reason: '', random: 0.5 })).toEqual([
      diag('info', 'connection_lost', { code: 1006 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 50 }),
      ev({ type: 'close', code: 1006, reason: '', willReconnect: true }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }),
    ]);
    expect([busy.state.phase, connectionDeadline(busy.state)]).toEqual(['backoff', 1_050]);
    const queued = lazy();
    expect(queued.step({ type: 'send', now: 500, bytes: 10, writable: false })).toEqual([{ type: 'enqueue' }]);
    expect(queued.step({ type: 'socket_closed', now: 1_000, code: 1006, reason: '', random: 0.5 })).toContainEqual(ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }));
    expect(queued.state.phase).toBe('backoff');
  });

  it('B10: a backoff delay that ends idle parks (with the last loss), one that ends busy reconnects', () => {
    const k = lazy();
    k.step({ type: 'start', now: 500, reason: 'api_call' });
    k.step({ type: 'socket_closed', now: 1_000, code: 4000, reason: 'idle', random: 0.5 });
    expect(k.step({ type: 'stop', now: 1_020, reason: 'api_call' })).toEqual([]);
    expect(k.step({ type: 'timeout', now: 1_050 })).toEqual([diag('info', 'parked', { code: 4000 }), ev({ type: 'parked', code: 4000, reason: 'idle' }), ev({ type: 'idle', code: 4000, reason: 'idle' })]);
    expect([k.state.phase, k.state.parkedAt, connectionDeadline(k.state)]).toEqual(['parked', 1_050, null]);

    const busy = lazy();
    busy.step({ type: 'start', now: 500, reason: 'api_call' });
    busy.step({ type: 'socket_closed', now: 1_000, code: 1006, reason: '', random: 0.5 });
    expect(busy.step({ type: 'timeout', now: 1_050 })).toEqual([{ type: 'open_socket', attempt: 1, serial: 2, resume: null }]);
  });

  it('B10: an attempt that fails while idle parks again, with no close event (nothing was open)', () => {
    const k = parked();
    k.step({ type: 'start', now: 1_500, reason: 'api_call' });
    k.step({ type: 'stop', now: 1_600, reason: 'api_call' });
    expect(k.step({ type: 'socket_closed', now: 1_700, code: 1006, reason: '', random: 0.5 })).toEqual([
      diag('warn', 'connect_failed', { attempt: 0 }),
      diag('info', 'parked', { code: 1006 }),
      ev({ type: 'parked', code: 1006, reason: '' }), ev({ type: 'idle', code: 1006, reason: '' }),
    ]);
    expect([k.state.phase, k.state.parkedAt, k.state.timers]).toEqual(['parked', 1_700, [null, null]]);
  });

  it('B12 B10: a terminal close while idle rejects; it never parks', () => {
    const k = lazy();
    const out = k.step({ type: 'socket_closed', now: 1_000, code: 4403, reason: 'forbidden', random: 0.5 });
    expect(out).toContainEqual(ev({ type: 'rejected', code: 4403, reason: 'forbidden' }));
    expect(out.some((command) => command.type === 'diagnostic' && command.name === 'parked')).toBe(false);
    expect(k.state.phase).toBe('closed');
  });
});

describe('the lazy-park layer: unparking (B10)', () => {
  it('B10: work starting unparks at once with attempt 0: unparked {trigger: activity, parked_ms}', () => {
    const k = parked();
    expect(k.step({ type: 'start', now: 1_500, reason: 'api_call' })).toEqual([
      { type: 'open_socket', attempt: 0, serial: 2, resume: null },
      diag('info', 'unparked', { trigger: 'activity', parked_ms: 500 }),
    ]);
    expect([k.state.phase, k.state.attempt, k.state.parkedAt, k.state.timers]).toEqual(['connecting', 0, null, [3_500, null]]);
    // Attempt 0 is on demand: its open is no "reconnected".
    expect(k.step({ type: 'socket_opened', now: 1_600, canPing: true })).toEqual([ev({ type: 'open', attempt: 0 })]);
  });

  it('B10: a send while parked queues the message and unparks: unparked {trigger: send, parked_ms}; the open flushes it', () => {
    const k = parked();
    expect(k.step({ type: 'send', now: 1_200, bytes: 10, writable: false })).toEqual([
      { type: 'enqueue' },
      { type: 'open_socket', attempt: 0, serial: 2, resume: null },
      diag('info', 'unparked', { trigger: 'send', parked_ms: 200 }),
    ]);
    expect([k.state.phase, k.state.attempt, k.state.queuedMessages]).toEqual(['connecting', 0, 1]);
    expect(k.step({ type: 'socket_opened', now: 1_300, canPing: true })).toEqual([{ type: 'flush' }, ev({ type: 'open', attempt: 0 })]);
  });

  it('B10: events that bring no work leave it parked; a close ends it for good', () => {
    const k = parked();
    expect(k.step({ type: 'stop', now: 1_100, reason: 'api_call' })).toEqual([diag('warn', 'unmatched_stop', { reason: 'api_call' })]);
    expect(k.step({ type: 'signal', now: 1_200 })).toEqual([]);
    expect(k.step({ type: 'retry_after', now: 1_300, delayMs: 5_000 })).toEqual([]);
    expect(k.state.phase).toBe('parked');
    expect(k.step({ type: 'close', now: 1_400, code: 1000, reason: 'bye' })).toEqual([
      diag('info', 'activity_at_shutdown', { total: 0, active: {}, oldest_activity_ms: null, keepalives_sent: 0 }),
      diag('info', 'client_closed', { cause: 'closed', code: 1000 }),
      ev({ type: 'closed', cause: 'closed', code: 1000, reason: 'bye', report: idleReport(), written: 0 }),
    ]);
    expect([k.state.phase, k.state.parkedAt, connectionDeadline(k.state)]).toEqual(['closed', null, null]);
  });
});
