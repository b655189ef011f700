/**
 * @keepalive/node-timers: run the @keepalive/core machines with a monotonic
 * clock and one shared timer for every session in the process. This entry is
 * runtime-neutral (Node, Bun, Deno, browsers: no `node:` module); on Node the
 * `node` export condition adds the `keepalive:diagnostics` channel.
 *
 * @example
 * ```ts
 * import { createSessionActivity } from '@keepalive/node-timers';
 * const activity = createSessionActivity({ logger: console });
 * activity.attach(() => socket.ping());
 * await activity.run('api_call', () => streamResponse());
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
export { Emitter } from './emitter.js';
export { onProcessExit } from './exit-hooks.js';
export { createScheduler, defaultScheduler, type ScheduledEntry, type Scheduler, type SchedulerOptions, type WakeTarget } from './scheduler.js';
export { defaultPlatform, nodePlatform, type Platform, type TimerHandle } from './clock.js';
export { installDiagnosticsPublisher, nextInstanceId, type DiagnosticMessage, type DiagnosticsPublisher } from './runtime.js';
export {
  DIAGNOSTICS_CHANNEL,
  createDiagnosticSink,
  errorName,
  toError,
  type ConsoleLikeLogger,
  type DiagnosticSinkOptions,
  type LogFunction,
  type Logger,
  type PinoLikeLogger,
} from './logger.js';
