import { describe, expect, it } from 'vitest';
import {
  NO_COMMANDS,
  SESSION_DIAGNOSTICS as D,
  countOf,
  createSessionState,
  defineSessionConfig,
  lastToken,
  step,
  transition,
  type SessionCommand,
  type SessionEvent,
  type SessionTimer,
} from './index.js';
import { SimDriver } from './__tests__/driver.js';

const INTERVAL = 30_000;
const IDLE = 30_000;

describe('S1 counting', () => {
  it('S1: start adds one to the total and to the reason; stop takes one away', () => {
    const sim = new SimDriver();
    sim.send({ type: 'start', reason: 'api_call' });
    sim.send({ type: 'start', reason: 'tool_exec' });
    sim.send({ type: 'start', reason: 'api_call' });
    expect(sim.state.total).toBe(3);
    expect(sim.state.counts).toEqual({ api_call: 2, tool_exec: 1 });
    sim.send({ type: 'stop', reason: 'api_call' });
    expect(sim.state.total).toBe(2);
    expect(sim.state.counts).toEqual({ api_call: 1, tool_exec: 1 });
    sim.send({ type: 'stop', reason: 'tool_exec' });
    expect(sim.state.counts).toEqual({ api_call: 1 });
  });

  it('S1: any string reason works, including names of Object.prototype members', () => {
    const sim = new SimDriver();
    for (const reason of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'übersetzung 🚀']) {
      sim.send({ type: 'start', reason });
      expect(countOf(sim.state, reason)).toBe(1);
    }
    expect(sim.state.total).toBe(5);
    expect(JSON.parse(JSON.stringify(sim.state.counts))).toEqual(sim.state.counts);
    sim.send({ type: 'stop', reason: '__proto__' });
    sim.send({ type: 'stop', reason: 'constructor' });
    expect(countOf(sim.state, '__proto__')).toBe(0);
    expect(countOf(sim.state, 'constructor')).toBe(0);
    expect(sim.state.total).toBe(3);
    expect(Object.keys(sim.state.counts).sort()).toEqual(['hasOwnProperty', 'toString', 'übersetzung 🚀']);
  });

  it('S1: an empty or non-string reason is refused with a warn and changes nothing', () => {
    const state = createSessionState();
    const [a, ca] = transition(state, { type: 'start', reason: '', now: 1 });
    expect(a).toBe(state);
    expect(ca).toEqual([{ type: 'diagnostic', level: 'warn', name: D.invalidEvent, fields: { event: 'start' } }]);
    const [b] = transition(state, { type: 'stop', reason: 42 as unknown as string, now: 1 });
    expect(b).toBe(state);
  });
});

describe('S2 and B2 never negative, always consistent', () => {
  it('S2: a stop at zero leaves the total at zero', () => {
    const state = createSessionState();
    const [next] = transition(state, { type: 'stop', reason: 'api_call', now: 5 });
    expect(next.total).toBe(0);
    expect(next).toBe(state);
  });

  it('B2: an unmatched stop changes no count and warns naming the reason', () => {
    const sim = new SimDriver();
    sim.send({ type: 'start', reason: 'api_call' });
    const before = sim.state;
    const commands = sim.send({ type: 'stop', reason: 'tool_exec' });
    expect(sim.state).toBe(before);
    expect(commands).toEqual([{ type: 'diagnostic', level: 'warn', name: D.unmatchedStop, fields: { reason: 'tool_exec' } }]);
    expect(sim.state.counts).toEqual({ api_call: 1 });
    expect(sim.state.total).toBe(1);
  });
});

describe('S3 one sender', () => {
  it('S3: attaching while attached replaces the sender and keeps one heartbeat', () => {
    const sim = new SimDriver();
    sim.send({ type: 'start', reason: 'api_call' });
    sim.send({ type: 'attach' });
    const state = sim.state;
    const commands = sim.send({ type: 'attach' });
    expect(commands).toBe(NO_COMMANDS);
    expect(sim.state).toBe(state);
    expect(sim.armed.get('heartbeat')).toBe(INTERVAL);
    expect(sim.violations).toEqual([]);
  });

  it('S3: detaching twice is harmless', () => {
    const sim = new SimDriver();
    sim.send({ type: 'attach' });
    sim.send({ type: 'detach' });
    const state = sim.state;
    expect(sim.send({ type: 'detach' })).toBe(NO_COMMANDS);
    expect(sim.state).toBe(state);
  });
});

describe('S4 heartbeat runs exactly while busy and attached', () => {
  it('S4: total 0 → 1 with a sender attached starts it', () => {
    const sim = new SimDriver();
    sim.send({ type: 'attach' });
    expect(sim.armed.has('heartbeat')).toBe(false);
    sim.now = 100;
    expect(sim.send({ type: 'start', reason: 'api_call' })).toEqual([{ type: 'arm', timer: 'heartbeat', deadline: 100 + INTERVAL }]);
  });

  it('S4: attaching while busy (a reconnect mid-stream) starts it', () => {
    const sim = new SimDriver();
    sim.send({ type: 'start', reason: 'tool_exec' });
    expect(sim.armed.size).toBe(0);
    sim.now = 2_000;
    expect(sim.send({ type: 'attach' })).toEqual([{ type: 'arm', timer: 'heartbeat', deadline: 2_000 + INTERVAL }]);
  });

  it('S4: total going to 0 stops it; detaching stops it', () => {
    const sim = new SimDriver();
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    const stopped = sim.send({ type: 'stop', reason: 'api_call' });
    expect(stopped).toContainEqual({ type: 'cancel', timer: 'heartbeat' });
    expect(sim.armed.has('heartbeat')).toBe(false);
    sim.send({ type: 'start', reason: 'api_call' });
    expect(sim.armed.has('heartbeat')).toBe(true);
    expect(sim.send({ type: 'detach' })).toContainEqual({ type: 'cancel', timer: 'heartbeat' });
    expect(sim.armed.size).toBe(0);
    expect(sim.violations).toEqual([]);
  });

  it('S4: a second activity does not re-arm a running heartbeat', () => {
    const sim = new SimDriver();
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.now = 10;
    expect(sim.send({ type: 'start', reason: 'tool_exec' })).toBe(NO_COMMANDS);
    expect(sim.armed.get('heartbeat')).toBe(INTERVAL);
  });
});

describe('S5 heartbeat tick', () => {
  it('S5: every interval a tick emits debug heartbeat with the total and sends', () => {
    const sim = new SimDriver();
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.send({ type: 'start', reason: 'tool_exec' });
    sim.advance(3 * INTERVAL);
    expect(sim.sends).toBe(3);
    expect(sim.named(D.heartbeat)).toEqual([
      { type: 'diagnostic', level: 'debug', name: 'heartbeat', fields: { total: 2 } },
      { type: 'diagnostic', level: 'debug', name: 'heartbeat', fields: { total: 2 } },
      { type: 'diagnostic', level: 'debug', name: 'heartbeat', fields: { total: 2 } },
    ]);
    expect(sim.state.keepalivesSent).toBe(3);
  });

  it('S5: with sending disabled, ticks still emit the diagnostic but never send', () => {
    const sim = new SimDriver({ sendKeepalives: false });
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.advance(2 * INTERVAL);
    expect(sim.sends).toBe(0);
    expect(sim.named(D.heartbeat)).toHaveLength(2);
  });

  it('S5: the gate may be read per tick through the event', () => {
    const sim = new SimDriver({ sendKeepalives: false });
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.now = INTERVAL;
    sim.armed.delete('heartbeat');
    const commands = sim.send({ type: 'timer', timer: 'heartbeat', sendKeepalives: true });
    expect(commands).toContainEqual({ type: 'send' });
    expect(sim.armed.get('heartbeat')).toBe(2 * INTERVAL);
  });
});

describe('S6 idle timer', () => {
  it('S6: total reaching 0 while the heartbeat ran arms a one-shot idle notice', () => {
    const sim = new SimDriver();
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.now = 1_000;
    const commands = sim.send({ type: 'stop', reason: 'api_call' });
    expect(commands).toEqual([
      { type: 'arm', timer: 'idle', deadline: 1_000 + IDLE },
      { type: 'cancel', timer: 'heartbeat' },
    ]);
    sim.advance(1_000 + IDLE * 3);
    expect(sim.named(D.idle)).toEqual([{ type: 'diagnostic', level: 'info', name: 'idle', fields: { idle_ms: IDLE } }]);
    expect(sim.armed.size).toBe(0);
  });

  it('S6: no idle notice when the heartbeat was not running (no sender)', () => {
    const sim = new SimDriver();
    sim.send({ type: 'start', reason: 'api_call' });
    expect(sim.send({ type: 'stop', reason: 'api_call' })).toEqual([]);
    expect(sim.armed.size).toBe(0);
  });

  it('S6: starting the heartbeat again cancels it', () => {
    const sim = new SimDriver();
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.send({ type: 'stop', reason: 'api_call' });
    sim.now = 10;
    expect(sim.send({ type: 'start', reason: 'api_call' })).toEqual([
      { type: 'cancel', timer: 'idle' },
      { type: 'arm', timer: 'heartbeat', deadline: 10 + INTERVAL },
    ]);
    sim.advance(IDLE * 2);
    expect(sim.named(D.idle)).toHaveLength(0);
  });

  it('S6: detaching cancels it', () => {
    const sim = new SimDriver();
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.send({ type: 'stop', reason: 'api_call' });
    expect(sim.send({ type: 'detach' })).toEqual([{ type: 'cancel', timer: 'idle' }]);
    sim.advance(IDLE * 2);
    expect(sim.named(D.idle)).toHaveLength(0);
    expect(sim.violations).toEqual([]);
  });
});

describe('S7 explicit signal', () => {
  it('S7: signal sends at once when enabled and attached, and changes no timer', () => {
    const sim = new SimDriver();
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.now = 500;
    const armedBefore = new Map(sim.armed);
    expect(sim.send({ type: 'signal' })).toEqual([{ type: 'send' }]);
    expect(sim.armed).toEqual(armedBefore);
    expect(sim.state.keepalivesSent).toBe(1);
  });

  it('S7: signal does nothing when detached or disabled', () => {
    const state = createSessionState();
    expect(transition(state, { type: 'signal', now: 1 })).toEqual([state, NO_COMMANDS]);
    const [attached] = transition(createSessionState({ sendKeepalives: false }), { type: 'attach', now: 0 });
    expect(transition(attached, { type: 'signal', now: 1 })[1]).toBe(NO_COMMANDS);
    expect(transition(attached, { type: 'signal', now: 1, sendKeepalives: true })[1]).toEqual([{ type: 'send' }]);
  });

  it('S7: signal works while idle too (the reference sends whenever attached)', () => {
    const [attached] = transition(createSessionState(), { type: 'attach', now: 0 });
    expect(transition(attached, { type: 'signal', now: 1 })[1]).toEqual([{ type: 'send' }]);
  });
});

describe('S8 tracking active', () => {
  it('S8: tracking is active exactly while a sender is attached', () => {
    const sim = new SimDriver();
    expect(sim.state.attached).toBe(false);
    sim.send({ type: 'attach' });
    expect(sim.state.attached).toBe(true);
    sim.send({ type: 'detach' });
    expect(sim.state.attached).toBe(false);
  });
});

describe('S9 shutdown report and S10 no personal data', () => {
  it('S9: reports total, per-reason counts and the age from when total last went 0 → 1', () => {
    const sim = new SimDriver();
    sim.now = 1_000;
    sim.send({ type: 'start', reason: 'api_call' });
    sim.now = 4_000;
    sim.send({ type: 'start', reason: 'tool_exec' });
    sim.send({ type: 'start', reason: 'tool_exec' });
    sim.now = 9_500;
    sim.send({ type: 'shutdown' });
    expect(sim.named(D.activityAtShutdown)).toEqual([
      {
        type: 'diagnostic',
        level: 'info',
        name: 'activity_at_shutdown',
        fields: { total: 3, active: { api_call: 1, tool_exec: 2 }, oldest_activity_ms: 8_500, keepalives_sent: 0 },
      },
    ]);
  });

  it('S9: the age restarts when the total goes 0 → 1 again, and is null while idle', () => {
    const sim = new SimDriver();
    sim.send({ type: 'start', reason: 'api_call' });
    sim.now = 5_000;
    sim.send({ type: 'stop', reason: 'api_call' });
    sim.now = 6_000;
    sim.send({ type: 'start', reason: 'api_call' });
    sim.now = 6_250;
    sim.send({ type: 'shutdown' });
    expect(sim.named(D.activityAtShutdown)[0]?.fields.oldest_activity_ms).toBe(250);
    const idle = new SimDriver();
    idle.send({ type: 'shutdown' });
    expect(idle.named(D.activityAtShutdown)[0]?.fields).toEqual({ total: 0, active: {}, oldest_activity_ms: null, keepalives_sent: 0 });
  });

  it('B4: shutdown cancels every armed timer and the session then ignores events with a warn', () => {
    const sim = new SimDriver({ pongTimeoutMs: 1_000, stuckActivityMs: 60_000 });
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.send({ type: 'signal' });
    expect(sim.armed.size).toBe(3);
    sim.send({ type: 'shutdown' });
    expect(sim.armed.size).toBe(0);
    expect(sim.state.attached).toBe(false);
    const after = sim.state;
    expect(sim.send({ type: 'start', reason: 'api_call' })).toEqual([
      { type: 'diagnostic', level: 'warn', name: D.eventAfterShutdown, fields: { event: 'start' } },
    ]);
    sim.send({ type: 'shutdown' });
    expect(sim.state).toBe(after);
    expect(sim.named(D.activityAtShutdown)).toHaveLength(1);
    expect(sim.violations).toEqual([]);
  });

  it('S10: diagnostics carry only numbers, booleans, null, reason names and count maps', () => {
    const sim = new SimDriver({ pongTimeoutMs: 500, stuckActivityMs: 1_000 });
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.send({ type: 'stop', reason: 'nope' });
    sim.send({ type: 'release', token: 99 });
    sim.advance(INTERVAL + 600);
    sim.send({ type: 'shutdown' });
    const reasons = new Set(['api_call', 'nope']);
    for (const d of sim.diagnostics) {
      for (const [key, value] of Object.entries(d.fields)) {
        if (typeof value === 'string') {
          expect(['reason', 'event', 'timer'], `${d.name}.${key}`).toContain(key);
          if (key === 'reason') expect(reasons.has(value)).toBe(true);
        } else if (value !== null && typeof value === 'object') {
          expect(Object.values(value).every((n) => typeof n === 'number')).toBe(true);
        } else {
          expect(['number', 'boolean'].includes(typeof value) || value === null).toBe(true);
        }
      }
    }
    expect(sim.diagnostics.length).toBeGreaterThan(4);
  });
});

describe('B3 pure and B4 commands as data', () => {
  it('B3: the same events give the same states and commands, and sessions are independent', () => {
    const events: SessionEvent[] = [
      { type: 'attach', now: 0 },
      { type: 'start', reason: 'api_call', now: 1 },
      { type: 'timeout', now: INTERVAL + 1 },
      { type: 'stop', reason: 'api_call', now: INTERVAL + 2 },
      { type: 'shutdown', now: INTERVAL + 3 },
    ];
    const run = () => {
      let state = createSessionState();
      const all: SessionCommand[] = [];
      for (const event of events) {
        const [next, commands] = transition(state, event);
        state = next;
        all.push(...commands);
      }
      return { state, all };
    };
    const a = run();
    const b = run();
    expect(a).toEqual(b);
    expect(a.state).not.toBe(b.state);
    // Commands and states are plain, serialisable data.
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });

  it('B3: a transition never mutates its input state', () => {
    const [state] = transition(createSessionState(), { type: 'attach', now: 0 });
    const frozen = structuredClone(state);
    transition(state, { type: 'start', reason: 'api_call', now: 1 });
    transition(state, { type: 'shutdown', now: 2 });
    expect(state).toEqual(frozen);
  });

  it('B4: a no-op returns the same state object and the shared empty command list', () => {
    const state = createSessionState();
    for (const event of [
      { type: 'detach', now: 1 },
      { type: 'alive', now: 2 },
      { type: 'signal', now: 3 },
      { type: 'timeout', now: 4 },
    ] satisfies SessionEvent[]) {
      const [next, commands] = transition(state, event);
      expect(next).toBe(state);
      expect(commands).toBe(NO_COMMANDS);
    }
    expect(Object.isFrozen(NO_COMMANDS)).toBe(true);
  });

  it('B4: step appends to a caller-owned buffer and returns the same state on a no-op', () => {
    const out: SessionCommand[] = [];
    const state = createSessionState();
    expect(step(state, { type: 'alive', now: 1 }, out)).toBe(state);
    expect(out).toHaveLength(0);
    const busy = step(step(state, { type: 'attach', now: 1 }, out), { type: 'start', reason: 'x', now: 2 }, out);
    expect(busy.total).toBe(1);
    expect(out).toEqual([{ type: 'arm', timer: 'heartbeat', deadline: 2 + INTERVAL }]);
  });
});

describe('bad events never throw', () => {
  it('B2: time that goes backwards warns and is handled at the last known time', () => {
    const sim = new SimDriver();
    sim.send({ type: 'attach' }, 1_000);
    const commands = sim.send({ type: 'start', reason: 'api_call' }, 400);
    expect(commands).toEqual([
      { type: 'diagnostic', level: 'warn', name: D.timeWentBackwards, fields: { by_ms: 600 } },
      { type: 'arm', timer: 'heartbeat', deadline: 1_000 + INTERVAL },
    ]);
    expect(sim.state.busySince).toBe(1_000);
    expect(sim.state.total).toBe(1);
  });

  it('a non-finite now warns and is handled at the last known time', () => {
    const state = createSessionState({}, 50);
    for (const now of [Number.NaN, Infinity, '7' as unknown as number]) {
      const [next, commands] = transition(state, { type: 'start', reason: 'api_call', now });
      expect(commands[0]).toEqual({ type: 'diagnostic', level: 'warn', name: D.invalidTime, fields: { event: 'start' } });
      expect(next.busySince).toBe(50);
    }
  });

  it('an unknown event, a non-object and an unknown timer id warn and change nothing', () => {
    const state = createSessionState();
    for (const event of [null, 42, {}, { type: 'explode', now: 1 }] as unknown as SessionEvent[]) {
      const [next, commands] = transition(state, event);
      expect(next).toBe(state);
      expect(commands).toEqual([{ type: 'diagnostic', level: 'warn', name: D.invalidEvent, fields: {} }]);
    }
    const [next, commands] = transition(state, { type: 'timer', timer: 'nope' as SessionTimer, now: 1 });
    expect(next).toBe(state);
    expect(commands).toEqual([{ type: 'diagnostic', level: 'warn', name: D.unknownTimer, fields: {} }]);
  });

  it('a stale timer (not armed, or armed at another deadline) warns and changes nothing', () => {
    const sim = new SimDriver();
    expect(sim.send({ type: 'timer', timer: 'idle' })).toEqual([
      { type: 'diagnostic', level: 'warn', name: D.staleTimer, fields: { timer: 'idle' } },
    ]);
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    const state = sim.state;
    expect(sim.send({ type: 'timer', timer: 'heartbeat', deadline: 12 }, INTERVAL)).toEqual([
      { type: 'diagnostic', level: 'warn', name: D.staleTimer, fields: { timer: 'heartbeat' } },
    ]);
    expect(sim.state).toBe(state);
    sim.armed.delete('heartbeat');
    expect(sim.send({ type: 'timer', timer: 'heartbeat', deadline: INTERVAL }, INTERVAL)).toContainEqual({ type: 'send' });
  });

  it('events after shutdown with an unknown type are reported as unknown', () => {
    const [down] = transition(createSessionState(), { type: 'shutdown', now: 0 });
    const [, commands] = transition(down, { type: 'bogus', now: 1 } as unknown as SessionEvent);
    expect(commands).toEqual([{ type: 'diagnostic', level: 'warn', name: D.eventAfterShutdown, fields: { event: 'unknown' } }]);
  });
});

describe('release tokens', () => {
  it('a start can be released through its token; releasing twice changes nothing and warns', () => {
    const sim = new SimDriver();
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    const first = lastToken(sim.state);
    sim.send({ type: 'start', reason: 'api_call' });
    const second = lastToken(sim.state);
    expect([first, second]).toEqual([1, 2]);
    sim.send({ type: 'release', token: second });
    expect(sim.state.activities.map((a) => a.token)).toEqual([first]);
    const state = sim.state;
    expect(sim.send({ type: 'release', token: second })).toEqual([
      { type: 'diagnostic', level: 'warn', name: D.releasedTwice, fields: { token: second } },
    ]);
    expect(sim.state).toBe(state);
    sim.send({ type: 'release', token: first });
    expect(sim.state.total).toBe(0);
    expect(sim.armed.has('heartbeat')).toBe(false);
  });

  it('a token never issued, or not an integer, warns as unknown', () => {
    const state = createSessionState();
    for (const token of [0, 1, -3, 1.5, Number.NaN]) {
      const [next, commands] = transition(state, { type: 'release', token, now: 0 });
      expect(next).toBe(state);
      expect(commands).toEqual([{ type: 'diagnostic', level: 'warn', name: D.unknownToken, fields: {} }]);
    }
  });

  it('a plain stop ends the oldest activity of that reason', () => {
    const sim = new SimDriver();
    sim.send({ type: 'start', reason: 'a' });
    sim.send({ type: 'start', reason: 'b' });
    sim.send({ type: 'start', reason: 'a' });
    sim.send({ type: 'stop', reason: 'a' });
    expect(sim.state.activities.map((a) => a.token)).toEqual([2, 3]);
  });
});

describe('stuck activity', () => {
  it('off by default: no stuck timer is ever armed', () => {
    const sim = new SimDriver();
    sim.send({ type: 'start', reason: 'api_call' });
    sim.advance(10 * 60_000);
    expect(sim.named(D.stuckActivity)).toHaveLength(0);
    expect(sim.state.stuckAt).toBeNull();
  });

  it('warns once per activity in flight longer than the threshold, with reason and age', () => {
    const sim = new SimDriver({ stuckActivityMs: 10_000 });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.now = 4_000;
    sim.send({ type: 'start', reason: 'tool_exec' });
    sim.send({ type: 'start', reason: 'tool_exec' });
    sim.now = 5_000;
    sim.send({ type: 'stop', reason: 'tool_exec' });
    sim.advance(60_000);
    expect(sim.named(D.stuckActivity).map((d) => d.fields)).toEqual([
      { reason: 'api_call', age_ms: 10_000 },
      { reason: 'tool_exec', age_ms: 10_000 },
    ]);
    expect(sim.armed.has('stuck')).toBe(false);
    expect(sim.violations).toEqual([]);
  });

  it('stopping the oldest activity moves the stuck timer to the next one', () => {
    const sim = new SimDriver({ stuckActivityMs: 10_000 });
    sim.send({ type: 'start', reason: 'a' });
    sim.now = 3_000;
    sim.send({ type: 'start', reason: 'b' });
    sim.now = 5_000;
    expect(sim.send({ type: 'stop', reason: 'a' })).toEqual([
      { type: 'cancel', timer: 'stuck' },
      { type: 'arm', timer: 'stuck', deadline: 13_000 },
    ]);
    expect(sim.send({ type: 'stop', reason: 'b' })).toEqual([{ type: 'cancel', timer: 'stuck' }]);
    expect(sim.violations).toEqual([]);
  });

  it('several activities due at once are reported in one fire', () => {
    const sim = new SimDriver({ stuckActivityMs: 1_000 });
    sim.send({ type: 'start', reason: 'a' });
    sim.send({ type: 'start', reason: 'b' });
    sim.now = 5_000;
    sim.send({ type: 'timeout' }, 5_000);
    expect(sim.named(D.stuckActivity)).toHaveLength(2);
    expect(sim.state.activities.every((a) => a.stuckReported)).toBe(true);
  });
});

describe('B7 keep-alive without activity (opt-in)', () => {
  it('B7: with permitWithoutActivity the heartbeat runs while idle and attached', () => {
    const sim = new SimDriver({ permitWithoutActivity: true });
    expect(sim.send({ type: 'attach' })).toEqual([{ type: 'arm', timer: 'heartbeat', deadline: INTERVAL }]);
    sim.advance(2 * INTERVAL);
    expect(sim.sends).toBe(2);
    sim.send({ type: 'start', reason: 'api_call' });
    sim.send({ type: 'stop', reason: 'api_call' });
    expect(sim.armed.has('heartbeat')).toBe(true);
    expect(sim.armed.has('idle')).toBe(true);
    sim.send({ type: 'detach' });
    expect(sim.armed.size).toBe(0);
    expect(sim.violations).toEqual([]);
  });

  it('B7: without it (default) an attached idle session sends nothing', () => {
    const sim = new SimDriver();
    sim.send({ type: 'attach' });
    sim.advance(10 * INTERVAL);
    expect(sim.sends).toBe(0);
    expect(sim.armed.size).toBe(0);
  });
});

describe('B9 drift-free', () => {
  it('B9: late ticks do not move the schedule: each deadline is the previous plus one interval', () => {
    const sim = new SimDriver({ heartbeatIntervalMs: 1_000 });
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' }, 7);
    const lateness = [13, 250, 0, 999, 40];
    for (const late of lateness) {
      const due = sim.earliest()!;
      sim.now = due + late;
      sim.fireDue();
    }
    expect(sim.heartbeatDeadlines).toEqual([1_007, 2_007, 3_007, 4_007, 5_007, 6_007]);
    expect(sim.named(D.heartbeatLate)).toHaveLength(0);
  });

  it('B9: a tick handled more than an interval late skips the missed ticks instead of bursting', () => {
    const sim = new SimDriver({ heartbeatIntervalMs: 1_000 });
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.now = 3_500;
    const commands = sim.fireDue();
    expect(commands.filter((c) => c.type === 'send')).toHaveLength(1);
    expect(commands).toContainEqual({ type: 'diagnostic', level: 'warn', name: D.heartbeatLate, fields: { timer: 'heartbeat', late_ms: 2_500, missed: 2 } });
    expect(sim.armed.get('heartbeat')).toBe(4_000);
  });

  it('B15: a liveness deadline handled late (a frozen tab, a suspended laptop) is not a dead peer: reported, a fresh ask, a fresh timeout', () => {
    const sim = new SimDriver({ heartbeatIntervalMs: 1_000, pongTimeoutMs: 500, lateTimerMs: 200 });
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.now = 1_000;
    sim.fireDue();
    expect(sim.armed.get('liveness')).toBe(1_500);
    // The process sleeps through the deadline: handled 2.3 s late.
    sim.now = 3_800;
    const commands = sim.fireDue();
    expect(commands.filter((c) => c.type === 'close')).toHaveLength(0);
    expect(commands).toContainEqual({ type: 'diagnostic', level: 'warn', name: D.heartbeatLate, fields: { timer: 'liveness', late_ms: 2_300, missed: 0 } });
    expect(sim.state.livenessAt).toBe(4_300);
    // The peer answers within the fresh timeout: alive. Had it not, the on-time deadline would have been a verdict.
    sim.send({ type: 'alive' });
    expect(sim.state.livenessAt).toBeNull();
    expect(sim.state.attached).toBe(true);
  });

  it('B15, B5: a liveness deadline handled on time (within lateTimerMs) is a dead-peer verdict as before', () => {
    const sim = new SimDriver({ heartbeatIntervalMs: 1_000, pongTimeoutMs: 500, lateTimerMs: 200 });
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.now = 1_000;
    sim.fireDue();
    sim.now = 1_690;
    const commands = sim.fireDue();
    expect(commands).toContainEqual(expect.objectContaining({ type: 'close', reason: 'dead_peer' }));
    expect(sim.state.attached).toBe(false);
  });

  it('B9: a tick delivered slightly early still keeps the schedule', () => {
    const sim = new SimDriver({ heartbeatIntervalMs: 1_000 });
    sim.send({ type: 'attach' });
    sim.send({ type: 'start', reason: 'api_call' });
    sim.armed.delete('heartbeat');
    sim.send({ type: 'timer', timer: 'heartbeat' }, 999);
    expect(sim.armed.get('heartbeat')).toBe(2_000);
  });
});

describe('B1 configurable', () => {
  it('B1: the defaults are the reference values and a shared config is referenced, not copied', () => {
    const config = defineSessionConfig();
    expect(config).toEqual({
      heartbeatIntervalMs: 30_000,
      idleDelayMs: 30_000,
      sendKeepalives: true,
      permitWithoutActivity: false,
      pongTimeoutMs: null,
      stuckActivityMs: null,
      lateTimerMs: 1_000,
    });
    const a = createSessionState(config);
    const b = createSessionState(config);
    expect(a.config).toBe(config);
    expect(b.config).toBe(config);
    expect(createSessionState({ idleDelayMs: 5 }).config.idleDelayMs).toBe(5);
  });

  it('B1: a bad start time throws at construction', () => {
    expect(() => createSessionState({}, Number.NaN)).toThrow(/now: NaN/);
  });
});
