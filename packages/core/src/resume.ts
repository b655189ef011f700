import { diagnostic, type Diagnostic } from './commands.js';
import { DELIVERY_DEFAULTS, createDeliveryState, defineDeliveryConfig, deliveryDeadline, deliveryStep, type DeliveryCommand, type DeliveryConfig, type DeliveryOptions, type DeliveryState } from './delivery.js';
import { checkDuration, checkKnownKeys, optionOr } from './errors.js';
import type { ResumeLayer } from './resume-layer.js';
import type { Hello, ResumeRequest } from './wire.js';

/**
 * The client end of a resumable session (spec B14): the negotiation of wire
 * format v2 (`wire.ts`) around the delivery machine (`delivery.ts`). The
 * connection machine composes it, as it composes the session and reconnect
 * machines, and maps its commands to its own.
 *
 * Phases:
 * - `detached`: no connection; accepted messages wait in the replay buffer;
 * - `waiting`: a socket opened; the server's hello is awaited (until `helloTimeoutMs`). A server that is asked to
 *   resume a session first challenges the client: the client answers with its proof (the session's secret, in-band,
 *   and how many of the server's messages it delivered) and waits again, for the hello that says `resumed` or `new`;
 * - `resumed`: the hello came; messages flow numbered, acknowledged, retransmitted after a loss;
 * - `unsupported`: the server does not speak it (the first frame was not a hello, or none came in time): the
 *   client falls back to plain delivery for its lifetime and says so once.
 */

/** Options of the client's resumable session (`resume` in the client's options). */
export interface ResumeOptions extends DeliveryOptions {
  /**
   * How long after a socket opens the server's hello may take before the client decides the server does not speak
   * the protocol and falls back. Default 2 000 ms (only a server that does not speak it makes the client wait).
   */
  readonly helloTimeoutMs?: number | undefined;
}

/** Validated, frozen resume options. */
export interface ResumeConfig {
  readonly delivery: DeliveryConfig;
  readonly helloTimeoutMs: number;
}

/** The defaults of the client's resumable session. */
export const RESUME_DEFAULTS = /* @__PURE__ */ Object.freeze(/* @__PURE__ */ Object.assign({}, DELIVERY_DEFAULTS, { helloTimeoutMs: 2_000 }));

const RESUME_KEYS: readonly string[] = /* @__PURE__ */ Object.freeze(/* @__PURE__ */ Object.keys(RESUME_DEFAULTS));

/** Validates resume options once (B1); throws `KeepaliveOptionError` naming the option and the value. */
export function defineResumeConfig(options: ResumeOptions = {}): ResumeConfig {
  checkKnownKeys(options, RESUME_KEYS, 'resume');
  const { helloTimeoutMs, ...delivery } = options;
  return Object.freeze({
    delivery: defineDeliveryConfig(delivery),
    helloTimeoutMs: checkDuration('helloTimeoutMs', optionOr({ helloTimeoutMs }, 'helloTimeoutMs', RESUME_DEFAULTS.helloTimeoutMs)),
  });
}

/** Where the client end of a resumable session is (see the module's description). */
export type ResumePhase = 'detached' | 'waiting' | 'resumed' | 'unsupported';

/** The client end of a resumable session: plain, serialisable data. */
export interface ResumeState {
  readonly config: ResumeConfig;
  readonly phase: ResumePhase;
  /** The session the server named in its last hello, or `null` before the first. */
  readonly session: string | null;
  /**
   * The session's secret, from the hello that made it (`null` before): what the client proves when the server
   * challenges it. It goes out only in the proof frame, in-band; never in a URL, a command's diagnostic or an event.
   */
  readonly secret: string | null;
  /** When the awaited hello is late (phase `waiting`), else `null`. */
  readonly helloAt: number | null;
  /** Whether the client answered a challenge on this connection and awaits the verdict (B17). */
  readonly proved: boolean;
  /** The delivery machine: numbers, the replay buffer's accounting, acknowledgements. */
  readonly delivery: DeliveryState;
}

/**
 * Events of the client end:
 * - `opened`: a socket opened; the hello is awaited;
 * - `hello`: the server's hello arrived (the first frame of the connection);
 * - `foreign`: the first frame of the connection was not a hello: the server does not speak the protocol;
 * - `data`: an application message arrived (numbered implicitly: the next one);
 * - `ack`: the server acknowledged the client's messages through `through`;
 * - `disconnected`: the socket is gone;
 * - `closed_cleanly`: the client's own close handshake completed: the server read everything written before it;
 * - `accept`: the application sends a message of `bytes` bytes;
 * - `outgoing`: a keep-alive is about to go out and can carry an acknowledgement;
 * - `timeout`: time passed to `now`.
 */
export type ResumeEvent =
  | { readonly type: 'opened'; readonly now: number }
  | { readonly type: 'hello'; readonly now: number; readonly hello: Hello }
  | { readonly type: 'foreign'; readonly now: number }
  | { readonly type: 'data'; readonly now: number }
  | { readonly type: 'ack'; readonly now: number; readonly through: number }
  | { readonly type: 'disconnected'; readonly now: number }
  | { readonly type: 'closed_cleanly'; readonly now: number }
  | { readonly type: 'accept'; readonly now: number; readonly bytes: number }
  | { readonly type: 'outgoing'; readonly now: number }
  | { readonly type: 'timeout'; readonly now: number };

/**
 * Commands of the client end: the delivery machine's (`number`, `transmit`, `release`, `deliver`, `duplicate`,
 * `ack`, `hand_back`, `renumber`, `refuse`, `diagnostic`), and:
 * - `prove` `{secret, delivered}`: the server challenged the client: write the proof frame now (`encodeProof`);
 * - `requeue`: the server does not speak the protocol: every stored message (none was transmitted) goes to the
 *   plain queue, in order;
 * - `negotiated` `{status, retransmitted}`: how the session came up on this connection (`new`, `resumed`,
 *   `forgotten`: the server did not know the session, or `unsupported`), for the application.
 */
export type ResumeCommand =
  | Exclude<DeliveryCommand, Diagnostic>
  | { readonly type: 'requeue'; readonly messages: number; readonly bytes: number }
  | { readonly type: 'negotiated'; readonly status: NegotiatedStatus; readonly retransmitted: number }
  | { readonly type: 'prove'; readonly secret: string; readonly delivered: number }
  | Diagnostic;

/** How a session came up on a connection (see {@link ResumeCommand}). */
export type NegotiatedStatus = 'new' | 'resumed' | 'forgotten' | 'unsupported';

/**
 * Diagnostics of the client end (counts and durations only; never the session id, S10): info `session_resumed`
 * `{retransmitted}`, info `session_new`, warn `session_forgotten` `{messages}` (the delivery machine's, handed back),
 * warn `resume_unsupported` `{reason}` (`first_frame` or `hello_timeout`; once: the client falls back), warn
 * `unexpected_hello`, warn `verdict_timeout` `{timeout_ms}` (the server challenged, the client proved, and no hello came
 * within `helloTimeoutMs`: the connection is given up and the client reconnects, still resuming).
 */
export const RESUME_DIAGNOSTICS = /* @__PURE__ */ Object.freeze({
  resumed: 'session_resumed',
  fresh: 'session_new',
  unsupported: 'resume_unsupported',
  unexpectedHello: 'unexpected_hello',
  verdictTimeout: 'verdict_timeout',
} as const);

/** A new client end: no session yet, detached. */
export function createResumeState(config: ResumeConfig, now: number): ResumeState {
  return { config, phase: 'detached', session: null, secret: null, helloAt: null, proved: false, delivery: createDeliveryState(config.delivery, now) };
}

/**
 * What the client asks for in the URL of its next socket (the driver adds whether it reads ping payloads), or `null`
 * once the server turned out not to speak it.
 */
export function resumeRequest(state: ResumeState): Omit<ResumeRequest, 'pings'> | null {
  if (state.phase === 'unsupported') return null;
  return { session: state.session };
}

/**
 * Whether `value` is a resume layer (`resumable()` of `resume-layer.ts`): frozen, with the client end's step. Here,
 * not beside `resumable`, so that the connection machine can check its option without bundling the layer.
 */
export function isResumeLayer(value: unknown): value is ResumeLayer {
  const layer = value as Partial<ResumeLayer> | null;
  return typeof layer === 'object' && layer !== null && Object.isFrozen(layer) && layer.name === 'resume' && typeof layer.wire === 'object' && typeof layer.config === 'object';
}

/** Whether accepted messages go through the resumable session (else the plain queue). */
export function isResuming(state: ResumeState | null): state is ResumeState {
  return state !== null && state.phase !== 'unsupported';
}

/** The earliest deadline: the hello's, or an owed acknowledgement's. */
export function resumeDeadline(state: ResumeState): number | null {
  const ack = state.phase === 'resumed' ? deliveryDeadline(state.delivery) : null;
  if (state.helloAt === null) return ack;
  return ack === null ? state.helloAt : Math.min(ack, state.helloAt);
}

type Draft = { -readonly [K in keyof ResumeState]: ResumeState[K] };

/** The step of the client end: appends commands to `out` and returns the next state; never throws on a bad event. */
export function resumeStep(state: ResumeState, event: ResumeEvent, out: ResumeCommand[]): ResumeState {
  if (state.phase === 'unsupported') return state;
  const d: Draft = { ...state };
  switch (event.type) {
    case 'opened':
      d.phase = 'waiting';
      d.proved = false;
      d.helloAt = event.now + d.config.helloTimeoutMs;
      return d;
    case 'hello':
      onHello(d, event.now, event.hello, out);
      return d;
    case 'foreign':
      if (d.phase === 'waiting') fallBack(d, 'first_frame', out);
      return d;
    case 'data':
      if (d.phase === 'resumed') runDelivery(d, { type: 'frame', now: event.now, seq: d.delivery.deliveredThrough + 1 }, out);
      return d;
    case 'ack':
      if (d.phase === 'resumed') runDelivery(d, { type: 'ack', now: event.now, through: event.through }, out);
      return d;
    case 'disconnected':
      d.phase = 'detached';
      d.helloAt = null;
      d.proved = false;
      runDelivery(d, { type: 'disconnected', now: event.now }, out);
      return d;
    case 'closed_cleanly':
      // The server read every frame written before the client's close frame (TCP order, the close handshake).
      if (d.phase === 'resumed' && d.delivery.sentThrough > d.delivery.ackedThrough) runDelivery(d, { type: 'ack', now: event.now, through: d.delivery.sentThrough }, out);
      return d;
    case 'accept':
      runDelivery(d, { type: 'accept', now: event.now, bytes: event.bytes }, out);
      return d;
    case 'outgoing':
      if (d.phase === 'resumed') runDelivery(d, { type: 'outgoing', now: event.now }, out);
      return d;
    case 'timeout':
      if (d.phase === 'waiting' && d.helloAt !== null && d.helloAt <= event.now) {
        // After a challenge the server has shown it speaks the protocol: a late verdict (a slow store or admission
        // hook, a stalled path) is a failed connection, not a reason to give the protocol up.
        if (d.proved) stall(d, out);
        else fallBack(d, 'hello_timeout', out);
      }
      else if (d.phase === 'resumed') runDelivery(d, { type: 'timeout', now: event.now }, out);
      return d;
    default:
      return state;
  }
}

function runDelivery(d: Draft, event: Parameters<typeof deliveryStep>[1], out: ResumeCommand[]): void {
  // The delivery machine only appends its own commands, which are resume commands too.
  d.delivery = deliveryStep(d.delivery, event, out as unknown as DeliveryCommand[]);
}

function onHello(d: Draft, now: number, hello: Hello, out: ResumeCommand[]): void {
  if (d.phase !== 'waiting') {
    out.push(diagnostic('warn', RESUME_DIAGNOSTICS.unexpectedHello, {}));
    return;
  }
  if (hello.status === 'prove') {
    // B17: the session is resumed only by whoever holds its secret, proved in-band; the verdict is the next hello.
    if (d.session === null || d.secret === null) {
      out.push(diagnostic('warn', RESUME_DIAGNOSTICS.unexpectedHello, {}));
      return;
    }
    out.push({ type: 'prove', secret: d.secret, delivered: d.delivery.deliveredThrough });
    d.helloAt = now + d.config.helloTimeoutMs;
    d.proved = true;
    return;
  }
  d.helloAt = null;
  d.proved = false;
  let status: NegotiatedStatus = hello.status;
  // A session the server does not know (restart, expiry): what may not have arrived is handed back (B14).
  const forgotten = d.session !== null && (hello.status === 'new' || hello.session !== d.session);
  if (forgotten) {
    runDelivery(d, { type: 'forgotten', now }, out);
    status = 'forgotten';
  } else if (hello.status === 'resumed' && d.session === null) {
    // The server claims to resume a session this client never had: a protocol error, treated as a new session.
    out.push(diagnostic('warn', RESUME_DIAGNOSTICS.unexpectedHello, {}));
    status = 'new';
  }
  d.session = hello.session;
  if (hello.status === 'new') d.secret = hello.secret;
  d.phase = 'resumed';
  // The client's first frame after the hello is an acknowledgement: where its plain heartbeats (sent while it waited)
  // end and the wire format begins, for the server.
  const mark = out.length;
  runDelivery(d, { type: 'outgoing', now }, out);
  if (!out.slice(mark).some((command) => command.type === 'ack')) out.push({ type: 'ack', through: d.delivery.deliveredThrough });
  const before = d.delivery.ackedThrough;
  const pending = d.delivery.nextSeq - 1;
  const transmitted = d.delivery.transmittedThrough;
  // A new session starts at 0 whatever the hello says; a resumed one from what the server delivered.
  const peerDelivered = status === 'resumed' ? hello.delivered : 0;
  if (peerDelivered > pending || peerDelivered < before) {
    // The server claims more than was ever sent, or less than it acknowledged: a protocol error. Everything not
    // acknowledged goes again (the server drops what it already delivered).
    out.push(diagnostic('warn', RESUME_DIAGNOSTICS.unexpectedHello, {}));
    runDelivery(d, { type: 'resumed', now, peerDelivered: before }, out);
  } else {
    runDelivery(d, { type: 'resumed', now, peerDelivered }, out);
  }
  // Sent again: written on an earlier connection and not delivered by the server (the rest go for the first time).
  const retransmitted = Math.max(0, Math.min(pending, transmitted) - Math.max(before, peerDelivered));
  if (status === 'resumed') out.push(diagnostic('info', RESUME_DIAGNOSTICS.resumed, { retransmitted }));
  else if (status === 'new') out.push(diagnostic('info', RESUME_DIAGNOSTICS.fresh, {}));
  out.push({ type: 'negotiated', status, retransmitted });
}

/** No verdict in time after the proof: the connection is given up (the connection machine destroys it and reconnects). */
function stall(d: Draft, out: ResumeCommand[]): void {
  d.phase = 'detached';
  d.helloAt = null;
  d.proved = false;
  out.push(diagnostic('warn', RESUME_DIAGNOSTICS.verdictTimeout, { timeout_ms: d.config.helloTimeoutMs }));
}

function fallBack(d: Draft, reason: 'first_frame' | 'hello_timeout', out: ResumeCommand[]): void {
  d.phase = 'unsupported';
  d.helloAt = null;
  out.push(diagnostic('warn', RESUME_DIAGNOSTICS.unsupported, { reason }));
  // Written to an earlier server that spoke the wire format and not acknowledged: they may have arrived, so they are
  // handed back (as for a forgotten session); those never written go to the plain queue, in order.
  if (d.delivery.transmittedThrough > d.delivery.ackedThrough) runDelivery(d, { type: 'forgotten', now: d.delivery.now }, out);
  const messages = d.delivery.unacked.length;
  if (messages > 0) out.push({ type: 'requeue', messages, bytes: d.delivery.unackedBytes });
  d.delivery = createDeliveryState(d.config.delivery, d.delivery.now);
  out.push({ type: 'negotiated', status: 'unsupported', retransmitted: 0 });
}
