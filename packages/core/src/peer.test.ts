import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  KeepaliveOptionError,
  PEER_DEFAULTS,
  createPeerState,
  definePeerConfig,
  peerDeadline,
  peerTransition,
  type PeerCommand,
  type PeerConfig,
  type PeerEvent,
  type PeerState,
} from './index.js';

/** Drives one peer: fires due timers at their deadlines; the peer answers pings unless `dead`. */
class PeerSim {
  state: PeerState;
  now: number;
  pings: number[] = [];
  closes: PeerCommand[] = [];
  closedAt: number | null = null;
  replies = 0;
  constructor(config: PeerConfig, start = 0, phase = 0) {
    this.state = createPeerState(config, start, phase);
    this.now = start;
  }
  apply(event: PeerEvent): readonly PeerCommand[] {
    const [next, commands] = peerTransition(this.state, event);
    this.state = next;
    for (const c of commands) {
      if (c.type === 'ping') this.pings.push(event.now);
      if (c.type === 'close') {
        this.closes.push(c);
        this.closedAt = event.now;
      }
      if (c.type === 'reply') this.replies++;
    }
    return commands;
  }
  advance(to: number, answer: (pingAt: number) => number | null = () => null): void {
    for (let guard = 0; guard < 100_000; guard++) {
      const due = peerDeadline(this.state);
      if (due === null || due > to) break;
      this.now = due;
      const before = this.pings.length;
      this.apply({ type: 'timeout', now: due });
      if (this.pings.length > before) {
        const delay = answer(due);
        // The answer to our keep-alive: a pong, or the heartbeat message in kind.
        const kind = this.state.config.keepaliveFrame === 'message' ? 'heartbeat' : 'pong';
        if (delay !== null && delay === 0) this.apply({ type: 'inbound', kind, now: due });
      }
    }
    this.now = to;
  }
}

describe('peer machine (server side)', () => {
  // Quiet peers probed every interval (idlePingIntervalMs), as every peer was before B16: the rules here are B5, B8, B9.
  const config = definePeerConfig({ pingIntervalMs: 1_000, idlePingIntervalMs: 1_000, pongTimeoutMs: 300, idleCloseMs: 5_000, minPingIntervalMs: 500 });

  it('B9: pings every interval from a phase-spread first ping; a pong clears the deadline', () => {
    const sim = new PeerSim(config, 0, 0.25);
    sim.advance(3_300, () => 0);
    expect(sim.pings).toEqual([250, 1_250, 2_250, 3_250]);
    expect(sim.closes).toEqual([]);
  });

  it('B5: no proof of life within the timeout terminates the peer', () => {
    const sim = new PeerSim(config, 0, 0.5);
    sim.advance(10_000);
    expect(sim.pings).toEqual([500]);
    expect(sim.closes).toEqual([{ type: 'close', reason: 'dead_peer', code: 1006, terminate: true }]);
    expect(sim.state.closed).toBe(true);
    expect(peerDeadline(sim.state)).toBeNull();
  });

  test.prop([fc.integer({ min: 10, max: 5_000 }), fc.integer({ min: 10, max: 5_000 }), fc.double({ min: 0, max: 0.999, noNaN: true }), fc.integer({ min: 0, max: 30_000 })])(
    'B5: a peer that dies at any moment is detected within interval + timeout',
    (interval, timeout, phase, diesAt) => {
      const sim = new PeerSim(definePeerConfig({ pingIntervalMs: interval, idlePingIntervalMs: interval, pongTimeoutMs: timeout }), 0, phase);
      sim.advance(diesAt + interval * 2 + timeout * 2, (at) => (at < diesAt ? 0 : null));
      expect(sim.closes).toHaveLength(1);
      expect(sim.closedAt! - diesAt).toBeLessThanOrEqual(interval + timeout);
    },
  );

  it('idle policy, like a proxy: a connection with no traffic either way for idleCloseMs is closed with 4000; pings and pongs are traffic', () => {
    // Quiet peers probed every interval (this describe's config): the keep-alives keep the connection from the policy.
    const probed = new PeerSim(config);
    probed.advance(20_000, () => 0);
    expect(probed.closes).toEqual([]);
    // B16 (the default, quiet peers not probed): the ping of its first interval and the probe, then no traffic:
    // closed idleCloseMs after the probe's answer.
    const quiet = new PeerSim(definePeerConfig({ pingIntervalMs: 1_000, pongTimeoutMs: 300, idleCloseMs: 5_000, minPingIntervalMs: 500 }), 0, 0);
    quiet.advance(6_000, () => 0);
    expect(quiet.pings).toEqual([1, 1_001]);
    expect(quiet.closes).toEqual([]);
    quiet.advance(6_001, () => 0);
    expect(quiet.closes).toEqual([{ type: 'close', reason: 'idle_timeout', code: 4000, terminate: false }]);
  });

  it('idle policy: heartbeats and pings from the peer keep it open; heartbeats are answered', () => {
    const sim = new PeerSim(config);
    for (let t = 1_000; t <= 20_000; t += 1_000) {
      sim.advance(t, () => 0);
      sim.apply({ type: 'inbound', kind: t % 2000 === 0 ? 'heartbeat' : 'ping', now: t });
    }
    expect(sim.closes).toEqual([]);
    expect(sim.replies).toBe(10);
  });

  it('B8: a peer pinging faster than allowed is closed with 1008 after its strikes', () => {
    const sim = new PeerSim(config);
    for (const t of [100, 200, 300]) sim.apply({ type: 'inbound', kind: 'ping', now: t });
    expect(sim.closes).toEqual([]);
    sim.apply({ type: 'inbound', kind: 'heartbeat', now: 350 });
    expect(sim.closes).toEqual([{ type: 'close', reason: 'ping_flood', code: 1008, terminate: false, text: 'ping_flood min_interval_ms=500' }]);
    expect(sim.state.closed).toBe(true);
    // Closed peers ignore everything.
    const closed = sim.state;
    expect(peerTransition(closed, { type: 'inbound', kind: 'message', now: 400 })[0]).toBe(closed);
  });

  it('B8: application data clears strikes', () => {
    const sim = new PeerSim(config);
    for (const t of [100, 200, 300]) sim.apply({ type: 'inbound', kind: 'ping', now: t });
    sim.apply({ type: 'inbound', kind: 'message', now: 310 });
    for (const t of [400, 450]) sim.apply({ type: 'inbound', kind: 'ping', now: t });
    expect(sim.closes).toEqual([]);
  });

  it('terminateDeadPeers: false keeps pinging without the kill rule', () => {
    const sim = new PeerSim(definePeerConfig({ pingIntervalMs: 1_000, idlePingIntervalMs: 1_000, terminateDeadPeers: false }));
    sim.advance(5_000);
    expect(sim.pings).toHaveLength(5);
    expect(sim.closes).toEqual([]);
    expect(sim.state.pongAt).toBeNull();
  });

  it('a late tick skips missed pings instead of bursting', () => {
    const sim = new PeerSim(config, 0, 0.5);
    sim.apply({ type: 'timeout', now: 3_700 });
    expect(sim.pings).toEqual([3_700]);
    expect(sim.state.pingAt).toBe(4_500);
  });

  it('closed by the transport: every timer is cancelled once', () => {
    const sim = new PeerSim(config);
    expect(sim.apply({ type: 'closed', now: 10 })).toEqual([
      { type: 'cancel', timer: 'ping' },
      { type: 'cancel', timer: 'idle' },
    ]);
    expect(sim.apply({ type: 'closed', now: 11 })).toEqual([]);
    expect(peerTransition(createPeerState(config, 0, 0), { type: 'bogus', now: 1 } as unknown as PeerEvent)[1]).toEqual([]);
  });

  it('B4: closed while proof of life is owed: the pong timer is cancelled too, and only armed timers are', () => {
    const sim = new PeerSim(definePeerConfig({ pingIntervalMs: 1_000 }), 0, 0.5);
    sim.advance(500);
    expect(sim.apply({ type: 'closed', now: 600 })).toEqual([
      { type: 'cancel', timer: 'ping' },
      { type: 'cancel', timer: 'pong' },
    ]);
  });

  it('a pong that is not owed is traffic and nothing else; a timeout with nothing due changes nothing', () => {
    const peer = createPeerState(config, 0, 0.5);
    const [afterPong, commands] = peerTransition(peer, { type: 'inbound', kind: 'pong', now: 1 });
    expect(commands).toEqual([]);
    expect(afterPong).toEqual({ ...peer, lastTrafficAt: 1, heardAt: 1 });
    expect(peerTransition(peer, { type: 'timeout', now: 1 })[0]).toBe(peer);
    expect(createPeerState(config, 0, 7).pingAt).toBe(1);
  });

  it('B3: the phase places the first ping; phase 1 is one whole interval after opening, so pings follow the order peers opened in', () => {
    const every = definePeerConfig({ pingIntervalMs: 1_000 });
    expect(createPeerState(every, 100, 0.25).pingAt).toBe(350);
    expect(createPeerState(every, 100, 1).pingAt).toBe(1_100);
    expect(createPeerState(every, 100, 1.5).pingAt).toBe(101);
    // Peers opened one after another with phase 1 are pinged in that order, every interval.
    const opened = [0, 3, 7, 12].map((at) => new PeerSim(every, at, 1));
    const firstPings = opened.map((sim) => sim.state.pingAt);
    expect(firstPings).toEqual([1_000, 1_003, 1_007, 1_012]);
  });

  it('B1: options are validated, naming the option and value; a frozen complete config is shared', () => {
    expect(() => definePeerConfig({ pingIntervalMs: 0 })).toThrow(KeepaliveOptionError);
    expect(() => definePeerConfig({ pongTimeoutMs: -1 })).toThrow(/pongTimeoutMs: -1/);
    expect(() => definePeerConfig({ idleCloseMs: Infinity })).toThrow(/idleCloseMs: Infinity/);
    expect(() => definePeerConfig({ maxPingStrikes: 1.5 })).toThrow(/maxPingStrikes: 1.5/);
    expect(() => definePeerConfig({ terminateDeadPeers: 'no' as never })).toThrow(/terminateDeadPeers/);
    expect(() => definePeerConfig({ pingEvery: 1 } as never)).toThrow(/pingEvery/);
    expect(definePeerConfig(PEER_DEFAULTS)).toBe(PEER_DEFAULTS);
  });

  it('B1: keepaliveFrame defaults to ping and is validated, naming the option', () => {
    expect(PEER_DEFAULTS.keepaliveFrame).toBe('ping');
    expect(definePeerConfig({}).keepaliveFrame).toBe('ping');
    expect(definePeerConfig({ keepaliveFrame: 'message' }).keepaliveFrame).toBe('message');
    expect(definePeerConfig({ keepaliveFrame: undefined }).keepaliveFrame).toBe('ping');
    for (const bad of ['pong', 'heartbeat', '', null, 1]) {
      const error = catchError(() => definePeerConfig({ keepaliveFrame: bad as never }));
      expect(error).toBeInstanceOf(KeepaliveOptionError);
      expect(error).toMatchObject({ option: 'keepaliveFrame', value: bad });
      expect((error as Error).message).toMatch(/keepaliveFrame/);
    }
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('B13: the ends agree on the ping rate (server side)', () => {
  it('B13: an idleCloseMs not above minPingIntervalMs is refused, naming both options', () => {
    const atDefault = catchError(() => definePeerConfig({ idleCloseMs: 5_000 }));
    expect(atDefault).toBeInstanceOf(KeepaliveOptionError);
    expect(atDefault).toMatchObject({ option: 'idleCloseMs', value: 5_000, expectation: 'a duration above minPingIntervalMs (5000)' });
    expect((atDefault as Error).message).toBe('Invalid option idleCloseMs: 5000 (expected a duration above minPingIntervalMs (5000))');
    expect(() => definePeerConfig({ idleCloseMs: 500, minPingIntervalMs: 1_000 })).toThrow(/idleCloseMs: 500 .*minPingIntervalMs \(1000\)/);
    expect(() => definePeerConfig({ idleCloseMs: 1_000, minPingIntervalMs: 1_000 })).toThrow(KeepaliveOptionError);
  });

  it('B13: an idleCloseMs above minPingIntervalMs, or no idle policy, is accepted', () => {
    expect(definePeerConfig({ idleCloseMs: 5_001 }).idleCloseMs).toBe(5_001);
    expect(definePeerConfig({ idleCloseMs: 500, minPingIntervalMs: 499 }).idleCloseMs).toBe(500);
    expect(definePeerConfig({ idleCloseMs: null, minPingIntervalMs: 60_000 }).idleCloseMs).toBeNull();
    // A ping timeout as long as the interval is not a contradiction (the ws README's own pattern).
    expect(definePeerConfig({ pingIntervalMs: 1_000, pongTimeoutMs: 1_000 }).pongTimeoutMs).toBe(1_000);
  });

  test.prop([fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000 })])(
    'B13: a config is accepted exactly when idleCloseMs is above minPingIntervalMs',
    (idleCloseMs, minPingIntervalMs) => {
      const accepted = (() => {
        try {
          definePeerConfig({ idleCloseMs, minPingIntervalMs });
          return true;
        } catch (error) {
          expect(error).toMatchObject({ option: 'idleCloseMs', expectation: `a duration above minPingIntervalMs (${minPingIntervalMs})` });
          return false;
        }
      })();
      expect(accepted).toBe(idleCloseMs > minPingIntervalMs);
    },
  );

  test.prop([
    fc.integer({ min: 10, max: 2_000 }),
    fc.integer({ min: 1, max: 2_000 }),
    fc.integer({ min: 0, max: 3 }),
    fc.constantFrom<'ping' | 'heartbeat'>('ping', 'heartbeat'),
    fc.constantFrom<'ping' | 'message'>('ping', 'message'),
  ])(
    'B13: under any accepted config, a client keeping alive every minPingIntervalMs is closed neither as idle nor as a flood',
    (minPingIntervalMs, above, maxPingStrikes, kind, keepaliveFrame) => {
      const config = definePeerConfig({ pingIntervalMs: 1_000, pongTimeoutMs: 500, idleCloseMs: minPingIntervalMs + above, minPingIntervalMs, maxPingStrikes, keepaliveFrame });
      const sim = new PeerSim(config, 0, 0.5);
      for (let t = minPingIntervalMs; t <= 20 * minPingIntervalMs; t += minPingIntervalMs) {
        sim.advance(t, () => 0);
        sim.apply({ type: 'inbound', kind, now: t });
      }
      expect(sim.closes).toEqual([]);
    },
  );
});

describe("peer machine with keepaliveFrame: 'message' (heartbeat messages as keep-alives)", () => {
  const config = definePeerConfig({ pingIntervalMs: 1_000, idlePingIntervalMs: 1_000, pongTimeoutMs: 300, idleCloseMs: 5_000, minPingIntervalMs: 500, keepaliveFrame: 'message' });

  it('B5: each commanded ping is a heartbeat owed an answer; the answer settles it like a pong and is not echoed', () => {
    const sim = new PeerSim(config, 0, 0.5);
    sim.advance(500);
    expect(sim.pings).toEqual([500]);
    expect(sim.state.heartbeatsOwed).toBe(1);
    const commands = sim.apply({ type: 'inbound', kind: 'heartbeat', now: 600 });
    expect(commands).toEqual([{ type: 'cancel', timer: 'pong' }]);
    // Traffic (the idle policy counts it), but not the peer speaking: no strike, no reply.
    expect(sim.state).toMatchObject({ heartbeatsOwed: 0, pongAt: null, lastTrafficAt: 600 });
    expect(sim.state.flood).toEqual(createPeerState(config, 0, 0.5).flood);
    expect(sim.replies).toBe(0);
  });

  it('B5: a peer that answers every heartbeat stays open; one that stops is closed as dead', () => {
    const sim = new PeerSim(config, 0, 0.5);
    sim.advance(4_000, (at) => (at < 3_000 ? 0 : null));
    expect(sim.pings).toEqual([500, 1_500, 2_500, 3_500]);
    expect(sim.closes).toEqual([{ type: 'close', reason: 'dead_peer', code: 1006, terminate: true }]);
    expect(sim.closedAt).toBe(3_800);
    expect(sim.replies).toBe(0);
  });

  it('B8: answers to our heartbeats are not subject to the flood policy, however fast we ping', () => {
    const sim = new PeerSim(definePeerConfig({ pingIntervalMs: 10, idlePingIntervalMs: 10, pongTimeoutMs: 5, minPingIntervalMs: 5_000, maxPingStrikes: 0, keepaliveFrame: 'message' }));
    sim.advance(1_000, () => 0);
    expect(sim.pings).toHaveLength(100);
    expect(sim.closes).toEqual([]);
    expect(sim.state.flood.strikes).toBe(0);
  });

  it('idle policy: answers to our heartbeats are traffic, and so are the peer’s own heartbeats (answered)', () => {
    const silent = new PeerSim(config);
    silent.advance(5_000, () => null);
    expect(silent.closes).toEqual([{ type: 'close', reason: 'dead_peer', code: 1006, terminate: true }]);
    const answering = new PeerSim(config);
    answering.advance(20_000, () => 0);
    expect(answering.closes).toEqual([]);
    const speaking = new PeerSim(config);
    for (let t = 1_000; t <= 20_000; t += 1_000) {
      speaking.advance(t, () => 0);
      speaking.apply({ type: 'inbound', kind: 'heartbeat', now: t + 1 });
    }
    expect(speaking.closes).toEqual([]);
    expect(speaking.replies).toBe(20);
  });

  it('B8: the peer’s own heartbeats (nothing owed) are answered and subject to the flood policy', () => {
    const sim = new PeerSim(config, 0, 0.5);
    expect(sim.apply({ type: 'inbound', kind: 'heartbeat', now: 100 })).toEqual([{ type: 'reply' }]);
    expect(sim.state.lastTrafficAt).toBe(100);
    for (const t of [150, 200]) sim.apply({ type: 'inbound', kind: 'heartbeat', now: t });
    expect(sim.closes).toEqual([]);
    sim.apply({ type: 'inbound', kind: 'heartbeat', now: 250 });
    expect(sim.closes).toEqual([{ type: 'close', reason: 'ping_flood', code: 1008, terminate: false, text: 'ping_flood min_interval_ms=500' }]);
    expect(sim.replies).toBe(3);
  });

  it('B5: application data is proof of life but leaves the heartbeat owed, so its later answer is still not echoed', () => {
    const sim = new PeerSim(config, 0, 0.5);
    sim.advance(500);
    sim.apply({ type: 'inbound', kind: 'message', now: 510 });
    expect(sim.state).toMatchObject({ pongAt: null, heartbeatsOwed: 1, lastTrafficAt: 510 });
    expect(sim.apply({ type: 'inbound', kind: 'heartbeat', now: 520 })).toEqual([]);
    expect(sim.state.heartbeatsOwed).toBe(0);
    expect(sim.replies).toBe(0);
  });

  it('B5: with terminateDeadPeers off, owed heartbeats accumulate and each answer settles one', () => {
    const sim = new PeerSim(definePeerConfig({ pingIntervalMs: 1_000, idlePingIntervalMs: 1_000, terminateDeadPeers: false, keepaliveFrame: 'message' }));
    sim.advance(3_000);
    expect(sim.state.heartbeatsOwed).toBe(3);
    expect(sim.apply({ type: 'inbound', kind: 'heartbeat', now: 3_001 })).toEqual([]);
    expect(sim.state.heartbeatsOwed).toBe(2);
  });

  it("keepaliveFrame 'ping': nothing is counted as owed, every heartbeat is the peer's own", () => {
    const sim = new PeerSim(definePeerConfig({ pingIntervalMs: 1_000, minPingIntervalMs: 500 }), 0, 0.5);
    sim.advance(500);
    expect(sim.state.heartbeatsOwed).toBe(0);
    expect(sim.apply({ type: 'inbound', kind: 'heartbeat', now: 600 })).toEqual([{ type: 'cancel', timer: 'pong' }, { type: 'reply' }]);
  });

  test.prop([
    fc.array(fc.record({ gap: fc.integer({ min: 0, max: 1_500 }), kind: fc.constantFrom<'heartbeat' | 'message' | 'pong' | 'ping' | 'wait'>('heartbeat', 'message', 'pong', 'ping', 'wait') }), {
      maxLength: 60,
    }),
  ])('B5: over any sequence, replies go exactly to the heartbeats beyond the pings we owed; heartbeatsOwed is never negative', (steps) => {
    const sim = new PeerSim(definePeerConfig({ pingIntervalMs: 200, idlePingIntervalMs: 200, terminateDeadPeers: false, minPingIntervalMs: 1, maxPingStrikes: 1_000, keepaliveFrame: 'message' }));
    let owed = 0;
    let expectedReplies = 0;
    for (const { gap, kind } of steps) {
      const before = sim.pings.length;
      sim.advance(sim.now + gap);
      owed += sim.pings.length - before;
      expect(sim.state.heartbeatsOwed).toBe(owed);
      if (kind === 'wait') continue;
      sim.apply({ type: 'inbound', kind, now: sim.now });
      if (kind === 'heartbeat') {
        if (owed > 0) owed--;
        else expectedReplies++;
      }
      expect(sim.state.heartbeatsOwed).toBe(owed);
      expect(sim.state.heartbeatsOwed).toBeGreaterThanOrEqual(0);
    }
    expect(sim.replies).toBe(expectedReplies);
    expect(sim.closes).toEqual([]);
  });
});

describe('B16: idle is quiet at both ends (the server leaves a quiet peer alone)', () => {
  const config = definePeerConfig({ pingIntervalMs: 1_000, pongTimeoutMs: 300, minPingIntervalMs: 500 });

  it('B16: a peer that never speaks (it answers every ping) gets the ping of its first interval and one probe, then nothing; speaking brings the pings back at once', () => {
    const sim = new PeerSim(config, 0, 0.25);
    sim.advance(10_000, () => 0);
    expect(sim.pings).toEqual([250, 1_250]);
    expect(sim.closes).toEqual([]);
    expect(peerDeadline(sim.state)).toBeNull();
    // Its work starts: its first keep-alive makes it active, pinged every interval from then on.
    sim.apply({ type: 'inbound', kind: 'ping', now: 10_000 });
    expect(peerDeadline(sim.state)).toBe(11_000);
    for (let t = 10_000; t <= 14_000; t += 700) {
      sim.apply({ type: 'inbound', kind: 'heartbeat', now: t });
      sim.advance(t + 699, () => 0);
    }
    expect(sim.pings.filter((at) => at > 10_000)).toEqual([11_000, 12_000, 13_000, 14_000]);
    // Idle again (it last spoke at 14 000, just before that interval's ping): the probe, then quiet.
    sim.advance(30_000, () => 0);
    expect(sim.pings.filter((at) => at > 14_000)).toEqual([15_000]);
    expect(peerDeadline(sim.state)).toBeNull();
  });

  it('B16: idlePingIntervalMs probes a quiet peer at that interval (set above the path\'s idle timeout); it may not be below pingIntervalMs', () => {
    const sim = new PeerSim(definePeerConfig({ pingIntervalMs: 1_000, idlePingIntervalMs: 5_000, pongTimeoutMs: 300, minPingIntervalMs: 500 }), 0, 0.25);
    sim.advance(16_300, () => 0);
    expect(sim.pings).toEqual([250, 1_250, 6_250, 11_250, 16_250]);
    expect(() => definePeerConfig({ pingIntervalMs: 1_000, idlePingIntervalMs: 999 })).toThrow(/idlePingIntervalMs: 999 .*pingIntervalMs \(1000\)/);
    expect(definePeerConfig({}).idlePingIntervalMs).toBeNull();
  });

  test.prop([
    fc.integer({ min: 10, max: 2_000 }),
    fc.integer({ min: 10, max: 2_000 }),
    fc.double({ min: 0, max: 0.999, noNaN: true }),
    fc.array(fc.record({ gap: fc.integer({ min: 0, max: 3_000 }), kind: fc.constantFrom<'heartbeat' | 'message' | 'ping' | 'wait'>('heartbeat', 'message', 'ping', 'wait') }), { maxLength: 40 }),
  ])(
    'B16 for all traffic: no ping goes to a peer that has not spoken for two ping intervals (one active ping and one probe at most); a peer that speaks is pinged again within an interval',
    (interval, timeout, phase, steps) => {
      const sim = new PeerSim(definePeerConfig({ pingIntervalMs: interval, pongTimeoutMs: timeout, minPingIntervalMs: 1, maxPingStrikes: 1_000 }), 0, phase);
      let spokeAt = 0;
      let now = 0;
      for (const { gap, kind } of steps) {
        const before = sim.pings.length;
        sim.advance(now + gap, () => 0);
        now += gap;
        for (const at of sim.pings.slice(before)) expect(at - spokeAt).toBeLessThanOrEqual(2 * interval);
        if (sim.state.closed) return;
        if (kind === 'wait') continue;
        sim.apply({ type: 'inbound', kind, now });
        spokeAt = now;
        expect(peerDeadline(sim.state)).not.toBeNull();
        expect(peerDeadline(sim.state)! - now).toBeLessThanOrEqual(interval);
      }
    },
  );

  test.prop([fc.integer({ min: 10, max: 2_000 }), fc.integer({ min: 10, max: 2_000 }), fc.double({ min: 0, max: 0.999, noNaN: true }), fc.integer({ min: 0, max: 20_000 })])(
    'B5 with B16: a peer busy until it dies (it speaks at least every interval) is detected within interval + timeout of its death',
    (interval, timeout, phase, diesAt) => {
      const sim = new PeerSim(definePeerConfig({ pingIntervalMs: interval, pongTimeoutMs: timeout, minPingIntervalMs: 1, maxPingStrikes: 1_000 }), 0, phase);
      // Its own keep-alive every half interval while alive; answers pings while alive.
      for (let t = 0; t < diesAt; t += Math.max(1, Math.floor(interval / 2))) {
        sim.advance(t, (at) => (at < diesAt ? 0 : null));
        if (sim.state.closed) break;
        sim.apply({ type: 'inbound', kind: 'ping', now: t });
      }
      sim.advance(diesAt + interval * 3 + timeout * 2, (at) => (at < diesAt ? 0 : null));
      expect(sim.closes).toHaveLength(1);
      expect(sim.closedAt! - diesAt).toBeLessThanOrEqual(interval + timeout);
    },
  );
});

describe('sendKeepalives: false (a server that never sends a keep-alive of its own)', () => {
  const config = definePeerConfig({ sendKeepalives: false, pongTimeoutMs: 300, idleCloseMs: 5_000, minPingIntervalMs: 500, keepaliveFrame: 'message' });

  it('B16: a peer that is never probed has no ping deadline; only the idle check is armed', () => {
    const state = createPeerState(config, 0, 0.5);
    expect(state.pingAt).toBeNull();
    expect(state.pongAt).toBeNull();
    expect(peerDeadline(state)).toBe(5_000);
    expect(PEER_DEFAULTS.sendKeepalives).toBe(true);
    expect(definePeerConfig({}).sendKeepalives).toBe(true);
  });

  it('B16 idle policy: a silent peer is closed with 4000 after idleCloseMs, never pinged first', () => {
    const sim = new PeerSim(config, 0, 0.5);
    sim.advance(20_000, () => 0);
    expect(sim.pings).toEqual([]);
    expect(sim.closes).toEqual([expect.objectContaining({ reason: 'idle_timeout', code: 4000 })]);
    expect(sim.closedAt).toBe(5_000);
  });

  it('B8: the peer’s heartbeats are answered, keep it open, and a flood still closes it with 1008; no ping is armed by them', () => {
    const sim = new PeerSim(config, 0, 0.5);
    for (let t = 1_000; t <= 30_000; t += 1_000) {
      const commands = sim.apply({ type: 'inbound', kind: 'heartbeat', now: t });
      expect(commands.some((command) => command.type === 'arm' && command.timer === 'ping')).toBe(false);
      sim.advance(t + 999);
    }
    expect(sim.pings).toEqual([]);
    expect(sim.replies).toBe(30);
    expect(sim.closes).toEqual([]);
    sim.apply({ type: 'inbound', kind: 'heartbeat', now: 30_100 });
    sim.apply({ type: 'inbound', kind: 'heartbeat', now: 30_200 });
    sim.apply({ type: 'inbound', kind: 'heartbeat', now: 30_300 });
    expect(sim.closes).toEqual([expect.objectContaining({ reason: 'ping_flood', code: 1008 })]);
  });

  it('B1: sendKeepalives is validated, naming it; an idlePingIntervalMs with sendKeepalives: false is refused, naming it; no idleCloseMs is accepted', () => {
    for (const bad of ['no', 0, null]) {
      const error = catchError(() => definePeerConfig({ sendKeepalives: bad as never }));
      expect(error).toBeInstanceOf(KeepaliveOptionError);
      expect(error).toMatchObject({ option: 'sendKeepalives', value: bad });
    }
    const error = catchError(() => definePeerConfig({ sendKeepalives: false, idlePingIntervalMs: 60_000 }));
    expect(error).toMatchObject({ option: 'idlePingIntervalMs', value: 60_000 });
    expect((error as Error).message).toMatch(/sendKeepalives is false/);
    // Without an idle policy nothing is ever due: dead peers are the transport's to report.
    const quiet = createPeerState(definePeerConfig({ sendKeepalives: false }), 0, 0.5);
    expect(peerDeadline(quiet)).toBeNull();
  });

  test.prop(
    [
      fc.record({
        pingIntervalMs: fc.integer({ min: 1, max: 2_000 }),
        pongTimeoutMs: fc.integer({ min: 1, max: 2_000 }),
        idleCloseMs: fc.option(fc.integer({ min: 600, max: 5_000 }), { nil: null }),
        minPingIntervalMs: fc.integer({ min: 1, max: 500 }),
        maxPingStrikes: fc.integer({ min: 1, max: 4 }),
        terminateDeadPeers: fc.boolean(),
        keepaliveFrame: fc.constantFrom<'ping' | 'message'>('ping', 'message'),
      }),
      fc.double({ min: -1, max: 2, noNaN: true }),
      fc.array(
        fc.record({
          gap: fc.integer({ min: 0, max: 3_000 }),
          kind: fc.constantFrom<'pong' | 'heartbeat' | 'message' | 'ping' | 'wait' | 'closed'>('pong', 'heartbeat', 'message', 'ping', 'wait', 'closed'),
        }),
        { maxLength: 60 },
      ),
    ],
    { numRuns: 300 },
  )('B16: never probes ⇒ no ping command and no ping or pong deadline, for any options and any event sequence', (options, phase, steps) => {
    let state = createPeerState(definePeerConfig({ ...options, sendKeepalives: false }), 0, phase);
    let now = 0;
    const check = (commands: readonly PeerCommand[]): void => {
      for (const command of commands) {
        expect(command.type).not.toBe('ping');
        if (command.type === 'arm') expect(command.timer).toBe('idle');
      }
      expect(state.pingAt).toBeNull();
      expect(state.pongAt).toBeNull();
      expect(state.pingsSent).toBe(0);
    };
    for (const { gap, kind } of steps) {
      // Every deadline on the way fires (the idle check is the only one there can be).
      for (let guard = 0; guard < 100; guard++) {
        const due = peerDeadline(state);
        if (due === null || due > now + gap) break;
        const [next, commands] = peerTransition(state, { type: 'timeout', now: due });
        state = next;
        check(commands);
      }
      now += gap;
      const event: PeerEvent = kind === 'wait' ? { type: 'timeout', now } : kind === 'closed' ? { type: 'closed', now } : { type: 'inbound', kind, now };
      const [next, commands] = peerTransition(state, event);
      state = next;
      check(commands);
    }
  });
});
