import {
  clearCommands,
  peerDeadline,
  peerStepInPlace,
  type InboundKind,
  type MutablePeerState,
  type PeerCommand,
  type PeerConfig,
  type PeerState,
  type PeerStepOptions,
  type PingPolicyState,
} from '@keepalive/core';
import { ScheduledNode, type ScheduledEntry, type Scheduler } from '@keepalive/node-timers';
import type { PeerSlack, TrackedPeer, TrackedSocket, TrackerObserver, TrackerStats } from './peer-tracker.js';

/**
 * One tracked connection in one object, as the tracker drives it: the peer
 * state's fields are its own (updated in place by the core's
 * `peerStepInPlace`), it is its own scheduler entry (a `ScheduledNode`), and
 * it holds the links of the tracker's list of connections (no Set). The
 * server connection (`server-connection.ts`) subclasses it so that the
 * connection every adapter translates to is the peer too. Not exported from
 * the package.
 */

/** The tracker's method that starts a peer made by an integration (kept off the public surface). */
export const ADOPT = Symbol('keepalive.adopt');

type Counter = keyof Omit<TrackerStats, 'tracked'>;

/** What a peer needs from its tracker. */
export interface PeerHost {
  readonly scheduler: Scheduler;
  /** How late after each kind of deadline a peer may be woken, in milliseconds (the tracker's precision). */
  readonly slack: PeerSlack;
  readonly scratch: PeerCommand[];
  /** Reused event objects (the core reads an event and keeps nothing of it). */
  readonly timeoutEvent: { type: 'timeout'; now: number };
  readonly inboundEvent: { type: 'inbound'; kind: InboundKind; now: number };
  /** The tracker's list of connections, newest first, and its length. */
  first: Peer | null;
  size: number;
  count(counter: Counter): void;
  execute(socket: TrackedSocket, command: PeerCommand): void;
  /** The tracker's observers (usually none: then a step reads this array's length and nothing else). */
  readonly observers: TrackerObserver[];
}

/** The tracker re-schedules at peerDeadline after every event: no arm or cancel commands. */
const DRIVER: PeerStepOptions = Object.freeze({ timerCommands: false });

export class Peer extends ScheduledNode implements TrackedPeer, MutablePeerState {
  // The peer state (the fields of the core's PeerState), this object's own: set by `start`.
  config!: PeerConfig;
  pingAt: number | null = null;
  pongAt: number | null = null;
  idleAt: number | null = null;
  lastTrafficAt = 0;
  flood!: PingPolicyState;
  pingsSent = 0;
  quietPings = 0;
  heartbeatsOwed = 0;
  closed = false;
  rttLatestUs = 0;
  rttSmoothedUs8 = 0;
  rttVariationUs4 = 0;
  rttMinUs = 0;
  rttSamples = 0;
  keepalivesAnswered = 0;
  keepaliveSentAt: number | null = null;
  keepalivesOutstanding = 0;
  heardAt = 0;

  /** The tracker's, until the tracker forgets this peer (`null` before it started and once forgotten). */
  private host: PeerHost | null = null;
  /** Links in the tracker's list. */
  nextPeer: Peer | null = null;
  private previousPeer: Peer | null = null;

  /** What the peer's commands are carried out on: this object (a subclass that is its own socket adapter), or {@link SocketPeer}'s socket. */
  protected driven(): TrackedSocket {
    return this as unknown as TrackedSocket;
  }

  /** This peer's scheduler entry: itself on the shared scheduler, which adopts it; a separate entry on another. */
  private entry(): ScheduledEntry | undefined {
    return this.owner !== null ? this : FOREIGN_ENTRIES.get(this);
  }

  /** Called once by the tracker, with a fresh state from createPeerState whose fields this peer takes. */
  start(host: PeerHost, state: PeerState): void {
    this.host = host;
    this.config = state.config;
    this.pingAt = state.pingAt;
    this.pongAt = state.pongAt;
    this.idleAt = state.idleAt;
    this.lastTrafficAt = state.lastTrafficAt;
    this.flood = state.flood;
    this.pingsSent = state.pingsSent;
    this.quietPings = state.quietPings;
    this.heartbeatsOwed = state.heartbeatsOwed;
    this.closed = state.closed;
    this.rttLatestUs = state.rttLatestUs;
    this.rttSmoothedUs8 = state.rttSmoothedUs8;
    this.rttVariationUs4 = state.rttVariationUs4;
    this.rttMinUs = state.rttMinUs;
    this.rttSamples = state.rttSamples;
    this.keepalivesAnswered = state.keepalivesAnswered;
    this.keepaliveSentAt = state.keepaliveSentAt;
    this.keepalivesOutstanding = state.keepalivesOutstanding;
    this.heardAt = state.heardAt;
    const first = host.first;
    this.nextPeer = first;
    if (first !== null) first.previousPeer = this;
    host.first = this;
    host.size++;
    // The shared scheduler adopts this object as its entry: no entry object, no closure per connection.
    const entry = host.scheduler.entry(this);
    if (entry !== this) FOREIGN_ENTRIES.set(this, entry);
    this.reschedule(host);
  }

  /** Schedules the earliest deadline with its slack (the smallest of the deadlines due then). */
  private reschedule(host: PeerHost): void {
    const deadline = peerDeadline(this);
    const slack = host.slack;
    let ms = 0;
    if (deadline !== null) {
      ms = deadline === this.pingAt ? slack.ping : Number.POSITIVE_INFINITY;
      if (deadline === this.pongAt && slack.pong < ms) ms = slack.pong;
      if (deadline === this.idleAt && slack.idle < ms) ms = slack.idle;
    }
    this.entry()?.schedule(deadline, ms);
  }

  /** The peer state: this object (its fields are the state's). */
  get state(): PeerState {
    return this;
  }

  /**
   * Called by the scheduler when this peer's earliest deadline is due. The peer's times are whole milliseconds (the
   * clock read rounded down; its deadlines, computed from such times and whole-millisecond durations, are whole too,
   * so a rounded-down fire time is still at or past them): small integers, which V8 keeps in the fields as they are,
   * where a fractional time would be a new heap number on every write of a nullable field (two or three per ping).
   */
  wake(now: number): void {
    const host = this.host;
    if (host === null) return;
    const event = host.timeoutEvent;
    event.now = Math.floor(now);
    this.apply(host, event);
  }

  inbound(kind: InboundKind): void {
    const host = this.host;
    if (host === null) return;
    const event = host.inboundEvent;
    event.kind = kind;
    event.now = Math.floor(host.scheduler.now());
    this.apply(host, event);
  }

  malformedHeartbeat(): void {
    // A peer the tracker forgot (its socket closed, or the tracker stopped) counts nothing.
    if (this.host === null) return;
    this.host.count('malformedHeartbeats');
    this.inbound('message');
  }

  disconnected(): void {
    const host = this.host;
    if (host === null) return;
    this.forget(host);
    // A close can arrive while this peer's own commands run: use a private buffer.
    peerStepInPlace(this, { type: 'closed', now: Math.floor(host.scheduler.now()) }, [], DRIVER);
  }

  private apply(host: PeerHost, event: PeerHost['timeoutEvent'] | PeerHost['inboundEvent']): void {
    const out = host.scratch;
    const start = out.length;
    // Read for the observers only (none: one length check): answers and samples before the step, the last word heard.
    const observed = host.observers.length !== 0;
    const answered = this.keepalivesAnswered;
    const samples = this.rttSamples;
    const heardAt = this.heardAt;
    peerStepInPlace(this, event, out, DRIVER);
    const socket = this.driven();
    for (let i = start; i < out.length; i++) host.execute(socket, out[i] as PeerCommand);
    if (observed) this.observe(host, answered, samples, heardAt, event.now, out, start);
    clearCommands(out, start);
    if (this.closed) this.forget(host);
    else this.reschedule(host);
  }

  /** Tells the observers what the step did: a keep-alive answered, the tracker closing the peer. */
  private observe(host: PeerHost, answered: number, samples: number, heardAt: number, now: number, out: readonly PeerCommand[], start: number): void {
    const wasAnswered = this.keepalivesAnswered !== answered;
    const observers = host.observers;
    // Walked backwards: an observer that removes itself does not make the walk skip another.
    for (let o = observers.length - 1; o >= 0; o--) {
      const observer = observers[o];
      if (observer === undefined) continue;
      try {
        if (wasAnswered) observer.answered?.(this, this.rttSamples !== samples);
        for (let i = start; i < out.length; i++) {
          const command = out[i] as PeerCommand;
          if (command.type === 'close') observer.closed?.(closeReason(command.reason), Math.max(0, now - heardAt));
        }
      } catch {
        host.count('handlerErrors');
      }
    }
  }

  private forget(host: PeerHost): void {
    if (this.host === null) return;
    this.entry()?.dispose();
    FOREIGN_ENTRIES.delete(this);
    this.host = null;
    const previous = this.previousPeer;
    const next = this.nextPeer;
    if (previous === null) host.first = next;
    else previous.nextPeer = next;
    if (next !== null) next.previousPeer = previous;
    this.previousPeer = null;
    this.nextPeer = null;
    host.size--;
  }
}

/** A peer of {@link PeerTracker.track}: its commands are carried out on the socket it was given. */
export class SocketPeer extends Peer {
  constructor(private readonly socket: TrackedSocket) {
    super();
  }

  protected override driven(): TrackedSocket {
    return this.socket;
  }
}

/** The entries of peers on a scheduler that does not adopt them as its entries (not the shared one): rare. */
const FOREIGN_ENTRIES = new WeakMap<Peer, ScheduledEntry>();

/** The reason of a close the peer machine asked for, as an observer sees it. */
function closeReason(reason: string): 'dead_peer' | 'idle_timeout' | 'ping_flood' {
  return reason === 'dead_peer' || reason === 'idle_timeout' ? reason : 'ping_flood';
}
