import diagnosticsChannel from 'node:diagnostics_channel';
import type { Diagnostic, DiagnosticFields, DiagnosticLevel } from '@keepalive/core';

/**
 * A plain logging function: `(level, event, fields)`, the reference module's
 * signature.
 *
 * @example
 * ```ts
 * const log: LogFunction = (level, event, fields) => console.log(level, event, fields);
 * ```
 */
export type LogFunction = (level: DiagnosticLevel, event: string, fields: DiagnosticFields) => void;

/**
 * A console-style logger: `logger.info(event, fields)`.
 *
 * @example
 * ```ts
 * const logger: ConsoleLikeLogger = console;
 * ```
 */
export interface ConsoleLikeLogger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
}

/**
 * A pino-style logger: `logger.info({ event, ...fields }, event)`. Recognised
 * by its `child` function and string `level`.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const logger: PinoLikeLogger = pino();
 * ```
 */
export interface PinoLikeLogger extends ConsoleLikeLogger {
  child(bindings: Record<string, unknown>): unknown;
  level: string;
}

/**
 * Anything diagnostics can go to. Default: nothing (silent).
 *
 * @example
 * ```ts
 * createSessionActivity({ logger: console });
 * createSessionActivity({ logger: (level, event, fields) => metrics.count(event) });
 * ```
 */
export type Logger = LogFunction | ConsoleLikeLogger | PinoLikeLogger;

/**
 * The `node:diagnostics_channel` channel every diagnostic is published on,
 * whatever the logger: `{ session, level, name, fields }`.
 *
 * @example
 * ```ts
 * import diagnosticsChannel from 'node:diagnostics_channel';
 * import { DIAGNOSTICS_CHANNEL } from '@keepalive/node-timers';
 * diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNEL, (message) => console.log(message));
 * ```
 */
export const DIAGNOSTICS_CHANNEL = 'keepalive:diagnostics';

/**
 * What is published on {@link DIAGNOSTICS_CHANNEL}.
 *
 * @example
 * ```ts
 * diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNEL, (message) => {
 *   const { name, fields } = message as DiagnosticMessage;
 * });
 * ```
 */
export interface DiagnosticMessage {
  /** The instance's numeric id (process-unique, not personal). */
  readonly session: number;
  readonly level: DiagnosticLevel;
  readonly name: string;
  readonly fields: DiagnosticFields;
}

const channel = diagnosticsChannel.channel(DIAGNOSTICS_CHANNEL);

function isPinoLike(logger: ConsoleLikeLogger): logger is PinoLikeLogger {
  const candidate = logger as Partial<PinoLikeLogger>;
  return typeof candidate.child === 'function' && typeof candidate.level === 'string';
}

/** Turns any supported logger into one function; `undefined` is silent. */
export function toLogFunction(logger: Logger | undefined): LogFunction | null {
  if (logger === undefined) return null;
  if (typeof logger === 'function') return logger;
  const given: unknown = logger;
  if (typeof given !== 'object' || given === null) {
    throw new TypeError(`Invalid option logger: ${typeof given === 'object' ? 'null' : typeof given} (expected a function or a console-style or pino-style logger)`);
  }
  for (const level of ['debug', 'info', 'warn'] as const) {
    if (typeof logger[level] !== 'function') {
      throw new TypeError(`Invalid option logger: it has no ${level}() method (expected a function or a console-style or pino-style logger)`);
    }
  }
  if (isPinoLike(logger)) return (level, event, fields) => { logger[level]({ event, ...fields }, event); };
  return (level, event, fields) => { logger[level](event, fields); };
}

/** Publishes a diagnostic on the channel when anyone listens. */
export function publish(session: number, diagnostic: Diagnostic): void {
  if (!channel.hasSubscribers) return;
  const message: DiagnosticMessage = { session, level: diagnostic.level, name: diagnostic.name, fields: diagnostic.fields };
  channel.publish(message);
}
