import { diagnostic } from './commands.js';
import { CANCEL, NO_FIELDS, arm, cancel, draft } from './session-draft.js';
import { reconcileHeartbeat, reconcileStuck } from './session-timers.js';
import type { Activity, SessionCommand, SessionState } from './session-types.js';

/*
 * Counting by reason (S1, S2, B2): a start opens an activity with a token and counts it under its reason; a stop ends
 * the oldest of its reason, a release the one its token names. The last one to end arms the idle notice (S6); every
 * change keeps the heartbeat and the stuck-activity timer in step.
 */

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

function isReason(reason: unknown): reason is string {
  return typeof reason === 'string' && reason.length > 0;
}

/** S1: a `start` counts one more activity under its reason, with the next token; busy cancels a pending idle notice (S6). */
export function onStart(state: SessionState, reason: string, now: number, out: SessionCommand[], m: number): SessionState {
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

/** S2: a `stop` ends the oldest activity of its reason; an unmatched one changes no count and warns (B2). */
export function onStop(state: SessionState, reason: string, now: number, out: SessionCommand[], m: number): SessionState {
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

/** A `release` ends the activity its token names; an unknown token or a second release warns. */
export function onRelease(state: SessionState, token: number, now: number, out: SessionCommand[], m: number): SessionState {
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

/** The counts of a session with nothing in flight (shared). */
export const EMPTY_COUNTS: Readonly<Record<string, number>> = /* @__PURE__ */ Object.freeze({});

/** The activities of a session with nothing in flight (shared). */
export const NO_ACTIVITIES: readonly Activity[] = /* @__PURE__ */ Object.freeze([]);
