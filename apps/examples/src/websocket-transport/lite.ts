import { once } from 'node:events';
import { lazyParkLayer } from '@keepalive/core';
import { keepAlive } from '@keepalive/websocket-transport';
import { createLiteClient } from '@keepalive/websocket-transport/lite';
import WebSocket, { WebSocketServer } from 'ws';

// A server that keeps its connections alive and echoes.
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await once(wss, 'listening');
const server = keepAlive(wss);
wss.on('connection', (socket) => socket.on('message', (data) => socket.send(String(data))));
const { port } = wss.address() as { port: number };

// The kernel client, with one layer added: lazy park. `WebSocket` from ws on Node 20; browsers, Bun, Deno and
// Node 22+ use their own.
const client = createLiteClient(`ws://127.0.0.1:${port}`, { WebSocket, heartbeatIntervalMs: 15_000, layers: [lazyParkLayer] });
const echoed = new Promise((resolve) => client.once('message', ({ data }) => resolve(data)));
await client.activity.run('api_call', async () => {
  client.send('hello');
  console.log(await echoed);
});
const { cause, undelivered } = await client.close();
console.log(cause, undelivered.length);
server.close();
wss.close();
