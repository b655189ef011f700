import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { SESSION_DIAGNOSTICS as D, SESSION_TIMERS, deadlineOf, wantsHeartbeat, type SessionTimer } from './index.js';
import { SimDriver } from './__tests__/driver.js';
import { sessionOptions as options } from './__tests__/arbitraries.js';

/**
 * Properties over random event sequences: random reasons, attach/detach,
 * timers fired at their deadlines (through `timeout` and through named
 * `timer` events), time advancing irregularly, bad events mixed in. Every
 * invariant is checked after every step.
 */

const reason = fc.oneof(
  fc.constantFrom('api_call', 'tool_exec', '__proto__', 'constructor', 'toString'),
  fc.string({ minLength: 1, maxLength: 6 }),
);

type Action =
  | { k: 'start'; reason: string }
  | { k: 'stop'; reason: string }
  | { k: 'release'; pick: number }
  | { k: 'attach' }
  | { k: 'detach' }
  | { k: 'signal'; gate: boolean | undefined }
  | { k: 'alive' }
  | { k: 'advance'; dt: number }
  | { k: 'fire'; timer: SessionTimer; stale: boolean; gate: boolean | undefined }
  | { k: 'backwards'; dt: number }
  | { k: 'shutdown' };

const gate = fc.option(fc.boolean(), { nil: undefined });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: reason.map((r) => ({ k: 'start' as const, reason: r })) },
  { weight: 6, arbitrary: reason.map((r) => ({ k: 'stop' as const, reason: r })) },
  { weight: 3, arbitrary: fc.integer({ min: -1, max: 40 }).map((pick) => ({ k: 'release' as const, pick })) },
  { weight: 3, arbitrary: fc.constant({ k: 'attach' as const }) },
  { weight: 2, arbitrary: fc.constant({ k: 'detach' as const }) },
  { weight: 2, arbitrary: gate.map((g) => ({ k: 'signal' as const, gate: g })) },
  { weight: 2, arbitrary: fc.constant({ k: 'alive' as const }) },
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 2_500 }).map((dt) => ({ k: 'advance' as const, dt })) },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant('fire' as const), timer: fc.constantFrom(...SESSION_TIMERS), stale: fc.boolean(), gate }),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 500 }).map((dt) => ({ k: 'backwards' as const, dt })) },
  { weight: 1, arbitrary: fc.constant({ k: 'shutdown' as const }) },
);


function play(sim: SimDriver, a: Action): void {
  switch (a.k) {
    case 'start':
    case 'stop':
      sim.send({ type: a.k, reason: a.reason });
      return;
    case 'release':
      sim.send({ type: 'release', token: a.pick });
      return;
    case 'attach':
    case 'detach':
    case 'alive':
    case 'shutdown':
      sim.send({ type: a.k });
      return;
    case 'signal':
      sim.send({ type: 'signal', sendKeepalives: a.gate });
      return;
    case 'advance':
      sim.advance(sim.now + a.dt);
      return;
    case 'backwards': {
      const before = sim.state;
      sim.send({ type: 'alive' }, sim.state.now - a.dt);
      if (!before.shutdown) expect(sim.diagnostics.at(-1)?.name).toBe(D.timeWentBackwards);
      return;
    }
    case 'fire': {
      const at = sim.armed.get(a.timer);
      if (at === undefined || a.stale) {
        const before = sim.state;
        const base = sim.state.now > sim.now ? sim.state.now : sim.now;
        sim.send({ type: 'timer', timer: a.timer, deadline: at === undefined ? undefined : at + 1, sendKeepalives: a.gate }, base);
        expect(sim.state).toBe(before);
        if (!before.shutdown) expect(sim.diagnostics.at(-1)?.name).toBe(D.staleTimer);
        return;
      }
      // Fire everything due before it, then this one by name at its deadline.
      sim.advance(at - 0.5);
      if (sim.armed.get(a.timer) !== at) return;
      sim.now = Math.max(sim.now, at);
      sim.armed.delete(a.timer);
      sim.send({ type: 'timer', timer: a.timer, deadline: at, sendKeepalives: a.gate });
      return;
    }
  }
}

function checkInvariants(sim: SimDriver): void {
  const s = sim.state;
  // S1, S2, B2: total equals the sum of per-reason counts, never negative.
  const counts = Object.values(s.counts);
  expect(s.total).toBeGreaterThanOrEqual(0);
  expect(counts.reduce((a, b) => a + b, 0)).toBe(s.total);
  expect(counts.every((n) => Number.isInteger(n) && n > 0)).toBe(true);
  expect(s.activities.length).toBe(s.total);
  for (const [r, n] of Object.entries(s.counts)) expect(s.activities.filter((x) => x.reason === r).length).toBe(n);
  expect(s.busySince === null).toBe(s.total === 0);
  // S4, B7: the heartbeat is armed exactly when (busy or permitted) and attached.
  expect(s.heartbeatAt !== null).toBe(wantsHeartbeat(s));
  expect(sim.armed.has('heartbeat')).toBe(wantsHeartbeat(s));
  expect(wantsHeartbeat(s)).toBe(s.attached && !s.shutdown && (s.total > 0 || s.config.permitWithoutActivity));
  // B4: the commands describe the state's timers exactly.
  for (const timer of SESSION_TIMERS) expect(sim.armed.get(timer) ?? null).toBe(deadlineOf(s, timer));
  // B5: proof of life is owed only while attached.
  if (!s.attached) expect(s.livenessAt).toBeNull();
  // B4: no timer armed twice without a cancel or fire; no keep-alive while
  // disabled or detached; nothing armed after shutdown.
  expect(sim.violations).toEqual([]);
  if (s.shutdown) expect(sim.armed.size).toBe(0);
  // B9: heartbeat deadlines fired on time are exactly one interval apart.
  for (const [fired, next] of sim.heartbeatSteps) expect(next - fired).toBe(s.config.heartbeatIntervalMs);
}

describe('properties over random event sequences', () => {
  test.prop([options, fc.array(action, { maxLength: 80 })])(
    'S1 S2 S4 S5 S7 B2 B4 B7 B9: invariants hold after every event of any sequence',
    (opts, actions) => {
      const sim = new SimDriver(opts);
      for (const a of actions) {
        play(sim, a);
        checkInvariants(sim);
      }
    },
  );

  test.prop([options, fc.array(action, { maxLength: 60 })])('B3: replaying the same sequence gives identical states and commands', (opts, actions) => {
    const a = new SimDriver(opts);
    const b = new SimDriver(opts);
    for (const x of actions) {
      play(a, x);
      play(b, x);
    }
    expect(a.state).toEqual(b.state);
    expect(a.diagnostics).toEqual(b.diagnostics);
    expect(JSON.parse(JSON.stringify(a.state))).toEqual(a.state);
  });

  test.prop([options, fc.array(action, { maxLength: 60 })])('B4 S9: after shutdown nothing is armed and nothing changes', (opts, actions) => {
    const sim = new SimDriver(opts);
    for (const a of actions) play(sim, a);
    sim.send({ type: 'shutdown' });
    const down = sim.state;
    expect(sim.armed.size).toBe(0);
    expect(sim.named(D.activityAtShutdown)).toHaveLength(1);
    for (const a of actions) play(sim, a);
    expect(sim.state).toBe(down);
    expect(sim.armed.size).toBe(0);
    expect(sim.named(D.activityAtShutdown)).toHaveLength(1);
  });

  test.prop([options, fc.array(action, { maxLength: 60 })])('S5 S7: no keep-alive is ever sent while sending is disabled', (opts, actions) => {
    const sim = new SimDriver({ ...opts, sendKeepalives: false });
    for (const a of actions) play(sim, a.k === 'signal' || a.k === 'fire' ? { ...a, gate: undefined } : a);
    expect(sim.sends).toBe(0);
    expect(sim.state.keepalivesSent).toBe(0);
  });
});
