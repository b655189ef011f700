import { KeepaliveOptionError, type Diagnostic, type DiagnosticFields, type DiagnosticLevel } from '@keepalive/core';
import { sharedRuntime, type DiagnosticMessage } from './runtime.js';

/**
 * A plain logging function: `(level, event, fields)`, the reference module's
 * signature.
 */
export type LogFunction = (level: DiagnosticLevel, event: string, fields: DiagnosticFields) => void;

/**
 * A console-style logger: `logger.info(event, fields)`.
 */
export interface ConsoleLikeLogger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
}

/**
 * A pino-style logger: `logger.info({ event, ...fields }, event)`. Recognised
 * by its `child` function and string `level`.
 */
export interface PinoLikeLogger extends ConsoleLikeLogger {
  child(bindings: Record<string, unknown>): unknown;
  level: string;
}

/**
 * Anything diagnostics can go to. Default: nothing (silent).
 */
export type Logger = LogFunction | ConsoleLikeLogger | PinoLikeLogger;

/**
 * The `node:diagnostics_channel` channel every diagnostic is published on,
 * whatever the logger: `{ session, level, name, fields }`.
 *
 * @example
 * ```ts
 * import diagnosticsChannel from 'node:diagnostics_channel';
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { DIAGNOSTICS_CHANNEL, createSessionActivity } from '@keepalive/node-timers';
 *
 * // Every diagnostic of every instance in the process, whatever its logger (here none): names, counts and durations.
 * const counts = new Map<string, number>();
 * diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNEL, (message) => {
 *   const { name } = message as { name: string };
 *   counts.set(name, (counts.get(name) ?? 0) + 1);
 * });
 *
 * const activity = createSessionActivity({ heartbeatIntervalMs: 100 });
 * activity.attach(() => {}); // where the keep-alives would go
 * await activity.run('tool_exec', () => sleep(250));
 * activity.shutdown();
 * console.log(counts); // Map(2) { 'heartbeat' => 2, 'activity_at_shutdown' => 1 }: a heartbeat every 100 ms while busy
 * ```
 */
export const DIAGNOSTICS_CHANNEL = 'keepalive:diagnostics';


function isPinoLike(logger: ConsoleLikeLogger): logger is PinoLikeLogger {
  const candidate = logger as Partial<PinoLikeLogger>;
  return typeof candidate.child === 'function' && typeof candidate.level === 'string';
}

/** Turns any supported logger into one function; `undefined` is silent. Refuses anything else, naming the option. */
export function toLogFunction(logger: Logger | undefined): LogFunction | null {
  if (logger === undefined) return null;
  if (typeof logger === 'function') return logger;
  const given: unknown = logger;
  const methods = typeof given === 'object' && given !== null ? (given as Partial<ConsoleLikeLogger>) : null;
  if (methods === null || !(['debug', 'info', 'warn'] as const).every((level) => typeof methods[level] === 'function')) {
    throw new KeepaliveOptionError('logger', given, 'a function (level, event, fields), or a console-style or pino-style logger with debug(), info() and warn()');
  }
  if (isPinoLike(logger)) return (level, event, fields) => { logger[level]({ event, ...fields }, event); };
  return (level, event, fields) => { logger[level](event, fields); };
}

/**
 * How a diagnostic names an error: by its constructor's name only, never its message, which may carry personal data
 * (spec S10).
 */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/**
 * A thrown value as an `Error`, for `error` events: an `Error` as it is, anything else (a string, an object) as an
 * `Error` naming only its type (never its contents, S10), in one copy for every client.
 */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(`Non-error thrown: ${typeof error}`);
}

/** Publishes a diagnostic through the runtime's publisher (Node: the diagnostics channel) when anyone listens. */
export function publish(session: number, diagnostic: Diagnostic): void {
  const publisher = sharedRuntime().publisher;
  if (!publisher?.active()) return;
  const message: DiagnosticMessage = { session, level: diagnostic.level, name: diagnostic.name, fields: diagnostic.fields };
  publisher.publish(message);
}

/**
 * Where an adapter's diagnostics go, in one copy for every package: the
 * `keepalive:diagnostics` channel (when anyone subscribes), the logger, and
 * the `onDiagnostic` hook, in that order. A logger or hook that throws never
 * stops the caller: a failing logger is reported once as `logger_failed`
 * (its error's name only, spec S10) on the channel and to the logger.
 */
export interface DiagnosticSinkOptions {
  /** The instance's process-unique number, published with every diagnostic. */
  readonly session: number;
  /** The logger option, validated here (a function, or a console-style or pino-style logger). */
  readonly logger?: Logger | undefined;
  /** The `onDiagnostic` option, validated here. */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
}

/** Builds the function that delivers one diagnostic to every destination (see {@link DiagnosticSinkOptions}). */
export function createDiagnosticSink(options: DiagnosticSinkOptions): (diagnostic: Diagnostic) => void {
  const log = toLogFunction(options.logger);
  const hook: unknown = options.onDiagnostic;
  if (hook !== undefined && typeof hook !== 'function') throw new KeepaliveOptionError('onDiagnostic', hook, 'a function');
  const onDiagnostic = options.onDiagnostic;
  const session = options.session;
  return (diagnostic) => {
    publish(session, diagnostic);
    if (log !== null) {
      try {
        log(diagnostic.level, diagnostic.name, diagnostic.fields);
      } catch (error) {
        const failure = { error: errorName(error), event: diagnostic.name };
        publish(session, { type: 'diagnostic', level: 'warn', name: 'logger_failed', fields: failure });
        try {
          log('warn', 'logger_failed', failure);
        } catch {
          // The logger failed twice; the channel has the report.
        }
      }
    }
    if (onDiagnostic !== undefined) {
      try {
        onDiagnostic(diagnostic);
      } catch {
        // A dashboard hook must not stop the heartbeat.
      }
    }
  };
}

/**
 * Whether a debug diagnostic would reach anyone now, for the destinations of
 * {@link createDiagnosticSink}: an `onDiagnostic` hook, a logger function, a
 * console-style logger, a pino-style logger whose level is debug or trace,
 * or a subscriber to the diagnostics channel. A driver asks before each event
 * and has the core build debug diagnostics (the heartbeat tick's) only then.
 */
export function debugListener(options: DiagnosticSinkOptions): () => boolean {
  const hooked = options.onDiagnostic !== undefined;
  const logs = debugGate(options.logger);
  return () => hooked || logs() || sharedRuntime().publisher?.active() === true;
}

/** Whether a logger takes debug diagnostics: a pino-style one by its current level, any other always. */
function debugGate(logger: Logger | undefined): () => boolean {
  if (logger === undefined) return () => false;
  if (typeof logger === 'function' || !isPinoLike(logger)) return () => true;
  return () => logger.level === 'debug' || logger.level === 'trace';
}
