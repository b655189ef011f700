import { describe, expect, it } from 'vitest';
import { Stepper, diag, ev, idleReport } from './__tests__/kernel-driver.js';
import { connectionDeadline, defineKernelConfig, layerState, pingFloodReason, slowDownLayer, type KernelOptions } from './index.js';

/**
 * The slow-down layer on the kernel alone (B13): heartbeat 1 s, bound 5 s unless a test says otherwise, backoff
 * 100 ms doubling up to 1 s. Each loss is while idle (a reclaim), so every delay is half of 100 ms with `random` 0.5.
 */

const options: KernelOptions = {
  heartbeatIntervalMs: 1_000,
  pongTimeoutMs: 500,
  connectTimeoutMs: 2_000,
  reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
};

function slowDown(bound = 5_000, extra: KernelOptions = {}): Stepper {
  const k = new Stepper(defineKernelConfig({ ...options, ...extra }, [slowDownLayer(bound)]), 0, 1);
  k.step({ type: 'socket_opened', now: 0, canPing: true });
  return k;
}

/** The open socket closes with `code` and `reason` 100 ms from now; returns the step's commands. */
function closeWith(k: Stepper, code: number, reason: string): ReturnType<Stepper['step']> {
  return k.step({ type: 'socket_closed', now: k.state.now + 100, code, reason, random: 0.5 });
}

/** From backoff: the delay ends and the next socket opens. */
function reopen(k: Stepper): void {
  const at = connectionDeadline(k.state) ?? k.state.now;
  k.step({ type: 'timeout', now: at });
  k.step({ type: 'socket_opened', now: at + 10, canPing: true });
  expect(k.state.phase).toBe('open');
}

const interval = (k: Stepper): number => k.state.session.config.heartbeatIntervalMs;

describe('the slow-down layer (B13)', () => {
  it('B13: closed with 1008 ping_flood, the interval doubles: keepalive_slowed and a slowed event, then the reconnect', () => {
    const k = slowDown();
    expect(layerState(k.state, k.state.config.layers[0])).toEqual({});
    expect(closeWith(k, 1008, 'ping_flood')).toEqual([
      diag('info', 'connection_lost', { code: 1008 }),
      diag('warn', 'keepalive_slowed', { from_ms: 1_000, to_ms: 2_000 }),
      ev({ type: 'slowed', heartbeatIntervalMs: 2_000, previousIntervalMs: 1_000 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 50 }),
      ev({ type: 'close', code: 1008, reason: 'ping_flood', willReconnect: true }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }),
    ]);
    expect([k.state.phase, interval(k)]).toEqual(['backoff', 2_000]);
    // The next socket's heartbeat runs at the new interval.
    reopen(k);
    k.step({ type: 'start', now: 1_000, reason: 'api_call' });
    expect(connectionDeadline(k.state)).toBe(3_000);
  });

  it('B13: each further flood doubles again, capped at the bound; at the bound ping_flood_at_bound and no change', () => {
    const k = slowDown(5_000);
    closeWith(k, 1008, 'ping_flood');
    reopen(k);
    expect(closeWith(k, 1008, 'ping_flood')).toContainEqual(diag('warn', 'keepalive_slowed', { from_ms: 2_000, to_ms: 4_000 }));
    reopen(k);
    expect(closeWith(k, 1008, 'ping_flood')).toContainEqual(ev({ type: 'slowed', heartbeatIntervalMs: 5_000, previousIntervalMs: 4_000 }));
    expect(interval(k)).toBe(5_000);
    reopen(k);
    expect(closeWith(k, 1008, 'ping_flood')).toEqual([
      diag('info', 'connection_lost', { code: 1008 }),
      diag('warn', 'ping_flood_at_bound', { interval_ms: 5_000 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 50 }),
      ev({ type: 'close', code: 1008, reason: 'ping_flood', willReconnect: true }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }),
    ]);
    expect([k.state.phase, interval(k)]).toEqual(['backoff', 5_000]);
  });

  it("B13: the server's minimum in the reason: max(previous + 1, ceil(min × 1.1)), capped at the bound", () => {
    const cases: readonly (readonly [bound: number, reason: string, to: number])[] = [
      [10_000, pingFloodReason(5_000), 5_500],
      [10_000, 'ping_flood min_interval_ms=3000', 3_301],
      [5_000, pingFloodReason(5_000), 5_000],
      // A minimum at or below the interval still slows down, by 1 ms: the interval never shrinks.
      [10_000, pingFloodReason(500), 1_001],
      [10_000, pingFloodReason(0), 1_001],
    ];
    for (const [bound, reason, to] of cases) {
      const k = slowDown(bound);
      const out = closeWith(k, 1008, reason);
      expect(out).toContainEqual(diag('warn', 'keepalive_slowed', { from_ms: 1_000, to_ms: to }));
      expect(out).toContainEqual(ev({ type: 'slowed', heartbeatIntervalMs: to, previousIntervalMs: 1_000 }));
      expect(interval(k)).toBe(to);
    }
  });

  it('B13: a bound below the interval (unchecked outside the default composition) never lowers it', () => {
    const k = slowDown(500);
    expect(closeWith(k, 1008, 'ping_flood')).toContainEqual(diag('warn', 'ping_flood_at_bound', { interval_ms: 1_000 }));
    expect(interval(k)).toBe(1_000);
  });

  it('B12 B13: a 1008 with another reason is terminal (rejected): the layer does nothing', () => {
    for (const reason of ['policy', 'ping_flood min_interval_ms=abc', 'ping_flood ']) {
      const k = slowDown();
      expect(closeWith(k, 1008, reason)).toEqual([
        diag('info', 'connection_lost', { code: 1008 }),
        diag('warn', 'rejected', { code: 1008 }),
        ev({ type: 'close', code: 1008, reason, willReconnect: false }),
        ev({ type: 'rejected', code: 1008, reason }),
        diag('info', 'activity_at_shutdown', { total: 0, active: {}, oldest_activity_ms: null, keepalives_sent: 0 }),
        diag('info', 'client_closed', { cause: 'rejected', code: 1008 }),
        ev({ type: 'closed', cause: 'rejected', code: 1008, reason, report: idleReport(), written: 0 }),
      ]);
      expect([k.state.phase, interval(k)]).toEqual(['closed', 1_000]);
    }
  });

  it('B13: the reason ping_flood under another code is no flood: an ordinary loss, the interval unchanged', () => {
    const k = slowDown();
    expect(closeWith(k, 4000, 'ping_flood')).toEqual([
      diag('info', 'connection_lost', { code: 4000 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 50 }),
      ev({ type: 'close', code: 4000, reason: 'ping_flood', willReconnect: true }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }),
    ]);
    expect(interval(k)).toBe(1_000);
  });

  it('B13: a ping-flood close of an attempt that never opened changes nothing: a failed attempt, the interval unchanged', () => {
    const k = new Stepper(defineKernelConfig(options, [slowDownLayer(5_000)]), 0, 1);
    expect(k.step({ type: 'socket_closed', now: 10, code: 1008, reason: 'ping_flood min_interval_ms=5000', random: 0.5 })).toEqual([
      diag('warn', 'connect_failed', { attempt: 0 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 50 }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }),
    ]);
    expect([k.state.phase, interval(k)]).toEqual(['backoff', 1_000]);
  });
});
