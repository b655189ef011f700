import { NO_COMMANDS, diagnostic } from './commands.js';
import { defineSessionConfig, type SessionConfig, type SessionOptions } from './config.js';
import { EMPTY_COUNTS, NO_ACTIVITIES, onRelease, onStart, onStop } from './session-counts.js';
import { CANCEL, EVERYTHING, IN_PLACE, NO_FIELDS, cancel, draft, modeOf } from './session-draft.js';
import { detached, onTimeout, onTimer, reconcileHeartbeat, sendKeepalive } from './session-timers.js';
import { SESSION_TIMERS, type SessionCommand, type SessionEvent, type SessionState, type SessionTimer } from './session-types.js';

export * from './session-types.js';
export { countOf, lastToken } from './session-counts.js';
export { deadlineOf, wantsHeartbeat } from './session-timers.js';

/*
 * The session machine (S1-S10, B1-B4, B7, B9, B15): `transition`/`step`/`stepInPlace` take an event, check it and its
 * time, and hand it to the rule it belongs to. Counting by reason is in session-counts.ts, the timers in
 * session-timers.ts, the shapes in session-types.ts.
 */



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

const NO_OPTIONS: StepOptions = /* @__PURE__ */ Object.freeze({});
