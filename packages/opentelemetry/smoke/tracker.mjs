/* global queueMicrotask */
// Smoke test for the published @keepalive/opentelemetry (see CONTRIBUTING.md, "Smoke tests"), on Node, Bun and Deno:
// a real PeerTracker on the runtime's timers pings a connection that answers on the next microtask; the server is
// instrumented on the global meter provider of @opentelemetry/api (a no-op one: no SDK here), so the instrumentation
// runs its whole path on every runtime, and the tracker's round-trip figures are checked.
import { roundTripTime } from '@keepalive/core';
import { createScheduler } from '@keepalive/node-timers';
import { PeerTracker } from '@keepalive/websocket-transport';
import { ATTRIBUTE_VALUES, METRICS, closeClass, instrumentServer } from '@keepalive/opentelemetry';

const tracker = new PeerTracker({ scheduler: createScheduler(), pingIntervalMs: 20, idlePingIntervalMs: 20, pongTimeoutMs: 200, minPingIntervalMs: 10 });
const instrumentation = instrumentServer(tracker);
let peer = null;
peer = tracker.track({
  ping: () => queueMicrotask(() => peer?.inbound('pong')),
  reply: () => undefined,
  close: () => undefined,
  terminate: () => undefined,
});
const deadline = performance.now() + 5_000;
while (peer.state.rttSamples < 3 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
instrumentation.close();
tracker.close();
const rtt = roundTripTime(peer.state);
const { samples, answered, smoothedMs } = rtt;
if (samples < 3 || answered < samples || !(smoothedMs >= 0)) throw new Error(`round trip not measured: ${JSON.stringify(rtt)}`);
if (closeClass(4000) !== 'idle_timeout' || !ATTRIBUTE_VALUES['keepalive.close.class'].includes('idle_timeout')) throw new Error('close classes');
if (METRICS.serverRtt !== 'keepalive.server.rtt') throw new Error('instrument names');
console.log(`  ${samples} round trips, smoothed ${smoothedMs.toFixed(3)} ms`);
