import type { AddressInfo } from 'node:net';
import { classifyMessage, createKeepaliveClient, createKeepaliveServer } from '@keepalive/websocket-transport';

const { wss, heartbeat } = createKeepaliveServer({
  host: '127.0.0.1',
  port: 0, // maxPayload defaults to 1 MiB: bigger frames are refused with 1009
  keepalive: { pingIntervalMs: 30_000, pongTimeoutMs: 10_000, idleCloseMs: 300_000 },
});
wss.on('connection', (ws) =>
  ws.on('message', (data, isBinary) => {
    if (classifyMessage(data, isBinary) !== 'data') return; // heartbeats are the library's business
    ws.send(data);
  }),
);
await new Promise((resolve) => wss.once('listening', resolve));

const client = createKeepaliveClient(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
client.send('ping me back');
console.log(await new Promise((resolve) => client.on('message', ({ data }) => resolve(String(data))))); // ping me back
console.log(heartbeat.stats()); // { tracked: 1, pingsSent, heartbeatsAnswered, deadPeers: 0, idleClosed: 0, ... }
await client.close();
heartbeat.close();
wss.close();
