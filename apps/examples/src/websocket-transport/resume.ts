import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { createKeepaliveClient, keepAlive, resumable } from '@keepalive/websocket-transport';

// The server: sessions that outlive their connections (B14).
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await new Promise((resolve) => wss.once('listening', resolve));
const heartbeat = keepAlive(wss, { resume: { sessionTtlMs: 60_000 } });
heartbeat.sessions.on('session', ({ session, resumed, restored }) => {
  if (resumed && !restored) return; // the same object as before: its listeners are in place
  session.on('message', (message) => session.send(`echo ${String(message)}`));
  session.on('expired', ({ unacked }) => console.warn(`${unacked.length} messages never acknowledged`));
});

// The client: every message kept until the server acknowledges it, sent again after a reconnect.
const client = createKeepaliveClient(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { resume: resumable() });
client.on('session', ({ status, retransmitted }) => console.log(`session ${status}, ${retransmitted} sent again`));
client.on('forgotten', ({ messages }) => console.warn(`the server lost our session: ${messages.length} may not have arrived`));
const echoes: string[] = [];
const done = new Promise<void>((resolve) =>
  client.on('message', ({ data }) => {
    echoes.push(String(data));
    if (echoes.length === 2) resolve();
  }),
);
client.send('kept until the server acknowledges it');
client.send('and this one, in order');
await done;
console.log(echoes); // [ 'echo kept until the server acknowledges it', 'echo and this one, in order' ]
await client.close();
heartbeat.close();
wss.close();
