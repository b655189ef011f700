/* global queueMicrotask */
/**
 * One sample of scenario 12 (Node): the cost of the OpenTelemetry instrumentation on a server's tick. A PeerTracker
 * (the runtime-neutral server side of every transport) tracks `connections` connections on the shared scheduler,
 * pinging each every `intervalMs` on its own phase; each socket answers its ping with a pong on the next microtask
 * (a live client on a fast network). The tick is the whole round: the ping deadline served by the scheduler, the
 * peer machine's step (ping, pong deadline, next ping, the round-trip record), the socket call, then the pong's
 * step (proof of life and a round-trip sample). Only the instrumentation differs:
 *
 *   before  `off` on the packages as they were before the round-trip time was measured: a build of the previous
 *           commit, in the folder named by KEEPALIVE_BASELINE (see scenario 12 in scenarios.mjs)
 *   off   nothing instrumented: the tracker has no observer (what every program that does not ask pays)
 *   on    instrumentServer(tracker) on a real SDK MeterProvider whose reader collects every second (into the SDK's
 *         in-memory exporter): the observer records every round trip in the histogram and counts every answer,
 *         and each collection reads the tracker's counters and walks its connections
 *
 * After one interval of warm-up, CPU (process.cpuUsage) is measured over `measureIntervals` intervals and divided
 * by the pings sent meanwhile. Prints one JSON line.
 *
 *   child.mjs <before|off|on> <connections> <intervalMs> <measureIntervals>
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [variant = 'off', connectionsArg = '20000', intervalArg = '1000', measureArg = '3'] = process.argv.slice(2);
const baseline = process.env.KEEPALIVE_BASELINE;
if (variant === 'before' && baseline === undefined) throw new Error('variant before: set KEEPALIVE_BASELINE to a build of the previous commit');
const from = (pkg) => (variant === 'before' ? import(pathToFileURL(join(baseline, 'packages', pkg, 'dist/index.js')).href) : import(`@keepalive/${pkg}`));
const { createScheduler } = await from('node-timers');
const { PeerTracker } = await from('websocket-transport');
const connections = Number(connectionsArg);
const intervalMs = Number(intervalArg);
const measureIntervals = Number(measureArg);

// Quiet peers pinged at the same interval (B16's idlePingIntervalMs), so every connection is pinged every interval
// without a message of its own in the measurement.
const tracker = new PeerTracker({ scheduler: createScheduler(), pingIntervalMs: intervalMs, idlePingIntervalMs: intervalMs, pongTimeoutMs: intervalMs, minPingIntervalMs: 10 });
let provider = null;
if (variant === 'on') {
  const { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
  const { instrumentServer } = await import('@keepalive/opentelemetry');
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  provider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1_000 })] });
  instrumentServer(tracker, { meterProvider: provider });
  // The exporter keeps every export: keep only the latest, as a real exporter would send and forget.
  setInterval(() => exporter.reset(), 2_000).unref();
} else if (variant !== 'off' && variant !== 'before') {
  throw new Error(`unknown variant ${variant}`);
}

for (let i = 0; i < connections; i++) {
  let peer = null;
  const socket = {
    ping: () => queueMicrotask(() => peer?.inbound('pong')),
    reply: () => undefined,
    close: () => undefined,
    terminate: () => undefined,
  };
  peer = tracker.track(socket);
}

await sleep(intervalMs * 1.5);
const before = tracker.stats().pingsSent;
const cpu = process.cpuUsage();
const started = performance.now();
await sleep(intervalMs * measureIntervals);
const used = process.cpuUsage(cpu);
const elapsedMs = performance.now() - started;
const pings = tracker.stats().pingsSent - before;
tracker.close();
await provider?.shutdown();
console.log(
  JSON.stringify({
    variant,
    connections,
    intervalMs,
    elapsedMs,
    pings,
    cpuMs: (used.user + used.system) / 1_000,
    cpuUsPerPing: (used.user + used.system) / pings,
    deadPeers: tracker.stats().deadPeers,
  }),
);
process.exit(0);
