// Smoke test for the published @keepalive/deno (see CONTRIBUTING.md, "Smoke tests"): a Deno.serve server with
// upgradeWithKeepalive and a client on connectWithKeepalive, over loopback; keep-alives while busy, none while idle,
// the server's heartbeats answered, and everything released at the end.
import { connectWithKeepalive, createKeepaliveTracker, createSessionActivity, upgradeWithKeepalive } from '@keepalive/deno';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tracker = createKeepaliveTracker({ pingIntervalMs: 40, pongTimeoutMs: 200, minPingIntervalMs: 10 });
const controller = new globalThis.AbortController();
const server = Deno.serve({ hostname: '127.0.0.1', port: 0, signal: controller.signal, onListen: () => undefined }, (request) => {
  return upgradeWithKeepalive(request, { tracker }).response;
});
const activity = createSessionActivity({ heartbeatIntervalMs: 40, pongTimeoutMs: 400 });
const socket = connectWithKeepalive(`ws://127.0.0.1:${server.addr.port}`, activity);
await new Promise((resolve, reject) => {
  socket.addEventListener('open', resolve);
  socket.addEventListener('error', reject);
});
const release = activity.start('smoke');
await sleep(260);
release();
const busy = activity.snapshot().keepalivesSent;
await sleep(120);
const report = activity.shutdown();
const stats = tracker.stats();
socket.close();
await sleep(20);
tracker.close();
controller.abort();
await server.finished;

// A loaded machine may coalesce late ticks, so ask for two keep-alives, not six.
if (busy < 2) throw new Error(`expected keep-alives while busy, got ${busy}`);
if (report.keepalivesSent !== busy) throw new Error(`keep-alives were sent while idle (${report.keepalivesSent - busy})`);
if (stats.pingsSent < 2 || stats.deadPeers !== 0) throw new Error(`server keep-alive: ${JSON.stringify(stats)}`);
