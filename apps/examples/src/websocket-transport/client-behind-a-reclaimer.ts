import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer } from 'ws';
import { createKeepaliveClient, keepAlive } from '@keepalive/websocket-transport';

// The server plays the reclaimer (a proxy with an idle timeout): a connection silent for 1 s is closed with 4000.
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await new Promise((resolve) => wss.once('listening', resolve));
const heartbeat = keepAlive(wss, { idleCloseMs: 1_000, minPingIntervalMs: 100 });
wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo: ${String(data)}`)));
const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;

// Lazy: keep-alives while work is in flight (every 250 ms, well under the 1 s idle limit); idle, the client lets
// the reclaimer close the connection and stays disconnected until work comes back.
const client = createKeepaliveClient(url, { heartbeatIntervalMs: 250, pongTimeoutMs: 1_000, reconnect: { whenIdle: 'lazy' } });
client.on('message', ({ data }) => console.log(String(data)));
client.on('parked', ({ code }) => console.log(`closed (${code}) while idle: reconnects when work comes back`));

await client.activity.run('api_call', async () => {
  client.send('hello'); // sent now, or queued while disconnected
  await sleep(2_000); // twice the idle limit: the keep-alives hold the connection open
});
await new Promise((resolve) => client.once('parked', resolve)); // reclaimed while idle, parked
await client.activity.run('tool_exec', async () => {
  client.send('back'); // reconnects at once (no backoff), then sends
  await sleep(300);
});

const { cause, undelivered } = await client.close(); // cause: 'closed' | 'aborted' | 'exhausted' | 'rejected'
console.log(cause, undelivered.length); // closed 0: nothing was left unsent
console.log(heartbeat.stats().idleClosed); // 1: once, while idle
heartbeat.close();
wss.close();
