import { DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import type { WireMetric } from './metrics-wire.js';

/**
 * A child process's side of `--metrics` (a worker's, the fleet's reclaimer's): its own meter provider, read on
 * demand and turned into the plain readings of metrics-wire.ts. Imported only when `--metrics` is on.
 */

/** A reader that is only read on demand (`collect()`), cumulative as the SDK's default. */
class PullReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }

  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** A child process's meter provider, and its readings on demand. */
export interface ProcessMetrics {
  readonly meterProvider: MeterProvider;
  /** Every instrument's cumulative readings now. */
  read(): Promise<WireMetric[]>;
  close(): Promise<void>;
}

/** Starts a child process's meter provider (`--metrics`). */
export function processMetrics(): ProcessMetrics {
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    meterProvider,
    read: async () => toWire((await reader.collect()).resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics)),
    close: () => meterProvider.shutdown(),
  };
}

function plainAttributes(attributes: Readonly<Record<string, unknown>>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = value;
  }
  return out;
}

const finite = (value: number | undefined): number | null => (value !== undefined && Number.isFinite(value) ? value : null);

/** The SDK's metric data as plain JSON (exponential histograms, which the library does not make, are left out). */
export function toWire(metrics: readonly MetricData[]): WireMetric[] {
  const out: WireMetric[] = [];
  for (const metric of metrics) {
    const { name, description, unit, valueType } = metric.descriptor;
    const base = { name, description, unit, valueType: valueType as number };
    if (metric.dataPointType === DataPointType.SUM || metric.dataPointType === DataPointType.GAUGE) {
      const kind = metric.dataPointType === DataPointType.GAUGE ? 'gauge' : metric.isMonotonic ? 'counter' : 'updown';
      out.push({ ...base, kind, points: metric.dataPoints.map((p) => ({ attributes: plainAttributes(p.attributes), startTime: [p.startTime[0], p.startTime[1]], value: p.value })) });
    } else if (metric.dataPointType === DataPointType.HISTOGRAM) {
      out.push({
        ...base,
        kind: 'histogram',
        points: metric.dataPoints.map((p) => ({
          attributes: plainAttributes(p.attributes),
          startTime: [p.startTime[0], p.startTime[1]],
          value: { boundaries: [...p.value.buckets.boundaries], counts: [...p.value.buckets.counts], sum: p.value.sum ?? 0, count: p.value.count, min: finite(p.value.min), max: finite(p.value.max) },
        })),
      });
    }
  }
  return out;
}
