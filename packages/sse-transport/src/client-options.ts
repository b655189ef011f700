import {
  KeepaliveOptionError,
  checkBoolean,
  checkInteger,
  checkKnownKeys,
  defineConnectionConfig,
  type ConnectionConfig,
} from '@keepalive/core';
import { createDiagnosticSink, defaultClientScheduler, type Scheduler } from '@keepalive/node-timers';
import { SSE_CLIENT_DEFAULTS, type SseClientHeaders, type SseClientOptions, type SseClientTarget, type SseFetch } from './client-types.js';

/**
 * Validation of the client's options (spec B1), all at construction: the
 * connection's rules by the core's `defineConnectionConfig`, the rest here.
 * A bad option throws `KeepaliveOptionError` naming it (nested ones by path)
 * and its value.
 */

/** The client's options, validated. */
export interface ResolvedSseClientOptions {
  readonly config: ConnectionConfig;
  readonly target: SseClientTarget;
  readonly fetch: SseFetch;
  readonly headers: SseClientHeaders;
  readonly requestInit: Readonly<Record<string, unknown>>;
  readonly lastEventId: string;
  readonly maxLineBytes: number;
  readonly maxEventBytes: number;
  readonly keepProcessAlive: boolean;
  readonly reportOnExit: boolean;
  readonly scheduler: Scheduler;
  readonly signal: AbortSignal | undefined;
}

/** The close codes the client reports HTTP statuses with: 4000 + status (as WebSocket's 4401 / 4403 do). */
export const HTTP_CLOSE_BASE = 4_000;

/** The close code of a response that is not `text/event-stream` (WebSocket's 1003, unsupported data): never retried. */
export const UNSUPPORTED_DATA = 1_003;

const SESSION_KEYS = ['heartbeatIntervalMs', 'idleDelayMs', 'permitWithoutActivity', 'stuckActivityMs', 'lateTimerMs', 'pongTimeoutMs'] as const;
const CONNECTION_KEYS = ['idleReadTimeoutMs', 'connectTimeoutMs', 'reconnect'] as const;
const KNOWN_KEYS: readonly string[] = Object.freeze([
  ...SESSION_KEYS,
  ...CONNECTION_KEYS,
  'logger',
  'onDiagnostic',
  'scheduler',
  'keepProcessAlive',
  'reportOnExit',
  'retryStatuses',
  'fetch',
  'headers',
  'requestInit',
  'lastEventId',
  'maxLineBytes',
  'maxEventBytes',
  'signal',
]);
const OWN_INIT_KEYS = Object.freeze(['method', 'headers', 'signal', 'body']);

/** Validates every option of `createSseClient`; throws on the first bad one. */
export function resolveSseClientOptions(target: unknown, given: SseClientOptions | undefined): ResolvedSseClientOptions {
  const raw: unknown = given;
  if (raw === null || (raw !== undefined && typeof raw !== 'object')) throw new KeepaliveOptionError('options', raw, 'an object of SSE client options');
  const options: SseClientOptions = given ?? {};
  if (Object.hasOwn(options, 'sendKeepalives')) {
    throw new KeepaliveOptionError('sendKeepalives', (options as { sendKeepalives?: unknown }).sendKeepalives, 'absent: an SSE client sends nothing (its checks are heartbeatIntervalMs and pongTimeoutMs)');
  }
  checkKnownKeys(options, KNOWN_KEYS, 'SSE client');
  const connection: Record<string, unknown> = { pongTimeoutMs: SSE_CLIENT_DEFAULTS.pongTimeoutMs };
  for (const key of [...SESSION_KEYS, ...CONNECTION_KEYS]) if (options[key] !== undefined) connection[key] = options[key];
  connection.terminalCloseCodes = terminalCodes(checkStatuses(options.retryStatuses ?? SSE_CLIENT_DEFAULTS.retryStatuses));
  const config = defineConnectionConfig(connection);
  const fetcher: unknown = options.fetch ?? (globalThis as { fetch?: unknown }).fetch;
  if (typeof fetcher !== 'function') {
    throw new KeepaliveOptionError('fetch', fetcher, options.fetch === undefined ? 'a fetch function: this runtime has no global fetch' : 'a fetch function');
  }
  const headers: unknown = options.headers ?? {};
  if (typeof headers !== 'function' && !isStringRecord(headers)) throw new KeepaliveOptionError('headers', headers, 'an object of header names to string values, or a function returning one');
  const init: unknown = options.requestInit ?? {};
  if (typeof init !== 'object' || init === null || Array.isArray(init)) throw new KeepaliveOptionError('requestInit', init, 'an object of fetch options');
  for (const key of OWN_INIT_KEYS) {
    if (Object.hasOwn(init, key)) throw new KeepaliveOptionError(`requestInit.${key}`, (init as Record<string, unknown>)[key], 'absent: the client sets it');
  }
  const lastEventId: unknown = options.lastEventId ?? '';
  if (typeof lastEventId !== 'string' || /[\0\r\n]/.test(lastEventId)) throw new KeepaliveOptionError('lastEventId', lastEventId, 'a string without NUL or line breaks');
  const hold: unknown = options.keepProcessAlive ?? false;
  if (hold !== false && hold !== 'while-busy') throw new KeepaliveOptionError('keepProcessAlive', hold, "false or 'while-busy'");
  const signal: unknown = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new KeepaliveOptionError('signal', signal, 'an AbortSignal');
  const scheduler: unknown = options.scheduler ?? defaultClientScheduler();
  if (typeof scheduler !== 'object' || scheduler === null || typeof (scheduler as Partial<Scheduler>).entry !== 'function' || typeof (scheduler as Partial<Scheduler>).now !== 'function') {
    throw new KeepaliveOptionError('scheduler', scheduler, 'a scheduler from createScheduler()');
  }
  // The logger and hook are validated by building a sink (it does nothing until called).
  createDiagnosticSink({ session: 0, logger: options.logger, onDiagnostic: options.onDiagnostic });
  return {
    config,
    target: checkTarget(target),
    fetch: fetcher as SseFetch,
    headers: headers as SseClientHeaders,
    requestInit: init as Readonly<Record<string, unknown>>,
    lastEventId,
    maxLineBytes: checkInteger('maxLineBytes', options.maxLineBytes ?? SSE_CLIENT_DEFAULTS.maxLineBytes, 1, 2 ** 31 - 1),
    maxEventBytes: checkInteger('maxEventBytes', options.maxEventBytes ?? SSE_CLIENT_DEFAULTS.maxEventBytes, 1, 2 ** 31 - 1),
    keepProcessAlive: hold === 'while-busy',
    reportOnExit: checkBoolean('reportOnExit', options.reportOnExit ?? false),
    scheduler: scheduler as Scheduler,
    signal,
  };
}

function checkStatuses(value: unknown): readonly number[] {
  const valid = Array.isArray(value) && value.every((status) => Number.isInteger(status) && status >= 100 && status <= 599 && status !== 200 && status !== 204);
  if (!valid) throw new KeepaliveOptionError('retryStatuses', value, 'an array of HTTP statuses, integers in [100, 599] other than 200 and 204');
  return value as readonly number[];
}

/** B12: every status but 200 and the retried ones ends the client; so does a stream that is not `text/event-stream`. */
function terminalCodes(retried: readonly number[]): number[] {
  const codes = [UNSUPPORTED_DATA];
  for (let status = 100; status <= 599; status++) if (status !== 200 && !retried.includes(status)) codes.push(HTTP_CLOSE_BASE + status);
  return codes;
}

function checkTarget(target: unknown): SseClientTarget {
  if (typeof target === 'function') return target as SseClientTarget;
  const expected = 'an http: or https: URL, or a function returning one (or a promise of one)';
  // The value is not echoed: URLs may carry credentials (spec S10).
  const url = parseUrl(target);
  if (url === null) throw new KeepaliveOptionError('target', typeof target === 'string' ? '<unparsable URL>' : target, expected);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new KeepaliveOptionError('target', `<${url.protocol} URL>`, expected);
  return url.href;
}

/** Parses a target (a URL or a string) into a URL, or `null`. */
export function parseUrl(target: unknown): URL | null {
  if (target instanceof URL) return target;
  return typeof target === 'string' && URL.canParse(target) ? new URL(target) : null;
}

function isStringRecord(value: unknown): value is Readonly<Record<string, string>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((item) => typeof item === 'string');
}
