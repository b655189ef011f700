import { SESSION_TIMERS, deadlineOf, type SessionState } from './session.js';

export { deadlineOf };

/**
 * The earliest armed deadline of a session, or `null` when nothing is
 * armed: what quinn calls `poll_timeout`. A driver arms one OS timer for it
 * and, when it fires, delivers `{ type: 'timeout', now }`.
 */
export function pollTimeout(state: SessionState): number | null {
  // Plain field reads, no loop: an array iterator here allocated on every re-arm.
  let earliest = state.livenessAt;
  const heartbeat = state.heartbeatAt;
  if (heartbeat !== null && (earliest === null || heartbeat < earliest)) earliest = heartbeat;
  const idle = state.idleAt;
  if (idle !== null && (earliest === null || idle < earliest)) earliest = idle;
  const stuck = state.stuckAt;
  if (stuck !== null && (earliest === null || stuck < earliest)) earliest = stuck;
  return earliest;
}

/**
 * The number of armed timers of a session.
 */
export function armedTimers(state: SessionState): number {
  let armed = 0;
  for (const timer of SESSION_TIMERS) if (deadlineOf(state, timer) !== null) armed++;
  return armed;
}

/**
 * The earliest armed deadline across any number of sessions, so a driver can
 * run them all on one OS timer. `null` when none has a timer armed.
 */
export function earliestDeadline(states: Iterable<SessionState>): number | null {
  let earliest: number | null = null;
  for (const state of states) {
    const at = pollTimeout(state);
    if (at !== null && (earliest === null || at < earliest)) earliest = at;
  }
  return earliest;
}
