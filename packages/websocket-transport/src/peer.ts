/**
 * @keepalive/websocket-transport/peer: the runtime-neutral server side on its
 * own, without `ws` or the client: the {@link ServerConnections} every server
 * adapter translates its socket events to (one {@link ServerConnection} per
 * socket), the {@link PeerTracker} that drives the core's peer machine over
 * any socket, the heartbeat-message protocol, and the {@link SessionHub} of
 * resumable sessions (spec B14, B17, wire format v2). The Bun and Deno
 * adapters build their server integrations on it.
 *
 * @example
 * ```ts
 * import { PeerTracker, classifyMessage, createSessionHub } from '@keepalive/websocket-transport/peer';
 * const tracker = new PeerTracker({ pingIntervalMs: 30_000, pongTimeoutMs: 10_000 });
 * const hub = createSessionHub({ sessionTtlMs: 60_000 });
 * ```
 *
 * @module @keepalive/websocket-transport/peer
 */
export * from './heartbeat.js';
export * from './peer-tracker.js';
export * from './socket-keepalive.js';
export * from './resume-server.js';
export * from './server-connection.js';
