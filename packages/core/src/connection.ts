import { CLOSE_CODES, NO_COMMANDS, diagnostic, type Diagnostic } from './commands.js';
import { SESSION_DEFAULTS, defineSessionConfig, type SessionConfig, type SessionOptions } from './config.js';
import { pollTimeout } from './deadlines.js';
import { KeepaliveOptionError, checkDuration, checkInteger, checkKnownKeys, checkOptionalDuration, nestedOptions, optionOr } from './errors.js';
import { answerHeartbeat } from './heartbeat.js';
import { readPingFloodReason } from './ping-policy.js';
import {
  createReconnectState,
  defineReconnectConfig,
  reconnectStep,
  type ReconnectCommand,
  type ReconnectConfig,
  type ReconnectEvent,
  type ReconnectOptions,
  type ReconnectState,
} from './reconnect.js';
import { SESSION_DIAGNOSTICS, createSessionState, step as sessionStep, wantsHeartbeat, type SessionCommand, type SessionEvent, type SessionState } from './session.js';
import { isResumeLayer, isResuming, type NegotiatedStatus, type ResumeEvent, type ResumeState } from './resume.js';
import type { ResumeLayer } from './resume-layer.js';
import type { Hello } from './wire.js';

/**
 * The client connection (spec B10–B13): one pure machine per connection, in
 * the shape of quinn-proto's `Connection`. Events in (socket facts, timeouts,
 * sends, work starting and stopping, a close request), the next state and an
 * ordered list of commands out: socket effects for the driver, diagnostics,
 * and typed user events. It composes the session machine (keep-alives while
 * busy, liveness) and the reconnect machine (backoff with jitter), and owns
 * everything a reconnecting client decides: the phases, the connect and
 * close-handshake timeouts, attempt counting, lazy park and unpark, the
 * heartbeat-answer rule, queue accounting (counts and bytes; payloads stay in
 * the driver), the close-code policy, and delivery (B14): with `resume`, a
 * resumable session (`resume.ts`); without it, a report of the messages
 * written since the peer last proved it had them when a connection is lost.
 * A driver runs it with one timer at
 * {@link connectionDeadline}. It executes nothing (like XState's `transition`).
 *
 * Phases (B10), exactly one at a time:
 *
 * | phase | socket | what is armed | leaves on |
 * | --- | --- | --- | --- |
 * | `connecting` | one, not open yet | connect timeout | opened → `open`; closed or timed out → `backoff`, `parked`, `closed` |
 * | `open` | one, open | session timers (heartbeat while busy, liveness); the idle read timeout while idle | lost → `backoff` / `parked` / `closed`; close → `closing` |
 * | `backoff` | none | reconnect delay | delay over → `connecting` (or `parked` when lazy and idle) |
 * | `parked` | none | nothing | work starts or a send → `connecting` |
 * | `closing` | one, closing | close-handshake timeout | closed or timed out → `closed` |
 * | `closed` | none | nothing | never |
 */

/**
 * What the client does with a connection lost while no work is in flight and
 * nothing is queued: `'eager'` reconnects with backoff as for any loss;
 * `'lazy'` parks (no socket, nothing armed) until work starts or a message is
 * sent, then connects at once.
 */
export type WhenIdle = 'eager' | 'lazy';

/** The reconnect options of a connection: the backoff policy (B6, B11) plus `whenIdle`. */
export interface ConnectionReconnectOptions extends ReconnectOptions {
  /** See {@link WhenIdle}. Default `'eager'`. */
  readonly whenIdle?: WhenIdle | undefined;
}

/**
 * Options of a client connection: the session options (heartbeat interval,
 * liveness timeout, ...) and the connection's own. Every field is optional.
 */
export interface ConnectionOptions extends SessionOptions {
  /**
   * Proof-of-life timeout after each keep-alive (B5); `null` turns the kill
   * rule off. Default 10 000 ms (the session machine's own default is off).
   */
  readonly pongTimeoutMs?: number | null | undefined;
  /**
   * An attempt that has not opened within this long is abandoned (its socket
   * destroyed) and counts as failed (B10). Default 10 000 ms: a healthy
   * handshake takes milliseconds, and after a partition heals the client is
   * open again within `reconnect.maxDelayMs` plus this.
   */
  readonly connectTimeoutMs?: number | undefined;
  /** How long a deliberate close waits for the close handshake before destroying the socket. Default 5 000 ms. */
  readonly closeTimeoutMs?: number | undefined;
  /**
   * B5 while idle: while no heartbeat runs (no work in flight, and `permitWithoutActivity` off), an open connection
   * that receives nothing for this long is dead, exactly as if a keep-alive had gone unanswered (`dead-peer`, the
   * socket destroyed, a reconnect). For a transport that cannot send keep-alives (Server-Sent Events) this is the
   * idle limit; while busy the heartbeat's `heartbeatIntervalMs` + `pongTimeoutMs` applies. A late check is
   * reported and given a fresh limit (B15). `null` (default) turns it off.
   */
  readonly idleReadTimeoutMs?: number | null | undefined;
  /** Reconnect policy. Default: 500 ms initial, ×2, capped at 30 s, reset after 60 s up, never gives up, eager. */
  readonly reconnect?: ConnectionReconnectOptions | undefined;
  /** How many messages may wait in the queue while not open. Default 1 000. */
  readonly maxQueuedMessages?: number | undefined;
  /** How many bytes may wait in the queue while not open. Default 1 MiB. */
  readonly maxQueuedBytes?: number | undefined;
  /**
   * Close codes that mean "do not retry as is" (B12): such a close ends in a
   * `rejected` event and the `closed` phase. Default {@link TERMINAL_CLOSE_CODES}.
   * A 1008 close whose reason is `ping_flood` is never terminal (B13).
   */
  readonly terminalCloseCodes?: readonly number[] | undefined;
  /**
   * The bound up to which a client closed for a ping flood doubles its
   * heartbeat interval (B13). Default the larger of 60 000 ms and
   * `heartbeatIntervalMs`.
   */
  readonly maxHeartbeatIntervalMs?: number | undefined;
  /**
   * A resumable session with a server that speaks wire format v2 (B14,
   * `docs/resume-protocol.md`): every message is numbered and kept until the
   * server acknowledges it, and after a reconnect both ends retransmit what
   * the other has not acknowledged, so nothing accepted is lost or
   * duplicated while the server process lives. Pass {@link resumable}`()`
   * (or `resumable(options)`): a layer the machine receives, so a program
   * without it does not bundle wire format v2. Against a server that does
   * not speak it the client falls back to plain delivery and says so once.
   * Default off (`false`).
   */
  readonly resume?: false | ResumeLayer | undefined;
}

/** Validated, frozen connection options with every default filled in. */
export interface ConnectionConfig {
  readonly session: SessionConfig;
  readonly reconnect: ReconnectConfig;
  readonly whenIdle: WhenIdle;
  readonly connectTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly idleReadTimeoutMs: number | null;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly terminalCloseCodes: readonly number[];
  readonly maxHeartbeatIntervalMs: number;
  /** The resumable session's layer (its options in `config`), or `null` when resume is off. */
  readonly resume: ResumeLayer | null;
}

/**
 * The close codes that end a client by default (B12): 1002 protocol error,
 * 1003 unsupported data, 1007 invalid payload, 1008 policy violation (except
 * a ping flood), 1010 a required extension missing, and 4401 / 4403, the
 * usual application codes for "unauthorized" and "forbidden" (HTTP 401/403 in
 * the 4000 range; a server refuses a resume it cannot admit with 4403).
 * 4001 (the session was resumed by another connection that proved its
 * secret) is not terminal: this client still holds the secret and comes back,
 * backing off (B17), like 1013 (try again later).
 */
export const TERMINAL_CLOSE_CODES: readonly number[] = /* @__PURE__ */ Object.freeze([1002, 1003, 1007, 1008, 1010, 4401, 4403]);

/**
 * Close codes that say "not now" (1013 try again later, 4001 resumed elsewhere): the reconnect waits at least half
 * of the backoff's ceiling (equal jitter instead of full jitter), so a refused client backs off instead of retrying
 * at once (B17).
 */
export const BACK_OFF_CLOSE_CODES: readonly number[] = /* @__PURE__ */ Object.freeze([1013, 4001]);

/**
 * The close reason our servers send with 1008 for a ping flood (B8, B13), followed by the server's minimum
 * (`ping_flood min_interval_ms=5000`, see `pingFloodReason`), so a client learns it in one close.
 */
export const PING_FLOOD_REASON = 'ping_flood';

/** The connection's defaults, besides the session's ({@link SESSION_DEFAULTS}) and the reconnect policy's. */
export const CONNECTION_DEFAULTS = /* @__PURE__ */ Object.freeze({
  pongTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
  idleReadTimeoutMs: null,
  maxQueuedMessages: 1_000,
  maxQueuedBytes: 1_048_576,
  whenIdle: 'eager',
  minMaxHeartbeatIntervalMs: 60_000,
} as const);

const SESSION_KEYS: readonly string[] = /* @__PURE__ */ Object.freeze(Object.keys(SESSION_DEFAULTS));

/** The names of every connection option (the session's and the connection's own), for drivers that pass them through. */
export const CONNECTION_OPTION_KEYS: readonly (keyof ConnectionOptions)[] = /* @__PURE__ */ Object.freeze([
  ...(SESSION_KEYS as (keyof SessionOptions)[]),
  'connectTimeoutMs',
  'closeTimeoutMs',
  'idleReadTimeoutMs',
  'reconnect',
  'maxQueuedMessages',
  'maxQueuedBytes',
  'terminalCloseCodes',
  'maxHeartbeatIntervalMs',
  'resume',
]);

/**
 * Validates connection options once (B1) and returns a frozen config. Throws
 * {@link KeepaliveOptionError} naming the option (nested ones by path, such
 * as `reconnect.maxDelayMs`) and the value.
 */
export function defineConnectionConfig(options: ConnectionOptions = {}): ConnectionConfig {
  const given: unknown = options;
  if (typeof given !== 'object' || given === null) throw new KeepaliveOptionError('options', given, 'an object of connection options');
  checkKnownKeys(options, CONNECTION_OPTION_KEYS, 'connection');
  const sessionOptions: Record<string, unknown> = {};
  for (const key of SESSION_KEYS) sessionOptions[key] = optionOr(options, key, undefined);
  sessionOptions.pongTimeoutMs = optionOr(options, 'pongTimeoutMs', CONNECTION_DEFAULTS.pongTimeoutMs);
  const session = defineSessionConfig(sessionOptions);
  const { whenIdle, reconnect } = nestedOptions('reconnect', options.reconnect, (group: ConnectionReconnectOptions) => {
    const { whenIdle: mode = CONNECTION_DEFAULTS.whenIdle, ...backoff } = group;
    const idle: unknown = mode;
    if (idle !== 'eager' && idle !== 'lazy') throw new KeepaliveOptionError('whenIdle', idle, "'eager' or 'lazy'");
    const chosen: WhenIdle = idle;
    return { whenIdle: chosen, reconnect: defineReconnectConfig(backoff) };
  });
  const maxHeartbeatIntervalMs = checkDuration(
    'maxHeartbeatIntervalMs',
    optionOr(options, 'maxHeartbeatIntervalMs', Math.max(CONNECTION_DEFAULTS.minMaxHeartbeatIntervalMs, session.heartbeatIntervalMs)),
  );
  if (maxHeartbeatIntervalMs < session.heartbeatIntervalMs) {
    throw new KeepaliveOptionError('maxHeartbeatIntervalMs', maxHeartbeatIntervalMs, `a duration >= heartbeatIntervalMs (${session.heartbeatIntervalMs})`);
  }
  return Object.freeze({
    session,
    reconnect,
    whenIdle,
    connectTimeoutMs: checkDuration('connectTimeoutMs', optionOr(options, 'connectTimeoutMs', CONNECTION_DEFAULTS.connectTimeoutMs)),
    closeTimeoutMs: checkDuration('closeTimeoutMs', optionOr(options, 'closeTimeoutMs', CONNECTION_DEFAULTS.closeTimeoutMs)),
    idleReadTimeoutMs: checkOptionalDuration('idleReadTimeoutMs', optionOr(options, 'idleReadTimeoutMs', CONNECTION_DEFAULTS.idleReadTimeoutMs)),
    maxQueuedMessages: checkInteger('maxQueuedMessages', optionOr(options, 'maxQueuedMessages', CONNECTION_DEFAULTS.maxQueuedMessages), 0, 10_000_000),
    maxQueuedBytes: checkInteger('maxQueuedBytes', optionOr(options, 'maxQueuedBytes', CONNECTION_DEFAULTS.maxQueuedBytes), 0, Number.MAX_SAFE_INTEGER),
    terminalCloseCodes: checkCloseCodes(optionOr(options, 'terminalCloseCodes', TERMINAL_CLOSE_CODES)),
    maxHeartbeatIntervalMs,
    resume: checkResume(optionOr(options, 'resume', false)),
  });
}

function checkResume(value: unknown): ResumeLayer | null {
  if (value === false) return null;
  if (!isResumeLayer(value)) throw new KeepaliveOptionError('resume', value, 'false, or resumable() or resumable(options) from @keepalive/core or @keepalive/websocket-transport');
  return value;
}

function checkCloseCodes(value: unknown): readonly number[] {
  const valid = Array.isArray(value) && value.every((code) => Number.isInteger(code) && code >= 1000 && code <= 4999);
  if (!valid) throw new KeepaliveOptionError('terminalCloseCodes', value, 'an array of close codes, integers in [1000, 4999]');
  return Object.freeze([...(value as number[])]);
}

/** Where a client connection is (B10). See the table in this module's documentation. */
export type ConnectionPhase = 'connecting' | 'open' | 'backoff' | 'parked' | 'closing' | 'closed';

/**
 * Why a connection closed for good: `close` asked for it (`closed`, or
 * `aborted` for an abort signal), `reconnect.maxAttempts` consecutive attempts
 * failed to open (`exhausted`, B11), or the peer closed with a terminal code
 * (`rejected`, B12).
 */
export type ConnectionCloseCause = 'closed' | 'aborted' | 'exhausted' | 'rejected';

/**
 * A session's shutdown report (S9): what was in flight when it ended, with
 * counts, reason names and durations only (S10).
 */
export interface ShutdownReport {
  readonly total: number;
  readonly active: Readonly<Record<string, number>>;
  /** Age of the oldest activity in flight, from when the total last went 0 → 1; `null` when idle. */
  readonly oldestActivityMs: number | null;
  readonly keepalivesSent: number;
}

/** The code and reason of a close, as the socket reported it. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/**
 * The state of a client connection: plain, serialisable data (but for
 * `config.resume`, the resume layer's functions, one object shared by every
 * state of the connection). Never mutate it; every step returns a new object
 * when anything changed.
 */
export interface ConnectionState {
  readonly config: ConnectionConfig;
  /** Monotonic time of the last event. */
  readonly now: number;
  readonly phase: ConnectionPhase;
  /** The attempt the current or next socket belongs to: 0 on demand (first connect, unpark), then counting failures (B11). */
  readonly attempt: number;
  /** Sockets asked for so far; the `serial` of the latest `open_socket`. */
  readonly sockets: number;
  /** The composed session machine: work in flight, heartbeat, liveness (its `config` carries the current heartbeat interval). */
  readonly session: SessionState;
  /** The composed reconnect machine: attempts, backoff level, jitter seed, the reconnect deadline. */
  readonly backoff: ReconnectState;
  /** Deadline of the connect timeout while `connecting`, else `null`. */
  readonly connectAt: number | null;
  /** Deadline of the close-handshake timeout while `closing`, else `null`. */
  readonly closeAt: number | null;
  /** Deadline of the idle read timeout (`idleReadTimeoutMs`) while open and no heartbeat runs, else `null`. */
  readonly readAt: number | null;
  /** The least delay before a reconnect that the peer asked for (a `retry_after` event), or `null`. */
  readonly retryAfterMs: number | null;
  /** Whether keep-alives on the open socket are protocol pings (else heartbeat messages). */
  readonly canPing: boolean;
  /** Heartbeat messages sent on the open socket and not answered yet. */
  readonly heartbeatsOwed: number;
  /** Messages waiting in the driver's queue. */
  readonly queuedMessages: number;
  /** Bytes waiting in the driver's queue. */
  readonly queuedBytes: number;
  /** The last loss, reported when a backoff delay ends in a park. */
  readonly lastLoss: CloseInfo;
  /** When the connection parked, or `null` while not parked. */
  readonly parkedAt: number | null;
  /** Why it is closing or closed, or `null` before. */
  readonly cause: ConnectionCloseCause | null;
  /** Whether the network is up as far as the platform says (`network` events; browsers' `online`/`offline`). */
  readonly online: boolean;
  /** The code and reason of a requested close (sent in the close frame). */
  readonly closeRequest: CloseInfo | null;
  /** The resumable session's client end, or `null` when resume is off. */
  readonly resume: ResumeState | null;
  /**
   * Without a resumable session: messages written since the peer last proved it had them (it answered a keep-alive
   * sent after them, or the client's own close handshake completed). Reported if the connection is lost (B14).
   */
  readonly unconfirmed: number;
  /**
   * How many of the `unconfirmed` messages (the newest) the driver keeps a copy of: at most `maxQueuedMessages`
   * copies and `maxQueuedBytes` bytes.
   */
  readonly unconfirmedCopies: number;
  /** The sizes of those copies, oldest first (a flushed batch counts at its average size). */
  readonly copySizes: readonly number[];
  /** Their total in bytes. */
  readonly copyBytes: number;
  /** `unconfirmed` when the oldest unanswered keep-alive went out (what its answer confirms), or `null`. */
  readonly probeMark: number | null;
}

/**
 * What the peer sent, as the driver classified it: application `data`, a protocol `pong` or `ping`, a `heartbeat`
 * message, and on a resumed connection an `ack` on its own or an `invalid` control frame (a protocol error).
 */
export type InboundFrame = 'data' | 'pong' | 'ping' | 'heartbeat' | 'ack' | 'invalid';

/**
 * What a socket asks for in its URL: the session to resume (`null`: a new one). The id is public; the client proves
 * the session's secret in-band when the server challenges it (B17).
 */
export interface ResumeTicket {
  readonly session: string | null;
}

/** The work events a connection takes from its activity: the session machine's `start`, `stop`, `release` and `signal`. */
export type ConnectionWorkEvent = Extract<SessionEvent, { readonly type: 'start' | 'stop' | 'release' | 'signal' }>;

/**
 * Everything that can happen to a client connection. Time arrives as
 * monotonic `now`; randomness for the jitter as `random` in [0, 1) on the
 * events that may start a backoff (else the seeded generator draws).
 *
 * - `socket_opened`: the current socket opened; `canPing` says whether it has protocol pings.
 * - `socket_closed`: the current socket closed (or failed to open) with `code` and `reason`.
 * - `inbound`: the open socket received a frame (any frame is proof of life); `ack` is the acknowledgement it
 *   carried (a ping's payload, a resumed connection's heartbeat or ack), if any.
 * - `hello`: the server's hello (wire format v2) arrived on the open socket.
 * - `retry_after`: the peer asked for at least `delayMs` before any later reconnect (an SSE stream's `retry:`
 *   field); each backoff delay is then that floor plus the jittered backoff, capped at `reconnect.maxDelayMs`.
 *   `null` forgets it.
 * - `timeout`: fire everything due at `now` (quinn's `handle_timeout`).
 * - `send`: the application sends a message of `bytes` bytes; `writable` is whether the socket can take it now.
 * - `dequeued`: the driver wrote `messages` queued messages (`bytes` bytes) after a `flush`.
 * - `network`: the platform says the network went down or came back (browsers' `offline` / `online`): while
 *   offline no attempt starts; back online, a waiting reconnect starts at once and an open connection is checked.
 * - `visibility`: the page became visible or hidden; visible again, an open connection is checked at once.
 * - `start` / `stop` / `release` / `signal`: work on the activity (session events).
 * - `close`: close for good with `code` and `reason` (`cause` `aborted` for an abort signal; `immediate`
 *   skips the close handshake, for a process that is exiting).
 */
export type ConnectionEvent =
  | { readonly type: 'socket_opened'; readonly now: number; readonly canPing: boolean }
  | { readonly type: 'socket_closed'; readonly now: number; readonly code: number; readonly reason: string; readonly random?: number | undefined }
  | { readonly type: 'inbound'; readonly now: number; readonly frame: InboundFrame; readonly ack?: number | undefined }
  | { readonly type: 'hello'; readonly now: number; readonly hello: Hello }
  | { readonly type: 'retry_after'; readonly now: number; readonly delayMs: number | null }
  | { readonly type: 'timeout'; readonly now: number; readonly random?: number | undefined; readonly sendKeepalives?: boolean | undefined }
  | { readonly type: 'send'; readonly now: number; readonly bytes: number; readonly writable: boolean }
  | { readonly type: 'dequeued'; readonly now: number; readonly messages: number; readonly bytes: number }
  | { readonly type: 'network'; readonly now: number; readonly online: boolean }
  | { readonly type: 'visibility'; readonly now: number; readonly visible: boolean }
  | ConnectionWorkEvent
  | {
      readonly type: 'close';
      readonly now: number;
      readonly code: number;
      readonly reason: string;
      readonly cause?: 'closed' | 'aborted' | undefined;
      /** Destroy the socket and close for good at once, without the close handshake (process exit). */
      readonly immediate?: boolean | undefined;
      /**
       * With `immediate`: leave the socket to the platform, which ends it itself (a browser page going away closes
       * its sockets with 1001, which a page cannot send), instead of destroying it.
       */
      readonly abandon?: boolean | undefined;
    };

/**
 * The user events a connection reports, as data (the driver emits them after
 * the step; no control flow reads a diagnostic):
 *
 * - `open` `{attempt}`: a socket opened (attempt 0: on demand);
 * - `close` `{code, reason, willReconnect}`: an open socket closed; `willReconnect` says whether a backoff follows;
 * - `reconnecting` `{attempt, delayMs}`: attempt `attempt` starts in `delayMs`;
 * - `idle` `{code, reason}`: lazy and idle: parked until work comes back;
 * - `dead-peer` `{timeoutMs}`: no proof of life in time; the socket is destroyed (B5);
 * - `slowed` `{heartbeatIntervalMs, previousIntervalMs}`: closed for a ping flood, the interval doubled (B13);
 * - `rejected` `{code, reason}`: closed with a terminal code (B12);
 * - `closed` `{cause, code, reason, report}`: closed for good; `report` is the session's shutdown report (S9);
 * - `session` `{status, retransmitted}`: how the resumable session came up on a connection (`new`, `resumed`,
 *   `forgotten`, or `unsupported`: the server does not speak it, and the client falls back for good);
 * - `forgotten` `{messages}`: the server did not know the session (it restarted, or the session expired): the
 *   `messages` written to it and not acknowledged may not have arrived: they are handed back (`hand_back` before
 *   this event); those never written go on in the new session (B14);
 * - `unconfirmed` `{messages, copies}`: without a resumable session, a connection was lost with `messages` written
 *   since the peer last proved it had them; they may be lost; the driver hands back its `copies` of the newest (B14).
 */
export type ConnectionUserEvent =
  | { readonly type: 'open'; readonly attempt: number }
  | { readonly type: 'close'; readonly code: number; readonly reason: string; readonly willReconnect: boolean }
  | { readonly type: 'reconnecting'; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'idle'; readonly code: number; readonly reason: string }
  | { readonly type: 'dead-peer'; readonly timeoutMs: number }
  | { readonly type: 'slowed'; readonly heartbeatIntervalMs: number; readonly previousIntervalMs: number }
  | { readonly type: 'rejected'; readonly code: number; readonly reason: string }
  | { readonly type: 'closed'; readonly cause: ConnectionCloseCause; readonly code: number; readonly reason: string; readonly report: ShutdownReport; readonly written: number }
  | { readonly type: 'session'; readonly status: NegotiatedStatus; readonly retransmitted: number }
  | { readonly type: 'forgotten'; readonly messages: number }
  | { readonly type: 'unconfirmed'; readonly messages: number; readonly copies: number };

/**
 * What a connection asks its driver to do, in order:
 *
 * - `open_socket` `{attempt, serial, resume}`: create a socket (call the target); events of older serials are stale;
 *   `resume` is what its URL asks for (wire format v2), or `null`;
 * - `codec` `{mode}`: how to read (and write) text frames from now on: `plain`, `hello` (only a hello is a control
 *   frame: the server's first frame decides), `wire` (control frames, escaped application text);
 * - `close_socket` `{code, reason}`: start the close handshake;
 * - `destroy_socket`: destroy the socket at once, without a handshake, and forget it;
 * - `abandon_socket`: forget the socket without closing it: the platform ends it (a page going away);
 * - `keepalive` `{frame, ack}`: send a protocol ping or the heartbeat message, carrying the acknowledgement `ack`
 *   (`null`: none; a heartbeat with an `ack` is the wire format's heartbeat `\u0006A<ack>`, a ping carries it as its payload);
 * - `reply_heartbeat` `{ack}`: answer the peer's own heartbeat message in kind;
 * - `write`: write the message of this `send` to the socket now (and keep a copy until confirmed);
 * - `enqueue`: keep a copy of the message of this `send` at the back of the queue;
 * - `refuse` `{reason}`: refuse the message of this `send` (`closed`, or the queue's `messages` or `bytes` bound);
 * - `flush`: write the queued messages in order while the socket takes them, then report `dequeued`;
 * - `drain`: take every queued message out, to hand back with the `closed` event;
 * - `forget_copies` `{copies}`: drop the oldest `copies` copies of written messages (confirmed, or past the bound);
 * - `deliver` / `duplicate`: hand the inbound data frame of this event to the application, or drop it (delivered before);
 * - resumable session: `number` `{seq}` (keep the message of this `send` as number `seq`), `transmit` `{seq}` (write
 *   message `seq` now), `release` `{through}` (the server has them: drop them), `send_ack` `{through}` (an
 *   acknowledgement on its own), `send_proof` `{secret, delivered}` (the answer to the server's challenge:
 *   `encodeProof`, written now, in-band), `hand_back` `{from, to}` (take messages `from..to` out, to hand back with the
 *   `forgotten` or `closed` event that follows), `renumber` `{from, to}` (a forgotten session: the kept messages
 *   `from..to`, never written, become `1..` of the new session), `requeue` (the server does not speak it: move every
 *   kept message to the queue, in order);
 * - `event`: a user event;
 * - `diagnostic`: a diagnostic (counts, codes, durations only: S10).
 */
/**
 * How a client's driver reads (and writes) text frames: `plain`, `hello` (only a hello is a control frame: the
 * server's first frame decides whether it speaks the wire format), `wire` (control frames, escaped application text).
 */
export type CodecMode = 'plain' | 'hello' | 'wire';

export type ConnectionCommand =
  | { readonly type: 'open_socket'; readonly attempt: number; readonly serial: number; readonly resume: ResumeTicket | null }
  | { readonly type: 'codec'; readonly mode: CodecMode }
  | { readonly type: 'close_socket'; readonly code: number; readonly reason: string }
  | { readonly type: 'destroy_socket' }
  | { readonly type: 'abandon_socket' }
  | { readonly type: 'keepalive'; readonly frame: 'ping' | 'heartbeat'; readonly ack: number | null }
  | { readonly type: 'reply_heartbeat'; readonly ack: number | null }
  | { readonly type: 'write' }
  | { readonly type: 'enqueue' }
  | { readonly type: 'refuse'; readonly reason: 'closed' | 'messages' | 'bytes' }
  | { readonly type: 'flush' }
  | { readonly type: 'drain' }
  | { readonly type: 'forget_copies'; readonly copies: number }
  | { readonly type: 'deliver' }
  | { readonly type: 'duplicate' }
  | { readonly type: 'number'; readonly seq: number }
  | { readonly type: 'transmit'; readonly seq: number }
  | { readonly type: 'release'; readonly through: number }
  | { readonly type: 'send_ack'; readonly through: number }
  | { readonly type: 'send_proof'; readonly secret: string; readonly delivered: number }
  | { readonly type: 'hand_back'; readonly from: number; readonly to: number }
  | { readonly type: 'renumber'; readonly from: number; readonly to: number }
  | { readonly type: 'requeue' }
  | { readonly type: 'event'; readonly event: ConnectionUserEvent }
  | Diagnostic;

/**
 * Diagnostics of the connection, besides those of its session and reconnect
 * machines (all counts, codes and durations: S10):
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `connect_failed` | warn | `attempt` |
 * | `connect_timeout` | warn | `attempt`, `timeout_ms` |
 * | `idle_read_timeout` | warn | `timeout_ms` (nothing received for `idleReadTimeoutMs` while idle: a dead peer) |
 * | `connection_lost` | info | `code` |
 * | `close_timeout` | warn | `timeout_ms` |
 * | `parked` | info | `code` |
 * | `unparked` | info | `trigger` (`activity` or `send`), `parked_ms` |
 * | `rejected` | warn | `code` |
 * | `keepalive_slowed` | warn | `from_ms`, `to_ms` (closed for a ping flood: B13) |
 * | `ping_flood_at_bound` | warn | `interval_ms` (closed for a ping flood at `maxHeartbeatIntervalMs`) |
 * | `offline` / `online` | info | `phase` (a `network` event) |
 * | `liveness_check` | debug | `trigger` (`visible`, `online`, `offline`) |
 * | `queue_flushed` | info | `messages` |
 * | `undelivered` | warn | `messages` |
 * | `unconfirmed` | warn | `messages`, `copies` (lost with messages the peer had not confirmed, B14) |
 * | `confirming` | debug | `messages` (work ended with writes unconfirmed: one last keep-alive confirms them, B16) |
 * | `protocol_error` | warn | `frame` (an invalid control frame) |
 * | `client_closed` | info | `cause`, `code` |
 * | `stale_event` / `invalid_event` / `invalid_time` | warn | `event` |
 */
export const CONNECTION_DIAGNOSTICS = /* @__PURE__ */ Object.freeze({
  connectFailed: 'connect_failed',
  connectTimeout: 'connect_timeout',
  idleReadTimeout: 'idle_read_timeout',
  connectionLost: 'connection_lost',
  closeTimeout: 'close_timeout',
  parked: 'parked',
  unparked: 'unparked',
  rejected: 'rejected',
  keepaliveSlowed: 'keepalive_slowed',
  pingFloodAtBound: 'ping_flood_at_bound',
  offline: 'offline',
  online: 'online',
  livenessCheck: 'liveness_check',
  queueFlushed: 'queue_flushed',
  undelivered: 'undelivered',
  unconfirmed: 'unconfirmed',
  confirming: 'confirming',
  protocolError: 'protocol_error',
  clientClosed: 'client_closed',
  staleEvent: 'stale_event',
  invalidEvent: 'invalid_event',
  invalidTime: 'invalid_time',
} as const);

/** The result of a step: the next state and the commands to carry out, in order. */
export type ConnectionTransition = readonly [state: ConnectionState, commands: readonly ConnectionCommand[]];

const WRITE: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'write' });
const ENQUEUE: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'enqueue' });
const FLUSH: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'flush' });
const DRAIN: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'drain' });
const DESTROY: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'destroy_socket' });
const ABANDON: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'abandon_socket' });
const REPLY: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'reply_heartbeat', ack: null });
const PING: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'keepalive', frame: 'ping', ack: null });
const HEARTBEAT: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'keepalive', frame: 'heartbeat', ack: null });
const DELIVER: ConnectionCommand = /* @__PURE__ */ Object.freeze({ type: 'deliver' });
const CODEC: Readonly<Record<CodecMode, ConnectionCommand>> = /* @__PURE__ */ Object.freeze({
  plain: Object.freeze({ type: 'codec', mode: 'plain' }),
  hello: Object.freeze({ type: 'codec', mode: 'hello' }),
  wire: Object.freeze({ type: 'codec', mode: 'wire' }),
});
const REFUSED: Readonly<Record<'closed' | 'messages' | 'bytes', ConnectionCommand>> = /* @__PURE__ */ Object.freeze({
  closed: Object.freeze({ type: 'refuse', reason: 'closed' }),
  messages: Object.freeze({ type: 'refuse', reason: 'messages' }),
  bytes: Object.freeze({ type: 'refuse', reason: 'bytes' }),
});
const NO_FIELDS = /* @__PURE__ */ Object.freeze({});
const NO_SIZES: readonly number[] = /* @__PURE__ */ Object.freeze([]);
const NO_LOSS: CloseInfo = /* @__PURE__ */ Object.freeze({ code: CLOSE_CODES.abnormal, reason: '' });

/**
 * Opens a client connection (quinn's `connect`): validates the options (or
 * takes a config from {@link defineConnectionConfig}), and returns the state
 * in phase `connecting` with its first commands: `open_socket` for attempt 0.
 *
 * @param seed - seed of the jitter generator: the driver draws it from its platform's randomness (B3).
 */
export function openConnection(options: ConnectionOptions | ConnectionConfig, now: number, seed: number): ConnectionTransition {
  if (!Number.isFinite(now)) throw new RangeError(`Invalid start time now: ${String(now)} (expected a finite number)`);
  const config = isConnectionConfig(options) ? options : defineConnectionConfig(options);
  const out: ConnectionCommand[] = [];
  const backoffOut: ReconnectCommand[] = [];
  const backoff = reconnectStep(createReconnectState(config.reconnect, seed), { type: 'connect', now }, backoffOut);
  const d: Draft = {
    config,
    now,
    phase: 'connecting',
    attempt: 0,
    sockets: 0,
    session: createSessionState(config.session, now),
    backoff,
    connectAt: null,
    closeAt: null,
    readAt: null,
    retryAfterMs: null,
    canPing: false,
    heartbeatsOwed: 0,
    queuedMessages: 0,
    queuedBytes: 0,
    lastLoss: NO_LOSS,
    parkedAt: null,
    cause: null,
    closeRequest: null,
    online: true,
    resume: config.resume === null ? null : config.resume.create(config.resume.config, now),
    unconfirmed: 0,
    unconfirmedCopies: 0,
    copySizes: NO_SIZES,
    copyBytes: 0,
    probeMark: null,
  };
  openSocket(d, 0, out);
  return [d, out];
}

function isConnectionConfig(options: ConnectionOptions | ConnectionConfig): options is ConnectionConfig {
  return Object.isFrozen(options) && typeof (options as Partial<ConnectionConfig>).session === 'object' && typeof (options as Partial<ConnectionConfig>).whenIdle === 'string';
}

/**
 * The pure step `(state, event) → [next, commands]`. It executes nothing and
 * never throws on a bad event: it warns through a diagnostic and keeps the
 * state consistent.
 */
export function connectionTransition(state: ConnectionState, event: ConnectionEvent): ConnectionTransition {
  const out: ConnectionCommand[] = [];
  const next = connectionStep(state, event, out);
  return [next, out.length === 0 ? NO_COMMANDS : out];
}

/**
 * The allocation-light form of {@link connectionTransition}: appends the
 * commands to `out` (a buffer the caller owns) and returns the next state.
 */
export function connectionStep(state: ConnectionState, event: ConnectionEvent, out: ConnectionCommand[]): ConnectionState {
  if (typeof event !== 'object' || (event as unknown) === null || typeof (event as { type?: unknown }).type !== 'string') {
    out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.invalidEvent, NO_FIELDS));
    return state;
  }
  const next = stepEvent(state, event, out);
  return withReadDeadline(next, next !== state && (event.type === 'inbound' || event.type === 'hello'));
}

function stepEvent(state: ConnectionState, event: ConnectionEvent, out: ConnectionCommand[]): ConnectionState {
  const now = eventTime(state, event, out);
  const d: Draft = { ...state, now };
  switch (event.type) {
    case 'socket_opened':
      return onOpened(d, event.canPing, out) ?? stale(state, event.type, out);
    case 'socket_closed':
      return onSocketClosed(d, closeInfo(event.code, event.reason), event.random, out) ?? stale(state, event.type, out);
    case 'inbound':
      return onInbound(d, event.frame, event.ack, out) ?? state;
    case 'hello':
      return onHello(d, event.hello, out);
    case 'retry_after':
      return onRetryAfter(d, event.delayMs, out);
    case 'timeout':
      return onTimeout(d, event.random, event.sendKeepalives, out);
    case 'send':
      return onSend(d, event.bytes, event.writable, out);
    case 'dequeued':
      return onDequeued(d, event.messages, event.bytes, out);
    case 'network':
      return onNetwork(d, event.online, out);
    case 'visibility':
      if (event.visible) checkLiveness(d, 'visible', out);
      return d;
    case 'start':
    case 'stop':
    case 'release':
    case 'signal':
      return onWork(d, { ...event, now }, out);
    case 'close':
      return onClose(d, event.cause === 'aborted' ? 'aborted' : 'closed', closeInfo(event.code, event.reason), event.immediate === true, event.abandon === true, out);
    default:
      out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.invalidEvent, { event: 'unknown' }));
      return state;
  }
}

/**
 * The earliest deadline of the connection (quinn's `poll_timeout`), or
 * `null` when nothing is armed: arm one timer for it and deliver
 * `{ type: 'timeout', now }` when it passes. Always `null` while parked or
 * closed.
 */
export function connectionDeadline(state: ConnectionState): number | null {
  let earliest = pollTimeout(state.session);
  const resume = state.resume !== null && state.phase === 'open' ? (state.config.resume?.deadline(state.resume) ?? null) : null;
  // Offline, a reconnect waits for the network instead of its delay.
  for (const at of [state.connectAt, state.closeAt, state.readAt, state.phase === 'backoff' && state.online ? state.backoff.deadline : null, resume]) {
    if (at !== null && (earliest === null || at < earliest)) earliest = at;
  }
  return earliest;
}

/**
 * Whether the socket asked for by `open_socket` with `serial` is still wanted:
 * a driver whose target is asynchronous checks it when the socket arrives,
 * and destroys a socket that is no longer wanted.
 */
export function wantsSocket(state: ConnectionState, serial: number): boolean {
  return state.phase === 'connecting' && state.sockets === serial;
}

/** Whether the close code (and reason) means "do not retry as is" under `config` (B12, B13). */
export function isTerminalClose(config: ConnectionConfig, code: number, reason: string): boolean {
  if (code === CLOSE_CODES.policyViolation && readPingFloodReason(reason) !== null) return false;
  return config.terminalCloseCodes.includes(code);
}

// ---------------------------------------------------------------------------
// Internals. A step copies the state once into a draft and edits it in place.

type Draft = ConnectionDraft;

/** A connection state being edited in place during one step (what a {@link ResumeLayer} steps with it). */
export type ConnectionDraft = { -readonly [K in keyof ConnectionState]: ConnectionState[K] };

function eventTime(state: ConnectionState, event: ConnectionEvent, out: ConnectionCommand[]): number {
  const now: unknown = event.now;
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.invalidTime, { event: event.type }));
    return state.now;
  }
  return now < state.now ? state.now : now;
}

function closeInfo(code: unknown, reason: unknown): CloseInfo {
  return {
    code: typeof code === 'number' && Number.isInteger(code) ? code : CLOSE_CODES.abnormal,
    reason: typeof reason === 'string' ? reason : '',
  };
}

function stale(state: ConnectionState, event: string, out: ConnectionCommand[]): ConnectionState {
  out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.staleEvent, { event }));
  return state;
}

function emit(out: ConnectionCommand[], event: ConnectionUserEvent): void {
  out.push({ type: 'event', event });
}

/**
 * Runs one event through the composed session machine and translates its commands. `random` is the jitter draw of
 * the event being handled, for the reconnect a dead peer starts.
 */
function runSession(d: Draft, event: SessionEvent, out: ConnectionCommand[], random?: number): void {
  const inner: SessionCommand[] = [];
  d.session = sessionStep(d.session, event, inner);
  for (const command of inner) {
    switch (command.type) {
      case 'arm':
      case 'cancel':
        // The driver arms one timer at connectionDeadline(); session timers are in it.
        break;
      case 'send':
        // The session sends only while attached, and it is attached exactly while open.
        sendKeepalive(d, out);
        break;
      case 'close':
        // B5: the session declared the peer dead (it has detached itself).
        emit(out, { type: 'dead-peer', timeoutMs: d.session.config.pongTimeoutMs ?? /* c8 ignore next */ 0 });
        out.push(DESTROY);
        lost(d, { code: command.code, reason: command.reason }, true, random, out);
        break;
      case 'diagnostic':
        out.push(command);
        break;
    }
  }
}

/** Runs one event through the composed reconnect machine; its diagnostics pass through. */
function runBackoff(d: Draft, event: ReconnectEvent, out: ConnectionCommand[]): void {
  const inner: ReconnectCommand[] = [];
  d.backoff = reconnectStep(d.backoff, event, inner);
  for (const command of inner) if (command.type === 'diagnostic') out.push(command);
}

function openSocket(d: Draft, attempt: number, out: ConnectionCommand[]): void {
  d.phase = 'connecting';
  d.attempt = attempt;
  d.sockets += 1;
  d.parkedAt = null;
  d.connectAt = d.now + d.config.connectTimeoutMs;
  const resume = d.resume === null ? null : (d.config.resume?.request(d.resume) ?? null);
  if (resume !== null) out.push(CODEC.hello);
  out.push({ type: 'open_socket', attempt, serial: d.sockets, resume });
}

/** One keep-alive: a ping or a heartbeat message, carrying an acknowledgement where one is owed (B14). */
function sendKeepalive(d: Draft, out: ConnectionCommand[]): void {
  // Without a resumable session, the answer to this keep-alive proves the peer had what was written before it.
  if (d.probeMark === null && d.unconfirmed > 0) d.probeMark = d.unconfirmed;
  if (!d.canPing) d.heartbeatsOwed += 1;
  const ack = outgoingAck(d, !d.canPing);
  if (ack === null) out.push(d.canPing ? PING : HEARTBEAT);
  else out.push({ type: 'keepalive', frame: d.canPing ? 'ping' : 'heartbeat', ack });
}

/**
 * The acknowledgement a keep-alive carries: on a resumed connection, the one owed; a heartbeat message always
 * carries one (it is the wire format's heartbeat, `\u0006A<n>`). `null` otherwise.
 */
function outgoingAck(d: Draft, heartbeat: boolean): number | null {
  if (d.resume?.phase !== 'resumed') return null;
  const owed = runResume(d, { type: 'outgoing', now: d.now }, [], true);
  return owed ?? (heartbeat ? d.resume.delivery.deliveredThrough : null);
}

/**
 * Runs one event through the composed resumable session (the layer's `step`); returns the acknowledgement it owes when
 * `ride` (the caller sends a keep-alive that carries it), else sends it on its own.
 */
function runResume(d: Draft, event: ResumeEvent, out: ConnectionCommand[], ride = false): number | null {
  /* c8 ignore next -- callers check that resume is on */
  return d.config.resume?.step(d, event, out, ride) ?? null;
}

/** The server's hello: the resumable session comes up on this connection. */
function onHello(d: Draft, hello: Hello, out: ConnectionCommand[]): ConnectionState {
  if (d.phase === 'closing' && d.resume?.phase === 'waiting') {
    // Closing before the session came up: nothing more is written, but what the server sends is read as the wire format.
    if (hello.status !== 'prove') out.push(CODEC.wire);
    return d;
  }
  if (d.phase !== 'open' || d.resume === null) {
    out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.protocolError, { frame: 'hello' }));
    return d;
  }
  runSession(d, { type: 'alive', now: d.now }, out);
  // The wire format from here on, before anything is written: retransmitted text is escaped. A challenge is not
  // the session yet: the verdict is the next hello.
  if (d.resume.phase === 'waiting' && hello.status !== 'prove') out.push(CODEC.wire);
  runResume(d, { type: 'hello', now: d.now, hello }, out);
  return d;
}

/** A plain write (or `messages` flushed ones): unconfirmed until the peer proves it has them; copies bounded. */
function written(d: Draft, messages: number, bytes: number, out: ConnectionCommand[]): void {
  d.unconfirmed += messages;
  const sizes = [...d.copySizes];
  const each = Math.floor(bytes / messages);
  for (let i = 0; i < messages; i++) sizes.push(i === messages - 1 ? bytes - each * (messages - 1) : each);
  d.copyBytes += bytes;
  // Bounded like the queue: the oldest copies go first (the report still counts them).
  let excess = 0;
  while (sizes.length - excess > d.config.maxQueuedMessages || (d.copyBytes > d.config.maxQueuedBytes && excess < sizes.length)) {
    d.copyBytes -= sizes[excess] ?? /* c8 ignore next */ 0;
    excess++;
  }
  d.copySizes = excess === 0 ? sizes : sizes.slice(excess);
  d.unconfirmedCopies = d.copySizes.length;
  if (excess > 0) out.push({ type: 'forget_copies', copies: excess });
  confirmIdle(d, out);
}

/** Drops the oldest `count` copies. */
function dropCopies(d: Draft, count: number, out: ConnectionCommand[]): void {
  if (count <= 0) return;
  for (let i = 0; i < count; i++) d.copyBytes -= d.copySizes[i] ?? /* c8 ignore next */ 0;
  d.copySizes = d.copySizes.length === count ? NO_SIZES : d.copySizes.slice(count);
  d.unconfirmedCopies = d.copySizes.length;
  out.push({ type: 'forget_copies', copies: count });
}

/** The peer proved it has the oldest `messages` unconfirmed ones. */
function confirmed(d: Draft, messages: number, out: ConnectionCommand[]): void {
  const count = Math.min(messages, d.unconfirmed);
  if (count <= 0) return;
  // The copies are of the newest unconfirmed messages; the oldest uncopied ones are confirmed first.
  const drop = Math.max(0, count - (d.unconfirmed - d.unconfirmedCopies));
  d.unconfirmed -= count;
  dropCopies(d, drop, out);
  if (d.probeMark !== null) d.probeMark = d.probeMark > count ? d.probeMark - count : null;
  // Written since the keep-alive that confirmed these, while idle: confirmed in turn.
  confirmIdle(d, out);
}

/** A connection lost (or given up) with unconfirmed messages: reported, with the copies, never silent (B14). */
function reportUnconfirmed(d: Draft, out: ConnectionCommand[]): void {
  d.probeMark = null;
  if (d.unconfirmed === 0) return;
  const messages = d.unconfirmed;
  const copies = d.unconfirmedCopies;
  d.unconfirmed = 0;
  d.unconfirmedCopies = 0;
  d.copySizes = NO_SIZES;
  d.copyBytes = 0;
  out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.unconfirmed, { messages, copies }));
  emit(out, { type: 'unconfirmed', messages, copies });
}

function onOpened(d: Draft, canPing: boolean, out: ConnectionCommand[]): ConnectionState | null {
  if (d.phase !== 'connecting') return null;
  d.phase = 'open';
  d.connectAt = null;
  d.canPing = canPing;
  d.heartbeatsOwed = 0;
  runBackoff(d, { type: 'connected', now: d.now }, out);
  // S3, S4: attach on open; when work is in flight the heartbeat resumes at once (B6).
  runSession(d, { type: 'attach', now: d.now }, out);
  if (d.queuedMessages > 0) out.push(FLUSH);
  emit(out, { type: 'open', attempt: d.attempt });
  if (isResuming(d.resume)) runResume(d, { type: 'opened', now: d.now }, out);
  return d;
}

function onSocketClosed(d: Draft, info: CloseInfo, random: number | undefined, out: ConnectionCommand[]): ConnectionState | null {
  switch (d.phase) {
    case 'connecting':
      d.connectAt = null;
      lost(d, info, false, random, out);
      return d;
    case 'open':
      lost(d, info, true, random, out);
      return d;
    case 'closing':
      d.closeAt = null;
      // The client's own close handshake completed: the server read everything written before its close frame.
      // The server echoed the client's close code: it read the client's close frame, and everything before it. A
      // different code is its own close crossing the client's: it may not have read what was in flight.
      if (info.code !== CLOSE_CODES.abnormal && info.code === d.closeRequest?.code) {
        confirmed(d, d.unconfirmed, out);
        if (isResuming(d.resume)) runResume(d, { type: 'closed_cleanly', now: d.now }, out);
      }
      finish(d, closingCause(d), info, out);
      return d;
    default:
      return null;
  }
}

/** The socket is gone: it was open (`opened`) or an attempt failed. Decide what comes next. */
function lost(d: Draft, info: CloseInfo, opened: boolean, random: number | undefined, out: ConnectionCommand[]): void {
  // Read before the session detaches: no work in flight and nothing waiting to be written or confirmed.
  const idle = isIdle(d);
  d.canPing = false;
  d.heartbeatsOwed = 0;
  d.lastLoss = info;
  if (opened) {
    runSession(d, { type: 'detach', now: d.now }, out);
    out.push(diagnostic('info', CONNECTION_DIAGNOSTICS.connectionLost, { code: info.code }));
    reportUnconfirmed(d, out);
    if (isResuming(d.resume)) runResume(d, { type: 'disconnected', now: d.now }, out);
  } else {
    out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.connectFailed, { attempt: d.attempt }));
  }
  // B12: a terminal code is not retried as is.
  if (isTerminalClose(d.config, info.code, info.reason)) {
    out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.rejected, { code: info.code }));
    if (opened) emit(out, { type: 'close', code: info.code, reason: info.reason, willReconnect: false });
    emit(out, { type: 'rejected', code: info.code, reason: info.reason });
    finish(d, 'rejected', info, out);
    return;
  }
  // B13: told it pings too often, the client slows down and goes on.
  const flood = info.code === CLOSE_CODES.policyViolation ? readPingFloodReason(info.reason) : null;
  if (opened && flood !== null) slowDown(d, flood.minIntervalMs, out);
  if (shouldPark(d)) {
    if (opened) emit(out, { type: 'close', code: info.code, reason: info.reason, willReconnect: false });
    park(d, info, out);
    return;
  }
  const notNow = BACK_OFF_CLOSE_CODES.includes(info.code);
  // B16: a connection lost while idle, after it opened (a reclaimer's cut, a server restart), is not a failure: the
  // reconnect does not grow the backoff, whatever the connection's lifetime.
  const reclaimed = opened && !notNow && idle;
  runBackoff(d, { type: 'disconnected', now: d.now, random, minDelayMs: d.retryAfterMs ?? undefined, notNow, reclaimed }, out);
  if (d.backoff.phase === 'exhausted') {
    if (opened) emit(out, { type: 'close', code: info.code, reason: info.reason, willReconnect: false });
    finish(d, 'exhausted', info, out);
    return;
  }
  d.phase = 'backoff';
  if (opened) emit(out, { type: 'close', code: info.code, reason: info.reason, willReconnect: true });
  emit(out, { type: 'reconnecting', attempt: d.backoff.attempt, delayMs: (d.backoff.deadline ?? /* c8 ignore next */ d.now) - d.now });
}

/**
 * B13: slows the heartbeat down, up to the bound (the session is detached, so nothing is armed): to the server's
 * minimum when its close said it (with a tenth more, for the network's jitter: one close and the ends agree), else
 * doubled.
 */
function slowDown(d: Draft, minIntervalMs: number | null, out: ConnectionCommand[]): void {
  const previous = d.session.config.heartbeatIntervalMs;
  const bound = d.config.maxHeartbeatIntervalMs;
  if (previous >= bound) {
    out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.pingFloodAtBound, { interval_ms: previous }));
    return;
  }
  const wanted = minIntervalMs === null ? previous * 2 : Math.max(previous + 1, Math.ceil(minIntervalMs * 1.1));
  const next = Math.min(bound, wanted);
  // No option checking inside a step: the interval only grows, within maxHeartbeatIntervalMs, checked at construction.
  d.session = { ...d.session, config: Object.freeze({ ...d.session.config, heartbeatIntervalMs: next }) };
  out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.keepaliveSlowed, { from_ms: previous, to_ms: next }));
  emit(out, { type: 'slowed', heartbeatIntervalMs: next, previousIntervalMs: previous });
}

/** No work in flight, nothing queued and nothing unacknowledged: the connection has nothing to do. */
function isIdle(d: Draft): boolean {
  const unacked = isResuming(d.resume) ? d.resume.delivery.unacked.length : 0;
  return d.session.total === 0 && d.queuedMessages === 0 && unacked === 0;
}

/** Lazy and idle: a lost connection is not worth re-establishing yet. */
function shouldPark(d: Draft): boolean {
  return d.config.whenIdle === 'lazy' && isIdle(d);
}

function park(d: Draft, info: CloseInfo, out: ConnectionCommand[]): void {
  runBackoff(d, { type: 'stop', now: d.now }, out);
  d.phase = 'parked';
  d.parkedAt = d.now;
  out.push(diagnostic('info', CONNECTION_DIAGNOSTICS.parked, { code: info.code }));
  emit(out, { type: 'idle', code: info.code, reason: info.reason });
}

/** Work came back (or a message to send): connect at once, on demand (attempt 0). */
function unpark(d: Draft, trigger: 'activity' | 'send', out: ConnectionCommand[]): void {
  const parkedMs = d.now - (d.parkedAt ?? /* c8 ignore next */ d.now);
  runBackoff(d, { type: 'connect', now: d.now }, out);
  openSocket(d, 0, out);
  out.push(diagnostic('info', CONNECTION_DIAGNOSTICS.unparked, { trigger, parked_ms: parkedMs }));
}

function onInbound(d: Draft, frame: InboundFrame, ack: number | undefined, out: ConnectionCommand[]): ConnectionState | null {
  // Data still arrives while the client's close handshake runs; nothing else matters then.
  if (d.phase === 'closing' && frame === 'data') {
    deliver(d, out);
    return d;
  }
  if (d.phase !== 'open') return null;
  // Application data before the hello means the server does not speak the protocol. Keep-alives (protocol pings and
  // pongs, the plain heartbeat) decide nothing: a server that speaks it may keep the connection alive while the client
  // proves its session and the application admits it (B17), and one that does not is found out by the hello timeout.
  if (d.resume?.phase === 'waiting' && frame === 'data') runResume(d, { type: 'foreign', now: d.now }, out);
  // B5: any inbound frame is proof of life.
  runSession(d, { type: 'alive', now: d.now }, out);
  if (typeof ack === 'number' && d.resume?.phase === 'resumed') runResume(d, { type: 'ack', now: d.now, through: ack }, out);
  switch (frame) {
    case 'heartbeat': {
      // The heartbeat-answer rule, one copy for both ends.
      const verdict = answerHeartbeat(d.heartbeatsOwed);
      d.heartbeatsOwed = verdict.unanswered;
      if (verdict.reply) {
        const owed = outgoingAck(d, true);
        out.push(owed === null ? REPLY : { type: 'reply_heartbeat', ack: owed });
      } else if (d.probeMark !== null) {
        // The answer to one of ours: the peer had everything written before it.
        confirmed(d, d.probeMark, out);
      }
      return d;
    }
    case 'pong':
      if (d.probeMark !== null) confirmed(d, d.probeMark, out);
      return d;
    case 'data':
      deliver(d, out);
      return d;
    case 'invalid':
      out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.protocolError, { frame: 'control' }));
      return d;
    default:
      return d;
  }
}

/** An inbound data frame: on a resumed connection the session numbers it (delivered once, in order); else delivered. */
function deliver(d: Draft, out: ConnectionCommand[]): void {
  if (d.resume?.phase === 'resumed') runResume(d, { type: 'data', now: d.now }, out);
  else out.push(DELIVER);
}

function onTimeout(d: Draft, random: number | undefined, sendKeepalives: boolean | undefined, out: ConnectionCommand[]): ConnectionState {
  const now = d.now;
  if (d.phase === 'connecting' && d.connectAt !== null && d.connectAt <= now) {
    // B10: an attempt that has not opened in time is a failed attempt.
    d.connectAt = null;
    out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.connectTimeout, { attempt: d.attempt, timeout_ms: d.config.connectTimeoutMs }));
    out.push(DESTROY);
    lost(d, { code: CLOSE_CODES.abnormal, reason: 'connect_timeout' }, false, random, out);
  }
  if (d.phase === 'closing' && d.closeAt !== null && d.closeAt <= now) {
    d.closeAt = null;
    out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.closeTimeout, { timeout_ms: d.config.closeTimeoutMs }));
    out.push(DESTROY);
    finish(d, closingCause(d), { code: CLOSE_CODES.abnormal, reason: 'close_timeout' }, out);
  }
  if (d.phase === 'backoff' && d.online && d.backoff.deadline !== null && d.backoff.deadline <= now) {
    if (shouldPark(d)) {
      // Lazy: the work in flight at the loss is done and nothing is queued.
      park(d, d.lastLoss, out);
    } else {
      runBackoff(d, { type: 'timer', now }, out);
      openSocket(d, d.backoff.attempt, out);
    }
  }
  if (d.phase === 'open' && d.readAt !== null && d.readAt <= now) readTimedOut(d, d.readAt, random, out);
  if (d.phase === 'open' && d.resume !== null) {
    const resumeDue = d.config.resume?.deadline(d.resume) ?? null;
    const waiting = d.resume.phase === 'waiting';
    if (resumeDue !== null && resumeDue <= now) runResume(d, { type: 'timeout', now }, out);
    if (waiting && d.resume.phase === 'unsupported') {
      // No hello in time: this socket asked for the wire format, and a slow server that speaks it would still speak it on it. A new socket,
      // asking for nothing, follows.
      out.push(DESTROY);
      lost(d, { code: CLOSE_CODES.abnormal, reason: 'hello_timeout' }, true, random, out);
    } else if (waiting && d.resume.phase === 'detached') {
      // Challenged, proved, and no verdict in time (B17): this connection is given up; the next one resumes again.
      out.push(DESTROY);
      lost(d, { code: CLOSE_CODES.abnormal, reason: 'verdict_timeout' }, true, random, out);
    }
  }
  const due = pollTimeout(d.session);
  if (due !== null && due <= now) runSession(d, { type: 'timeout', now, sendKeepalives }, out, random);
  return d;
}

/**
 * B5 while idle (`idleReadTimeoutMs`): the read deadline is armed exactly while open with no heartbeat running,
 * counted from when that began or from the last inbound frame (`heard`), and `null` otherwise.
 */
function withReadDeadline(state: ConnectionState, heard: boolean): ConnectionState {
  const limit = state.config.idleReadTimeoutMs;
  const wanted = limit !== null && state.phase === 'open' && !wantsHeartbeat(state.session);
  const readAt = !wanted ? null : heard || state.readAt === null ? state.now + limit : state.readAt;
  return readAt === state.readAt ? state : { ...state, readAt };
}

/** Nothing received for `idleReadTimeoutMs` while idle: the peer is dead (B5), unless the check itself is late (B15). */
function readTimedOut(d: Draft, due: number, random: number | undefined, out: ConnectionCommand[]): void {
  const limit = d.config.idleReadTimeoutMs ?? /* c8 ignore next -- armed only with the option on */ 0;
  const late = d.now - due;
  if (late > d.session.config.lateTimerMs) {
    // B15: this process was not running, so what the peer sent may be unread: a fresh limit from now.
    out.push(diagnostic('warn', SESSION_DIAGNOSTICS.heartbeatLate, { timer: 'idle_read', late_ms: late, missed: 0 }));
    d.readAt = d.now + limit;
    return;
  }
  d.readAt = null;
  out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.idleReadTimeout, { timeout_ms: limit }));
  emit(out, { type: 'dead-peer', timeoutMs: limit });
  out.push(DESTROY);
  lost(d, { code: CLOSE_CODES.abnormal, reason: 'idle_read_timeout' }, true, random, out);
}

/** The peer's least reconnect delay (an SSE `retry:` field), kept for every later backoff; `null` forgets it. */
function onRetryAfter(d: Draft, delayMs: unknown, out: ConnectionCommand[]): ConnectionState {
  if (delayMs !== null && (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0)) {
    out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.invalidEvent, { event: 'retry_after' }));
    return d;
  }
  d.retryAfterMs = delayMs;
  return d;
}

function onSend(d: Draft, bytes: number, writable: boolean, out: ConnectionCommand[]): ConnectionState {
  if (d.phase === 'closing' || d.phase === 'closed') {
    out.push(REFUSED.closed);
    return d;
  }
  const size = typeof bytes === 'number' && Number.isInteger(bytes) && bytes >= 0 ? bytes : 0;
  if (isResuming(d.resume)) {
    // B14: numbered and kept until the server acknowledges it; transmitted now when the session is up.
    runResume(d, { type: 'accept', now: d.now, bytes: size }, out);
    if (d.phase === 'parked' && d.resume.delivery.unacked.length > 0) unpark(d, 'send', out);
    return d;
  }
  if (d.phase === 'open' && writable && d.queuedMessages === 0) {
    out.push(WRITE);
    written(d, 1, size, out);
    return d;
  }
  if (d.queuedMessages >= d.config.maxQueuedMessages) {
    out.push(REFUSED.messages);
    return d;
  }
  if (d.queuedBytes + size > d.config.maxQueuedBytes) {
    out.push(REFUSED.bytes);
    return d;
  }
  d.queuedMessages += 1;
  d.queuedBytes += size;
  out.push(ENQUEUE);
  // Behind a queue that a flush left (the socket stopped taking them): keep the order, try again.
  if (d.phase === 'open' && writable) out.push(FLUSH);
  if (d.phase === 'parked') unpark(d, 'send', out);
  return d;
}

function onDequeued(d: Draft, messages: number, bytes: number, out: ConnectionCommand[]): ConnectionState {
  const validMessages = Number.isInteger(messages) && messages >= 0 && messages <= d.queuedMessages;
  const validBytes = Number.isInteger(bytes) && bytes >= 0 && bytes <= d.queuedBytes;
  if (!validMessages || !validBytes) {
    out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.invalidEvent, { event: 'dequeued' }));
    return d;
  }
  if (messages === 0) return d;
  d.queuedMessages -= messages;
  d.queuedBytes -= bytes;
  out.push(diagnostic('info', CONNECTION_DIAGNOSTICS.queueFlushed, { messages }));
  written(d, messages, bytes, out);
  return d;
}

function onNetwork(d: Draft, online: boolean, out: ConnectionCommand[]): ConnectionState {
  if (online === d.online) return d;
  d.online = online;
  out.push(diagnostic('info', online ? CONNECTION_DIAGNOSTICS.online : CONNECTION_DIAGNOSTICS.offline, { phase: d.phase }));
  if (!online) {
    // An open connection may be gone with the network: ask now rather than at the next tick.
    checkLiveness(d, 'offline', out);
    return d;
  }
  if (d.phase === 'backoff') {
    // Back online: the wait was for the network, not for the server. Go now.
    if (shouldPark(d)) park(d, d.lastLoss, out);
    else {
      runBackoff(d, { type: 'timer', now: d.now }, out);
      openSocket(d, d.backoff.attempt, out);
    }
  } else {
    checkLiveness(d, 'online', out);
  }
  return d;
}

/**
 * Checks an open connection at once (a page visible again, a network change): one keep-alive, and with liveness on,
 * the peer's answer is due within `pongTimeoutMs` (B5).
 */
function checkLiveness(d: Draft, trigger: 'visible' | 'online' | 'offline', out: ConnectionCommand[]): void {
  if (d.phase !== 'open') return;
  out.push(diagnostic('debug', CONNECTION_DIAGNOSTICS.livenessCheck, { trigger }));
  runSession(d, { type: 'signal', now: d.now, sendKeepalives: true }, out);
}

function onWork(d: Draft, event: ConnectionWorkEvent, out: ConnectionCommand[]): ConnectionState {
  const busy = d.session.total > 0;
  runSession(d, event, out);
  // S1: work starting (total 0 → 1) ends a park.
  if (d.phase === 'parked' && d.session.total > 0) unpark(d, 'activity', out);
  if (busy) confirmIdle(d, out);
  return d;
}

/**
 * B16: no work in flight, and writes not yet confirmed (the work just ended, or a message was sent while idle): one
 * keep-alive, whose answer confirms them, so a later idle reclaim reports nothing (no false `unconfirmed`). While
 * busy the heartbeat does this.
 */
function confirmIdle(d: Draft, out: ConnectionCommand[]): void {
  if (d.session.total > 0 || d.phase !== 'open' || d.unconfirmed === 0 || d.probeMark !== null) return;
  out.push(diagnostic('debug', CONNECTION_DIAGNOSTICS.confirming, { messages: d.unconfirmed }));
  sendKeepalive(d, out);
}

function onClose(d: Draft, cause: 'closed' | 'aborted', info: CloseInfo, immediate: boolean, abandon: boolean, out: ConnectionCommand[]): ConnectionState {
  if (d.phase === 'closed') return d;
  if (immediate && (d.phase === 'open' || d.phase === 'closing' || d.phase === 'connecting')) {
    // No time for a handshake: destroy the socket (or leave it to the platform) and close for good now.
    if (d.phase === 'open') runSession(d, { type: 'detach', now: d.now }, out);
    out.push(abandon ? ABANDON : DESTROY);
    finish(d, d.cause ?? cause, info, out);
    return d;
  }
  if (d.phase === 'closing') return d;
  // B6, B10: no attempt starts after a deliberate close.
  runBackoff(d, { type: 'stop', now: d.now }, out);
  d.cause = cause;
  d.closeRequest = info;
  switch (d.phase) {
    case 'open':
      // No keep-alives (and no dead-peer kill) during the close handshake.
      runSession(d, { type: 'detach', now: d.now }, out);
      d.phase = 'closing';
      d.closeAt = d.now + d.config.closeTimeoutMs;
      out.push({ type: 'close_socket', code: info.code, reason: info.reason });
      return d;
    case 'connecting':
      d.connectAt = null;
      out.push(DESTROY);
      finish(d, cause, info, out);
      return d;
    default:
      finish(d, cause, info, out);
      return d;
  }
}

/** Why a closing connection is closing (set by the close request that started it). */
function closingCause(d: Draft): ConnectionCloseCause {
  /* c8 ignore next -- only the close request enters closing, and it sets the cause */
  return d.cause ?? 'closed';
}

/** Closed for good (B10): nothing armed, queued messages handed back, the session shut down (S9). */
function finish(d: Draft, cause: ConnectionCloseCause, info: CloseInfo, out: ConnectionCommand[]): void {
  if (d.backoff.phase !== 'stopped' && d.backoff.phase !== 'exhausted') runBackoff(d, { type: 'stop', now: d.now }, out);
  d.phase = 'closed';
  d.cause = cause;
  d.connectAt = null;
  d.closeAt = null;
  d.parkedAt = null;
  d.canPing = false;
  d.heartbeatsOwed = 0;
  reportUnconfirmed(d, out);
  // Of what is handed back, oldest first: how many were written (they may have arrived); the rest never left.
  let written = 0;
  if (d.resume !== null) {
    written = d.config.resume?.finish(d, out) ?? 0;
    d.resume = null;
  }
  if (d.queuedMessages > 0) {
    out.push(DRAIN);
    out.push(diagnostic('warn', CONNECTION_DIAGNOSTICS.undelivered, { messages: d.queuedMessages }));
    d.queuedMessages = 0;
    d.queuedBytes = 0;
  }
  const session = d.session;
  const report: ShutdownReport = {
    total: session.total,
    active: session.counts,
    oldestActivityMs: session.busySince === null ? null : d.now - session.busySince,
    keepalivesSent: session.keepalivesSent,
  };
  runSession(d, { type: 'shutdown', now: d.now }, out);
  out.push(diagnostic('info', CONNECTION_DIAGNOSTICS.clientClosed, { cause, code: info.code }));
  emit(out, { type: 'closed', cause, code: info.code, reason: info.reason, report, written });
}
