import { PeerTracker, classifyMessage, createSessionHub } from '@keepalive/websocket-transport/peer';
const tracker = new PeerTracker({ pingIntervalMs: 30_000, pongTimeoutMs: 10_000 });
const hub = createSessionHub({ sessionTtlMs: 60_000 });
