import { createServer, type Server } from 'node:http';
import { ValueType } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, MeterProvider, type MetricData, type MetricProducer } from '@opentelemetry/sdk-metrics';
import { INSTRUMENTATION_SCOPE } from '@keepalive/opentelemetry';
import type { HttpLimits } from './server.js';
import type { WireHistogram, WireMetric, WirePoint } from './metrics-wire.js';

/**
 * `--metrics`: the demo process's one `MeterProvider`, read by the official Prometheus exporter, whose scrape
 * endpoint is served on 127.0.0.1 (`/metrics`). The demo's own server is instrumented on it; the readings of the
 * worker processes and of the fleet's reclaimer process (metrics-wire.ts) arrive over their channels and join the
 * scrape through a `MetricProducer`, summed per instrument and attribute set, as if every client had been
 * instrumented on this one meter.
 */

/** The metrics of a demo run. */
export interface DemoMetrics {
  /** The scrape endpoint, `http://127.0.0.1:<port>/metrics`. */
  readonly url: string;
  /** The provider to instrument this process's objects with. */
  readonly meterProvider: MeterProvider;
  /** Another process's latest readings (they are cumulative: they replace that source's previous ones). */
  report(source: string, metrics: readonly WireMetric[]): void;
  /**
   * What a scrape would show now: every instrument, this process's and the other processes' summed. After
   * `close()`: what it showed at the close.
   */
  collect(): Promise<MetricData[]>;
  /** Reads every instrument a last time (for `collect()`), then stops the endpoint and the provider. */
  close(): Promise<void>;
}

/** Options of {@link startMetrics}. */
export interface MetricsOptions {
  /** 0: a free one. */
  readonly port: number;
  readonly http: HttpLimits;
}

function hrNow(): [number, number] {
  const ms = Date.now();
  return [Math.floor(ms / 1_000), (ms % 1_000) * 1_000_000];
}

const earlier = (a: readonly [number, number], b: readonly [number, number]): [number, number] => (a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]) ? [a[0], a[1]] : [b[0], b[1]]);

function attributeKey(attributes: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function addHistograms(a: WireHistogram, b: WireHistogram): WireHistogram | null {
  if (a.boundaries.length !== b.boundaries.length || a.boundaries.some((bound, i) => bound !== b.boundaries[i])) return null;
  const pick = (x: number | null, y: number | null, f: (p: number, q: number) => number): number | null => (x === null ? y : y === null ? x : f(x, y));
  return {
    boundaries: a.boundaries,
    counts: a.counts.map((count, i) => count + (b.counts[i] ?? 0)),
    sum: a.sum + b.sum,
    count: a.count + b.count,
    min: pick(a.min, b.min, Math.min),
    max: pick(a.max, b.max, Math.max),
  };
}

/**
 * Sums the readings of several processes per instrument and attribute set: counters, up-down counters and
 * histograms add up (histograms with the same buckets); a gauge keeps the largest value.
 */
export function mergeReadings(sources: readonly (readonly WireMetric[])[]): WireMetric[] {
  const merged = new Map<string, { metric: WireMetric; points: Map<string, WirePoint> }>();
  for (const metrics of sources) {
    for (const metric of metrics) {
      let entry = merged.get(metric.name);
      if (entry === undefined) {
        entry = { metric, points: new Map() };
        merged.set(metric.name, entry);
      }
      if (entry.metric.kind !== metric.kind) continue;
      for (const point of metric.points) {
        const key = attributeKey(point.attributes);
        const before = entry.points.get(key);
        if (before === undefined) {
          entry.points.set(key, point);
          continue;
        }
        let value: number | WireHistogram | null;
        if (typeof before.value === 'number' && typeof point.value === 'number') {
          value = metric.kind === 'gauge' ? Math.max(before.value, point.value) : before.value + point.value;
        } else if (typeof before.value !== 'number' && typeof point.value !== 'number') {
          value = addHistograms(before.value, point.value);
        } else {
          value = null;
        }
        if (value !== null) entry.points.set(key, { attributes: before.attributes, startTime: earlier(before.startTime, point.startTime), value });
      }
    }
  }
  return [...merged.values()].map(({ metric, points }) => ({ ...metric, points: [...points.values()] }));
}

/** Plain readings as the SDK's metric data (cumulative), for the exporter. */
export function fromWire(metrics: readonly WireMetric[]): MetricData[] {
  const endTime = hrNow();
  return metrics.map((metric): MetricData => {
    const descriptor = { name: metric.name, description: metric.description, unit: metric.unit, valueType: metric.valueType === (ValueType.INT as number) ? ValueType.INT : ValueType.DOUBLE };
    const aggregationTemporality = AggregationTemporality.CUMULATIVE;
    if (metric.kind === 'histogram') {
      return {
        descriptor,
        aggregationTemporality,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: metric.points.flatMap((p) =>
          typeof p.value === 'number'
            ? []
            : [
                {
                  attributes: p.attributes,
                  startTime: [p.startTime[0], p.startTime[1]],
                  endTime,
                  value: {
                    buckets: { boundaries: [...p.value.boundaries], counts: [...p.value.counts] },
                    sum: p.value.sum,
                    count: p.value.count,
                    ...(p.value.min === null ? {} : { min: p.value.min }),
                    ...(p.value.max === null ? {} : { max: p.value.max }),
                  },
                },
              ],
        ),
      };
    }
    const dataPoints = metric.points.flatMap((p) => (typeof p.value === 'number' ? [{ attributes: p.attributes, startTime: [p.startTime[0], p.startTime[1]] as [number, number], endTime, value: p.value }] : []));
    if (metric.kind === 'gauge') return { descriptor, aggregationTemporality, dataPointType: DataPointType.GAUGE, dataPoints };
    return { descriptor, aggregationTemporality, dataPointType: DataPointType.SUM, isMonotonic: metric.kind === 'counter', dataPoints };
  });
}

/** Starts the provider and the scrape endpoint on 127.0.0.1; rejects when the port cannot be had. */
export async function startMetrics(options: MetricsOptions): Promise<DemoMetrics> {
  const resource = resourceFromAttributes({ 'service.name': 'keepalive-demo' });
  const readings = new Map<string, readonly WireMetric[]>();
  // The other processes' readings, summed, join each collection (the exporter takes this process's resource).
  const others: MetricProducer = {
    collect: () =>
      Promise.resolve({
        resourceMetrics: { resource, scopeMetrics: readings.size === 0 ? [] : [{ scope: { name: INSTRUMENTATION_SCOPE }, metrics: fromWire(mergeReadings([...readings.values()])) }] },
        errors: [],
      }),
  };
  // The exporter's own server cannot listen on a free port and tell which (port 0 means its default, 9464): it is
  // served from ours.
  const exporter = new PrometheusExporter({ preventServerStart: true, metricProducers: [others] });
  const meterProvider = new MeterProvider({ resource, readers: [exporter] });
  const http: Server = createServer(
    {
      headersTimeout: options.http.headersTimeoutMs,
      requestTimeout: options.http.requestTimeoutMs,
      keepAliveTimeout: options.http.keepAliveTimeoutMs,
    },
    (request, response) => {
      const path = new URL(request.url ?? '/', 'http://localhost').pathname;
      if (request.method === 'GET' && path === '/metrics') exporter.getMetricsRequestHandler(request, response);
      else response.writeHead(404).end();
    },
  );
  http.maxConnections = options.http.maxConnections;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('the metrics endpoint has no TCP address');
  let closing: Promise<void> | null = null;
  let last: MetricData[] | null = null;
  const read = async (): Promise<MetricData[]> =>
    // The exporter pins sdk-metrics 3.1.0 and this app uses 3.1.1: the same data and enum values, declared twice.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
    (await exporter.collect()).resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  return {
    url: `http://127.0.0.1:${address.port}/metrics`,
    meterProvider,
    report: (source, metrics) => {
      readings.set(source, metrics);
    },
    collect: async () => last ?? (await read()),
    close: () => {
      closing ??= (async () => {
        last = await read();
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
        await meterProvider.shutdown();
      })();
      return closing;
    },
  };
}

function formatAttributes(attributes: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(attributes);
  return entries.length === 0 ? '' : `{${entries.map(([key, value]) => `${key}=${String(value)}`).join(',')}} `;
}

const round = (value: number): string => String(Number(value.toPrecision(4)));

/**
 * A compact sample: one line per instrument with a non-zero point (name, unit, each point with its attributes; a
 * histogram as its count, sum, min and max), then one line naming the instruments whose points are all zero.
 */
export function formatSample(metrics: readonly MetricData[]): string[] {
  const lines: string[] = [];
  const zero: string[] = [];
  for (const metric of [...metrics].sort((a, b) => (a.descriptor.name < b.descriptor.name ? -1 : 1))) {
    const { name, unit } = metric.descriptor;
    let points: string[];
    if (metric.dataPointType === DataPointType.HISTOGRAM) {
      points = metric.dataPoints
        .filter((p) => p.value.count > 0)
        .map((p) => `${formatAttributes(p.attributes)}count=${p.value.count} sum=${round(p.value.sum ?? 0)} min=${round(p.value.min ?? 0)} max=${round(p.value.max ?? 0)}`);
    } else if (metric.dataPointType === DataPointType.SUM || metric.dataPointType === DataPointType.GAUGE) {
      points = metric.dataPoints.filter((p) => p.value !== 0).map((p) => `${formatAttributes(p.attributes)}${round(p.value)}`);
    } else {
      continue;
    }
    if (points.length === 0) zero.push(name);
    else lines.push(`  ${name} [${unit}] ${points.join('; ')}`);
  }
  if (zero.length > 0) lines.push(`  all zero: ${zero.join(', ')}`);
  return lines;
}
