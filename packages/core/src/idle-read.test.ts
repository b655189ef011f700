import { describe, expect, it } from 'vitest';
import { Stepper, diag, ev } from './__tests__/kernel-driver.js';
import { KeepaliveOptionError, connectionDeadline, defineKernelConfig, idleReadLayer, layerState, type IdleReadState, type KernelOptions, type Layer } from './index.js';

/**
 * The idle-read layer on the kernel alone (B5 while idle, B15): idle limit 1 s, heartbeat 400 ms, pong timeout
 * 200 ms, a check later than 200 ms is late. Every event that may start a backoff carries its jitter draw.
 */

const options: KernelOptions = {
  heartbeatIntervalMs: 400,
  pongTimeoutMs: 200,
  lateTimerMs: 200,
  connectTimeoutMs: 2_000,
  reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
};

function idleRead(extra: KernelOptions = {}, layer: Layer<IdleReadState> = idleReadLayer(1_000)): { k: Stepper; readAt: () => number | null } {
  const k = new Stepper(defineKernelConfig({ ...options, ...extra }, [layer]), 0, 1);
  return { k, readAt: () => layerState(k.state, layer)?.readAt ?? null };
}

describe('the idle-read layer: when it is armed (B5)', () => {
  it('B5: armed exactly while open with no heartbeat running: not while connecting, busy, closing or backing off', () => {
    const { k, readAt } = idleRead();
    expect(readAt()).toBeNull();
    expect(connectionDeadline(k.state)).toBe(2_000);
    k.step({ type: 'socket_opened', now: 100, canPing: true });
    expect(readAt()).toBe(1_100);
    expect(connectionDeadline(k.state)).toBe(1_100);
    // Busy: the heartbeat rule applies instead.
    k.step({ type: 'start', now: 200, reason: 'api_call' });
    expect(readAt()).toBeNull();
    expect(connectionDeadline(k.state)).toBe(600);
    expect(k.step({ type: 'timeout', now: 600 })).toEqual([diag('debug', 'heartbeat', { total: 1 }), { type: 'keepalive', frame: 'ping', ack: null }]);
    expect(readAt()).toBeNull();
    // A frame while busy does not arm it either.
    k.step({ type: 'inbound', now: 650, frame: 'pong' });
    expect(readAt()).toBeNull();
    // Idle again: the limit starts afresh from when the connection went quiet.
    k.step({ type: 'stop', now: 700, reason: 'api_call' });
    expect(readAt()).toBe(1_700);
    expect(connectionDeadline(k.state)).toBe(1_700);
    k.step({ type: 'close', now: 800, code: 1000, reason: 'bye' });
    expect([k.state.phase, readAt()]).toEqual(['closing', null]);
    expect(connectionDeadline(k.state)).toBe(k.state.timers[1]);
  });

  it('B5: not armed in backoff; armed again when the next socket opens', () => {
    const { k, readAt } = idleRead();
    k.step({ type: 'socket_opened', now: 0, canPing: true });
    k.step({ type: 'socket_closed', now: 100, code: 1006, reason: '', random: 0.5 });
    expect([k.state.phase, readAt(), connectionDeadline(k.state)]).toEqual(['backoff', null, 150]);
    k.step({ type: 'timeout', now: 150 });
    expect([k.state.phase, readAt()]).toEqual(['connecting', null]);
    k.step({ type: 'socket_opened', now: 160, canPing: true });
    expect(readAt()).toBe(1_160);
  });

  it('B7 B5: with permitWithoutActivity the heartbeat runs while idle, so the limit is never armed', () => {
    const { k, readAt } = idleRead({ permitWithoutActivity: true });
    k.step({ type: 'socket_opened', now: 0, canPing: true });
    expect(readAt()).toBeNull();
    expect(connectionDeadline(k.state)).toBe(400);
  });

  it('B5: every inbound frame resets the limit; other events (a send, an early timeout) keep it', () => {
    const { k, readAt } = idleRead();
    k.step({ type: 'socket_opened', now: 0, canPing: true });
    expect(readAt()).toBe(1_000);
    expect(k.step({ type: 'inbound', now: 300, frame: 'data' })).toEqual([{ type: 'deliver' }]);
    expect(readAt()).toBe(1_300);
    expect(k.step({ type: 'inbound', now: 600, frame: 'pong' })).toEqual([]);
    expect(readAt()).toBe(1_600);
    expect(k.step({ type: 'inbound', now: 900, frame: 'ping' })).toEqual([]);
    expect(readAt()).toBe(1_900);
    expect(k.step({ type: 'inbound', now: 1_200, frame: 'heartbeat' })).toEqual([{ type: 'reply_heartbeat', ack: null }]);
    expect(readAt()).toBe(2_200);
    expect(k.step({ type: 'inbound', now: 1_500, frame: 'invalid' })).toEqual([diag('warn', 'protocol_error', { frame: 'control' })]);
    expect(readAt()).toBe(2_500);
    expect(k.step({ type: 'inbound', now: 1_800, frame: 'ack', ack: 3 })).toEqual([]);
    expect(readAt()).toBe(2_800);
    expect(k.step({ type: 'send', now: 2_000, bytes: 5, writable: true })).toEqual([{ type: 'write' }]);
    expect(k.step({ type: 'timeout', now: 2_500 })).toEqual([]);
    expect(readAt()).toBe(2_800);
  });
});

describe('the idle-read layer: the verdict (B5, B15)', () => {
  it('B5: nothing received for the limit: idle_read_timeout, dead-peer, the socket destroyed, and a reconnect', () => {
    const { k, readAt } = idleRead();
    k.step({ type: 'socket_opened', now: 100, canPing: true });
    expect(k.step({ type: 'timeout', now: 1_099 })).toEqual([]);
    expect(k.step({ type: 'timeout', now: 1_100, random: 0.5 })).toEqual([
      diag('warn', 'idle_read_timeout', { timeout_ms: 1_000 }),
      ev({ type: 'dead-peer', timeoutMs: 1_000 }),
      { type: 'destroy_socket' },
      diag('info', 'connection_lost', { code: 1006 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 50 }),
      ev({ type: 'close', code: 1006, reason: 'idle_read_timeout', willReconnect: true }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }),
    ]);
    expect([k.state.phase, readAt(), connectionDeadline(k.state)]).toEqual(['backoff', null, 1_150]);
  });

  it('B15: a check later than lateTimerMs is reported as heartbeat_late {timer: idle_read} and gets a fresh limit, not a verdict', () => {
    const { k, readAt } = idleRead();
    k.step({ type: 'socket_opened', now: 100, canPing: true });
    expect(k.step({ type: 'timeout', now: 1_301, random: 0.5 })).toEqual([diag('warn', 'heartbeat_late', { timer: 'idle_read', late_ms: 201, missed: 0 })]);
    expect([k.state.phase, readAt(), connectionDeadline(k.state)]).toEqual(['open', 2_301, 2_301]);
    // The fresh limit, handled on time, is a verdict.
    expect(k.step({ type: 'timeout', now: 2_301, random: 0.5 })).toContainEqual(diag('warn', 'idle_read_timeout', { timeout_ms: 1_000 }));
    expect(k.state.phase).toBe('backoff');
  });

  it('B15: a check exactly lateTimerMs late is still on time: the verdict stands', () => {
    const { k } = idleRead();
    k.step({ type: 'socket_opened', now: 100, canPing: true });
    const out = k.step({ type: 'timeout', now: 1_300, random: 0.5 });
    expect(out[0]).toEqual(diag('warn', 'idle_read_timeout', { timeout_ms: 1_000 }));
    expect(out).toContainEqual(ev({ type: 'dead-peer', timeoutMs: 1_000 }));
  });

  it('B1: idleReadLayer refuses a bad limit with a KeepaliveOptionError naming idleReadTimeoutMs', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '1000' as unknown as number]) {
      const error: unknown = (() => {
        try {
          idleReadLayer(bad);
        } catch (caught) {
          return caught;
        }
        return null;
      })();
      expect(error).toBeInstanceOf(KeepaliveOptionError);
      expect((error as KeepaliveOptionError).option).toBe('idleReadTimeoutMs');
      expect((error as KeepaliveOptionError).value).toBe(bad);
    }
    expect(idleReadLayer(1).name).toBe('idle-read');
  });
});
