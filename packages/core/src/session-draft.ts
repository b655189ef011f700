import type { CancelTimer } from './commands.js';
import type { SessionCommand, SessionState, SessionTimer } from './session-types.js';
import type { StepOptions } from './session.js';

/*
 * How a session transition writes (internal to the session machine): a transition that changes anything copies the
 * state once into a draft (or, in place, writes the state itself), edits it and returns it; what the driver asked for
 * (debug diagnostics, timer commands, in place) travels as bits, since the core keeps no module state.
 */

// What the driver wants, as bits handed down every internal function (the core keeps no module state).
/** Debug diagnostics are built. */
export const DEBUG = 1;
/** Arm and cancel commands are appended. */
export const TIMERS = 2;
/** The draft is the state itself. */
export const IN_PLACE = 4;
/** What `step` without options builds: debug diagnostics and timer commands. */
export const EVERYTHING = DEBUG | TIMERS;
/** One shared cancel command per timer (commands are plain, frozen data). */
export const CANCEL: Readonly<Record<SessionTimer, CancelTimer<SessionTimer>>> = /* @__PURE__ */ Object.freeze({
  heartbeat: Object.freeze({ type: 'cancel', timer: 'heartbeat' }),
  idle: Object.freeze({ type: 'cancel', timer: 'idle' }),
  liveness: Object.freeze({ type: 'cancel', timer: 'liveness' }),
  stuck: Object.freeze({ type: 'cancel', timer: 'stuck' }),
});

/** The fields of a diagnostic that has none. */
export const NO_FIELDS = /* @__PURE__ */ Object.freeze({});

/** Appends an arm command, if the driver wants timer commands. */
export function arm(out: SessionCommand[], m: number, timer: SessionTimer, deadline: number): void {
  if ((m & TIMERS) !== 0) out.push({ type: 'arm', timer, deadline });
}

/** Appends a cancel command, if the driver wants timer commands. */
export function cancel(out: SessionCommand[], m: number, command: CancelTimer<SessionTimer>): void {
  if ((m & TIMERS) !== 0) out.push(command);
}

/** The bits a driver's {@link StepOptions} ask for. */
export function modeOf(options: StepOptions): number {
  return (options.debug === false ? 0 : DEBUG) | (options.timerCommands === false ? 0 : TIMERS);
}

/** A state a transition may write: a fresh copy, or the driver's own state in place. */
export type Draft = { -readonly [K in keyof SessionState]: SessionState[K] };

/** The state to write for this event at `now`: the state itself in place, else one copy, field by field. */
export function draft(state: SessionState, now: number, m: number): Draft {
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
