/**
 * @keepalive/websocket-transport: keep a WebSocket connection alive at both
 * ends. The client keeps its connection alive while work is in flight,
 * notices a dead peer and reconnects with backoff; the server pings every
 * connection on one shared scheduler and closes dead, idle or abusive peers.
 *
 * @packageDocumentation
 */
export * from './client.js';
export * from './heartbeat.js';
export * from './peer-tracker.js';
export * from './server.js';
export * from './socket-keepalive.js';
