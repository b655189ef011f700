import { CLOSE_CODES, diagnostic, type CloseTransport, type SendKeepalive } from './commands.js';
import { pongDeadlineAfterSend } from './liveness.js';
import { CANCEL, DEBUG, NO_FIELDS, arm, cancel, draft, type Draft } from './session-draft.js';
import { SESSION_TIMERS, type SessionCommand, type SessionState, type SessionTimer } from './session-types.js';

/*
 * The session's timers: the heartbeat runs exactly while busy (or permitted) and attached, and sends only when enabled
 * (S4, S5, B7), each next tick from the previous deadline, skipping missed ticks (B9); the idle notice after the last
 * activity (S6); the wait for proof of life after a keep-alive, and the dead-peer verdict (B5), unless the process
 * itself was not running (B15); the stuck-activity warning.
 */

const DEAD_PEER_CLOSE: CloseTransport = /* @__PURE__ */ Object.freeze({
  type: 'close',
  reason: 'dead_peer',
  code: CLOSE_CODES.abnormal,
  terminate: true,
});
const SEND: SendKeepalive = /* @__PURE__ */ Object.freeze({ type: 'send' });

/**
 * Whether the heartbeat should be running: attached, not shut down, and busy
 * or permitted without activity (S4, B7). The heartbeat timer is armed
 * exactly when this holds.
 */
export function wantsHeartbeat(state: SessionState): boolean {
  return state.attached && !state.shutdown && (state.total > 0 || state.config.permitWithoutActivity);
}

/** Detaches the sender (S4: the heartbeat stops; S6: detaching cancels the idle timer). */
export function detached(d: Draft, out: SessionCommand[], m: number): Draft {
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

/** A `timeout` event: fires every armed timer due at `now`, earliest first. */
export function onTimeout(state: SessionState, enabled: boolean, now: number, out: SessionCommand[], m: number): SessionState {
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

/** A `timer` event: fires the named timer, unless it is unknown or not armed for that deadline (stale). */
export function onTimer(
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
export function sendKeepalive(d: Draft, now: number, out: SessionCommand[], m: number): void {
  out.push(SEND);
  d.keepalivesSent += 1;
  const timeout = d.config.pongTimeoutMs;
  if (timeout !== null && d.livenessAt === null) {
    d.livenessAt = pongDeadlineAfterSend(d.livenessAt, now, timeout);
    arm(out, m, 'liveness', d.livenessAt);
  }
}

/** Arms or cancels the heartbeat so that it runs exactly when {@link wantsHeartbeat} holds (S4, B7). */
export function reconcileHeartbeat(d: Draft, out: SessionCommand[], m: number): void {
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
export function reconcileStuck(d: Draft, out: SessionCommand[], m: number): void {
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
