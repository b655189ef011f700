import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { ConnectionSim } from './__tests__/connection-sim.js';
import { IDLE_CHURN_CYCLES, IDLE_CHURN_OPTIONS, type ConnectionOptions } from './index.js';

/**
 * Idle churn (B16): an eager client behind a reclaimer is cut while idle and reconnects, again and again, for nothing.
 * The kernel counts consecutive reclaim-then-reconnect cycles while no work is in flight and warns `idle_churn` once
 * per streak, naming the two options that stop it; work, a loss while busy, a park (lazy) and a restart end a streak.
 */

const eager: ConnectionOptions = { heartbeatIntervalMs: 1_000, pongTimeoutMs: 500, reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 } };
const lazy: ConnectionOptions = { ...eager, reconnect: { initialDelayMs: 100, maxDelayMs: 1_000, whenIdle: 'lazy' } };

/** One reclaim while idle (4000 after 60 s open), then the reconnect opens. */
function reclaimCycle(sim: ConnectionSim): void {
  sim.advance(60_000);
  sim.closeSocket(4000, 'idle_timeout', 0.5);
  sim.advance(1_000);
  if (sim.socket !== null && !sim.socket.open) sim.open();
}

function churnWarnings(sim: ConnectionSim): unknown[] {
  return sim.diagnostics.filter((d) => d.name === 'idle_churn').map((d) => d.fields);
}

describe('idle churn (B16): visible, once per streak', () => {
  it(`B16: eager behind a reclaimer: the ${String(IDLE_CHURN_CYCLES)}rd reclaim-then-reconnect cycle while idle warns idle_churn once, naming both options`, () => {
    const sim = new ConnectionSim(eager);
    sim.open();
    reclaimCycle(sim);
    reclaimCycle(sim);
    expect(churnWarnings(sim)).toEqual([]);
    expect([sim.state.idleChurn, sim.state.idleReclaims]).toEqual([2, 2]);
    reclaimCycle(sim);
    expect(churnWarnings(sim)).toEqual([{ cycles: 3, options: IDLE_CHURN_OPTIONS }]);
    expect(IDLE_CHURN_OPTIONS.split(',')).toEqual(['reconnect.whenIdle', 'permitWithoutActivity']);
    expect(sim.diagnostics.find((d) => d.name === 'idle_churn')?.level).toBe('warn');
    for (let i = 0; i < 5; i++) reclaimCycle(sim);
    // Once per streak, however long; the counter goes on.
    expect(churnWarnings(sim)).toHaveLength(1);
    expect([sim.state.idleChurn, sim.state.idleReclaims]).toEqual([8, 8]);
  });

  it('S1 B16: work starting ends the streak; a new streak warns again', () => {
    const sim = new ConnectionSim(eager);
    sim.open();
    for (let i = 0; i < 3; i++) reclaimCycle(sim);
    expect(churnWarnings(sim)).toHaveLength(1);
    sim.apply({ type: 'start', reason: 'api_call' });
    expect(sim.state.idleChurn).toBe(0);
    sim.apply({ type: 'stop', reason: 'api_call' });
    for (let i = 0; i < 2; i++) reclaimCycle(sim);
    expect(churnWarnings(sim)).toHaveLength(1);
    reclaimCycle(sim);
    expect(churnWarnings(sim)).toHaveLength(2);
  });

  it('B6 B16: a loss while busy is not a reclaim: it ends the streak', () => {
    const sim = new ConnectionSim(eager);
    sim.open();
    reclaimCycle(sim);
    reclaimCycle(sim);
    sim.apply({ type: 'start', reason: 'api_call' });
    sim.closeSocket(1006, '', 0.5);
    expect(sim.state.idleChurn).toBe(0);
    expect(sim.state.idleReclaims).toBe(2);
  });

  it('B10: lazy never churns: a reclaim while idle parks, and work brings it back; no warning however many cycles', () => {
    const sim = new ConnectionSim(lazy);
    sim.open();
    for (let i = 0; i < 6; i++) {
      sim.advance(60_000);
      sim.closeSocket(4000, 'idle_timeout', 0.5);
      expect(sim.state.phase).toBe('parked');
      sim.apply({ type: 'start', reason: 'api_call' });
      sim.open();
      sim.apply({ type: 'stop', reason: 'api_call' });
    }
    expect(churnWarnings(sim)).toEqual([]);
    expect(sim.state.idleChurn).toBe(0);
    // Still counted for a metric: six reclaims, each followed by a park.
    expect(sim.state.idleReclaims).toBe(6);
  });

  it('B13: a ping-flood close (1008) is the server answering keep-alives, not a reclaim', () => {
    const sim = new ConnectionSim({ ...eager, permitWithoutActivity: true });
    sim.open();
    for (let i = 0; i < 4; i++) {
      sim.advance(1_000);
      sim.closeSocket(1008, 'ping_flood', 0.5);
      sim.advance(2_000);
      if (sim.socket !== null && !sim.socket.open) sim.open();
    }
    expect(churnWarnings(sim)).toEqual([]);
    expect(sim.state.idleReclaims).toBe(0);
  });

  test.prop([fc.array(fc.constantFrom('reclaim', 'work', 'busy-loss'), { maxLength: 40 })])(
    'B16: the streak is the number of reclaims since the last work or busy loss, and each streak that reaches the threshold warns exactly once',
    (script) => {
      const sim = new ConnectionSim(eager);
      sim.open();
      let streak = 0;
      let warnings = 0;
      for (const step of script) {
        if (step === 'reclaim') {
          reclaimCycle(sim);
          streak++;
          if (streak === IDLE_CHURN_CYCLES) warnings++;
        } else if (step === 'work') {
          sim.apply({ type: 'start', reason: 'api_call' });
          sim.apply({ type: 'stop', reason: 'api_call' });
          streak = 0;
        } else {
          sim.apply({ type: 'start', reason: 'api_call' });
          sim.closeSocket(1006, '', 0.5);
          sim.apply({ type: 'stop', reason: 'api_call' });
          sim.advance(2_000);
          if (sim.socket !== null && !sim.socket.open) sim.open();
          streak = 0;
        }
        expect(sim.state.idleChurn).toBe(streak);
      }
      expect(churnWarnings(sim)).toHaveLength(warnings);
    },
  );
});
