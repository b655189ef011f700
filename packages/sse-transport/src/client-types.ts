import type { ConnectionCloseCause, ConnectionReconnectOptions, ShutdownReport } from '@keepalive/core';
import type { ClientMessagesOptions, EmitterListener, EmitterListenerOptions, Scheduler, SessionActivityOptions, WorkActivity } from '@keepalive/node-timers';
import type { SseInputLimit } from './input-guard.js';

/**
 * What a function target or `headers` function is told about the attempt it
 * is called for: `attempt` (0 on demand, then counting failed attempts, B11)
 * and the `lastEventId` the request will carry (`''` before any), as the id
 * itself: the header carries its UTF-8 bytes.
 */
export interface SseConnectContext {
  readonly attempt: number;
  readonly lastEventId: string;
}

/**
 * Where the client connects: an `http:` or `https:` URL, or a function called
 * anew for every attempt (it may be asynchronous, so a signed URL can be
 * refreshed, B12).
 */
export type SseClientTarget = string | URL | ((context: SseConnectContext) => string | URL | PromiseLike<string | URL>);

/**
 * The request headers: an object, or a function called for every attempt
 * (it may be asynchronous: refresh a token here). The client adds `Accept:
 * text/event-stream`, `Cache-Control: no-cache` and, once it has one,
 * `Last-Event-ID` (the id's UTF-8 bytes), over any of the same name.
 */
export type SseClientHeaders =
  | Readonly<Record<string, string>>
  | ((context: SseConnectContext) => Readonly<Record<string, string>> | PromiseLike<Readonly<Record<string, string>>>);

/**
 * What the client hands to `fetch`: `GET`, the headers, the attempt's abort
 * signal, and the `requestInit` option's other fields (spread first).
 */
export interface SseFetchInit {
  readonly method: 'GET';
  readonly headers: Record<string, string>;
  readonly signal: AbortSignal;
}

/**
 * A response body's reader, as the client uses it (the WHATWG
 * `ReadableStreamDefaultReader`).
 */
export interface SseBodyReader {
  read(): Promise<{ readonly done: boolean; readonly value?: Uint8Array | undefined }>;
  cancel(reason?: unknown): Promise<void>;
}

/**
 * A response as the client uses it (the Fetch API's `Response`).
 */
export interface SseFetchResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: { getReader(): SseBodyReader } | null;
}

/**
 * A `fetch` function: the platform's (Node ≥ 20, Bun, Deno, browsers), or
 * another one such as undici's with its own dispatcher.
 */
export type SseFetch = (url: string, init: SseFetchInit) => Promise<SseFetchResponse>;

/**
 * Options of {@link createSseClient}. The session options shape the
 * client's own activity, which says when the stream must be talking: while
 * its work is in flight (`activity.run`, `start`) the client checks the
 * stream every `heartbeatIntervalMs` and expects bytes (an event, a comment:
 * anything) within `pongTimeoutMs` of each check, so a stall is detected
 * within `heartbeatIntervalMs` + `pongTimeoutMs` (B5); while idle,
 * `idleReadTimeoutMs` is the limit. Set `pongTimeoutMs` above the server's
 * keep-alive interval plus network jitter: a server that keeps alive every
 * 30 s needs a `pongTimeoutMs` over 30 s (the default, 45 s, is 1.5 times the
 * server's default interval).
 */
export interface SseClientOptions extends Omit<SessionActivityOptions, 'sendKeepalives' | 'pongTimeoutMs'> {
  /** After each check while busy, bytes are due within this long, else the stream is stalled (B5). Default 45 000 ms; `null`: never stalled while busy. */
  readonly pongTimeoutMs?: number | null | undefined;
  /** While idle (no heartbeat), a stream that delivers nothing for this long is stalled. Default `null`: off (an idle server is quiet). */
  readonly idleReadTimeoutMs?: number | null | undefined;
  /** An attempt without a response (status and headers) within this long is abandoned (B10). Default 10 000 ms. */
  readonly connectTimeoutMs?: number | undefined;
  /** Reconnect policy (B6, B11). Default: 500 ms initial, ×2, capped at 30 s, reset after 60 s up, never gives up, eager. */
  readonly reconnect?: ConnectionReconnectOptions | undefined;
  /**
   * HTTP statuses retried with backoff; every other status but 200 ends the client (`rejected`). Default: 408, 429
   * and 500–599. 204 is never retried (the SSE standard's "stop reconnecting").
   */
  readonly retryStatuses?: readonly number[] | undefined;
  /** The `fetch` to use. Default: the global `fetch`. */
  readonly fetch?: SseFetch | undefined;
  /** Request headers (see {@link SseClientHeaders}). */
  readonly headers?: SseClientHeaders | undefined;
  /** Other fields for every request (`credentials`, `mode`, undici's `dispatcher`, ...); not `method`, `headers`, `signal` or `body`. */
  readonly requestInit?: Readonly<Record<string, unknown>> | undefined;
  /**
   * Resume after this id from the first request on (for example one kept from an earlier run). Default `''`. Any
   * string without NUL, CR or LF (an id the stream could have set, `€7` included); sent as `Last-Event-ID` like the
   * stream's ids: its UTF-8 bytes, as a browser sends them.
   */
  readonly lastEventId?: string | undefined;
  /** The longest line the client holds before it drops the stream (an endless line). Default 1 MiB. */
  readonly maxLineBytes?: number | undefined;
  /** The largest event (its field lines together) the client holds before it drops the stream. Default 8 MiB. */
  readonly maxEventBytes?: number | undefined;
  /** Aborting it closes the client for good (cause `aborted`). */
  readonly signal?: AbortSignal | undefined;
  /**
   * The scheduler the client runs on. Default: node-timers' `defaultClientScheduler()`, the process-wide one (one OS
   * timer) on Node, Bun and Deno, and one small scheduler for the page's clients in a browser build.
   */
  readonly scheduler?: Scheduler | undefined;
}

/**
 * One event from the stream: `data` (its `data:` lines joined with `\n`),
 * `event` (its type; `message` when it had none) and `lastEventId` (the last
 * `id:` the stream set, this event's or an earlier one's; `''` before any).
 */
export interface SseMessage {
  readonly data: string;
  readonly event: string;
  readonly lastEventId: string;
}

/**
 * How the client closed for good: the cause (`closed`, `aborted`,
 * `exhausted`, `rejected`), the HTTP status that rejected it (else `null`),
 * the reason, and its activity's shutdown report (S9).
 */
export interface SseClientClosedEvent {
  readonly cause: ConnectionCloseCause;
  readonly status: number | null;
  readonly reason: string;
  readonly report: ShutdownReport;
}

/**
 * The client's events and their payloads:
 *
 * - `open` `{attempt}`: a stream is open (status 200, `text/event-stream`);
 * - `message`: an event ({@link SseMessage});
 * - `comment` `{text}`: a comment line (the server's keep-alives among them);
 * - `close` `{status, reason, willReconnect}`: an open stream ended (`reason`: `end`, `network_error`,
 *   `line_too_long`, `event_too_large`, `dead_peer`, `idle_read_timeout`, ...);
 * - `reconnecting` `{attempt, delayMs}`: attempt `attempt` starts in `delayMs`;
 * - `parked` `{reason}`: lazy and idle: parked (no stream, on purpose) until work starts;
 * - `idle` `{reason}`: deprecated alias of `parked`, emitted right after it (for one minor version);
 * - `dead-peer` `{timeoutMs}`: the stream stalled; it is aborted and a reconnect follows;
 * - `rejected` `{status, reason}`: a status or response that is not retried (204, 401, 403, ...; or not
 *   `text/event-stream`: status `null`, reason `content_type`);
 * - `closed`: closed for good ({@link SseClientClosedEvent});
 * - `error`: something went wrong that the client survived (a failed fetch, input over a limit: {@link SseInputError},
 *   a listener that threw).
 */
export interface SseClientEvents {
  open: { readonly attempt: number };
  message: SseMessage;
  comment: { readonly text: string };
  close: { readonly status: number | null; readonly reason: string; readonly willReconnect: boolean };
  reconnecting: { readonly attempt: number; readonly delayMs: number };
  parked: { readonly reason: string };
  /** @deprecated The old name of `parked`, emitted right after it for one minor version: listen to `parked`. */
  idle: { readonly reason: string };
  'dead-peer': { readonly timeoutMs: number };
  rejected: { readonly status: number | null; readonly reason: string };
  closed: SseClientClosedEvent;
  error: Error;
}

/**
 * Where the client is: connecting (the first attempt, or after `reconnect()`), open, reconnecting (a backoff or a
 * later attempt), parked (lazy and idle: no stream on purpose), closing, closed. `'idle'` is the deprecated name of
 * `parked`, kept in the type for one minor version so a `case 'idle':` compiles; it is never reported any more.
 */
export type SseClientState = 'connecting' | 'open' | 'reconnecting' | 'parked' | 'idle' | 'closing' | 'closed';

/**
 * A reconnecting, stall-detecting SSE client.
 */
export interface SseClient extends AsyncDisposable {
  /** The client's activity: while its work is in flight, the stream must keep talking (B5). */
  readonly activity: WorkActivity;
  readonly state: SseClientState;
  /**
   * The last `id:` the stream set (sent as `Last-Event-ID` on every reconnect, as its UTF-8 bytes: a server reads
   * the header as Latin-1 and gets the id back with `Buffer.from(value, 'latin1').toString('utf8')`); `''` before any.
   */
  readonly lastEventId: string;
  /** Closes for good: aborts the stream, resolves with the closed event. Safe to call more than once. */
  close(): Promise<SseClientClosedEvent>;
  /** Streams lost while idle after they opened (a reclaimer's cut), since the client was created: a counter for a metric. */
  readonly idleReclaims: number;
  /**
   * Starts the client again after it closed because the server refused it (`rejected`) or its attempts ran out
   * (`exhausted`): a fresh attempt count and backoff, attempt 0 at once, its listeners kept; `close()` then returns a
   * new promise. Anywhere else it changes nothing and warns `restart_ignored`; it never throws.
   */
  reconnect(): void;
  /** Adds a listener; returns the function that removes it. A listener that throws is reported, never rethrown. */
  on<K extends keyof SseClientEvents>(event: K, listener: (payload: SseClientEvents[K]) => void): () => void;
  /** Adds a listener called at most once; returns the function that removes it (`events.once(client, 'open')` works too). */
  once<K extends keyof SseClientEvents>(event: K, listener: (payload: SseClientEvents[K]) => void): () => void;
  /** Removes a listener added with `on` or `once`. */
  off<K extends keyof SseClientEvents>(event: K, listener: (payload: SseClientEvents[K]) => void): void;
  /** Adds a listener as an `EventTarget` does (called with the payload): `{ once }`, `{ signal }`. */
  addEventListener<K extends keyof SseClientEvents>(event: K, listener: EmitterListener<SseClientEvents[K]> | null, options?: EmitterListenerOptions | boolean): void;
  /** Removes a listener added with `addEventListener`. */
  removeEventListener<K extends keyof SseClientEvents>(event: K, listener: EmitterListener<SseClientEvents[K]> | null): void;
  /**
   * The events as an async iterator, from now on, in order; it ends when the client closes (after what it buffered).
   * At most `maxBuffered` (default 1 000) wait while the loop body runs: one more ends it with a
   * `BufferOverflowError` after the ones kept, never a silent drop. Leaving the loop removes its listener.
   */
  messages(options?: ClientMessagesOptions): AsyncIterableIterator<SseMessage>;
}

/**
 * The stream went past an input limit (spec: memory stays bounded whatever
 * the server sends): `limit` says which (`line`: a line with no end in sight;
 * `event`: an event too large) and `maxBytes` the bound. The stream is
 * aborted and a reconnect follows.
 */
export class SseInputError extends Error {
  readonly limit: SseInputLimit;
  readonly maxBytes: number;
  constructor(limit: SseInputLimit, maxBytes: number) {
    super(limit === 'line' ? `SSE line longer than maxLineBytes (${maxBytes} bytes): stream aborted` : `SSE event larger than maxEventBytes (${maxBytes} bytes): stream aborted`);
    this.name = 'SseInputError';
    this.limit = limit;
    this.maxBytes = maxBytes;
  }
}

/**
 * Diagnostics of the client besides its connection machine's and session's
 * (counts, names and sizes only: S10):
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `sse_fetch_failed` | warn | `error` (its name) |
 * | `sse_stream_failed` | info | `error` (the body failed mid-stream) |
 * | `sse_parse_error` | warn | `type` (`invalid-retry`, `unknown-field`) |
 * | `sse_input_too_large` | warn | `limit` (`line`, `event`), `max_bytes` |
 * | `sse_http_status` | warn | `status` (a response other than 200) |
 * | `sse_last_event_id_dropped` | warn | `length` (of an id with a control character, which no `fetch` sends as a header: the request goes without `Last-Event-ID`) |
 * | `stale_message` | warn | (none): an event of a stream the machine had already given up, not delivered; its id is not recorded, so the reconnect asks for it again |
 * | `listener_failed` | warn | `event`, `error` |
 */
export const SSE_CLIENT_DIAGNOSTICS = Object.freeze({
  fetchFailed: 'sse_fetch_failed',
  streamFailed: 'sse_stream_failed',
  parseError: 'sse_parse_error',
  inputTooLarge: 'sse_input_too_large',
  httpStatus: 'sse_http_status',
  lastEventIdDropped: 'sse_last_event_id_dropped',
  staleEvent: 'stale_message',
  listenerFailed: 'listener_failed',
} as const);

/**
 * The client's defaults besides the connection machine's.
 */
export const SSE_CLIENT_DEFAULTS = Object.freeze({
  pongTimeoutMs: 45_000,
  maxLineBytes: 1_048_576,
  maxEventBytes: 8_388_608,
  retryStatuses: Object.freeze([408, 429, ...Array.from({ length: 100 }, (_, index) => 500 + index)]),
} as const);
