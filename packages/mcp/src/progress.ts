/**
 * The progress numbering of one tool call, in one place and free of I/O: the MCP specification requires the
 * `progress` of each `notifications/progress` to be greater than the one before ("MUST increase with each
 * notification, even if the total is unknown"), while a keep-alive has no progress of its own to report. A
 * keep-alive therefore repeats the last value the handler reported, raised by the smallest step a double allows (3
 * becomes 3.0000000000000004): strictly greater, so the rule holds, and the same number to anyone who displays it.
 * Before the handler reports anything the first notification carries 0. A keep-alive also repeats the last total
 * and message, so a client that shows them does not see them flicker away between reports.
 */

/**
 * One `notifications/progress` payload, without the token.
 */
export interface ProgressValue {
  /** Strictly greater than the previous notification's progress for the same request. */
  readonly progress: number;
  /** The total, when the handler reported one. */
  readonly total?: number;
  /** The handler's last message, when it reported one. */
  readonly message?: string;
}

/**
 * Why a `report()` was refused or adjusted:
 *
 * - `progress`: not a finite number ≥ 0 (the report is ignored);
 * - `total`: not `undefined` or a finite number ≥ 0 (the report is ignored);
 * - `message`: not `undefined` or a string (the report is ignored);
 * - `not_increasing`: not greater than what was already sent (sent anyway, raised to the next representable value).
 */
export type ReportProblem = 'progress' | 'total' | 'message' | 'not_increasing';

/**
 * The smallest double greater than `value` (for `value` ≥ 0), or `null` when there is none that JSON can carry
 * (past `Number.MAX_VALUE`).
 */
export function nextProgress(value: number): number | null {
  if (!Number.isFinite(value) || value < 0) return null;
  if (value === 0) return Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  // For a positive double, the next bit pattern is the next value up.
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  const next = view.getFloat64(0);
  return Number.isFinite(next) ? next : null;
}

/**
 * The progress state of one request: what was last sent, and the handler's last total and message.
 */
export class ProgressTrack {
  private last: number | null = null;
  private total: number | undefined = undefined;
  private message: string | undefined = undefined;
  private produced = 0;

  /** Values produced so far (reports and keep-alives). */
  get sent(): number {
    return this.produced;
  }

  /** The value a keep-alive sends now, or `null` when progress can no longer increase. */
  heartbeat(): ProgressValue | null {
    const progress = this.last === null ? 0 : nextProgress(this.last);
    if (progress === null) return null;
    return this.commit(progress);
  }

  /**
   * The value a handler's report sends, or the reason it was refused. A report that does not increase is still sent
   * (its total and message are news), raised to the next value; it comes back with the problem `not_increasing`.
   */
  report(progress: unknown, total?: unknown, message?: unknown): { readonly value: ProgressValue | null; readonly problem: ReportProblem | null } {
    if (typeof progress !== 'number' || !Number.isFinite(progress) || progress < 0) return { value: null, problem: 'progress' };
    if (total !== undefined && (typeof total !== 'number' || !Number.isFinite(total) || total < 0)) return { value: null, problem: 'total' };
    if (message !== undefined && typeof message !== 'string') return { value: null, problem: 'message' };
    // A total, once given, holds until another is given; a message belongs to the report that carries it.
    if (total !== undefined) this.total = total;
    this.message = message;
    if (this.last === null || progress > this.last) return { value: this.commit(progress), problem: null };
    const raised = nextProgress(this.last);
    return { value: raised === null ? null : this.commit(raised), problem: 'not_increasing' };
  }

  private commit(progress: number): ProgressValue {
    this.last = progress;
    this.produced += 1;
    return {
      progress,
      ...(this.total !== undefined ? { total: this.total } : {}),
      ...(this.message !== undefined ? { message: this.message } : {}),
    };
  }
}
