import { createKeepaliveTracker } from '@keepalive/deno';
const tracker = createKeepaliveTracker({ pingIntervalMs: 30_000, pongTimeoutMs: 10_000, idleCloseMs: 300_000 });
tracker.stats().deadPeers;
