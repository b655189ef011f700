import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { action, run } from './__tests__/connection-actions.js';
import { ConnectionSim, type ConnectionInput } from './__tests__/connection-sim.js';
import { Stepper, diag, ev } from './__tests__/kernel-driver.js';
import {
  connectionDeadline,
  defineKernelConfig,
  heldMessages,
  layerState,
  unconfirmedLayer,
  type ConnectionCommand,
  type KernelConfig,
  type KernelOptions,
  type UnconfirmedState,
} from './index.js';

/**
 * The unconfirmed-message layer on the kernel alone (B14 without a resumable session, B16): heartbeat 1 s, pong
 * timeout 500 ms, copies bounded by 3 messages and 100 bytes unless a test says otherwise. Every event that may
 * start a backoff carries its jitter draw.
 */

const options: KernelOptions = {
  heartbeatIntervalMs: 1_000,
  pongTimeoutMs: 500,
  connectTimeoutMs: 2_000,
  closeTimeoutMs: 300,
  maxQueuedMessages: 3,
  maxQueuedBytes: 100,
  reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
};

const config = (extra: KernelOptions = {}): KernelConfig => defineKernelConfig({ ...options, ...extra }, [unconfirmedLayer]);

/** Open at 0; busy from 10 (`api_call`) when `busy`, so writes get no confirming keep-alive of their own. */
function unconfirmed(extra: KernelOptions = {}, { canPing = true, busy = true } = {}): Stepper {
  const k = new Stepper(config(extra), 0, 1);
  k.step({ type: 'socket_opened', now: 0, canPing });
  if (busy) k.step({ type: 'start', now: 10, reason: 'api_call' });
  return k;
}

const slice = (k: Stepper): UnconfirmedState | undefined => layerState(k.state, unconfirmedLayer);

/** Writes messages of these sizes on the open, writable socket, 10 ms apart from `at`; returns all their commands. */
function write(k: Stepper, at: number, ...sizes: number[]): ConnectionCommand[] {
  return sizes.flatMap((bytes, i) => k.step({ type: 'send', now: at + 10 * i, bytes, writable: true }));
}

const PING = { type: 'keepalive', frame: 'ping', ack: null } as const;

describe('the unconfirmed layer: reports (B14)', () => {
  it('B14: writes the peer never confirmed, then a loss: unconfirmed {messages, copies} said and reported, the slice cleared', () => {
    const k = unconfirmed();
    expect(slice(k)).toEqual({ unconfirmed: 0, copies: [], copyBytes: 0, probes: [] });
    expect(write(k, 20, 10, 20)).toEqual([{ type: 'write' }, { type: 'write' }]);
    expect(slice(k)).toEqual({ unconfirmed: 2, copies: [10, 20], copyBytes: 30, probes: [] });
    // Written, not held: the connection's queue accounting does not count them.
    expect(heldMessages(k.state)).toBe(0);
    expect(k.step({ type: 'socket_closed', now: 100, code: 1006, reason: '', random: 0.5 })).toEqual([
      diag('info', 'connection_lost', { code: 1006 }),
      diag('warn', 'unconfirmed', { messages: 2, copies: 2 }),
      ev({ type: 'unconfirmed', messages: 2, copies: 2 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 50 }),
      ev({ type: 'close', code: 1006, reason: '', willReconnect: true }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }),
    ]);
    expect(slice(k)).toEqual({ unconfirmed: 0, copies: [], copyBytes: 0, probes: [] });
  });

  it('B14: a pong after a keep-alive confirms what was written before that keep-alive (forget_copies), not what came after', () => {
    const k = unconfirmed({ maxQueuedMessages: 5 });
    write(k, 20, 10, 10, 10);
    expect(k.step({ type: 'timeout', now: 1_010 })).toEqual([diag('debug', 'heartbeat', { total: 1 }), PING]);
    expect(slice(k)?.probes).toEqual([3]);
    write(k, 1_020, 7);
    // Inbound data is proof of life, not an answer: nothing is confirmed by it.
    expect(k.step({ type: 'inbound', now: 1_050, frame: 'data' })).toEqual([{ type: 'deliver' }]);
    expect(slice(k)?.unconfirmed).toBe(4);
    expect(k.step({ type: 'inbound', now: 1_100, frame: 'pong' })).toEqual([{ type: 'forget_copies', copies: 3 }]);
    expect(slice(k)).toEqual({ unconfirmed: 1, copies: [7], copyBytes: 7, probes: [] });
    // A pong with no keep-alive waiting for it confirms nothing.
    expect(k.step({ type: 'inbound', now: 1_200, frame: 'pong' })).toEqual([]);
    expect(k.step({ type: 'socket_closed', now: 1_300, code: 1006, reason: '', random: 0.5 })).toContainEqual(ev({ type: 'unconfirmed', messages: 1, copies: 1 }));
  });

  it("B14: on a socket without pings the heartbeat message's answer confirms; the peer's own heartbeat does not", () => {
    const k = unconfirmed({}, { canPing: false });
    write(k, 20, 10, 10);
    expect(k.step({ type: 'timeout', now: 1_010 })).toEqual([diag('debug', 'heartbeat', { total: 1 }), { type: 'keepalive', frame: 'heartbeat', ack: null }]);
    expect(k.state.heartbeatsOwed).toBe(1);
    expect(k.step({ type: 'inbound', now: 1_100, frame: 'heartbeat' })).toEqual([{ type: 'forget_copies', copies: 2 }]);
    expect([k.state.heartbeatsOwed, slice(k)?.unconfirmed]).toEqual([0, 0]);
    write(k, 1_150, 10);
    expect(k.step({ type: 'inbound', now: 1_200, frame: 'heartbeat' })).toEqual([{ type: 'reply_heartbeat', ack: null }]);
    expect(slice(k)?.unconfirmed).toBe(1);
  });

  it('B14: the oldest confirmed are the ones without copies: a partial confirmation forgets only copies it covers', () => {
    const k = unconfirmed();
    write(k, 20, 1, 2, 3);
    k.step({ type: 'timeout', now: 1_010 });
    expect(slice(k)?.probes).toEqual([3]);
    // Two more: the copies bound (3) forgets the oldest copy each time.
    expect(write(k, 1_020, 4, 5)).toEqual([{ type: 'write' }, { type: 'forget_copies', copies: 1 }, { type: 'write' }, { type: 'forget_copies', copies: 1 }]);
    expect(slice(k)).toEqual({ unconfirmed: 5, copies: [3, 4, 5], copyBytes: 12, probes: [3] });
    // Messages 1–3 confirmed: 1 and 2 had no copy left; 3's copy goes.
    expect(k.step({ type: 'inbound', now: 1_100, frame: 'pong' })).toEqual([{ type: 'forget_copies', copies: 1 }]);
    expect(slice(k)).toEqual({ unconfirmed: 2, copies: [4, 5], copyBytes: 9, probes: [] });
  });
});

describe('the unconfirmed layer: which keep-alive an answer answers (B14)', () => {
  // A regression test (found while writing these tests): the layer once recorded a probe mark only when something was
  // unconfirmed, so the answer to a keep-alive sent before a write (a liveness check, an S7 signal, a heartbeat tick
  // whose pong is slower than the interval) was taken as the answer to the keep-alive sent after it: the write was
  // confirmed though the peer never proved it had it, and a loss then reported nothing. Every keep-alive now has its
  // mark, answered oldest first.
  it('B14: the answer to a keep-alive sent before a write does not confirm that write', () => {
    const k = unconfirmed({}, { busy: false });
    // A liveness check (or any keep-alive) while nothing is unconfirmed.
    expect(k.step({ type: 'signal', now: 10 })).toEqual([PING]);
    // A write while idle: it gets its own confirming keep-alive.
    expect(write(k, 20, 5)).toEqual([{ type: 'write' }, diag('debug', 'confirming', { messages: 1 }), PING]);
    // The first answer is the first keep-alive's: the peer sent it before it read the write. Nothing is confirmed.
    expect(k.step({ type: 'inbound', now: 30, frame: 'pong' })).toEqual([]);
    expect(slice(k)?.unconfirmed).toBe(1);
    // Lost before the second answer: the write is reported, not lost silently.
    expect(k.step({ type: 'socket_closed', now: 40, code: 1006, reason: '', random: 0.5 })).toContainEqual(ev({ type: 'unconfirmed', messages: 1, copies: 1 }));
  });
});

describe('the unconfirmed layer: copies bounded like the queue (B14)', () => {
  it('B14: copies are bounded by maxQueuedMessages and maxQueuedBytes: the oldest are forgotten, the report still counts them', () => {
    const k = unconfirmed();
    expect(write(k, 20, 10, 10, 10)).toEqual([{ type: 'write' }, { type: 'write' }, { type: 'write' }]);
    expect(write(k, 50, 10)).toEqual([{ type: 'write' }, { type: 'forget_copies', copies: 1 }]);
    expect(slice(k)).toEqual({ unconfirmed: 4, copies: [10, 10, 10], copyBytes: 30, probes: [] });
    // 90 bytes more: over 100 bytes, two of the oldest go.
    expect(write(k, 60, 90)).toEqual([{ type: 'write' }, { type: 'forget_copies', copies: 2 }]);
    expect(slice(k)).toEqual({ unconfirmed: 5, copies: [10, 90], copyBytes: 100, probes: [] });
    // A message larger than the byte bound keeps no copy at all.
    expect(write(k, 70, 150)).toEqual([{ type: 'write' }, { type: 'forget_copies', copies: 3 }]);
    expect(slice(k)).toEqual({ unconfirmed: 6, copies: [], copyBytes: 0, probes: [] });
    expect(k.step({ type: 'socket_closed', now: 100, code: 1006, reason: '', random: 0.5 })).toContainEqual(diag('warn', 'unconfirmed', { messages: 6, copies: 0 }));
  });

  it('B14 B16: a flushed batch is copied at its average size; flushed while idle it gets one confirming keep-alive', () => {
    const k = new Stepper(config(), 0, 1);
    write(k, 1, 2, 3, 5);
    expect(k.state.queuedMessages).toBe(3);
    expect(k.step({ type: 'socket_opened', now: 50, canPing: true })).toEqual([{ type: 'flush' }, ev({ type: 'open', attempt: 0 })]);
    expect(k.step({ type: 'dequeued', now: 60, messages: 3, bytes: 10 })).toEqual([
      diag('info', 'queue_flushed', { messages: 3 }),
      diag('debug', 'confirming', { messages: 3 }),
      PING,
    ]);
    expect(slice(k)).toEqual({ unconfirmed: 3, copies: [3, 3, 4], copyBytes: 10, probes: [3] });
  });
});

describe('the unconfirmed layer: the close handshake (B14)', () => {
  it("B14: a clean close (the server echoes the client's close code) confirms everything: nothing reported", () => {
    const k = unconfirmed();
    write(k, 20, 10, 20);
    expect(k.step({ type: 'close', now: 100, code: 1000, reason: 'bye' })).toEqual([{ type: 'close_socket', code: 1000, reason: 'bye' }]);
    const report = { total: 1, active: { api_call: 1 }, oldestActivityMs: 140, keepalivesSent: 0 };
    expect(k.step({ type: 'socket_closed', now: 150, code: 1000, reason: 'bye' })).toEqual([
      { type: 'forget_copies', copies: 2 },
      diag('info', 'activity_at_shutdown', { total: 1, active: { api_call: 1 }, oldest_activity_ms: 140, keepalives_sent: 0 }),
      diag('info', 'client_closed', { cause: 'closed', code: 1000 }),
      ev({ type: 'closed', cause: 'closed', code: 1000, reason: 'bye', report, written: 0 }),
    ]);
    expect(slice(k)).toEqual({ unconfirmed: 0, copies: [], copyBytes: 0, probes: [] });
  });

  it("B14: a close crossing the client's (another code), or a handshake that times out, confirms nothing: unconfirmed is reported", () => {
    const crossing = unconfirmed();
    write(crossing, 20, 10, 20);
    crossing.step({ type: 'close', now: 100, code: 1000, reason: 'bye' });
    const out = crossing.step({ type: 'socket_closed', now: 150, code: 1001, reason: 'restart' });
    expect(out.slice(0, 2)).toEqual([diag('warn', 'unconfirmed', { messages: 2, copies: 2 }), ev({ type: 'unconfirmed', messages: 2, copies: 2 })]);
    expect(out).toContainEqual(diag('info', 'client_closed', { cause: 'closed', code: 1001 }));
    expect(out.some((command) => command.type === 'forget_copies')).toBe(false);

    const timedOut = unconfirmed();
    write(timedOut, 20, 10);
    timedOut.step({ type: 'close', now: 100, code: 1000, reason: 'bye' });
    expect(timedOut.step({ type: 'timeout', now: 400 }).slice(0, 4)).toEqual([
      diag('warn', 'close_timeout', { timeout_ms: 300 }),
      { type: 'destroy_socket' },
      diag('warn', 'unconfirmed', { messages: 1, copies: 1 }),
      ev({ type: 'unconfirmed', messages: 1, copies: 1 }),
    ]);
  });
});

describe('the unconfirmed layer: the confirming keep-alive (B16)', () => {
  it('B16: work ending with unconfirmed writes sends one confirming keep-alive; its answer confirms them and a later loss reports nothing', () => {
    const k = unconfirmed();
    write(k, 20, 10, 10);
    expect(k.step({ type: 'stop', now: 40, reason: 'api_call' })).toEqual([diag('debug', 'confirming', { messages: 2 }), PING]);
    expect(slice(k)?.probes).toEqual([2]);
    expect(k.step({ type: 'inbound', now: 100, frame: 'pong' })).toEqual([{ type: 'forget_copies', copies: 2 }]);
    expect(slice(k)).toEqual({ unconfirmed: 0, copies: [], copyBytes: 0, probes: [] });
    expect(k.step({ type: 'socket_closed', now: 200, code: 1006, reason: '', random: 0.5 })).toEqual([
      diag('info', 'connection_lost', { code: 1006 }),
      diag('info', 'reconnecting', { attempt: 1, delay_ms: 50 }),
      ev({ type: 'close', code: 1006, reason: '', willReconnect: true }),
      ev({ type: 'reconnecting', attempt: 1, delayMs: 50 }),
    ]);
  });

  it('B16: the confirming keep-alive is a probe, not a liveness check: no answer deadline is armed and it is not counted', () => {
    const k = unconfirmed();
    write(k, 20, 10);
    k.step({ type: 'stop', now: 40, reason: 'api_call' });
    expect([k.state.session.livenessAt, k.state.session.keepalivesSent]).toEqual([null, 0]);
    // Only the session's idle notice (S6) is armed.
    expect(connectionDeadline(k.state)).toBe(40 + 30_000);
  });

  it('B16: work ending with everything confirmed, or with nothing written, costs no keep-alive', () => {
    const confirmed = unconfirmed();
    write(confirmed, 20, 10);
    confirmed.step({ type: 'timeout', now: 1_010 });
    confirmed.step({ type: 'inbound', now: 1_020, frame: 'pong' });
    expect(confirmed.step({ type: 'stop', now: 1_030, reason: 'api_call' })).toEqual([]);
    const quiet = unconfirmed();
    expect(quiet.step({ type: 'stop', now: 40, reason: 'api_call' })).toEqual([]);
  });

  it('B16: while a confirming keep-alive waits, later writes wait for it; its answer sends the next for them', () => {
    const k = unconfirmed({}, { busy: false });
    expect(write(k, 20, 5)).toEqual([{ type: 'write' }, diag('debug', 'confirming', { messages: 1 }), PING]);
    expect(write(k, 30, 6)).toEqual([{ type: 'write' }]);
    expect(k.step({ type: 'inbound', now: 100, frame: 'pong' })).toEqual([{ type: 'forget_copies', copies: 1 }, diag('debug', 'confirming', { messages: 1 }), PING]);
    expect(slice(k)).toEqual({ unconfirmed: 1, copies: [6], copyBytes: 6, probes: [1] });
    expect(k.step({ type: 'inbound', now: 150, frame: 'pong' })).toEqual([{ type: 'forget_copies', copies: 1 }]);
    expect(slice(k)).toEqual({ unconfirmed: 0, copies: [], copyBytes: 0, probes: [] });
  });
});

/** A simulated driver that keeps the copies the commands describe: a copy per write, forgotten and handed back as told. */
class CopyingSim extends ConnectionSim {
  copies = 0;
  readonly mistakes: string[] = [];

  override apply(input: ConnectionInput): readonly ConnectionCommand[] {
    const all = super.apply(input);
    for (const command of all) {
      if (command.type === 'write') this.copies += 1;
      else if (command.type === 'diagnostic' && command.name === 'queue_flushed') this.copies += command.fields.messages as number;
      else if (command.type === 'forget_copies') {
        this.copies -= command.copies;
        if (command.copies <= 0 || this.copies < 0) this.mistakes.push(`forget_copies ${command.copies} with ${this.copies + command.copies} kept`);
      } else if (command.type === 'event' && command.event.type === 'unconfirmed') {
        if (command.event.copies !== this.copies) this.mistakes.push(`unconfirmed says ${command.event.copies} copies, the driver kept ${this.copies}`);
        if (command.event.copies > command.event.messages) this.mistakes.push('more copies than messages');
        this.copies = 0;
      }
    }
    return all;
  }
}

describe('the unconfirmed layer: for all sequences (B14)', () => {
  const bounds = fc.record({
    heartbeatIntervalMs: fc.integer({ min: 50, max: 1_000 }),
    pongTimeoutMs: fc.option(fc.integer({ min: 10, max: 800 }), { nil: null }),
    maxQueuedMessages: fc.integer({ min: 0, max: 5 }),
    maxQueuedBytes: fc.integer({ min: 0, max: 80 }),
    permitWithoutActivity: fc.boolean(),
  });

  test.prop([bounds, fc.array(action, { maxLength: 80 })])(
    'B14: the copies the driver keeps by the commands are the copies the layer counts, within both bounds; every report hands back exactly those',
    (bound, actions) => {
      const kernelConfig = defineKernelConfig({ ...bound, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } }, [unconfirmedLayer]);
      const sim = new CopyingSim(kernelConfig);
      for (const act of actions) {
        run(sim, act);
        const s = layerState(sim.state, unconfirmedLayer);
        expect(sim.mistakes).toEqual([]);
        expect(s?.copies.length).toBe(sim.copies);
        expect(s?.copyBytes).toBe(s?.copies.reduce((sum, size) => sum + size, 0));
        expect(s?.copies.length).toBeLessThanOrEqual(Math.min(s?.unconfirmed ?? 0, bound.maxQueuedMessages));
        expect(s?.copyBytes).toBeLessThanOrEqual(bound.maxQueuedBytes);
        // Each unanswered keep-alive's mark counts messages written before it: never more than are unconfirmed, and
        // never fewer than an older keep-alive's; at most MAX_PROBES are tracked.
        for (const [i, mark] of (s?.probes ?? []).entries()) {
          expect(mark).toBeGreaterThanOrEqual(0);
          expect(mark).toBeLessThanOrEqual(s?.unconfirmed ?? 0);
          if (i > 0) expect(mark).toBeGreaterThanOrEqual(s?.probes[i - 1] ?? 0);
        }
        expect(s?.probes.length).toBeLessThanOrEqual(32);
        // Only an open socket (or one closing, until its handshake says) has writes to confirm.
        if (sim.state.phase !== 'open' && sim.state.phase !== 'closing') expect(s?.unconfirmed).toBe(0);
      }
    },
  );
});
