import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Stepper, diag, ev, idleReport } from './__tests__/kernel-driver.js';
import {
  TIMER,
  connectionDeadline,
  defineKernelConfig,
  heldMessages,
  idleReadLayer,
  layerState,
  lazyParkLayer,
  lifecycleLayer,
  unconfirmedLayer,
  type ConnectionState,
  type KernelOptions,
  type Layer,
} from './index.js';

/**
 * The kernel alone (no layers), stepped event by event with `connect` + `connectionStep`: every command asserted
 * exactly. Timings: connect timeout 2 s, close handshake 300 ms, backoff 100 ms doubling up to 1 s; every event that
 * may start a backoff carries its jitter draw (`random`).
 */

const options: KernelOptions = {
  heartbeatIntervalMs: 1_000,
  pongTimeoutMs: 500,
  connectTimeoutMs: 2_000,
  closeTimeoutMs: 300,
  reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
};

function kernel(extra: KernelOptions = {}): Stepper {
  return new Stepper(defineKernelConfig({ ...options, ...extra }), 0, 1);
}

/** A kernel whose first socket opened at `at` (pings available). */
function openKernel(at = 0, extra: KernelOptions = {}): Stepper {
  const k = kernel(extra);
  k.step({ type: 'socket_opened', now: at, canPing: true });
  return k;
}

describe('the kernel alone: phases, never parked (B10, B6)', () => {
  it('B10: connect starts in connecting with one open_socket for attempt 0; the socket opening says open', () => {
    const k = kernel();
    expect(k.started).toEqual([{ type: 'open_socket', attempt: 0, serial: 1, resume: null }]);
    expect(k.state.phase).toBe('connecting');
    expect(k.state.layers).toEqual([]);
    expect(k.step({ type: 'socket_opened', now: 10, canPing: true })).toEqual([ev({ type: 'open', attempt: 0 })]);
    expect(k.state.phase).toBe('open');
    expect(k.state.session.attached).toBe(true);
    // Idle and open: nothing armed (no heartbeat without work, no idle read without its layer).
    expect(connectionDeadline(k.state)).toBeNull();
  });

  it('B3 B10: connect refuses a start time that is not a finite number', () => {
    const config = defineKernelConfig(options);
    for (const now of [Number.NaN, Number.POSITIVE_INFINITY]) expect(() => new Stepper(config, now)).toThrow(RangeError);
  });

  it('B6: the reconnecting event carries the delay the backoff chose, with no float noise from a fractional clock', () => {
    const k = openKernel(0);
    // A fractional clock: 1,000.1 + 50 − 1,000.1 is 49.99999999999999 in floating point.
    const out = k.step({ type: 'socket_closed', now: 1_000.1, code: 1006, reason: '', random: 0.5 });
    expect(out).toContainEqual(ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }));
  });

  it('B10 B6: the kernel alone never parks: a loss while idle reconnects with backoff, and the delay ending idle opens a socket', () => {
    const k = openKernel(0);
    expect(k.step({ type: 'socket_closed', now: 1_000, code: 1006, reason: '', random: 0.5 })).toEqual([
      diag('info', 'connection_lost', { code: 1006 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 50 }),
      ev({ type: 'close', code: 1006, reason: '', willReconnect: true }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }),
    ]);
    expect(k.state.phase).toBe('backoff');
    expect(k.state.parkedAt).toBeNull();
    expect(connectionDeadline(k.state)).toBe(1_050);
    expect(k.step({ type: 'timeout', now: 1_049 })).toEqual([]);
    expect(k.state.phase).toBe('backoff');
    // Still idle when the delay ends: the kernel alone reconnects anyway.
    expect(k.step({ type: 'timeout', now: 1_050 })).toEqual([{ type: 'open_socket', attempt: 1, serial: 2, resume: null }]);
    expect(k.state.phase).toBe('connecting');
    expect(k.step({ type: 'socket_opened', now: 1_060, canPing: true })).toEqual([
      diag('info', 'reconnected', { attempts: 1 }),
      ev({ type: 'open', attempt: 1 }),
    ]);
  });

  it('B6 B11: consecutive failed attempts grow the backoff ceiling; they close nothing the user saw open', () => {
    const k = openKernel(0);
    k.step({ type: 'socket_closed', now: 1_000, code: 1006, reason: '', random: 0.5 });
    k.step({ type: 'timeout', now: 1_050 });
    expect(k.step({ type: 'socket_closed', now: 1_100, code: 1006, reason: '', random: 0.5 })).toEqual([
      diag('warn', 'connect_failed', { attempt: 1 }),
      diag('info', 'reconnecting', { attempt: 2, delay_ms: 100 }),
      ev({ type: 'reconnecting', attempt: 2, delayMs: 100 }),
    ]);
    expect(connectionDeadline(k.state)).toBe(1_200);
  });

  it('B16 B6: after a failed attempt, a busy loss grows the backoff level; an idle loss (a reclaim) starts it afresh', () => {
    const reopened = (): Stepper => {
      const k = kernel();
      k.step({ type: 'socket_closed', now: 10, code: 1006, reason: '', random: 0.5 }); // level 1: 50 ms
      k.step({ type: 'timeout', now: 60 });
      k.step({ type: 'socket_opened', now: 70, canPing: true });
      return k;
    };
    const busy = reopened();
    busy.step({ type: 'start', now: 80, reason: 'api_call' });
    expect(busy.step({ type: 'socket_closed', now: 100, code: 1006, reason: '', random: 0.5 })).toContainEqual(ev({ type: 'reconnecting', attempt: 1, delayMs: 100 }));
    const idle = reopened();
    expect(idle.step({ type: 'socket_closed', now: 100, code: 1006, reason: '', random: 0.5 })).toContainEqual(ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }));
  });
});

describe('events the kernel does not handle (B10)', () => {
  it('B10: network and visibility events are refused with invalid_event and change nothing: the same state object', () => {
    const states: ConnectionState[] = [];
    const k = kernel();
    states.push(k.state);
    k.step({ type: 'socket_opened', now: 10, canPing: true });
    states.push(k.state);
    k.step({ type: 'socket_closed', now: 20, code: 1006, reason: '', random: 0.5 });
    states.push(k.state);
    for (const state of states) {
      for (const event of [
        { type: 'network', now: 30, online: false },
        { type: 'network', now: 30, online: true },
        { type: 'visibility', now: 30, visible: true },
        { type: 'visibility', now: 30, visible: false },
      ] as const) {
        const probe = new Stepper(defineKernelConfig(options));
        probe.state = state;
        expect(probe.step(event)).toEqual([diag('warn', 'invalid_event', { event: 'unknown' })]);
        expect(probe.state).toBe(state);
      }
    }
  });

  it('B10: a hello nobody asked for (no resume layer) is a protocol_error {frame: hello}; the phase is unchanged', () => {
    const k = openKernel(0);
    const before = k.state;
    expect(k.step({ type: 'hello', now: 50, hello: { status: 'prove' } })).toEqual([diag('warn', 'protocol_error', { frame: 'hello' })]);
    expect(k.state.phase).toBe('open');
    expect({ ...k.state, now: before.now }).toEqual(before);
  });

  it('B10: stale socket events (no such socket in this phase) are diagnosed and return the same state object', () => {
    const k = openKernel(0);
    const open = k.state;
    expect(k.step({ type: 'socket_opened', now: 5, canPing: false })).toEqual([diag('warn', 'stale_event', { event: 'socket_opened' })]);
    expect(k.state).toBe(open);
    k.step({ type: 'socket_closed', now: 10, code: 1006, reason: '', random: 0.5 });
    const backoff = k.state;
    expect(k.step({ type: 'socket_closed', now: 15, code: 1006, reason: '' })).toEqual([diag('warn', 'stale_event', { event: 'socket_closed' })]);
    expect(k.state).toBe(backoff);
  });
});

describe('queue accounting (B14)', () => {
  it('B14: sends while disconnected are queued, flushed on open behind which later sends wait, and dequeued in order', () => {
    const k = kernel();
    expect(k.step({ type: 'send', now: 10, bytes: 10, writable: false })).toEqual([{ type: 'enqueue' }]);
    expect(k.step({ type: 'send', now: 20, bytes: 20, writable: false })).toEqual([{ type: 'enqueue' }]);
    expect([k.state.queuedMessages, k.state.queuedBytes, heldMessages(k.state)]).toEqual([2, 30, 2]);
    expect(k.step({ type: 'socket_opened', now: 30, canPing: true })).toEqual([{ type: 'flush' }, ev({ type: 'open', attempt: 0 })]);
    // Before the driver reports the flush, a writable send goes behind the queue: enqueue, then flush again.
    expect(k.step({ type: 'send', now: 40, bytes: 5, writable: true })).toEqual([{ type: 'enqueue' }, { type: 'flush' }]);
    expect([k.state.queuedMessages, k.state.queuedBytes]).toEqual([3, 35]);
    expect(k.step({ type: 'dequeued', now: 50, messages: 3, bytes: 35 })).toEqual([diag('info', 'queue_flushed', { messages: 3 })]);
    expect([k.state.queuedMessages, k.state.queuedBytes, heldMessages(k.state)]).toEqual([0, 0, 0]);
    // Queue empty: written at once; a socket that cannot take it queues it without a flush.
    expect(k.step({ type: 'send', now: 60, bytes: 7, writable: true })).toEqual([{ type: 'write' }]);
    expect(k.step({ type: 'send', now: 70, bytes: 8, writable: false })).toEqual([{ type: 'enqueue' }]);
    expect(k.step({ type: 'dequeued', now: 80, messages: 0, bytes: 0 })).toEqual([]);
    expect(k.step({ type: 'dequeued', now: 90, messages: 2, bytes: 8 })).toEqual([diag('warn', 'invalid_event', { event: 'dequeued' })]);
    expect([k.state.queuedMessages, k.state.queuedBytes]).toEqual([1, 8]);
  });

  it('B14: the queue is bounded in messages and bytes; a close hands the queue back (drain, undelivered) and later sends are refused', () => {
    const k = kernel({ maxQueuedMessages: 2, maxQueuedBytes: 25 });
    expect(k.step({ type: 'send', now: 1, bytes: 10, writable: false })).toEqual([{ type: 'enqueue' }]);
    expect(k.step({ type: 'send', now: 2, bytes: 20, writable: false })).toEqual([{ type: 'refuse', reason: 'bytes' }]);
    expect(k.step({ type: 'send', now: 3, bytes: 15, writable: false })).toEqual([{ type: 'enqueue' }]);
    expect(k.step({ type: 'send', now: 4, bytes: 0, writable: false })).toEqual([{ type: 'refuse', reason: 'messages' }]);
    expect([k.state.queuedMessages, k.state.queuedBytes]).toEqual([2, 25]);
    expect(k.step({ type: 'close', now: 100, code: 1000, reason: 'bye' })).toEqual([
      { type: 'destroy_socket' },
      { type: 'drain' },
      diag('warn', 'undelivered', { messages: 2 }),
      diag('info', 'activity_at_shutdown', { total: 0, active: {}, oldest_activity_ms: null, keepalives_sent: 0 }),
      diag('info', 'client_closed', { cause: 'closed', code: 1000 }),
      ev({ type: 'closed', cause: 'closed', code: 1000, reason: 'bye', report: idleReport(), written: 0 }),
    ]);
    expect([k.state.queuedMessages, k.state.queuedBytes, heldMessages(k.state)]).toEqual([0, 0, 0]);
    expect(k.step({ type: 'send', now: 110, bytes: 1, writable: true })).toEqual([{ type: 'refuse', reason: 'closed' }]);
  });

  it('B14: with no layers heldMessages is exactly queuedMessages, and layerState is undefined for any layer', () => {
    const k = kernel();
    const check = (): void => {
      expect(heldMessages(k.state)).toBe(k.state.queuedMessages);
      for (const layer of [lifecycleLayer, lazyParkLayer, unconfirmedLayer, idleReadLayer(1_000), null, undefined] as (Layer | null | undefined)[]) expect(layerState(k.state, layer)).toBeUndefined();
    };
    check();
    k.step({ type: 'send', now: 1, bytes: 3, writable: false });
    check();
    k.step({ type: 'socket_opened', now: 2, canPing: true });
    check();
    k.step({ type: 'send', now: 3, bytes: 3, writable: true });
    check();
    k.step({ type: 'dequeued', now: 4, messages: 2, bytes: 6 });
    check();
    expect(heldMessages(k.state)).toBe(0);
  });
});

describe('the timer table (B10)', () => {
  it('B10: TIMER.connect is armed exactly while connecting and TIMER.close exactly while closing; nothing otherwise', () => {
    expect([TIMER.connect, TIMER.close]).toEqual([0, 1]);
    const k = kernel();
    expect(k.state.timers).toEqual([2_000, null]);
    expect(connectionDeadline(k.state)).toBe(2_000);
    k.step({ type: 'socket_opened', now: 100, canPing: true });
    expect(k.state.timers).toEqual([null, null]);
    k.step({ type: 'socket_closed', now: 200, code: 1006, reason: '', random: 0.5 });
    expect([k.state.phase, k.state.timers]).toEqual(['backoff', [null, null]]);
    k.step({ type: 'timeout', now: 250 });
    expect([k.state.phase, k.state.timers]).toEqual(['connecting', [2_250, null]]);
    k.step({ type: 'socket_opened', now: 300, canPing: true });
    expect(k.step({ type: 'close', now: 400, code: 1000, reason: 'bye' })).toEqual([{ type: 'close_socket', code: 1000, reason: 'bye' }]);
    expect([k.state.phase, k.state.timers]).toEqual(['closing', [null, 700]]);
    expect(connectionDeadline(k.state)).toBe(700);
    // The server echoes the close code: closed, with that code.
    expect(k.step({ type: 'socket_closed', now: 450, code: 1000, reason: 'bye' })).toEqual([
      diag('info', 'activity_at_shutdown', { total: 0, active: {}, oldest_activity_ms: null, keepalives_sent: 0 }),
      diag('info', 'client_closed', { cause: 'closed', code: 1000 }),
      ev({ type: 'closed', cause: 'closed', code: 1000, reason: 'bye', report: idleReport(), written: 0 }),
    ]);
    expect([k.state.phase, k.state.timers, connectionDeadline(k.state)]).toEqual(['closed', [null, null], null]);
  });

  it('B10: the close handshake times out after closeTimeoutMs: close_timeout, the socket destroyed, closed with 1006', () => {
    const k = openKernel(0);
    k.step({ type: 'close', now: 200, code: 1000, reason: 'bye', cause: 'aborted' });
    expect(k.step({ type: 'timeout', now: 499 })).toEqual([]);
    expect(k.state.phase).toBe('closing');
    expect(k.step({ type: 'timeout', now: 500 })).toEqual([
      diag('warn', 'close_timeout', { timeout_ms: 300 }),
      { type: 'destroy_socket' },
      diag('info', 'activity_at_shutdown', { total: 0, active: {}, oldest_activity_ms: null, keepalives_sent: 0 }),
      diag('info', 'client_closed', { cause: 'aborted', code: 1006 }),
      ev({ type: 'closed', cause: 'aborted', code: 1006, reason: 'close_timeout', report: idleReport(), written: 0 }),
    ]);
    expect([k.state.phase, k.state.cause, k.state.timers]).toEqual(['closed', 'aborted', [null, null]]);
  });

  it('B10: one timeout event makes at most one phase transition: a connect timeout with a 0 ms backoff opens on the next event', () => {
    const k = kernel();
    expect(k.step({ type: 'timeout', now: 1_999 })).toEqual([]);
    expect(k.step({ type: 'timeout', now: 2_000, random: 0 })).toEqual([
      diag('warn', 'connect_timeout', { attempt: 0, timeout_ms: 2_000 }),
      { type: 'destroy_socket' },
      diag('warn', 'connect_failed', { attempt: 0 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 0 }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 0 }),
    ]);
    // The delay was 0 and already due, yet this event made its one transition (connecting → backoff).
    expect(k.state.phase).toBe('backoff');
    expect(connectionDeadline(k.state)).toBe(2_000);
    expect(k.step({ type: 'timeout', now: 2_000 })).toEqual([{ type: 'open_socket', attempt: 1, serial: 2, resume: null }]);
    expect(k.state.phase).toBe('connecting');
  });
});

describe('close codes (B12)', () => {
  it('B12: a terminal close of the open socket ends the client: rejected, then closed; nothing armed, no attempt follows', () => {
    const k = openKernel(0);
    expect(k.step({ type: 'socket_closed', now: 200, code: 4401, reason: 'unauthorized', random: 0.5 })).toEqual([
      diag('info', 'connection_lost', { code: 4401 }),
      diag('warn', 'rejected', { code: 4401 }),
      ev({ type: 'close', code: 4401, reason: 'unauthorized', willReconnect: false }),
      ev({ type: 'rejected', code: 4401, reason: 'unauthorized' }),
      diag('info', 'activity_at_shutdown', { total: 0, active: {}, oldest_activity_ms: null, keepalives_sent: 0 }),
      diag('info', 'client_closed', { cause: 'rejected', code: 4401 }),
      ev({ type: 'closed', cause: 'rejected', code: 4401, reason: 'unauthorized', report: idleReport(), written: 0 }),
    ]);
    expect([k.state.phase, k.state.cause, connectionDeadline(k.state)]).toEqual(['closed', 'rejected', null]);
    const closed = k.state;
    // Work after the end reaches a shut-down session: warned, and no socket.
    expect(k.step({ type: 'start', now: 300, reason: 'api_call' })).toEqual([diag('warn', 'event_after_shutdown', { event: 'start' })]);
    expect(k.step({ type: 'timeout', now: 10_000 })).toEqual([]);
    expect(k.state.phase).toBe('closed');
    expect(k.state.sockets).toBe(closed.sockets);
  });

  it('B12: a terminal close of an attempt that never opened rejects too, with no close event', () => {
    const k = kernel();
    expect(k.step({ type: 'socket_closed', now: 50, code: 1008, reason: 'policy', random: 0.5 })).toEqual([
      diag('warn', 'connect_failed', { attempt: 0 }),
      diag('warn', 'rejected', { code: 1008 }),
      ev({ type: 'rejected', code: 1008, reason: 'policy' }),
      diag('info', 'activity_at_shutdown', { total: 0, active: {}, oldest_activity_ms: null, keepalives_sent: 0 }),
      diag('info', 'client_closed', { cause: 'rejected', code: 1008 }),
      ev({ type: 'closed', cause: 'rejected', code: 1008, reason: 'policy', report: idleReport(), written: 0 }),
    ]);
    expect([k.state.phase, k.state.timers]).toEqual(['closed', [null, null]]);
  });

  it('B12 B13: without the slow-down layer a ping-flood close is still not terminal: the kernel backs off, the interval unchanged', () => {
    const k = openKernel(0);
    expect(k.step({ type: 'socket_closed', now: 200, code: 1008, reason: 'ping_flood', random: 0.5 })).toEqual([
      diag('info', 'connection_lost', { code: 1008 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 50 }),
      ev({ type: 'close', code: 1008, reason: 'ping_flood', willReconnect: true }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }),
    ]);
    expect(k.state.session.config.heartbeatIntervalMs).toBe(1_000);
  });
});

describe("the kernel's files (one rule each, read top to bottom)", () => {
  const sources = readdirSync(fileURLToPath(new URL('.', import.meta.url))).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
  const read = (file: string): string => readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');

  /** The core modules `file` imports at runtime: type-only imports (`import type`, or every name `type`) left out. */
  function runtimeImports(file: string): string[] {
    const found: string[] = [];
    for (const match of read(file).matchAll(/^(?:import|export)\s+(type\s+)?(\{[^}]*\}|[^'"]*?)\s*from\s+'\.\/([\w-]+)\.js';/gm)) {
      const names = (match[2] ?? '').replace(/[{}]/g, '').split(',').map((name) => name.trim()).filter((name) => name !== '');
      if (match[1] === undefined && !names.every((name) => name.startsWith('type '))) found.push(`${match[3] ?? ''}.ts`);
    }
    return found;
  }

  it('no core module imports itself back at runtime (type-only imports aside), and the kernel rule files depend only on kernel-step.ts among them', () => {
    const graph = new Map(sources.map((file) => [file, runtimeImports(file)]));
    expect(graph.get('kernel.ts')).toEqual(expect.arrayContaining(['kernel-step.ts', 'kernel-close.ts', 'kernel-inbound.ts', 'kernel-queue.ts']));
    for (const rule of ['kernel-close.ts', 'kernel-inbound.ts', 'kernel-queue.ts']) {
      expect(graph.get(rule)?.filter((file) => file.startsWith('kernel') && file !== 'kernel-options.ts' && file !== 'kernel-types.ts'), rule).toEqual(['kernel-step.ts']);
    }
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]): void => {
      state.set(file, 'open');
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === 'open') cycles.push([...path, file, next].join(' -> '));
        else if (!state.has(next)) visit(next, [...path, file]);
      }
      state.set(file, 'done');
    };
    for (const file of sources) if (!state.has(file)) visit(file, []);
    // The scan reads real imports: the default client's composition imports the kernel.
    expect(graph.get('connection.ts')).toContain('kernel.ts');
    expect(cycles).toEqual([]);
  });

  it('each of the kernel files stays under 400 lines', () => {
    const kernelFiles = sources.filter((file) => /^kernel(-step|-close|-queue|-inbound)?\.ts$/.test(file));
    expect(kernelFiles.sort()).toEqual(['kernel-close.ts', 'kernel-inbound.ts', 'kernel-queue.ts', 'kernel-step.ts', 'kernel.ts']);
    for (const file of kernelFiles) expect(read(file).split('\n').length, file).toBeLessThanOrEqual(400);
  });
});
