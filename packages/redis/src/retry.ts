/**
 * The lease writer's retry decision, pure: after a failed attempt (Redis refused the commands: out of memory, a key
 * of the wrong type, a read-only replica; or did not answer), how long until the next one, and whether this attempt
 * changed the writer's state (it started failing, or it recovered). No clock, no randomness of its own: the random
 * source is a parameter, so the rules are property-tested.
 *
 * The delay after the `n`th consecutive failure is "equal jitter" on a doubling ceiling:
 * `ceiling = min(maxMs, floorMs × 2^(n-1))`, `delay = ceiling / 2 + random() × ceiling / 2`, never below
 * `floorMs` and never above `maxMs`. So the first retry waits at least `floorMs`, the waits grow until `maxMs / 2`
 * to `maxMs`, and writers that failed together (a fleet against one full Redis) spread out.
 */

/** The bounds of the retry delays. */
export interface RetryPolicy {
  /** No retry sooner than this after a failure (ms, > 0). */
  readonly floorMs: number;
  /** No wait longer than this (ms, >= `floorMs`). */
  readonly maxMs: number;
}

/** What one attempt changed: the consecutive failures now, the wait before the next attempt, a state change. */
export interface RetryDecision {
  /** Consecutive failed attempts after this one (0 after a success). */
  readonly failures: number;
  /** How long to wait before the next attempt: 0 after a success (the normal schedule applies). */
  readonly delayMs: number;
  /** `failing` when this failure ended a healthy period, `recovered` when this success ended a failing one. */
  readonly change: 'failing' | 'recovered' | null;
}

/** Doublings past this would not change the ceiling for any sane `maxMs / floorMs` (and would overflow nothing). */
const MAX_DOUBLINGS = 40;

/**
 * The wait after the `failures`th consecutive failure (`failures >= 1`), with `random()` in [0, 1) (values outside
 * are clamped): within [`floorMs`, `maxMs`].
 */
export function retryDelay(failures: number, policy: RetryPolicy, random: () => number): number {
  const { floorMs, maxMs } = policy;
  const doublings = Math.min(Math.max(0, Math.floor(failures) - 1), MAX_DOUBLINGS);
  const ceiling = Math.min(maxMs, floorMs * 2 ** doublings);
  const draw = random();
  const unit = Number.isFinite(draw) ? Math.min(1, Math.max(0, draw)) : 0;
  return Math.min(maxMs, Math.max(floorMs, ceiling / 2 + (unit * ceiling) / 2));
}

/**
 * The decision after one attempt: `failures` consecutive failures before it, `ok` whether it succeeded.
 */
export function nextRetry(failures: number, ok: boolean, policy: RetryPolicy, random: () => number): RetryDecision {
  if (ok) return { failures: 0, delayMs: 0, change: failures > 0 ? 'recovered' : null };
  const now = failures + 1;
  return { failures: now, delayMs: retryDelay(now, policy, random), change: failures === 0 ? 'failing' : null };
}
