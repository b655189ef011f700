import { armedTimers } from './deadlines.js';
import type { SessionState } from './session.js';

/**
 * A read-only summary of a session for snapshots and dashboards. Counts,
 * reason names and durations only (spec S10).
 */
export interface SessionSummary {
  /** Activities in flight. */
  readonly total: number;
  /** Activities in flight by reason. */
  readonly counts: Readonly<Record<string, number>>;
  /** Age of the oldest in-flight activity, measured from when total last went 0 → 1 (S9); `null` while idle. */
  readonly oldestActivityMs: number | null;
  /** Number of armed timers. */
  readonly timersArmed: number;
  /** Keep-alives sent so far. */
  readonly keepalivesSent: number;
  /** Whether a sender is attached (S8). */
  readonly trackingActive: boolean;
  /** Whether the heartbeat timer is armed. */
  readonly heartbeatRunning: boolean;
  /** Whether the session has been shut down. */
  readonly shutdown: boolean;
}

/**
 * Summarises a session at time `now`.
 */
export function summarize(state: SessionState, now: number): SessionSummary {
  return {
    total: state.total,
    counts: state.counts,
    oldestActivityMs: state.busySince === null ? null : Math.max(0, now - state.busySince),
    timersArmed: armedTimers(state),
    keepalivesSent: state.keepalivesSent,
    trackingActive: state.attached,
    heartbeatRunning: state.heartbeatAt !== null,
    shutdown: state.shutdown,
  };
}
