import { connectWithKeepalive, createSessionActivity, withKeepalive } from '@keepalive/bun';

const websocket = withKeepalive(
  { message: (ws, message) => ws.send(`echo: ${message}`) },
  { pingIntervalMs: 500, pongTimeoutMs: 250, minPingIntervalMs: 100 },
);
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: (request, srv) => (srv.upgrade(request) ? undefined : new Response('upgrade required', { status: 426 })),
  websocket,
});

const activity = createSessionActivity({ heartbeatIntervalMs: 200, pongTimeoutMs: 500, logger: console });
const socket = connectWithKeepalive(`ws://127.0.0.1:${server.port}`, activity);
await new Promise((resolve) => socket.addEventListener('open', resolve));

await activity.run('api_call', () => new Promise((resolve) => setTimeout(resolve, 1_000))); // keep-alives flow
console.log(activity.shutdown()); // { total: 0, active: {}, oldestActivityMs: null, keepalivesSent: 4 }
console.log(websocket.keepalive.stats()); // { tracked: 1, pingsSent: 2, deadPeers: 0, ... }
socket.close();
server.stop();
