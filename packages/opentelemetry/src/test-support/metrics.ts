import { AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import type { Attributes, Meter } from '@opentelemetry/api';
import { INSTRUMENTATION_SCOPE } from '../names.js';

/**
 * The real OpenTelemetry metrics SDK, read in memory: a meter provider whose periodic reader exports (cumulative) to
 * an `InMemoryMetricExporter` only when the test flushes it.
 */
export class Metrics {
  readonly exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  readonly reader = new PeriodicExportingMetricReader({ exporter: this.exporter, exportIntervalMillis: 3_600_000 });
  readonly provider = new MeterProvider({ readers: [this.reader] });
  readonly meter: Meter = this.provider.getMeter(INSTRUMENTATION_SCOPE);

  /** Collects now: every metric of this package's scope, by name. */
  async read(): Promise<Map<string, MetricData>> {
    this.exporter.reset();
    await this.reader.forceFlush();
    const byName = new Map<string, MetricData>();
    for (const resource of this.exporter.getMetrics()) {
      for (const scope of resource.scopeMetrics) {
        if (scope.scope.name !== INSTRUMENTATION_SCOPE) continue;
        for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
      }
    }
    return byName;
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

/** The value of a sum or gauge metric's point whose attributes include `attributes` (0 when there is none). */
export function valueOf(metrics: Map<string, MetricData>, name: string, attributes: Attributes = {}): number {
  const metric = metrics.get(name);
  if (metric === undefined) return 0;
  let total = 0;
  for (const point of metric.dataPoints) {
    if (!matches(point.attributes, attributes)) continue;
    if (metric.dataPointType === DataPointType.HISTOGRAM) throw new Error(`${name} is a histogram: use histogramOf`);
    total += point.value as number;
  }
  return total;
}

/** A histogram metric's count, sum, min and max over the points whose attributes include `attributes`. */
export function histogramOf(metrics: Map<string, MetricData>, name: string, attributes: Attributes = {}): { count: number; sum: number; min: number; max: number } {
  const metric = metrics.get(name);
  const result = { count: 0, sum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY };
  if (metric === undefined) return result;
  if (metric.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${name} is not a histogram`);
  for (const point of metric.dataPoints) {
    if (!matches(point.attributes, attributes)) continue;
    result.count += point.value.count;
    result.sum += point.value.sum ?? 0;
    result.min = Math.min(result.min, point.value.min ?? Number.POSITIVE_INFINITY);
    result.max = Math.max(result.max, point.value.max ?? Number.NEGATIVE_INFINITY);
  }
  return result;
}

function matches(actual: Attributes, wanted: Attributes): boolean {
  return Object.entries(wanted).every(([key, value]) => actual[key] === value);
}

/** Every attribute of every point, as `[metric, key, value]`. */
export function everyAttribute(metrics: Map<string, MetricData>): [string, string, unknown][] {
  const all: [string, string, unknown][] = [];
  for (const metric of metrics.values()) {
    for (const point of metric.dataPoints) for (const [key, value] of Object.entries(point.attributes)) all.push([metric.descriptor.name, key, value]);
  }
  return all;
}
