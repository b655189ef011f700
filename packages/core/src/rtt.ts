/**
 * The round-trip time of a connection, measured by its keep-alives (no extra frames): every answered keep-alive
 * is a sample, the time from sending it to its answer (a pong, or the peer's heartbeat in kind). A smoothed
 * estimate follows RFC 6298 (TCP's SRTT and RTTVAR, as QUIC's RFC 9002 and quinn's `RttEstimator` keep them): the
 * first sample sets the smoothed time and half of it as the variation; each later one moves the smoothed time by
 * 1/8 of the difference and the variation by 1/4 of the change in deviation.
 *
 * Karn's rule keeps samples unambiguous: only a keep-alive answered while it was the only one outstanding is a
 * sample. When two are outstanding, an answer could be to either, so none of them is timed until all are answered.
 *
 * The machines keep the estimate in plain integer fields of their own state ({@link RttFields}), in microseconds,
 * the smoothed time scaled by 8 and the variation by 4 as TCP stacks keep them: a keep-alive sent or answered writes
 * small integers where they lie and allocates nothing (a server's tick stays as cheap as it was). Read the estimate
 * in milliseconds with {@link roundTripTime}. Pure data and pure functions, like the rest of the core: time arrives
 * as `now`.
 */

/** The round-trip time as measured so far, in milliseconds; `null` before the first sample. */
export interface RoundTripTime {
  /** The latest sample. */
  readonly latestMs: number | null;
  /** The smoothed round-trip time (RFC 6298's SRTT). */
  readonly smoothedMs: number | null;
  /** The round-trip time's variation (RFC 6298's RTTVAR). */
  readonly variationMs: number | null;
  /** The smallest sample. */
  readonly minMs: number | null;
  /** Samples taken. */
  readonly samples: number;
  /** Keep-alives answered (each answer counts, timed or not: Karn's rule leaves some untimed). */
  readonly answered: number;
}

/**
 * The round-trip fields of a machine's state (the client connection's and the server's peer): integers, 0 before
 * the first sample. Read them as a {@link RoundTripTime} with {@link roundTripTime}.
 */
export interface RttFields {
  /** The latest sample, in microseconds. */
  readonly rttLatestUs: number;
  /** The smoothed round-trip time × 8, in microseconds. */
  readonly rttSmoothedUs8: number;
  /** The variation × 4, in microseconds. */
  readonly rttVariationUs4: number;
  /** The smallest sample, in microseconds. */
  readonly rttMinUs: number;
  /** Samples taken. */
  readonly rttSamples: number;
  /** Keep-alives answered. */
  readonly keepalivesAnswered: number;
  /** When the one keep-alive outstanding was sent, or `null` (none, or more than one: Karn's rule). */
  readonly keepaliveSentAt: number | null;
  /** Keep-alives sent and not answered yet. */
  readonly keepalivesOutstanding: number;
}

/** {@link RttFields}, writable: what a machine's draft lets {@link rttSent} and {@link rttAnswered} write. */
export type MutableRttFields = { -readonly [K in keyof RttFields]: RttFields[K] };

/** The round-trip fields before any keep-alive. */
export const INITIAL_RTT: RttFields = /* @__PURE__ */ Object.freeze({
  rttLatestUs: 0,
  rttSmoothedUs8: 0,
  rttVariationUs4: 0,
  rttMinUs: 0,
  rttSamples: 0,
  keepalivesAnswered: 0,
  keepaliveSentAt: null,
  keepalivesOutstanding: 0,
});

/** Records a keep-alive sent at `now`: timed when it is the only one outstanding (Karn's rule). */
export function rttSent(d: MutableRttFields, now: number): void {
  d.keepalivesOutstanding += 1;
  d.keepaliveSentAt = d.keepalivesOutstanding === 1 ? now : null;
}

/**
 * Records an answer to a keep-alive at `now`: one more answered, and a sample when it answers the one timed
 * keep-alive. An answer with nothing outstanding (the peer answered twice) changes nothing. Returns whether a sample
 * was taken.
 */
export function rttAnswered(d: MutableRttFields, now: number): boolean {
  if (d.keepalivesOutstanding === 0) return false;
  const sentAt = d.keepaliveSentAt;
  d.keepalivesAnswered += 1;
  d.keepalivesOutstanding -= 1;
  d.keepaliveSentAt = null;
  if (sentAt === null || !(now >= sentAt)) return false;
  rttSample(d, now - sentAt);
  return true;
}

/** The keep-alives in flight are gone with their connection; the estimate stays. */
export function rttLost(d: MutableRttFields): void {
  d.keepaliveSentAt = null;
  d.keepalivesOutstanding = 0;
}

/**
 * Folds a sample of `sampleMs` milliseconds into the estimate (RFC 6298, section 2, in TCP's scaled integers: the
 * smoothed time × 8 and the variation × 4, in microseconds). A negative or non-finite sample is ignored.
 *
 * @example
 * ```ts
 * import { INITIAL_RTT, roundTripTime, rttSample } from '@keepalive/core';
 * const fields = { ...INITIAL_RTT };
 * rttSample(fields, 40); // smoothed 40, variation 20
 * rttSample(fields, 80); // smoothed 45, variation 25
 * const { latestMs, smoothedMs, variationMs, minMs } = roundTripTime(fields);
 * console.log(latestMs, smoothedMs, variationMs, minMs); // 80 45 25 40
 * ```
 */
export function rttSample(d: MutableRttFields, sampleMs: number): void {
  if (!Number.isFinite(sampleMs) || sampleMs < 0) return;
  const r = Math.round(sampleMs * 1_000);
  if (d.rttSamples === 0) {
    d.rttSmoothedUs8 = r * 8;
    d.rttVariationUs4 = r * 2;
    d.rttMinUs = r;
  } else {
    // RTTVAR first, with the old SRTT (RFC 6298 2.3): rttvar += (|srtt − r| − rttvar) / 4, srtt += (r − srtt) / 8.
    const error = r - Math.floor(d.rttSmoothedUs8 / 8);
    d.rttSmoothedUs8 += error;
    d.rttVariationUs4 += Math.abs(error) - Math.floor(d.rttVariationUs4 / 4);
    if (r < d.rttMinUs) d.rttMinUs = r;
  }
  d.rttLatestUs = r;
  d.rttSamples += 1;
}

/** The estimate of a machine's round-trip fields, in milliseconds (`null`s before the first sample). */
export function roundTripTime(fields: RttFields): RoundTripTime {
  if (fields.rttSamples === 0) {
    return { latestMs: null, smoothedMs: null, variationMs: null, minMs: null, samples: 0, answered: fields.keepalivesAnswered };
  }
  return {
    latestMs: fields.rttLatestUs / 1_000,
    smoothedMs: fields.rttSmoothedUs8 / 8_000,
    variationMs: fields.rttVariationUs4 / 4_000,
    minMs: fields.rttMinUs / 1_000,
    samples: fields.rttSamples,
    answered: fields.keepalivesAnswered,
  };
}
