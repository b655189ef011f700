import { KeepaliveOptionError, checkOptionalDuration, checkOptions, nestedOptions, type OptionSchema } from './errors.js';
import { idleReadLayer } from './idle-read.js';
import { connect } from './kernel.js';
import { KERNEL_DEFAULTS, KERNEL_SCHEMA, kernelConfig, type KernelConfig, type KernelOptions, type KernelValues } from './kernel-options.js';
import type { ConnectionTransition } from './kernel-types.js';
import { RECONNECT_DEFAULTS, defineReconnectConfig, type ReconnectConfig } from './reconnect.js';
import type { Layer } from './layer.js';
import { lazyParkLayer } from './lazy-park.js';
import { lifecycleLayer } from './lifecycle.js';
import { isResumeLayer } from './resume.js';
import type { ResumeLayer } from './resume-layer.js';
import { slowDownLayer } from './slow-down.js';
import { unconfirmedLayer } from './unconfirmed.js';

/**
 * The default client connection: the kernel (`kernel.ts`) with every layer, chosen by the options. This is what
 * `createKeepaliveClient` runs on every runtime; its behaviour is pinned by the golden traces (`golden.test.ts`).
 *
 * Layers, in the order their hooks run:
 * 1. `lifecycle.ts`: the browser's network and visibility events;
 * 2. `idle-read.ts`: the idle read timeout (`idleReadTimeoutMs`, off by default);
 * 3. `slow-down.ts`: the ping-flood slow-down (B13, up to `maxHeartbeatIntervalMs`);
 * 4. `lazy-park.ts`: lazy park (`reconnect.whenIdle: 'lazy'`);
 * 5. `unconfirmed.ts`: unconfirmed-message reports and the confirming keep-alive (B14, B16);
 * 6. `resume-layer.ts`: the resumable session (`resume: resumable()`), bundled only by a program that imports it.
 */

/**
 * What the client does with a connection lost while no work is in flight and nothing is queued: `'eager'` reconnects
 * with backoff as for any loss; `'lazy'` parks (no socket, nothing armed) until work starts or a message is sent, then
 * connects at once.
 */
export type WhenIdle = 'eager' | 'lazy';

/** The reconnect options of a connection: the backoff policy (B6, B11) plus `whenIdle`. */
export interface ConnectionReconnectOptions extends NonNullable<KernelOptions['reconnect']> {
  /** See {@link WhenIdle}. Default `'eager'`. */
  readonly whenIdle?: WhenIdle | undefined;
}

/** Options of the default client connection: the kernel's and its layers'. Every field is optional. */
export interface ConnectionOptions extends Omit<KernelOptions, 'reconnect'> {
  /**
   * B5 while idle (the idle-read layer): while no heartbeat runs, an open connection that receives nothing for this
   * long is dead (`dead-peer`, the socket destroyed, a reconnect). For a transport that cannot send keep-alives
   * (Server-Sent Events) this is the idle limit. A late check is reported and given a fresh limit (B15). `null`
   * (default) turns it off.
   */
  readonly idleReadTimeoutMs?: number | null | undefined;
  /** Reconnect policy. Default: 500 ms initial, ×2, capped at 30 s, reset after 60 s up, never gives up, eager. */
  readonly reconnect?: ConnectionReconnectOptions | undefined;
  /**
   * The bound up to which a client closed for a ping flood slows its heartbeat down (B13). Default the larger of
   * 60 000 ms and `heartbeatIntervalMs`.
   */
  readonly maxHeartbeatIntervalMs?: number | undefined;
  /**
   * A resumable session with a server that speaks wire format v2 (B14, `docs/resume-protocol.md`): every message is
   * numbered and kept until the server acknowledges it, and after a reconnect both ends retransmit what the other has
   * not acknowledged. Pass {@link resumable}`()` (or `resumable(options)`): a layer, so a program without it does not
   * bundle wire format v2. Against a server that does not speak it the client falls back to plain delivery and says
   * so once. Default off (`false`).
   */
  readonly resume?: false | ResumeLayer | undefined;
}

/** Validated, frozen options of the default client connection, with every default filled in and its layers. */
export interface ConnectionConfig extends KernelConfig {
  readonly whenIdle: WhenIdle;
  readonly idleReadTimeoutMs: number | null;
  readonly maxHeartbeatIntervalMs: number;
  /** The resumable session's layer (its options in `config`), or `null` when resume is off. */
  readonly resume: ResumeLayer | null;
}

/**
 * The close reason our servers send with 1008 for a ping flood (B8, B13), followed by the server's minimum
 * (`ping_flood min_interval_ms=5000`, see `pingFloodReason`), so a client learns it in one close.
 */
export const PING_FLOOD_REASON = 'ping_flood';

/** The defaults of the default client connection, besides the session's and the reconnect policy's. */
export const CONNECTION_DEFAULTS = /* @__PURE__ */ Object.freeze(
  /* @__PURE__ */ Object.assign({}, KERNEL_DEFAULTS, {
    idleReadTimeoutMs: null,
    whenIdle: 'eager',
    minMaxHeartbeatIntervalMs: 60_000,
  } as const),
);

/** What the default connection's options table yields: the kernel's values and its layers' options. */
type ConnectionValues = Omit<KernelValues, 'reconnect'> & {
  readonly reconnect: ReconnectConfig & { readonly whenIdle: WhenIdle };
  readonly idleReadTimeoutMs: number | null;
  /** `null`: the default, derived from the heartbeat interval. */
  readonly maxHeartbeatIntervalMs: number | null;
  readonly resume: ResumeLayer | false;
};

/** The default connection's options table (B1): the kernel's, with `reconnect.whenIdle`, and its layers' options. */
const CONNECTION_SCHEMA: OptionSchema<ConnectionValues> = /* @__PURE__ */ Object.freeze(
  /* @__PURE__ */ Object.assign({}, KERNEL_SCHEMA, {
    reconnect: [/* @__PURE__ */ Object.assign({}, RECONNECT_DEFAULTS, { whenIdle: 'eager' as const }), checkReconnect] as const,
    idleReadTimeoutMs: [null, checkOptionalDuration] as const,
    maxHeartbeatIntervalMs: [null, checkOptionalDuration] as const,
    resume: [false, checkResume] as const,
  }),
);

/** The names of every option of the default client connection (the kernel's and its layers'), for drivers that pass them through. */
export const CONNECTION_OPTION_KEYS: readonly (keyof ConnectionOptions)[] = /* @__PURE__ */ Object.freeze(/* @__PURE__ */ Object.keys(CONNECTION_SCHEMA) as (keyof ConnectionOptions)[]);

/**
 * Validates the options of the default client connection once (B1) and returns a frozen config with its layers.
 * Throws {@link KeepaliveOptionError} naming the option (nested ones by path, such as `reconnect.maxDelayMs`) and the
 * value; an unknown key names the nearest known one.
 */
export function defineConnectionConfig(options: ConnectionOptions = {}): ConnectionConfig {
  const given: unknown = options;
  if (typeof given !== 'object' || given === null) throw new KeepaliveOptionError('options', given, 'an object of connection options');
  const { reconnect: group, idleReadTimeoutMs, maxHeartbeatIntervalMs: bound, resume, ...values } = checkOptions(options, CONNECTION_SCHEMA, 'connection');
  const { whenIdle, ...reconnect } = group;
  const kernel = kernelConfig({ ...values, reconnect: Object.freeze(reconnect) }, []);
  const heartbeat = kernel.session.heartbeatIntervalMs;
  const maxHeartbeatIntervalMs = bound ?? Math.max(CONNECTION_DEFAULTS.minMaxHeartbeatIntervalMs, heartbeat);
  if (maxHeartbeatIntervalMs < heartbeat) throw new KeepaliveOptionError('maxHeartbeatIntervalMs', maxHeartbeatIntervalMs, `a duration >= heartbeatIntervalMs (${heartbeat})`);
  const layers: Layer[] = [lifecycleLayer];
  if (idleReadTimeoutMs !== null) layers.push(idleReadLayer(idleReadTimeoutMs));
  layers.push(slowDownLayer(maxHeartbeatIntervalMs));
  if (whenIdle === 'lazy') layers.push(lazyParkLayer);
  layers.push(unconfirmedLayer);
  if (resume !== false) layers.push(resume);
  return Object.freeze({ ...kernel, layers: Object.freeze(layers), whenIdle, idleReadTimeoutMs, maxHeartbeatIntervalMs, resume: resume || null });
}

/** `reconnect`: the backoff policy's table, and `whenIdle`. */
function checkReconnect(option: string, value: unknown): ReconnectConfig & { readonly whenIdle: WhenIdle } {
  return nestedOptions(option, value as ConnectionReconnectOptions | undefined, (group) => {
    const { whenIdle = CONNECTION_DEFAULTS.whenIdle, ...backoff } = group;
    const mode: unknown = whenIdle;
    if (mode !== 'eager' && mode !== 'lazy') throw new KeepaliveOptionError('whenIdle', mode, "'eager' or 'lazy'");
    return { ...defineReconnectConfig(backoff), whenIdle: mode };
  });
}

function checkResume(option: string, value: unknown): ResumeLayer | false {
  if (value === false) return false;
  if (!isResumeLayer(value)) throw new KeepaliveOptionError(option, value, 'false, or resumable() or resumable(options) from @keepalive/core or @keepalive/websocket-transport');
  return value;
}

/**
 * Opens a default client connection (quinn's `connect`): validates the options (or takes a config from
 * {@link defineConnectionConfig}, or any kernel config with its layers), and returns the state in phase `connecting`
 * with its first commands: `open_socket` for attempt 0.
 *
 * @param seed - seed of the jitter generator: the driver draws it from its platform's randomness (B3).
 */
export function openConnection(options: ConnectionOptions | KernelConfig, now: number, seed: number): ConnectionTransition {
  if (!Number.isFinite(now)) throw new RangeError(`Invalid start time now: ${String(now)} (expected a finite number)`);
  return connect(isKernelConfig(options) ? options : defineConnectionConfig(options), now, seed);
}

function isKernelConfig(options: ConnectionOptions | KernelConfig): options is KernelConfig {
  return Object.isFrozen(options) && typeof (options as Partial<KernelConfig>).session === 'object' && Array.isArray((options as Partial<KernelConfig>).layers);
}
