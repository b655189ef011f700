import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { ConnectionSim } from './__tests__/connection-sim.js';
import { connectionDeadline, connectionTransition, isTerminalClose, type ConnectionOptions } from './index.js';
import { action, connectionOptions, run } from './__tests__/connection-actions.js';
import { readAt, online, configOf } from './__tests__/slices.js';

/**
 * Properties of the client connection machine over random sequences of
 * socket opens, closes with random codes, frames, timeouts, sends, work and
 * close requests (B10–B14). Every invariant is checked after every step.
 * 1,000 runs each by default; `test:deep` runs 100,000.
 */



/** Every invariant the machine promises, checked after each step. */
function check(sim: ConnectionSim, opts: ConnectionOptions): void {
  const state = sim.state;
  // B10: at most one socket, and a socket exactly in the phases that have one.
  expect(sim.violations).toEqual([]);
  expect(sim.socket !== null).toBe(state.phase === 'connecting' || state.phase === 'open' || state.phase === 'closing');
  // B10: nothing armed while parked or closed.
  if (state.phase === 'parked' || state.phase === 'closed') {
    expect(connectionDeadline(state)).toBeNull();
    expect([state.session.heartbeatAt, state.session.livenessAt, state.session.idleAt, state.session.stuckAt]).toEqual([null, null, null, null]);
  }
  // Lazy park only holds while there is nothing to do: no work in flight, nothing queued.
  if (state.phase === 'parked') expect([state.session.total, state.queuedMessages]).toEqual([0, 0]);
  // S4: the session is attached exactly while open.
  expect(state.session.attached).toBe(state.phase === 'open');
  // B14: every accepted message is written, still queued, or handed back; the accounting matches the payloads.
  expect(sim.written.length + sim.queue.length + sim.drained.length).toBe(sim.accepted);
  expect(state.queuedMessages).toBe(sim.queue.length);
  expect(state.queuedMessages).toBeLessThanOrEqual(state.config.maxQueuedMessages);
  expect(state.queuedBytes).toBeLessThanOrEqual(state.config.maxQueuedBytes);
  expect(new Set(sim.written).size).toBe(sim.written.length);
  // B11: attempts never exceed maxAttempts.
  const max = opts.reconnect?.maxAttempts ?? null;
  if (max !== null) for (const socket of sim.socketsOpened) expect(socket.attempt).toBeLessThanOrEqual(max);
  // B6: every backoff delay within [0, cap].
  for (const event of sim.eventsOf('reconnecting')) {
    expect(event.delayMs).toBeGreaterThanOrEqual(0);
    expect(event.delayMs).toBeLessThanOrEqual(state.config.reconnect.maxDelayMs);
  }
  // B5 while idle: the idle read deadline is armed exactly while open with the option on and no heartbeat running.
  const idleRead = configOf(state).idleReadTimeoutMs !== null && state.phase === 'open' && state.session.heartbeatAt === null;
  expect(readAt(state) !== null).toBe(idleRead);
  if (readAt(state) !== null) expect(readAt(state)).toBeLessThanOrEqual(state.now + (configOf(state).idleReadTimeoutMs ?? 0));
  // B15: a dead-peer verdict only ever comes from a deadline (liveness or idle read) handled on time (within lateTimerMs).
  for (const late of sim.deadPeerLateness) expect(late).toBeLessThanOrEqual(state.config.session.lateTimerMs);
  // B10: offline, no reconnect delay is armed (the wait is for the network).
  if (!online(state) && state.phase === 'backoff') expect(connectionDeadline(state)).toBe(connectionDeadline({ ...state, phase: 'parked' }));
  // B13: the heartbeat interval stays within [configured, bound].
  expect(state.session.config.heartbeatIntervalMs).toBeGreaterThanOrEqual(opts.heartbeatIntervalMs ?? 0);
  expect(state.session.config.heartbeatIntervalMs).toBeLessThanOrEqual(configOf(state).maxHeartbeatIntervalMs);
}

describe('connection machine properties', () => {
  test.prop([connectionOptions, fc.array(action, { maxLength: 80 })])(
    'B10 B11 B14 B6 B5 B15: one socket at a time, the idle read deadline armed exactly while open and idle, nothing armed while parked or closed, nothing accepted lost, attempts and delays bounded, no dead peer from a late timer',
    (opts, actions) => {
      const sim = new ConnectionSim(opts);
      check(sim, opts);
      for (const act of actions) {
        run(sim, act);
        check(sim, opts);
      }
    },
  );

  test.prop([connectionOptions, fc.array(action, { maxLength: 80 })])('B10 B12: no connect after a close request or a terminal code; closed is final', (opts, actions) => {
    const sim = new ConnectionSim(opts);
    let socketsAtEnd: number | null = null;
    for (const act of actions) {
      run(sim, act);
      if (socketsAtEnd !== null) {
        expect(sim.socketsOpened.length).toBe(socketsAtEnd);
        expect(sim.state.phase === 'closing' || sim.state.phase === 'closed').toBe(true);
      } else if (sim.state.phase === 'closing' || sim.state.phase === 'closed') {
        socketsAtEnd = sim.socketsOpened.length;
      }
    }
    // A terminal close ends in rejected, never a reconnect.
    const rejected = sim.eventsOf('rejected');
    for (const event of rejected) expect(isTerminalClose(sim.state.config, event.code, event.reason)).toBe(true);
    if (rejected.length > 0) expect(sim.state.cause).toBe('rejected');
    expect(sim.eventsOf('closed').length).toBeLessThanOrEqual(1);
    if (sim.state.phase === 'closed') {
      const frozen = sim.state;
      const [after, commands] = connectionTransition(frozen, { type: 'start', reason: 'late', now: sim.now + 1 });
      expect(after.phase).toBe('closed');
      expect(commands.some((command) => command.type === 'open_socket')).toBe(false);
    }
  });

  test.prop([connectionOptions, fc.array(action, { maxLength: 60 }), fc.integer()])('B3: replaying the same sequence gives identical states and commands', (opts, actions, seed) => {
    const a = new ConnectionSim(opts, 0, seed);
    const b = new ConnectionSim(opts, 0, seed);
    for (const act of actions) {
      run(a, act);
      run(b, act);
    }
    expect(JSON.stringify(a.state)).toBe(JSON.stringify(b.state));
    expect(a.events).toEqual(b.events);
    expect(a.diagnostics).toEqual(b.diagnostics);
  });
});
