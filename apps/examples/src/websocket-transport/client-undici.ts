import type { AddressInfo } from 'node:net';
import { WebSocket } from 'undici';
import { WebSocketServer } from 'ws';
import { createKeepaliveClient, keepAlive } from '@keepalive/websocket-transport';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await new Promise((resolve) => wss.once('listening', resolve));
const heartbeat = keepAlive(wss, { minPingIntervalMs: 100 }); // answers the heartbeat message of sockets that cannot ping
const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;

// Any WHATWG WebSocket: undici's, the browser's, Deno's, Bun's. It cannot ping: keep-alives are the heartbeat message.
const client = createKeepaliveClient(url, { WebSocket, heartbeatIntervalMs: 200, pongTimeoutMs: 1_000 });
await client.activity.run('api_call', () => new Promise((resolve) => setTimeout(resolve, 700)));
console.log(client.activity.snapshot().keepalivesSent, heartbeat.stats().heartbeatsAnswered); // 3 3
await client.close();
heartbeat.close();
wss.close();
