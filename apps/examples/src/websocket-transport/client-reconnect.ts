import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { createKeepaliveClient, type KeepaliveClientEvents } from '@keepalive/websocket-transport';

// A server that refuses an expired token (4401: not retried as is) and welcomes a fresh one.
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await once(wss, 'listening');
wss.on('connection', (ws, request) => {
  if (request.url === '/?token=expired') ws.close(4401, 'unauthorized');
  else ws.send('welcome');
});
const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;

let token = 'expired';
const client = createKeepaliveClient(() => new WebSocket(`${url}/?token=${token}`));
const next = <K extends keyof KeepaliveClientEvents>(event: K): Promise<KeepaliveClientEvents[K]> => new Promise((resolve) => client.once(event, resolve));
client.on('message', ({ data }) => console.log(String(data))); // kept across reconnect()

const { code } = await next('rejected');
const { cause } = await client.close(); // already closed: the close it ended with
console.log(`${cause} with ${code}: ${client.state}`); // rejected with 4401: closed
token = 'fresh';
const reopened = next('open');
const welcomed = next('message');
client.reconnect(); // the same client, attempt 0 again, its listeners kept
const { attempt } = await reopened;
console.log(`open again (attempt ${attempt})`); // open again (attempt 0)
await welcomed;

await client.close();
wss.close();
