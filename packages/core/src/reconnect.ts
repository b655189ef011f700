import { NO_COMMANDS, diagnostic, type ArmTimer, type CancelTimer, type Diagnostic } from './commands.js';
import { KeepaliveOptionError, checkDuration, checkOptions, integerIn, numberIn, type OptionCheck, type OptionSchema } from './errors.js';
import { isUnitInterval, nextRandom, toSeed } from './random.js';

/**
 * Reconnect policy (spec B6): exponential backoff with full jitter, capped,
 * reset after a healthy period, with an optional attempt limit and no
 * reconnect after a deliberate close. A pure machine like the session one.
 */

/**
 * Options of the reconnect machine.
 */
export interface ReconnectOptions {
  /** Upper bound of the first delay. Default 500 ms. */
  readonly initialDelayMs?: number | undefined;
  /** The cap on any delay. Default 30 000 ms. */
  readonly maxDelayMs?: number | undefined;
  /** Growth of the upper bound per failed attempt, in [1, 100]. Default 2. */
  readonly multiplier?: number | undefined;
  /** A connection that stayed up this long resets the attempt count. Default 60 000 ms. */
  readonly resetAfterMs?: number | undefined;
  /**
   * Give up after this many consecutive attempts that failed to open (B11); a
   * connection that opened and was later lost starts a new count. `null`
   * (default) never gives up.
   */
  readonly maxAttempts?: number | null | undefined;
}

/**
 * Validated, frozen reconnect options with every default filled in.
 */
export interface ReconnectConfig {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly resetAfterMs: number;
  readonly maxAttempts: number | null;
}

/**
 * Defaults of the reconnect policy.
 */
export const RECONNECT_DEFAULTS: ReconnectConfig = /* @__PURE__ */ Object.freeze({
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  multiplier: 2,
  resetAfterMs: 60_000,
  maxAttempts: null,
});

const maxAttemptsCheck: OptionCheck<number | null> = (option, value) => (value === null ? null : integerIn(1, 1_000_000)(option, value));

/** The reconnect policy's options table (B1): each option's default and check. */
const RECONNECT_SCHEMA: OptionSchema<ReconnectConfig> = /* @__PURE__ */ Object.freeze({
  initialDelayMs: [RECONNECT_DEFAULTS.initialDelayMs, checkDuration],
  maxDelayMs: [RECONNECT_DEFAULTS.maxDelayMs, checkDuration],
  multiplier: [RECONNECT_DEFAULTS.multiplier, /* @__PURE__ */ numberIn(1, 100)],
  resetAfterMs: [RECONNECT_DEFAULTS.resetAfterMs, checkDuration],
  maxAttempts: [RECONNECT_DEFAULTS.maxAttempts, maxAttemptsCheck],
});

/**
 * Validates reconnect options once (spec B1); throws {@link KeepaliveOptionError}
 * naming the option and value.
 */
export function defineReconnectConfig(options: ReconnectOptions = {}): ReconnectConfig {
  const config = checkOptions(options, RECONNECT_SCHEMA, 'reconnect');
  if (config.maxDelayMs < config.initialDelayMs) {
    throw new KeepaliveOptionError('maxDelayMs', config.maxDelayMs, `a duration >= initialDelayMs (${config.initialDelayMs})`);
  }
  return Object.freeze(config);
}

/**
 * Where the connection is:
 * - `idle`: never asked to connect;
 * - `connecting`: a connect is under way;
 * - `connected`: the transport is open;
 * - `waiting`: lost; a reconnect is scheduled;
 * - `stopped`: closed on purpose: never reconnects;
 * - `exhausted`: `maxAttempts` consecutive attempts failed to open (B11).
 */
export type ReconnectPhase = 'idle' | 'connecting' | 'connected' | 'waiting' | 'stopped' | 'exhausted';

/**
 * The reconnect machine's state: plain, serialisable data.
 */
export interface ReconnectState {
  readonly config: ReconnectConfig;
  readonly phase: ReconnectPhase;
  /**
   * Consecutive attempts that failed to open since the last connection that
   * opened (B11): 0 while connected; what `maxAttempts` bounds.
   */
  readonly attempt: number;
  /**
   * The backoff level: the exponent of the delay ceiling. It grows with every
   * loss, including connections that opened and were lost soon after (so a
   * server that accepts and drops at once is not hammered), and falls back
   * to 1 after a connection that stayed up `resetAfterMs`.
   */
  readonly level: number;
  /** The seed of the jitter generator (see {@link nextRandom}). */
  readonly seed: number;
  /** When the current connection opened, or `null`. */
  readonly connectedAt: number | null;
  /** Deadline of the armed `reconnect` timer, or `null`. */
  readonly deadline: number | null;
}

/**
 * Events of the reconnect machine. `random`, when given, is the jitter draw
 * in [0, 1) for that disconnect; otherwise the seeded generator in the state
 * draws it. `minDelayMs`, when given, is the least delay the peer asked for
 * (an SSE stream's `retry:` field): the delay is that floor plus the jittered
 * backoff, capped at `maxDelayMs`. `notNow` says the peer refused for now
 * (a close with 1013 or 4001): the delay is then at least half the backoff's
 * ceiling (equal jitter), never an immediate retry. `reclaimed` says the
 * connection was lost while idle after it opened (B16): the backoff starts
 * afresh, as after a healthy connection.
 */
export type ReconnectEvent =
  | { readonly type: 'connect'; readonly now: number }
  | { readonly type: 'connected'; readonly now: number }
  | { readonly type: 'disconnected'; readonly now: number; readonly random?: number | undefined; readonly minDelayMs?: number | undefined; readonly notNow?: boolean | undefined; readonly reclaimed?: boolean | undefined }
  | { readonly type: 'timer'; readonly now: number }
  | { readonly type: 'stop'; readonly now: number };

/**
 * Ask the driver to open a new connection. `attempt` is 0 for the first
 * connect and counts reconnects after that.
 */
export interface ConnectCommand {
  readonly type: 'connect';
  readonly attempt: number;
}

/**
 * Commands of the reconnect machine.
 */
export type ReconnectCommand = ArmTimer<'reconnect'> | CancelTimer<'reconnect'> | ConnectCommand | Diagnostic;

/**
 * Diagnostics of the reconnect machine: info `reconnecting` `{attempt,
 * delay_ms}`, info `reconnected` `{attempts}`, warn `reconnect_exhausted`
 * `{attempts}`, warn `invalid_random` `{}` (a `random` outside [0, 1), the
 * seeded draw used instead).
 */
export const RECONNECT_DIAGNOSTICS = /* @__PURE__ */ Object.freeze({
  reconnecting: 'reconnecting',
  reconnected: 'reconnected',
  exhausted: 'reconnect_exhausted',
  invalidRandom: 'invalid_random',
} as const);

const CANCEL_RECONNECT: CancelTimer<'reconnect'> = /* @__PURE__ */ Object.freeze({ type: 'cancel', timer: 'reconnect' });

/**
 * Creates a reconnect machine in the `idle` phase.
 *
 * @param seed - seed of the jitter generator; give each connection its own
 *   (for example from `crypto.getRandomValues` in the driver).
 */
export function createReconnectState(options: ReconnectOptions | ReconnectConfig = {}, seed = 0): ReconnectState {
  return { config: defineReconnectConfig(options), phase: 'idle', attempt: 0, level: 0, seed: toSeed(seed), connectedAt: null, deadline: null };
}

/**
 * The upper bound of the delay before attempt `attempt` (1-based):
 * `min(maxDelayMs, initialDelayMs * multiplier^(attempt - 1))`.
 */
export function backoffCeiling(config: ReconnectConfig, attempt: number): number {
  const raw = config.initialDelayMs * Math.pow(config.multiplier, Math.max(0, attempt - 1));
  return Math.min(config.maxDelayMs, raw);
}

/**
 * The pure reconnect transition, `(state, event) → [next, commands]`; it
 * executes nothing. See {@link reconnectStep} for the allocation-free form.
 *
 * @example
 * ```ts
 * import { createReconnectState, reconnectTransition } from '@keepalive/core';
 * let [state, commands] = reconnectTransition(createReconnectState({}, 7), { type: 'connect', now: 0 });
 * // commands: [{ type: 'connect', attempt: 0 }]
 * ```
 */
export function reconnectTransition(
  state: ReconnectState,
  event: ReconnectEvent,
): readonly [state: ReconnectState, commands: readonly ReconnectCommand[]] {
  const out: ReconnectCommand[] = [];
  const next = reconnectStep(state, event, out);
  return [next, out.length === 0 ? NO_COMMANDS : out];
}

/**
 * Allocation-free reconnect transition: appends commands to `out` and
 * returns the next state (the same object when nothing changed).
 */
export function reconnectStep(state: ReconnectState, event: ReconnectEvent, out: ReconnectCommand[]): ReconnectState {
  switch (event.type) {
    case 'connect':
      if (state.phase !== 'idle' && state.phase !== 'stopped' && state.phase !== 'exhausted') return state;
      out.push({ type: 'connect', attempt: 0 });
      return { ...state, phase: 'connecting', attempt: 0, deadline: null };
    case 'connected':
      if (state.phase !== 'connecting') return state;
      if (state.attempt > 0) out.push(diagnostic('info', 'reconnected', { attempts: state.attempt }));
      // B11: an attempt that opened ends the count of failed attempts.
      return { ...state, phase: 'connected', attempt: 0, connectedAt: event.now };
    case 'disconnected':
      return onDisconnected(state, event.now, event.random, event.minDelayMs, event.notNow === true, event.reclaimed === true, out);
    case 'timer':
      if (state.phase !== 'waiting') return state;
      out.push({ type: 'connect', attempt: state.attempt });
      return { ...state, phase: 'connecting', deadline: null };
    case 'stop':
      if (state.phase === 'stopped') return state;
      if (state.deadline !== null) out.push(CANCEL_RECONNECT);
      return { ...state, phase: 'stopped', deadline: null, connectedAt: null };
    default:
      return state;
  }
}

function onDisconnected(
  state: ReconnectState,
  now: number,
  random: number | undefined,
  minDelayMs: number | undefined,
  notNow: boolean,
  reclaimed: boolean,
  out: ReconnectCommand[],
): ReconnectState {
  if (state.phase !== 'connected' && state.phase !== 'connecting') return state;
  const config = state.config;
  // B11: a connection that opened and was lost starts a new count of failed
  // attempts; only attempts that failed to open count towards maxAttempts.
  const opened = state.phase === 'connected';
  const attempt = opened ? 1 : state.attempt + 1;
  if (!opened && config.maxAttempts !== null && attempt > config.maxAttempts) {
    out.push(diagnostic('warn', 'reconnect_exhausted', { attempts: attempt - 1 }));
    return { ...state, phase: 'exhausted', attempt: attempt - 1, connectedAt: null, deadline: null };
  }
  // The backoff level keeps growing across short-lived connections and starts
  // afresh after one that stayed healthy for resetAfterMs, or that was lost
  // while idle (B16: a reclaim is not a failure, whatever its lifetime).
  const healthy = opened && ((state.connectedAt !== null && now - state.connectedAt >= config.resetAfterMs) || reclaimed);
  const level = healthy ? 1 : state.level + 1;
  let seed = state.seed;
  let draw: number;
  if (random !== undefined && isUnitInterval(random)) {
    draw = random;
  } else {
    if (random !== undefined) out.push(diagnostic('warn', 'invalid_random', {}));
    const next = nextRandom(seed);
    draw = next.value;
    seed = next.seed;
  }
  // Full jitter: uniform in [0, ceiling), above the peer's floor if it asked for one; never past the cap. A peer that
  // said "not now" (1013, 4001) gets equal jitter: at least half the ceiling, so the client never retries at once.
  const ceiling = backoffCeiling(config, level);
  const asked = typeof minDelayMs === 'number' && minDelayMs > 0 ? minDelayMs : 0;
  const floor = Math.min(Math.max(asked, notNow ? Math.ceil(ceiling / 2) : 0), config.maxDelayMs);
  const spread = notNow && asked === 0 ? ceiling - floor : ceiling;
  const delay = Math.min(config.maxDelayMs, floor + Math.floor(draw * spread));
  const deadline = now + delay;
  out.push(diagnostic('info', 'reconnecting', { attempt, delay_ms: delay }));
  out.push({ type: 'arm', timer: 'reconnect', deadline });
  return { config, phase: 'waiting', attempt, level, seed, connectedAt: null, deadline };
}
