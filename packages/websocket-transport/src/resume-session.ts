import {
  CLOSE_CODES,
  constantTimeEqual,
  createDeliveryState,
  createServerSessionState,
  deliveryDeadline,
  deliveryStep,
  encodeAck,
  encodeHello,
  isEvictable,
  serverSessionDeadline,
  serverSessionStep,
  serverText,
  utf8Length,
  type AdmissionCandidate,
  type DeliveryCommand,
  type DeliveryEvent,
  type DeliveryState,
  type Diagnostic,
  type DiagnosticFields,
  type DiagnosticLevel,
  type Proof,
  type ServerSessionCommand,
  type ServerSessionEvent,
  type ServerSessionState,
} from '@keepalive/core';
import { ScheduledNode, type ScheduledEntry, type Scheduler } from '@keepalive/node-timers';
import { RESUME_CLOSE_CODES, RESUME_CLOSE_REASONS, SESSION_HUB_DIAGNOSTICS, isApplicationCloseCode } from './resume-codes.js';
import type { Connection } from './resume-connection.js';
import { ReplayFullError, SessionEndedError } from './resume-errors.js';
import { bytesOf } from './resume-frames.js';
import type { ServerResumeConfig } from './resume-options.js';
import type { RefusedEvent, ResumableSession, ResumableSessionEvents, ResumeSocket, SessionHubStats, SessionMessage, SessionSendResult } from './resume-types.js';
import type { RestoredSession } from './resume-restore.js';
import type { SessionStore, StoredSession } from './resume-store.js';

/**
 * One resumable session at the server (spec B14, B17): its delivery state (the core's delivery machine), its lifetime
 * (the core's server-session machine), the messages its client has not acknowledged, its listeners, and the digest of
 * its secret. Its hub decides which connection joins it; the session carries out the rest.
 */

/** A counter of the hub's stats (every one but the two read live), as a session counts it. */
export type Counter = keyof Omit<SessionHubStats, 'sessions' | 'connected'>;

/** The `accept` being stepped: its payload, and what the step decided about it. */
export interface Accepting {
  readonly payload: SessionMessage;
  sent: boolean;
  refused: 'messages' | 'bytes' | null;
}

/** What a session needs from its hub (kept off the hub's public surface). */
export interface HubHost {
  accepting: Accepting | null;
  readonly store: SessionStore | null;
  storeFailed(op: string, error: unknown): void;
  readonly scheduler: Scheduler;
  readonly config: ServerResumeConfig;
  readonly heartbeatMessage: string;
  readonly scratch: DeliveryCommand[];
  diagnose(diagnostic: Diagnostic): void;
  report(level: DiagnosticLevel, name: string, fields: DiagnosticFields): void;
  count(counter: Counter): number;
  attached(delta: number): void;
  remove(session: Session): void;
  /** Whether a full hub may evict `session` now (B17: unconfirmed, without a connection). */
  evictable(session: Session, yes: boolean): void;
  /** A connection's proof of the session it named arrived (B17). */
  proved(handle: Connection, proof: Proof): void;
  /** A connection's handshake outlived `handshakeTimeoutMs`. */
  handshakeTimedOut(handle: Connection): void;
  /** A connection's handshake ended (attached, refused, or its socket closed): the hub forgets it as one. */
  handshakeEnded(handle: Connection): void;
  /** Refuses a connection in its handshake (B17: nothing about any session changes). */
  refuse(handle: Connection, reason: RefusedEvent['reason'], code: number, text: string): void;
  listenerFailed(event: string, error: unknown): void;
  /** Writes `data`; `false` when the socket threw (the frame is lost with the connection). */
  write(socket: ResumeSocket, data: string | ArrayBuffer | ArrayBufferView): boolean;
  shut(socket: ResumeSocket, code: number, reason: string): void;
}

type Listener = (payload: never) => void;
/** Diagnostic fields of a diagnostic that has none (shared, frozen). */
export const NO_FIELDS: DiagnosticFields = Object.freeze({});
const NOTHING: readonly SessionMessage[] = Object.freeze([]);
/**
 * One session. Per session: this object (its own scheduler entry), its delivery state and its lifetime
 * state (small objects, replaced on each step), and the payloads the
 * client has not acknowledged (a ring, allocated only while any wait).
 * Listeners are one small array, allocated on the first `on`.
 */
export class Session extends ScheduledNode implements ResumableSession {
  state: DeliveryState;
  /** The session's lifetime (the core's server-session machine): attached, away and expiring, or ended. */
  life: ServerSessionState;
  handle: Connection | null = null;
  private readonly entry: ScheduledEntry;
  /** The highest number a connection took (written without the socket failing): a client cannot have delivered more. */
  private written = 0;
  private ring: SessionMessage[] | null = null;
  private ringHead = 0;
  private ringFirst = 1;
  private listeners: [keyof ResumableSessionEvents, Listener][] | null = null;
  /** The connection whose socket refused a numbered frame in the step being carried out, until it is given up. */
  private failed: Connection | null = null;
  /** The delivery counters last handed to the store (`nextSeq`, `ackedThrough`, `deliveredThrough`, `transmittedThrough`). */
  private savedCounters = '';
  /** Wrong proofs presented for this session (B17: counted, reported; they change nothing). */
  failedProofs = 0;

  /**
   * A new session, or (with `restored`) one another process held, taken up from the hub's store. `proof` is the
   * digest of its secret (`secretDigest`): all the hub keeps of it.
   */
  constructor(
    private readonly host: HubHost,
    readonly id: string,
    readonly proof: string,
    restored: RestoredSession | null = null,
  ) {
    super();
    const now = Math.floor(host.scheduler.now());
    const { sessionTtlMs, unconfirmedTtlMs } = host.config;
    this.state = restored?.state ?? createDeliveryState(host.config.delivery, now);
    this.life = createServerSessionState(sessionTtlMs, now, unconfirmedTtlMs, restored !== null);
    if (restored !== null) {
      this.written = restored.state.transmittedThrough;
      this.ring = restored.unacked.length === 0 ? null : [...restored.unacked];
      this.ringFirst = restored.state.ackedThrough + 1;
      this.savedCounters = this.counters();
    }
    // The session is its own scheduler entry on the shared scheduler (no entry object, no closure per session); another
    // scheduler wakes it through an entry of its own.
    this.entry = host.scheduler.entry(this);
  }

  /**
   * The clock in whole milliseconds (rounded down; the deadlines made from it, whole too, are still at or past their
   * time when a rounded-down wake comes): small integers, which V8 keeps in the state's fields as they are, where a
   * fractional time would be a heap number per field written.
   */
  private now(): number {
    return Math.floor(this.host.scheduler.now());
  }

  get connected(): boolean {
    return this.handle !== null;
  }

  get ended(): boolean {
    return this.life.phase === 'ended';
  }

  /** What the store keeps: the delivery counters, the unacknowledged payloads, and the digest of the secret (never the secret). */
  snapshot(): StoredSession {
    const { deliveredThrough, ackedThrough, transmittedThrough } = this.state;
    return { deliveredThrough, ackedThrough, transmittedThrough, unacked: this.ring === null ? NOTHING : this.ring.slice(this.ringHead), proof: this.proof };
  }

  private counters(): string {
    const { nextSeq, ackedThrough, deliveredThrough, transmittedThrough } = this.state;
    return `${String(nextSeq)}:${String(ackedThrough)}:${String(deliveredThrough)}:${String(transmittedThrough)}`;
  }

  get unackedMessages(): number {
    return this.state.unacked.length;
  }

  get unackedBytes(): number {
    return this.state.unackedBytes;
  }

  /** What admission needs of this session, for a connection whose proof's digest is `digest` (the rule is the core's `admitConnection`). */
  candidate(digest: string | null): AdmissionCandidate {
    return { proven: digest !== null && constantTimeEqual(this.proof, digest), written: this.written, ackedThrough: this.state.ackedThrough };
  }

  /**
   * Attaches a connection: hello first (it carries the acknowledgement), then the retransmission. `secret` is the
   * new session's secret, written once in its hello (`new`) and never kept; `null` for a resumed one.
   */
  attach(handle: Connection, secret: string | null, peerDelivered: number, now: number): void {
    const status = secret === null ? 'resumed' : 'new';
    let awayMs: number | null = null;
    for (const command of this.live({ type: 'attach', now, status })) {
      if (command.type === 'replace') {
        // A half-open connection: detach it first, then close it.
        const old = this.handle;
        this.detach(now);
        this.host.count('replaced');
        this.host.report('warn', SESSION_HUB_DIAGNOSTICS.sessionReplaced, NO_FIELDS);
        if (old !== null) this.host.shut(old.socket, RESUME_CLOSE_CODES.resumedElsewhere, RESUME_CLOSE_REASONS.resumedElsewhere);
      } else if (command.type === 'resumed') awayMs = command.awayMs;
    }
    this.handle = handle;
    handle.attach(this);
    this.host.attached(1);
    // The hello tells the client what we delivered: it is the owed acknowledgement.
    this.run({ type: 'outgoing', now }, null, true);
    const hello = secret === null ? encodeHello({ status: 'resumed', session: this.id, delivered: this.state.deliveredThrough }) : encodeHello({ status: 'new', session: this.id, secret, delivered: 0 });
    // A hello that cannot be written gives the connection up (after this step; see reschedule).
    if (!this.host.write(handle.socket, hello)) this.failed = handle;
    if (awayMs !== null) this.host.report('info', SESSION_HUB_DIAGNOSTICS.sessionResumed, { away_ms: awayMs });
    this.run({ type: 'resumed', now, peerDelivered }, null, false);
    this.reschedule();
  }

  /** Steps the lifetime machine (the core decides: replaced, resumed, ended, expired, evictable); returns its commands. */
  private live(event: ServerSessionEvent): readonly ServerSessionCommand[] {
    const out: ServerSessionCommand[] = [];
    const before = this.life;
    this.life = serverSessionStep(before, event, out);
    if (this.life !== before) this.host.evictable(this, isEvictable(this.life));
    return out;
  }

  /** The client wrote its first frame after the hello: the session is its own now, kept `sessionTtlMs` (B17). */
  confirm(): void {
    this.live({ type: 'confirm', now: this.now() });
  }

  /** The hub is full and this session is evictable (unconfirmed, without a connection): it goes now, as an expiry. */
  evict(): void {
    const evicted = this.live({ type: 'evict', now: this.now() }).find((command) => command.type === 'expired');
    if (evicted === undefined) return;
    this.host.count('evicted');
    this.expire(evicted.awayMs);
  }

  /** An inbound data frame: number `deliveredThrough + 1` on this connection (implicit numbering). */
  receive(payload: SessionMessage): void {
    this.run({ type: 'frame', now: this.now(), seq: this.state.deliveredThrough + 1 }, payload, false);
    this.reschedule();
  }

  /** The client acknowledged everything through `through`. */
  acked(through: number): void {
    this.run({ type: 'ack', now: this.now(), through }, null, false);
    this.reschedule();
  }

  /** An outgoing keep-alive carries the owed acknowledgement: returns it, or `null` when none is owed. */
  carryAck(): number | null {
    const ack = this.run({ type: 'outgoing', now: this.now() }, null, true);
    this.reschedule();
    return ack;
  }

  /** The connection `handle` closed with `code`: with 1000 the client ended the session, else it is kept for the client's return. */
  connectionClosed(handle: Connection, code: number): void {
    if (this.handle !== handle) return;
    const now = this.now();
    this.detach(now);
    const ended = this.live({ type: 'detach', now, code }).some((command) => command.type === 'ended');
    if (ended) this.end('client', code, '');
    else this.reschedule();
  }

  /** Called by the scheduler: an owed acknowledgement is due, or the session expired. */
  wake(time: number): void {
    if (this.ended) return;
    const now = Math.floor(time);
    if (this.handle === null) {
      const expired = this.live({ type: 'timeout', now }).find((command) => command.type === 'expired');
      if (expired !== undefined) this.expire(expired.awayMs);
      else this.reschedule();
      return;
    }
    this.run({ type: 'timeout', now }, null, false);
    this.reschedule();
  }

  send(data: string | ArrayBuffer | ArrayBufferView): SessionSendResult {
    if (this.ended) throw new SessionEndedError();
    let payload: SessionMessage;
    let bytes: number;
    if (typeof data === 'string') {
      payload = data;
      bytes = utf8Length(data);
    } else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
      payload = new Uint8Array(bytesOf(data));
      bytes = payload.byteLength;
    } else {
      throw new TypeError('send(data): data must be a string, an ArrayBuffer or a typed array');
    }
    // The outcome lives on the hub while the step runs (no field per session); saved and restored, so a hook that
    // sends on another session from inside this step cannot mix the two up.
    const host = this.host;
    const previous = host.accepting;
    const outcome: Accepting = { payload, sent: false, refused: null };
    host.accepting = outcome;
    try {
      this.run({ type: 'accept', now: host.scheduler.now(), bytes }, null, false);
    } finally {
      host.accepting = previous;
    }
    this.reschedule();
    if (outcome.refused !== null) throw new ReplayFullError(outcome.refused, bytes, this.state);
    return outcome.sent ? 'sent' : 'queued';
  }

  on<K extends keyof ResumableSessionEvents>(event: K, listener: (event: ResumableSessionEvents[K]) => void): () => void {
    const name: unknown = event;
    if (name !== 'message' && name !== 'close' && name !== 'expired') throw new TypeError(`on(event): unknown event ${String(name)} (expected one of message, close, expired)`);
    if (typeof listener !== 'function') throw new TypeError('on(event, listener): listener must be a function');
    if (this.ended) return noop;
    const entry: [keyof ResumableSessionEvents, Listener] = [event, listener];
    (this.listeners ??= []).push(entry);
    return () => {
      const index = this.listeners?.indexOf(entry) ?? -1;
      if (index >= 0) this.listeners?.splice(index, 1);
    };
  }

  close(code: number = RESUME_CLOSE_CODES.normal, reason = ''): void {
    if (!isApplicationCloseCode(code)) {
      throw new RangeError(`close(code): ${String(code)} is not a code an application may send (1000, or 3000 to 4999)`);
    }
    if (typeof reason !== 'string' || utf8Length(reason) > 123) throw new RangeError('close(code, reason): reason must be a string of at most 123 UTF-8 bytes');
    this.closeByServer(code, reason);
  }

  /** Ends the session from the server side (the application, or the hub closing): its connection is closed with `code`. */
  closeByServer(code: number, reason: string): void {
    const handle = this.handle;
    const now = this.now();
    if (!this.live({ type: 'end', now }).some((command) => command.type === 'ended')) return;
    if (handle !== null) {
      this.detach(now);
      this.host.shut(handle.socket, code, reason);
    }
    this.end('server', code, reason);
  }

  /**
   * The hub closes and hands the session over to its store (it does not end: the client resumes it on another
   * process). Its connection is let go now (frames that arrive later are not read: the client sends them again where
   * it resumes), its last state is handed to the store, and `close` is emitted with `handedOver` and nothing handed
   * back (the store keeps the unacknowledged messages). Returns the socket to close once the store wrote the state
   * (closing it earlier would let the client resume elsewhere on an older state), or `null`.
   */
  handOver(): ResumeSocket | null {
    const handle = this.handle;
    const now = this.now();
    if (!this.live({ type: 'end', now }).some((command) => command.type === 'ended')) return null;
    this.detach(now);
    // The last change goes to the store (its snapshot reads this session's ring, kept until the store wrote it).
    this.save();
    this.entry.dispose();
    this.host.remove(this);
    this.host.count('handedOver');
    this.emitFinal('close', { by: 'server', code: RESUME_CLOSE_CODES.serviceRestart, reason: RESUME_CLOSE_REASONS.serviceRestart, unacked: NOTHING, handedOver: true });
    return handle?.socket ?? null;
  }

  private detach(now: number): void {
    const handle = this.handle;
    if (handle === null) return;
    handle.attach(null);
    this.handle = null;
    this.host.attached(-1);
    this.run({ type: 'disconnected', now }, null, false);
  }

  private end(by: 'client' | 'server', code: number, reason: string): void {
    const unacked = this.finish();
    this.host.count('ended');
    this.host.report('info', SESSION_HUB_DIAGNOSTICS.sessionClosed, { by, code, messages: unacked.length });
    this.emitFinal('close', { by, code, reason, unacked, handedOver: false });
  }

  private expire(awayMs: number): void {
    const unacked = this.finish();
    this.host.count('expired');
    this.host.report('info', SESSION_HUB_DIAGNOSTICS.sessionExpired, { messages: unacked.length });
    this.emitFinal('expired', { unacked, awayMs });
  }

  /** Removes the session from its hub and takes the unacknowledged payloads out, oldest first. */
  private finish(): readonly SessionMessage[] {
    this.entry.dispose();
    this.host.remove(this);
    const store = this.host.store;
    if (store !== null) {
      try {
        store.remove(this.id);
      } catch (error) {
        this.host.storeFailed('remove', error);
      }
    }
    const ring = this.ring;
    const unacked = ring === null ? NOTHING : ring.slice(this.ringHead);
    this.ring = null;
    this.ringHead = 0;
    return unacked;
  }

  private emitFinal<K extends 'close' | 'expired'>(event: K, payload: ResumableSessionEvents[K]): void {
    this.emit(event, payload);
    this.listeners = null;
  }

  private emit<K extends keyof ResumableSessionEvents>(event: K, payload: ResumableSessionEvents[K]): number {
    const listeners = this.listeners;
    if (listeners === null) return 0;
    let heard = 0;
    for (const [name, listener] of [...listeners]) {
      if (name !== event) continue;
      heard++;
      try {
        (listener as (payload: ResumableSessionEvents[K]) => void)(payload);
      } catch (error) {
        this.host.listenerFailed(event, error);
      }
    }
    return heard;
  }

  /** Hands the session to the store when the delivery's counters changed; the store reads the snapshot when it writes. */
  private save(): void {
    const store = this.host.store;
    if (store === null) return;
    const counters = this.counters();
    if (counters === this.savedCounters) return;
    this.savedCounters = counters;
    try {
      store.save(this.id, () => this.snapshot());
    } catch (error) {
      this.host.storeFailed('save', error);
    }
  }

  private reschedule(): void {
    if (this.ended) return;
    this.save();
    const failed = this.failed;
    if (failed !== null) {
      this.failed = null;
      if (this.handle === failed) {
        this.host.shut(failed.socket, RESUME_CLOSE_CODES.internalError, RESUME_CLOSE_REASONS.sendFailed);
        this.connectionClosed(failed, CLOSE_CODES.abnormal);
        return;
      }
    }
    this.entry.schedule(this.life.phase === 'attached' ? deliveryDeadline(this.state) : serverSessionDeadline(this.life));
  }

  /**
   * Steps the delivery machine and carries out its commands. `incoming` is the payload of a `frame` event;
   * with `carry`, an `ack` command rides on the frame the caller is about to write and its number is returned.
   */
  private run(event: DeliveryEvent, incoming: SessionMessage | null, carry: boolean): number | null {
    const out = this.host.scratch;
    const start = out.length;
    let carried: number | null = null;
    this.state = deliveryStep(this.state, event, out);
    try {
      for (let i = start; i < out.length; i++) {
        const command = out[i] as DeliveryCommand;
        if (command.type === 'ack' && carry) carried = command.through;
        else this.execute(command, incoming);
      }
    } finally {
      out.length = start;
    }
    return carried;
  }

  private execute(command: DeliveryCommand, incoming: SessionMessage | null): void {
    switch (command.type) {
      case 'number':
        if (this.host.accepting !== null) this.keep(command.seq, this.host.accepting.payload);
        return;
      case 'refuse':
        if (this.host.accepting !== null) this.host.accepting.refused = command.reason;
        return;
      case 'transmit':
        this.transmit(command.seq);
        return;
      case 'deliver':
        if (incoming !== null && this.emit('message', incoming) === 0) {
          this.host.report('warn', SESSION_HUB_DIAGNOSTICS.messageUnheard, { total: this.host.count('unheardMessages') });
        }
        return;
      case 'duplicate':
        // Dropped; the machine reported it (duplicate_dropped or delivery_gap).
        return;
      case 'release':
        this.release(command.through);
        return;
      case 'ack':
        if (this.handle !== null) this.host.write(this.handle.socket, encodeAck(command.through));
        return;
      case 'hand_back':
        // Only the `forgotten` event hands back, and the server never steps it: a client that presents an unknown
        // session gets a new one (see SessionHub.connect).
        return;
      case 'diagnostic':
        this.host.diagnose(command);
        return;
    }
  }

  private transmit(seq: number): void {
    const handle = this.handle;
    if (handle === null || this.failed === handle) return;
    const payload = this.ring?.[this.ringHead + seq - this.ringFirst];
    if (payload === undefined) return;
    if (!this.host.write(handle.socket, typeof payload === 'string' ? serverText(handle.wire, payload) : payload)) {
      // A frame the machine numbered was not written: the frames after it would be misnumbered. The connection is
      // given up once this step is done (see reschedule); the client resumes, and both sides send again (B14).
      this.failed = handle;
      return;
    }
    if (seq > this.written) this.written = seq;
    const accepting = this.host.accepting;
    if (accepting !== null && seq === this.state.nextSeq - 1) accepting.sent = true;
  }

  private keep(seq: number, payload: SessionMessage): void {
    if (this.ring === null) {
      this.ring = [payload];
      this.ringHead = 0;
      this.ringFirst = seq;
      return;
    }
    this.ring.push(payload);
  }

  private release(through: number): void {
    const ring = this.ring;
    if (ring === null) return;
    const count = Math.min(through - this.ringFirst + 1, ring.length - this.ringHead);
    if (count <= 0) return;
    ring.fill(undefined as never, this.ringHead, this.ringHead + count);
    this.ringHead += count;
    this.ringFirst += count;
    if (this.ringHead === ring.length) {
      this.ring = null;
      this.ringHead = 0;
    } else if (this.ringHead >= 64 && this.ringHead * 2 >= ring.length) {
      this.ring = ring.slice(this.ringHead);
      this.ringHead = 0;
    }
  }
}

function noop(): void {
  // Nothing to remove.
}
