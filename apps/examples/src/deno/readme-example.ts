import { connectWithKeepalive, createKeepaliveTracker, createSessionActivity, upgradeWithKeepalive } from '@keepalive/deno';

const tracker = createKeepaliveTracker({ pingIntervalMs: 500, pongTimeoutMs: 250, minPingIntervalMs: 100 });
const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, (request) => {
  const { socket, response } = upgradeWithKeepalive(request, { tracker });
  socket.addEventListener('message', (event) => {
    if (event.data !== '') socket.send(`echo: ${event.data}`); // '' is the heartbeat
  });
  return response;
});

const activity = createSessionActivity({ heartbeatIntervalMs: 200, pongTimeoutMs: 500, logger: console });
const socket = connectWithKeepalive(`ws://127.0.0.1:${server.addr.port}`, activity);
await new Promise((resolve) => socket.addEventListener('open', resolve));

await activity.run('api_call', () => new Promise((resolve) => setTimeout(resolve, 1_000))); // keep-alives flow
console.log(activity.shutdown()); // { total: 0, active: {}, oldestActivityMs: null, keepalivesSent: 4 }
console.log(tracker.stats()); // { tracked: 1, pingsSent: 2, heartbeatsAnswered: 4, deadPeers: 0, ... }
socket.close();
await server.shutdown();
