import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { createKeepaliveClient, keepAlive, resumable } from '@keepalive/websocket-transport';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await new Promise((resolve) => wss.once('listening', resolve));
// Each session belongs to the user whose upgrade request made it (a cookie or a token in a real application).
const owners = new Map<string, string>();
const userOf = (url: string | undefined): string => new URL(url ?? '/', 'http://x').searchParams.get('user') ?? '';
const heartbeat = keepAlive(wss, {
  resume: {
    admit: ({ kind, session, context }) => {
      const user = userOf(context.request.url);
      if (kind === 'new') return user !== '';
      return session !== null && owners.get(session.id) === user ? true : { code: 4403, reason: 'not your session' };
    },
  },
});
heartbeat.sessions.on('session', ({ session, resumed, context }) => {
  if (!resumed) owners.set(session.id, userOf(context.request.url));
});
heartbeat.sessions.on('refused', ({ reason, code }) => console.log(`refused: ${reason} (${String(code)})`));

const client = createKeepaliveClient(`ws://127.0.0.1:${String((wss.address() as AddressInfo).port)}/?user=alice`, { resume: resumable() });
const session = await new Promise((resolve) => client.once('session', resolve));
console.log(session); // { status: 'new', retransmitted: 0 }
await client.close();
heartbeat.close();
wss.close();
