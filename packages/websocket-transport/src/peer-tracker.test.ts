import { describe, expect, it } from 'vitest';
import { definePeerConfig, roundTripTime } from '@keepalive/core';
import { createScheduler, type Platform, type TimerHandle } from '@keepalive/node-timers';
import { PeerTracker, TRACKER_PRECISION, peerSlack, type TrackedSocket } from './peer-tracker.js';

/**
 * The tracker's precision: each connection's deadlines are kept within a slack the tracker derives from the peer's
 * own durations (`precision`), so the shared scheduler serves the connections due close together in one wake.
 * Simulated time only (an injected platform that counts the OS timer's wakes).
 */

class CountingPlatform implements Platform {
  time = 0;
  wakes = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + delayMs, fn });
    return id;
  }
  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }
  unref(): void {
    // Nothing to hold.
  }
  advance(to: number): void {
    for (;;) {
      let first: [number, { at: number; fn: () => void }] | undefined;
      for (const item of this.timers) if (item[1].at <= to && (first === undefined || item[1].at < first[1].at)) first = item;
      if (first === undefined) break;
      this.timers.delete(first[0]);
      this.time = Math.max(this.time, first[1].at);
      this.wakes++;
      first[1].fn();
    }
    this.time = Math.max(this.time, to);
  }
}

/** A socket whose client answers every ping at once (through `answer`), unless it is dead. */
interface Holder {
  socket: TrackedSocket;
  dead: boolean;
  terminatedAt?: number;
  peer?: { inbound(kind: 'pong'): void };
}
function socketOf(log: { pings: number[]; terminated: number }, now: () => number, answer: (pong: () => void) => void): Holder {
  const holder: Holder = {
    dead: false,
    socket: {
      ping: () => {
        log.pings.push(now());
        if (!holder.dead) answer(() => holder.peer?.inbound('pong'));
      },
      reply: () => undefined,
      close: () => undefined,
      terminate: () => {
        log.terminated++;
        holder.terminatedAt = now();
      },
    },
  };
  return holder;
}

describe('PeerTracker precision', () => {
  it('the default rule: 1/16 of each deadline\'s own duration (interval, pong timeout, idle close), at most 1 s', () => {
    expect(TRACKER_PRECISION).toEqual({ share: 1 / 16, maxMs: 1_000 });
    expect(peerSlack(definePeerConfig({ pingIntervalMs: 1_000, pongTimeoutMs: 1_000 }))).toEqual({ ping: 62.5, pong: 62.5, idle: 0 });
    expect(peerSlack(definePeerConfig({}))).toEqual({ ping: 1_000, pong: 625, idle: 0 });
    expect(peerSlack(definePeerConfig({ pingIntervalMs: 30_000, pongTimeoutMs: 10_000, idleCloseMs: 6_400 }))).toEqual({ ping: 1_000, pong: 625, idle: 400 });
    expect(peerSlack(definePeerConfig({ pingIntervalMs: 1_000, pongTimeoutMs: 1_000 }), { share: 0 })).toEqual({ ping: 0, pong: 0, idle: 0 });
    expect(peerSlack(definePeerConfig({}), { maxMs: 100 })).toEqual({ ping: 100, pong: 100, idle: 0 });
    expect(new PeerTracker({ scheduler: createScheduler({ platform: new CountingPlatform() }) }).slack).toEqual({ ping: 1_000, pong: 625, idle: 0 });
    expect(new PeerTracker({ scheduler: createScheduler({ platform: new CountingPlatform() }), precision: { share: 1 / 32 } }).slack.pong).toBe(312.5);
  });

  it('a bad precision throws naming the option', () => {
    const scheduler = createScheduler({ platform: new CountingPlatform() });
    for (const [precision, name] of [
      [5, /precision\b/],
      [null, /precision\b/],
      [{ share: 2 }, /precision\.share/],
      [{ share: -0.1 }, /precision\.share/],
      [{ share: '1' }, /precision\.share/],
      [{ maxMs: -1 }, /precision\.maxMs/],
      [{ maxMs: Number.POSITIVE_INFINITY }, /precision\.maxMs/],
      [{ slack: 3 }, /precision\.slack/],
    ] as const) {
      expect(() => new PeerTracker({ scheduler, precision: precision as never })).toThrow(name);
    }
  });

  it('5,000 connections at a 1 s heartbeat: at most one wake per 62 ms, every ping within 62 ms of its deadline, never before (exact: about one wake per ms)', () => {
    for (const [precision, bound] of [
      // 62.5 ms of slack, rounded down to five leading bits: 62.
      [undefined, (ms: number) => ms / 62 + 1],
      [{ share: 0 }, null],
    ] as const) {
      const platform = new CountingPlatform();
      const scheduler = createScheduler({ platform });
      let seed = 7;
      const tracker = new PeerTracker({
        scheduler,
        pingIntervalMs: 1_000,
        pongTimeoutMs: 1_000,
        idlePingIntervalMs: 1_000,
        precision,
        // A deterministic spread of phases.
        random: () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647,
      });
      const log = { pings: [] as number[], terminated: 0 };
      for (let i = 0; i < 5_000; i++) {
        const holder = socketOf(log, () => platform.time, (pong) => pong());
        holder.peer = tracker.track(holder.socket);
      }
      platform.advance(10_000);
      // Every connection pinged once per interval (about 50,000 pings), none dead.
      expect(log.pings.length).toBeGreaterThanOrEqual(45_000);
      expect(log.terminated).toBe(0);
      if (bound === null) {
        expect(platform.wakes).toBeGreaterThan(9_000);
      } else {
        expect(platform.wakes).toBeLessThanOrEqual(bound(10_000));
      }
      tracker.close();
      expect(scheduler.size).toBe(0);
    }
  });

  it('pings land within the slack of their deadlines, never early, and a dead peer is terminated within interval + timeout + slack', () => {
    const platform = new CountingPlatform();
    const scheduler = createScheduler({ platform });
    const tracker = new PeerTracker({ scheduler, pingIntervalMs: 1_000, pongTimeoutMs: 1_000, idlePingIntervalMs: 1_000, random: () => 0.5 });
    const slack = tracker.slack.ping;
    expect(slack).toBe(62.5);
    const holders = Array.from({ length: 200 }, (_, i) => {
      platform.advance(platform.time + 3.7 + (i % 3));
      const log = { pings: [] as number[], terminated: 0 };
      const holder = socketOf(log, () => platform.time, (pong) => pong());
      const peer = tracker.track(holder.socket);
      holder.peer = peer;
      return { holder, log, peer, first: peer.state.pingAt! };
    });
    platform.advance(5_000);
    for (const { log, first } of holders) {
      expect(log.pings.length).toBeGreaterThanOrEqual(3);
      log.pings.forEach((at, k) => {
        const deadline = first + k * 1_000;
        expect(at).toBeGreaterThanOrEqual(deadline);
        expect(at).toBeLessThanOrEqual(deadline + slack + 1);
      });
    }
    // One peer dies: the next ping goes unanswered.
    const victim = holders[17]!;
    victim.holder.dead = true;
    const diedAt = platform.time;
    platform.advance(10_000);
    expect(victim.log.terminated).toBe(1);
    expect(tracker.size).toBe(199);
    const lastPing = victim.log.pings.at(-1)!;
    expect(lastPing - diedAt).toBeLessThanOrEqual(1_000 + slack + 1);
    expect(victim.holder.terminatedAt! - lastPing).toBeLessThanOrEqual(1_000 + tracker.slack.pong + 1);
    expect(tracker.stats().deadPeers).toBe(1);
    tracker.close();
  });

  it("B3: by default each connection is pinged one whole interval after it opened, so a sweep reaches them in the order they opened", () => {
    const platform = new CountingPlatform();
    const scheduler = createScheduler({ platform });
    const tracker = new PeerTracker({ scheduler, pingIntervalMs: 1_000, pongTimeoutMs: 1_000, idlePingIntervalMs: 1_000 });
    const order: number[] = [];
    const opened: number[] = [];
    const logs = [0, 3, 7, 12, 12, 40].map((at, index) => {
      platform.advance(at);
      opened.push(platform.time);
      const log = { pings: [] as number[], terminated: 0 };
      const holder = socketOf(log, () => platform.time, (pong) => pong());
      const inner = holder.socket;
      holder.socket = {
        ...inner,
        ping: () => {
          order.push(index);
          inner.ping();
        },
      };
      holder.peer = tracker.track(holder.socket);
      return log;
    });
    platform.advance(3_100);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
    logs.forEach((log, i) => {
      log.pings.forEach((at, k) => {
        const deadline = opened[i]! + (k + 1) * 1_000;
        expect(at).toBeGreaterThanOrEqual(deadline);
        expect(at).toBeLessThanOrEqual(deadline + tracker.slack.ping);
      });
    });
    tracker.close();
  });

  it("B3: pingPhase 'random' spreads connections opened together; bad phase options are refused by name", () => {
    const platform = new CountingPlatform();
    let seed = 7;
    const tracker = new PeerTracker({
      scheduler: createScheduler({ platform }),
      pingIntervalMs: 1_000,
      pingPhase: 'random',
      random: () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647,
    });
    const firstPings = Array.from({ length: 50 }, () => tracker.track(socketOf({ pings: [], terminated: 0 }, () => 0, () => undefined).socket).state.pingAt!);
    expect(Math.max(...firstPings) - Math.min(...firstPings)).toBeGreaterThan(500);
    tracker.close();
    const arrival = new PeerTracker({ scheduler: createScheduler({ platform }), pingIntervalMs: 1_000 });
    expect(arrival.track(socketOf({ pings: [], terminated: 0 }, () => 0, () => undefined).socket).state.pingAt).toBe(platform.time + 1_000);
    arrival.close();
    expect(() => new PeerTracker({ pingPhase: 'spread' as never })).toThrow(/pingPhase: "spread"/);
    expect(() => new PeerTracker({ pingPhase: 'arrival', random: Math.random })).toThrow(/Invalid option random/);
    expect(() => new PeerTracker({ random: 0.5 as never })).toThrow(/random: 0.5/);
  });

  it("a peer's times are whole milliseconds whatever the clock reads (no heap number per write)", () => {
    const platform = new CountingPlatform();
    platform.time = 1_000.375;
    const tracker = new PeerTracker({ scheduler: createScheduler({ platform }), pingIntervalMs: 1_000, pongTimeoutMs: 500, idleCloseMs: 60_000, random: () => 0.25 });
    const peer = tracker.track({ ping: () => undefined, reply: () => undefined, close: () => undefined, terminate: () => undefined });
    expect(peer.state.pingAt).toBe(1_250);
    expect(peer.state.lastTrafficAt).toBe(1_000);
    platform.advance(1_300.9);
    expect(peer.state.pingAt).toBe(2_250);
    expect(Number.isInteger(peer.state.pongAt)).toBe(true);
    expect(Number.isInteger(peer.state.lastTrafficAt)).toBe(true);
    platform.time = 1_400.6;
    peer.inbound('message');
    expect(peer.state.lastTrafficAt).toBe(1_400);
    expect(peer.state.pongAt).toBeNull();
    tracker.close();
  });
});

describe('the round-trip time of each connection, and the tracker observer (B5)', () => {
  it('B5: each answered ping is a sample on the peer (whole milliseconds); observers see every answer and every close the tracker decides, with the silence', () => {
    const platform = new CountingPlatform();
    const tracker = new PeerTracker({ scheduler: createScheduler({ platform }), pingIntervalMs: 1_000, idlePingIntervalMs: 1_000, pongTimeoutMs: 500, precision: { share: 0 }, random: () => 0.5 });
    const answers: { answered: number; sampled: boolean; latestMs: number | null }[] = [];
    const closes: { reason: string; silentMs: number }[] = [];
    tracker.observe({
      answered: (state, sampled) => answers.push({ answered: state.keepalivesAnswered, sampled, latestMs: roundTripTime(state).latestMs }),
      closed: (reason, silentMs) => closes.push({ reason, silentMs }),
    });
    // A throwing observer never stops the tracker: it is counted as a handler error.
    const offThrowing = tracker.observe({
      answered: () => {
        throw new Error('observer failed');
      },
    });
    let dead = false;
    let peer: { inbound(kind: 'pong' | 'message'): void } | null = null;
    peer = tracker.track({
      ping: () => {
        // The client answers 7 ms later, until it dies.
        if (!dead) setTimeout(() => peer?.inbound('pong'), 7);
      },
      reply: () => undefined,
      close: () => undefined,
      terminate: () => undefined,
    });
    const pending: { at: number; fn: () => void }[] = [];
    function setTimeout(fn: () => void, ms: number): void {
      pending.push({ at: platform.time + ms, fn });
    }
    const run = (to: number): void => {
      for (let t = platform.time; t <= to; t++) {
        platform.advance(t);
        for (const item of pending.splice(0)) {
          if (item.at <= t) item.fn();
          else pending.push(item);
        }
      }
    };
    peer.inbound('message');
    run(2_000);
    expect(answers.map(({ sampled, latestMs }) => [sampled, latestMs])).toEqual([
      [true, 7],
      [true, 7],
    ]);
    const [tracked] = tracker.peers();
    expect(tracked === undefined ? null : roundTripTime(tracked.state)).toEqual({ latestMs: 7, smoothedMs: 7, variationMs: 2.625, minMs: 7, samples: 2, answered: 2 });
    expect(tracker.stats().handlerErrors).toBe(2);
    offThrowing();
    // The client dies just after its last answer (at 1507): the ping at 2500 goes unanswered, the verdict comes at 3000.
    dead = true;
    run(3_100);
    expect(closes).toEqual([{ reason: 'dead_peer', silentMs: 3_000 - 1_507 }]);
    expect(tracker.stats()).toMatchObject({ deadPeers: 1, handlerErrors: 2 });
  });
});
