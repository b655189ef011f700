import { checkBoolean, checkDuration, checkOptionalDuration, checkOptions, type OptionSchema } from './errors.js';

/**
 * Options of a session-activity machine. Every field is optional; the
 * defaults are the reference module's (spec B1).
 */
export interface SessionOptions {
  /** Time between heartbeat ticks while busy and attached (S4, S5). Default 30 000 ms. */
  readonly heartbeatIntervalMs?: number | undefined;
  /** Delay after the last activity stops before the `idle` diagnostic (S6). Default 30 000 ms. */
  readonly idleDelayMs?: number | undefined;
  /**
   * Whether heartbeat ticks and `signal` events send keep-alives (S5, S7).
   * Diagnostics fire either way. Events may override it per tick with their
   * own `sendKeepalives` field. Default `true`.
   */
  readonly sendKeepalives?: boolean | undefined;
  /** Keep the heartbeat running while idle, like gRPC's `keepalive_permit_without_calls` (B7). Default `false`. */
  readonly permitWithoutActivity?: boolean | undefined;
  /**
   * How long to wait for proof of life after a keep-alive before the peer is
   * declared dead and the transport closed (B5). `null` turns liveness off. Default `null`.
   */
  readonly pongTimeoutMs?: number | null | undefined;
  /** Warn once per activity that stays in flight longer than this. `null` (default) turns it off. */
  readonly stuckActivityMs?: number | null | undefined;
  /**
   * A timer handled more than this after its deadline is late (B15: a busy loop, a throttled browser tab, a
   * suspended laptop): reported as `heartbeat_late`, and a late liveness deadline gives the peer a fresh
   * `pongTimeoutMs` from the moment the lateness is seen instead of declaring it dead. Default 1 000 ms.
   */
  readonly lateTimerMs?: number | undefined;
}

/**
 * Validated, frozen session options with every default filled in. One config
 * can be shared by any number of sessions (it is referenced, not copied).
 */
export interface SessionConfig {
  readonly heartbeatIntervalMs: number;
  readonly idleDelayMs: number;
  readonly sendKeepalives: boolean;
  readonly permitWithoutActivity: boolean;
  readonly pongTimeoutMs: number | null;
  readonly stuckActivityMs: number | null;
  readonly lateTimerMs: number;
}

/**
 * The reference defaults (spec S5, S6, B1).
 */
export const SESSION_DEFAULTS: SessionConfig = /* @__PURE__ */ Object.freeze({
  heartbeatIntervalMs: 30_000,
  idleDelayMs: 30_000,
  sendKeepalives: true,
  permitWithoutActivity: false,
  pongTimeoutMs: null,
  stuckActivityMs: null,
  lateTimerMs: 1_000,
});

const SESSION_OPTION_KEYS: readonly string[] = /* @__PURE__ */ Object.freeze(/* @__PURE__ */ Object.keys(SESSION_DEFAULTS));

/** The session's options table (B1): each option's default and check. */
export const SESSION_SCHEMA: OptionSchema<SessionConfig> = /* @__PURE__ */ Object.freeze({
  heartbeatIntervalMs: [SESSION_DEFAULTS.heartbeatIntervalMs, checkDuration],
  idleDelayMs: [SESSION_DEFAULTS.idleDelayMs, checkDuration],
  sendKeepalives: [SESSION_DEFAULTS.sendKeepalives, checkBoolean],
  permitWithoutActivity: [SESSION_DEFAULTS.permitWithoutActivity, checkBoolean],
  pongTimeoutMs: [SESSION_DEFAULTS.pongTimeoutMs, checkOptionalDuration],
  stuckActivityMs: [SESSION_DEFAULTS.stuckActivityMs, checkOptionalDuration],
  lateTimerMs: [SESSION_DEFAULTS.lateTimerMs, checkDuration],
});

/**
 * Validates session options once and returns a frozen config (spec B1).
 * Throws {@link KeepaliveOptionError} naming the option and the value for a
 * non-finite, negative, zero or absurd duration, a non-boolean flag, or an
 * unknown option name.
 *
 * @example
 * ```ts
 * import { createSessionState, defineSessionConfig, KeepaliveOptionError } from '@keepalive/core';
 *
 * // Validate once, share the frozen config across many sessions.
 * const config = defineSessionConfig({ idleDelayMs: 60_000 });
 * const sessions = Array.from({ length: 3 }, () => createSessionState(config, 0));
 * console.log(sessions.length, config.idleDelayMs); // 3 60000
 *
 * try {
 *   defineSessionConfig({ heartbeatIntervalMs: 0 });
 * } catch (error) {
 *   if (!(error instanceof KeepaliveOptionError)) throw error;
 *   console.log(error.message); // Invalid option heartbeatIntervalMs: 0 (...)
 * }
 * ```
 */
export function defineSessionConfig(options: SessionOptions | SessionConfig = {}): SessionConfig {
  const given: unknown = options;
  if (typeof given !== 'object' || given === null) {
    throw new RangeError(`Invalid session options: expected an object, got ${given === null ? 'null' : typeof given}`);
  }
  const config = checkOptions(options, SESSION_SCHEMA, 'session');
  // A frozen, complete, valid config is reused by reference so that many
  // sessions share one object (memory per idle session stays small).
  if (Object.isFrozen(options) && SESSION_OPTION_KEYS.every((key) => Object.hasOwn(options, key))) {
    return options as SessionConfig;
  }
  return Object.freeze(config);
}
