/**
 * `--metrics` across processes. The workers and the fleet's reclaimer are processes of their own: each instruments
 * its own object (`instrumentClient`, `instrumentReclaimer`) on a `MeterProvider` of its own, reads it every second
 * and sends the readings (cumulative, so the latest replaces the one before) to the demo's process in this plain
 * JSON form, over the channel it already reports on. The demo's process sums them per instrument and attribute set
 * (metrics.ts), as one meter sums every client instrumented on it, and serves them beside the server's own.
 * This module has no dependency: a process started without `--metrics` loads no SDK (metrics-process.ts).
 */

/** A histogram's state, as plain JSON (a min or max the SDK has none of is `null`). */
export interface WireHistogram {
  readonly boundaries: readonly number[];
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
  readonly min: number | null;
  readonly max: number | null;
}

/** One point: its attributes (closed-set values only: the library's) and its cumulative value. */
export interface WirePoint {
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  /** When the cumulative value started counting, as an OpenTelemetry `HrTime` ([seconds, nanoseconds]). */
  readonly startTime: readonly [number, number];
  readonly value: number | WireHistogram;
}

/** One instrument's readings. `counter` is monotonic, `updown` not; a `gauge` is a last value. */
export interface WireMetric {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly valueType: number;
  readonly kind: 'counter' | 'updown' | 'gauge' | 'histogram';
  readonly points: readonly WirePoint[];
}

/** How often a child process sends its readings. */
export const METRICS_PUSH_MS = 1_000;

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function isHistogram(value: unknown): value is WireHistogram {
  if (!isRecord(value)) return false;
  const { boundaries, counts, sum, count, min, max } = value;
  return (
    Array.isArray(boundaries) &&
    boundaries.every(isNumber) &&
    Array.isArray(counts) &&
    counts.every(isNumber) &&
    counts.length === boundaries.length + 1 &&
    isNumber(sum) &&
    isNumber(count) &&
    (min === null || isNumber(min)) &&
    (max === null || isNumber(max))
  );
}

function isPoint(value: unknown, histogram: boolean): value is WirePoint {
  if (!isRecord(value)) return false;
  const { attributes, startTime, value: reading } = value;
  return (
    isRecord(attributes) &&
    Object.values(attributes).every((a) => typeof a === 'string' || typeof a === 'boolean' || isNumber(a)) &&
    Array.isArray(startTime) &&
    startTime.length === 2 &&
    startTime.every(isNumber) &&
    (histogram ? isHistogram(reading) : isNumber(reading))
  );
}

/** Readings received from another process, checked: anything malformed is `null` (and dropped by the caller). */
export function parseWire(value: unknown): WireMetric[] | null {
  if (!Array.isArray(value)) return null;
  const out: WireMetric[] = [];
  for (const metric of value) {
    if (!isRecord(metric)) return null;
    const { name, description, unit, valueType, kind, points } = metric;
    if (typeof name !== 'string' || typeof description !== 'string' || typeof unit !== 'string' || !isNumber(valueType)) return null;
    if (kind !== 'counter' && kind !== 'updown' && kind !== 'gauge' && kind !== 'histogram') return null;
    if (!Array.isArray(points) || !points.every((p) => isPoint(p, kind === 'histogram'))) return null;
    out.push({ name, description, unit, valueType, kind, points });
  }
  return out;
}
