import { SESSION_SCHEMA, defineSessionConfig, type SessionConfig, type SessionOptions } from './config.js';
import { KeepaliveOptionError, checkDuration, checkOptionalDuration, checkOptions, integerIn, nestedOptions, type OptionSchema } from './errors.js';
import type { Layer } from './layer.js';
import { RECONNECT_DEFAULTS, defineReconnectConfig, type ReconnectConfig, type ReconnectOptions } from './reconnect.js';

/**
 * The kernel's options (B1): what each means, its default and its check (one table, `KERNEL_SCHEMA`), and the frozen
 * config a kernel runs with, its layers included. The kernel itself is `kernel.ts`.
 */

/** The kernel's own options: the session's (heartbeat, liveness, ...) and the connection's. Every field is optional. */
export interface KernelOptions extends SessionOptions {
  /** Proof-of-life timeout after each keep-alive (B5); `null` turns the kill rule off. Default 10 000 ms. */
  readonly pongTimeoutMs?: number | null | undefined;
  /** An attempt that has not opened within this long is abandoned and counts as failed (B10). Default 10 000 ms. */
  readonly connectTimeoutMs?: number | undefined;
  /** How long a deliberate close waits for the close handshake before destroying the socket. Default 5 000 ms. */
  readonly closeTimeoutMs?: number | undefined;
  /** Reconnect policy (B6, B11). Default: 500 ms initial, ×2, capped at 30 s, reset after 60 s up, never gives up. */
  readonly reconnect?: ReconnectOptions | undefined;
  /** How many messages may wait in the queue while not open. Default 1 000. */
  readonly maxQueuedMessages?: number | undefined;
  /** How many bytes may wait in the queue while not open. Default 1 MiB. */
  readonly maxQueuedBytes?: number | undefined;
  /**
   * Close codes that mean "do not retry as is" (B12): such a close ends in a `rejected` event and the `closed`
   * phase. Default {@link TERMINAL_CLOSE_CODES}. A 1008 close whose reason is `ping_flood` is never terminal (B13).
   */
  readonly terminalCloseCodes?: readonly number[] | undefined;
}

/** The kernel's validated, frozen options, and the layers it runs, in order. */
export interface KernelConfig {
  readonly session: SessionConfig;
  readonly reconnect: ReconnectConfig;
  readonly connectTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly terminalCloseCodes: readonly number[];
  /** The layers, in the order their hooks run. */
  readonly layers: readonly Layer[];
}

/**
 * The close codes that end a client by default (B12): 1002 protocol error, 1003 unsupported data, 1007 invalid
 * payload, 1008 policy violation (except a ping flood), 1010 a required extension missing, and 4401 / 4403, the usual
 * application codes for "unauthorized" and "forbidden" (a server refuses a resume it cannot admit with 4403). 4001
 * (the session was resumed by another connection that proved its secret) is not terminal: this client still holds
 * the secret and comes back, backing off (B17), like 1013 (try again later).
 */
export const TERMINAL_CLOSE_CODES: readonly number[] = /* @__PURE__ */ Object.freeze([1002, 1003, 1007, 1008, 1010, 4401, 4403]);

/**
 * Close codes that say "not now" (1013 try again later, 4001 resumed elsewhere): the reconnect waits at least half
 * of the backoff's ceiling (equal jitter instead of full jitter), so a refused client backs off instead of retrying
 * at once (B17).
 */
export const BACK_OFF_CLOSE_CODES: readonly number[] = /* @__PURE__ */ Object.freeze([1013, 4001]);

/** The kernel's defaults, besides the session's ({@link SESSION_DEFAULTS}) and the reconnect policy's. */
export const KERNEL_DEFAULTS = /* @__PURE__ */ Object.freeze({
  pongTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
  maxQueuedMessages: 1_000,
  maxQueuedBytes: 1_048_576,
} as const);

/** What the kernel's options table yields: the session's options and its own. */
export type KernelValues = Omit<KernelConfig, 'session' | 'layers'> & SessionConfig;

/** The kernel's options table (B1): the session's table, with the kernel's default for `pongTimeoutMs`, and its own. */
export const KERNEL_SCHEMA: OptionSchema<KernelValues> = /* @__PURE__ */ Object.freeze(
  /* @__PURE__ */ Object.assign({}, SESSION_SCHEMA, {
    pongTimeoutMs: [KERNEL_DEFAULTS.pongTimeoutMs, checkOptionalDuration] as const,
    connectTimeoutMs: [KERNEL_DEFAULTS.connectTimeoutMs, checkDuration] as const,
    closeTimeoutMs: [KERNEL_DEFAULTS.closeTimeoutMs, checkDuration] as const,
    reconnect: [RECONNECT_DEFAULTS, (option: string, value: unknown): ReconnectConfig => nestedOptions(option, value as ReconnectOptions, defineReconnectConfig)] as const,
    maxQueuedMessages: [KERNEL_DEFAULTS.maxQueuedMessages, /* @__PURE__ */ integerIn(0, 10_000_000)] as const,
    maxQueuedBytes: [KERNEL_DEFAULTS.maxQueuedBytes, /* @__PURE__ */ integerIn(0, Number.MAX_SAFE_INTEGER)] as const,
    terminalCloseCodes: [TERMINAL_CLOSE_CODES, checkCloseCodes] as const,
  }),
);

/** The names of the kernel's options (the session's and its own). */
export const KERNEL_OPTION_KEYS: readonly string[] = /* @__PURE__ */ Object.freeze(/* @__PURE__ */ Object.keys(KERNEL_SCHEMA));

/**
 * Validates the kernel's options once (B1) and returns a frozen config that runs `layers`. Throws
 * {@link KeepaliveOptionError} naming the option (nested ones by path, such as `reconnect.maxDelayMs`) and the value;
 * an unknown key is refused (with the nearest known one).
 */
export function defineKernelConfig(options: KernelOptions = {}, layers: readonly Layer[] = []): KernelConfig {
  const given: unknown = options;
  if (typeof given !== 'object' || given === null) throw new KeepaliveOptionError('options', given, 'an object of connection options');
  return kernelConfig(checkOptions(options, KERNEL_SCHEMA, 'connection'), layers);
}

/** The kernel's config from values its table checked (a composition checks a larger table that includes it). */
export function kernelConfig(values: KernelValues, layers: readonly Layer[]): KernelConfig {
  const { reconnect, connectTimeoutMs, closeTimeoutMs, maxQueuedMessages, maxQueuedBytes, terminalCloseCodes, ...session } = values;
  return Object.freeze({
    session: defineSessionConfig(session),
    reconnect,
    connectTimeoutMs,
    closeTimeoutMs,
    maxQueuedMessages,
    maxQueuedBytes,
    terminalCloseCodes,
    layers: Object.freeze([...layers]),
  });
}

function checkCloseCodes(option: string, value: unknown): readonly number[] {
  const valid = Array.isArray(value) && value.every((code) => Number.isInteger(code) && code >= 1000 && code <= 4999);
  if (!valid) throw new KeepaliveOptionError(option, value, 'an array of close codes, integers in [1000, 4999]');
  return Object.freeze([...(value as number[])]);
}
