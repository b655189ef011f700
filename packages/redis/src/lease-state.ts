import type { Lease } from './lease-codec.js';

/**
 * The reclaimer's decision rules, pure: given what it last read about one session and the time now (its own
 * monotonic clock), what can it honestly say? No I/O, no clock: every input is a parameter, so the rules are
 * property-tested over all inputs.
 *
 * - `unknown`: the last successful read is older than `readStaleMs`, or the owner has not renewed the lease for
 *   longer than its renewal interval plus `graceMs` (cut off, stalled), or Redis lost its data and the owner has
 *   not written the lease again yet. Never idle, never reclaimable: nothing is decided on stale data.
 * - `expired`: the session is listed in the index but its lease key is gone (its `PX` ran out: the owner died or
 *   was cut off), or Redis lost its data and the owner did not write it again within a renewal interval.
 * - `ended`: the owner removed the lease (shutdown, or the session ended).
 * - `busy`: activities in flight.
 * - `idle`: nothing in flight, for less than `idleLimitMs`.
 * - `reclaimable`: nothing in flight for at least `idleLimitMs`.
 */
export type LeaseStatus = 'busy' | 'idle' | 'reclaimable' | 'unknown' | 'expired' | 'ended';

/**
 * What the reclaimer knows about one session, from its reads. Times are the reclaimer's monotonic milliseconds.
 */
export interface LeaseObservation {
  /** The lease as last read, or `null` when the key was absent at the last read (the last good lease is in `last`). */
  readonly lease: Lease | null;
  /** The last lease ever read for this session (for its renewal interval when the key is gone). */
  readonly last?: Lease | null | undefined;
  /** Whether the index listed the session at the last read. */
  readonly listed: boolean;
  /** When the reclaimer first saw the current renewal (`lease.renewal`) of the lease. */
  readonly seenAt: number;
  /** When the reclaimer noticed that Redis had lost its data while it knew this session, or `null`. */
  readonly lostAt: number | null;
}

/**
 * The limits of the rules.
 */
export interface LeaseLimits {
  /** Idle at least this long: reclaimable. */
  readonly idleLimitMs: number;
  /** A last successful read older than this: everything is `unknown`. */
  readonly readStaleMs: number;
  /** Slack past a lease's renewal interval before an unrenewed lease is `unknown` (one sweep and the write path). */
  readonly graceMs: number;
}

/**
 * The verdict on one session: its status and, when idle or reclaimable, how long it has been idle at least.
 */
export interface LeaseVerdict {
  readonly status: LeaseStatus;
  readonly idleMs: number | null;
}

const UNKNOWN: LeaseVerdict = Object.freeze({ status: 'unknown', idleMs: null });
const EXPIRED: LeaseVerdict = Object.freeze({ status: 'expired', idleMs: null });
const ENDED: LeaseVerdict = Object.freeze({ status: 'ended', idleMs: null });
const BUSY: LeaseVerdict = Object.freeze({ status: 'busy', idleMs: null });

/**
 * Classifies one session at `now`, given when the last successful read completed (`lastReadAt`, `null` before any).
 */
export function classifyLease(seen: LeaseObservation, at: { readonly now: number; readonly lastReadAt: number | null }, limits: LeaseLimits): LeaseVerdict {
  const { now, lastReadAt } = at;
  // Rule 1: no recent successful read, no verdict.
  if (lastReadAt === null || now - lastReadAt > limits.readStaleMs) return UNKNOWN;
  const lease = seen.lease;
  if (lease === null) {
    if (seen.lostAt !== null) {
      // Redis lost its data: the owner writes the lease again within its renewal interval, if it is alive.
      const renewMs = seen.last?.renewMs ?? 0;
      return now - seen.lostAt <= renewMs + limits.graceMs ? UNKNOWN : EXPIRED;
    }
    return seen.listed ? EXPIRED : ENDED;
  }
  // Rule 2: a lease not renewed on time says nothing about now.
  const unrenewedMs = now - seen.seenAt;
  if (unrenewedMs > lease.renewMs + limits.graceMs) return UNKNOWN;
  if (lease.busy) return BUSY;
  // Idle for at least what the owner measured, plus what the reclaimer has seen since (never more than was).
  const idleMs = Math.floor(lease.ageMs + unrenewedMs);
  return { status: idleMs >= limits.idleLimitMs ? 'reclaimable' : 'idle', idleMs };
}
