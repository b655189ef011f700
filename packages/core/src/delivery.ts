import { NO_COMMANDS, diagnostic, type Diagnostic } from './commands.js';
import { checkDuration, checkOptions, integerIn, type OptionSchema } from './errors.js';

/**
 * Delivery across reconnects (spec B14): one end of a resumable session, as a
 * pure machine. The sending half numbers every accepted message (1, 2, 3, ...)
 * and keeps it in a bounded replay buffer until the peer acknowledges it
 * cumulatively; after a reconnect it retransmits everything the peer has not
 * acknowledged. The receiving half delivers each number once and in order,
 * drops what it already delivered, and owes the peer a cumulative
 * acknowledgement, which rides on the next keep-alive (an `outgoing` event)
 * or goes out on its own after `ackDelayMs`. Data frames carry no
 * acknowledgement: in the wire format (`wire.ts`) they carry nothing but the
 * application's payload, and their numbers are implicit. Payloads stay in the
 * driver: the machine holds numbers and sizes only.
 *
 * Each WebSocket connection is an ordered, reliable channel: frames are lost
 * only when a connection is cut, so a gap in the numbers means frames of an
 * earlier connection; they come again with the peer's retransmission.
 */

/** Options of a delivery machine. */
export interface DeliveryOptions {
  /** Messages that may wait for the peer's acknowledgement; past it `accept` is refused. Default 1 000. */
  readonly maxUnackedMessages?: number | undefined;
  /** Bytes that may wait for the peer's acknowledgement; past it `accept` is refused. Default 1 MiB. */
  readonly maxUnackedBytes?: number | undefined;
  /**
   * How long an acknowledgement may wait for a frame to ride on before it is sent on its own. Default 200 ms: prompt
   * enough that a peer that dies hands back little that in fact arrived (B14), at most five frames a second.
   */
  readonly ackDelayMs?: number | undefined;
}

/** Validated, frozen delivery options. */
export interface DeliveryConfig {
  readonly maxUnackedMessages: number;
  readonly maxUnackedBytes: number;
  readonly ackDelayMs: number;
}

/** The defaults of a delivery machine. */
export const DELIVERY_DEFAULTS: DeliveryConfig = /* @__PURE__ */ Object.freeze({ maxUnackedMessages: 1_000, maxUnackedBytes: 1_048_576, ackDelayMs: 200 });

const DELIVERY_KEYS: readonly string[] = /* @__PURE__ */ Object.freeze(/* @__PURE__ */ Object.keys(DELIVERY_DEFAULTS));

/** The delivery options table (B1): each option's default and check. */
const DELIVERY_SCHEMA: OptionSchema<DeliveryConfig> = /* @__PURE__ */ Object.freeze({
  maxUnackedMessages: [DELIVERY_DEFAULTS.maxUnackedMessages, /* @__PURE__ */ integerIn(1, 10_000_000)],
  maxUnackedBytes: [DELIVERY_DEFAULTS.maxUnackedBytes, /* @__PURE__ */ integerIn(1, Number.MAX_SAFE_INTEGER)],
  ackDelayMs: [DELIVERY_DEFAULTS.ackDelayMs, checkDuration],
});

/** Validates delivery options once (B1); throws `KeepaliveOptionError` naming the option and the value. */
export function defineDeliveryConfig(options: DeliveryOptions = {}): DeliveryConfig {
  return Object.freeze(checkOptions(options, DELIVERY_SCHEMA, 'delivery'));
}

/** One end of a resumable session: plain, serialisable data. */
export interface DeliveryState {
  readonly config: DeliveryConfig;
  readonly now: number;
  /** Whether a connection is up on which the peer resumed this session. */
  readonly connected: boolean;
  /** The number the next accepted message gets. */
  readonly nextSeq: number;
  /** The highest number the peer has acknowledged (cumulative). */
  readonly ackedThrough: number;
  /** Sizes of the unacknowledged messages `ackedThrough + 1 .. nextSeq - 1`, oldest first. */
  readonly unacked: readonly number[];
  /** Their total size in bytes. */
  readonly unackedBytes: number;
  /** The highest number written on the current connection. */
  readonly sentThrough: number;
  /** The highest number ever written, on any connection (what the peer may have). */
  readonly transmittedThrough: number;
  /** The highest number delivered to the application, in order (cumulative). */
  readonly deliveredThrough: number;
  /** The highest number acknowledged to the peer. */
  readonly ackSentThrough: number;
  /** When an owed acknowledgement goes out on its own, or `null` when none is owed. */
  readonly ackAt: number | null;
}

/**
 * Events of a delivery machine:
 * - `accept`: the application sends a message of `bytes` bytes;
 * - `frame`: a data frame numbered `seq` arrived (it may carry the peer's `ack`);
 * - `ack`: the peer acknowledged everything through `through` (on a keep-alive, or on its own);
 * - `resumed`: a connection is up and the peer resumed this session, having delivered through `peerDelivered`;
 * - `disconnected`: the connection is gone;
 * - `forgotten`: the peer does not know this session (it restarted, or the session expired);
 * - `outgoing`: the driver is about to send a frame that can carry an acknowledgement (a keep-alive);
 * - `timeout`: time passed to `now`.
 */
export type DeliveryEvent =
  | { readonly type: 'accept'; readonly now: number; readonly bytes: number }
  | { readonly type: 'frame'; readonly now: number; readonly seq: number; readonly ack?: number | undefined }
  | { readonly type: 'ack'; readonly now: number; readonly through: number }
  | { readonly type: 'resumed'; readonly now: number; readonly peerDelivered: number }
  | { readonly type: 'disconnected'; readonly now: number }
  | { readonly type: 'forgotten'; readonly now: number }
  | { readonly type: 'outgoing'; readonly now: number }
  | { readonly type: 'timeout'; readonly now: number };

/**
 * Commands of a delivery machine:
 * - `refuse` `{reason}`: the message of this `accept` is refused (the replay buffer is full: `messages` or `bytes`);
 * - `number` `{seq}`: the message of this `accept` is number `seq` (kept by the driver until acknowledged);
 * - `transmit` `{seq}`: write message `seq` now;
 * - `deliver` `{seq}`: hand message `seq` to the application (exactly once, in order);
 * - `duplicate` `{seq}`: message `seq` was delivered before: drop it;
 * - `release` `{through}`: the peer has every message through `through`: the driver drops their payloads;
 * - `ack` `{through}`: send this acknowledgement (on the outgoing frame of an `outgoing` event, or on its own);
 * - `hand_back` `{from, to}`: the peer forgot the session: messages `from..to` were written and may not have arrived;
 *   hand them to the application (none is dropped silently), and the session starts afresh;
 * - `renumber` `{from, to}`: with the session started afresh, messages `from..to` (never written, so certainly not
 *   received) are carried into it as numbers `1..(to - from + 1)`, in order;
 * - `diagnostic`.
 */
export type DeliveryCommand =
  | { readonly type: 'refuse'; readonly reason: 'messages' | 'bytes' }
  | { readonly type: 'number'; readonly seq: number }
  | { readonly type: 'transmit'; readonly seq: number }
  | { readonly type: 'deliver'; readonly seq: number }
  | { readonly type: 'duplicate'; readonly seq: number }
  | { readonly type: 'release'; readonly through: number }
  | { readonly type: 'ack'; readonly through: number }
  | { readonly type: 'hand_back'; readonly from: number; readonly to: number }
  | { readonly type: 'renumber'; readonly from: number; readonly to: number }
  | Diagnostic;

/**
 * Diagnostics of a delivery machine (counts and numbers only, S10): warn `replay_full` `{limit}`, info
 * `retransmitted` `{messages}`, info `session_forgotten` `{messages}` (handed back), warn `invalid_ack` `{through}`,
 * debug `duplicate_dropped` `{seq}`, warn `delivery_gap` `{expected, got}` (a frame of an earlier connection
 * arrived ahead of the retransmission; dropped, it comes again).
 */
export const DELIVERY_DIAGNOSTICS = /* @__PURE__ */ Object.freeze({
  replayFull: 'replay_full',
  retransmitted: 'retransmitted',
  sessionForgotten: 'session_forgotten',
  invalidAck: 'invalid_ack',
  duplicateDropped: 'duplicate_dropped',
  gap: 'delivery_gap',
} as const);

const REFUSE_MESSAGES: DeliveryCommand = /* @__PURE__ */ Object.freeze({ type: 'refuse', reason: 'messages' });
const REFUSE_BYTES: DeliveryCommand = /* @__PURE__ */ Object.freeze({ type: 'refuse', reason: 'bytes' });
const NOTHING_UNACKED: readonly number[] = /* @__PURE__ */ Object.freeze([]);

/** A new session end: nothing sent, nothing delivered, not connected. */
export function createDeliveryState(options: DeliveryOptions | DeliveryConfig = {}, now = 0): DeliveryState {
  const config = Object.isFrozen(options) && DELIVERY_KEYS.every((key) => Object.hasOwn(options, key)) ? (options as DeliveryConfig) : defineDeliveryConfig(options);
  return {
    config,
    now,
    connected: false,
    nextSeq: 1,
    ackedThrough: 0,
    unacked: NOTHING_UNACKED,
    unackedBytes: 0,
    sentThrough: 0,
    transmittedThrough: 0,
    deliveredThrough: 0,
    ackSentThrough: 0,
    ackAt: null,
  };
}

/**
 * The counters of a delivery that outlive a process (what a session store keeps): the highest number delivered to
 * the application, the highest the peer acknowledged, the highest ever written, and the sizes of the messages
 * still unacknowledged (`ackedThrough + 1 ..`), oldest first.
 */
export interface DeliveryCounters {
  readonly deliveredThrough: number;
  readonly ackedThrough: number;
  readonly transmittedThrough: number;
  readonly unacked: readonly number[];
}

/**
 * A delivery state taken up from saved counters (another process held the session): disconnected, nothing owed,
 * nothing sent on a connection yet. Returns `null` when the counters cannot be a delivery's (negative, not
 * integers, more written than numbered, or past the replay limits of `config`): a store's corrupt or foreign data
 * is refused, never trusted.
 */
export function restoreDeliveryState(options: DeliveryOptions | DeliveryConfig, counters: DeliveryCounters, now = 0): DeliveryState | null {
  const base = createDeliveryState(options, now);
  const { deliveredThrough, ackedThrough, transmittedThrough, unacked } = counters;
  const count = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
  if (!count(deliveredThrough) || !count(ackedThrough) || !count(transmittedThrough) || !Array.isArray(unacked)) return null;
  if (!unacked.every((bytes) => count(bytes))) return null;
  if (transmittedThrough < ackedThrough || transmittedThrough > ackedThrough + unacked.length) return null;
  const unackedBytes = unacked.reduce((sum, bytes) => sum + bytes, 0);
  if (unacked.length > base.config.maxUnackedMessages || unackedBytes > base.config.maxUnackedBytes) return null;
  return {
    ...base,
    nextSeq: ackedThrough + unacked.length + 1,
    ackedThrough,
    unacked: Object.freeze([...unacked]),
    unackedBytes,
    transmittedThrough,
    deliveredThrough,
    ackSentThrough: 0,
  };
}

/** The earliest deadline (an owed acknowledgement), or `null`. */
export function deliveryDeadline(state: DeliveryState): number | null {
  return state.ackAt;
}

/** The pure step `(state, event) → [next, commands]`; it executes nothing and never throws on a bad event. */
export function deliveryTransition(state: DeliveryState, event: DeliveryEvent): readonly [state: DeliveryState, commands: readonly DeliveryCommand[]] {
  const out: DeliveryCommand[] = [];
  const next = deliveryStep(state, event, out);
  return [next, out.length === 0 ? NO_COMMANDS : out];
}

type Draft = { -readonly [K in keyof DeliveryState]: DeliveryState[K] };

/** The allocation-light step: appends commands to `out` and returns the next state. */
export function deliveryStep(state: DeliveryState, event: DeliveryEvent, out: DeliveryCommand[]): DeliveryState {
  const now = typeof event.now === 'number' && Number.isFinite(event.now) && event.now > state.now ? event.now : state.now;
  const d: Draft = { ...state, now };
  switch (event.type) {
    case 'accept':
      onAccept(d, event.bytes, out);
      return d;
    case 'frame':
      if (event.ack !== undefined) onAck(d, event.ack, out);
      onFrame(d, event.seq, out);
      return d;
    case 'ack':
      onAck(d, event.through, out);
      return d;
    case 'resumed':
      d.connected = true;
      onAck(d, event.peerDelivered, out);
      retransmit(d, out);
      return d;
    case 'disconnected':
      d.connected = false;
      // Whatever was written and not acknowledged goes again on the next connection.
      d.sentThrough = d.ackedThrough;
      return d;
    case 'forgotten':
      onForgotten(d, out);
      return d;
    case 'outgoing':
      if (owesAck(d)) sendAck(d, out);
      return d;
    case 'timeout':
      if (d.ackAt !== null && d.ackAt <= now && owesAck(d)) sendAck(d, out);
      return d;
    default:
      return state;
  }
}

function onAccept(d: Draft, bytes: number, out: DeliveryCommand[]): void {
  const size = Number.isInteger(bytes) && bytes >= 0 ? bytes : 0;
  if (d.unacked.length >= d.config.maxUnackedMessages) {
    out.push(diagnostic('warn', DELIVERY_DIAGNOSTICS.replayFull, { limit: 'messages' }));
    out.push(REFUSE_MESSAGES);
    return;
  }
  if (d.unackedBytes + size > d.config.maxUnackedBytes) {
    out.push(diagnostic('warn', DELIVERY_DIAGNOSTICS.replayFull, { limit: 'bytes' }));
    out.push(REFUSE_BYTES);
    return;
  }
  const seq = d.nextSeq;
  d.nextSeq = seq + 1;
  d.unacked = [...d.unacked, size];
  d.unackedBytes += size;
  out.push({ type: 'number', seq });
  if (d.connected && d.sentThrough === seq - 1) transmit(d, seq, out);
}

function transmit(d: Draft, seq: number, out: DeliveryCommand[]): void {
  d.sentThrough = seq;
  if (seq > d.transmittedThrough) d.transmittedThrough = seq;
  out.push({ type: 'transmit', seq });
}

function retransmit(d: Draft, out: DeliveryCommand[]): void {
  const from = d.ackedThrough + 1;
  const count = d.nextSeq - from;
  if (count > 0) out.push(diagnostic('info', DELIVERY_DIAGNOSTICS.retransmitted, { messages: count }));
  d.sentThrough = d.ackedThrough;
  for (let seq = from; seq < d.nextSeq; seq++) transmit(d, seq, out);
}

function onAck(d: Draft, through: number, out: DeliveryCommand[]): void {
  if (!Number.isInteger(through) || through < 0 || through >= d.nextSeq) {
    out.push(diagnostic('warn', DELIVERY_DIAGNOSTICS.invalidAck, { through: Number.isFinite(through) ? through : -1 }));
    return;
  }
  if (through <= d.ackedThrough) return;
  const released = d.unacked.slice(0, through - d.ackedThrough);
  let bytes = 0;
  for (const size of released) bytes += size;
  d.unacked = d.unacked.length === released.length ? NOTHING_UNACKED : d.unacked.slice(released.length);
  d.unackedBytes -= bytes;
  d.ackedThrough = through;
  if (d.sentThrough < through) d.sentThrough = through;
  out.push({ type: 'release', through });
}

function onFrame(d: Draft, seq: number, out: DeliveryCommand[]): void {
  if (!Number.isInteger(seq) || seq < 1) {
    out.push(diagnostic('warn', DELIVERY_DIAGNOSTICS.gap, { expected: d.deliveredThrough + 1, got: -1 }));
    return;
  }
  if (seq <= d.deliveredThrough) {
    out.push(diagnostic('debug', DELIVERY_DIAGNOSTICS.duplicateDropped, { seq }));
    out.push({ type: 'duplicate', seq });
    return;
  }
  if (seq > d.deliveredThrough + 1) {
    out.push(diagnostic('warn', DELIVERY_DIAGNOSTICS.gap, { expected: d.deliveredThrough + 1, got: seq }));
    out.push({ type: 'duplicate', seq });
    return;
  }
  d.deliveredThrough = seq;
  out.push({ type: 'deliver', seq });
  d.ackAt ??= d.now + d.config.ackDelayMs;
}

function owesAck(d: Draft): boolean {
  return d.deliveredThrough > d.ackSentThrough;
}

function sendAck(d: Draft, out: DeliveryCommand[]): void {
  d.ackSentThrough = d.deliveredThrough;
  d.ackAt = null;
  out.push({ type: 'ack', through: d.deliveredThrough });
}

function onForgotten(d: Draft, out: DeliveryCommand[]): void {
  const from = d.ackedThrough + 1;
  const last = d.nextSeq - 1;
  // Written and not acknowledged: they may or may not have arrived; the application decides.
  const handTo = Math.min(last, Math.max(d.transmittedThrough, d.ackedThrough));
  const handed = Math.max(0, handTo - from + 1);
  out.push(diagnostic('info', DELIVERY_DIAGNOSTICS.sessionForgotten, { messages: handed }));
  if (handed > 0) out.push({ type: 'hand_back', from, to: handTo });
  // Never written: certainly not received. They go on in the new session, in order, as its first messages.
  const carried = last - Math.max(handTo, d.ackedThrough);
  const kept = carried > 0 ? d.unacked.slice(d.unacked.length - carried) : NOTHING_UNACKED;
  if (carried > 0) out.push({ type: 'renumber', from: last - carried + 1, to: last });
  let bytes = 0;
  for (const size of kept) bytes += size;
  // A new session: both directions start afresh.
  d.nextSeq = carried + 1;
  d.ackedThrough = 0;
  d.unacked = kept;
  d.unackedBytes = bytes;
  d.sentThrough = 0;
  d.transmittedThrough = 0;
  d.deliveredThrough = 0;
  d.ackSentThrough = 0;
  d.ackAt = null;
}
