/**
 * Small statistics helpers. Every figure the report shows is a median or a
 * nearest-rank percentile over samples taken in fresh processes.
 */

/** Sorted copy of the finite values. */
function sorted(values) {
  return values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
}

/** Nearest-rank percentile (p in [0, 100]); NaN for no values. With 5 samples p99 is the largest. */
export function percentile(values, p) {
  const list = sorted(values);
  if (list.length === 0) return Number.NaN;
  const rank = Math.min(list.length, Math.max(1, Math.ceil((p / 100) * list.length)));
  return list[rank - 1];
}

/** Median (mean of the two middle values for an even count); NaN for no values. */
export function median(values) {
  const list = sorted(values);
  if (list.length === 0) return Number.NaN;
  const mid = list.length >> 1;
  return list.length % 2 === 1 ? list[mid] : (list[mid - 1] + list[mid]) / 2;
}

/** `{ median, p99, min, max, n, samples }` of a list of sample values. */
export function summarize(values) {
  const list = sorted(values);
  return {
    median: median(list),
    p99: percentile(list, 99),
    min: list.length === 0 ? Number.NaN : list[0],
    max: list.length === 0 ? Number.NaN : list[list.length - 1],
    n: list.length,
    samples: values,
  };
}

/** Rounds for display and JSON: `digits` significant digits, integers kept whole. */
export function round(value, digits = 3) {
  if (!Number.isFinite(value)) return value;
  if (Math.abs(value) >= 10 ** digits) return Math.round(value);
  return Number(value.toPrecision(digits));
}
