import { getRandomValues } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  CLOSE_CODES,
  KeepaliveOptionError,
  MAX_DURATION_MS,
  RECONNECT_DIAGNOSTICS,
  createReconnectState,
  defineReconnectConfig,
  reconnectStep,
  type CloseTransport,
  type Diagnostic,
  type DiagnosticFields,
  type DiagnosticLevel,
  type ReconnectCommand,
  type ReconnectConfig,
  type ReconnectEvent,
  type ReconnectOptions,
  type ReconnectState,
} from '@keepalive/core';
import {
  DIAGNOSTICS_CHANNEL,
  createSessionActivity,
  defaultScheduler,
  type KeepaliveSender,
  type LogFunction,
  type ScheduledEntry,
  type Scheduler,
  type SessionActivity,
  type SessionActivityOptions,
} from '@keepalive/node-timers';
import { WebSocket as WsWebSocket } from 'ws';
import { OutboundQueue, byteSize, isClientData, type ClientData, type QueuedMessage } from './client-queue.js';
import { HEARTBEAT_MESSAGE, isHeartbeatMessage } from './heartbeat.js';

export { QueueFullError, type ClientData, type QueuedMessage } from './client-queue.js';

// ---------------------------------------------------------------------------
// Runtime types: the smallest surface of a socket the client needs, so that
// `ws`, undici, browsers, Deno and Bun sockets all fit.

/**
 * The socket events the client listens to.
 *
 * @example
 * ```ts
 * const type: SocketEventType = 'message';
 * ```
 */
export type SocketEventType = 'open' | 'close' | 'error' | 'message';

/**
 * The fields of a socket event the client reads: `data` (message), `code`
 * and `reason` (close), `error` and `message` (error, `ws` only).
 *
 * @example
 * ```ts
 * socket.addEventListener('close', (event: SocketEventLike) => console.log(event.code, event.reason));
 * ```
 */
export interface SocketEventLike {
  readonly type: string;
  readonly data?: unknown;
  readonly code?: number;
  readonly reason?: string;
  readonly error?: unknown;
  readonly message?: string;
}

/**
 * A WHATWG WebSocket, as browsers, Deno, Bun, undici and `ws` implement it:
 * everything the client needs from a socket. Sockets that also have a
 * `ping()` method (see {@link PingableWebSocketLike}) get protocol pings as
 * keep-alives; the others get the heartbeat message.
 *
 * @example
 * ```ts
 * import { WebSocket } from 'undici';
 * const socket: WebSocketLike = new WebSocket('ws://127.0.0.1:8080');
 * ```
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Set to `'arraybuffer'` by the client when it is `'blob'` (binary messages are delivered as `Uint8Array`). */
  binaryType?: string;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: SocketEventType, listener: (event: SocketEventLike) => void): void;
  removeEventListener(type: SocketEventType, listener: (event: SocketEventLike) => void): void;
}

/**
 * A socket that can send protocol pings, like a `ws` client socket: pongs
 * (and pings from the peer) are observed with `on('pong')` / `on('ping')`
 * when it has an `on` method, else with `addEventListener('pong')`.
 * `terminate()`, where present, destroys it without a close handshake.
 *
 * @example
 * ```ts
 * import WebSocket from 'ws';
 * const socket: PingableWebSocketLike = new WebSocket('ws://127.0.0.1:8080');
 * ```
 */
export interface PingableWebSocketLike extends WebSocketLike {
  ping(): void;
  terminate?(): void;
  on?(event: 'pong' | 'ping', listener: () => void): unknown;
  off?(event: 'pong' | 'ping', listener: () => void): unknown;
}

/**
 * A WHATWG-style WebSocket constructor: the browser's, Deno's, Bun's,
 * undici's, or `ws`'s.
 *
 * @example
 * ```ts
 * import { WebSocket } from 'undici';
 * const Ctor: WebSocketConstructorLike = WebSocket;
 * ```
 */
export type WebSocketConstructorLike = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * Where the client connects: a `ws:`/`wss:` (or `http:`/`https:`) URL, or a
 * function that returns a new socket for every attempt.
 *
 * @example
 * ```ts
 * const target: ClientTarget = () => new WebSocket('ws://127.0.0.1:8080', { headers: { authorization: token() } });
 * ```
 */
export type ClientTarget = string | URL | (() => WebSocketLike);

// ---------------------------------------------------------------------------
// Options, events and the client interface.

/**
 * Where the client is:
 * - `connecting`: a connection is being opened on demand: the first one, or
 *   (with `reconnect.whenIdle: 'lazy'`) the one that ends an `idle` park;
 * - `open`: connected; `send` goes straight to the socket;
 * - `reconnecting`: the connection was lost (or a reconnect attempt
 *   failed); waiting for the backoff delay or opening a new socket;
 * - `idle`: only with `reconnect.whenIdle: 'lazy'`: the connection was lost
 *   while no work was in flight and nothing was queued, so the client stays
 *   disconnected on purpose (no socket, no timer) until work starts on its
 *   activity or `send()` is called, then connects at once;
 * - `closed`: closed on purpose, aborted, or reconnects exhausted; for good.
 *
 * @example
 * ```ts
 * if (client.state === 'reconnecting') showBanner('reconnecting…');
 * if (client.state === 'idle') showBanner('disconnected until there is work');
 * ```
 */
export type KeepaliveClientState = 'connecting' | 'open' | 'reconnecting' | 'idle' | 'closed';

/**
 * What the client does when its connection is lost while no work is in
 * flight (activity total 0) and nothing is queued:
 * - `'eager'` (default): reconnect with backoff, as for any loss;
 * - `'lazy'`: do not reconnect: go to state `idle` (event `idle`) and
 *   connect again at once when work starts on the activity (total 0 → 1) or
 *   `send()` is called. A loss while work is in flight (or with messages
 *   queued) reconnects with backoff either way; a backoff delay that ends
 *   once the work is done and the queue is empty parks instead of connecting.
 *
 * @example
 * ```ts
 * const whenIdle: ReconnectWhenIdle = 'lazy';
 * ```
 */
export type ReconnectWhenIdle = 'eager' | 'lazy';

/**
 * The client's reconnect options: the backoff policy of the core (spec B6)
 * plus `whenIdle`.
 *
 * @example
 * ```ts
 * // Idle connections reclaimed by the server stay closed until work comes back.
 * const reconnect: ClientReconnectOptions = { initialDelayMs: 250, maxDelayMs: 10_000, whenIdle: 'lazy' };
 * ```
 */
export interface ClientReconnectOptions extends ReconnectOptions {
  /** Reconnect after a loss while idle (`'eager'`, default) or only once work comes back (`'lazy'`). See {@link ReconnectWhenIdle}. */
  readonly whenIdle?: ReconnectWhenIdle | undefined;
}

/**
 * Options of {@link createKeepaliveClient}: the activity options (when the
 * client creates its activity) plus the client's own.
 *
 * @example
 * ```ts
 * const options: KeepaliveClientOptions = {
 *   heartbeatIntervalMs: 15_000,
 *   pongTimeoutMs: 5_000,
 *   reconnect: { initialDelayMs: 250, maxDelayMs: 10_000 },
 *   maxQueuedMessages: 100,
 * };
 * ```
 */
export interface KeepaliveClientOptions extends SessionActivityOptions {
  /**
   * The activity whose in-flight work decides when keep-alives go out. Default: one created
   * by the client from the activity options (and shut down when the client closes). When
   * given, activity options (`heartbeatIntervalMs`, `pongTimeoutMs`, …) must not be; it is
   * detached, not shut down, when the client closes. Use one activity per client.
   */
  readonly activity?: SessionActivity | undefined;
  /**
   * Proof-of-life timeout after each keep-alive (spec B5); the socket is terminated and a
   * reconnect begins when none comes. `null` turns the kill rule off. Default 10 000 ms
   * here (the core's default is off).
   */
  readonly pongTimeoutMs?: number | null | undefined;
  /**
   * `false` keeps sending keep-alives but never kills the socket for missing pongs (for
   * proxies that only need traffic). Default `true`.
   */
  readonly deadPeerDetection?: boolean | undefined;
  /** A WHATWG WebSocket constructor to use for a URL target (undici's, the browser's, Deno's, Bun's). Default: `ws`. */
  readonly WebSocket?: WebSocketConstructorLike | undefined;
  /** Subprotocols for a URL target. */
  readonly protocols?: string | readonly string[] | undefined;
  /**
   * Reconnect policy (spec B6). Default: 500 ms initial, ×2, capped at 30 s, reset after 60 s up, never gives up,
   * `whenIdle: 'eager'` (reconnect even when no work is in flight; `'lazy'` waits for work: see {@link ReconnectWhenIdle}).
   */
  readonly reconnect?: ClientReconnectOptions | undefined;
  /** How many messages `send` may queue while disconnected. Default 1 000. */
  readonly maxQueuedMessages?: number | undefined;
  /** How many bytes `send` may queue while disconnected. Default 1 MiB. */
  readonly maxQueuedBytes?: number | undefined;
  /**
   * The application-level heartbeat (a text frame of at most 125 bytes) for sockets without
   * `ping()`; the server must answer it (the keepalive server echoes it). Default
   * {@link HEARTBEAT_MESSAGE}, the empty text frame.
   */
  readonly heartbeatMessage?: string | undefined;
  /** `'auto'` pings where the socket can and sends the heartbeat message elsewhere; `'message'` always sends the message. Default `'auto'`. */
  readonly keepaliveFrame?: 'auto' | 'message' | undefined;
  /** How long `close()` waits for the close handshake before destroying the socket. Default 5 000 ms. */
  readonly closeTimeoutMs?: number | undefined;
  /** Closes the client (cause `'aborted'`) when aborted. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Payload of `open`: a connection opened. `attempt` is 0 for a connection
 * opened on demand (the first one, or the one that ends an `idle` park) and
 * counts reconnect attempts since the last healthy connection otherwise.
 *
 * @example
 * ```ts
 * client.on('open', ({ attempt }) => console.log(attempt === 0 ? 'connected' : 'reconnected'));
 * ```
 */
export interface ClientOpenEvent {
  readonly attempt: number;
}

/**
 * Payload of `message`: an inbound message (heartbeat replies are not
 * delivered). Text frames arrive as strings, binary frames as `Uint8Array`
 * (a `Buffer` with `ws`).
 *
 * @example
 * ```ts
 * client.on('message', ({ data }) => { if (typeof data === 'string') handle(JSON.parse(data)); });
 * ```
 */
export interface ClientMessageEvent {
  readonly data: string | Uint8Array;
  readonly binary: boolean;
}

/**
 * Payload of `close`: an open connection closed. `willReconnect` tells
 * whether a backoff reconnect follows (a `reconnecting` event comes next).
 * When it is `false`, either the client is closing for good (closing, or
 * attempts exhausted: `closed` comes next) or, with `reconnect.whenIdle:
 * 'lazy'`, it parks (`idle` comes next; `client.state` is already `'idle'`)
 * and connects again when work comes back.
 *
 * @example
 * ```ts
 * client.on('close', ({ code, reason, willReconnect }) => console.log(code, reason, willReconnect));
 * ```
 */
export interface ClientCloseEvent {
  readonly code: number;
  readonly reason: string;
  readonly willReconnect: boolean;
}

/**
 * Payload of `reconnecting`: attempt `attempt` will start in `delayMs`
 * (full jitter below the backoff ceiling).
 *
 * @example
 * ```ts
 * client.on('reconnecting', ({ attempt, delayMs }) => console.log(`attempt ${attempt} in ${delayMs} ms`));
 * ```
 */
export interface ClientReconnectingEvent {
  readonly attempt: number;
  readonly delayMs: number;
}

/**
 * Payload of `idle` (`reconnect.whenIdle: 'lazy'` only): the connection was
 * lost while no work was in flight and nothing was queued; the client stays
 * disconnected (state `idle`, nothing armed) until work starts on its
 * activity or `send()` is called, then connects at once (state `connecting`,
 * then `open` with `attempt` 0). `code` and `reason` are those of the loss
 * (1006 and `''` when a connection attempt failed).
 *
 * @example
 * ```ts
 * client.on('idle', ({ code }) => console.log(`parked after ${code}: reconnects when work comes back`));
 * ```
 */
export interface ClientIdleEvent {
  readonly code: number;
  readonly reason: string;
}

/**
 * Payload of `dead-peer`: no proof of life came within `timeoutMs` of a
 * keep-alive; the socket is being terminated and a reconnect follows.
 *
 * @example
 * ```ts
 * client.on('dead-peer', ({ timeoutMs }) => metrics.count('dead_peer', { timeoutMs }));
 * ```
 */
export interface ClientDeadPeerEvent {
  readonly timeoutMs: number;
}

/**
 * Why the client closed for good: `close()` was called (or it was
 * disposed), its `signal` was aborted, or `reconnect.maxAttempts`
 * consecutive attempts failed.
 *
 * @example
 * ```ts
 * const cause: ClientClosedCause = 'exhausted';
 * ```
 */
export type ClientClosedCause = 'closed' | 'aborted' | 'exhausted';

/**
 * Payload of `closed` and the value `close()` resolves to: the client is
 * closed for good. `undelivered` holds every message that was queued and
 * never handed to an open socket, oldest first (nothing is dropped
 * silently).
 *
 * @example
 * ```ts
 * const { cause, undelivered } = await client.close();
 * if (undelivered.length > 0) await persist(undelivered);
 * ```
 */
export interface ClientClosedEvent {
  readonly cause: ClientClosedCause;
  readonly code: number;
  readonly reason: string;
  readonly undelivered: readonly QueuedMessage[];
}

/**
 * Every event of a {@link KeepaliveClient} and its payload.
 *
 * @example
 * ```ts
 * const listener = (event: KeepaliveClientEvents['reconnecting']) => console.log(event.delayMs);
 * ```
 */
export interface KeepaliveClientEvents {
  open: ClientOpenEvent;
  message: ClientMessageEvent;
  close: ClientCloseEvent;
  reconnecting: ClientReconnectingEvent;
  idle: ClientIdleEvent;
  'dead-peer': ClientDeadPeerEvent;
  closed: ClientClosedEvent;
  error: Error;
}

/**
 * A WebSocket client that stays alive while its activity is busy: protocol
 * pings (or heartbeat messages) while work is in flight, a dead-peer verdict
 * when the peer stops answering, reconnects with backoff, and a bounded
 * queue for messages sent while disconnected.
 *
 * @example
 * ```ts
 * await using client = createKeepaliveClient('wss://agent.example/ws', { pongTimeoutMs: 5_000 });
 * client.on('message', ({ data }) => console.log(data));
 * await client.activity.run('api_call', async () => {
 *   client.send(JSON.stringify({ type: 'hello' }));
 *   await streamModelResponse();
 * });
 * ```
 */
export interface KeepaliveClient extends AsyncDisposable {
  /** The activity that decides when keep-alives go out: start work on it (`run`, `start`). */
  readonly activity: SessionActivity;
  /** Where the client is. */
  readonly state: KeepaliveClientState;
  /** Messages queued while disconnected, waiting for the next connection. */
  readonly queuedMessages: number;
  /**
   * Sends `data` now when open (the message then counts as sent: it is never sent twice),
   * or queues a copy to send in order after the next connect (in state `idle`, that connect
   * starts at once). Throws {@link QueueFullError}
   * past the queue bounds, {@link ClientClosedError} once closed, `TypeError` for other data.
   */
  send(data: ClientData): 'sent' | 'queued';
  /**
   * Closes for good: no reconnect follows. Resolves once the socket is closed (or after
   * `closeTimeoutMs`) with the undelivered messages. Later calls return the same promise.
   * `code` is 1000 (default) or 3000–4999; `reason` at most 123 bytes.
   */
  close(code?: number, reason?: string): Promise<ClientClosedEvent>;
  /** Adds a listener; returns a function that removes it. Listener errors never escape (they go to `error`). */
  on<K extends keyof KeepaliveClientEvents>(event: K, listener: (payload: KeepaliveClientEvents[K]) => void): () => void;
  /** Removes a listener added with `on`. */
  off<K extends keyof KeepaliveClientEvents>(event: K, listener: (payload: KeepaliveClientEvents[K]) => void): void;
}

/**
 * Thrown by `send` once the client is closed (or closing).
 *
 * @example
 * ```ts
 * import { ClientClosedError } from '@keepalive/websocket-transport';
 * try {
 *   client.send('late');
 * } catch (error) {
 *   if (error instanceof ClientClosedError) console.warn('client already closed');
 * }
 * ```
 */
export class ClientClosedError extends Error {
  constructor() {
    super('The keepalive client is closed: send() is no longer accepted');
    this.name = 'ClientClosedError';
  }
}

/**
 * The client's defaults.
 *
 * @example
 * ```ts
 * import { CLIENT_DEFAULTS } from '@keepalive/websocket-transport';
 * CLIENT_DEFAULTS.pongTimeoutMs; // 10000
 * ```
 */
export const CLIENT_DEFAULTS = Object.freeze({
  pongTimeoutMs: 10_000,
  maxQueuedMessages: 1_000,
  maxQueuedBytes: 1_048_576,
  closeTimeoutMs: 5_000,
  keepaliveFrame: 'auto',
} as const);

/**
 * Diagnostics the client emits (to `logger`, `onDiagnostic` and the
 * `keepalive:diagnostics` channel), besides its activity's: counts, codes,
 * durations and error names only (spec S10), never URLs or payloads.
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `reconnecting` | info | `attempt`, `delay_ms` |
 * | `reconnected` | info | `attempts` |
 * | `reconnect_exhausted` | warn | `attempts` |
 * | `connect_failed` | warn | `attempt` |
 * | `connection_lost` | info | `code` |
 * | `parked` | info | `code` (lazy mode: lost while idle; no reconnect until work) |
 * | `unparked` | info | `trigger` (`activity` or `send`), `parked_ms` |
 * | `queue_flushed` | info | `messages` |
 * | `undelivered` | warn | `messages` |
 * | `socket_error` | warn | `error` |
 * | `listener_failed` | warn | `event`, `error` |
 * | `client_closed` | info | `cause`, `code` |
 *
 * @example
 * ```ts
 * import { CLIENT_DIAGNOSTICS } from '@keepalive/websocket-transport';
 * createKeepaliveClient(url, { onDiagnostic: (d) => { if (d.name === CLIENT_DIAGNOSTICS.connectFailed) alert(); } });
 * ```
 */
export const CLIENT_DIAGNOSTICS = Object.freeze({
  reconnecting: RECONNECT_DIAGNOSTICS.reconnecting,
  reconnected: RECONNECT_DIAGNOSTICS.reconnected,
  reconnectExhausted: RECONNECT_DIAGNOSTICS.exhausted,
  connectFailed: 'connect_failed',
  connectionLost: 'connection_lost',
  parked: 'parked',
  unparked: 'unparked',
  queueFlushed: 'queue_flushed',
  undelivered: 'undelivered',
  socketError: 'socket_error',
  listenerFailed: 'listener_failed',
  clientClosed: 'client_closed',
} as const);

// ---------------------------------------------------------------------------
// Validation.

const OPEN = 1;
const CLOSING = 2;

/** Options that configure a created activity; refused alongside a given `activity`. */
const ACTIVITY_ONLY_KEYS = Object.freeze([
  'heartbeatIntervalMs',
  'idleDelayMs',
  'sendKeepalives',
  'permitWithoutActivity',
  'pongTimeoutMs',
  'stuckActivityMs',
  'keepProcessAlive',
  'reportOnExit',
] as const);

const CLIENT_KEYS: readonly string[] = Object.freeze([
  ...ACTIVITY_ONLY_KEYS,
  'logger',
  'onDiagnostic',
  'scheduler',
  'activity',
  'deadPeerDetection',
  'WebSocket',
  'protocols',
  'reconnect',
  'maxQueuedMessages',
  'maxQueuedBytes',
  'heartbeatMessage',
  'keepaliveFrame',
  'closeTimeoutMs',
  'signal',
]);

const EVENT_NAMES: readonly (keyof KeepaliveClientEvents)[] = Object.freeze(['open', 'message', 'close', 'reconnecting', 'idle', 'dead-peer', 'closed', 'error']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function checkInteger(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new KeepaliveOptionError(option, value, `an integer in [${min}, ${max}]`);
  }
  return value;
}

function checkDuration(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_DURATION_MS) {
    throw new KeepaliveOptionError(option, value, `a finite number of milliseconds in (0, ${MAX_DURATION_MS}]`);
  }
  return value;
}

/** The largest heartbeat message: the payload limit of a control frame, so a heartbeat never costs more than a ping. */
const MAX_HEARTBEAT_BYTES = 125;

function checkHeartbeatMessage(value: unknown): string {
  if (typeof value !== 'string' || byteSize(value) > MAX_HEARTBEAT_BYTES) {
    throw new KeepaliveOptionError('heartbeatMessage', value, `a string of at most ${MAX_HEARTBEAT_BYTES} UTF-8 bytes`);
  }
  return value;
}

function isSessionActivity(value: unknown): value is SessionActivity {
  if (!isObject(value)) return false;
  return ['start', 'attach', 'detach', 'alive', 'shutdown'].every((method) => typeof value[method] === 'function') && isObject(value.state);
}

function isWebSocketLike(value: unknown): value is WebSocketLike {
  return (
    isObject(value) &&
    typeof value.readyState === 'number' &&
    typeof value.send === 'function' &&
    typeof value.close === 'function' &&
    typeof value.addEventListener === 'function' &&
    typeof value.removeEventListener === 'function'
  );
}

function canPing(socket: WebSocketLike): socket is PingableWebSocketLike {
  return typeof (socket as Partial<PingableWebSocketLike>).ping === 'function';
}

/** Turns the target into a socket factory, validating URL-only options (spec B1). */
function socketFactory(target: unknown, options: KeepaliveClientOptions): () => WebSocketLike {
  if (typeof target === 'function') {
    if (options.WebSocket !== undefined) {
      throw new KeepaliveOptionError('WebSocket', options.WebSocket, 'absent when the target is a function (the function creates the socket)');
    }
    if (options.protocols !== undefined) {
      throw new KeepaliveOptionError('protocols', options.protocols, 'absent when the target is a function (the function creates the socket)');
    }
    return target as () => WebSocketLike;
  }
  let url: URL;
  if (target instanceof URL) url = target;
  else if (typeof target === 'string' && URL.canParse(target)) url = new URL(target);
  // The value is not echoed: URLs may carry credentials (spec S10).
  else throw new KeepaliveOptionError('target', typeof target === 'string' ? '<unparsable URL>' : target, 'a ws:, wss:, http: or https: URL, or a function returning a socket');
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol)) {
    throw new KeepaliveOptionError('target', `<${url.protocol} URL>`, 'a ws:, wss:, http: or https: URL, or a function returning a socket');
  }
  const href = url.href;
  const Ctor: unknown = options.WebSocket ?? WsWebSocket;
  if (typeof Ctor !== 'function') throw new KeepaliveOptionError('WebSocket', Ctor, 'a WHATWG WebSocket constructor');
  const given: unknown = options.protocols;
  let protocols: string | string[] | undefined;
  if (typeof given === 'string') protocols = given;
  else if (isStringArray(given)) protocols = [...given];
  else if (given !== undefined) throw new KeepaliveOptionError('protocols', given, 'a string or an array of strings');
  const WebSocketCtor = Ctor as WebSocketConstructorLike;
  return protocols === undefined ? () => new WebSocketCtor(href) : () => new WebSocketCtor(href, protocols);
}

function isStringArray(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function toLogFunction(logger: unknown): LogFunction | null {
  if (logger === undefined) return null;
  if (typeof logger === 'function') return logger as LogFunction;
  if (!isObject(logger) || !['debug', 'info', 'warn'].every((level) => typeof logger[level] === 'function')) {
    throw new KeepaliveOptionError('logger', logger, 'a function or a console-style or pino-style logger');
  }
  const methods = logger as unknown as Record<DiagnosticLevel, (...args: unknown[]) => void>;
  const pino = typeof logger.child === 'function' && typeof logger.level === 'string';
  return pino
    ? (level, event, fields) => {
        methods[level]({ event, ...fields }, event);
      }
    : (level, event, fields) => {
        methods[level](event, fields);
      };
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(`Non-error thrown: ${typeof error}`);
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/** Inbound data as the client delivers it, or `null` for an unsupported type (a `Blob`, fragments). */
function normalizeData(data: unknown): ClientMessageEvent | null {
  if (typeof data === 'string') return { data, binary: false };
  if (data instanceof Uint8Array) return { data, binary: true };
  if (data instanceof ArrayBuffer) return { data: new Uint8Array(data), binary: true };
  if (ArrayBuffer.isView(data)) return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), binary: true };
  return null;
}

function ignore(): void {
  // Abandoned sockets keep a no-op error listener so a late error is never an unhandled 'error'.
}

const channel = diagnosticsChannel.channel(DIAGNOSTICS_CHANNEL);

// ---------------------------------------------------------------------------
// The client.

/** One connection attempt and its socket listeners. */
interface Connection {
  readonly attempt: number;
  socket: WebSocketLike | null;
  opened: boolean;
  /** Whether keep-alives are protocol pings on this socket. */
  ping: boolean;
  /** Heartbeat messages sent on this socket and not answered yet. */
  unanswered: number;
  /** Removes the client's listeners from the socket. */
  release: () => void;
}

type AnyListener = (payload: never) => void;

class Client implements KeepaliveClient {
  readonly activity: SessionActivity;
  private readonly ownsActivity: boolean;
  private readonly factory: () => WebSocketLike;
  private readonly scheduler: Scheduler;
  private readonly reconnectEntry: ScheduledEntry;
  private readonly closeEntry: ScheduledEntry;
  private readonly queue: OutboundQueue;
  private readonly heartbeatMessage: string;
  private readonly messageFrames: boolean;
  private readonly closeTimeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  private readonly log: LogFunction | null;
  private readonly onDiagnostic: ((diagnostic: Diagnostic) => void) | undefined;
  private readonly listeners = new Map<keyof KeepaliveClientEvents, Set<AnyListener>>();
  private reconnect: ReconnectState;
  private conn: Connection | null = null;
  private current: KeepaliveClientState = 'connecting';
  private closeRequested = false;
  private closeCause: ClientClosedCause = 'closed';
  private finished = false;
  private releaseHold: (() => void) | null = null;
  /** `reconnect.whenIdle: 'lazy'`: a loss while idle parks the client instead of reconnecting. */
  private readonly lazy: boolean;
  /** Stops observing the activity (lazy mode only). */
  private unsubscribe: (() => void) | null = null;
  /** The last connection loss, reported when a backoff delay ends in a park. */
  private lastLoss: { code: number; reason: string } = { code: CLOSE_CODES.abnormal, reason: '' };
  /** When the client last parked, and how many times (to tell a stale `idle` event from a current one). */
  private parkedAt = 0;
  private parks = 0;
  private readonly whenClosed: Promise<ClientClosedEvent>;
  private resolveClosed: (event: ClientClosedEvent) => void = ignore;

  constructor(target: unknown, options: KeepaliveClientOptions) {
    for (const key of Object.keys(options)) {
      if (!CLIENT_KEYS.includes(key)) throw new KeepaliveOptionError(key, options[key as keyof KeepaliveClientOptions], `a known client option: ${CLIENT_KEYS.join(', ')}`);
    }
    this.factory = socketFactory(target, options);
    const {
      activity: givenActivity,
      deadPeerDetection: detectionOption,
      WebSocket: _ctor,
      protocols: _protocols,
      reconnect: reconnectOptions,
      maxQueuedMessages,
      maxQueuedBytes,
      heartbeatMessage,
      keepaliveFrame,
      closeTimeoutMs,
      signal,
      scheduler: givenScheduler,
      logger,
      onDiagnostic,
      ...activityOptions
    } = options;

    const detection: unknown = detectionOption ?? true;
    if (typeof detection !== 'boolean') throw new KeepaliveOptionError('deadPeerDetection', detection, 'true or false');
    if (givenActivity !== undefined) {
      if (!isSessionActivity(givenActivity)) throw new KeepaliveOptionError('activity', givenActivity, 'a SessionActivity from createSessionActivity()');
      for (const key of ACTIVITY_ONLY_KEYS) {
        if (activityOptions[key] !== undefined) {
          throw new KeepaliveOptionError(key, activityOptions[key], 'absent when an activity is given (configure the activity instead)');
        }
      }
      if (!detection && givenActivity.state.config.pongTimeoutMs !== null) {
        throw new KeepaliveOptionError('deadPeerDetection', false, 'true when the given activity has pongTimeoutMs set (create it with pongTimeoutMs: null)');
      }
    } else if (!detection && activityOptions.pongTimeoutMs !== undefined && activityOptions.pongTimeoutMs !== null) {
      throw new KeepaliveOptionError('pongTimeoutMs', activityOptions.pongTimeoutMs, 'absent or null with deadPeerDetection: false');
    }

    const frame: unknown = keepaliveFrame ?? CLIENT_DEFAULTS.keepaliveFrame;
    if (frame !== 'auto' && frame !== 'message') throw new KeepaliveOptionError('keepaliveFrame', frame, "'auto' or 'message'");
    this.messageFrames = frame === 'message';
    this.heartbeatMessage = checkHeartbeatMessage(heartbeatMessage ?? HEARTBEAT_MESSAGE);
    this.queue = new OutboundQueue(
      checkInteger('maxQueuedMessages', maxQueuedMessages ?? CLIENT_DEFAULTS.maxQueuedMessages, 0, 10_000_000),
      checkInteger('maxQueuedBytes', maxQueuedBytes ?? CLIENT_DEFAULTS.maxQueuedBytes, 0, Number.MAX_SAFE_INTEGER),
    );
    this.closeTimeoutMs = checkDuration('closeTimeoutMs', closeTimeoutMs ?? CLIENT_DEFAULTS.closeTimeoutMs);
    const givenSignal: unknown = signal;
    if (givenSignal !== undefined && !(givenSignal instanceof AbortSignal)) throw new KeepaliveOptionError('signal', givenSignal, 'an AbortSignal');
    this.signal = signal;
    const reconnectGiven: unknown = reconnectOptions ?? {};
    if (!isObject(reconnectGiven)) throw new KeepaliveOptionError('reconnect', reconnectGiven, 'an object of reconnect options');
    // `whenIdle` is the client's; the rest is the core's backoff policy.
    const { whenIdle: whenIdleOption, ...backoff } = reconnectGiven as ClientReconnectOptions;
    const whenIdle: unknown = whenIdleOption ?? 'eager';
    if (whenIdle !== 'eager' && whenIdle !== 'lazy') throw new KeepaliveOptionError('whenIdle', whenIdle, "'eager' or 'lazy'");
    this.lazy = whenIdle === 'lazy';
    if (this.lazy && givenActivity !== undefined && typeof givenActivity.subscribe !== 'function') {
      throw new KeepaliveOptionError('activity', givenActivity, "a SessionActivity with subscribe() (reconnect.whenIdle: 'lazy' observes it)");
    }
    const reconnectConfig: ReconnectConfig = defineReconnectConfig(backoff);
    const scheduler: unknown = givenScheduler ?? defaultScheduler();
    if (!isObject(scheduler) || typeof scheduler.entry !== 'function' || typeof scheduler.now !== 'function') {
      throw new KeepaliveOptionError('scheduler', scheduler, 'a scheduler from createScheduler()');
    }
    this.scheduler = scheduler as unknown as Scheduler;
    this.log = toLogFunction(logger);
    const hook: unknown = onDiagnostic;
    if (hook !== undefined && typeof hook !== 'function') throw new KeepaliveOptionError('onDiagnostic', hook, 'a function');
    this.onDiagnostic = onDiagnostic;

    // Everything validated: the activity is created last, so a bad option leaves nothing behind.
    if (givenActivity === undefined) {
      this.activity = createSessionActivity({
        ...activityOptions,
        pongTimeoutMs: detection ? (activityOptions.pongTimeoutMs === undefined ? CLIENT_DEFAULTS.pongTimeoutMs : activityOptions.pongTimeoutMs) : null,
        scheduler: this.scheduler,
        logger,
        onDiagnostic,
      });
      this.ownsActivity = true;
    } else {
      this.activity = givenActivity;
      this.ownsActivity = false;
    }

    this.whenClosed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    // B6: the jitter is seeded from the platform's CSPRNG; the core draws from the seed.
    this.reconnect = createReconnectState(reconnectConfig, getRandomValues(new Uint32Array(1))[0] ?? 0);
    this.reconnectEntry = this.scheduler.entry(() => {
      this.guard(() => {
        this.reconnectEntry.schedule(null);
        // Lazy: the work that was in flight when the connection was lost is done and nothing is queued.
        if (this.reconnect.phase === 'waiting' && this.shouldPark()) {
          this.parkNow(this.lastLoss.code, this.lastLoss.reason);
          return;
        }
        this.drive({ type: 'timer', now: this.scheduler.now() });
      });
    });
    this.closeEntry = this.scheduler.entry(() => {
      this.guard(() => {
        this.closeEntry.schedule(null);
        this.closeTimedOut();
      });
    });

    if (signal?.aborted === true) {
      this.closeRequested = true;
      this.closeCause = 'aborted';
      this.finish('aborted', 1000, '');
      return;
    }
    signal?.addEventListener('abort', this.onAbort);
    if (this.lazy) {
      // S1: work starting (total 0 → 1) ends a park; observed, never polled.
      this.unsubscribe = this.activity.subscribe((state) => {
        if (state.total > 0 && this.current === 'idle') {
          this.guard(() => {
            this.unpark('activity');
          });
        }
      });
    }
    this.drive({ type: 'connect', now: this.scheduler.now() });
  }

  get state(): KeepaliveClientState {
    return this.current;
  }

  get queuedMessages(): number {
    return this.queue.length;
  }

  send(data: ClientData): 'sent' | 'queued' {
    if (!isClientData(data)) throw new TypeError('send(data): expected a string, an ArrayBuffer or an ArrayBufferView');
    if (this.closeRequested) throw new ClientClosedError();
    const conn = this.conn;
    const socket = conn?.socket ?? null;
    if (this.current === 'open' && socket !== null && socket.readyState === OPEN) {
      if (this.queue.length === 0) {
        socket.send(data);
        return 'sent';
      }
      // A flush stopped early: keep the order by queueing behind it, then try again.
      this.queue.push(data);
      if (conn !== null) this.flush(conn);
      return 'queued';
    }
    // Parked: connect now (a socket never opens synchronously: the message is queued below and flushed on open).
    if (this.current === 'idle') this.unpark('send');
    this.queue.push(data);
    return 'queued';
  }

  close(code?: number, reason?: string): Promise<ClientClosedEvent> {
    if (this.closeRequested) return this.whenClosed;
    const closeCode = code ?? 1000;
    if (!Number.isInteger(closeCode) || (closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999))) {
      return Promise.reject(new RangeError(`close(code): invalid code ${String(closeCode)} (expected 1000 or an integer in [3000, 4999])`));
    }
    const closeReason = reason ?? '';
    if (typeof closeReason !== 'string' || byteSize(closeReason) > 123) {
      return Promise.reject(new RangeError('close(code, reason): reason must be a string of at most 123 UTF-8 bytes'));
    }
    this.beginClose('closed', closeCode, closeReason);
    return this.whenClosed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  on<K extends keyof KeepaliveClientEvents>(event: K, listener: (payload: KeepaliveClientEvents[K]) => void): () => void {
    const name: unknown = event;
    if (!EVENT_NAMES.includes(event)) throw new TypeError(`on(event): unknown event ${String(name)} (expected one of ${EVENT_NAMES.join(', ')})`);
    if (typeof listener !== 'function') throw new TypeError('on(event, listener): listener must be a function');
    const off = (): void => {
      this.off(event, listener);
    };
    // A closed client emits nothing more and keeps no listeners.
    if (this.finished) return off;
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return off;
  }

  off<K extends keyof KeepaliveClientEvents>(event: K, listener: (payload: KeepaliveClientEvents[K]) => void): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    set.delete(listener);
    if (set.size === 0) this.listeners.delete(event);
  }

  // -------------------------------------------------------------------------
  // Reconnect machine (spec B6). Commands are checked against the machine's
  // current state when carried out, so a listener that closes the client in
  // the middle of a batch cannot re-arm a cancelled timer.

  private drive(event: ReconnectEvent): void {
    const out: ReconnectCommand[] = [];
    this.reconnect = reconnectStep(this.reconnect, event, out);
    this.runReconnect(out);
  }

  private runReconnect(out: readonly ReconnectCommand[]): void {
    for (const command of out) {
      switch (command.type) {
        case 'arm':
          if (this.reconnect.phase === 'waiting' && this.reconnect.deadline === command.deadline && !this.finished) {
            this.reconnectEntry.schedule(command.deadline);
          }
          break;
        case 'cancel':
          this.reconnectEntry.schedule(null);
          break;
        case 'connect':
          if (this.reconnect.phase === 'connecting' && !this.closeRequested) this.openSocket(command.attempt);
          break;
        case 'diagnostic':
          this.diagnose(command.level, command.name, command.fields);
          if (command.name === RECONNECT_DIAGNOSTICS.reconnecting && this.reconnect.phase === 'waiting' && !this.closeRequested) {
            this.emit('reconnecting', { attempt: this.reconnect.attempt, delayMs: Number(command.fields.delay_ms) });
          } else if (command.name === RECONNECT_DIAGNOSTICS.exhausted && this.reconnect.phase === 'exhausted') {
            this.finish('exhausted', CLOSE_CODES.abnormal, 'reconnect attempts exhausted');
          }
          break;
      }
    }
    this.syncHold();
  }

  /** The backoff timer runs on the unref'd scheduler; a hold keeps the process alive while a reconnect is pending. */
  private syncHold(): void {
    const wanted = this.reconnect.phase === 'waiting' && !this.finished;
    if (wanted && this.releaseHold === null) {
      this.releaseHold = this.scheduler.hold();
    } else if (!wanted && this.releaseHold !== null) {
      this.releaseHold();
      this.releaseHold = null;
    }
  }

  // -------------------------------------------------------------------------
  // Sockets.

  private openSocket(attempt: number): void {
    const conn: Connection = { attempt, socket: null, opened: false, ping: false, unanswered: 0, release: ignore };
    this.conn = conn;
    this.current = attempt === 0 ? 'connecting' : 'reconnecting';
    let socket: WebSocketLike;
    try {
      const created: unknown = this.factory();
      if (!isWebSocketLike(created)) throw new TypeError('The socket factory did not return a WebSocket (readyState, send, close, addEventListener, removeEventListener)');
      socket = created;
    } catch (error) {
      // Reported asynchronously, like a refused connection, so listeners added after creation see it.
      queueMicrotask(() => {
        this.guard(() => {
          if (conn !== this.conn) return;
          this.report(error);
          this.lost(conn, CLOSE_CODES.abnormal, '');
        });
      });
      return;
    }
    conn.socket = socket;
    conn.ping = !this.messageFrames && canPing(socket);
    if (socket.binaryType !== undefined && socket.binaryType !== 'arraybuffer' && socket.binaryType !== 'nodebuffer') socket.binaryType = 'arraybuffer';

    const onOpen = (): void => {
      this.guard(() => {
        this.opened(conn);
      });
    };
    const onMessage = (event: SocketEventLike): void => {
      this.guard(() => {
        this.received(conn, event.data);
      });
    };
    const onClose = (event: SocketEventLike): void => {
      this.guard(() => {
        this.lost(conn, typeof event.code === 'number' ? event.code : CLOSE_CODES.abnormal, typeof event.reason === 'string' ? event.reason : '');
      });
    };
    const onError = (event: SocketEventLike): void => {
      this.guard(() => {
        if (conn !== this.conn || this.closeRequested) return;
        const error = event.error instanceof Error ? event.error : new Error(typeof event.message === 'string' && event.message !== '' ? event.message : 'WebSocket error');
        this.diagnose('warn', CLIENT_DIAGNOSTICS.socketError, { error: errorName(error) });
        this.emit('error', error);
      });
    };
    const onProof = (): void => {
      this.guard(() => {
        if (conn === this.conn) this.proofOfLife();
      });
    };
    socket.addEventListener('open', onOpen);
    socket.addEventListener('message', onMessage);
    socket.addEventListener('close', onClose);
    socket.addEventListener('error', onError);
    const pingable = canPing(socket) ? socket : null;
    const emitterStyle = pingable !== null && typeof pingable.on === 'function';
    if (pingable !== null) {
      if (emitterStyle) {
        pingable.on?.('pong', onProof);
        pingable.on?.('ping', onProof);
      } else {
        (socket.addEventListener as (type: string, listener: () => void) => void).call(socket, 'pong', onProof);
      }
    }
    conn.release = () => {
      socket.removeEventListener('open', onOpen);
      socket.removeEventListener('message', onMessage);
      socket.removeEventListener('close', onClose);
      socket.removeEventListener('error', onError);
      if (pingable !== null) {
        if (emitterStyle) {
          pingable.off?.('pong', onProof);
          pingable.off?.('ping', onProof);
        } else {
          (socket.removeEventListener as (type: string, listener: () => void) => void).call(socket, 'pong', onProof);
        }
      }
      socket.addEventListener('error', ignore);
    };
    // A factory may hand back a socket that is already open (or already gone).
    if (socket.readyState === OPEN) queueMicrotask(onOpen);
    else if (socket.readyState >= CLOSING) queueMicrotask(() => { onClose({ type: 'close', code: CLOSE_CODES.abnormal, reason: '' }); });
  }

  private opened(conn: Connection): void {
    if (conn !== this.conn || conn.opened || this.closeRequested || conn.socket === null) return;
    conn.opened = true;
    this.drive({ type: 'connected', now: this.scheduler.now() });
    this.current = 'open';
    // S3/S4: attach on open; when work is in flight the heartbeat resumes at once (B6).
    if (!this.activity.state.shutdown) this.activity.attach(this.senderFor(conn));
    this.flush(conn);
    this.emit('open', { attempt: conn.attempt });
  }

  private senderFor(conn: Connection): KeepaliveSender {
    return {
      sendKeepalive: () => {
        const socket = conn.socket;
        if (conn !== this.conn || socket?.readyState !== OPEN) return;
        if (conn.ping) (socket as PingableWebSocketLike).ping();
        else {
          socket.send(this.heartbeatMessage);
          conn.unanswered++;
        }
      },
      closeTransport: (command: CloseTransport) => {
        this.guard(() => {
          this.deadPeer(conn, command);
        });
      },
    };
  }

  /** B5: no proof of life in time. Terminate without waiting for a close handshake, then reconnect. */
  private deadPeer(conn: Connection, command: CloseTransport): void {
    const socket = conn.socket;
    if (conn !== this.conn || socket === null) return;
    this.emit('dead-peer', { timeoutMs: this.activity.state.config.pongTimeoutMs ?? 0 });
    if (conn !== this.conn) return;
    conn.release();
    destroy(socket);
    this.lost(conn, command.code, command.reason);
  }

  private flush(conn: Connection): void {
    const socket = conn.socket;
    if (socket === null) return;
    let sent = 0;
    for (let message = this.queue.peek(); message !== undefined; message = this.queue.peek()) {
      if (conn !== this.conn || socket.readyState !== OPEN) break;
      try {
        socket.send(message);
      } catch (error) {
        // Kept at the head of the queue: it is retried on the next flush, never dropped.
        this.report(error);
        break;
      }
      this.queue.shift();
      sent++;
    }
    if (sent > 0) this.diagnose('info', CLIENT_DIAGNOSTICS.queueFlushed, { messages: sent });
  }

  private proofOfLife(): void {
    if (!this.activity.state.shutdown) this.activity.alive();
  }

  private received(conn: Connection, data: unknown): void {
    if (conn !== this.conn) return;
    // B5: any inbound message is proof of life.
    this.proofOfLife();
    const message = normalizeData(data);
    if (message === null) {
      this.report(new TypeError(`Unsupported message data type: ${Object.prototype.toString.call(data)}`));
      return;
    }
    // Heartbeats are proof of life only, never application data. The answer to
    // one of ours settles it; any other is the server's own keep-alive (servers
    // that cannot ping, such as Deno's) and is answered in kind, so the two
    // ends never echo each other forever.
    if (isHeartbeatMessage(message.data, this.heartbeatMessage, message.binary)) {
      if (conn.unanswered > 0) conn.unanswered--;
      else if (conn.socket?.readyState === OPEN) conn.socket.send(this.heartbeatMessage);
      return;
    }
    this.emit('message', message);
  }

  /** The connection `conn` is gone (closed, failed to open, or declared dead). */
  private lost(conn: Connection, code: number, reason: string): void {
    if (conn !== this.conn) return;
    conn.release();
    this.conn = null;
    if (conn.opened && !this.activity.state.shutdown) this.activity.detach();
    if (this.closeRequested) {
      this.closeEntry.schedule(null);
      this.finish(this.closeCause, code, reason);
      return;
    }
    if (conn.opened) this.diagnose('info', CLIENT_DIAGNOSTICS.connectionLost, { code });
    else this.diagnose('warn', CLIENT_DIAGNOSTICS.connectFailed, { attempt: conn.attempt });
    this.lastLoss = { code, reason };
    if (this.shouldPark()) {
      // Lazy and idle: no reconnect until work comes back. `close` says no reconnect is scheduled; `idle` says why.
      const park = this.parkNow(code, reason, false);
      if (conn.opened) this.emit('close', { code, reason, willReconnect: false });
      // Unless a close listener already unparked (or closed) the client.
      if (this.stillParked(park)) this.emit('idle', { code, reason });
      return;
    }
    const out: ReconnectCommand[] = [];
    this.reconnect = reconnectStep(this.reconnect, { type: 'disconnected', now: this.scheduler.now() }, out);
    const willReconnect = this.reconnect.phase === 'waiting';
    if (willReconnect) this.current = 'reconnecting';
    if (conn.opened) this.emit('close', { code, reason, willReconnect });
    this.runReconnect(out);
  }

  // -------------------------------------------------------------------------
  // Lazy reconnect: parked while idle, back as soon as there is work.

  /** Lazy mode, no work in flight, nothing queued, not closing: a lost connection is not worth re-establishing. */
  private shouldPark(): boolean {
    if (!this.lazy || this.closeRequested) return false;
    const state = this.activity.state;
    return (state.total === 0 || state.shutdown) && this.queue.length === 0;
  }

  /**
   * Parks: the reconnect machine stops (cancelling any backoff timer, releasing the hold), the
   * state becomes `idle`. Emits `idle` unless told not to (the caller emits it after `close`).
   * Returns the park's number.
   */
  private parkNow(code: number, reason: string, emit = true): number {
    const out: ReconnectCommand[] = [];
    this.reconnect = reconnectStep(this.reconnect, { type: 'stop', now: this.scheduler.now() }, out);
    this.current = 'idle';
    this.parkedAt = this.scheduler.now();
    const park = ++this.parks;
    this.runReconnect(out);
    this.diagnose('info', CLIENT_DIAGNOSTICS.parked, { code });
    if (emit && this.stillParked(park)) this.emit('idle', { code, reason });
    return park;
  }

  /** Whether park number `park` is still on: no listener or diagnostic hook unparked or closed the client since. */
  private stillParked(park: number): boolean {
    return park === this.parks && this.current === 'idle';
  }

  /** Work came back (or a message to send): connect at once, as on demand (attempt 0, state `connecting`). */
  private unpark(trigger: 'activity' | 'send'): void {
    if (this.current !== 'idle' || this.closeRequested) return;
    const now = this.scheduler.now();
    this.current = 'connecting';
    this.drive({ type: 'connect', now });
    // After the connect has started: a diagnostic hook that sends or starts work finds the client connecting.
    this.diagnose('info', CLIENT_DIAGNOSTICS.unparked, { trigger, parked_ms: Math.round(now - this.parkedAt) });
  }

  private readonly onAbort = (): void => {
    this.guard(() => {
      this.beginClose('aborted', 1000, '');
    });
  };

  private beginClose(cause: ClientClosedCause, code: number, reason: string): void {
    if (this.closeRequested) return;
    this.closeRequested = true;
    this.closeCause = cause;
    this.current = 'closed';
    this.drive({ type: 'stop', now: this.scheduler.now() });
    const conn = this.conn;
    const socket = conn?.socket ?? null;
    if (conn === null || socket === null) {
      this.finish(cause, code, reason);
      return;
    }
    // No keep-alives (and no dead-peer kill) during the close handshake.
    if (conn.opened && !this.activity.state.shutdown) this.activity.detach();
    try {
      socket.close(code, reason);
    } catch (error) {
      this.report(error);
      destroy(socket);
      this.lost(conn, code, reason);
      return;
    }
    if (!this.finished) this.closeEntry.schedule(this.scheduler.now() + this.closeTimeoutMs);
  }

  private closeTimedOut(): void {
    const conn = this.conn;
    if (conn === null) return;
    if (conn.socket !== null) destroy(conn.socket);
    this.lost(conn, CLOSE_CODES.abnormal, 'close timeout');
  }

  /** Closed for good: nothing armed, held, attached or listened to remains. */
  private finish(cause: ClientClosedCause, code: number, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.closeRequested = true;
    this.current = 'closed';
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      conn.release();
      if (conn.socket !== null) destroy(conn.socket);
    }
    this.reconnectEntry.dispose();
    this.closeEntry.dispose();
    this.syncHold();
    this.signal?.removeEventListener('abort', this.onAbort);
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.ownsActivity) this.activity.shutdown();
    const undelivered = this.queue.drain();
    if (undelivered.length > 0) this.diagnose('warn', CLIENT_DIAGNOSTICS.undelivered, { messages: undelivered.length });
    this.diagnose('info', CLIENT_DIAGNOSTICS.clientClosed, { cause, code });
    const event: ClientClosedEvent = Object.freeze({ cause, code, reason, undelivered: Object.freeze(undelivered) });
    this.emit('closed', event);
    this.listeners.clear();
    this.resolveClosed(event);
  }

  // -------------------------------------------------------------------------
  // Events, errors and diagnostics: nothing thrown by a listener, a logger or
  // a socket callback escapes into the event loop.

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.report(error);
    }
  }

  private report(error: unknown): void {
    this.emit('error', toError(error));
  }

  private emit<K extends keyof KeepaliveClientEvents>(event: K, payload: KeepaliveClientEvents[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: KeepaliveClientEvents[K]) => void)(payload);
      } catch (error) {
        this.diagnose('warn', CLIENT_DIAGNOSTICS.listenerFailed, { event, error: errorName(error) });
        if (event !== 'error') this.emit('error', toError(error));
      }
    }
  }

  private diagnose(level: DiagnosticLevel, name: string, fields: DiagnosticFields): void {
    if (channel.hasSubscribers) channel.publish({ session: this.activity.id, level, name, fields });
    if (this.log !== null) {
      try {
        this.log(level, name, fields);
      } catch {
        // A failing logger must not stop the client; the channel has the diagnostic.
      }
    }
    if (this.onDiagnostic !== undefined) {
      try {
        this.onDiagnostic({ type: 'diagnostic', level, name, fields });
      } catch {
        // A dashboard hook must not stop the client.
      }
    }
  }
}

/** Destroys a socket without a close handshake where it can (`ws`: terminate), else starts a close and forgets it. */
function destroy(socket: WebSocketLike): void {
  try {
    const terminate = (socket as Partial<PingableWebSocketLike>).terminate;
    if (typeof terminate === 'function') terminate.call(socket);
    else if (socket.readyState < CLOSING) socket.close();
  } catch {
    // Already closed or closing: nothing more to do.
  }
}

/**
 * Creates a WebSocket client that keeps its connection alive while its
 * activity is busy (spec S4, B7), detects a dead peer within interval +
 * `pongTimeoutMs` (B5), reconnects with capped, jittered backoff (B6) and
 * queues messages sent while disconnected; with `reconnect: { whenIdle: 'lazy' }`
 * a connection lost while idle stays closed until work comes back. Options are validated here
 * (B1): a bad one throws {@link KeepaliveOptionError} naming it and its value.
 *
 * `target` is a URL (opened with `ws`, or with the `WebSocket` option's
 * constructor) or a function that returns a new socket for every attempt.
 * Keep-alives are empty protocol pings where the socket has `ping()` (`ws`),
 * else the heartbeat message (WHATWG sockets).
 *
 * @example
 * ```ts
 * import { createKeepaliveClient } from '@keepalive/websocket-transport';
 * import { WebSocket } from 'undici';
 *
 * const client = createKeepaliveClient('wss://agent.example/ws', {
 *   heartbeatIntervalMs: 15_000,
 *   pongTimeoutMs: 5_000,
 *   reconnect: { maxAttempts: 20 },
 *   WebSocket, // optional: any WHATWG implementation
 * });
 * client.on('reconnecting', ({ attempt, delayMs }) => console.log(`attempt ${attempt} in ${delayMs} ms`));
 * await client.activity.run('api_call', () => streamModelResponse(client));
 * const { undelivered } = await client.close();
 * ```
 */
export function createKeepaliveClient(target: ClientTarget, options: KeepaliveClientOptions = {}): KeepaliveClient {
  const given: unknown = options;
  if (!isObject(given)) throw new KeepaliveOptionError('options', given, 'an object of client options');
  return new Client(target, options);
}
