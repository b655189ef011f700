import {
  CONNECTION_DEFAULTS,
  CONNECTION_DIAGNOSTICS,
  RECONNECT_DIAGNOSTICS,
  RESUME_DIAGNOSTICS,
  type ConnectionCloseCause,
  type NegotiatedStatus,
  type ResumeLayer,
  type ResumeOptions,
  type ConnectionReconnectOptions,
  type RoundTripTime,
  type ShutdownReport,
  type WhenIdle,
} from '@keepalive/core';
import type { ClientMessagesOptions, EmitterListener, EmitterListenerOptions, Scheduler, SessionActivityOptions, WorkActivity } from '@keepalive/node-timers';
import type { ClientData, QueuedMessage } from './client-queue.js';

/**
 * The public shapes of the keepalive client: the smallest socket surface it
 * needs, its options, its events and the client itself. The rules behind
 * them live in the core's connection machine (spec B10–B14).
 */

// ---------------------------------------------------------------------------
// Runtime types: the smallest surface of a socket the client needs, so that
// `ws`, undici, browsers, Deno and Bun sockets all fit.

/**
 * The socket events the client listens to.
 */
export type SocketEventType = 'open' | 'close' | 'error' | 'message';

/**
 * The fields of a socket event the client reads: `data` (message), `code`
 * and `reason` (close), `error` and `message` (error, `ws` only).
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
 */
export interface PingableWebSocketLike extends WebSocketLike {
  /** Sends a protocol ping; `data` (at most 125 bytes) is its payload (an acknowledgement, with `resume`). */
  ping(data?: string): void;
  terminate?(): void;
  on?(event: 'pong' | 'ping', listener: (data?: unknown) => void): unknown;
  off?(event: 'pong' | 'ping', listener: (data?: unknown) => void): unknown;
}

/**
 * A WHATWG-style WebSocket constructor: the browser's, Deno's, Bun's,
 * undici's, or `ws`'s.
 */
export type WebSocketConstructorLike = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * Where the client connects: a `ws:`/`wss:` (or `http:`/`https:`) URL, or a
 * function called anew for every attempt that returns a socket, or a promise
 * of one (B12: fetch fresh credentials per attempt, like graphql-ws's
 * `connectionParams` or SignalR's `accessTokenFactory`). The connect timeout
 * covers the wait for the promise too.
 *
 * With `resume`, a function target must add `context.query` (the resume
 * parameters of the wire format) to its URL, as a URL target gets them.
 */
export type ClientTarget = string | URL | ((context: ConnectContext) => WebSocketLike | PromiseLike<WebSocketLike>);

/**
 * What a function target is called with for each attempt: the attempt
 * number (0 on demand, then counting failures, B11) and `query`, the URL
 * query parameters to add for a resumable session (`ka=2&ka_s=…`: the
 * session's public id, never its secret, which the client proves in-band;
 * empty without `resume`), without a leading `?` or `&`.
 */
export interface ConnectContext {
  readonly attempt: number;
  readonly query: string;
}

/**
 * Options of the client's resumable session (`resumable(options)`, the value of the `resume` option, B14): the
 * replay buffer's bounds (`maxUnackedMessages`, `maxUnackedBytes`), how long
 * an acknowledgement may wait for a keep-alive to ride on (`ackDelayMs`), and
 * how long the server's hello may take (`helloTimeoutMs`). The core's
 * `ResumeOptions`.
 */
export type ClientResumeOptions = ResumeOptions;

// ---------------------------------------------------------------------------
// Options, events and the client interface.

/**
 * Where the client is (the core connection phase, B10, by its client name):
 * - `connecting`: a connection is being opened on demand: the first one, the
 *   one that ends a park (with `reconnect.whenIdle: 'lazy'`), or the one
 *   `reconnect()` starts;
 * - `open`: connected; `send` goes straight to the socket;
 * - `reconnecting`: the connection was lost (or an attempt failed or timed
 *   out); waiting for the backoff delay or opening a new socket;
 * - `parked`: only with `reconnect.whenIdle: 'lazy'`: lost while no work was
 *   in flight and nothing was queued, so the client stays disconnected on
 *   purpose (no socket, no timer) until work starts or `send()` is called;
 * - `closing`: `close()` was called; waiting for the close handshake;
 * - `closed`: closed, aborted, rejected (B12) or exhausted (B11); after
 *   rejected or exhausted, `reconnect()` starts it again.
 *
 * `'idle'` is the deprecated name of `parked`, kept in the type for one minor version so that a `case 'idle':`
 * still compiles; the client never reports it any more (match `'parked'`). "Idle" means only "no work in flight".
 */
export type KeepaliveClientState = 'connecting' | 'open' | 'reconnecting' | 'parked' | 'idle' | 'closing' | 'closed';

/**
 * What the client does when its connection is lost while no work is in
 * flight (activity total 0) and nothing is queued:
 * - `'eager'` (default): reconnect with backoff, as for any loss;
 * - `'lazy'`: do not reconnect: park (state `parked`, event `parked`) and
 *   connect again at once when work starts on the activity (total 0 → 1) or
 *   `send()` is called. A loss while work is in flight (or with messages
 *   queued) reconnects with backoff either way; a backoff delay that ends
 *   once the work is done and the queue is empty parks instead of connecting.
 */
export type ReconnectWhenIdle = WhenIdle;

/**
 * The client's reconnect options: the backoff policy of the core (spec B6)
 * plus `whenIdle`.
 */
export type ClientReconnectOptions = ConnectionReconnectOptions;

/**
 * Options of {@link createKeepaliveClient}: the activity options (when the
 * client creates its activity) plus the client's own.
 */
export interface KeepaliveClientOptions extends SessionActivityOptions {
  /**
   * The scheduler to run on. Default: node-timers' `defaultClientScheduler()`, the process-wide
   * `defaultScheduler()` (one timer for every session, server and client) on Node, Bun and Deno, and
   * one small scheduler for the page's clients in a browser build (the `browser` export condition).
   */
  readonly scheduler?: Scheduler | undefined;
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
  /**
   * A WHATWG WebSocket constructor to use for a URL target (undici's, the browser's, Deno's, Bun's). Default: the
   * global `WebSocket` in browsers, Bun and Deno; `ws` on Node (the `node` export condition).
   */
  readonly WebSocket?: WebSocketConstructorLike | undefined;
  /** Subprotocols for a URL target. */
  readonly protocols?: string | readonly string[] | undefined;
  /**
   * Reconnect policy (spec B6, B11). Default: 500 ms initial, ×2, capped at 30 s, backoff level reset after 60 s up,
   * never gives up (`maxAttempts` counts consecutive attempts that failed to open),
   * `whenIdle: 'eager'` (reconnect even when no work is in flight; `'lazy'` waits for work: see {@link ReconnectWhenIdle}).
   * Eager behind a reclaimer (a proxy's idle timeout) is cut and reconnects every idle timeout: after three such
   * cycles in a row a warn diagnostic `idle_churn` names the two options that stop it.
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
  /**
   * An attempt that has not opened within this long (the target's promise and the handshake
   * together) is abandoned and counts as failed (B10). Default 10 000 ms (Socket.IO: 20 s).
   */
  readonly connectTimeoutMs?: number | undefined;
  /**
   * Close codes that mean "do not retry as is": the client ends with a `rejected` event (B12).
   * Default `TERMINAL_CLOSE_CODES` of `@keepalive/core`: 1002, 1003, 1007, 1008 (but not a `ping_flood` close),
   * 1010, 4401, 4403. `[]` retries every close. 4001 (the resumable session was taken over by a connection that
   * proved its secret) and 1013 (try again later) are retried, backing off at least half the backoff's ceiling.
   */
  readonly terminalCloseCodes?: readonly number[] | undefined;
  /**
   * Closed by the server for a ping flood (1008 `ping_flood`), the client doubles
   * `heartbeatIntervalMs` up to this bound (B13). Default the larger of 60 000 ms and
   * `heartbeatIntervalMs`.
   */
  readonly maxHeartbeatIntervalMs?: number | undefined;
  /**
   * B5 while idle: while no keep-alive runs (no work in flight), an open connection that receives nothing for this
   * long is dead (`dead-peer`, the socket destroyed, a reconnect). Only against a server that probes idle clients
   * (our servers do only with `idlePingIntervalMs`: by default they leave idle clients quiet, B16), set above that
   * interval plus a margin, to notice a half-open idle connection without sending anything. Default `null` (off).
   */
  readonly idleReadTimeoutMs?: number | null | undefined;
  /**
   * A resumable session (B14, B17, wire format v2, `docs/resume-protocol.md`) with a
   * server that speaks it (`keepAlive(wss, { resume: true })`, the Bun and Deno
   * servers): every message is kept until the server acknowledges it
   * (acknowledgements ride on keep-alives), and after a reconnect both ends
   * send again what the other has not acknowledged, so nothing is lost or
   * duplicated while the server process lives. `send` refuses with
   * `QueueFullError` past `maxUnackedMessages` / `maxUnackedBytes` (default
   * 1 000 and 1 MiB). A server that forgot the session is reported with a
   * `forgotten` event carrying what may not have arrived. Against a server
   * that does not speak it (no hello within `helloTimeoutMs`, default 2 s),
   * the client falls back to plain delivery and says so once (`session`
   * event with status `unsupported`). Negotiated in the URL (the session's
   * public id only; its secret, which the server's hello gave the client, is
   * proved in-band when the server challenges): no headers, so browsers can
   * use it. Pass `resumable()` (or `resumable(options)`, see
   * {@link ClientResumeOptions}), exported by this package: a layer the client
   * receives, so a program without it does not bundle the wire format.
   * Default off (`false`).
   */
  readonly resume?: false | ResumeLayer | undefined;
  /**
   * In a browser page, follow its lifecycle (B10, B15): `offline` holds reconnect attempts and `online` starts one at
   * once (no waiting out the backoff); a page visible again, or a network change, checks an open connection at once;
   * `pagehide` closes the client at once (the page is going away; the browser ends the socket with 1001). Elsewhere it
   * does nothing. Default `true`.
   */
  readonly lifecycle?: boolean | undefined;
  /** Closes the client (cause `'aborted'`) when aborted. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Payload of `open`: a connection opened. `attempt` is 0 for a connection
 * opened on demand (the first one, the one that ends a park, or after `reconnect()`) and
 * counts reconnect attempts since the last healthy connection otherwise.
 */
export interface ClientOpenEvent {
  readonly attempt: number;
}

/**
 * Payload of `message`: an inbound message (heartbeat replies are not
 * delivered). Text frames arrive as strings, binary frames as `Uint8Array`
 * (a `Buffer` with `ws`).
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
 * 'lazy'`, it parks (`parked` comes next; `client.state` is already `'parked'`)
 * and connects again when work comes back.
 */
export interface ClientCloseEvent {
  readonly code: number;
  readonly reason: string;
  readonly willReconnect: boolean;
}

/**
 * Payload of `reconnecting`: attempt `attempt` will start in `delayMs`
 * (full jitter below the backoff ceiling).
 */
export interface ClientReconnectingEvent {
  readonly attempt: number;
  readonly delayMs: number;
}

/**
 * Payload of `parked` (`reconnect.whenIdle: 'lazy'` only): the connection was
 * lost while no work was in flight and nothing was queued; the client stays
 * disconnected (state `parked`, nothing armed) until work starts on its
 * activity or `send()` is called, then connects at once (state `connecting`,
 * then `open` with `attempt` 0). `code` and `reason` are those of the loss
 * (1006 and `''` when a connection attempt failed).
 */
export interface ClientParkedEvent {
  readonly code: number;
  readonly reason: string;
}

/** @deprecated The payload of the deprecated `idle` event: use {@link ClientParkedEvent} (event `parked`). */
export type ClientIdleEvent = ClientParkedEvent;

/**
 * Payload of `dead-peer`: no proof of life came within `timeoutMs` of a
 * keep-alive; the socket is being terminated and a reconnect follows.
 */
export interface ClientDeadPeerEvent {
  readonly timeoutMs: number;
}

/**
 * Payload of `slowed` (B13): the server closed the connection for a ping
 * flood (1008 `ping_flood`), so the client doubled its keep-alive interval (up
 * to `maxHeartbeatIntervalMs`) and reconnects with the new one. A warn
 * diagnostic `keepalive_slowed` says the same.
 */
export interface ClientSlowedEvent {
  readonly heartbeatIntervalMs: number;
  readonly previousIntervalMs: number;
}

/**
 * Payload of `rejected` (B12): the server closed with a code in
 * `terminalCloseCodes` (a policy or protocol error, or 4401/4403 for auth);
 * the client does not retry as is and closes for good (`closed` follows with
 * cause `rejected`).
 */
export interface ClientRejectedEvent {
  readonly code: number;
  readonly reason: string;
}

/**
 * Why the client closed for good: `close()` was called (or it was
 * disposed), its `signal` was aborted, `reconnect.maxAttempts` consecutive
 * attempts failed to open (B11), or the server closed with a terminal code
 * (`rejected`, B12).
 */
export type ClientClosedCause = ConnectionCloseCause;

/**
 * Payload of `closed` and the value `close()` resolves to: the client is
 * closed for good. `undelivered` holds every message that was queued and
 * never handed to an open socket, and with `resume` every message the server
 * had not acknowledged, oldest first (nothing is dropped silently). Its first
 * `written` messages were written to a server and may have arrived; the rest
 * never left, so they can be sent again without a doubt.
 */
export interface ClientClosedEvent {
  readonly cause: ClientClosedCause;
  readonly code: number;
  readonly reason: string;
  readonly undelivered: readonly QueuedMessage[];
  /** How many of `undelivered`, from the first, were written (with `resume`; may have arrived). The rest never left. */
  readonly written: number;
  /** The activity's shutdown report (S9): what was in flight when the client closed. */
  readonly report: ShutdownReport;
}

/**
 * Every event of a {@link KeepaliveClient} and its payload.
 */
export interface KeepaliveClientEvents {
  open: ClientOpenEvent;
  message: ClientMessageEvent;
  close: ClientCloseEvent;
  reconnecting: ClientReconnectingEvent;
  parked: ClientParkedEvent;
  /**
   * @deprecated The old name of `parked`, emitted right after it with the same payload for one minor version:
   * listen to `parked`. ("Idle" means only "no work in flight".)
   */
  idle: ClientParkedEvent;
  'dead-peer': ClientDeadPeerEvent;
  slowed: ClientSlowedEvent;
  rejected: ClientRejectedEvent;
  closed: ClientClosedEvent;
  session: ClientSessionEvent;
  forgotten: ClientForgottenEvent;
  unconfirmed: ClientUnconfirmedEvent;
  error: Error;
}

/**
 * Payload of `session` (with `resume`, B14): how the resumable session came
 * up on a connection: `new`, `resumed` (with `retransmitted` messages sent
 * again), `forgotten` (the server did not know it: a `forgotten` event
 * hands back what may not have arrived), or `unsupported` (the server does
 * not speak the wire format: the client falls back to plain delivery for
 * good; a warn diagnostic `resume_unsupported` says so once).
 */
export interface ClientSessionEvent {
  readonly status: NegotiatedStatus;
  readonly retransmitted: number;
}

/**
 * Payload of `forgotten` (with `resume`, B14): the server did not know the
 * session any more (it restarted without a store, or the session expired).
 * `messages` are the ones written to it and not acknowledged, oldest first:
 * they may or may not have arrived; the application decides whether to send
 * them again. Messages never written are not here: they go on, in order, as
 * the new session's first ones. A new session starts.
 */
export interface ClientForgottenEvent {
  readonly messages: readonly QueuedMessage[];
}

/**
 * Payload of `unconfirmed` (without a resumable session, B14): a connection
 * was lost with messages written since the peer last proved it had them
 * (it answered a keep-alive sent after them). They may be lost. `messages`
 * holds copies of the newest of them, oldest first (at most
 * `maxQueuedMessages`); `uncopied` counts older ones past that bound.
 */
export interface ClientUnconfirmedEvent {
  readonly messages: readonly QueuedMessage[];
  readonly uncopied: number;
}

/**
 * A WebSocket client that stays alive while its activity is busy: protocol
 * pings (or heartbeat messages) while work is in flight, a dead-peer verdict
 * when the peer stops answering, reconnects with backoff, and a bounded
 * queue for messages sent while disconnected.
 */
export interface KeepaliveClient extends AsyncDisposable {
  /**
   * The client's activity: start work on it (`run`, `start`); while work is in flight the
   * client sends keep-alives (S4). The client attaches and detaches it with its connections.
   */
  readonly activity: WorkActivity;
  /** Where the client is. */
  readonly state: KeepaliveClientState;
  /**
   * Messages queued while disconnected, waiting for the next connection; with `resume`, every message the server
   * has not acknowledged yet (kept for retransmission).
   */
  readonly queuedMessages: number;
  /** The keep-alive interval in use: `heartbeatIntervalMs`, doubled after each ping-flood close (B13). */
  readonly heartbeatIntervalMs: number;
  /**
   * The round-trip time to the server, measured by the answered keep-alives (pings and their pongs, or heartbeat
   * messages answered in kind; no extra frames): the latest sample, the smoothed time and its variation (RFC 6298),
   * the smallest, and how many samples. Kept across reconnects; times in milliseconds, `null` before the first
   * answer. Keep-alives go out only while work is in flight (S4), so an idle client takes no samples.
   */
  readonly rtt: RoundTripTime;
  /**
   * Milliseconds since the server was last heard from on the current (or last) socket: any frame, or the socket
   * opening; `null` before any socket opened.
   */
  readonly silentMs: number | null;
  /**
   * Sends `data` now when open (the message then counts as sent: it is never sent twice),
   * or queues a copy to send in order after the next connect (in state `parked`, that connect
   * starts at once). Throws {@link QueueFullError}
   * past the queue bounds, {@link ClientClosedError} once closed, `TypeError` for other data and for the heartbeat
   * message itself (the empty string by default): that text is the keep-alive on the wire, which a server reads as
   * one (and Cloudflare's auto-response answers without passing it on), so it is refused rather than lost.
   */
  send(data: ClientData): 'sent' | 'queued';
  /**
   * Closes for good: no reconnect follows. Resolves once the socket is closed (or after
   * `closeTimeoutMs`) with the undelivered messages. Later calls return the same promise.
   * `code` is 1000 (default) or 3000–4999; `reason` at most 123 bytes.
   */
  close(code?: number, reason?: string): Promise<ClientClosedEvent>;
  /**
   * Connections lost while idle after they opened (a reclaimer's cut): a counter for a metric. With the default
   * `reconnect.whenIdle: 'eager'` each is followed by a reconnect; three in a row warn `idle_churn`.
   */
  readonly idleReclaims: number;
  /**
   * Starts the client again after it closed because the server rejected it (`rejected`, B12) or its attempts ran out
   * (`exhausted`, B11): a fresh attempt count and backoff, attempt 0 at once, its listeners kept (a client closed by
   * `close()` or its `signal` keeps none, and stays closed). `close()` then returns a new promise; work in flight at
   * the close is not carried over. Anywhere else it changes nothing and warns `restart_ignored`; it never throws.
   */
  reconnect(): void;
  /** Adds a listener; returns a function that removes it. Listener errors never escape (they go to `error`). */
  on<K extends keyof KeepaliveClientEvents>(event: K, listener: (payload: KeepaliveClientEvents[K]) => void): () => void;
  /** Adds a listener called at most once; returns a function that removes it (`await events.once(client, 'open')` works too). */
  once<K extends keyof KeepaliveClientEvents>(event: K, listener: (payload: KeepaliveClientEvents[K]) => void): () => void;
  /** Removes a listener added with `on` or `once`. */
  off<K extends keyof KeepaliveClientEvents>(event: K, listener: (payload: KeepaliveClientEvents[K]) => void): void;
  /**
   * Adds a listener as an `EventTarget` does (called with the payload, not an `Event`): `{ once: true }` removes it
   * before its first call, `{ signal }` when the signal aborts. Listener errors never escape, as with `on`.
   */
  addEventListener<K extends keyof KeepaliveClientEvents>(event: K, listener: EmitterListener<KeepaliveClientEvents[K]> | null, options?: EmitterListenerOptions | boolean): void;
  /** Removes a listener added with `addEventListener`. */
  removeEventListener<K extends keyof KeepaliveClientEvents>(event: K, listener: EmitterListener<KeepaliveClientEvents[K]> | null): void;
  /**
   * The inbound messages as an async iterator, from now on, in order: `for await (const { data } of client.messages())`.
   * It ends when the client closes (after what it buffered); leaving the loop removes its listener. At most
   * `maxBuffered` (default 1 000) messages wait while the loop body runs: one more ends it with a
   * `BufferOverflowError` after the ones kept, never a silent drop.
   */
  messages(options?: ClientMessagesOptions): AsyncIterableIterator<ClientMessageEvent>;
}

/**
 * Thrown by `send` once the client is closed (or closing).
 */
export class ClientClosedError extends Error {
  constructor() {
    super('The keepalive client is closed: send() is no longer accepted');
    this.name = 'ClientClosedError';
  }
}

/**
 * The client's defaults.
 */
// A pure call (the annotation) around the reads: a program that does not read these tables does not bundle them.
export const CLIENT_DEFAULTS = /* @__PURE__ */ (() =>
  Object.freeze({
    pongTimeoutMs: CONNECTION_DEFAULTS.pongTimeoutMs,
    maxQueuedMessages: CONNECTION_DEFAULTS.maxQueuedMessages,
    maxQueuedBytes: CONNECTION_DEFAULTS.maxQueuedBytes,
    closeTimeoutMs: CONNECTION_DEFAULTS.closeTimeoutMs,
    connectTimeoutMs: CONNECTION_DEFAULTS.connectTimeoutMs,
    keepaliveFrame: 'auto',
  } as const))();

/**
 * Diagnostics the client emits (to `logger`, `onDiagnostic` and the
 * `keepalive:diagnostics` channel), besides its activity's: counts, codes,
 * durations and error names only (spec S10), never URLs or payloads.
 *
 * The connection machine's (`CONNECTION_DIAGNOSTICS` of `@keepalive/core`: `connect_failed`,
 * `connect_timeout`, `connection_lost`, `close_timeout`, `parked`,
 * `unparked`, `idle_churn`, `restarted`, `restart_ignored`, `rejected`, `keepalive_slowed`, `ping_flood_at_bound`,
 * `queue_flushed`, `undelivered`, `client_closed`), the reconnect machine's
 * (`reconnecting`, `reconnected`, `reconnect_exhausted`), the session's, and
 * the driver's own:
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `socket_error` | warn | `error` |
 * | `listener_failed` | warn | `event`, `error` |
 */
export const CLIENT_DIAGNOSTICS = /* @__PURE__ */ (() =>
  Object.freeze({
    ...CONNECTION_DIAGNOSTICS,
    reconnecting: RECONNECT_DIAGNOSTICS.reconnecting,
    reconnected: RECONNECT_DIAGNOSTICS.reconnected,
    reconnectExhausted: RECONNECT_DIAGNOSTICS.exhausted,
    ...RESUME_DIAGNOSTICS,
    socketError: 'socket_error',
    listenerFailed: 'listener_failed',
  } as const))();

export type { RoundTripTime } from '@keepalive/core';
