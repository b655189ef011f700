import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  SESSION_DIAGNOSTICS as D,
  checkLiveness,
  createLiveness,
  detectionBound,
  keepaliveSent,
  proofOfLife,
} from './index.js';
import { SimDriver } from './__tests__/driver.js';

describe('B5 liveness (standalone machine)', () => {
  it('B5: alive until a keep-alive is owed, waiting within the timeout, dead after it', () => {
    let s = createLiveness(0);
    expect(checkLiveness(s, 100)).toBe('alive');
    s = keepaliveSent(s, 1_000, 500);
    expect(s.deadline).toBe(1_500);
    expect(checkLiveness(s, 1_499)).toBe('waiting');
    expect(checkLiveness(s, 1_500)).toBe('dead');
    expect(keepaliveSent(s, 1_200, 500)).toBe(s);
    s = proofOfLife(s, 1_400);
    expect(s).toEqual({ deadline: null, lastProofAt: 1_400 });
    expect(checkLiveness(s, 99_999)).toBe('alive');
    expect(proofOfLife(s, 1_400)).toBe(s);
    expect(proofOfLife(s, 1_000).lastProofAt).toBe(1_400);
  });

  it('B5: detection bound is interval + timeout', () => {
    expect(detectionBound(30_000, 10_000)).toBe(40_000);
  });
});

describe('B5 liveness inside the session', () => {
  const options = { heartbeatIntervalMs: 1_000, pongTimeoutMs: 300 };

  it('B5: a keep-alive arms the proof-of-life deadline; a pong cancels it', () => {
    const sim = new SimDriver(options);
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.advance(1_000);
    expect(sim.armed.get('liveness')).toBe(1_300);
    sim.now = 1_100;
    expect(sim.send({ type: 'alive' })).toEqual([{ type: 'cancel', timer: 'liveness' }]);
    sim.advance(1_999);
    expect(sim.closes).toBe(0);
    expect(sim.state.attached).toBe(true);
    // The next keep-alive, at 2000, goes unanswered: dead at 2300, not before.
    sim.advance(2_299);
    expect(sim.closes).toBe(0);
    sim.advance(2_300);
    expect(sim.closes).toBe(1);
    expect(sim.sends).toBe(2);
    expect(sim.violations).toEqual([]);
  });

  it('B5: no proof of life in time terminates the transport and stops the heartbeat', () => {
    const sim = new SimDriver(options);
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.advance(1_299);
    expect(sim.closes).toBe(0);
    sim.advance(1_300);
    expect(sim.lastCommands).toEqual([
      { type: 'diagnostic', level: 'warn', name: D.deadPeer, fields: { timeout_ms: 300 } },
      { type: 'close', reason: 'dead_peer', code: 1006, terminate: true },
      { type: 'cancel', timer: 'heartbeat' },
    ]);
    expect(sim.state.attached).toBe(false);
    expect(sim.state.total).toBe(1);
    // A reconnect: attach again while busy resumes the heartbeat at once (S4, B6).
    sim.now = 2_000;
    expect(sim.send({ type: 'attach' })).toEqual([{ type: 'arm', timer: 'heartbeat', deadline: 3_000 }]);
    expect(sim.violations).toEqual([]);
  });

  it('B5: a dead peer noticed in the same instant as a tick is closed before anything is sent', () => {
    const sim = new SimDriver({ heartbeatIntervalMs: 1_000, pongTimeoutMs: 1_000 });
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.advance(1_000);
    const sends = sim.sends;
    sim.advance(2_000);
    expect(sim.sends).toBe(sends);
    expect(sim.closes).toBe(1);
    expect(sim.violations).toEqual([]);
  });

  it('B5: an unanswered keep-alive keeps its deadline when more keep-alives go out', () => {
    const sim = new SimDriver({ heartbeatIntervalMs: 100, pongTimeoutMs: 250 });
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.advance(349);
    expect(sim.sends).toBe(3);
    expect(sim.armed.get('liveness')).toBe(350);
    sim.advance(350);
    expect(sim.closes).toBe(1);
  });

  it('B5: a new sender forgets proof of life owed by the old one', () => {
    const sim = new SimDriver(options);
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.send({ type: 'signal' });
    expect(sim.armed.has('liveness')).toBe(true);
    expect(sim.send({ type: 'attach' })).toEqual([{ type: 'cancel', timer: 'liveness' }]);
    sim.send({ type: 'signal' });
    sim.send({ type: 'detach' });
    expect(sim.armed.size).toBe(0);
    expect(sim.violations).toEqual([]);
  });

  test.prop([fc.integer({ min: 10, max: 5_000 }), fc.integer({ min: 10, max: 5_000 }), fc.integer({ min: 0, max: 20_000 })])(
    'B5: a peer that dies at any moment is detected within interval + timeout',
    (interval, timeout, diesAt) => {
      const sim = new SimDriver({ heartbeatIntervalMs: interval, pongTimeoutMs: timeout });
      sim.send({ type: 'attach' });
      sim.send({ type: 'start', reason: 'api_call' });
      // The peer answers every keep-alive at once until it dies.
      for (let guard = 0; guard < 10_000 && sim.closes === 0; guard++) {
        const due = sim.earliest()!;
        sim.advance(due);
        if (sim.lastCommands.some((c) => c.type === 'send') && sim.now < diesAt) sim.send({ type: 'alive' });
      }
      expect(sim.closes).toBe(1);
      expect(sim.now - diesAt).toBeLessThanOrEqual(detectionBound(interval, timeout));
    },
  );
});
