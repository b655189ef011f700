/**
 * The simulated work's schedule, in multiples of the idle limit, and what a run of a given length can show.
 *
 * Every worker's first burst starts after FIRST_GAP and is long (FIRST_MIN..FIRST_MAX): a keepalive worker stays busy
 * past the idle limit and survives, the worker without keep-alives loses that work. Then every worker goes quiet for
 * PARK_GAP_MIN..PARK_GAP_MAX, longer than the server takes to reclaim a quiet connection (RECLAIM_AFTER: the idle
 * limit after the server's one probe, which it sends half an idle limit after the last traffic): a keepalive worker is
 * reclaimed, parks without a connection (lazy reconnect), and reconnects when its next work comes. After that the
 * bursts are random (long ones LONG_MIN..LONG_MAX).
 */
export const SCHEDULE = Object.freeze({
  /** Quiet before the first burst. */
  FIRST_GAP: 0.3,
  /**
   * The first burst's length: long enough that the worker without keep-alives, quiet since it connected, is
   * reclaimed in the middle of it (at most RECLAIM_AFTER after connecting).
   */
  FIRST_MIN: 2.2,
  FIRST_MAX: 2.8,
  /** A later long burst's length. */
  LONG_MIN: 1.5,
  LONG_MAX: 3.5,
  /**
   * How long after its last traffic the server reclaims a quiet connection: the idle limit after the pong to its one
   * probe (sent half an idle limit after the last traffic), plus the scheduler's slack. Measured: 1.6 to 1.93.
   */
  RECLAIM_MIN: 1.5,
  RECLAIM_AFTER: 2.0,
  /** The quiet after the first burst: longer than RECLAIM_AFTER, so the worker is reclaimed and parks. */
  PARK_GAP_MIN: 2.4,
  PARK_GAP_MAX: 3.0,
});

/** Moments of the story, in ms from the start, for an idle limit: when each can first be seen, and when it certainly has been. */
export interface StoryTimes {
  /** The first reclaim possible: the worker without keep-alives, quiet since it connected, loses its work. */
  readonly reclaimEarliest: number;
  /** By then it has certainly lost it. */
  readonly lostWork: number;
  /** An idle keepalive worker is reclaimed and parks: earliest, and by when every one has. */
  readonly parkedEarliest: number;
  readonly parkedAll: number;
  /** A parked worker's work comes back and it reconnects at once: earliest, and by when every one has. */
  readonly reconnectEarliest: number;
  readonly reconnectAll: number;
  /** The default length of a headless run: the whole story plus a margin (0.4 idle limits, at least 2 s). */
  readonly full: number;
}

/** When each part of the story happens, for `idleLimitMs`. */
export function storyTimes(idleLimitMs: number): StoryTimes {
  const at = (multiple: number): number => Math.round(multiple * idleLimitMs);
  const { FIRST_GAP, FIRST_MIN, FIRST_MAX, RECLAIM_MIN, RECLAIM_AFTER, PARK_GAP_MIN, PARK_GAP_MAX } = SCHEDULE;
  return {
    reclaimEarliest: at(RECLAIM_MIN),
    lostWork: at(RECLAIM_AFTER),
    parkedEarliest: at(FIRST_GAP + FIRST_MIN + RECLAIM_MIN),
    parkedAll: at(FIRST_GAP + FIRST_MAX + RECLAIM_AFTER),
    reconnectEarliest: at(FIRST_GAP + FIRST_MIN + PARK_GAP_MIN),
    reconnectAll: at(FIRST_GAP + FIRST_MAX + PARK_GAP_MAX),
    // A margin for the workers' processes to start (a second or more on a loaded machine).
    full: at(FIRST_GAP + FIRST_MAX + PARK_GAP_MAX) + Math.max(at(0.4), 2_000),
  };
}

/**
 * What a run of `durationMs` will not show (or may not), one line each, for the headless start: empty when the run
 * is long enough for the whole story, or runs until stopped (0).
 */
export function storyNotice(durationMs: number, idleLimitMs: number): string[] {
  if (durationMs === 0) return [];
  const t = storyTimes(idleLimitMs);
  const lines: string[] = [];
  const prefix = `--duration ${durationMs} ms`;
  if (durationMs <= idleLimitMs) {
    lines.push(`${prefix} ≤ idle limit ${idleLimitMs} ms: no reclaim will be shown (no connection is silent for the idle limit), so no lost work, no parking and no lazy reconnect either`);
  } else if (durationMs < t.reclaimEarliest) {
    lines.push(`${prefix} < ${t.reclaimEarliest} ms: no reclaim will be shown (a quiet connection is reclaimed 1.5 to 2 idle limits after its last traffic), so no lost work, no parking and no lazy reconnect either`);
  } else if (durationMs < t.parkedEarliest) {
    lines.push(`${prefix} < ${t.parkedEarliest} ms: no idle worker will be reclaimed and parked, nor reconnect when work comes back`);
  } else if (durationMs < t.reconnectEarliest) {
    lines.push(`${prefix} < ${t.reconnectEarliest} ms: no parked worker will reconnect when work comes back`);
  } else if (durationMs < t.reconnectAll) {
    lines.push(`${prefix} < ${t.reconnectAll} ms: some workers may not be reclaimed, parked and reconnected before the end`);
  }
  if (lines.length > 0) lines.push(`(the whole story takes ${t.full} ms at this idle limit: leave --duration out to run that long)`);
  return lines;
}
