import {
  checkDuration,
  checkHeartbeatMessage,
  checkInteger,
  checkKnownKeys,
  KeepaliveOptionError,
  createDeliveryState,
  defineDeliveryConfig,
  deliveryDeadline,
  deliveryStep,
  constantTimeEqual,
  encodeAck,
  encodeHeartbeat,
  encodeHello,
  encodePingAck,
  escapeText,
  nestedOptions,
  optionOr,
  readPingAck,
  readResumeQuery,
  restoreDeliveryState,
  readResumeText,
  utf8Length,
  type DeliveryCommand,
  type DeliveryConfig,
  type DeliveryEvent,
  type DeliveryOptions,
  type DeliveryState,
  type Diagnostic,
  type DiagnosticFields,
  type DiagnosticLevel,
  type Proof,
  type AdmissionCandidate,
  type ServerSessionCommand,
  type ServerSessionEvent,
  type ServerSessionState,
  admitConnection,
  createServerSessionState,
  isEvictable,
  serverSessionDeadline,
  serverSessionStep,
} from '@keepalive/core';
import { Emitter, createDiagnosticSink, defaultScheduler, errorName, nextInstanceId, type Logger, type ScheduledEntry, type Scheduler } from '@keepalive/node-timers';
import { HEARTBEAT_MESSAGE } from './heartbeat.js';
import type { SessionStore, StoredSession } from './resume-store.js';
import { randomToken, secretDigest } from './resume-secret.js';

/**
 * The server end of resumable sessions (spec B14, B17, wire format v2 of
 * `@keepalive/core`), runtime-neutral: no `node:` module, no `ws`, no
 * `Buffer` (typed arrays and `TextDecoder` only), so the `ws` integration,
 * Bun's and Deno's drive the same hub. A session outlives its connections:
 * the server numbers what it sends and keeps it until the client
 * acknowledges it, retransmits the rest when the client comes back, delivers
 * the client's messages exactly once and in order, and hands back what the
 * client never acknowledged when the session ends or expires. A session
 * belongs to whoever holds its secret (B17): a connection that names one is
 * challenged, and nothing about the session changes until it proved the
 * secret in-band and the application's `admit` hook accepted it.
 */

/**
 * Options of a resumable session: the delivery options of `@keepalive/core`
 * (`maxUnackedMessages`, `maxUnackedBytes`, `ackDelayMs`) and the hub's own.
 */
export interface ServerResumeOptions extends DeliveryOptions {
  /** How long a disconnected session is kept for its client to come back. Default 120 000 ms. */
  readonly sessionTtlMs?: number | undefined;
  /**
   * Sessions a hub holds at most (connected or waiting). Past it, a new session evicts the oldest unconfirmed one
   * without a connection (see `unconfirmedTtlMs`), or is refused with 1013 when there is none. Default 10 000.
   */
  readonly maxSessions?: number | undefined;
  /**
   * How long a session whose client never wrote a frame after the hello that made it (a client that took the hello
   * and left, or a flood of bare upgrades) is kept once its connection is lost. Such a session is also the first to
   * make room when the hub is full. Default 10 000 ms (at most `sessionTtlMs`).
   */
  readonly unconfirmedTtlMs?: number | undefined;
  /**
   * How long a connection may take from its upgrade to its hello: the client's proof of a session it names, the
   * store's answer and the application's `admit` hook. Past it the connection is closed with 4408 (the client
   * retries) and nothing changed. Default 10 000 ms.
   */
  readonly handshakeTimeoutMs?: number | undefined;
}

/**
 * Validated, frozen resume options.
 */
export interface ServerResumeConfig {
  readonly delivery: DeliveryConfig;
  readonly sessionTtlMs: number;
  readonly maxSessions: number;
  readonly unconfirmedTtlMs: number;
  readonly handshakeTimeoutMs: number;
}

/**
 * The hub's defaults (the delivery defaults are `DELIVERY_DEFAULTS` of `@keepalive/core`).
 */
export const SESSION_HUB_DEFAULTS = Object.freeze({ sessionTtlMs: 120_000, maxSessions: 10_000, unconfirmedTtlMs: 10_000, handshakeTimeoutMs: 10_000 });

/**
 * Close codes the hub sends: 1000 (a session ended by the application), 1001
 * (the hub closed), 1002 (a resume request this version cannot read, a wire
 * format v1 client, or a frame other than the proof after a challenge), 1013
 * (`maxSessions` reached: try again later), 1011 (a frame could not be written:
 * the client resumes on a new connection), 4001 (the session was resumed on
 * a newer connection that proved its secret; the older one is closed), 4403
 * (a wrong proof, or the `admit` hook refused: nothing changed), 4408 (the
 * handshake took longer than `handshakeTimeoutMs`: nothing changed).
 */
export const RESUME_CLOSE_CODES = Object.freeze({
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  internalError: 1011,
  tryAgainLater: 1013,
  resumedElsewhere: 4001,
  refused: 4403,
  handshakeTimeout: 4408,
} as const);

/** The close reason a wire format v1 client gets (with 1002): its session ids were bearer credentials in the URL. */
export const LEGACY_REFUSAL_REASON = 'keepalive resume v1 refused: upgrade the client';

const CLOSE_CODES_ABNORMAL = 1006;

/**
 * Diagnostics of a {@link SessionHub} (counts, codes, names and durations
 * only, spec S10: never payloads, URLs or session ids), besides the
 * delivery machine's (`DELIVERY_DIAGNOSTICS` of `@keepalive/core`:
 * `replay_full`, `retransmitted`, `invalid_ack`, `duplicate_dropped`,
 * `delivery_gap`):
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `session_started` | debug | `sessions` (held now) |
 * | `session_resumed` | info | `away_ms` |
 * | `session_unknown` | info | `reason` (`unknown`, `impossible_delivered` or `unrestorable`) |
 * | `resume_refused` | warn | `reason` (`proof`, `admission`, `timeout`, `legacy`), `failures` (wrong proofs for that session so far, with `proof`) |
 * | `session_evicted` | info | `sessions` (an unconfirmed session made room for a new one) |
 * | `session_replaced` | warn | none (a half-open connection closed with 4001) |
 * | `sessions_full` | warn | `limit` |
 * | `invalid_resume_request` | warn | none (closed with 1002) |
 * | `protocol_error` | warn | `total` (a control frame this version cannot read; not delivered) |
 * | `message_unheard` | warn | `total` (delivered with no `message` listener) |
 * | `session_closed` | info | `by`, `code`, `messages` (handed back) |
 * | `session_expired` | info | `messages` (handed back) |
 * | `listener_failed` | warn | `event`, `error` |
 * | `socket_failed` | warn | `op`, `error` |
 * | `session_restored` | info | `messages` (taken over from the store: another process held it) |
 * | `store_failed` | warn | `op`, `error` (a store that threw or rejected; the session is new, or kept here only) |
 */
export const SESSION_HUB_DIAGNOSTICS = Object.freeze({
  sessionStarted: 'session_started',
  sessionResumed: 'session_resumed',
  sessionUnknown: 'session_unknown',
  resumeRefused: 'resume_refused',
  sessionEvicted: 'session_evicted',
  sessionReplaced: 'session_replaced',
  sessionsFull: 'sessions_full',
  invalidRequest: 'invalid_resume_request',
  protocolError: 'protocol_error',
  messageUnheard: 'message_unheard',
  sessionClosed: 'session_closed',
  sessionExpired: 'session_expired',
  listenerFailed: 'listener_failed',
  socketFailed: 'socket_failed',
  sessionRestored: 'session_restored',
  storeFailed: 'store_failed',
} as const);

const RESUME_KEYS: readonly string[] = Object.freeze(['maxUnackedMessages', 'maxUnackedBytes', 'ackDelayMs', 'sessionTtlMs', 'maxSessions', 'unconfirmedTtlMs', 'handshakeTimeoutMs']);
const HUB_KEYS: readonly string[] = Object.freeze([...RESUME_KEYS, 'heartbeatMessage', 'scheduler', 'onDiagnostic', 'logger', 'store', 'admit']);

/** Wrong proofs of one session reported one by one; past this, only every power of two is (the count goes on). */
const REPORTED_PROOF_FAILURES = 10;

/** Digests of stored sessions read lately (B17), kept so that wrong proofs for them cost no store read: at most this many. */
const STORED_PROOFS = 1_024;

/** A session this hub does not hold, as its store's digest was read: the digest, and the wrong proofs it has seen. */
interface StoredProof {
  readonly digest: string;
  failedProofs: number;
}

/**
 * Validates resume options once (B1); throws `KeepaliveOptionError` naming the option and the value.
 */
export function defineServerResumeConfig(options: ServerResumeOptions = {}): ServerResumeConfig {
  checkKnownKeys(options, RESUME_KEYS, 'resume');
  const { sessionTtlMs: _ttl, maxSessions: _max, unconfirmedTtlMs: _unconfirmed, handshakeTimeoutMs: _handshake, ...delivery } = options;
  const sessionTtlMs = checkDuration('sessionTtlMs', optionOr(options, 'sessionTtlMs', SESSION_HUB_DEFAULTS.sessionTtlMs));
  return Object.freeze({
    delivery: defineDeliveryConfig(delivery),
    sessionTtlMs,
    maxSessions: checkInteger('maxSessions', optionOr(options, 'maxSessions', SESSION_HUB_DEFAULTS.maxSessions), 1, 10_000_000),
    unconfirmedTtlMs: Math.min(sessionTtlMs, checkDuration('unconfirmedTtlMs', optionOr(options, 'unconfirmedTtlMs', SESSION_HUB_DEFAULTS.unconfirmedTtlMs))),
    handshakeTimeoutMs: checkDuration('handshakeTimeoutMs', optionOr(options, 'handshakeTimeoutMs', SESSION_HUB_DEFAULTS.handshakeTimeoutMs)),
  });
}

/**
 * What the application's admission hook is asked (B17), before anything about a session changes:
 * - `kind`: `new` (the connection asks for a new session, or named one known nowhere: it will get a new one),
 *   `resume` (it proved the secret of `session`, held here), `restore` (it proved the secret of a session another
 *   process held: it is taken up from the store once admitted);
 * - `session`: the session held here for `resume` (its owner's connection is untouched until the hook admits),
 *   else `null`;
 * - `context`: what the adapter passed for this connection (for `keepAlive(wss)`, the socket and the upgrade
 *   request: check its cookie or token against the session's owner here).
 */
export interface AdmissionQuery<C = unknown> {
  readonly kind: 'new' | 'resume' | 'restore';
  readonly session: ResumableSession | null;
  readonly context: C;
}

/**
 * What the admission hook answers: `true` admits; `false` refuses with 4403; `{ code, reason }` refuses with that
 * close code (1000 or 3000–4999; 4401 and 4403 end a keepalive client, other 4xxx codes make it retry) and reason
 * (at most 123 UTF-8 bytes). A hook that throws or rejects refuses with 4403, reported as `listener_failed`.
 */
export type AdmissionVerdict = boolean | { readonly code: number; readonly reason?: string | undefined };

/**
 * Options of {@link createSessionHub}: the {@link ServerResumeOptions}, the
 * scheduler, where diagnostics go, the store and the admission hook.
 */
export interface SessionHubOptions<C = unknown> extends ServerResumeOptions {
  /**
   * The application's admission hook (B17): asked once per connection, after the client proved the secret of the
   * session it names and before the session changes hands (or before a new session is made), so that
   * authentication against the upgrade request happens before the owner's connection is touched. May be
   * asynchronous (bounded by `handshakeTimeoutMs`). Default: every proved connection is admitted.
   */
  readonly admit?: ((query: AdmissionQuery<C>) => AdmissionVerdict | Promise<AdmissionVerdict>) | undefined;
  /**
   * The plain heartbeat message (default {@link HEARTBEAT_MESSAGE}, the empty text frame): what a resuming client
   * sends as its keep-alive while it waits for the hello. Until the first wire-format frame of a connection it is a
   * heartbeat; after that it is application text.
   */
  readonly heartbeatMessage?: string | undefined;
  /** The scheduler (expiry and standalone acknowledgements); default: the process-wide one of @keepalive/node-timers. */
  readonly scheduler?: Scheduler | undefined;
  /** Called with every diagnostic (counts, names and durations only). */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
  /** A logger for the diagnostics (a function, or a console-style or pino-style logger). */
  readonly logger?: Logger | undefined;
  /**
   * Where the sessions' delivery state is kept beyond this process (default: nowhere), so that a client resumes on
   * another process of the fleet (see {@link SessionStore}; `@keepalive/redis` has one on Redis).
   */
  readonly store?: SessionStore | undefined;
}

/**
 * What the hub needs from a server-side socket (Bun's, Deno's and `ws`'s
 * sockets fit in a line of glue).
 */
export interface ResumeSocket {
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code: number, reason: string): void;
}

/**
 * An inbound frame as runtimes deliver it: a string (WHATWG, Bun, Deno text),
 * bytes (`ws` delivers text as bytes too, with `isBinary` false), or
 * fragments (`ws`'s `binaryType: 'fragments'`).
 */
export type ResumeFrame = string | ArrayBuffer | ArrayBufferView | readonly ArrayBufferView[];

/**
 * What an inbound frame was, for the adapter's peer tracker:
 * - `heartbeat`: the client's keep-alive (`\u0006A<n>`): feed `peer.inbound('heartbeat')` so the heartbeat-answer
 *   rule answers it with {@link ResumeConnection.heartbeatReply};
 * - `ack`: a standalone acknowledgement (proof of life, never answered);
 * - `data`: application data (delivered to the session, or dropped as a duplicate);
 * - `invalid`: a control frame this version cannot read (counted, reported, not delivered);
 * - `proof`: the client's proof of the session it named (read by the hub; proof of life);
 * - `ignored`: the connection does not carry a session (not yet, or no longer: refused, replaced or ended): nothing
 *   is read; the client retransmits whatever it has not seen acknowledged when it resumes.
 *
 * Every kind but `heartbeat` is `peer.inbound('message')`.
 */
export type ResumeFrameKind = 'heartbeat' | 'ack' | 'data' | 'invalid' | 'proof' | 'ignored';

/**
 * A message of a session: text as a string; binary as the runtime delivered it (inbound: a `Uint8Array`, which is
 * `ws`'s `Buffer`, or an `ArrayBuffer`) or as the hub keeps it (handed back: a `Uint8Array` copy).
 */
export type SessionMessage = string | Uint8Array | ArrayBuffer;

/**
 * What {@link ResumableSession.send} did: `sent` (written on the connection now) or `queued` (kept for the client's
 * return; it goes out, in order, when the client resumes, or is handed back if it never does).
 */
export type SessionSendResult = 'sent' | 'queued';

/**
 * The `close` event of a session: it ended, by the client (a close with 1000: it ended its session deliberately)
 * or by the server (`session.close()`, or the hub closed). `unacked` holds the server's messages the client never
 * acknowledged, oldest first, handed back (never dropped silently, B14): a client delivers what it received before
 * it closed, but messages written while its close frame was on its way cross it, and a WHATWG client drops messages
 * that arrive after it called `close()`; so the server cannot count them delivered. A client that acknowledges
 * before closing (a standalone ack, then 1000) leaves only those crossing messages here; they may also have been
 * delivered but not yet acknowledged, so treat them as possibly delivered.
 */
export interface SessionCloseEvent {
  readonly by: 'client' | 'server';
  readonly code: number;
  readonly reason: string;
  readonly unacked: readonly SessionMessage[];
}

/**
 * The `expired` event of a session: its client did not come back within `sessionTtlMs`. The session is gone;
 * `unacked` holds the server's messages the client never acknowledged, oldest first (handed back, B14).
 */
export interface SessionExpiredEvent {
  readonly unacked: readonly SessionMessage[];
  /** How long the session waited without a connection. */
  readonly awayMs: number;
}

/**
 * The events of a {@link ResumableSession}: `message` (each of the client's messages, exactly once and in order),
 * `close` and `expired` (the session ended; one of them, once).
 */
export interface ResumableSessionEvents {
  message: SessionMessage;
  close: SessionCloseEvent;
  expired: SessionExpiredEvent;
}

/**
 * A resumable session as the application sees it: it outlives connections.
 * Read the client's messages here, never from the socket (raw frames include
 * control frames and retransmissions).
 */
export interface ResumableSession {
  /**
   * The session id (128 random bits, base64url). Public in wire format v2 (it is in the client's URL, so proxies log
   * it): resuming needs the session's secret, which the hub never keeps (only its digest). Still, do not log it.
   */
  readonly id: string;
  /** Whether a connection is attached now. */
  readonly connected: boolean;
  /** Whether the session has ended (closed or expired). */
  readonly ended: boolean;
  /** Server messages waiting for the client's acknowledgement. */
  readonly unackedMessages: number;
  /** Their size in bytes (UTF-8 for text). */
  readonly unackedBytes: number;
  /**
   * Sends a message to the client: `sent` when written now, `queued` when kept for the client's return. Text
   * starting with U+0006 is escaped on the wire (the client reads it back unchanged). Binary data is copied (the
   * hub keeps it for retransmission). Throws {@link ReplayFullError} when the replay buffer is full (nothing is
   * dropped: the message was not accepted), {@link SessionEndedError} after the session ended, and `TypeError`
   * for anything but a string, an `ArrayBuffer` or a typed array.
   */
  send(data: string | ArrayBuffer | ArrayBufferView): SessionSendResult;
  /** Adds a listener; returns the function that removes it. A listener that throws is reported (`listener_failed`). */
  on<K extends keyof ResumableSessionEvents>(event: K, listener: (event: ResumableSessionEvents[K]) => void): () => void;
  /**
   * Ends the session: closes the attached socket (if any) with `code` (default 1000; 1000 or 3000–4999) and
   * `reason` (at most 123 bytes), then emits `close` with the unacknowledged messages handed back.
   */
  close(code?: number, reason?: string): void;
}

/**
 * The `session` event of a hub: a connection attached to a session, new or
 * resumed. `forgotten` is true when the client presented a session the hub
 * does not know (the server restarted, the session expired or ended, or the
 * client's count was impossible): a new session was made, and the hello told
 * the client (`new`), which hands back what it had not seen acknowledged.
 */
export interface SessionEvent<C = unknown> {
  readonly session: ResumableSession;
  readonly resumed: boolean;
  readonly forgotten: boolean;
  /**
   * True when the session was resumed from the hub's store: another process held it (`resumed` is true too). The
   * session object is new in this process: add its listeners, as for a new session.
   */
  readonly restored: boolean;
  /**
   * What the adapter passed to {@link SessionHub.connect} for this connection (for `keepAlive(wss)`, the socket
   * and the upgrade request: authenticate here, before trusting the session).
   */
  readonly context: C;
}

/**
 * The `refused` event of a hub: a connection that asked for a resumable session got none, and nothing about any
 * session changed (B17). `reason`: `proof` (a wrong secret for a session held here or stored), `admission` (the
 * `admit` hook said no), `timeout` (no proof, store answer or verdict within `handshakeTimeoutMs`), `full`
 * (`maxSessions`, nothing to evict), `legacy` (a wire format v1 client), `invalid` (a request or first frame this
 * version cannot read). `code` is the close code the connection got. No secret, id or URL is in it.
 */
export interface RefusedEvent<C = unknown> {
  readonly reason: 'proof' | 'admission' | 'timeout' | 'full' | 'legacy' | 'invalid';
  readonly code: number;
  readonly context: C;
}

/**
 * The events of a {@link SessionHub}: `session` (a connection attached to a session) and `refused`.
 */
export interface SessionHubEvents<C = unknown> {
  session: SessionEvent<C>;
  refused: RefusedEvent<C>;
}

/**
 * One connection of a resuming client, as {@link SessionHub.connect}
 * returned it: what the adapter calls from its socket handlers. None of its
 * methods throws on bad peer input.
 */
export interface ResumeConnection {
  /** Whether this connection carries a session now (false once refused, replaced or ended). */
  readonly attached: boolean;
  /**
   * Reads an inbound frame (`isBinary`: `ws`'s flag; leave it out for runtimes that deliver text as strings). The
   * plain heartbeat message is a `heartbeat` until the client's first wire-format frame on the connection (what a
   * client sends while it waits for the hello); after that, text is read as the wire format.
   */
  message(data: ResumeFrame, isBinary?: boolean): ResumeFrameKind;
  /** Reads the payload of the client's protocol ping (it may carry an acknowledgement). */
  ping(payload: ResumeFrame): void;
  /** The payload for the server's next keep-alive ping: the owed acknowledgement when the client reads pings (`ka_p=1`), else `''`. */
  pingPayload(): string;
  /** The heartbeat to answer the client's heartbeat with on this connection: `\u0006A<delivered>` (it carries the acknowledgement). */
  heartbeatReply(): string;
  /** The socket closed with `code`: 1000 from the client ends the session; anything else waits `sessionTtlMs` for the client. */
  closed(code: number): void;
}

/**
 * Counters of a hub.
 */
export interface SessionHubStats {
  /** Sessions held now (connected or waiting). */
  readonly sessions: number;
  /** Of those, connected now. */
  readonly connected: number;
  readonly created: number;
  readonly resumed: number;
  /** Clients that presented a session the hub did not know (a new one was made). */
  readonly forgotten: number;
  /** Half-open connections closed with 4001 because their session resumed elsewhere. */
  readonly replaced: number;
  readonly expired: number;
  /** Sessions ended by the client (1000) or the server. */
  readonly ended: number;
  /** New sessions refused with 1013 (`maxSessions`). */
  readonly refused: number;
  /** Unconfirmed sessions evicted to make room for a new one. */
  readonly evicted: number;
  /** Connections refused for a wrong proof (4403). */
  readonly wrongProofs: number;
  /** Connections the `admit` hook refused. */
  readonly refusedAdmissions: number;
  /** Connections closed for a handshake longer than `handshakeTimeoutMs` (4408). */
  readonly handshakeTimeouts: number;
  /** Resume requests refused with 1002 (unreadable, wire format v1, or no proof after a challenge). */
  readonly invalidRequests: number;
  readonly protocolErrors: number;
  /** Client messages delivered while the session had no `message` listener. */
  readonly unheardMessages: number;
  readonly listenerErrors: number;
  /** Exceptions thrown by a socket's `send` or `close`, caught. */
  readonly socketErrors: number;
}

type Counter = keyof Omit<SessionHubStats, 'sessions' | 'connected'>;
type MutableStats = Record<Counter, number>;

/**
 * Thrown by {@link ResumableSession.send} when the replay buffer is full: the message was not accepted (nothing is
 * dropped silently). Wait for the client to acknowledge (or to come back), or end the session.
 */
export class ReplayFullError extends Error {
  /** Which limit refused it. */
  readonly limit: 'messages' | 'bytes';
  /** The size of the refused message in bytes. */
  readonly bytes: number;
  readonly unackedMessages: number;
  readonly unackedBytes: number;
  readonly maxUnackedMessages: number;
  readonly maxUnackedBytes: number;

  constructor(limit: 'messages' | 'bytes', bytes: number, state: DeliveryState) {
    const { maxUnackedMessages, maxUnackedBytes } = state.config;
    super(
      `Replay buffer full (${limit}): ${state.unacked.length}/${maxUnackedMessages} messages and ${state.unackedBytes}/${maxUnackedBytes} bytes wait for the client's acknowledgement; the message of ${bytes} bytes was not accepted`,
    );
    this.name = 'ReplayFullError';
    this.limit = limit;
    this.bytes = bytes;
    this.unackedMessages = state.unacked.length;
    this.unackedBytes = state.unackedBytes;
    this.maxUnackedMessages = maxUnackedMessages;
    this.maxUnackedBytes = maxUnackedBytes;
  }
}

/**
 * Thrown by {@link ResumableSession.send} after the session ended (closed or expired): the message was not accepted.
 */
export class SessionEndedError extends Error {
  constructor() {
    super('The resumable session has ended (closed or expired); the message was not accepted');
    this.name = 'SessionEndedError';
  }
}

/** The `accept` being stepped: its payload, and what the step decided about it. */
interface Accepting {
  readonly payload: SessionMessage;
  sent: boolean;
  refused: 'messages' | 'bytes' | null;
}

/** What a session needs from its hub (kept off the hub's public surface). */
interface HubHost {
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
const NO_FIELDS: DiagnosticFields = Object.freeze({});
const NOTHING: readonly SessionMessage[] = Object.freeze([]);
const decoder = new TextDecoder('utf-8', { fatal: true });
/** A digest as `secretDigest` writes it: SHA-256 as unpadded base64url. */
const DIGEST = /^[A-Za-z0-9_-]{43}$/;

function bytesOf(data: Exclude<ResumeFrame, string>): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let length = 0;
  for (const part of data) length += part.byteLength;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const part of data) {
    joined.set(new Uint8Array(part.buffer, part.byteOffset, part.byteLength), offset);
    offset += part.byteLength;
  }
  return joined;
}

/** Whether `data` is something a frame can be read from (a runtime may hand over a Blob, which cannot be read now). */
function isFrame(data: unknown): data is ResumeFrame {
  return typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data) || (Array.isArray(data) && data.every((part) => ArrayBuffer.isView(part)));
}

/** A binary inbound frame as the application gets it: `Uint8Array` (ws's Buffer) and `ArrayBuffer` as given. */
function binaryOf(data: Exclude<ResumeFrame, string>): SessionMessage {
  if (data instanceof ArrayBuffer || data instanceof Uint8Array) return data;
  return bytesOf(data);
}

/** A ping payload as text, when it can be a count (at most 16 ASCII digits); `''` otherwise. */
function pingText(payload: ResumeFrame): string {
  if (typeof payload === 'string') return payload.length <= 16 ? payload : '';
  const bytes = bytesOf(payload);
  if (bytes.byteLength > 16) return '';
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** A session another process held, read back from the hub's store: its delivery state, unacknowledged payloads and digest. */
interface RestoredSession {
  readonly state: DeliveryState;
  readonly unacked: readonly SessionMessage[];
  readonly proof: string;
}

/** Reads a stored session back; `null` when what was stored cannot be a session (a delivery's state and a digest). */
function restoreSession(config: DeliveryConfig, stored: StoredSession, now: number): RestoredSession | null {
  const given: unknown = stored.unacked;
  const proof: unknown = stored.proof;
  if (!Array.isArray(given) || typeof proof !== 'string' || !DIGEST.test(proof)) return null;
  const unacked: SessionMessage[] = [];
  const sizes: number[] = [];
  for (const payload of given as readonly unknown[]) {
    if (typeof payload === 'string') sizes.push(utf8Length(payload));
    else if (payload instanceof Uint8Array) sizes.push(payload.byteLength);
    else return null;
    unacked.push(payload);
  }
  const state = restoreDeliveryState(config, { ...stored, unacked: sizes }, now);
  return state === null ? null : { state, unacked, proof };
}

/**
 * One session. Per session: this object, its delivery state and its lifetime
 * state (small objects, replaced on each step), its scheduler entry, and the payloads the
 * client has not acknowledged (a ring, allocated only while any wait).
 * Listeners are one small array, allocated on the first `on`.
 */
class Session implements ResumableSession {
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
    const now = host.scheduler.now();
    const { sessionTtlMs, unconfirmedTtlMs } = host.config;
    this.state = restored?.state ?? createDeliveryState(host.config.delivery, now);
    this.life = createServerSessionState(sessionTtlMs, now, unconfirmedTtlMs, restored !== null);
    if (restored !== null) {
      this.written = restored.state.transmittedThrough;
      this.ring = restored.unacked.length === 0 ? null : [...restored.unacked];
      this.ringFirst = restored.state.ackedThrough + 1;
      this.savedCounters = this.counters();
    }
    // The session is its own wake target: no closure per session.
    this.entry = host.scheduler.entry(this);
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
        if (old !== null) this.host.shut(old.socket, RESUME_CLOSE_CODES.resumedElsewhere, 'resumed elsewhere');
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
    this.live({ type: 'confirm', now: this.host.scheduler.now() });
  }

  /** The hub is full and this session is evictable (unconfirmed, without a connection): it goes now, as an expiry. */
  evict(): void {
    const evicted = this.live({ type: 'evict', now: this.host.scheduler.now() }).find((command) => command.type === 'expired');
    if (evicted === undefined) return;
    this.host.count('evicted');
    this.expire(evicted.awayMs);
  }

  /** An inbound data frame: number `deliveredThrough + 1` on this connection (implicit numbering). */
  receive(payload: SessionMessage): void {
    this.run({ type: 'frame', now: this.host.scheduler.now(), seq: this.state.deliveredThrough + 1 }, payload, false);
    this.reschedule();
  }

  /** The client acknowledged everything through `through`. */
  acked(through: number): void {
    this.run({ type: 'ack', now: this.host.scheduler.now(), through }, null, false);
    this.reschedule();
  }

  /** An outgoing keep-alive carries the owed acknowledgement: returns it, or `null` when none is owed. */
  carryAck(): number | null {
    const ack = this.run({ type: 'outgoing', now: this.host.scheduler.now() }, null, true);
    this.reschedule();
    return ack;
  }

  /** The connection `handle` closed with `code`: with 1000 the client ended the session, else it is kept for the client's return. */
  connectionClosed(handle: Connection, code: number): void {
    if (this.handle !== handle) return;
    const now = this.host.scheduler.now();
    this.detach(now);
    const ended = this.live({ type: 'detach', now, code }).some((command) => command.type === 'ended');
    if (ended) this.end('client', code, '');
    else this.reschedule();
  }

  /** Called by the scheduler: an owed acknowledgement is due, or the session expired. */
  wake(now: number): void {
    if (this.ended) return;
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
    if (code !== RESUME_CLOSE_CODES.normal && !(Number.isInteger(code) && code >= 3000 && code <= 4999)) {
      throw new RangeError(`close(code): ${String(code)} is not a code an application may send (1000, or 3000 to 4999)`);
    }
    if (typeof reason !== 'string' || utf8Length(reason) > 123) throw new RangeError('close(code, reason): reason must be a string of at most 123 UTF-8 bytes');
    this.closeByServer(code, reason);
  }

  /** Ends the session from the server side (the application, or the hub closing): its connection is closed with `code`. */
  closeByServer(code: number, reason: string): void {
    const handle = this.handle;
    const now = this.host.scheduler.now();
    if (!this.live({ type: 'end', now }).some((command) => command.type === 'ended')) return;
    if (handle !== null) {
      this.detach(now);
      this.host.shut(handle.socket, code, reason);
    }
    this.end('server', code, reason);
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
    this.emitFinal('close', { by, code, reason, unacked });
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

  private reschedule(): void {
    if (this.ended) return;
    const store = this.host.store;
    if (store !== null) {
      // Each change of the delivery's counters is handed to the store, which reads the snapshot when it writes.
      const counters = this.counters();
      if (counters !== this.savedCounters) {
        this.savedCounters = counters;
        try {
          store.save(this.id, () => this.snapshot());
        } catch (error) {
          this.host.storeFailed('save', error);
        }
      }
    }
    const failed = this.failed;
    if (failed !== null) {
      this.failed = null;
      if (this.handle === failed) {
        this.host.shut(failed.socket, RESUME_CLOSE_CODES.internalError, 'send failed');
        this.connectionClosed(failed, CLOSE_CODES_ABNORMAL);
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
    if (!this.host.write(handle.socket, typeof payload === 'string' ? escapeText(payload) : payload)) {
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

/**
 * One connection's handle. Before its hello it is in its handshake (B17): `proving` (it named a session and was
 * challenged: the first frame must be its proof) or `pending` (the hub waits for the store or the `admit` hook),
 * bounded by `handshakeTimeoutMs`; then it carries a session (`session`), until it is let go; `done` once attached
 * or refused.
 */
class Connection implements ResumeConnection {
  session: Session | null = null;
  /** The session the client named in its URL (public), or `null` for a new one. */
  named: string | null = null;
  stage: 'proving' | 'pending' | 'done' = 'pending';
  /** The socket closed before the handshake ended: nothing is taken up for it. */
  gone = false;
  /** Whether a hello was written on this connection (before it, the plain heartbeat is answered plainly). */
  private greeted = false;
  /**
   * Whether the client has written a wire-format frame on this connection after the hello. Before that, a client's
   * keep-alive is the plain heartbeat message (it cannot know yet that the server speaks the wire format) and it
   * writes no application message; after it, every frame is wire format. Its frames are ordered, so plain
   * heartbeats come first. The proof does not count: it comes before the hello.
   */
  private speaking = false;
  /** The handshake's deadline (`handshakeTimeoutMs`), while it runs. */
  private timer: ScheduledEntry | null = null;

  constructor(
    private readonly host: HubHost,
    readonly socket: ResumeSocket,
    private readonly pings: boolean,
    readonly context: unknown,
  ) {}

  get attached(): boolean {
    return this.session !== null;
  }

  /** Starts the handshake's clock. */
  arm(deadline: number): void {
    this.timer = this.host.scheduler.entry(this);
    this.timer.schedule(deadline);
  }

  /** The handshake ended (attached, refused, or the socket closed): its clock stops. */
  settle(): void {
    if (this.stage === 'done') return;
    this.stage = 'done';
    this.timer?.dispose();
    this.timer = null;
    this.host.handshakeEnded(this);
  }

  /** Called by the scheduler at the handshake's deadline. */
  wake(): void {
    if (this.stage !== 'done' && !this.gone) this.host.handshakeTimedOut(this);
  }

  /** The session this connection carries from now on (`null`: let go). */
  attach(session: Session | null): void {
    this.session = session;
    if (session !== null) {
      this.settle();
      this.greeted = true;
    }
  }

  message(data: ResumeFrame, isBinary?: boolean): ResumeFrameKind {
    const session = this.session;
    if (session === null) return this.handshake(data, isBinary);
    if (!isFrame(data)) return this.invalid();
    if (typeof data !== 'string' && isBinary !== false) {
      this.spoke(session);
      session.receive(binaryOf(data));
      return 'data';
    }
    const text = textOf(data);
    if (text === null) return this.invalid();
    if (!this.speaking && text === this.host.heartbeatMessage) return 'heartbeat';
    this.spoke(session);
    const read = readResumeText(text);
    switch (read.kind) {
      case 'data':
        session.receive(read.text);
        return 'data';
      case 'heartbeat':
        session.acked(read.ack);
        return 'heartbeat';
      case 'ack':
        session.acked(read.ack);
        return 'ack';
      default:
        // An unreadable control frame, a hello (only servers send one) or a proof after the hello.
        return this.invalid();
    }
  }

  /** The client's first wire-format frame after the hello confirms the session (B17). */
  private spoke(session: Session): void {
    if (this.speaking) return;
    this.speaking = true;
    session.confirm();
  }

  /** A frame before the hello: the plain heartbeat (a keep-alive), the proof when challenged, or a protocol error. */
  private handshake(data: ResumeFrame, isBinary: boolean | undefined): ResumeFrameKind {
    if (this.stage === 'done' || this.gone || !isFrame(data)) return 'ignored';
    const text = typeof data !== 'string' && isBinary !== false ? null : textOf(data);
    if (text === this.host.heartbeatMessage) return 'heartbeat';
    const read = text === null ? null : readResumeText(text);
    if (this.stage === 'proving' && read?.kind === 'proof') {
      this.stage = 'pending';
      this.host.proved(this, read);
      return 'proof';
    }
    // A client that speaks wire format v2 writes nothing but its proof and plain keep-alives before the hello.
    this.host.refuse(this, 'invalid', RESUME_CLOSE_CODES.protocolError, this.stage === 'proving' ? 'proof expected' : 'hello expected');
    return 'invalid';
  }

  ping(payload: ResumeFrame): void {
    const session = this.session;
    if (session === null || !isFrame(payload)) return;
    // A ping may carry anything; only a count is an acknowledgement.
    const ack = readPingAck(pingText(payload));
    if (ack !== null) session.acked(ack);
  }

  pingPayload(): string {
    const session = this.session;
    if (!this.pings || session === null) return '';
    const ack = session.carryAck();
    return ack === null ? '' : encodePingAck(ack);
  }

  heartbeatReply(): string {
    const session = this.session;
    // Before the hello the client reads only a hello as a control frame: its plain keep-alive is answered plainly.
    if (session === null && !this.greeted) return this.host.heartbeatMessage;
    // A detached connection acknowledges nothing new (0 never lowers a cumulative acknowledgement).
    if (session === null) return encodeHeartbeat(0);
    session.carryAck();
    return encodeHeartbeat(session.state.deliveredThrough);
  }

  closed(code: number): void {
    const session = this.session;
    if (session === null) {
      this.gone = true;
      this.settle();
      return;
    }
    session.connectionClosed(this, code);
  }

  private invalid(): ResumeFrameKind {
    this.host.report('warn', SESSION_HUB_DIAGNOSTICS.protocolError, { total: this.host.count('protocolErrors') });
    return 'invalid';
  }
}

/** A text frame as a string (`ws` delivers text as bytes): `null` when its bytes are not UTF-8. */
function textOf(data: ResumeFrame): string | null {
  if (typeof data === 'string') return data;
  try {
    return decoder.decode(bytesOf(data));
  } catch {
    return null;
  }
}

/** The close code and reason of an admission hook's refusal; a verdict that is not one is reported and refuses with 4403. */
function refusalOf(verdict: unknown, invalid: (error: Error) => void): { readonly code: number; readonly reason: string } {
  if (typeof verdict === 'object' && verdict !== null) {
    const { code, reason = '' } = verdict as { code?: unknown; reason?: unknown };
    const codeOk = code === RESUME_CLOSE_CODES.normal || (typeof code === 'number' && Number.isInteger(code) && code >= 3000 && code <= 4999);
    if (codeOk && typeof reason === 'string' && utf8Length(reason) <= 123) return { code, reason };
  }
  if (verdict !== false) invalid(new TypeError('admit(): expected true, false or { code: 1000 or 3000-4999, reason: at most 123 bytes }'));
  return { code: RESUME_CLOSE_CODES.refused, reason: 'resume refused' };
}

/** Calls `then` with `value` now when it is not a promise (the common case: no hook), else once it settles. */
function whenReady<T>(value: T | Promise<T>, then: (value: T) => void, failed: (error: unknown) => void): void {
  if (!(value instanceof Promise)) {
    then(value);
    return;
  }
  value.then(then, failed);
}

/**
 * The resumable sessions of one server (spec B14), runtime-neutral: the `ws`
 * integration (`keepAlive(wss, { resume: true })`), Bun's and Deno's hand it
 * each connection's socket and query, and route the socket's events to the
 * handle it returns. The application gets sessions from the `session` event
 * and reads messages from them, not from the sockets.
 *
 * Memory: an idle session costs its object, its delivery state, the digest
 * of its secret, a scheduler entry and a map slot: about 0.9 KB (measured on
 * Node 20.20 with `--expose-gc`, heap used before and after 10 000 idle
 * sessions: about 905 bytes each while connected, counting the connection
 * handle but not the socket; about 830 bytes each while waiting for their
 * clients), plus the
 * payloads the client has not acknowledged (at most `maxUnackedMessages` and
 * `maxUnackedBytes`, per session). A session whose connection is gone is
 * kept `sessionTtlMs` (default 2 minutes) for its client, then removed, and
 * its unacknowledged messages are handed back in its `expired` event; a
 * client close with 1000 or `session.close()` ends it at once (`close`).
 */
export class SessionHub<C = unknown> {
  /** The validated options. */
  readonly config: ServerResumeConfig;
  /** The scheduler every session runs on. */
  readonly scheduler: Scheduler;
  private readonly sessions = new Map<string, Session>();
  /** Sessions a full hub may evict (unconfirmed, without a connection), oldest first. */
  private readonly evictable = new Set<Session>();
  /** Connections in their handshake (their clocks stop when the hub closes). */
  private readonly handshakes = new Set<Connection>();
  /**
   * Digests of stored sessions (another process holds them) read lately, oldest first. A session's digest never
   * changes, so a wrong proof for one of them is refused without reading the store again, and counted per session.
   */
  private readonly storedProofs = new Map<string, StoredProof>();
  private readonly admit: ((query: AdmissionQuery<C>) => AdmissionVerdict | Promise<AdmissionVerdict>) | null;
  private readonly events: Emitter<SessionHubEvents<C>>;
  private readonly host: HubHost;
  private readonly counters: MutableStats = {
    created: 0,
    resumed: 0,
    forgotten: 0,
    replaced: 0,
    expired: 0,
    ended: 0,
    refused: 0,
    evicted: 0,
    wrongProofs: 0,
    refusedAdmissions: 0,
    handshakeTimeouts: 0,
    invalidRequests: 0,
    protocolErrors: 0,
    unheardMessages: 0,
    listenerErrors: 0,
    socketErrors: 0,
  };
  private connectedCount = 0;
  private closed = false;
  private readonly store: SessionStore | null;

  /** Validates the options (a bad one throws `KeepaliveOptionError` naming it as `resume.<option>`). */
  constructor(options: SessionHubOptions<C> = {}) {
    const { config, diagnose, scheduler, heartbeatMessage, store, admit } = nestedOptions('resume', options, (given: SessionHubOptions<C>) => {
      checkKnownKeys(given, HUB_KEYS, 'resume');
      const { scheduler: chosen, onDiagnostic, logger, heartbeatMessage: plain, store: kept, admit: hook, ...resume } = given;
      const candidate: unknown = kept ?? null;
      if (candidate !== null && (typeof candidate !== 'object' || !(['proof', 'load', 'save', 'remove'] as const).every((method) => typeof (candidate as Record<string, unknown>)[method] === 'function'))) {
        throw new KeepaliveOptionError('store', candidate, 'a session store: an object with proof, load, save and remove methods');
      }
      const admitting: unknown = hook ?? null;
      if (admitting !== null && typeof admitting !== 'function') throw new KeepaliveOptionError('admit', admitting, 'a function that admits a connection (true, false or { code, reason })');
      return {
        admit: admitting as ((query: AdmissionQuery<C>) => AdmissionVerdict | Promise<AdmissionVerdict>) | null,
        config: defineServerResumeConfig(resume),
        heartbeatMessage: checkHeartbeatMessage('heartbeatMessage', plain ?? HEARTBEAT_MESSAGE),
        diagnose: createDiagnosticSink({ session: nextInstanceId(), logger, onDiagnostic }),
        scheduler: chosen ?? defaultScheduler(),
        store: candidate as SessionStore | null,
      };
    });
    this.config = config;
    this.store = store;
    this.admit = admit;
    this.scheduler = scheduler;
    const counters = this.counters;
    const sessions = this.sessions;
    const report = (level: DiagnosticLevel, name: string, fields: DiagnosticFields): void => {
      diagnose({ type: 'diagnostic', level, name, fields });
    };
    const listenerFailed = (event: string, error: unknown): void => {
      counters.listenerErrors++;
      report('warn', SESSION_HUB_DIAGNOSTICS.listenerFailed, { event, error: errorName(error) });
    };
    const socketFailed = (op: string, error: unknown): void => {
      counters.socketErrors++;
      report('warn', SESSION_HUB_DIAGNOSTICS.socketFailed, { op, error: errorName(error) });
    };
    this.events = new Emitter<SessionHubEvents<C>>(['session', 'refused'], listenerFailed);
    this.host = {
      accepting: null,
      store,
      storeFailed: (op, error) => {
        report('warn', SESSION_HUB_DIAGNOSTICS.storeFailed, { op, error: errorName(error) });
      },
      scheduler,
      config,
      heartbeatMessage,
      scratch: [],
      diagnose,
      report,
      count: (counter) => ++counters[counter],
      attached: (delta) => {
        this.connectedCount += delta;
      },
      remove: (session) => {
        if (sessions.get(session.id) === session) sessions.delete(session.id);
        this.evictable.delete(session);
      },
      evictable: (session, yes) => {
        if (yes) this.evictable.add(session);
        else this.evictable.delete(session);
      },
      proved: (handle, proof) => {
        this.proved(handle, proof);
      },
      handshakeEnded: (handle) => {
        this.handshakes.delete(handle);
      },
      handshakeTimedOut: (handle) => {
        this.counters.handshakeTimeouts++;
        this.refuse(handle, 'timeout', RESUME_CLOSE_CODES.handshakeTimeout, 'handshake timeout');
      },
      refuse: (handle, reason, code, text) => {
        this.refuse(handle, reason, code, text);
      },
      listenerFailed,
      write: (socket, data) => {
        try {
          socket.send(data);
          return true;
        } catch (error) {
          // What was not written stays unacknowledged: it goes again on the next connection, or is handed back.
          socketFailed('send', error);
          return false;
        }
      },
      shut: (socket, code, reason) => {
        try {
          socket.close(code, reason);
        } catch (error) {
          socketFailed('close', error);
        }
      },
    };
  }

  /**
   * Takes a new connection. `get(name)` reads a parameter of the request URL's query (or returns `null`). Returns
   * `null` when the client did not ask for a resumable session (a plain client: leave it alone), else the
   * connection's handle; route the socket's events to it. A request this version cannot read, or one of wire format
   * v1, is closed with 1002 (its handle is detached: every frame is `ignored`). A client that names a session is
   * challenged (B17): it must prove the session's secret in-band, then the `admit` hook is asked, and only then does
   * the session change hands (the hello says `resumed`, or `new` for a session known nowhere). A client that names
   * none gets a new session once admitted, or 1013 past `maxSessions`. The hub then retransmits what the client
   * has not acknowledged, and emits `session`; a refusal emits `refused`.
   */
  connect(socket: ResumeSocket, get: (name: string) => string | null, context?: C): ResumeConnection | null {
    let request: ReturnType<typeof readResumeQuery>;
    try {
      request = readResumeQuery(get);
    } catch {
      request = 'invalid';
    }
    if (request === null || this.closed) return null;
    const handle = new Connection(this.host, socket, typeof request === 'object' && request.pings, context);
    if (request === 'legacy') {
      this.refuse(handle, 'legacy', RESUME_CLOSE_CODES.protocolError, LEGACY_REFUSAL_REASON);
      return handle;
    }
    if (request === 'invalid') {
      this.refuse(handle, 'invalid', RESUME_CLOSE_CODES.protocolError, 'invalid resume request');
      return handle;
    }
    this.handshakes.add(handle);
    handle.arm(this.scheduler.now() + this.config.handshakeTimeoutMs);
    if (request.session === null) {
      this.admitThen(handle, 'new', null, () => {
        this.join(handle, 0, null, null);
      });
      return handle;
    }
    // B17: a named session is challenged; nothing happens to it before the proof.
    handle.named = request.session;
    handle.stage = 'proving';
    if (!this.host.write(socket, encodeHello({ status: 'prove' }))) this.refuse(handle, 'invalid', RESUME_CLOSE_CODES.internalError, 'send failed');
    return handle;
  }

  /** Whether a connection is still in its handshake (its socket open, the hub open). */
  private waiting(handle: Connection): boolean {
    if (this.closed && !handle.gone && handle.stage !== 'done') {
      handle.settle();
      this.host.shut(handle.socket, RESUME_CLOSE_CODES.goingAway, 'going away');
    }
    return !this.closed && !handle.gone && handle.stage !== 'done';
  }

  /**
   * The proof of the session the connection named (B17): checked against the digest of the session held here, or
   * stored (read without taking it over); a wrong one is refused and changes nothing. Then the application is asked,
   * then the session changes hands.
   */
  private proved(handle: Connection, proof: Proof): void {
    const id = handle.named as string;
    const digest = secretDigest(proof.secret);
    const held = this.sessions.get(id);
    if (held !== undefined || this.store === null) {
      this.owned(handle, proof.delivered, digest, held === undefined ? null : held.candidate(digest).proven, held ?? null);
      return;
    }
    // Read lately: decided without the store (a flood of wrong proofs for a stored session costs no store reads).
    const known = this.storedProofs.get(id);
    if (known !== undefined) {
      const proven = constantTimeEqual(known.digest, digest);
      this.owned(handle, proof.delivered, digest, proven, null, known);
      return;
    }
    const store = this.store;
    let reading: Promise<string | null>;
    try {
      reading = store.proof(id);
    } catch (error) {
      reading = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    void reading
      .then(
        (stored) => (typeof stored === 'string' ? stored : null),
        (error: unknown) => {
          this.host.storeFailed('proof', error);
          return null;
        },
      )
      .then((stored) => {
        if (!this.waiting(handle)) return;
        // Held here meanwhile (another connection restored it): the held copy decides.
        const now = this.sessions.get(id);
        if (now !== undefined) {
          this.owned(handle, proof.delivered, digest, now.candidate(digest).proven, now);
          return;
        }
        const entry = stored === null ? undefined : this.rememberStoredProof(id, stored);
        this.owned(handle, proof.delivered, digest, stored === null ? null : constantTimeEqual(stored, digest), null, entry);
      });
  }

  /** Keeps a stored session's digest (bounded: the oldest goes first). */
  private rememberStoredProof(id: string, digest: string): StoredProof {
    const entry = this.storedProofs.get(id) ?? { digest, failedProofs: 0 };
    this.storedProofs.delete(id);
    if (this.storedProofs.size >= STORED_PROOFS) {
      const oldest = this.storedProofs.keys().next().value;
      if (oldest !== undefined) this.storedProofs.delete(oldest);
    }
    this.storedProofs.set(id, entry);
    return entry;
  }

  /**
   * What the proof decided (`proven`: `null` when the session exists nowhere): refuse, or ask the application. `counted`
   * is where the session's wrong proofs are counted when this hub does not hold it.
   */
  private owned(handle: Connection, delivered: number, digest: string, proven: boolean | null, held: Session | null, counted: StoredProof | null = null): void {
    if (proven === false) {
      this.wrongProof(handle, held ?? counted);
      return;
    }
    const kind = proven === null ? 'new' : held === null ? 'restore' : 'resume';
    this.admitThen(handle, kind, held, () => {
      if (kind !== 'restore') {
        this.join(handle, delivered, digest, null);
        return;
      }
      this.restoreFrom(handle, delivered, digest);
    });
  }

  /** A wrong proof (B17): counted per session, reported (no secret, no id), refused with 4403; nothing changes. */
  private wrongProof(handle: Connection, counted: { failedProofs: number } | null): void {
    this.counters.wrongProofs++;
    const failures = counted === null ? 1 : ++counted.failedProofs;
    // A flood of wrong proofs for one session is reported one by one up to a bound, then at powers of two.
    if (failures <= REPORTED_PROOF_FAILURES || (failures & (failures - 1)) === 0) {
      this.host.report('warn', SESSION_HUB_DIAGNOSTICS.resumeRefused, { reason: 'proof', failures });
    }
    this.refuse(handle, 'proof', RESUME_CLOSE_CODES.refused, 'resume refused', false);
  }

  /** Asks the `admit` hook (if any) about the connection, then runs `then`; a refusal closes it, changing nothing. */
  private admitThen(handle: Connection, kind: AdmissionQuery['kind'], session: Session | null, then: () => void): void {
    const admit = this.admit;
    if (admit === null) {
      then();
      return;
    }
    handle.stage = 'pending';
    let verdict: AdmissionVerdict | Promise<AdmissionVerdict>;
    try {
      verdict = admit({ kind, session, context: handle.context as C });
    } catch (error) {
      verdict = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    whenReady(
      verdict,
      (answer) => {
        if (!this.waiting(handle)) return;
        if (answer === true) {
          then();
          return;
        }
        const refusal = refusalOf(answer, (error) => this.host.listenerFailed('admit', error));
        this.counters.refusedAdmissions++;
        this.host.report('warn', SESSION_HUB_DIAGNOSTICS.resumeRefused, { reason: 'admission', code: refusal.code });
        this.refuse(handle, 'admission', refusal.code, refusal.reason, false);
      },
      (error: unknown) => {
        this.host.listenerFailed('admit', error);
        if (!this.waiting(handle)) return;
        this.counters.refusedAdmissions++;
        this.host.report('warn', SESSION_HUB_DIAGNOSTICS.resumeRefused, { reason: 'admission', code: RESUME_CLOSE_CODES.refused });
        this.refuse(handle, 'admission', RESUME_CLOSE_CODES.refused, 'resume refused', false);
      },
    );
  }

  /**
   * Ends a connection's handshake with a refusal: closed with `code`, reported (unless the caller did), `refused`
   * emitted. Nothing about any session changed (B17).
   */
  private refuse(handle: Connection, reason: RefusedEvent['reason'], code: number, text: string, report = true): void {
    if (handle.stage === 'done') return;
    handle.settle();
    if (reason === 'legacy' || reason === 'invalid') {
      this.counters.invalidRequests++;
      if (reason === 'legacy') this.host.report('warn', SESSION_HUB_DIAGNOSTICS.resumeRefused, { reason });
      else this.host.report('warn', SESSION_HUB_DIAGNOSTICS.invalidRequest, NO_FIELDS);
    } else if (report) {
      this.host.report('warn', SESSION_HUB_DIAGNOSTICS.resumeRefused, { reason });
    }
    this.host.shut(handle.socket, code, text);
    this.events.emit('refused', { reason, code, context: handle.context as C });
  }

  /** Takes the stored session over (the store's `load`), then joins the connection to it, unless the client left meanwhile. */
  private restoreFrom(handle: Connection, delivered: number, digest: string): void {
    const store = this.store as SessionStore;
    const id = handle.named as string;
    handle.stage = 'pending';
    let loading: Promise<StoredSession | null>;
    try {
      loading = store.load(id);
    } catch (error) {
      loading = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    void loading
      .then(
        (stored) => stored,
        (error: unknown) => {
          this.host.storeFailed('load', error);
          return null;
        },
      )
      .then((stored) => {
        // The client left (or the hub closed) while the store answered: nothing is taken up here; the store still
        // has the session for the client's next attempt.
        if (!this.waiting(handle)) return;
        this.join(handle, delivered, digest, stored);
      });
  }

  /**
   * Attaches a connection to the session it asked for: held here, restored from `stored`, or a new one (the rule is
   * the core's; decided again here, with the facts as they are now, after every wait). `digest` is the digest of
   * the connection's proof (`null`: it named no session).
   */
  private join(handle: Connection, delivered: number, digest: string | null, stored: StoredSession | null): void {
    const host = this.host;
    const now = this.scheduler.now();
    const named = handle.named;
    const held = named === null ? undefined : this.sessions.get(named);
    const restored = held === undefined && named !== null && stored !== null ? restoreSession(this.config.delivery, stored, now) : null;
    const admission = admitConnection({
      named: named !== null,
      delivered,
      held: held?.candidate(digest) ?? null,
      stored:
        held !== undefined || stored === null
          ? null
          : restored === null
            ? 'invalid'
            : { proven: digest !== null && constantTimeEqual(restored.proof, digest), written: restored.state.transmittedThrough, ackedThrough: restored.state.ackedThrough },
      sessions: this.sessions.size,
      maxSessions: this.config.maxSessions,
      evictable: this.evictable.size > 0,
    });
    const context = handle.context as C;
    switch (admission.kind) {
      case 'resume':
        /* c8 ignore next -- admission resumes only a held session */
        if (held === undefined) return;
        this.counters.resumed++;
        held.attach(handle, null, delivered, now);
        this.events.emit('session', { session: held, resumed: true, forgotten: false, restored: false, context });
        return;
      case 'restore': {
        /* c8 ignore next -- admission restores only a named session that was restored */
        if (named === null || restored === null) return;
        if (admission.evict) this.evictOldest();
        const session = new Session(host, named, restored.proof, restored);
        this.sessions.set(named, session);
        this.storedProofs.delete(named);
        host.report('info', SESSION_HUB_DIAGNOSTICS.sessionRestored, { messages: session.unackedMessages });
        this.counters.resumed++;
        session.attach(handle, null, delivered, now);
        this.events.emit('session', { session, resumed: true, forgotten: false, restored: true, context });
        return;
      }
      case 'refuse':
        if (admission.reason === 'proof') {
          // The session that answered the proof is not the one here now (restored by another connection meanwhile).
          this.wrongProof(handle, held ?? null);
          return;
        }
        if (admission.unknown !== null) host.report('info', SESSION_HUB_DIAGNOSTICS.sessionUnknown, { reason: admission.unknown });
        this.counters.refused++;
        host.report('warn', SESSION_HUB_DIAGNOSTICS.sessionsFull, { limit: this.config.maxSessions });
        this.refuse(handle, 'full', RESUME_CLOSE_CODES.tryAgainLater, 'try again later', false);
        return;
      case 'new': {
        if (admission.unknown === 'unrestorable' && named !== null && stored !== null) {
          host.report('info', SESSION_HUB_DIAGNOSTICS.sessionUnknown, { reason: 'unrestorable', messages: Array.isArray(stored.unacked) ? stored.unacked.length : 0 });
          // The client gets a new session (forgotten): it hands back what it had not seen acknowledged. The stored
          // copy is removed, so no other process takes it up either.
          this.removeStored(named);
        } else if (admission.unknown !== null) {
          // Unknown (restarted, expired, ended), or a count this session cannot have: a new session, reported.
          host.report('info', SESSION_HUB_DIAGNOSTICS.sessionUnknown, { reason: admission.unknown });
        }
        if (admission.evict) this.evictOldest();
        let id = randomToken();
        while (this.sessions.has(id)) id = randomToken();
        // The secret goes out once, in the hello; the session keeps its digest only.
        const secret = randomToken();
        const session = new Session(host, id, secretDigest(secret));
        this.sessions.set(id, session);
        this.counters.created++;
        if (admission.forgotten) this.counters.forgotten++;
        host.report('debug', SESSION_HUB_DIAGNOSTICS.sessionStarted, { sessions: this.sessions.size });
        session.attach(handle, secret, 0, now);
        this.events.emit('session', { session, resumed: false, forgotten: admission.forgotten, restored: false, context });
        return;
      }
    }
  }

  /** Makes room: the oldest unconfirmed session without a connection goes (an expiry: its messages are handed back). */
  private evictOldest(): void {
    const oldest = this.evictable.values().next().value;
    if (oldest === undefined) return;
    oldest.evict();
    this.host.report('info', SESSION_HUB_DIAGNOSTICS.sessionEvicted, { sessions: this.sessions.size });
  }

  /** Removes a stored session; a store that throws is reported, never thrown. */
  private removeStored(id: string): void {
    this.storedProofs.delete(id);
    try {
      this.store?.remove(id);
    } catch (error) {
      this.host.storeFailed('remove', error);
    }
  }

  /** Adds a listener for `session` (every connection attached to a session, new or resumed); returns its remover. */
  on<K extends keyof SessionHubEvents<C>>(event: K, listener: (event: SessionHubEvents<C>[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Sessions held now (connected or waiting for their client). */
  get size(): number {
    return this.sessions.size;
  }

  /** Counters over every session this hub has seen. */
  stats(): SessionHubStats {
    return { ...this.counters, sessions: this.sessions.size, connected: this.connectedCount };
  }

  /**
   * Ends every session (their attached sockets are closed with 1001; each session's `close` event hands back what
   * its client never acknowledged) and takes no more connections (`connect` returns `null`).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const handle of this.handshakes) this.waiting(handle);
    this.handshakes.clear();
    for (const session of [...this.sessions.values()]) session.closeByServer(RESUME_CLOSE_CODES.goingAway, 'going away');
    this.events.clear();
  }
}

/**
 * Creates a {@link SessionHub}. A bad option throws `KeepaliveOptionError` naming it as `resume.<option>`.
 *
 * @example
 * ```ts
 * import { createSessionHub } from '@keepalive/websocket-transport';
 * const hub = createSessionHub({ sessionTtlMs: 30_000, maxSessions: 1_000 });
 * hub.on('session', ({ session, forgotten }) => { if (forgotten) console.log('a client came back to a forgotten session'); });
 * ```
 */
export function createSessionHub<C = unknown>(options: SessionHubOptions<C> = {}): SessionHub<C> {
  return new SessionHub<C>(options);
}
