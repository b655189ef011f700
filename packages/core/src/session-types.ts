import type { ArmTimer, CancelTimer, CloseTransport, Diagnostic, SendKeepalive } from './commands.js';
import type { SessionConfig } from './config.js';

/*
 * The session's shapes: its timers, its state, the events it takes and the commands it gives, and the names of its
 * diagnostics. The rules are in session.ts (the transition), session-counts.ts (S1, S2, B2: counting by reason) and
 * session-timers.ts (S4-S7, B5, B9, B15: the heartbeat, the idle notice, proof of life, lateness).
 */

/**
 * The timers of a session:
 * - `heartbeat`: the keep-alive tick, armed exactly while busy (or permitted) and attached (S4, B7);
 * - `idle`: the one-shot idle notice after the last activity stops (S6);
 * - `liveness`: the deadline for proof of life after a keep-alive (B5);
 * - `stuck`: the next activity that will have been in flight too long.
 */
export type SessionTimer = 'heartbeat' | 'idle' | 'liveness' | 'stuck';

/**
 * Every session timer, in the order timers due at the same instant fire:
 * a dead peer is noticed before a tick would send into it.
 */
export const SESSION_TIMERS: readonly SessionTimer[] = /* @__PURE__ */ Object.freeze(['liveness', 'heartbeat', 'idle', 'stuck'] as const);

/**
 * One activity in flight.
 */
export interface Activity {
  /** The release token returned for this start (see {@link lastToken}). */
  readonly token: number;
  /** The reason name given to `start`. */
  readonly reason: string;
  /** Monotonic time at which it started. */
  readonly since: number;
  /** Whether the stuck-activity warning has been emitted for it. */
  readonly stuckReported: boolean;
}

/**
 * The state of one session: plain, serialisable data (`JSON.stringify` round
 * trips it). Never mutate it; every transition returns a new object when
 * anything changed and the same object when nothing did.
 */
export interface SessionState {
  /** The validated options (shared by reference). */
  readonly config: SessionConfig;
  /** Monotonic time of the last event that changed the state. */
  readonly now: number;
  /** Activities in flight (S1). Always equals the sum of `counts` (B2). */
  readonly total: number;
  /** Activities in flight by reason; reasons at zero are absent (S1, B2). */
  readonly counts: Readonly<Record<string, number>>;
  /** Activities in flight, oldest first. */
  readonly activities: readonly Activity[];
  /** When total last went 0 → 1, or `null` while idle (S9). */
  readonly busySince: number | null;
  /** Whether a keep-alive sender is attached; "tracking active" (S3, S8). */
  readonly attached: boolean;
  /** Deadline of the armed heartbeat timer, or `null`. */
  readonly heartbeatAt: number | null;
  /** Deadline of the armed idle timer, or `null`. */
  readonly idleAt: number | null;
  /** Deadline for proof of life after a keep-alive, or `null` (B5). */
  readonly livenessAt: number | null;
  /** Deadline of the armed stuck-activity timer, or `null`. */
  readonly stuckAt: number | null;
  /** The token of the most recent `start` (0 before any). */
  readonly lastToken: number;
  /** Keep-alives sent so far (ticks and signals). */
  readonly keepalivesSent: number;
  /** Whether the session has been shut down; it then ignores every event. */
  readonly shutdown: boolean;
}

/**
 * Fields every session event carries.
 */
export interface SessionEventBase {
  /** Monotonic time in milliseconds (a monotonic clock's reading); never wall-clock time. */
  readonly now: number;
}

/**
 * Everything that can happen to a session.
 *
 * - `start` / `stop`: an activity of `reason` begins or ends (S1, S2, B2).
 * - `release`: the activity opened by the start with `token` ends; a second release warns.
 * - `attach` / `detach`: a keep-alive sender is attached (replacing any other) or removed (S3, S4).
 * - `signal`: send one keep-alive now if enabled and attached (S7).
 * - `timeout`: fire every timer whose deadline is at or before `now` (quinn's `handle_timeout`).
 * - `timer`: fire one named timer; `deadline`, when given, must match the armed one.
 * - `alive`: proof of life from the peer: a pong or any inbound traffic (B5).
 * - `shutdown`: report and cancel everything (S9, B4).
 *
 * `sendKeepalives`, where present, overrides the configured gate for that
 * one event, so a driver can read a flag or an environment variable at
 * every tick and signal.
 */
export type SessionEvent =
  | (SessionEventBase & { readonly type: 'start'; readonly reason: string })
  | (SessionEventBase & { readonly type: 'stop'; readonly reason: string })
  | (SessionEventBase & { readonly type: 'release'; readonly token: number })
  | (SessionEventBase & { readonly type: 'attach' })
  | (SessionEventBase & { readonly type: 'detach' })
  | (SessionEventBase & { readonly type: 'signal'; readonly sendKeepalives?: boolean | undefined })
  | (SessionEventBase & { readonly type: 'timeout'; readonly sendKeepalives?: boolean | undefined })
  | (SessionEventBase & {
      readonly type: 'timer';
      readonly timer: SessionTimer;
      readonly deadline?: number | undefined;
      readonly sendKeepalives?: boolean | undefined;
    })
  | (SessionEventBase & { readonly type: 'alive' })
  | (SessionEventBase & { readonly type: 'shutdown' });

/**
 * What a session asks its adapter to do.
 */
export type SessionCommand =
  | ArmTimer<SessionTimer>
  | CancelTimer<SessionTimer>
  | SendKeepalive
  | CloseTransport
  | Diagnostic;

/**
 * Names of every diagnostic a session emits, with their levels and fields:
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `heartbeat` | debug | `total` |
 * | `heartbeat_late` | warn | `timer` (`heartbeat` or `liveness`; a connection's also `idle_read`), `late_ms`, `missed` (ticks skipped, not burst) (B15) |
 * | `idle` | info | `idle_ms` |
 * | `dead_peer` | warn | `timeout_ms` |
 * | `stuck_activity` | warn | `reason`, `age_ms` |
 * | `activity_at_shutdown` | info | `total`, `active`, `oldest_activity_ms`, `keepalives_sent` |
 * | `unmatched_stop` | warn | `reason` |
 * | `released_twice` | warn | `token` |
 * | `unknown_token` | warn | — |
 * | `unknown_timer` / `stale_timer` | warn | `timer` (known names only) |
 * | `time_went_backwards` | warn | `by_ms` |
 * | `invalid_time` / `invalid_event` | warn | `event` (the event type, when known) |
 * | `event_after_shutdown` | warn | `event` |
 */
export const SESSION_DIAGNOSTICS = /* @__PURE__ */ Object.freeze({
  heartbeat: 'heartbeat',
  heartbeatLate: 'heartbeat_late',
  idle: 'idle',
  deadPeer: 'dead_peer',
  stuckActivity: 'stuck_activity',
  activityAtShutdown: 'activity_at_shutdown',
  unmatchedStop: 'unmatched_stop',
  releasedTwice: 'released_twice',
  unknownToken: 'unknown_token',
  unknownTimer: 'unknown_timer',
  staleTimer: 'stale_timer',
  timeWentBackwards: 'time_went_backwards',
  invalidTime: 'invalid_time',
  invalidEvent: 'invalid_event',
  eventAfterShutdown: 'event_after_shutdown',
} as const);
