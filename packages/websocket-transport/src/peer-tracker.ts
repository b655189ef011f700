import {
  KeepaliveOptionError,
  createPeerState,
  definePeerConfig,
  type Diagnostic,
  type InboundKind,
  type PeerConfig,
  type PeerOptions,
  type PeerState,
} from '@keepalive/core';
import { defaultScheduler, type Scheduler } from '@keepalive/node-timers';
import type { Peer} from './tracked-peer.js';
import { ADOPT, SocketPeer, type PeerHost } from './tracked-peer.js';

/**
 * The runtime-neutral server side: tracks any number of connections on one
 * shared scheduler (no timer per socket), driving each through the core's
 * pure peer machine. The `ws` server integration, Bun's and Deno's are thin
 * layers over this.
 */

/**
 * What the tracker needs from a server-side socket. `ping` sends a
 * keep-alive (a protocol ping where the runtime can, a heartbeat message
 * where it cannot); `reply` answers a heartbeat message.
 */
export interface TrackedSocket {
  ping(): void;
  reply(): void;
  close(code: number, reason: string): void;
  terminate(): void;
}

/**
 * How precisely a tracker keeps its connections' deadlines: each may be served up to `share` × its own duration late
 * (a ping: `pingIntervalMs`; a pong deadline: `pongTimeoutMs`; an idle check: `idleCloseMs`), and at most `maxMs`
 * late; never before it. The shared scheduler then serves every connection due by then in one wake, so its wake
 * rate follows the number of connections and the interval (at most about one wake per slack while busy), not the
 * clock; a quiet scheduler still serves each deadline at once. See {@link peerSlack}.
 */
export interface TrackerPrecision {
  /** A share of the deadline's duration, from 0 (every deadline to the millisecond) to 1. Default 1/16. */
  readonly share?: number | undefined;
  /** The most a deadline may be served late, in milliseconds. Default 1,000. */
  readonly maxMs?: number | undefined;
}

/**
 * The default {@link TrackerPrecision}: 1/16 of each deadline's duration, at most 1 s. A 1 s heartbeat with a 1 s pong
 * timeout is served within 62 ms of each deadline; the default 30 s heartbeat within 1 s, its 10 s pong timeout within
 * 625 ms, so a dead peer is detected within interval + timeout + 625 ms.
 */
export const TRACKER_PRECISION: { readonly share: number; readonly maxMs: number } = Object.freeze({ share: 1 / 16, maxMs: 1_000 });

/** How late a tracker may serve each kind of a connection's deadline, in milliseconds ({@link peerSlack}). */
export interface PeerSlack {
  /** The next ping: `share` × `pingIntervalMs`. */
  readonly ping: number;
  /** Proof of life due after a ping: `share` × `pongTimeoutMs`. */
  readonly pong: number;
  /** The idle check: `share` × `idleCloseMs` (0 when idle close is off). */
  readonly idle: number;
}

/**
 * The slack a tracker gives each kind of deadline of its connections, in milliseconds (see {@link TrackerPrecision}):
 * `share` × the deadline's own duration, at most `maxMs`. When several deadlines fall at once, the smallest applies.
 * The scheduler rounds each down to five leading bits.
 */
export function peerSlack(config: PeerConfig, precision: TrackerPrecision = TRACKER_PRECISION): PeerSlack {
  const share = precision.share ?? TRACKER_PRECISION.share;
  const maxMs = precision.maxMs ?? TRACKER_PRECISION.maxMs;
  const of = (duration: number | null): number => (duration === null ? 0 : Math.min(maxMs, duration * share));
  return Object.freeze({ ping: of(config.pingIntervalMs), pong: of(config.pongTimeoutMs), idle: of(config.idleCloseMs) });
}

function checkPrecision(value: unknown): TrackerPrecision {
  if (value === undefined) return TRACKER_PRECISION;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KeepaliveOptionError('precision', value, 'an object { share, maxMs }');
  }
  const { share, maxMs, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new KeepaliveOptionError(`precision.${unknown}`, rest[unknown], 'share or maxMs only');
  if (share !== undefined && (typeof share !== 'number' || !(share >= 0 && share <= 1))) {
    throw new KeepaliveOptionError('precision.share', share, 'a number from 0 to 1');
  }
  if (maxMs !== undefined && (typeof maxMs !== 'number' || !(maxMs >= 0 && Number.isFinite(maxMs)))) {
    throw new KeepaliveOptionError('precision.maxMs', maxMs, 'a number of milliseconds, 0 or more');
  }
  return { share: share ?? TRACKER_PRECISION.share, maxMs: maxMs ?? TRACKER_PRECISION.maxMs };
}

/**
 * Options of a {@link PeerTracker}: the core's peer options plus the driver's.
 */
export interface PeerTrackerOptions extends PeerOptions {
  /** The scheduler; default: the process-wide one from @keepalive/node-timers. */
  readonly scheduler?: Scheduler | undefined;
  /**
   * How precisely the connections' deadlines are kept (see {@link TrackerPrecision}); default
   * {@link TRACKER_PRECISION}: 1/16 of each deadline's duration, at most 1 s. `{ share: 0 }` keeps every deadline to
   * the millisecond (one wake per distinct deadline).
   */
  readonly precision?: TrackerPrecision | undefined;
  /** Called with every diagnostic (counts and durations only). */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
  /**
   * Where in the interval each connection's pings fall:
   * - `'arrival'` (the default): one whole interval after the connection opened, then every interval. A sweep of due
   *   pings then reaches the connections in the order they opened, the order their sockets' and objects' memory was
   *   allocated in: at 5,000 idle `ws` connections and a 1 s heartbeat this cost about a fifth less server CPU than
   *   random phases (bench scenario 11). Connections that open in one burst are pinged in one burst, which the
   *   scheduler serves in passes of at most `passBudgetMs` (1 ms by default), never one long stall.
   * - `'random'`: a random phase within the first interval (from `random`), so connections that open together are
   *   pinged apart.
   *
   * Default `'arrival'`, or `'random'` when `random` is given.
   */
  readonly pingPhase?: 'arrival' | 'random' | undefined;
  /** Source of the phases of `pingPhase: 'random'`, in [0, 1); default `Math.random`. */
  readonly random?: (() => number) | undefined;
}

/**
 * Counters over every connection a tracker has seen.
 */
export interface TrackerStats {
  /** Connections tracked now. */
  readonly tracked: number;
  readonly pingsSent: number;
  readonly heartbeatsAnswered: number;
  readonly deadPeers: number;
  readonly idleClosed: number;
  readonly floodClosed: number;
  readonly malformedHeartbeats: number;
  /** Exceptions thrown by a socket or a hook, caught and counted. */
  readonly handlerErrors: number;
}

/**
 * Why a tracker closed a connection: no proof of life in time (B5), silent past `idleCloseMs`, or a ping flood (B8).
 */
export type TrackerCloseReason = 'dead_peer' | 'idle_timeout' | 'ping_flood';

/**
 * Watches what a tracker's connections do, for metrics (see {@link PeerTracker.observe}). Called synchronously after
 * the step that did it; what it throws is caught and counted as a handler error. Counts and durations only: nothing
 * that names a connection.
 */
export interface TrackerObserver {
  /**
   * A connection answered a keep-alive; `state` is its peer state after the answer (read it, do not keep it: it is
   * updated in place), and `sampled` whether the answer was timed: `state.rttLatestUs` is then the new sample, in
   * microseconds (`roundTripTime(state)` of `@keepalive/core` reads the whole estimate in milliseconds). An answer
   * while two keep-alives were outstanding is counted, not timed.
   */
  answered?(state: PeerState, sampled: boolean): void;
  /** The tracker closed a connection for `reason`; `silentMs` is how long the peer had not been heard from then. */
  closed?(reason: TrackerCloseReason, silentMs: number): void;
}

/**
 * One tracked connection: report what the peer sent and when it closed.
 */
export interface TrackedPeer {
  inbound(kind: InboundKind): void;
  /** Counts a message that looked like a heartbeat but was not one (ignored). */
  malformedHeartbeat(): void;
  /** The connection closed: the tracker forgets it (its state ends `closed`). */
  disconnected(): void;
  /**
   * The peer's state: one object per connection, updated in place by the tracker (read it, do not keep it as a
   * snapshot). Its round-trip fields read with `roundTripTime(peer.state)` (from `@keepalive/core`) as the
   * connection's round-trip time, measured by the server's answered keep-alives (whole milliseconds, as the tracker
   * keeps time).
   */
  readonly state: PeerState;
}

type MutableStats = { -readonly [K in keyof TrackerStats]: TrackerStats[K] };

/**
 * Tracks server-side connections on one shared scheduler.
 */
export class PeerTracker {
  /** The validated peer configuration, shared by every connection. */
  readonly config: PeerConfig;
  /** The scheduler every connection runs on. */
  readonly scheduler: Scheduler;
  /** How late after its deadlines a connection may be served, in milliseconds ({@link peerSlack} of the config). */
  readonly slack: PeerSlack;
  private readonly host: PeerHost;
  /** The phases' source, `null` for arrival order (see {@link PeerTrackerOptions.pingPhase}). */
  private readonly random: (() => number) | null;
  private readonly counters: MutableStats = {
    tracked: 0,
    pingsSent: 0,
    heartbeatsAnswered: 0,
    deadPeers: 0,
    idleClosed: 0,
    floodClosed: 0,
    malformedHeartbeats: 0,
    handlerErrors: 0,
  };

  constructor(options: PeerTrackerOptions = {}) {
    const { scheduler, onDiagnostic, random, precision, pingPhase, ...peer } = options;
    this.config = definePeerConfig(peer);
    this.slack = peerSlack(this.config, checkPrecision(precision));
    this.scheduler = scheduler ?? defaultScheduler();
    if (random !== undefined && typeof random !== 'function') throw new KeepaliveOptionError('random', random, 'a function returning a number in [0, 1)');
    const phases: unknown = pingPhase ?? (random === undefined ? 'arrival' : 'random');
    if (phases === 'arrival') {
      if (random !== undefined) throw new KeepaliveOptionError('random', random, "nothing with pingPhase: 'arrival' (the phases follow the connections' order)");
      this.random = null;
    } else if (phases === 'random') {
      this.random = random ?? Math.random;
    } else {
      throw new KeepaliveOptionError('pingPhase', phases, "'arrival' or 'random'");
    }
    const counters = this.counters;
    this.host = {
      scheduler: this.scheduler,
      slack: this.slack,
      scratch: [],
      timeoutEvent: { type: 'timeout', now: 0 },
      inboundEvent: { type: 'inbound', kind: 'pong', now: 0 },
      first: null,
      size: 0,
      observers: [],
      count: (counter) => {
        counters[counter]++;
      },
      execute: (socket, command) => {
        // Carries out one command; nothing thrown by a socket or a hook escapes.
        try {
          switch (command.type) {
            case 'ping':
              counters.pingsSent++;
              socket.ping();
              return;
            case 'reply':
              counters.heartbeatsAnswered++;
              socket.reply();
              return;
            case 'close':
              if (command.reason === 'dead_peer') counters.deadPeers++;
              else if (command.reason === 'idle_timeout') counters.idleClosed++;
              else counters.floodClosed++;
              if (command.terminate) socket.terminate();
              else socket.close(command.code, command.text ?? command.reason);
              return;
            case 'diagnostic':
              onDiagnostic?.(command);
              return;
            default:
              return;
          }
        } catch {
          counters.handlerErrors++;
        }
      },
    };
  }

  /** Starts tracking a connection. */
  track(socket: TrackedSocket): TrackedPeer {
    return this[ADOPT](new SocketPeer(socket));
  }

  /** @internal Starts tracking a peer object made by this package's integrations (a connection that is its own peer). */
  [ADOPT]<P extends Peer>(peer: P): P {
    // Arrival order: the first ping one whole interval after opening (phase 1).
    let phase = 1;
    if (this.random !== null) {
      try {
        phase = this.random();
      } catch {
        phase = 0;
        this.counters.handlerErrors++;
      }
    }
    // Times in whole milliseconds (see Peer): small integers, which V8 stores without a heap number.
    peer.start(this.host, createPeerState(this.config, Math.floor(this.scheduler.now()), phase));
    return peer;
  }

  /** Connections tracked now. */
  get size(): number {
    return this.host.size;
  }

  /** Counters over every connection seen. */
  stats(): TrackerStats {
    return { ...this.counters, tracked: this.host.size };
  }

  /**
   * Adds an observer of keep-alive answers and of the closes the tracker decides (for metrics); returns the function
   * that removes it. Without observers a step pays one array-length read.
   */
  observe(observer: TrackerObserver): () => void {
    const observers = this.host.observers;
    observers.push(observer);
    return () => {
      const index = observers.indexOf(observer);
      if (index !== -1) observers.splice(index, 1);
    };
  }

  /** Counts an exception a transport integration caught in one of its handlers. */
  reportHandlerError(): void {
    this.counters.handlerErrors++;
  }

  /** Every connection tracked now, oldest first (a copy: safe to untrack while walking it). */
  peers(): TrackedPeer[] {
    const list: Peer[] = [];
    for (let peer = this.host.first; peer !== null; peer = peer.nextPeer) list.push(peer);
    return list;
  }

  /** Stops tracking every connection (their sockets stay open). */
  close(): void {
    for (const peer of this.peers()) peer.disconnected();
  }
}

