import { createPeerState, definePeerConfig, type Diagnostic, type InboundKind, type PeerConfig, type PeerOptions, type PeerState } from '@keepalive/core';
import { defaultScheduler, type Scheduler } from '@keepalive/node-timers';
import { ADOPT, Peer, type PeerHost } from './tracked-peer.js';

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
 * Options of a {@link PeerTracker}: the core's peer options plus the driver's.
 */
export interface PeerTrackerOptions extends PeerOptions {
  /** The scheduler; default: the process-wide one from @keepalive/node-timers. */
  readonly scheduler?: Scheduler | undefined;
  /** Called with every diagnostic (counts and durations only). */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
  /** Source of ping phases in [0, 1); default `Math.random`. */
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
 * One tracked connection: report what the peer sent and when it closed.
 */
export interface TrackedPeer {
  inbound(kind: InboundKind): void;
  /** Counts a message that looked like a heartbeat but was not one (ignored). */
  malformedHeartbeat(): void;
  /** The connection closed: the tracker forgets it (its state ends `closed`). */
  disconnected(): void;
  /** The peer's state: one object per connection, updated in place by the tracker (read it, do not keep it as a snapshot). */
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
  private readonly host: PeerHost;
  private readonly random: () => number;
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
    const { scheduler, onDiagnostic, random, ...peer } = options;
    this.config = definePeerConfig(peer);
    this.scheduler = scheduler ?? defaultScheduler();
    this.random = random ?? Math.random;
    const counters = this.counters;
    this.host = {
      scheduler: this.scheduler,
      scratch: [],
      timeoutEvent: { type: 'timeout', now: 0 },
      inboundEvent: { type: 'inbound', kind: 'pong', now: 0 },
      first: null,
      size: 0,
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
    return this[ADOPT](new Peer(socket));
  }

  /** @internal Starts tracking a peer object made by this package's integrations (a connection that is its own peer). */
  [ADOPT]<P extends Peer>(peer: P): P {
    let phase = 0;
    try {
      phase = this.random();
    } catch {
      this.counters.handlerErrors++;
    }
    peer.start(this.host, createPeerState(this.config, this.scheduler.now(), phase));
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
