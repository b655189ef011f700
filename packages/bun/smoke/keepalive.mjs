// Smoke test for the published @keepalive/bun (see CONTRIBUTING.md, "Smoke tests"): a Bun.serve server with
// withKeepalive and a client on connectWithKeepalive, over loopback; keep-alives while busy, none while idle,
// server pings answered, and everything released at the end.
import { connectWithKeepalive, createSessionActivity, withKeepalive } from '@keepalive/bun';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const websocket = withKeepalive({ message: () => undefined }, { pingIntervalMs: 40, pongTimeoutMs: 200, minPingIntervalMs: 10 });
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: (request, srv) => (srv.upgrade(request) ? undefined : new globalThis.Response('upgrade required', { status: 426 })),
  websocket,
});
const activity = createSessionActivity({ heartbeatIntervalMs: 40, pongTimeoutMs: 400 });
const socket = connectWithKeepalive(`ws://127.0.0.1:${server.port}`, activity);
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
const stats = websocket.keepalive.stats();
socket.close();
await sleep(20);
websocket.keepalive.close();
await server.stop(true);

// A loaded machine may coalesce late ticks, so ask for two keep-alives, not six.
if (busy < 2) throw new Error(`expected keep-alives while busy, got ${busy}`);
if (report.keepalivesSent !== busy) throw new Error(`keep-alives were sent while idle (${report.keepalivesSent - busy})`);
if (stats.pingsSent < 2 || stats.deadPeers !== 0) throw new Error(`server keep-alive: ${JSON.stringify(stats)}`);
