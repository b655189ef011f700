import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { createRedisSessionStore } from '@keepalive/redis';
import { createKeepaliveClient, keepAlive, resumable } from '@keepalive/websocket-transport';

// Every process behind the load balancer keeps its resumable sessions in the same Redis, so a client that
// reconnects to another process resumes there.
const store = createRedisSessionStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await new Promise((resolve) => wss.once('listening', resolve));
const heartbeat = keepAlive(wss, { resume: { store } });
heartbeat.sessions.on('session', ({ session, resumed, restored }) => {
  if (resumed && !restored) return; // the same object as before: its listeners are in place
  session.on('message', (message) => session.send(`echo ${String(message)}`));
});

const client = createKeepaliveClient(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { resume: resumable() });
const echo = new Promise<string>((resolve) => client.on('message', ({ data }) => resolve(String(data))));
client.send('kept in Redis until acknowledged');
console.log(await echo);

await client.close();
heartbeat.close();
await new Promise((resolve) => wss.close(resolve));
await store.close();
