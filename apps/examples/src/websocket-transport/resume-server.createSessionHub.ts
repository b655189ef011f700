import { createSessionHub } from '@keepalive/websocket-transport';
const hub = createSessionHub({ sessionTtlMs: 30_000, maxSessions: 1_000 });
hub.on('session', ({ session, forgotten }) => { if (forgotten) console.log('a client came back to a forgotten session'); });
