import {
  createPeerState,
  definePeerConfig,
  peerDeadline,
  peerStep,
  type Diagnostic,
  type InboundKind,
  type PeerCommand,
  type PeerConfig,
  type PeerOptions,
  type PeerState,
} from '@keepalive/core';
import { defaultScheduler, type ScheduledEntry, type Scheduler } from '@keepalive/node-timers';

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
  closed(): void;
  readonly state: PeerState;
}

type MutableStats = { -readonly [K in keyof TrackerStats]: TrackerStats[K] };
type Counter = keyof Omit<TrackerStats, 'tracked'>;

/** What a peer needs from its tracker (kept off the tracker's public surface). */
interface PeerHost {
  readonly scheduler: Scheduler;
  readonly scratch: PeerCommand[];
  count(counter: Counter): void;
  forget(peer: Peer): void;
  execute(socket: TrackedSocket, command: PeerCommand): void;
}

class Peer implements TrackedPeer {
  state: PeerState;
  private readonly entry: ScheduledEntry;
  private forgotten = false;

  constructor(
    private readonly host: PeerHost,
    private readonly socket: TrackedSocket,
    state: PeerState,
  ) {
    this.state = state;
    // The peer is its own wake target: no closure per connection.
    this.entry = host.scheduler.entry(this);
    this.entry.schedule(peerDeadline(state));
  }

  /** Called by the scheduler when this peer's earliest deadline is due. */
  wake(now: number): void {
    this.apply(now, null);
  }

  inbound(kind: InboundKind): void {
    this.apply(this.host.scheduler.now(), kind);
  }

  malformedHeartbeat(): void {
    this.host.count('malformedHeartbeats');
    this.inbound('message');
  }

  closed(): void {
    if (this.forgotten) return;
    this.forget();
    // A close can arrive while this peer's own commands run: use a private buffer.
    this.state = peerStep(this.state, { type: 'closed', now: this.host.scheduler.now() }, []);
  }

  private apply(now: number, kind: InboundKind | null): void {
    if (this.forgotten) return;
    const out = this.host.scratch;
    const start = out.length;
    this.state = peerStep(this.state, kind === null ? { type: 'timeout', now } : { type: 'inbound', kind, now }, out);
    for (let i = start; i < out.length; i++) this.host.execute(this.socket, out[i] as PeerCommand);
    out.length = start;
    if (this.state.closed) this.forget();
    else this.entry.schedule(peerDeadline(this.state));
  }

  private forget(): void {
    this.forgotten = true;
    this.entry.dispose();
    this.host.forget(this);
  }
}

/**
 * Tracks server-side connections on one shared scheduler.
 */
export class PeerTracker {
  /** The validated peer configuration, shared by every connection. */
  readonly config: PeerConfig;
  /** The scheduler every connection runs on. */
  readonly scheduler: Scheduler;
  private readonly peers = new Set<Peer>();
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
    const peers = this.peers;
    this.host = {
      scheduler: this.scheduler,
      scratch: [],
      count: (counter) => {
        counters[counter]++;
      },
      forget: (p) => {
        peers.delete(p);
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
              else socket.close(command.code, command.reason);
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
    let phase = 0;
    try {
      phase = this.random();
    } catch {
      this.counters.handlerErrors++;
    }
    const peer = new Peer(this.host, socket, createPeerState(this.config, this.scheduler.now(), phase));
    this.peers.add(peer);
    return peer;
  }

  /** Connections tracked now. */
  get size(): number {
    return this.peers.size;
  }

  /** Counters over every connection seen. */
  stats(): TrackerStats {
    return { ...this.counters, tracked: this.peers.size };
  }

  /** Counts an exception a transport integration caught in one of its handlers. */
  reportHandlerError(): void {
    this.counters.handlerErrors++;
  }

  /** Stops tracking every connection (their sockets stay open). */
  close(): void {
    for (const peer of [...this.peers]) peer.closed();
  }
}
