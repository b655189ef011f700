/**
 * @keepalive/websocket-transport: keep a WebSocket connection alive at both
 * ends. This entry is runtime-neutral (browsers, Bun, Deno, Node: no `node:`
 * module, no `ws`): the reconnecting client on the global `WebSocket`, the
 * heartbeat message, the runtime-neutral peer tracker and socket helper. On
 * Node the `node` export condition adds the `ws` server (`keepAlive`,
 * `createKeepaliveServer`) and makes `ws` the client's default socket.
 *
 * @module @keepalive/websocket-transport
 */
export * from './client.js';
export * from './heartbeat.js';
export * from './peer-tracker.js';
export * from './socket-keepalive.js';
export * from './resume-server.js';
export * from './server-connection.js';
export * from './resume-store.js';
