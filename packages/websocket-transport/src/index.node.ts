/**
 * @keepalive/websocket-transport on Node (the `node` export condition):
 * everything of the runtime-neutral entry, the `ws` server (`keepAlive(wss)`,
 * `createKeepaliveServer`), and a client whose default socket for a URL
 * target is `ws`'s (Node 20 has no global WebSocket). Needs the `ws` package.
 *
 * @module @keepalive/websocket-transport
 */
import { WebSocket } from 'ws';
import { createClientWithDefaultSocket } from './client.js';

export * from './index.js';
export * from './server.js';

/**
 * Creates the reconnecting, keep-alive WebSocket client (see the
 * runtime-neutral `createKeepaliveClient`), with `ws` as the default socket
 * for URL targets.
 */
export const createKeepaliveClient = createClientWithDefaultSocket(WebSocket);
