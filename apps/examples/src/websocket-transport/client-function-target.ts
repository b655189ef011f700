import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { createKeepaliveClient } from '@keepalive/websocket-transport';

// A server that wants a bearer token on the upgrade.
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, verifyClient: ({ req }: { req: IncomingMessage }) => req.headers.authorization?.startsWith('Bearer ') === true });
await new Promise((resolve) => wss.once('listening', resolve));
wss.on('connection', (ws) => ws.send('welcome'));
const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;

let issued = 0;
const freshToken = async (): Promise<string> => `token-${++issued}`; // your token endpoint

// Called anew for every attempt: each connection gets a fresh token.
const client = createKeepaliveClient(async () => new WebSocket(url, { headers: { authorization: `Bearer ${await freshToken()}` } }));
const first = await new Promise((resolve) => client.once('message', ({ data }) => resolve(String(data))));
console.log(first, issued); // welcome 1
await client.close();
wss.close();
