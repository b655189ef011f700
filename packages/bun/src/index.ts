/**
 * @keepalive/bun: run keepalive on Bun. Session activity on Bun's clock and
 * one shared, unref'd Bun timer; server-side keep-alive for `Bun.serve`
 * WebSockets driven by the core's peer machine; a client helper for Bun's
 * WebSocket. Bun's types are small local interfaces: no `bun-types` needed.
 *
 * @example
 * ```ts
 * import { connectWithKeepalive, createSessionActivity, withKeepalive } from '@keepalive/bun';
 *
 * const websocket = withKeepalive(
 *   { message: (ws, message) => ws.send(`echo: ${message}`) },
 *   { pingIntervalMs: 500, pongTimeoutMs: 250, minPingIntervalMs: 100 },
 * );
 * const server = Bun.serve({
 *   hostname: '127.0.0.1',
 *   port: 0,
 *   fetch: (request, srv) => (srv.upgrade(request) ? undefined : new Response('upgrade required', { status: 426 })),
 *   websocket,
 * });
 *
 * const activity = createSessionActivity({ heartbeatIntervalMs: 200, pongTimeoutMs: 500, logger: console });
 * const socket = connectWithKeepalive(`ws://127.0.0.1:${server.port}`, activity);
 * await new Promise((resolve) => socket.addEventListener('open', resolve));
 *
 * await activity.run('api_call', () => new Promise((resolve) => setTimeout(resolve, 1_000))); // keep-alives flow
 * console.log(activity.shutdown()); // { total: 0, active: {}, oldestActivityMs: null, keepalivesSent: 4 }
 * console.log(websocket.keepalive.stats()); // { tracked: 1, pingsSent: 2, deadPeers: 0, ... }
 * socket.close();
 * server.stop();
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
  LEGACY_REFUSAL_REASON,
  PeerTracker,
  RESUME_CLOSE_CODES,
  RESUME_CLOSE_REASONS,
  ReplayFullError,
  SESSION_HUB_DEFAULTS,
  SESSION_HUB_DIAGNOSTICS,
  SessionEndedError,
  SessionHub,
  classifyMessage,
  createSessionHub,
  isHeartbeatMessage,
  isHeartbeatText,
  type AdmissionQuery,
  type AdmissionVerdict,
  type HeartbeatKind,
  type MessagePayload,
  type PeerTrackerOptions,
  type RefusedEvent,
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
  BufferOverflowError,
  CLIENT_DEFAULTS,
  CLIENT_DIAGNOSTICS,
  ClientClosedError,
  QueueFullError,
  createKeepaliveClient,
  resumable,
  type ResumeLayer,
  type ClientCloseEvent,
  type ClientClosedEvent,
  type ClientMessageEvent,
  type ClientMessagesOptions,
  type ClientOpenEvent,
  type ClientParkedEvent,
  type ClientReconnectingEvent,
  type ClientRejectedEvent,
  type ClientSlowedEvent,
  type ClientTarget,
  type KeepaliveClient,
  type KeepaliveClientEvents,
  type KeepaliveClientOptions,
  type KeepaliveClientState,
} from '@keepalive/websocket-transport';
