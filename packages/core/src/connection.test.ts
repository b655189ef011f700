import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { ConnectionSim } from './__tests__/connection-sim.js';
import {
  CONNECTION_DEFAULTS,
  KeepaliveOptionError,
  TERMINAL_CLOSE_CODES,
  backoffCeiling,
  connectionDeadline,
  connectionStep,
  connectionTransition,
  createPingPolicyState,
  defineConnectionConfig,
  definePeerConfig,
  openConnection,
  pingPolicyStep,
  wantsSocket,
  type ConnectionCommand,
  type ConnectionEvent,
} from './index.js';
import { readAt, connectAt, unconfirmedOf } from './__tests__/slices.js';

/** Example tests of the client connection machine, one or more per rule, on simulated time. */

const fast = { heartbeatIntervalMs: 1_000, pongTimeoutMs: 500, reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 } } as const;

function opened(options: ConstructorParameters<typeof ConnectionSim>[0] = fast, canPing = true): ConnectionSim {
  const sim = new ConnectionSim(options);
  sim.open(canPing);
  return sim;
}

describe('B10: phases and the connect timeout', () => {
  it('B10: one timeout event makes one phase transition: a connect timeout whose backoff delay is 0 opens the next socket on the next event', () => {
    let [state] = openConnection({ connectTimeoutMs: 100 }, 0, 1);
    const out: ConnectionCommand[] = [];
    state = connectionStep(state, { type: 'timeout', now: 100, random: 0 }, out);
    expect(state.phase).toBe('backoff');
    expect(out.filter((command) => command.type === 'open_socket')).toEqual([]);
    // The delay was 0: the deadline is now, and the next timeout starts attempt 1.
    expect(connectionDeadline(state)).toBe(100);
    out.length = 0;
    state = connectionStep(state, { type: 'timeout', now: 100 }, out);
    expect(state.phase).toBe('connecting');
    expect(out.filter((command) => command.type === 'open_socket')).toEqual([{ type: 'open_socket', attempt: 1, serial: 2, resume: null }]);
  });

  it('B10: opening starts in connecting with one open_socket for attempt 0 and a connect deadline', () => {
    const [state, commands] = openConnection({}, 1_000, 7);
    expect(state.phase).toBe('connecting');
    expect(commands).toEqual([{ type: 'open_socket', attempt: 0, serial: 1, resume: null }]);
    expect(connectAt(state)).toBe(1_000 + CONNECTION_DEFAULTS.connectTimeoutMs);
    expect(connectionDeadline(state)).toBe(connectAt(state));
    expect(wantsSocket(state, 1)).toBe(true);
  });

  it('B10: an attempt that has not opened within connectTimeoutMs is destroyed, counts as failed and backs off', () => {
    const sim = new ConnectionSim({ ...fast, connectTimeoutMs: 2_000 });
    sim.advance(1_999);
    expect(sim.state.phase).toBe('connecting');
    const before = sim.state;
    sim.advance(1, 0.5);
    expect(sim.socket).toBeNull();
    expect(sim.state.phase).toBe('backoff');
    expect(sim.diagnosticNames()).toContain('connect_timeout');
    expect(sim.eventsOf('reconnecting')).toEqual([{ type: 'reconnecting', attempt: 1, delayMs: 50 }]);
    expect(wantsSocket(sim.state, before.sockets)).toBe(false);
  });

  it('B10: after a partition heals, the client is open again within the backoff cap plus the connect timeout', () => {
    // A frozen path: every attempt hangs until its connect timeout. The partition lasts 21 s.
    const sim = new ConnectionSim({ ...fast, connectTimeoutMs: 2_000, reconnect: { initialDelayMs: 100, maxDelayMs: 2_000 } });
    sim.open();
    sim.closeSocket(1006);
    const partitionEnds = sim.now + 21_000;
    while (sim.now < partitionEnds) sim.advance(10, 0.999);
    // Healed: the next attempt that starts opens at once.
    let openedAt: number | null = null;
    for (let t = 0; t < 10_000 && openedAt === null; t += 10) {
      if (sim.socket !== null && sim.socketsOpened.at(-1)!.at >= partitionEnds) {
        sim.open();
        openedAt = sim.now;
      } else {
        sim.advance(10, 0.999);
      }
    }
    expect(openedAt).not.toBeNull();
    expect(openedAt! - partitionEnds).toBeLessThanOrEqual(2_000 + 2_000);
    expect(sim.violations).toEqual([]);
  });

  it('B10: at most one socket; a deliberate close while connecting destroys it and no attempt follows', () => {
    const sim = new ConnectionSim(fast);
    sim.apply({ type: 'close', code: 1000, reason: '' });
    expect(sim.socket).toBeNull();
    expect(sim.state.phase).toBe('closed');
    sim.advance(100_000);
    sim.apply({ type: 'start', reason: 'api_call' });
    expect(sim.socketsOpened).toHaveLength(1);
    expect(connectionDeadline(sim.state)).toBeNull();
    expect(sim.eventsOf('closed')).toEqual([expect.objectContaining({ type: 'closed', cause: 'closed', code: 1000, reason: '' })]);
  });

  it('B10: close while open sends the close frame, waits closeTimeoutMs for the handshake, then destroys the socket', () => {
    const sim = opened({ ...fast, closeTimeoutMs: 300 });
    const commands = sim.apply({ type: 'close', code: 4000, reason: 'bye' });
    expect(commands).toContainEqual({ type: 'close_socket', code: 4000, reason: 'bye' });
    expect(sim.state.phase).toBe('closing');
    sim.advance(299);
    expect(sim.state.phase).toBe('closing');
    sim.advance(1);
    expect(sim.state.phase).toBe('closed');
    expect(sim.socket).toBeNull();
    expect(sim.diagnosticNames()).toContain('close_timeout');
    expect(sim.eventsOf('closed')).toEqual([expect.objectContaining({ type: 'closed', cause: 'closed', code: 1006, reason: 'close_timeout' })]);
  });

  it('B10: an immediate close (process exit) destroys the socket and ends closed at once, also while closing', () => {
    for (const first of [false, true]) {
      const sim = opened();
      sim.apply({ type: 'start', reason: 'api_call' });
      if (first) sim.apply({ type: 'close', code: 1000, reason: '' });
      sim.apply({ type: 'close', code: 1001, reason: 'exit', immediate: true });
      expect(sim.state.phase).toBe('closed');
      expect(sim.socket).toBeNull();
      expect(sim.eventsOf('closed')).toEqual([expect.objectContaining({ type: 'closed', cause: 'closed', code: 1001, reason: 'exit' })]);
      expect(sim.diagnosticNames().filter((name) => name === 'activity_at_shutdown')).toHaveLength(1);
      // S9: the closed event carries the shutdown report: one api_call in flight since the open.
      expect(sim.eventsOf('closed')[0]?.report).toEqual({ total: 1, active: { api_call: 1 }, oldestActivityMs: 0, keepalivesSent: 0 });
    }
  });

  it('B10: an immediate close may leave the socket to the platform (a page going away), while connecting too', () => {
    const open = opened();
    const commands = open.apply({ type: 'close', code: 1001, reason: 'pagehide', immediate: true, abandon: true });
    expect(commands).toContainEqual({ type: 'abandon_socket' });
    expect(commands).not.toContainEqual({ type: 'destroy_socket' });
    expect(open.state.phase).toBe('closed');
    const connecting = new ConnectionSim(fast);
    connecting.apply({ type: 'close', code: 1001, reason: 'pagehide', immediate: true, abandon: true });
    expect(connecting.state.phase).toBe('closed');
    expect(connecting.socket).toBeNull();
  });

  it('B10: a completed close handshake ends closed with the code the peer confirmed; nothing stays armed', () => {
    const sim = opened();
    sim.apply({ type: 'start', reason: 'api_call' });
    sim.apply({ type: 'close', code: 1000, reason: '' });
    sim.closeSocket(1000, '');
    expect(sim.state.phase).toBe('closed');
    expect(connectionDeadline(sim.state)).toBeNull();
    expect(sim.state.session.shutdown).toBe(true);
    expect(sim.diagnosticNames()).toContain('activity_at_shutdown');
  });

  it('B10: stale socket events (no such socket in this phase) are diagnosed, never acted on', () => {
    const sim = opened();
    const before = sim.state;
    const [after, commands] = connectionTransition(before, { type: 'socket_opened', now: 5, canPing: true });
    expect(after).toBe(before);
    expect(commands).toEqual([{ type: 'diagnostic', level: 'warn', name: 'stale_event', fields: { event: 'socket_opened' } }]);
  });

  it('B10: bad events produce a diagnostic and keep the state', () => {
    const sim = opened();
    const before = sim.state;
    for (const bad of [null, 42, { now: 1 }, { type: 'nope', now: 1 }] as unknown as ConnectionEvent[]) {
      const [after, commands] = connectionTransition(before, bad);
      expect(after.phase).toBe('open');
      expect(commands.every((command) => command.type === 'diagnostic')).toBe(true);
      expect(commands.length).toBeGreaterThan(0);
    }
    const [late, commands] = connectionTransition(before, { type: 'timeout', now: Number.NaN });
    expect(late.now).toBe(before.now);
    expect(commands[0]).toMatchObject({ name: 'invalid_time' });
  });
});

describe('B11: attempts count failures', () => {
  it('B11: an eager client behind an idle reclaimer (1 s) idle for 20 s with maxAttempts 3 never exhausts: every handshake succeeded', () => {
    const sim = new ConnectionSim({ ...fast, reconnect: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 1_000 } });
    let handshakes = 0;
    for (let t = 0; t < 20_000; t += 10) {
      if (sim.socket !== null && !sim.socket.open) {
        sim.open();
        handshakes++;
      }
      if (sim.socket?.open === true && sim.now - sim.socketsOpened.at(-1)!.at >= 1_000) sim.closeSocket(4000, 'idle');
      sim.advance(10, 0.999);
    }
    expect(handshakes).toBeGreaterThan(4);
    expect(sim.state.phase).not.toBe('closed');
    expect(sim.eventsOf('closed')).toEqual([]);
  });

  it('B11: maxAttempts consecutive attempts that failed to open exhaust the client, which hands back its queue', () => {
    const sim = new ConnectionSim({ ...fast, reconnect: { maxAttempts: 2, initialDelayMs: 100, maxDelayMs: 1_000 } });
    sim.send(5);
    sim.closeSocket(1006, '', 0);
    sim.advance(0);
    sim.closeSocket(1006, '', 0);
    sim.advance(0);
    sim.closeSocket(1006, '', 0);
    expect(sim.state.phase).toBe('closed');
    expect(sim.socketsOpened.map((s) => s.attempt)).toEqual([0, 1, 2]);
    expect(sim.eventsOf('closed')).toEqual([expect.objectContaining({ type: 'closed', cause: 'exhausted', code: 1006, reason: '' })]);
    expect(sim.drained).toEqual([1]);
    expect(sim.diagnosticNames()).toEqual(expect.arrayContaining(['reconnect_exhausted', 'undelivered']));
  });

  it('B11: reconnecting events number the consecutive failed attempts; an open restarts the count', () => {
    const sim = new ConnectionSim(fast);
    sim.closeSocket(1006, '', 0);
    sim.advance(0);
    sim.closeSocket(1006, '', 0);
    sim.advance(0);
    sim.open();
    sim.closeSocket(1006, '', 0);
    expect(sim.eventsOf('reconnecting').map((e) => e.attempt)).toEqual([1, 2, 1]);
    expect(sim.eventsOf('open')).toEqual([{ type: 'open', attempt: 2 }]);
  });
});

describe('B12: close codes', () => {
  it.each(TERMINAL_CLOSE_CODES.map((code) => [code]))('B12: a close with %i while open is not retried: close, rejected, closed', (code) => {
    const sim = opened();
    sim.closeSocket(code, 'no');
    expect(sim.events.map((e) => e.type)).toEqual(['open', 'close', 'rejected', 'closed']);
    expect(sim.eventsOf('close')[0]?.willReconnect).toBe(false);
    expect(sim.eventsOf('closed')[0]).toMatchObject({ type: 'closed', cause: 'rejected', code, reason: 'no' });
    sim.advance(120_000);
    expect(sim.socketsOpened).toHaveLength(1);
  });

  it('B12: a terminal code during the handshake (attempt not yet open) rejects too', () => {
    const sim = new ConnectionSim(fast);
    sim.closeSocket(4401, 'unauthorized');
    expect(sim.events.map((e) => e.type)).toEqual(['rejected', 'closed']);
  });

  it('B12: the set is configurable: an empty set retries everything, a custom one rejects its codes', () => {
    const retry = opened({ ...fast, terminalCloseCodes: [] });
    retry.closeSocket(1008, 'policy');
    expect(retry.state.phase).toBe('backoff');
    const custom = opened({ ...fast, terminalCloseCodes: [4999] });
    custom.closeSocket(4999, '');
    expect(custom.state.cause).toBe('rejected');
  });

  it('B12: ordinary losses (1000, 1001, 1006, 1011, 4000) reconnect', () => {
    for (const code of [1000, 1001, 1006, 1011, 4000]) {
      const sim = opened();
      sim.closeSocket(code, '');
      expect(sim.state.phase).toBe('backoff');
    }
  });
});

describe('B13: the ends agree on the ping rate', () => {
  it('B13: closed with 1008 ping_flood, the client doubles its interval up to the bound, says so, and reconnects', () => {
    const sim = opened({ ...fast, heartbeatIntervalMs: 500, maxHeartbeatIntervalMs: 3_000 });
    const intervals: number[] = [];
    for (let i = 0; i < 5; i++) {
      sim.closeSocket(1008, 'ping_flood', 0);
      sim.advance(0);
      sim.open();
      intervals.push(sim.state.session.config.heartbeatIntervalMs);
    }
    expect(intervals).toEqual([1_000, 2_000, 3_000, 3_000, 3_000]);
    expect(sim.eventsOf('slowed')).toEqual([
      { type: 'slowed', heartbeatIntervalMs: 1_000, previousIntervalMs: 500 },
      { type: 'slowed', heartbeatIntervalMs: 2_000, previousIntervalMs: 1_000 },
      { type: 'slowed', heartbeatIntervalMs: 3_000, previousIntervalMs: 2_000 },
    ]);
    expect(sim.diagnosticNames().filter((n) => n === 'keepalive_slowed')).toHaveLength(3);
    expect(sim.diagnosticNames().filter((n) => n === 'ping_flood_at_bound')).toHaveLength(2);
    expect(sim.state.phase).toBe('open');
  });

  it('B13: the new interval is what the heartbeat runs at after the reconnect', () => {
    const sim = opened({ ...fast, heartbeatIntervalMs: 500 });
    sim.closeSocket(1008, 'ping_flood', 0);
    sim.advance(0);
    sim.open();
    sim.apply({ type: 'start', reason: 'api_call' });
    const startedAt = sim.now;
    sim.advance(999);
    expect(sim.keepalives).toHaveLength(0);
    sim.inbound('pong');
    sim.advance(1);
    expect(sim.keepalives).toHaveLength(1);
    expect(sim.now - startedAt).toBe(1_000);
  });

  it('B13: the defaults of both ends are compatible: a default client never trips a default server\'s flood or idle policy', () => {
    const client = defineConnectionConfig();
    const server = definePeerConfig();
    expect(client.session.heartbeatIntervalMs).toBeGreaterThanOrEqual(server.minPingIntervalMs);
    // Pinging at the client's interval, for an hour: no strike, so never a ping-flood close.
    let policy = createPingPolicyState();
    const out: unknown[] = [];
    for (let t = 0; t < 3_600_000; t += client.session.heartbeatIntervalMs) policy = pingPolicyStep(policy, server, { type: 'ping', now: t }, out);
    expect([policy.strikes, policy.violated, out]).toEqual([0, false, []]);
    // Whatever the client slows down to stays within its own bound, and the server's idle close is off by default.
    expect(client.maxHeartbeatIntervalMs).toBeGreaterThanOrEqual(client.session.heartbeatIntervalMs);
    expect(server.idleCloseMs).toBeNull();
  });

  it('B13: a maxHeartbeatIntervalMs below heartbeatIntervalMs is refused naming both', () => {
    expect(() => defineConnectionConfig({ heartbeatIntervalMs: 10_000, maxHeartbeatIntervalMs: 5_000 })).toThrow(/maxHeartbeatIntervalMs: 5000 .*heartbeatIntervalMs/);
  });
});

describe('keep-alives, liveness and the heartbeat-answer rule inside the connection (S4, B5)', () => {
  it('S4: keep-alives go out exactly while busy and open; B5: no proof of life means dead-peer, destroy and reconnect', () => {
    const sim = opened();
    sim.advance(5_000);
    expect(sim.keepalives).toEqual([]);
    sim.apply({ type: 'start', reason: 'tool_exec' });
    sim.advance(1_000);
    expect(sim.keepalives).toEqual(['ping']);
    sim.advance(500);
    expect(sim.eventsOf('dead-peer')).toEqual([{ type: 'dead-peer', timeoutMs: 500 }]);
    expect(sim.socket).toBeNull();
    expect(sim.state.phase).toBe('backoff');
    expect(sim.eventsOf('close')).toEqual([{ type: 'close', code: 1006, reason: 'dead_peer', willReconnect: true }]);
  });

  it("B5: on a socket without ping the heartbeat message goes out; the peer's answer settles it, the peer's own is answered once", () => {
    const sim = opened(fast, false);
    sim.apply({ type: 'start', reason: 'api_call' });
    sim.advance(1_000);
    expect(sim.keepalives).toEqual(['heartbeat']);
    sim.inbound('heartbeat');
    expect(sim.replies).toBe(0);
    sim.inbound('heartbeat');
    expect(sim.replies).toBe(1);
    // The answer was proof of life: the next heartbeat goes out on time, no dead peer.
    sim.advance(1_400);
    expect(sim.state.phase).toBe('open');
    expect(sim.keepalives).toEqual(['heartbeat', 'heartbeat']);
  });

  it('S4, B6: a reconnect in the middle of work resumes the heartbeat at once', () => {
    const sim = opened();
    sim.apply({ type: 'start', reason: 'api_call' });
    sim.closeSocket(1001, '', 0);
    sim.advance(0);
    sim.open();
    expect(sim.state.session.heartbeatAt).toBe(sim.now + 1_000);
  });
});

describe('B5 while idle: idleReadTimeoutMs (a transport that cannot send keep-alives)', () => {
  const sse = { ...fast, pongTimeoutMs: 300, idleReadTimeoutMs: 2_000 } as const;

  it('B5: while open and idle, nothing received for idleReadTimeoutMs is a dead peer: destroyed, reported, reconnected', () => {
    const sim = opened(sse, false);
    expect(readAt(sim.state)).toBe(sim.now + 2_000);
    expect(connectionDeadline(sim.state)).toBe(readAt(sim.state));
    sim.advance(1_500);
    sim.inbound('ping');
    // Anything received starts the limit again.
    expect(readAt(sim.state)).toBe(sim.now + 2_000);
    sim.advance(1_999);
    expect(sim.state.phase).toBe('open');
    sim.advance(1, 0.5);
    expect(sim.socket).toBeNull();
    expect(sim.state.phase).toBe('backoff');
    expect(readAt(sim.state)).toBeNull();
    expect(sim.eventsOf('dead-peer')).toEqual([{ type: 'dead-peer', timeoutMs: 2_000 }]);
    expect(sim.eventsOf('close')).toEqual([{ type: 'close', code: 1006, reason: 'idle_read_timeout', willReconnect: true }]);
    expect(sim.diagnosticNames()).toContain('idle_read_timeout');
    expect(sim.violations).toEqual([]);
  });

  it('B5, S4: while busy the heartbeat rule applies instead (interval + timeout); idle again, the limit starts afresh', () => {
    const sim = opened(sse, false);
    sim.apply({ type: 'start', reason: 'api_call' });
    expect(readAt(sim.state)).toBeNull();
    // The stream keeps talking: no verdict for a busy 5 s, well past the idle limit.
    for (let t = 0; t < 5_000; t += 250) {
      sim.advance(250);
      sim.inbound('ping');
    }
    expect(sim.state.phase).toBe('open');
    expect(sim.keepalives.length).toBeGreaterThan(0);
    sim.apply({ type: 'stop', reason: 'api_call' });
    expect(readAt(sim.state)).toBe(sim.now + 2_000);
    // Busy and silent: detected at the next tick plus pongTimeoutMs, long before the idle limit would be.
    sim.apply({ type: 'start', reason: 'api_call' });
    const silentFrom = sim.now;
    sim.advance(1_400);
    expect(sim.eventsOf('dead-peer')).toEqual([{ type: 'dead-peer', timeoutMs: 300 }]);
    expect(sim.now - silentFrom).toBeLessThanOrEqual(1_000 + 300 + 100);
  });

  it('B7: with permitWithoutActivity the heartbeat runs while idle, so the idle limit is never armed; off by default', () => {
    expect(readAt(opened({ ...sse, permitWithoutActivity: true }, false).state)).toBeNull();
    expect(readAt(opened(fast, false).state)).toBeNull();
    expect(defineConnectionConfig({}).idleReadTimeoutMs).toBeNull();
  });

  it('B15: a late idle check is reported and gives the peer a fresh limit instead of a verdict', () => {
    const sim = opened({ ...sse, lateTimerMs: 500 }, false);
    sim.stall(2_000 + 800);
    expect(sim.state.phase).toBe('open');
    expect(sim.diagnostics.filter((d) => d.name === 'heartbeat_late').map((d) => d.fields)).toEqual([{ timer: 'idle_read', late_ms: 800, missed: 0 }]);
    expect(readAt(sim.state)).toBe(sim.now + 2_000);
    sim.advance(2_000);
    expect(sim.eventsOf('dead-peer')).toHaveLength(1);
  });

  it('B1: idleReadTimeoutMs is validated like every duration', () => {
    expect(() => defineConnectionConfig({ idleReadTimeoutMs: 0 })).toThrow(KeepaliveOptionError);
    expect(() => defineConnectionConfig({ idleReadTimeoutMs: Number.NaN })).toThrow(/idleReadTimeoutMs: NaN/);
    expect(defineConnectionConfig({ idleReadTimeoutMs: null }).idleReadTimeoutMs).toBeNull();
  });
});

describe("B6: the peer's least reconnect delay (retry_after)", () => {
  it("B6: after retry_after every backoff delay is the peer's floor plus the jitter, capped; null forgets it", () => {
    const sim = opened(fast);
    sim.apply({ type: 'retry_after', delayMs: 400 });
    expect(sim.state.retryAfterMs).toBe(400);
    sim.closeSocket(1006, '', 0.5);
    expect(sim.eventsOf('reconnecting').at(-1)).toEqual({ type: 'reconnecting', attempt: 1, delayMs: 400 + 50 });
    sim.advance(450);
    sim.closeSocket(1006, '', 0.999);
    // Capped at maxDelayMs (1 000).
    expect(sim.eventsOf('reconnecting').at(-1)).toEqual({ type: 'reconnecting', attempt: 2, delayMs: 400 + 199 });
    sim.advance(1_000);
    sim.apply({ type: 'retry_after', delayMs: 5_000 });
    sim.closeSocket(1006, '', 0);
    expect(sim.eventsOf('reconnecting').at(-1)).toEqual({ type: 'reconnecting', attempt: 3, delayMs: 1_000 });
    sim.advance(1_000);
    sim.apply({ type: 'retry_after', delayMs: null });
    sim.closeSocket(1006, '', 0);
    expect(sim.eventsOf('reconnecting').at(-1)).toEqual({ type: 'reconnecting', attempt: 4, delayMs: 0 });
  });

  it('B6: a dead-peer loss honours the floor too; a nonsense delay is diagnosed and changes nothing', () => {
    const sim = opened({ ...fast, idleReadTimeoutMs: 1_000 }, false);
    sim.apply({ type: 'retry_after', delayMs: 300 });
    for (const delayMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) sim.apply({ type: 'retry_after', delayMs });
    expect(sim.diagnostics.filter((d) => d.name === 'invalid_event').map((d) => d.fields)).toEqual(Array.from({ length: 4 }, () => ({ event: 'retry_after' })));
    expect(sim.state.retryAfterMs).toBe(300);
    sim.advance(1_000, 0);
    expect(sim.eventsOf('reconnecting')).toEqual([{ type: 'reconnecting', attempt: 1, delayMs: 300 }]);
  });
});

describe('lazy reconnect: parked while idle', () => {
  const lazy = { ...fast, reconnect: { ...fast.reconnect, whenIdle: 'lazy' } } as const;

  it('lost while idle, a lazy client parks: nothing armed; work starting connects at once (attempt 0)', () => {
    const sim = opened(lazy);
    sim.closeSocket(4000, 'idle');
    expect(sim.state.phase).toBe('parked');
    expect(sim.events.slice(-3)).toEqual([
      { type: 'close', code: 4000, reason: 'idle', willReconnect: false },
      { type: 'parked', code: 4000, reason: 'idle' },
      // The deprecated alias, right after it.
      { type: 'idle', code: 4000, reason: 'idle' },
    ]);
    expect(connectionDeadline(sim.state)).toBeNull();
    sim.advance(60_000);
    expect(sim.socketsOpened).toHaveLength(1);
    sim.apply({ type: 'start', reason: 'api_call' });
    expect(sim.state.phase).toBe('connecting');
    expect(sim.socketsOpened.at(-1)).toEqual({ attempt: 0, at: sim.now });
    expect(sim.diagnostics.at(-1)).toMatchObject({ name: 'unparked', fields: { trigger: 'activity', parked_ms: 60_000 } });
  });

  it('a send while parked queues and connects; the queue is flushed in order on open', () => {
    const sim = opened(lazy);
    sim.closeSocket(4000, 'idle');
    expect(sim.send()).toBe('enqueue');
    expect(sim.send()).toBe('enqueue');
    expect(sim.socketsOpened).toHaveLength(2);
    sim.open();
    expect(sim.written).toEqual([1, 2]);
    expect(sim.state.queuedMessages).toBe(0);
    expect(sim.state.queuedBytes).toBe(0);
  });

  it('lost while busy, a lazy client backs off; a delay that ends after the work is done parks instead', () => {
    const sim = opened(lazy);
    sim.apply({ type: 'start', reason: 'api_call' });
    sim.closeSocket(1006, '', 0.5);
    expect(sim.state.phase).toBe('backoff');
    sim.apply({ type: 'stop', reason: 'api_call' });
    sim.advance(1_000);
    expect(sim.state.phase).toBe('parked');
    expect(sim.eventsOf('idle')).toEqual([{ type: 'idle', code: 1006, reason: '' }]);
  });
});

describe('queue accounting (B14)', () => {
  it('B14: sends while open write at once; while not open they queue within both bounds, else are refused', () => {
    const sim = new ConnectionSim({ ...fast, maxQueuedMessages: 2, maxQueuedBytes: 15 });
    expect(sim.send(5)).toBe('enqueue');
    expect(sim.send(11)).toBe('refuse');
    expect(sim.send(10)).toBe('enqueue');
    expect(sim.send(0)).toBe('refuse');
    expect([sim.state.queuedMessages, sim.state.queuedBytes]).toEqual([2, 15]);
    sim.open();
    expect(sim.written).toEqual([1, 3]);
    expect(sim.send(100)).toBe('write');
    sim.apply({ type: 'close', code: 1000, reason: '' });
    expect(sim.send(1)).toBe('refuse');
  });

  it('B14: a dequeued report that does not fit the queue is diagnosed and changes nothing', () => {
    const sim = new ConnectionSim(fast);
    sim.send(5);
    const before = sim.state;
    sim.apply({ type: 'dequeued', messages: 2, bytes: 5 });
    expect(sim.state.queuedMessages).toBe(before.queuedMessages);
    expect(sim.diagnostics.at(-1)).toMatchObject({ name: 'invalid_event', fields: { event: 'dequeued' } });
  });
});

describe('the platform lifecycle: network and visibility (B10, B15)', () => {
  it('offline: a waiting reconnect does not start while the network is down; online: it starts at once', () => {
    const sim = opened();
    sim.apply({ type: 'network', online: false });
    sim.closeSocket(1006, '', 0.99);
    expect(sim.state.phase).toBe('backoff');
    expect(connectionDeadline(sim.state)).toBeNull();
    sim.advance(60_000);
    expect(sim.socketsOpened).toHaveLength(1);
    sim.apply({ type: 'network', online: true });
    expect(sim.state.phase).toBe('connecting');
    expect(sim.socketsOpened).toHaveLength(2);
    expect(sim.socketsOpened[1]?.at).toBe(sim.now);
    expect(sim.diagnosticNames()).toEqual(expect.arrayContaining(['offline', 'online']));
  });

  it('online with a short backoff pending also skips the rest of the wait; a repeated network event changes nothing', () => {
    const sim = opened();
    sim.closeSocket(1006, '', 0.99);
    sim.apply({ type: 'network', online: true });
    expect(sim.state.phase).toBe('backoff');
    sim.apply({ type: 'network', online: false });
    sim.apply({ type: 'network', online: true });
    expect(sim.state.phase).toBe('connecting');
  });

  it('lazy and idle, back online: the client stays parked instead of connecting', () => {
    const sim = opened({ ...fast, reconnect: { ...fast.reconnect, whenIdle: 'lazy' } });
    sim.apply({ type: 'start', reason: 'api_call' });
    sim.apply({ type: 'network', online: false });
    sim.closeSocket(1006, '', 0.5);
    sim.apply({ type: 'stop', reason: 'api_call' });
    sim.apply({ type: 'network', online: true });
    expect(sim.state.phase).toBe('parked');
  });

  it('B5: a page visible again, or a network change while open, checks liveness at once: one keep-alive, an answer due', () => {
    const sim = opened();
    sim.apply({ type: 'visibility', visible: false });
    expect(sim.keepalives).toEqual([]);
    sim.apply({ type: 'visibility', visible: true });
    expect(sim.keepalives).toEqual(['ping']);
    expect(sim.state.session.livenessAt).toBe(sim.now + 500);
    sim.inbound('pong');
    sim.apply({ type: 'network', online: false });
    expect(sim.keepalives).toEqual(['ping', 'ping']);
    sim.advance(500);
    expect(sim.eventsOf('dead-peer')).toHaveLength(1);
  });

  it('B15: a liveness deadline handled late by a frozen page is not a dead peer: the peer gets a fresh timeout', () => {
    const sim = opened({ ...fast, lateTimerMs: 200 });
    sim.apply({ type: 'start', reason: 'api_call' });
    sim.advance(1_000);
    expect(sim.state.session.livenessAt).toBe(1_500);
    // The tab was frozen: the next timeout event arrives 3 s late.
    sim.now = 4_500;
    sim.apply({ type: 'timeout' });
    expect(sim.eventsOf('dead-peer')).toEqual([]);
    expect(sim.diagnostics.filter((d) => d.name === 'heartbeat_late').map((d) => d.fields.timer)).toEqual(expect.arrayContaining(['liveness']));
    sim.inbound('pong');
    sim.advance(400);
    expect(sim.state.phase).toBe('open');
  });
});

describe('driver mistakes and edge cases never throw (B10, B14)', () => {
  it('B14: a send the socket cannot take while open is queued, and the next writable send flushes behind it in order', () => {
    const sim = opened();
    let state = sim.state;
    let commands;
    [state, commands] = connectionTransition(state, { type: 'send', now: 1, bytes: 3, writable: false });
    expect(commands).toEqual([{ type: 'enqueue' }]);
    [state, commands] = connectionTransition(state, { type: 'send', now: 2, bytes: 4, writable: true });
    expect(commands).toEqual([{ type: 'enqueue' }, { type: 'flush' }]);
    expect([state.queuedMessages, state.queuedBytes]).toEqual([2, 7]);
    [state, commands] = connectionTransition(state, { type: 'dequeued', now: 3, messages: 1, bytes: 3 });
    expect([state.queuedMessages, state.queuedBytes]).toEqual([1, 4]);
    const [same, none] = connectionTransition(state, { type: 'dequeued', now: 4, messages: 0, bytes: 0 });
    expect([same.queuedMessages, none]).toEqual([1, []]);
  });

  it('B14: a send with a nonsense size counts as 0 bytes; a close with a nonsense code is abnormal (1006)', () => {
    const sim = new ConnectionSim(fast);
    const [queued] = connectionTransition(sim.state, { type: 'send', now: 0, bytes: -3, writable: false });
    expect(queued.queuedBytes).toBe(0);
    const [lost] = connectionTransition(sim.state, { type: 'socket_closed', now: 0, code: 'x' as unknown as number, reason: 5 as unknown as string, random: 0 });
    expect(lost.lastLoss).toEqual({ code: 1006, reason: '' });
  });

  it('B10: time going backwards is clamped; a socket_closed with no socket is stale', () => {
    const sim = new ConnectionSim(fast, 1_000);
    const [state] = connectionTransition(sim.state, { type: 'send', now: 10, bytes: 1, writable: false });
    expect(state.now).toBe(1_000);
    sim.closeSocket(1006, '', 0);
    const [after, commands] = connectionTransition(sim.state, { type: 'socket_closed', now: 1_001, code: 1000, reason: '' });
    expect(after).toBe(sim.state);
    expect(commands).toEqual([{ type: 'diagnostic', level: 'warn', name: 'stale_event', fields: { event: 'socket_closed' } }]);
  });

  it('B10: a shared config from defineConnectionConfig is used as is; a bad start time or options object is refused', () => {
    const config = defineConnectionConfig(fast);
    expect(openConnection(config, 0, 1)[0].config).toBe(config);
    expect(() => openConnection({}, Number.NaN, 1)).toThrow(/Invalid start time/);
    expect(() => defineConnectionConfig(null as never)).toThrow(/Invalid option options: null/);
  });

  it('B11: exhausted after a failed attempt while never opened: no close event, closed with the last code', () => {
    const sim = new ConnectionSim({ ...fast, reconnect: { maxAttempts: 1, initialDelayMs: 100, maxDelayMs: 1_000 } });
    sim.closeSocket(1006, '', 0);
    sim.advance(0);
    sim.closeSocket(1011, 'down', 0);
    expect(sim.events.map((e) => e.type)).toEqual(['reconnecting', 'closed']);
    expect(sim.state.cause).toBe('exhausted');
  });

  it('B11: a connection lost while open can end in exhausted only through failed attempts after it', () => {
    const sim = opened({ ...fast, reconnect: { maxAttempts: 1, initialDelayMs: 100, maxDelayMs: 1_000 } });
    sim.closeSocket(1006, '', 0);
    expect(sim.state.phase).toBe('backoff');
    sim.advance(0);
    sim.closeSocket(1006, '', 0);
    expect(sim.state.cause).toBe('exhausted');
  });
});

describe('B1: options', () => {
  it('B1: bad options throw KeepaliveOptionError naming the option path and value', () => {
    const cases: [object, RegExp][] = [
      [{ connectTimeoutMs: 0 }, /Invalid option connectTimeoutMs: 0/],
      [{ reconnect: { maxDelayMs: -1 } }, /Invalid option reconnect\.maxDelayMs: -1/],
      [{ reconnect: { whenIdle: 'sometimes' } }, /Invalid option reconnect\.whenIdle: "sometimes"/],
      [{ reconnect: 5 }, /Invalid option reconnect: 5/],
      [{ terminalCloseCodes: [999] }, /Invalid option terminalCloseCodes/],
      [{ heartbeatIntervalMS: 5 }, /Invalid option heartbeatIntervalMS/],
      [{ maxQueuedMessages: 1.5 }, /Invalid option maxQueuedMessages: 1.5/],
    ];
    for (const [options, message] of cases) {
      expect(() => defineConnectionConfig(options)).toThrow(KeepaliveOptionError);
      expect(() => defineConnectionConfig(options)).toThrow(message);
    }
  });

  it('B1: the defaults are documented values; the backoff ceiling grows as the reconnect policy says', () => {
    const config = defineConnectionConfig();
    expect(config.connectTimeoutMs).toBe(10_000);
    expect(config.session.pongTimeoutMs).toBe(10_000);
    expect(config.maxHeartbeatIntervalMs).toBe(60_000);
    expect(backoffCeiling(config.reconnect, 2)).toBe(1_000);
    expect(Object.isFrozen(config)).toBe(true);
  });
});

describe('B16: idle is quiet at both ends (the client side)', () => {
  const types = (commands: readonly ConnectionCommand[]) => commands.map((command) => command.type);

  it('B16: work that ends with writes unconfirmed sends one last keep-alive; its answer confirms them, so a later idle reclaim reports nothing', () => {
    let [state] = openConnection({ heartbeatIntervalMs: 1_000, reconnect: { whenIdle: 'lazy' } }, 0, 1);
    let out: readonly ConnectionCommand[];
    [state] = connectionTransition(state, { type: 'socket_opened', now: 1, canPing: true });
    [state] = connectionTransition(state, { type: 'start', now: 2, reason: 'api_call' });
    [state, out] = connectionTransition(state, { type: 'send', now: 3, bytes: 5, writable: true });
    expect(types(out)).toContain('write');
    // The work ends 400 ms later, before any keep-alive answered: one more keep-alive goes out.
    [state, out] = connectionTransition(state, { type: 'stop', now: 400, reason: 'api_call' });
    expect(out).toContainEqual({ type: 'keepalive', frame: 'ping', ack: null });
    expect(out.flatMap((command) => (command.type === 'diagnostic' ? [command.name] : []))).toContain('confirming');
    [state, out] = connectionTransition(state, { type: 'inbound', now: 420, frame: 'pong' });
    expect(unconfirmedOf(state).unconfirmed).toBe(0);
    // Reclaimed while idle: parked, with no unconfirmed report.
    [state, out] = connectionTransition(state, { type: 'socket_closed', now: 60_000, code: 1006, reason: '' });
    expect(state.phase).toBe('parked');
    expect(out.some((command) => command.type === 'event' && command.event.type === 'unconfirmed')).toBe(false);
  });

  it('B16: a real loss after the work still reports: the last keep-alive goes unanswered, the connection is lost, unconfirmed fires', () => {
    let [state] = openConnection({ heartbeatIntervalMs: 1_000, reconnect: { whenIdle: 'lazy' } }, 0, 1);
    [state] = connectionTransition(state, { type: 'socket_opened', now: 1, canPing: true });
    [state] = connectionTransition(state, { type: 'start', now: 2, reason: 'api_call' });
    [state] = connectionTransition(state, { type: 'send', now: 3, bytes: 5, writable: true });
    [state] = connectionTransition(state, { type: 'stop', now: 400, reason: 'api_call' });
    const [, out] = connectionTransition(state, { type: 'socket_closed', now: 500, code: 1006, reason: '' });
    expect(out).toContainEqual({ type: 'event', event: { type: 'unconfirmed', messages: 1, copies: 1 } });
  });

  it('B16: work with nothing unconfirmed at its end costs no extra frame', () => {
    let [state] = openConnection({ heartbeatIntervalMs: 1_000 }, 0, 1);
    [state] = connectionTransition(state, { type: 'socket_opened', now: 1, canPing: true });
    [state] = connectionTransition(state, { type: 'start', now: 2, reason: 'api_call' });
    const [, out] = connectionTransition(state, { type: 'stop', now: 400, reason: 'api_call' });
    expect(types(out)).not.toContain('keepalive');
  });

  test.prop([fc.integer({ min: 2, max: 12 }), fc.array(fc.double({ min: 0, max: 0.999, noNaN: true }), { minLength: 12, maxLength: 12 }), fc.integer({ min: 1, max: 600_000 })])(
    'B16: an eager client reclaimed while idle, cycle after cycle, reconnects within the first backoff ceiling every time, whatever the connection lived',
    (cycles, draws, lifetime) => {
      const initialDelayMs = 500;
      let [state] = openConnection({ reconnect: { initialDelayMs, maxDelayMs: 30_000 } }, 0, 1);
      let now = 0;
      for (let i = 0; i < cycles; i++) {
        [state] = connectionTransition(state, { type: 'socket_opened', now: ++now, canPing: true });
        now += lifetime;
        let out: readonly ConnectionCommand[];
        [state, out] = connectionTransition(state, { type: 'socket_closed', now, code: 1006, reason: '', random: draws[i] });
        const reconnecting = out.find((command) => command.type === 'event' && command.event.type === 'reconnecting');
        const delay = reconnecting?.type === 'event' && reconnecting.event.type === 'reconnecting' ? reconnecting.event.delayMs : -1;
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(initialDelayMs);
        now = connectionDeadline(state) ?? now;
        [state] = connectionTransition(state, { type: 'timeout', now });
      }
    },
  );

  it('B6: a loss while work is in flight still grows the backoff (it is not a reclaim)', () => {
    let [state] = openConnection({ reconnect: { initialDelayMs: 500, maxDelayMs: 30_000 } }, 0, 1);
    const delays: number[] = [];
    let now = 0;
    [state] = connectionTransition(state, { type: 'start', now: 0, reason: 'api_call' });
    for (let i = 0; i < 4; i++) {
      [state] = connectionTransition(state, { type: 'socket_opened', now: ++now, canPing: true });
      let out: readonly ConnectionCommand[];
      [state, out] = connectionTransition(state, { type: 'socket_closed', now: ++now, code: 1006, reason: '', random: 0.999 });
      for (const command of out) if (command.type === 'event' && command.event.type === 'reconnecting') delays.push(command.event.delayMs);
      now = connectionDeadline(state) ?? now;
      [state] = connectionTransition(state, { type: 'timeout', now });
    }
    expect(delays).toEqual([499, 999, 1_998, 3_996]);
  });
});

describe('B13: one close and the ends agree', () => {
  it('B13: closed for a ping flood with the server\'s minimum in the reason, the client takes it (and a tenth more) in one step; a bare ping_flood still doubles', () => {
    for (const [reason, expected] of [
      ['ping_flood min_interval_ms=5000', 5_500],
      ['ping_flood', 1_000],
    ] as const) {
      let [state] = openConnection({ heartbeatIntervalMs: 500, maxHeartbeatIntervalMs: 60_000 }, 0, 1);
      [state] = connectionTransition(state, { type: 'socket_opened', now: 1, canPing: true });
      const [next, out] = connectionTransition(state, { type: 'socket_closed', now: 2, code: 1008, reason });
      state = next;
      expect(state.session.config.heartbeatIntervalMs).toBe(expected);
      expect(out).toContainEqual({ type: 'event', event: { type: 'slowed', heartbeatIntervalMs: expected, previousIntervalMs: 500 } });
      expect(state.phase).toBe('backoff');
    }
  });
});

describe('B16: a write while idle is confirmed too', () => {
  it('B16, B14: messages sent while no work is in flight get one keep-alive; its answer confirms them, and one written meanwhile gets the next', () => {
    let [state] = openConnection({ heartbeatIntervalMs: 1_000, reconnect: { whenIdle: 'lazy' } }, 0, 1);
    let out: readonly ConnectionCommand[];
    [state] = connectionTransition(state, { type: 'socket_opened', now: 1, canPing: true });
    [state, out] = connectionTransition(state, { type: 'send', now: 2, bytes: 3, writable: true });
    expect(out.filter((command) => command.type === 'write' || command.type === 'keepalive').map((command) => command.type)).toEqual(['write', 'keepalive']);
    // A second message before the answer: no second keep-alive yet.
    [state, out] = connectionTransition(state, { type: 'send', now: 3, bytes: 3, writable: true });
    expect(out.some((command) => command.type === 'keepalive')).toBe(false);
    // The answer confirms the first; the second gets its own keep-alive, whose answer confirms it.
    [state, out] = connectionTransition(state, { type: 'inbound', now: 10, frame: 'pong' });
    expect(unconfirmedOf(state).unconfirmed).toBe(1);
    expect(out.some((command) => command.type === 'keepalive')).toBe(true);
    [state, out] = connectionTransition(state, { type: 'inbound', now: 20, frame: 'pong' });
    expect(unconfirmedOf(state).unconfirmed).toBe(0);
    expect(out.some((command) => command.type === 'keepalive')).toBe(false);
    // Reclaimed while idle: nothing to report.
    [state, out] = connectionTransition(state, { type: 'socket_closed', now: 60_000, code: 1006, reason: '' });
    expect(out.some((command) => command.type === 'event' && command.event.type === 'unconfirmed')).toBe(false);
  });
});
