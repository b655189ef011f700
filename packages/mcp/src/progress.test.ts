import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProgressTrack, nextProgress } from './progress.js';

describe('progress numbering (the MCP rule: progress increases with every notification)', () => {
  it('nextProgress is the next double up: strictly greater, nothing in between', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e300, noNaN: true, noDefaultInfinity: true }), (value) => {
        const next = nextProgress(value);
        expect(next).not.toBeNull();
        expect(next!).toBeGreaterThan(value);
        // No double lies strictly between value and next: their midpoint rounds to one of them.
        const middle = value / 2 + next! / 2;
        expect(middle === value || middle === next).toBe(true);
      }),
    );
    expect(nextProgress(0)).toBe(Number.MIN_VALUE);
    expect(nextProgress(-0)).toBe(Number.MIN_VALUE);
    expect(nextProgress(3)).toBe(3.0000000000000004);
  });

  it('nextProgress has no answer past the largest double or for invalid values', () => {
    expect(nextProgress(Number.MAX_VALUE)).toBeNull();
    expect(nextProgress(Number.POSITIVE_INFINITY)).toBeNull();
    expect(nextProgress(Number.NaN)).toBeNull();
    expect(nextProgress(-1)).toBeNull();
  });

  it('any mix of reports and keep-alives sends strictly increasing progress, and keeps total and message', () => {
    const step = fc.oneof(
      fc.constant({ kind: 'heartbeat' as const }),
      fc.record({
        kind: fc.constant('report' as const),
        progress: fc.oneof(fc.double({ min: 0, max: 1000, noNaN: true }), fc.integer({ min: 0, max: 20 })),
        total: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
        message: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
      }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const track = new ProgressTrack();
        let last = -1;
        let total: number | undefined;
        let sent = 0;
        for (const action of steps) {
          const value = action.kind === 'heartbeat' ? track.heartbeat() : track.report(action.progress, action.total, action.message).value;
          if (action.kind === 'report' && action.total !== undefined) total = action.total;
          expect(value).not.toBeNull();
          expect(value!.progress).toBeGreaterThan(last);
          expect(value!.total).toBe(total);
          if (action.kind === 'report') expect(value!.message).toBe(action.message);
          last = value!.progress;
          sent++;
        }
        expect(track.sent).toBe(sent);
      }),
    );
  });

  it('the first keep-alive says 0; a keep-alive repeats the last report raised by one step', () => {
    const track = new ProgressTrack();
    expect(track.heartbeat()).toEqual({ progress: 0 });
    expect(track.report(2, 5, 'two')).toEqual({ value: { progress: 2, total: 5, message: 'two' }, problem: null });
    expect(track.heartbeat()).toEqual({ progress: 2.0000000000000004, total: 5, message: 'two' });
    // A total holds; a message belongs to its report.
    expect(track.report(3)).toEqual({ value: { progress: 3, total: 5 }, problem: null });
  });

  it('a report that does not increase is sent raised, and says so', () => {
    const track = new ProgressTrack();
    track.report(5);
    expect(track.report(4, undefined, 'late')).toEqual({ value: { progress: 5.000000000000001, message: 'late' }, problem: 'not_increasing' });
  });

  it('bad reports are refused without throwing and change nothing', () => {
    const track = new ProgressTrack();
    expect(track.report(Number.NaN, undefined, undefined)).toEqual({ value: null, problem: 'progress' });
    expect(track.report(-1, undefined, undefined)).toEqual({ value: null, problem: 'progress' });
    expect(track.report('1', undefined, undefined)).toEqual({ value: null, problem: 'progress' });
    expect(track.report(1, Number.POSITIVE_INFINITY, undefined)).toEqual({ value: null, problem: 'total' });
    expect(track.report(1, '10', undefined)).toEqual({ value: null, problem: 'total' });
    expect(track.report(1, 10, 42)).toEqual({ value: null, problem: 'message' });
    expect(track.sent).toBe(0);
    expect(track.heartbeat()).toEqual({ progress: 0 });
  });

  it('progress that cannot grow any more is not sent', () => {
    const track = new ProgressTrack();
    track.report(Number.MAX_VALUE);
    expect(track.heartbeat()).toBeNull();
    expect(track.report(1).value).toBeNull();
  });
});
