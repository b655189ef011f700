/**
 * @keepalive/bun: run keepalive on Bun. Session activity on Bun's clock and
 * one shared, unref'd Bun timer; server-side keep-alive for `Bun.serve`
 * WebSockets driven by the core's peer machine; a client helper for Bun's
 * WebSocket. Bun's types are small local interfaces: no `bun-types` needed.
 *
 * @example
 * ```ts
 * import { connectWithKeepalive, createSessionActivity, withKeepalive } from '@keepalive/bun';
 * Bun.serve({
 *   fetch: (request, server) => (server.upgrade(request) ? undefined : new Response('upgrade required', { status: 426 })),
 *   websocket: withKeepalive({ message: (ws, message) => ws.send(String(message)) }),
 * });
 * // Resumable sessions (B14): pass the URL on, read messages from the sessions.
 * const websocket = withKeepalive({ message: () => undefined }, { resume: true });
 * websocket.keepalive.sessions.on('session', ({ session }) => session.on('message', (message) => session.send(message)));
 * Bun.serve({ fetch: (request, server) => (server.upgrade(request, { data: { url: request.url } }) ? undefined : new Response(null, { status: 426 })), websocket });
 * const activity = createSessionActivity({ heartbeatIntervalMs: 15_000 });
 * connectWithKeepalive('ws://127.0.0.1:3000', activity);
 * ```
 *
 * @packageDocumentation
 */
export { createSessionActivity } from './activity.js';
export {
  bunGlobal,
  bunPlatform,
  createScheduler,
  defaultScheduler,
  type BunLike,
  type BunSchedulerOptions,
  type BunTimerLike,
} from './platform.js';
export {
  BUN_SERVER_DIAGNOSTICS,
  withKeepalive,
  type BunKeepaliveOptions,
  type BunMessage,
  type BunServerKeepalive,
  type BunServerWebSocketLike,
  type BunSessionContext,
  type BunWebSocketHandlerLike,
  type KeepaliveWebSocketHandler,
  type ResumableBunServerKeepalive,
} from './server.js';
export {
  connectWithKeepalive,
  keepaliveSocket,
  type BunSocketEventLike,
  type BunWebSocketConstructor,
  type BunWebSocketLike,
  type ConnectWithKeepaliveOptions,
  type KeepaliveSocketOptions,
} from './client.js';
export {
  ADAPTER_DIAGNOSTICS,
  type ActivitySnapshot,
  type KeepaliveSender,
  type Platform,
  type ScheduledEntry,
  type Scheduler,
  type SessionActivity,
  type SessionActivityOptions,
  type ShutdownReport,
  type TimerHandle,
} from '@keepalive/node-timers';
export {
  HEARTBEAT_MESSAGE,
  PeerTracker,
  RESUME_CLOSE_CODES,
  ReplayFullError,
  SESSION_HUB_DEFAULTS,
  SESSION_HUB_DIAGNOSTICS,
  SessionEndedError,
  SessionHub,
  classifyMessage,
  createSessionHub,
  isHeartbeatMessage,
  type HeartbeatKind,
  type MessagePayload,
  type PeerTrackerOptions,
  type ResumableSession,
  type ResumableSessionEvents,
  type ResumeConnection,
  type ResumeFrame,
  type ResumeFrameKind,
  type ResumeSocket,
  type ServerResumeOptions,
  type SessionCloseEvent,
  type SessionEvent,
  type SessionExpiredEvent,
  type SessionHubEvents,
  type SessionHubOptions,
  type SessionHubStats,
  type SessionMessage,
  type SessionSendResult,
  type TrackedPeer,
  type TrackedSocket,
  type TrackerStats,
} from '@keepalive/websocket-transport/peer';
export {
  CLIENT_DEFAULTS,
  CLIENT_DIAGNOSTICS,
  ClientClosedError,
  QueueFullError,
  createKeepaliveClient,
  type ClientCloseEvent,
  type ClientClosedEvent,
  type ClientMessageEvent,
  type ClientOpenEvent,
  type ClientReconnectingEvent,
  type ClientRejectedEvent,
  type ClientSlowedEvent,
  type ClientTarget,
  type KeepaliveClient,
  type KeepaliveClientEvents,
  type KeepaliveClientOptions,
  type KeepaliveClientState,
} from '@keepalive/websocket-transport';
