/**
 * @keepalive/deno: run keepalive on Deno. Session activity on Deno's
 * monotonic clock and one shared timer unref'd with `Deno.unrefTimer`;
 * server-side keep-alive for `Deno.upgradeWebSocket` with application-level
 * heartbeats (Deno's sockets cannot send protocol pings); a client helper for
 * Deno's WebSocket. Deno's types are small local interfaces.
 *
 * @example
 * ```ts
 * import { connectWithKeepalive, createKeepaliveTracker, createSessionActivity, upgradeWithKeepalive } from '@keepalive/deno';
 *
 * const tracker = createKeepaliveTracker({ pingIntervalMs: 500, pongTimeoutMs: 250, minPingIntervalMs: 100 });
 * const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, (request) => {
 *   const { socket, response } = upgradeWithKeepalive(request, { tracker });
 *   socket.addEventListener('message', (event) => {
 *     if (event.data !== '') socket.send(`echo: ${event.data}`); // '' is the heartbeat
 *   });
 *   return response;
 * });
 *
 * const activity = createSessionActivity({ heartbeatIntervalMs: 200, pongTimeoutMs: 500, logger: console });
 * const socket = connectWithKeepalive(`ws://127.0.0.1:${server.addr.port}`, activity);
 * await new Promise((resolve) => socket.addEventListener('open', resolve));
 *
 * await activity.run('api_call', () => new Promise((resolve) => setTimeout(resolve, 1_000))); // keep-alives flow
 * console.log(activity.shutdown()); // { total: 0, active: {}, oldestActivityMs: null, keepalivesSent: 4 }
 * console.log(tracker.stats()); // { tracked: 1, pingsSent: 2, heartbeatsAnswered: 4, deadPeers: 0, ... }
 * socket.close();
 * await server.shutdown();
 * ```
 *
 * @packageDocumentation
 */
export { createSessionActivity } from './activity.ts';
export { createScheduler, defaultScheduler, denoGlobal, denoPlatform, type DenoSchedulerOptions } from './platform.ts';
export type { DenoLike, DenoSocketEventLike, DenoUpgradeOptions, DenoWebSocketLike } from './deno-like.ts';
export { createKeepaliveTracker, upgradeWithKeepalive, type DenoSessionContext, type KeepaliveUpgrade, type UpgradeWithKeepaliveOptions } from './server.ts';
export {
  connectWithKeepalive,
  keepaliveSocket,
  type ConnectWithKeepaliveOptions,
  type DenoWebSocketConstructor,
  type KeepaliveSocketOptions,
} from './client.ts';
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
