/**
 * @keepalive/node-timers: run the @keepalive/core machines with a monotonic
 * clock and one shared timer for every session in the process. This entry is
 * runtime-neutral (Node, Bun, Deno, browsers: no `node:` module); on Node the
 * `node` export condition adds the `keepalive:diagnostics` channel, and a
 * browser build's `browser` condition gives the clients a scan scheduler
 * ({@link defaultClientScheduler}).
 *
 * @example
 * ```ts
 * import type { AddressInfo } from 'node:net';
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import WebSocket, { WebSocketServer } from 'ws';
 * import { createSessionActivity } from '@keepalive/node-timers';
 *
 * // A peer to keep alive: a ws server on loopback (it answers pings by itself).
 * const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
 * await new Promise((resolve) => wss.once('listening', resolve));
 * const socket = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
 * await new Promise((resolve) => socket.once('open', resolve));
 *
 * const activity = createSessionActivity({ heartbeatIntervalMs: 100, pongTimeoutMs: 500, logger: console });
 * activity.attach({ sendKeepalive: () => socket.ping(), closeTransport: () => socket.terminate() });
 * socket.on('pong', () => activity.alive());
 * const unsubscribe = activity.subscribe((state) => console.log('in flight:', state.total)); // every change, no polling
 *
 * const release = activity.start('tool_exec'); // returns an idempotent release function
 * try {
 *   await sleep(350); // the tool runs: a keep-alive every 100 ms
 * } finally {
 *   release();
 * }
 * await activity.run('api_call', () => sleep(150)); // sync or async; released in every outcome
 * console.log(activity.snapshot().keepalivesSent); // 4 or so
 * unsubscribe();
 * console.log(activity.shutdown()); // { total: 0, active: {}, oldestActivityMs: null, keepalivesSent: 4 }, reported once
 * socket.close();
 * wss.close();
 * ```
 *
 * @module @keepalive/node-timers
 */
export {
  ADAPTER_DIAGNOSTICS,
  createSessionActivity,
  type ActivitySnapshot,
  type KeepaliveSender,
  type SessionActivity,
  type SessionActivityOptions,
  type ShutdownReport,
  type WorkActivity,
} from './activity.js';
export { StateSubscribers, createWorkActivity, runActivity, type WorkEvent, type WorkHost } from './work.js';
export { BufferOverflowError, Emitter, type EmitterIterateOptions, type EmitterListener, type EmitterListenerOptions } from './emitter.js';
export { ConnectionDriver, clientPhase, type ClientPhase, type ConnectionDriverOptions, type ConnectionTransport } from './connection-driver.js';
export { ClientShell, MESSAGES_BUFFER_DEFAULT, type ClientMessagesOptions, type ClientShellEvents, type ClientShellOptions, type TransportCommand } from './client-shell.js';
export { onProcessExit } from './exit-hooks.js';
export { ScheduledNode, createScheduler, defaultClientScheduler, defaultScheduler, type ScheduledEntry, type Scheduler, type SchedulerOptions, type WakeTarget } from './scheduler.js';
export { createScanScheduler, type ScanSchedulerOptions } from './scan-scheduler.js';
export { defaultPlatform, nodePlatform, type Platform, type TimerHandle } from './clock.js';
export { installDiagnosticsPublisher, nextInstanceId, type DiagnosticMessage, type DiagnosticsPublisher } from './runtime.js';
export {
  DIAGNOSTICS_CHANNEL,
  createDiagnosticSink,
  debugListener,
  errorName,
  toError,
  type ConsoleLikeLogger,
  type DiagnosticSinkOptions,
  type LogFunction,
  type Logger,
  type PinoLikeLogger,
} from './logger.js';
