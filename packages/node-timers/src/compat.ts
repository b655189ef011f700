/**
 * A drop-in for the reference session-activity module: the same names,
 * signatures and diagnostics, backed by one process-wide instance.
 *
 * Sending is off by default, as in the reference: the callback is called only
 * when the `KEEPALIVE_SEND_KEEPALIVES` environment variable is truthy (1, true,
 * yes, on) or `configureSessionActivity({ sendKeepalives: true })` says so. The
 * first heartbeat that ticks with sending off emits a `warn`
 * `keepalive_sending_off` that says how to turn sending on, repeated every
 * {@link SENDING_OFF_REPEAT_MS} of heartbeats while sending stays off (see
 * {@link COMPAT_DIAGNOSTICS}).
 *
 * @example
 * ```ts
 * import type { AddressInfo } from 'node:net';
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import WebSocket, { WebSocketServer } from 'ws';
 * import {
 *   configureSessionActivity,
 *   registerSessionActivityCallback,
 *   shutdownSessionActivity,
 *   startSessionActivity,
 *   stopSessionActivity,
 * } from '@keepalive/node-timers/compat';
 *
 * const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
 * await new Promise((resolve) => wss.once('listening', resolve));
 * const socket = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
 * await new Promise((resolve) => socket.once('open', resolve));
 *
 * // Sending is OFF by default (as in the reference): turn it on here, or with KEEPALIVE_SEND_KEEPALIVES=1.
 * configureSessionActivity({
 *   sendKeepalives: true,
 *   heartbeatIntervalMs: 100,
 *   idleAfterMs: 200,
 *   log: (level, event, data) => console.log(level, event, data), // e.g. logger[level]({ event, ...data })
 * });
 * let sent = 0;
 * registerSessionActivityCallback(() => {
 *   sent++;
 *   socket.ping();
 * });
 * startSessionActivity('api_call');
 * await sleep(350); // the work: session_keepalive_heartbeat {refcount: 1} every 100 ms
 * stopSessionActivity('api_call');
 * await sleep(250); // session_idle_30s {} after idleAfterMs
 * console.log(`keep-alives sent: ${sent}`); // 3
 * shutdownSessionActivity(); // session_activity_at_shutdown {refcount: 0, active: {}, oldest_activity_ms: null}
 * socket.close();
 * wss.close();
 * ```
 *
 * @module @keepalive/node-timers/compat
 */
import { SESSION_DIAGNOSTICS, type DiagnosticFields, type DiagnosticLevel } from '@keepalive/core';
import { createSessionActivity, type SessionActivity } from './activity.js';

/**
 * Why a session is busy. The reference reasons are `api_call` and
 * `tool_exec`; any string works.
 */
export type SessionActivityReason = 'api_call' | 'tool_exec' | (string & {});

/**
 * The reference logger signature: `(level, event, data)`.
 */
export type SessionActivityLog = (level: DiagnosticLevel, event: string, data: Record<string, unknown>) => void;

/**
 * What {@link configureSessionActivity} accepts.
 */
export interface SessionActivityConfig {
  /** Where the reference diagnostics go. Default: silent. */
  readonly log?: SessionActivityLog | undefined;
  /** Gate for sending; default: the `KEEPALIVE_SEND_KEEPALIVES` environment variable (off unless truthy), read at each tick and signal. */
  readonly sendKeepalives?: boolean | (() => boolean) | undefined;
  /** Default 30 000 ms. */
  readonly heartbeatIntervalMs?: number | undefined;
  /** Default 30 000 ms. */
  readonly idleAfterMs?: number | undefined;
}

/**
 * The reference diagnostic names, mapped from the core's.
 */
export const REFERENCE_DIAGNOSTICS = Object.freeze({
  heartbeat: 'session_keepalive_heartbeat',
  idle: 'session_idle_30s',
  shutdown: 'session_activity_at_shutdown',
});

const TRUTHY = new Set(['1', 'true', 'yes', 'on']);

/**
 * The reference gate: `KEEPALIVE_SEND_KEEPALIVES` is truthy (1, true, yes, on; any case).
 */
export function sendKeepalivesFromEnv(): boolean {
  return TRUTHY.has((process.env.KEEPALIVE_SEND_KEEPALIVES ?? '').trim().toLowerCase());
}

/**
 * The drop-in's own diagnostic (not in the reference): `warn` `keepalive_sending_off` `{gate, fix, heartbeats}`, the
 * first time a heartbeat ticks while the gate says no, then again after every {@link SENDING_OFF_REPEAT_MS} of
 * heartbeats while it still says no: the session is busy and attached, the heartbeat diagnostics go on, but nothing
 * is sent. `gate` names what turned it off: `env` (the `KEEPALIVE_SEND_KEEPALIVES` variable, the default) or
 * `option` (`sendKeepalives`); `fix` says how to turn sending on (see {@link sendingOffFix}); `heartbeats` counts the
 * heartbeats that sent nothing so far. Without a `log`, it is a process warning (`process.emitWarning`, code
 * `KEEPALIVE_SENDING_OFF`) with the same text, at the same rate.
 */
export const COMPAT_DIAGNOSTICS = Object.freeze({ sendingOff: 'keepalive_sending_off' });

/**
 * How often `keepalive_sending_off` is said again while heartbeats tick with sending off: every 10 minutes of
 * heartbeats (every 20 at the default 30 s interval), so it is never said once and then forgotten, and never floods.
 */
export const SENDING_OFF_REPEAT_MS = 600_000;

/** How to turn sending on, by what turned it off: the `fix` of `keepalive_sending_off`, and its process warning's text. */
export function sendingOffFix(gate: 'env' | 'option'): string {
  return gate === 'env'
    ? 'set KEEPALIVE_SEND_KEEPALIVES=1 in the environment, or call configureSessionActivity({ sendKeepalives: true })'
    : 'configureSessionActivity({ sendKeepalives }) says no: pass sendKeepalives: true (or a function that returns true)';
}

let config: SessionActivityConfig = {};
let instance: SessionActivity | null = null;
let callback: (() => void) | null = null;
// Bumped when an instance is replaced, so the retired one stays silent.
let generation = 0;

/** Maps a core diagnostic to the reference one (exact names and fields); other diagnostics pass through. */
function toReference(event: string, fields: DiagnosticFields): [string, Record<string, unknown>] {
  switch (event) {
    case SESSION_DIAGNOSTICS.heartbeat:
      return [REFERENCE_DIAGNOSTICS.heartbeat, { refcount: fields.total }];
    case SESSION_DIAGNOSTICS.idle:
      return [REFERENCE_DIAGNOSTICS.idle, {}];
    case SESSION_DIAGNOSTICS.activityAtShutdown:
      return [
        REFERENCE_DIAGNOSTICS.shutdown,
        { refcount: fields.total, active: { ...(fields.active as Record<string, number>) }, oldest_activity_ms: fields.oldest_activity_ms },
      ];
    default:
      return [event, { ...fields }];
  }
}

function current(): SessionActivity {
  if (instance !== null) return instance;
  const log = config.log;
  const mine = generation + 1;
  const given = config.sendKeepalives;
  const gate = given ?? sendKeepalivesFromEnv;
  // What the gate said last: the activity reads it for a tick just before the core reports the heartbeat.
  let lastGate = typeof gate === 'boolean' ? gate : true;
  const interval = config.heartbeatIntervalMs ?? 30_000;
  /** Heartbeats that sent nothing, and how many of them since the last warning (a clock-free measure of its rate). */
  let silentBeats = 0;
  let sinceWarning = 0;
  const created = createSessionActivity({
    heartbeatIntervalMs: config.heartbeatIntervalMs ?? 30_000,
    idleDelayMs: config.idleAfterMs ?? 30_000,
    sendKeepalives:
      typeof gate === 'boolean'
        ? gate
        : () => {
            lastGate = gate();
            return lastGate;
          },
    reportOnExit: true,
    logger: (level, event, fields) => {
      if (mine !== generation) return;
      if (event === SESSION_DIAGNOSTICS.heartbeat && !lastGate) {
        silentBeats++;
        // The first silent heartbeat warns, then one per SENDING_OFF_REPEAT_MS of them.
        if (silentBeats === 1 || ++sinceWarning * interval >= SENDING_OFF_REPEAT_MS) {
          sinceWarning = 0;
          const why = given === undefined ? 'env' : 'option';
          const fix = sendingOffFix(why);
          if (log !== undefined) log('warn', COMPAT_DIAGNOSTICS.sendingOff, { gate: why, fix, heartbeats: silentBeats });
          else process.emitWarning(`keepalive: ${String(silentBeats)} heartbeat(s) ticked but sent nothing: sending is off. To send keep-alives, ${fix}`, { code: 'KEEPALIVE_SENDING_OFF' });
        }
      }
      if (log === undefined) return;
      const [name, data] = toReference(event, fields);
      log(level, name, data);
    },
  });
  generation = mine;
  instance = created;
  if (callback !== null) created.attach(callback);
  return created;
}

/**
 * Configures the process-wide instance. Activities in flight and the
 * registered callback carry over to the new configuration.
 */
export function configureSessionActivity(options: SessionActivityConfig = {}): void {
  const previous = instance;
  const previousConfig = config;
  config = { ...options };
  instance = null;
  let next: SessionActivity;
  try {
    next = current();
  } catch (error) {
    // A bad configuration changes nothing.
    config = previousConfig;
    instance = previous;
    throw error;
  }
  if (previous === null) return;
  for (const activity of previous.state.activities) next.start(activity.reason);
  // The retired instance's logger is silenced by the generation bump.
  previous.shutdown();
}

/**
 * Registers the keep-alive callback, replacing any other (S3). Registering
 * while busy (a reconnect mid-stream) restarts the heartbeat (S4).
 */
export function registerSessionActivityCallback(cb: () => void): void {
  callback = cb;
  current().attach(cb);
}

/**
 * Unregisters the callback: the heartbeat and the idle timer stop (S4, S6).
 */
export function unregisterSessionActivityCallback(): void {
  callback = null;
  current().detach();
}

/**
 * Calls the callback at once if sending is enabled and one is registered (S7).
 */
export function sendSessionActivitySignal(): void {
  current().signal();
}

/**
 * Whether a callback is registered (S8).
 */
export function isSessionActivityTrackingActive(): boolean {
  return current().isTrackingActive();
}

/**
 * Starts an activity of `reason` (S1).
 */
export function startSessionActivity(reason: SessionActivityReason): void {
  current().start(reason);
}

/**
 * Stops an activity of `reason` (S1, S2).
 */
export function stopSessionActivity(reason: SessionActivityReason): void {
  current().stop(reason);
}

/**
 * Emits `session_activity_at_shutdown` once and stops every timer. A later
 * call to any function here starts a fresh instance.
 */
export function shutdownSessionActivity(): void {
  if (instance === null) return;
  const previous = instance;
  instance = null;
  previous.shutdown();
}
