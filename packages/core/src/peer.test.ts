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
        if (delay !== null && delay === 0) this.apply({ type: 'inbound', kind: 'pong', now: due });
      }
    }
    this.now = to;
  }
}

describe('peer machine (server side)', () => {
  const config = definePeerConfig({ pingIntervalMs: 1_000, pongTimeoutMs: 300, idleCloseMs: 5_000, minPingIntervalMs: 500 });

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
      const sim = new PeerSim(definePeerConfig({ pingIntervalMs: interval, pongTimeoutMs: timeout }), 0, phase);
      sim.advance(diesAt + interval * 2 + timeout * 2, (at) => (at < diesAt ? 0 : null));
      expect(sim.closes).toHaveLength(1);
      expect(sim.closedAt! - diesAt).toBeLessThanOrEqual(interval + timeout);
    },
  );

  it('idle policy: a peer silent longer than idleCloseMs is closed with 4000; pongs do not count as speaking', () => {
    const sim = new PeerSim(config);
    sim.advance(4_000, () => 0);
    sim.apply({ type: 'inbound', kind: 'message', now: 4_000 });
    sim.advance(8_999, () => 0);
    expect(sim.closes).toEqual([]);
    sim.advance(9_000, () => 0);
    expect(sim.closes).toEqual([{ type: 'close', reason: 'idle_timeout', code: 4000, terminate: false }]);
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
    expect(sim.closes).toEqual([{ type: 'close', reason: 'ping_flood', code: 1008, terminate: false }]);
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
    const sim = new PeerSim(definePeerConfig({ pingIntervalMs: 1_000, terminateDeadPeers: false }));
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

  it('a pong that is not owed and a timeout with nothing due change nothing', () => {
    const peer = createPeerState(config, 0, 0.5);
    expect(peerTransition(peer, { type: 'inbound', kind: 'pong', now: 1 })[0]).toBe(peer);
    expect(peerTransition(peer, { type: 'timeout', now: 1 })[0]).toBe(peer);
    expect(createPeerState(config, 0, 7).pingAt).toBe(1);
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
});
