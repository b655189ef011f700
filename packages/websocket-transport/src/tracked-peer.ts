import {
  clearCommands,
  peerDeadline,
  peerStepInPlace,
  type InboundKind,
  type MutablePeerState,
  type PeerCommand,
  type PeerState,
  type PeerStepOptions,
} from '@keepalive/core';
import type { ScheduledEntry, Scheduler } from '@keepalive/node-timers';
import type { TrackedPeer, TrackedSocket, TrackerStats } from './peer-tracker.js';

/**
 * One tracked connection, as the tracker drives it: the peer state (one
 * object, updated in place by the core's `peerStepInPlace`), the scheduler
 * entry whose wake target it is, and the links of the tracker's list of
 * connections (no Set). Integrations subclass it so that the socket adapter
 * is the peer too: one object per connection. Not exported from the package.
 */

/** The tracker's method that starts a peer made by an integration (kept off the public surface). */
export const ADOPT = Symbol('keepalive.adopt');

type Counter = keyof Omit<TrackerStats, 'tracked'>;

/** What a peer needs from its tracker. */
export interface PeerHost {
  readonly scheduler: Scheduler;
  readonly scratch: PeerCommand[];
  /** Reused event objects (the core reads an event and keeps nothing of it). */
  readonly timeoutEvent: { type: 'timeout'; now: number };
  readonly inboundEvent: { type: 'inbound'; kind: InboundKind; now: number };
  /** The tracker's list of connections, newest first, and its length. */
  first: Peer | null;
  size: number;
  count(counter: Counter): void;
  execute(socket: TrackedSocket, command: PeerCommand): void;
}

/** The tracker re-schedules at peerDeadline after every event: no arm or cancel commands. */
const DRIVER: PeerStepOptions = Object.freeze({ timerCommands: false });

export class Peer implements TrackedPeer {
  private host: PeerHost | null = null;
  private peerState: MutablePeerState | null = null;
  private entry: ScheduledEntry | null = null;
  private forgotten = false;
  /** Links in the tracker's list. */
  nextPeer: Peer | null = null;
  private previousPeer: Peer | null = null;
  private readonly socket: TrackedSocket;

  /** @param socket - the socket to drive; default: this object (a subclass that is its own socket adapter). */
  constructor(socket?: TrackedSocket) {
    this.socket = socket ?? (this as unknown as TrackedSocket);
  }

  /** Called once by the tracker. */
  start(host: PeerHost, state: PeerState): void {
    this.host = host;
    // A fresh object from createPeerState: this peer owns it from now on.
    this.peerState = state;
    const first = host.first;
    this.nextPeer = first;
    if (first !== null) first.previousPeer = this;
    host.first = this;
    host.size++;
    // The peer is its own wake target: no closure per connection.
    this.entry = host.scheduler.entry(this);
    this.entry.schedule(peerDeadline(state));
  }

  get state(): PeerState {
    return this.peerState as PeerState;
  }

  /** Called by the scheduler when this peer's earliest deadline is due. */
  wake(now: number): void {
    const host = this.host;
    if (host === null) return;
    const event = host.timeoutEvent;
    event.now = now;
    this.apply(host, event);
  }

  inbound(kind: InboundKind): void {
    const host = this.host;
    if (host === null) return;
    const event = host.inboundEvent;
    event.kind = kind;
    event.now = host.scheduler.now();
    this.apply(host, event);
  }

  malformedHeartbeat(): void {
    this.host?.count('malformedHeartbeats');
    this.inbound('message');
  }

  closed(): void {
    const host = this.host;
    const state = this.peerState;
    if (this.forgotten || host === null || state === null) return;
    this.forget(host);
    // A close can arrive while this peer's own commands run: use a private buffer.
    peerStepInPlace(state, { type: 'closed', now: host.scheduler.now() }, [], DRIVER);
  }

  private apply(host: PeerHost, event: PeerHost['timeoutEvent'] | PeerHost['inboundEvent']): void {
    const state = this.peerState;
    if (this.forgotten || state === null) return;
    const out = host.scratch;
    const start = out.length;
    peerStepInPlace(state, event, out, DRIVER);
    for (let i = start; i < out.length; i++) host.execute(this.socket, out[i] as PeerCommand);
    clearCommands(out, start);
    if (state.closed) this.forget(host);
    else this.entry?.schedule(peerDeadline(state));
  }

  private forget(host: PeerHost): void {
    if (this.forgotten) return;
    this.forgotten = true;
    this.entry?.dispose();
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
