import {
  CLOSE_CODES,
  NO_COMMANDS,
  diagnostic,
  type ArmTimer,
  type CancelTimer,
  type CloseTransport,
  type Diagnostic,
  type SendKeepalive,
} from './commands.js';
import { defineSessionConfig, type SessionConfig, type SessionOptions } from './config.js';
import { pongDeadlineAfterSend } from './liveness.js';

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

const SEND: SendKeepalive = /* @__PURE__ */ Object.freeze({ type: 'send' });
const DEAD_PEER_CLOSE: CloseTransport = /* @__PURE__ */ Object.freeze({
  type: 'close',
  reason: 'dead_peer',
  code: CLOSE_CODES.abnormal,
  terminate: true,
});
const CANCEL: Readonly<Record<SessionTimer, CancelTimer<SessionTimer>>> = /* @__PURE__ */ Object.freeze({
  heartbeat: Object.freeze({ type: 'cancel', timer: 'heartbeat' }),
  idle: Object.freeze({ type: 'cancel', timer: 'idle' }),
  liveness: Object.freeze({ type: 'cancel', timer: 'liveness' }),
  stuck: Object.freeze({ type: 'cancel', timer: 'stuck' }),
});
const EMPTY_COUNTS: Readonly<Record<string, number>> = /* @__PURE__ */ Object.freeze({});
const NO_ACTIVITIES: readonly Activity[] = /* @__PURE__ */ Object.freeze([]);
const NO_FIELDS = /* @__PURE__ */ Object.freeze({});

/** Field of the state that holds each timer's deadline. */
const DEADLINE_FIELD = /* @__PURE__ */ Object.freeze({
  heartbeat: 'heartbeatAt',
  idle: 'idleAt',
  liveness: 'livenessAt',
  stuck: 'stuckAt',
} as const satisfies Record<SessionTimer, keyof SessionState>);

/**
 * Creates the initial state of a session: idle, detached, nothing armed.
 * Options are validated here (spec B1) and throw {@link KeepaliveOptionError}
 * naming the option and value. Pass a config from {@link defineSessionConfig}
 * to share it between sessions.
 *
 * @param options - session options, or a shared config.
 * @param now - the monotonic time the session is created at (default 0).
 */
export function createSessionState(options: SessionOptions | SessionConfig = {}, now = 0): SessionState {
  if (!Number.isFinite(now)) throw new RangeError(`Invalid start time now: ${String(now)} (expected a finite number)`);
  return {
    config: defineSessionConfig(options),
    now,
    total: 0,
    counts: EMPTY_COUNTS,
    activities: NO_ACTIVITIES,
    busySince: null,
    attached: false,
    heartbeatAt: null,
    idleAt: null,
    livenessAt: null,
    stuckAt: null,
    lastToken: 0,
    keepalivesSent: 0,
    shutdown: false,
  };
}

/**
 * The result of a transition: the next state and the commands to carry out,
 * in order.
 */
export type SessionTransition = readonly [state: SessionState, commands: readonly SessionCommand[]];

/**
 * The pure transition function: `(state, event) → [next, commands]`. It
 * executes nothing: commands are returned as data for an adapter to carry
 * out (like XState's `transition`). It never throws on a bad event: it warns
 * through a diagnostic and keeps the state consistent. When nothing changes
 * it returns the same state object and a shared empty list.
 *
 * @example
 * ```ts
 * import { createSessionState, transition } from '@keepalive/core';
 * let state = createSessionState({ heartbeatIntervalMs: 1_000 });
 * let commands;
 * [state, commands] = transition(state, { type: 'attach', now: 0 });
 * [state, commands] = transition(state, { type: 'start', reason: 'api_call', now: 5 });
 * // commands: [{ type: 'arm', timer: 'heartbeat', deadline: 1005 }]
 * ```
 */
export function transition(state: SessionState, event: SessionEvent): SessionTransition {
  const out: SessionCommand[] = [];
  const next = step(state, event, out);
  return [next, out.length === 0 ? NO_COMMANDS : out];
}

/**
 * The allocation-free form of {@link transition} for drivers: appends the
 * commands to `out` (a buffer the caller owns and may reuse) and returns the
 * next state. An event that changes nothing returns `state` itself and
 * appends nothing, so it allocates nothing. Pure apart from appending to `out`.
 *
 * @example
 * ```ts
 * import { createSessionState, step, type SessionCommand } from '@keepalive/core';
 *
 * // One command buffer, reused: no allocation per event on a hot path.
 * const out: SessionCommand[] = [];
 * let state = createSessionState({ heartbeatIntervalMs: 1_000 }, 0);
 * state = step(state, { type: 'attach', now: 0 }, out);
 * state = step(state, { type: 'start', reason: 'api_call', now: 0 }, out);
 * for (const command of out) console.log(command.type); // what a driver carries out: 'arm' (a timer), ...
 * out.length = 0;
 * console.log(state.total); // 1
 * ```
 */
export function step(state: SessionState, event: SessionEvent, out: SessionCommand[], options?: StepOptions): SessionState {
  return dispatch(state, event, out, options === undefined ? EVERYTHING : modeOf(options));
}

/**
 * What a driver wants appended to its buffer by {@link step} and
 * {@link stepInPlace}. Leaving something out changes nothing else: the
 * state, and every other command, are exactly what {@link transition}
 * gives (property-tested).
 */
export interface StepOptions {
  /** Whether debug diagnostics (the heartbeat tick's `heartbeat`) are built; default `true`. Pass `false` when nobody listens at debug level. */
  readonly debug?: boolean | undefined;
  /**
   * Whether `arm` and `cancel` commands are appended; default `true`. A
   * driver that re-schedules at {@link pollTimeout} after every event never
   * reads them, and passes `false` so a tick allocates no re-arm command.
   */
  readonly timerCommands?: boolean | undefined;
}

/**
 * A session state the driver owns and lets {@link stepInPlace} update in
 * place: the same fields as {@link SessionState}, writable. Make one with
 * {@link createSessionState} (or copy a state with `{ ...state }`) and never
 * hand it to code that keeps states as snapshots.
 */
export type MutableSessionState = { -readonly [K in keyof SessionState]: SessionState[K] };

/**
 * The driver's fastest path: {@link step} that updates `state` in place
 * instead of returning a copy, so a tick allocates no state (a server holds
 * one object per session, rewritten where it lies, and the garbage collector
 * never sees a replaced state). Everything else is {@link step}'s: the same
 * fields afterwards, the same commands, in order (property-tested against
 * {@link transition}). Returns whether anything changed. Pure apart from
 * writing to `state` and appending to `out`.
 */
export function stepInPlace(state: MutableSessionState, event: SessionEvent, out: SessionCommand[], options: StepOptions = NO_OPTIONS): boolean {
  // Every change writes at least one of these fields (property-tested): compare them instead of keeping a flag.
  const { now, total, counts, activities, busySince, attached, heartbeatAt, idleAt, livenessAt, stuckAt, lastToken: token, keepalivesSent, shutdown } = state;
  dispatch(state, event, out, modeOf(options) | IN_PLACE);
  return (
    state.now !== now ||
    state.total !== total ||
    state.counts !== counts ||
    state.activities !== activities ||
    state.busySince !== busySince ||
    state.attached !== attached ||
    state.heartbeatAt !== heartbeatAt ||
    state.idleAt !== idleAt ||
    state.livenessAt !== livenessAt ||
    state.stuckAt !== stuckAt ||
    state.lastToken !== token ||
    state.keepalivesSent !== keepalivesSent ||
    state.shutdown !== shutdown
  );
}

const NO_OPTIONS: StepOptions = /* @__PURE__ */ Object.freeze({});

// What the driver wants, as bits handed down every internal function (the core keeps no module state).
/** Debug diagnostics are built. */
const DEBUG = 1;
/** Arm and cancel commands are appended. */
const TIMERS = 2;
/** The draft is the state itself. */
const IN_PLACE = 4;
const EVERYTHING = DEBUG | TIMERS;

/** Appends an arm command, if the driver wants timer commands. */
function arm(out: SessionCommand[], m: number, timer: SessionTimer, deadline: number): void {
  if ((m & TIMERS) !== 0) out.push({ type: 'arm', timer, deadline });
}

/** Appends a cancel command, if the driver wants timer commands. */
function cancel(out: SessionCommand[], m: number, command: CancelTimer<SessionTimer>): void {
  if ((m & TIMERS) !== 0) out.push(command);
}

function modeOf(options: StepOptions): number {
  return (options.debug === false ? 0 : DEBUG) | (options.timerCommands === false ? 0 : TIMERS);
}

function dispatch(state: SessionState, event: SessionEvent, out: SessionCommand[], m: number): SessionState {
  if (typeof event !== 'object' || (event as unknown) === null || typeof (event as { type?: unknown }).type !== 'string') {
    out.push(diagnostic('warn', 'invalid_event', NO_FIELDS));
    return state;
  }
  if (state.shutdown) {
    out.push(diagnostic('warn', 'event_after_shutdown', { event: knownEventType(event.type) }));
    return state;
  }
  const now = effectiveNow(state, event, out);
  switch (event.type) {
    case 'start':
      return onStart(state, event.reason, now, out, m);
    case 'stop':
      return onStop(state, event.reason, now, out, m);
    case 'release':
      return onRelease(state, event.token, now, out, m);
    case 'attach':
      return onAttach(state, now, out, m);
    case 'detach':
      return state.attached ? detached(draft(state, now, m), out, m) : state;
    case 'signal':
      return onSignal(state, gate(state, event.sendKeepalives), now, out, m);
    case 'alive':
      return onAlive(state, now, out, m);
    case 'timeout':
      return onTimeout(state, gate(state, event.sendKeepalives), now, out, m);
    case 'timer':
      return onTimer(state, event.timer, event.deadline, gate(state, event.sendKeepalives), now, out, m);
    case 'shutdown':
      return onShutdown(state, now, out, m);
    default:
      out.push(diagnostic('warn', 'invalid_event', NO_FIELDS));
      return state;
  }
}

/**
 * The token of the activity opened by the most recent `start`: read it from
 * the state a `start` returned, and pass it to a `release` event later.
 */
export function lastToken(state: SessionState): number {
  return state.lastToken;
}

/**
 * The count of activities in flight for `reason` (0 when none).
 */
export function countOf(state: SessionState, reason: string): number {
  const counts = state.counts;
  const count = counts[reason];
  // Counts are numbers: anything else (absent, or `toString` from the prototype) is zero; own is checked only then.
  return typeof count === 'number' && Object.hasOwn(counts, reason) ? count : 0;
}

/**
 * Whether the heartbeat should be running: attached, not shut down, and busy
 * or permitted without activity (S4, B7). The heartbeat timer is armed
 * exactly when this holds.
 */
export function wantsHeartbeat(state: SessionState): boolean {
  return state.attached && !state.shutdown && (state.total > 0 || state.config.permitWithoutActivity);
}

// ---------------------------------------------------------------------------
// Internals. A transition that changes anything copies the state once into a
// draft, edits the draft in place and returns it; no closures per event.

type Draft = { -readonly [K in keyof SessionState]: SessionState[K] };

function draft(state: SessionState, now: number, m: number): Draft {
  if ((m & IN_PLACE) !== 0) {
    const d = state as Draft;
    d.now = now;
    return d;
  }
  // Field by field, in declaration order: V8 keeps one hidden class for every
  // state and this copy stays on the fast path (an object spread does not).
  return {
    config: state.config,
    now,
    total: state.total,
    counts: state.counts,
    activities: state.activities,
    busySince: state.busySince,
    attached: state.attached,
    heartbeatAt: state.heartbeatAt,
    idleAt: state.idleAt,
    livenessAt: state.livenessAt,
    stuckAt: state.stuckAt,
    lastToken: state.lastToken,
    keepalivesSent: state.keepalivesSent,
    shutdown: state.shutdown,
  };
}

function knownEventType(type: string): string {
  switch (type) {
    case 'start':
    case 'stop':
    case 'release':
    case 'attach':
    case 'detach':
    case 'signal':
    case 'alive':
    case 'timeout':
    case 'timer':
    case 'shutdown':
      return type;
    default:
      return 'unknown';
  }
}

function gate(state: SessionState, override: boolean | undefined): boolean {
  return typeof override === 'boolean' ? override : state.config.sendKeepalives;
}

/** The time an event is handled at: its `now`, unless that is invalid or earlier than the state's. */
function effectiveNow(state: SessionState, event: SessionEvent, out: SessionCommand[]): number {
  const now = event.now;
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    out.push(diagnostic('warn', 'invalid_time', { event: knownEventType(event.type) }));
    return state.now;
  }
  if (now < state.now) {
    out.push(diagnostic('warn', 'time_went_backwards', { by_ms: state.now - now }));
    return state.now;
  }
  return now;
}

function isReason(reason: unknown): reason is string {
  return typeof reason === 'string' && reason.length > 0;
}

function onStart(state: SessionState, reason: string, now: number, out: SessionCommand[], m: number): SessionState {
  if (!isReason(reason)) {
    out.push(diagnostic('warn', 'invalid_event', { event: 'start' }));
    return state;
  }
  const wasIdle = state.total === 0;
  const d = draft(state, now, m);
  const token = state.lastToken + 1;
  d.lastToken = token;
  d.activities = [...state.activities, { token, reason, since: now, stuckReported: false }];
  d.counts = withCount(state.counts, reason, countOf(state, reason) + 1);
  d.total = state.total + 1;
  if (wasIdle) {
    d.busySince = now;
    // Busy again: the idle notice no longer applies (S6).
    if (d.idleAt !== null) {
      d.idleAt = null;
      cancel(out, m, CANCEL.idle);
    }
  }
  reconcileHeartbeat(d, out, m);
  reconcileStuck(d, out, m);
  return d;
}

function onStop(state: SessionState, reason: string, now: number, out: SessionCommand[], m: number): SessionState {
  if (!isReason(reason)) {
    out.push(diagnostic('warn', 'invalid_event', { event: 'stop' }));
    return state;
  }
  if (countOf(state, reason) === 0) {
    // B2 / S2: an unmatched stop changes no count.
    out.push(diagnostic('warn', 'unmatched_stop', { reason }));
    return state;
  }
  // The oldest activity of that reason ends.
  let index = 0;
  while (index < state.activities.length && state.activities[index]?.reason !== reason) index++;
  return removeActivity(state, index, now, out, m);
}

function onRelease(state: SessionState, token: number, now: number, out: SessionCommand[], m: number): SessionState {
  if (typeof token !== 'number' || !Number.isInteger(token) || token < 1 || token > state.lastToken) {
    out.push(diagnostic('warn', 'unknown_token', NO_FIELDS));
    return state;
  }
  let index = 0;
  while (index < state.activities.length && state.activities[index]?.token !== token) index++;
  if (index === state.activities.length) {
    out.push(diagnostic('warn', 'released_twice', { token }));
    return state;
  }
  return removeActivity(state, index, now, out, m);
}

function removeActivity(state: SessionState, index: number, now: number, out: SessionCommand[], m: number): SessionState {
  const activity = state.activities[index];
  /* c8 ignore next -- callers pass a valid index */
  if (activity === undefined) return state;
  const reason = activity.reason;
  const count = countOf(state, reason) - 1;
  const total = state.total;
  const counts = state.counts;
  const activities = state.activities;
  const d = draft(state, now, m);
  d.activities = activities.length === 1 ? NO_ACTIVITIES : withoutIndex(activities, index);
  if (count > 0) {
    d.counts = withCount(counts, reason, count);
  } else if (total === 1) {
    d.counts = EMPTY_COUNTS;
  } else {
    d.counts = withoutKey(counts, reason);
  }
  d.total = total - 1;
  if (d.total === 0) {
    d.busySince = null;
    // S6: the last activity stopped while the heartbeat ran with a sender attached.
    if (d.heartbeatAt !== null && d.attached && d.idleAt === null) {
      d.idleAt = now + d.config.idleDelayMs;
      arm(out, m, 'idle', d.idleAt);
    }
  }
  reconcileHeartbeat(d, out, m);
  reconcileStuck(d, out, m);
  return d;
}

function withoutIndex<T>(items: readonly T[], index: number): T[] {
  const copy = items.slice(0, index);
  for (let i = index + 1; i < items.length; i++) copy.push(items[i] as T);
  return copy;
}

/** A copy of `counts` with `key` at `count` (a spread then one store: a computed key in the literal was slower). */
function withCount(counts: Readonly<Record<string, number>>, key: string, count: number): Record<string, number> {
  const copy: Record<string, number> = { ...counts };
  // An own `__proto__` key is defined, not assigned (assigning would set the prototype).
  if (key === '__proto__') Object.defineProperty(copy, key, { value: count, enumerable: true, writable: true, configurable: true });
  else copy[key] = count;
  return copy;
}

function withoutKey(counts: Readonly<Record<string, number>>, key: string): Record<string, number> {
  // Object.fromEntries defines own properties, so a reason named `__proto__` stays a plain key.
  // (A key loop into an object literal, not Object.fromEntries: a third of a stop's time went there.)
  const copy: Record<string, number> = {};
  for (const name in counts) {
    if (name === key || !Object.hasOwn(counts, name)) continue;
    if (name === '__proto__') Object.defineProperty(copy, name, { value: counts[name], enumerable: true, writable: true, configurable: true });
    else copy[name] = counts[name] as number;
  }
  return copy;
}

function onAttach(state: SessionState, now: number, out: SessionCommand[], m: number): SessionState {
  if (state.attached) {
    // S3: the new sender replaces the old. Proof of life owed by the old
    // transport no longer applies to the new one.
    if (state.livenessAt === null) return state;
    const d = draft(state, now, m);
    d.livenessAt = null;
    cancel(out, m, CANCEL.liveness);
    return d;
  }
  const d = draft(state, now, m);
  d.attached = true;
  reconcileHeartbeat(d, out, m);
  return d;
}

/** Detaches the sender (S4: the heartbeat stops; S6: detaching cancels the idle timer). */
function detached(d: Draft, out: SessionCommand[], m: number): Draft {
  d.attached = false;
  if (d.idleAt !== null) {
    d.idleAt = null;
    cancel(out, m, CANCEL.idle);
  }
  if (d.livenessAt !== null) {
    d.livenessAt = null;
    cancel(out, m, CANCEL.liveness);
  }
  reconcileHeartbeat(d, out, m);
  return d;
}

function onSignal(state: SessionState, enabled: boolean, now: number, out: SessionCommand[], m: number): SessionState {
  // S7: send at once when enabled and attached; the heartbeat and idle timers are untouched.
  if (!enabled || !state.attached) return state;
  const d = draft(state, now, m);
  sendKeepalive(d, now, out, m);
  return d;
}

function onAlive(state: SessionState, now: number, out: SessionCommand[], m: number): SessionState {
  if (state.livenessAt === null) return state;
  const d = draft(state, now, m);
  d.livenessAt = null;
  cancel(out, m, CANCEL.liveness);
  return d;
}

function onTimeout(state: SessionState, enabled: boolean, now: number, out: SessionCommand[], m: number): SessionState {
  let current: SessionState = state;
  // Each fire disarms its timer or re-arms it strictly after `now`, so this
  // ends after at most one fire per timer (stuck may fire once per due activity group).
  for (let guard = 0; guard < 8; guard++) {
    const timer = dueTimer(current, now);
    if (timer === null) return current;
    current = fire(current === state ? draft(state, now, m) : current, timer, enabled, now, out, m);
  }
  /* c8 ignore next */
  return current;
}

function onTimer(
  state: SessionState,
  timer: SessionTimer,
  deadline: number | undefined,
  enabled: boolean,
  now: number,
  out: SessionCommand[],
  m: number,
): SessionState {
  if (!SESSION_TIMERS.includes(timer)) {
    out.push(diagnostic('warn', 'unknown_timer', NO_FIELDS));
    return state;
  }
  const armed = deadlineOf(state, timer);
  if (armed === null || (deadline !== undefined && deadline !== armed)) {
    out.push(diagnostic('warn', 'stale_timer', { timer }));
    return state;
  }
  return fire(draft(state, now, m), timer, enabled, now, out, m);
}

/** The armed timer due at `now` with the earliest deadline (ties in {@link SESSION_TIMERS} order). */
function dueTimer(state: SessionState, now: number): SessionTimer | null {
  // Plain field reads in SESSION_TIMERS order, no loop: an array iterator here allocated on every timeout.
  let best: SessionTimer | null = null;
  let bestAt = Infinity;
  const liveness = state.livenessAt;
  if (liveness !== null && liveness <= now) {
    best = 'liveness';
    bestAt = liveness;
  }
  const heartbeat = state.heartbeatAt;
  if (heartbeat !== null && heartbeat <= now && heartbeat < bestAt) {
    best = 'heartbeat';
    bestAt = heartbeat;
  }
  const idle = state.idleAt;
  if (idle !== null && idle <= now && idle < bestAt) {
    best = 'idle';
    bestAt = idle;
  }
  const stuck = state.stuckAt;
  if (stuck !== null && stuck <= now && stuck < bestAt) best = 'stuck';
  return best;
}

/**
 * The deadline of one session timer, or `null` when it is not armed.
 */
export function deadlineOf(state: SessionState, timer: SessionTimer): number | null {
  switch (timer) {
    case 'heartbeat':
      return state.heartbeatAt;
    case 'idle':
      return state.idleAt;
    case 'liveness':
      return state.livenessAt;
    case 'stuck':
      return state.stuckAt;
  }
}


function fire(d: Draft, timer: SessionTimer, enabled: boolean, now: number, out: SessionCommand[], m: number): Draft {
  switch (timer) {
    case 'heartbeat':
      return fireHeartbeat(d, enabled, now, out, m);
    case 'idle':
      d.idleAt = null;
      out.push(diagnostic('info', 'idle', { idle_ms: d.config.idleDelayMs }));
      return d;
    case 'liveness': {
      const late = now - (d.livenessAt ?? now);
      if (late > d.config.lateTimerMs && d.config.pongTimeoutMs !== null) {
        // B15: this process was not running (a busy loop, a throttled tab, a suspended laptop), so the peer's
        // answer may be unread. Report the lateness and give the peer a fresh timeout from now, with a fresh ask.
        out.push(diagnostic('warn', 'heartbeat_late', { timer: 'liveness', late_ms: late, missed: 0 }));
        d.livenessAt = null;
        if (enabled) {
          // Sends and arms the fresh deadline (B5).
          sendKeepalive(d, now, out, m);
        } else {
          d.livenessAt = now + d.config.pongTimeoutMs;
          arm(out, m, 'liveness', d.livenessAt);
        }
        return d;
      }
      // B5: no proof of life in time: the peer is dead. Terminate and stop sending into it.
      d.livenessAt = null;
      out.push(diagnostic('warn', 'dead_peer', { timeout_ms: d.config.pongTimeoutMs }));
      out.push(DEAD_PEER_CLOSE);
      return detached(d, out, m);
    }
    case 'stuck':
      return fireStuck(d, now, out, m);
  }
}

function fireHeartbeat(d: Draft, enabled: boolean, now: number, out: SessionCommand[], m: number): Draft {
  const armed = d.heartbeatAt;
  /* c8 ignore next -- fire is only called for armed timers */
  if (armed === null) return d;
  // S5: the tick always emits its diagnostic; it sends only when enabled.
  if ((m & DEBUG) !== 0) out.push(diagnostic('debug', 'heartbeat', { total: d.total }));
  if (enabled) sendKeepalive(d, now, out, m);
  // B9: the next deadline follows from the previous deadline, not from now.
  // A tick handled more than an interval late skips the missed ticks rather
  // than sending a burst.
  const interval = d.config.heartbeatIntervalMs;
  const periods = Math.max(1, Math.floor((now - armed) / interval) + 1);
  // B15: lateness is measured and reported; missed ticks are skipped, never burst.
  if (periods > 1 || now - armed > d.config.lateTimerMs) {
    out.push(diagnostic('warn', 'heartbeat_late', { timer: 'heartbeat', late_ms: now - armed, missed: periods - 1 }));
  }
  d.heartbeatAt = armed + periods * interval;
  arm(out, m, 'heartbeat', d.heartbeatAt);
  return d;
}

function fireStuck(d: Draft, now: number, out: SessionCommand[], m: number): Draft {
  d.stuckAt = null;
  const threshold = d.config.stuckActivityMs;
  /* c8 ignore next -- the stuck timer is only armed when the option is on */
  if (threshold === null) return d;
  const activities = [...d.activities];
  for (let i = 0; i < activities.length; i++) {
    const activity = activities[i];
    if (activity !== undefined && !activity.stuckReported && activity.since + threshold <= now) {
      activities[i] = { ...activity, stuckReported: true };
      out.push(diagnostic('warn', 'stuck_activity', { reason: activity.reason, age_ms: now - activity.since }));
    }
  }
  d.activities = activities;
  reconcileStuck(d, out, m);
  return d;
}

/** Sends one keep-alive, counts it, and starts the wait for proof of life (B5). */
function sendKeepalive(d: Draft, now: number, out: SessionCommand[], m: number): void {
  out.push(SEND);
  d.keepalivesSent += 1;
  const timeout = d.config.pongTimeoutMs;
  if (timeout !== null && d.livenessAt === null) {
    d.livenessAt = pongDeadlineAfterSend(d.livenessAt, now, timeout);
    arm(out, m, 'liveness', d.livenessAt);
  }
}

/** Arms or cancels the heartbeat so that it runs exactly when {@link wantsHeartbeat} holds (S4, B7). */
function reconcileHeartbeat(d: Draft, out: SessionCommand[], m: number): void {
  const wanted = wantsHeartbeat(d);
  if (wanted && d.heartbeatAt === null) {
    d.heartbeatAt = d.now + d.config.heartbeatIntervalMs;
    arm(out, m, 'heartbeat', d.heartbeatAt);
  } else if (!wanted && d.heartbeatAt !== null) {
    d.heartbeatAt = null;
    cancel(out, m, CANCEL.heartbeat);
  }
}

/** Keeps the stuck timer armed at the first unreported activity's threshold, if the option is on. */
function reconcileStuck(d: Draft, out: SessionCommand[], m: number): void {
  const threshold = d.config.stuckActivityMs;
  if (threshold === null) return;
  let wanted: number | null = null;
  for (const activity of d.activities) {
    if (!activity.stuckReported) {
      wanted = activity.since + threshold;
      break;
    }
  }
  if (wanted === d.stuckAt) return;
  if (d.stuckAt !== null) cancel(out, m, CANCEL.stuck);
  d.stuckAt = wanted;
  if (wanted !== null) arm(out, m, 'stuck', wanted);
}

function onShutdown(state: SessionState, now: number, out: SessionCommand[], m: number): SessionState {
  // S9: one report with counts, reason names and a duration only (S10).
  out.push(
    diagnostic('info', 'activity_at_shutdown', {
      total: state.total,
      active: state.counts,
      oldest_activity_ms: state.busySince === null ? null : now - state.busySince,
      keepalives_sent: state.keepalivesSent,
    }),
  );
  const d = draft(state, now, m);
  // B4: nothing is left armed after shutdown.
  for (const timer of SESSION_TIMERS) {
    const field = DEADLINE_FIELD[timer];
    if (d[field] !== null) {
      d[field] = null;
      cancel(out, m, CANCEL[timer]);
    }
  }
  d.attached = false;
  d.shutdown = true;
  return d;
}
