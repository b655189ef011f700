import { describe, expect, it } from 'vitest';
import { Stepper, diag, ev } from './__tests__/kernel-driver.js';
import { connectionDeadline, defineKernelConfig, layerState, lifecycleLayer, type KernelOptions, type LifecycleState } from './index.js';

/**
 * The lifecycle layer on the kernel alone (B10, B5): network and page visibility. Timings: heartbeat 1 s, pong
 * timeout 500 ms, backoff 100 ms doubling up to 1 s; every event that may start a backoff carries its jitter draw.
 */

const options: KernelOptions = {
  heartbeatIntervalMs: 1_000,
  pongTimeoutMs: 500,
  connectTimeoutMs: 2_000,
  reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
};

function lifecycle(): Stepper {
  return new Stepper(defineKernelConfig(options, [lifecycleLayer]), 0, 1);
}

const slice = (k: Stepper): LifecycleState | undefined => layerState(k.state, lifecycleLayer);

/** Open at 0 (pings available), lost at 1 000 with a 50 ms delay: the reconnect waits until 1 050. */
function waiting(): Stepper {
  const k = lifecycle();
  k.step({ type: 'socket_opened', now: 0, canPing: true });
  k.step({ type: 'socket_closed', now: 1_000, code: 1006, reason: '', random: 0.5 });
  expect(connectionDeadline(k.state)).toBe(1_050);
  return k;
}

describe('the lifecycle layer: network (B10)', () => {
  it('B10: the slice starts online and follows network events', () => {
    const k = lifecycle();
    expect(slice(k)).toEqual({ online: true });
    k.step({ type: 'network', now: 10, online: false });
    expect(slice(k)).toEqual({ online: false });
    k.step({ type: 'network', now: 20, online: true });
    expect(slice(k)).toEqual({ online: true });
  });

  it('B10: offline holds a waiting reconnect: the deadline leaves out the backoff delay, and a timeout past it opens nothing', () => {
    const k = waiting();
    expect(k.step({ type: 'network', now: 1_010, online: false })).toEqual([diag('info', 'offline', { phase: 'backoff' })]);
    expect(k.state.phase).toBe('backoff');
    expect(k.state.backoff.deadline).toBe(1_050);
    expect(connectionDeadline(k.state)).toBeNull();
    expect(k.step({ type: 'timeout', now: 1_050 })).toEqual([]);
    expect(k.step({ type: 'timeout', now: 5_000 })).toEqual([]);
    expect([k.state.phase, k.state.sockets]).toEqual(['backoff', 1]);
    // Back online long after the delay: the reconnect starts at once.
    expect(k.step({ type: 'network', now: 6_000, online: true })).toEqual([
      diag('info', 'online', { phase: 'backoff' }),
      { type: 'open_socket', attempt: 1, serial: 2, resume: null },
    ]);
    expect(k.state.phase).toBe('connecting');
    expect(connectionDeadline(k.state)).toBe(8_000);
  });

  it('B10: back online while in backoff, the waiting reconnect opens at once, before its delay is over', () => {
    const k = waiting();
    k.step({ type: 'network', now: 1_010, online: false });
    expect(k.step({ type: 'network', now: 1_020, online: true })).toEqual([
      diag('info', 'online', { phase: 'backoff' }),
      { type: 'open_socket', attempt: 1, serial: 2, resume: null },
    ]);
    expect(k.state.phase).toBe('connecting');
  });

  it('B10: a loss while offline backs off but arms nothing; an attempt that fails offline waits for the network too', () => {
    const k = lifecycle();
    expect(k.step({ type: 'network', now: 5, online: false })).toEqual([diag('info', 'offline', { phase: 'connecting' })]);
    // The attempt under way is not cancelled; it fails on its own.
    expect(connectionDeadline(k.state)).toBe(2_000);
    expect(k.step({ type: 'socket_closed', now: 10, code: 1006, reason: '', random: 0.5 })).toEqual([
      diag('warn', 'connect_failed', { attempt: 0 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 50 }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }),
    ]);
    expect(connectionDeadline(k.state)).toBeNull();
    expect(k.step({ type: 'timeout', now: 60 })).toEqual([]);
    expect(k.state.phase).toBe('backoff');
  });

  it('B10: a network event repeating the value the layer holds does nothing', () => {
    const k = lifecycle();
    k.step({ type: 'socket_opened', now: 0, canPing: true });
    expect(k.step({ type: 'network', now: 10, online: true })).toEqual([]);
    k.step({ type: 'network', now: 20, online: false });
    expect(k.step({ type: 'network', now: 30, online: false })).toEqual([]);
    expect(slice(k)).toEqual({ online: false });
    expect(k.state.session.keepalivesSent).toBe(1);
    expect(k.state.phase).toBe('open');
  });
});

describe('the lifecycle layer: liveness checks (B5)', () => {
  it('B5: offline and online while open each send one liveness-check keep-alive; its answer is due within pongTimeoutMs', () => {
    const k = lifecycle();
    k.step({ type: 'socket_opened', now: 0, canPing: true });
    expect(k.step({ type: 'network', now: 100, online: false })).toEqual([
      diag('info', 'offline', { phase: 'open' }),
      diag('debug', 'liveness_check', { trigger: 'offline' }),
      { type: 'keepalive', frame: 'ping', ack: null },
    ]);
    expect(k.state.session.livenessAt).toBe(600);
    expect(connectionDeadline(k.state)).toBe(600);
    expect(k.step({ type: 'network', now: 200, online: true })).toEqual([
      diag('info', 'online', { phase: 'open' }),
      diag('debug', 'liveness_check', { trigger: 'online' }),
      { type: 'keepalive', frame: 'ping', ack: null },
    ]);
    // The first unanswered keep-alive's deadline stands.
    expect(k.state.session.livenessAt).toBe(600);
    expect(k.state.session.keepalivesSent).toBe(2);
    // Any frame answers it.
    expect(k.step({ type: 'inbound', now: 300, frame: 'pong' })).toEqual([]);
    expect(connectionDeadline(k.state)).toBeNull();
  });

  it('B5: an unanswered liveness check is a dead peer at pongTimeoutMs: destroyed, and a reconnect', () => {
    const k = lifecycle();
    k.step({ type: 'socket_opened', now: 0, canPing: false });
    expect(k.step({ type: 'visibility', now: 100, visible: true })).toEqual([
      diag('debug', 'liveness_check', { trigger: 'visible' }),
      { type: 'keepalive', frame: 'heartbeat', ack: null },
    ]);
    expect(k.state.heartbeatsOwed).toBe(1);
    expect(k.step({ type: 'timeout', now: 599 })).toEqual([]);
    expect(k.step({ type: 'timeout', now: 600, random: 0.5 })).toEqual([
      diag('warn', 'dead_peer', { timeout_ms: 500 }),
      ev({ type: 'dead-peer', timeoutMs: 500 }),
      { type: 'destroy_socket' },
      diag('info', 'connection_lost', { code: 1006 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 50 }),
      ev({ type: 'close', code: 1006, reason: 'dead_peer', willReconnect: true }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }),
    ]);
    expect([k.state.phase, k.state.heartbeatsOwed]).toEqual(['backoff', 0]);
  });

  it('B5: visible checks only an open connection; hidden never checks', () => {
    const k = lifecycle();
    expect(k.step({ type: 'visibility', now: 10, visible: true })).toEqual([]);
    k.step({ type: 'socket_opened', now: 20, canPing: true });
    expect(k.step({ type: 'visibility', now: 30, visible: false })).toEqual([]);
    expect(k.state.session.keepalivesSent).toBe(0);
    k.step({ type: 'socket_closed', now: 40, code: 1006, reason: '', random: 0.5 });
    expect(k.step({ type: 'visibility', now: 50, visible: true })).toEqual([]);
    expect(k.state.phase).toBe('backoff');
  });

  it('B10: the layer takes only network and visibility: a hello still is a protocol_error', () => {
    const k = lifecycle();
    k.step({ type: 'socket_opened', now: 0, canPing: true });
    expect(k.step({ type: 'hello', now: 10, hello: { status: 'prove' } })).toEqual([diag('warn', 'protocol_error', { frame: 'hello' })]);
  });
});
