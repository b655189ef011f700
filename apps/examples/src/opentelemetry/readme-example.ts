import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { createKeepaliveClient, createKeepaliveServer } from '@keepalive/websocket-transport';
import { instrumentClient, instrumentServer } from '@keepalive/opentelemetry';

// Your SDK, your exporter (here the SDK's in-memory one; in production OTLP, or Prometheus' scrape endpoint).
const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
const meterProvider = new MeterProvider({ readers: [reader] });

const { wss, heartbeat } = createKeepaliveServer({ host: '127.0.0.1', port: 0, keepalive: { pingIntervalMs: 100, minPingIntervalMs: 50 } });
await new Promise((resolve) => wss.once('listening', resolve));
instrumentServer(heartbeat, { meterProvider });

const client = createKeepaliveClient(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { heartbeatIntervalMs: 100 });
instrumentClient(client, { meterProvider });
await client.activity.run('job', () => sleep(450)); // busy: a keep-alive every 100 ms, each answer a round-trip sample
console.log(client.rtt); // { latestMs, smoothedMs, variationMs, minMs, samples: 4, answered: 4 } (times in ms)

await reader.forceFlush();
for (const metric of exporter.getMetrics()[0]?.scopeMetrics[0]?.metrics ?? []) {
  const points = metric.dataPoints.map(({ attributes, value }) => [attributes, typeof value === 'number' ? value : value.count]);
  console.log(metric.descriptor.name, metric.descriptor.unit, JSON.stringify(points));
}
await client.close();
heartbeat.close();
wss.close();
await meterProvider.shutdown();
