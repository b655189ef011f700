import type { Diagnostic } from './commands.js';
import type { KernelConfig } from './kernel-options.js';
import type { ReconnectState } from './reconnect.js';
import type { RttFields } from './rtt.js';
import type { NegotiatedStatus } from './resume.js';
import type { SessionEvent, SessionState } from './session.js';
import type { Hello } from './wire.js';

/**
 * The client connection's vocabulary: its phases, its state, the events it takes, the commands and user events it
 * returns, and the names of its diagnostics. The kernel that steps them is `kernel.ts`.
 */

/** Where a client connection is (B10). See the table in this module's documentation. */
export type ConnectionPhase = 'connecting' | 'open' | 'backoff' | 'parked' | 'closing' | 'closed';

/**
 * Why a connection closed for good: `close` asked for it (`closed`, or `aborted` for an abort signal),
 * `reconnect.maxAttempts` consecutive attempts failed to open (`exhausted`, B11), or the peer closed with a terminal
 * code (`rejected`, B12).
 */
export type ConnectionCloseCause = 'closed' | 'aborted' | 'exhausted' | 'rejected';

/** A session's shutdown report (S9): what was in flight when it ended, with counts, reason names and durations only (S10). */
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

/** The kernel's timers, indexes into {@link ConnectionState.timers} (quinn-proto's `TimerTable`). */
export const TIMER = /* @__PURE__ */ Object.freeze({
  /** The connect timeout, while `connecting`. */
  connect: 0,
  /** The close-handshake timeout, while `closing`. */
  close: 1,
} as const);

/** A kernel timer's index (see {@link TIMER}). */
export type KernelTimer = (typeof TIMER)[keyof typeof TIMER];

/**
 * The state of a client connection: plain data (but for `config.layers`, one object shared by every state of the
 * connection). Never mutate it; every step returns a new object when anything changed. Its round-trip fields
 * ({@link RttFields}: the round-trip time measured by answered keep-alives, kept across reconnects) read as
 * milliseconds with `roundTripTime(state)`.
 */
export interface ConnectionState extends RttFields {
  readonly config: KernelConfig;
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
  /**
   * Consecutive reclaim-then-reconnect cycles while no work was in flight (B16): connections lost while idle after
   * they opened, each followed by a reconnect (not a park). Work starting, a loss while busy, a park and a restart
   * reset it; at {@link IDLE_CHURN_CYCLES} the kernel warns `idle_churn` once for the streak. A gauge for a metric.
   */
  readonly idleChurn: number;
  /**
   * Connections lost while idle after they opened (reclaims: a cut while no work was in flight, whether a reconnect or
   * a park followed), since the connection was created: a counter for a metric.
   */
  readonly idleReclaims: number;
  /** The kernel's timer table, indexed by {@link TIMER}: each a deadline or `null`. */
  readonly timers: readonly (number | null)[];
  /** The least delay before a reconnect that the peer asked for (a `retry_after` event), or `null`. */
  readonly retryAfterMs: number | null;
  /** Whether keep-alives on the open socket are protocol pings (else heartbeat messages). */
  readonly canPing: boolean;
  /** Heartbeat messages sent on the open socket and not answered yet. */
  readonly heartbeatsOwed: number;
  /** When the peer was last heard from (any frame on an open socket, or the socket opening), or `null` before. */
  readonly heardAt: number | null;
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
  /** The code and reason of a requested close (sent in the close frame). */
  readonly closeRequest: CloseInfo | null;
  /** Each layer's slice, in the order of `config.layers` (read one with {@link layerState}). */
  readonly layers: readonly object[];
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
 * Everything that can happen to a client connection. Time arrives as monotonic `now`; randomness for the jitter as
 * `random` in [0, 1) on the events that may start a backoff (else the seeded generator draws).
 *
 * - `socket_opened`: the current socket opened; `canPing` says whether it has protocol pings.
 * - `socket_closed`: the current socket closed (or failed to open) with `code` and `reason`.
 * - `inbound`: the open socket received a frame (any frame is proof of life); `ack` is the acknowledgement it
 *   carried (a ping's payload, a resumed connection's heartbeat or ack), if any.
 * - `hello`: the server's hello (wire format v2) arrived on the open socket (the resume layer's).
 * - `retry_after`: the peer asked for at least `delayMs` before any later reconnect (an SSE stream's `retry:`
 *   field); each backoff delay is then that floor plus the jittered backoff, capped at `reconnect.maxDelayMs`.
 *   `null` forgets it.
 * - `timeout`: fire everything due at `now` (quinn's `handle_timeout`).
 * - `send`: the application sends a message of `bytes` bytes; `writable` is whether the socket can take it now.
 * - `dequeued`: the driver wrote `messages` queued messages (`bytes` bytes) after a `flush`.
 * - `network`, `visibility`: the platform's network and page lifecycle (the lifecycle layer's).
 * - `start` / `stop` / `release` / `signal`: work on the activity (session events).
 * - `close`: close for good with `code` and `reason` (`cause` `aborted` for an abort signal; `immediate`
 *   skips the close handshake, for a process that is exiting).
 * - `restart`: start a connection closed for good by `rejected` or `exhausted` again (see `canRestart`), with a
 *   fresh attempt count and backoff; in any other phase (or after a close that was asked for) it changes nothing and
 *   warns `restart_ignored`.
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
  | { readonly type: 'restart'; readonly now: number }
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
 * The user events a connection reports, as data (the driver emits them after the step; no control flow reads a
 * diagnostic):
 *
 * - `open` `{attempt}`: a socket opened (attempt 0: on demand);
 * - `close` `{code, reason, willReconnect}`: an open socket closed; `willReconnect` says whether a backoff follows;
 * - `reconnecting` `{attempt, delayMs}`: attempt `attempt` starts in `delayMs`;
 * - `parked` `{code, reason}`: lazy and idle: parked (no connection, on purpose) until work comes back (lazy-park
 *   layer);
 * - `idle` `{code, reason}`: deprecated alias of `parked`, emitted right after it with the same fields (removed in the
 *   next minor version: "idle" means only "no work in flight");
 * - `dead-peer` `{timeoutMs}`: no proof of life in time; the socket is destroyed (B5);
 * - `slowed` `{heartbeatIntervalMs, previousIntervalMs}`: closed for a ping flood, the interval grew (B13);
 * - `rejected` `{code, reason}`: closed with a terminal code (B12);
 * - `closed` `{cause, code, reason, report, written}`: closed for good; `report` is the session's shutdown report (S9);
 * - `session` `{status, retransmitted}`: how the resumable session came up on a connection (`new`, `resumed`,
 *   `forgotten`, or `unsupported`: the server does not speak it, and the client falls back for good);
 * - `forgotten` `{messages}`: the server did not know the session: the `messages` written to it and not acknowledged
 *   are handed back (`hand_back` before this event); those never written go on in the new session (B14);
 * - `unconfirmed` `{messages, copies}`: without a resumable session, a connection was lost with `messages` written
 *   since the peer last proved it had them; the driver hands back its `copies` of the newest (B14).
 */
export type ConnectionUserEvent =
  | { readonly type: 'open'; readonly attempt: number }
  | { readonly type: 'close'; readonly code: number; readonly reason: string; readonly willReconnect: boolean }
  | { readonly type: 'reconnecting'; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'parked'; readonly code: number; readonly reason: string }
  // Deprecated: the alias of `parked`, emitted right after it; removed in the next minor version.
  | { readonly type: 'idle'; readonly code: number; readonly reason: string }
  | { readonly type: 'dead-peer'; readonly timeoutMs: number }
  | { readonly type: 'slowed'; readonly heartbeatIntervalMs: number; readonly previousIntervalMs: number }
  | { readonly type: 'rejected'; readonly code: number; readonly reason: string }
  | { readonly type: 'closed'; readonly cause: ConnectionCloseCause; readonly code: number; readonly reason: string; readonly report: ShutdownReport; readonly written: number }
  | { readonly type: 'session'; readonly status: NegotiatedStatus; readonly retransmitted: number }
  | { readonly type: 'forgotten'; readonly messages: number }
  | { readonly type: 'unconfirmed'; readonly messages: number; readonly copies: number };

/**
 * How a client's driver reads (and writes) text frames: `plain`, `hello` (only a hello is a control frame: the
 * server's first frame decides whether it speaks the wire format), `wire` (control frames, escaped application text).
 */
export type CodecMode = 'plain' | 'hello' | 'wire';

/**
 * What a connection asks its driver to do, in order:
 *
 * - `open_socket` `{attempt, serial, resume}`: create a socket (call the target); events of older serials are stale;
 *   `resume` is what its URL asks for (wire format v2), or `null`;
 * - `codec` `{mode}`: how to read (and write) text frames from now on (resume layer);
 * - `close_socket` `{code, reason}`: start the close handshake;
 * - `destroy_socket`: destroy the socket at once, without a handshake, and forget it;
 * - `abandon_socket`: forget the socket without closing it: the platform ends it (a page going away);
 * - `keepalive` `{frame, ack}`: send a protocol ping or the heartbeat message, carrying the acknowledgement `ack`
 *   (`null`: none);
 * - `reply_heartbeat` `{ack}`: answer the peer's own heartbeat message in kind;
 * - `write`: write the message of this `send` to the socket now;
 * - `enqueue`: keep a copy of the message of this `send` at the back of the queue;
 * - `refuse` `{reason}`: refuse the message of this `send` (`closed`, or the queue's `messages` or `bytes` bound);
 * - `flush`: write the queued messages in order while the socket takes them, then report `dequeued`;
 * - `drain`: take every queued message out, to hand back with the `closed` event;
 * - `forget_copies` `{copies}`: drop the oldest `copies` copies of written messages (unconfirmed layer);
 * - `deliver` / `duplicate`: hand the inbound data frame of this event to the application, or drop it (delivered before);
 * - resumable session (resume layer): `number` `{seq}`, `transmit` `{seq}`, `release` `{through}`, `send_ack`
 *   `{through}`, `send_proof` `{secret, delivered}`, `hand_back` `{from, to}`, `renumber` `{from, to}`, `requeue`
 *   (see `resume-layer.ts`);
 * - `event`: a user event;
 * - `diagnostic`: a diagnostic (counts, codes, durations only: S10).
 */
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
 * Diagnostics of the connection, besides those of its session and reconnect machines (all counts, codes and
 * durations: S10). The kernel's, then the layers':
 *
 * | name | level | fields | from |
 * | --- | --- | --- | --- |
 * | `connect_failed` | warn | `attempt` | kernel |
 * | `connect_timeout` | warn | `attempt`, `timeout_ms` | kernel |
 * | `connection_lost` | info | `code` | kernel |
 * | `close_timeout` | warn | `timeout_ms` | kernel |
 * | `rejected` | warn | `code` | kernel |
 * | `queue_flushed` | info | `messages` | kernel |
 * | `undelivered` | warn | `messages` | kernel, resume |
 * | `protocol_error` | warn | `frame` (an invalid control frame, or a hello nobody asked for) | kernel, resume |
 * | `client_closed` | info | `cause`, `code` | kernel |
 * | `stale_event` / `invalid_event` / `invalid_time` | warn | `event` | kernel |
 * | `parked` / `unparked` | info | `code` / `trigger`, `parked_ms` | kernel, when the lazy-park layer parks |
 * | `idle_churn` | warn | `cycles`, `options` (the two options that stop it: `reconnect.whenIdle,permitWithoutActivity`) | kernel, once per streak of {@link IDLE_CHURN_CYCLES} reclaim-then-reconnect cycles while idle |
 * | `restarted` | info | `cause` (`rejected` or `exhausted`) | kernel |
 * | `restart_ignored` | warn | `phase`, `cause` (`null` unless closed) | kernel: a `restart` outside a restartable close |
 * | `idle_read_timeout` | warn | `timeout_ms` | idle-read |
 * | `offline` / `online` | info | `phase` | lifecycle |
 * | `liveness_check` | debug | `trigger` (`visible`, `online`, `offline`) | lifecycle |
 * | `keepalive_slowed` | warn | `from_ms`, `to_ms` (closed for a ping flood: B13) | slow-down |
 * | `ping_flood_at_bound` | warn | `interval_ms` | slow-down |
 * | `unconfirmed` | warn | `messages`, `copies` (B14) | unconfirmed |
 * | `confirming` | debug | `messages` (B16) | unconfirmed |
 */
export const CONNECTION_DIAGNOSTICS = /* @__PURE__ */ Object.freeze({
  connectFailed: 'connect_failed',
  connectTimeout: 'connect_timeout',
  idleReadTimeout: 'idle_read_timeout',
  connectionLost: 'connection_lost',
  closeTimeout: 'close_timeout',
  parked: 'parked',
  unparked: 'unparked',
  idleChurn: 'idle_churn',
  restarted: 'restarted',
  restartIgnored: 'restart_ignored',
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

/**
 * How many consecutive reclaim-then-reconnect cycles while idle make the kernel warn `idle_churn` (once per streak):
 * an eager client behind a reclaimer (a proxy's or a load balancer's idle timeout) is cut and reconnects every idle
 * timeout, for nothing.
 */
export const IDLE_CHURN_CYCLES = 3;

/** The options that stop idle churn, as the `idle_churn` diagnostic names them (its `options` field). */
export const IDLE_CHURN_OPTIONS = 'reconnect.whenIdle,permitWithoutActivity';

/** The result of a step: the next state and the commands to carry out, in order. */
export type ConnectionTransition = readonly [state: ConnectionState, commands: readonly ConnectionCommand[]];
