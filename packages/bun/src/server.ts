import {
  createServerConnections,
  requestQuery,
  type PeerTracker,
  type PeerTrackerOptions,
  type QueryGetter,
  type ServerConnection,
  type SessionHub,
  type SessionHubCloseOptions,
  type SessionHubOptions,
  type TrackerStats,
} from '@keepalive/websocket-transport/peer';
import { defaultScheduler } from './platform.js';

/**
 * What the keep-alive needs from a Bun `ServerWebSocket` (a local interface:
 * no `bun-types` dependency). Bun's own type is assignable to it.
 */
export interface BunServerWebSocketLike {
  /** Sends a protocol ping (with `resume`, its payload may carry an acknowledgement). */
  ping(data?: string): unknown;
  /** Sends a message: text, or binary (a resumable session's binary messages). */
  send(data: string | ArrayBuffer | ArrayBufferView): unknown;
  /** Closes with a close frame. */
  close(code?: number, reason?: string): unknown;
  /** Destroys the connection at once (no close handshake); Bun ≥ 1.1 has it. */
  terminate?(): unknown;
  /**
   * What the app passed as `data` to `server.upgrade(request, { data })`. With `resume`, {@link withKeepalive} reads
   * the request URL from `data.url` (a string or a `URL`): upgrade with `server.upgrade(request, { data: { url: request.url } })`.
   */
  readonly data?: unknown;
}

/**
 * A message as Bun delivers it to a `websocket.message` handler: a string for
 * a text frame, a `Buffer` (a `Uint8Array`) for a binary one.
 */
export type BunMessage = string | ArrayBuffer | ArrayBufferView;

/**
 * The `websocket` handler object of `Bun.serve` (a local interface: Bun's
 * `WebSocketHandler<T>` is assignable to it). Settings such as
 * `maxPayloadLength` or `perMessageDeflate` are passed through unchanged.
 */
export interface BunWebSocketHandlerLike {
  message(ws: BunServerWebSocketLike, message: BunMessage): unknown;
  open?(ws: BunServerWebSocketLike): unknown;
  close?(ws: BunServerWebSocketLike, code: number, reason: string): unknown;
  ping?(ws: BunServerWebSocketLike, data: ArrayBufferView): unknown;
  pong?(ws: BunServerWebSocketLike, data: ArrayBufferView): unknown;
  drain?(ws: BunServerWebSocketLike): unknown;
  /** Bun's own idle timeout in seconds (its default is 120); {@link withKeepalive} defaults it to 0 (off). */
  idleTimeout?: number;
  /** Whether Bun sends its own pings before `idleTimeout`; {@link withKeepalive} defaults it to `false`. */
  sendPings?: boolean;
}

/**
 * Options of {@link withKeepalive}: the peer options (`pingIntervalMs`,
 * `pongTimeoutMs`, `idleCloseMs`, `minPingIntervalMs`, `maxPingStrikes`,
 * `terminateDeadPeers`), the scheduler (default: this package's Bun
 * scheduler), a diagnostics hook, and the heartbeat message answered for
 * clients that cannot ping.
 */
export interface BunKeepaliveOptions extends PeerTrackerOptions {
  /**
   * The application-level heartbeat clients may send; answered in kind. A string of at most 125 UTF-8 bytes (a
   * control frame's payload limit), as in every runtime. Default {@link HEARTBEAT_MESSAGE} (the empty text frame).
   */
  readonly heartbeatMessage?: string | undefined;
  /**
   * Resumable sessions (spec B14, B17, wire format v2) for clients that ask for them (`ka=2` in the URL): `true` for
   * the defaults, or the `SessionHubOptions` (the hub's scheduler, `onDiagnostic` and `heartbeatMessage` default to
   * this keep-alive's). A bad option throws `KeepaliveOptionError` naming it as `resume.<option>`. Default off.
   *
   * Bun's `ServerWebSocket` has no URL: upgrade with `server.upgrade(request, { data: { url: request.url } })` so the
   * hub can read the query from `ws.data.url`. A connection without one is served as a plain client, and a warn
   * diagnostic `resume_url_missing` ({@link BUN_SERVER_DIAGNOSTICS}) says so once. Plain clients are untouched. See
   * {@link BunServerKeepalive.sessions}.
   *
   * The session id in the URL is public: a client that names a session must prove its secret in-band before anything
   * about the session changes (B17). The `admit` hook (`resume: { admit }`) is then asked, with a
   * {@link BunSessionContext} (the socket, whose `data` is what you passed to `server.upgrade`: put the user's
   * identity there and check it against the session's owner), before a session is made or changes hands.
   */
  readonly resume?: boolean | SessionHubOptions<BunSessionContext> | undefined;
}

/**
 * Diagnostics of {@link withKeepalive} besides the tracker's and the hub's (names only, never URLs or session ids):
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `resume_url_missing` | warn | none (resume is on, but a socket's `data.url` is missing or unreadable: served as a plain client; reported once) |
 */
export const BUN_SERVER_DIAGNOSTICS = Object.freeze({ resumeUrlMissing: 'resume_url_missing' } as const);

/**
 * The keep-alive behind a wrapped handler: counters and a way to stop.
 */
export interface BunServerKeepalive extends Disposable {
  /** Connections tracked now. */
  readonly size: number;
  /** Counters: pings sent, heartbeats answered, dead, idle and flood closes, malformed heartbeats, handler errors. */
  stats(): TrackerStats;
  /**
   * Stops tracking every connection (sockets stay open; the handlers then only pass events through) and closes the
   * hub when `resume` is on: with a store, every session is handed over to it (its last state written, then its
   * socket closed with 1012, and its client resumes on the next process); without a store, or with
   * `{ endSessions: true }`, every session ends (1001).
   */
  close(options?: SessionHubCloseOptions): void;
  /** Resolves once `close` was called and the hub's store wrote what the close left it (at once without a hub). Never rejects. */
  readonly closed: Promise<void>;
  /** The tracker behind it. */
  readonly tracker: PeerTracker;
  /**
   * The resumable sessions (spec B14) when the `resume` option is on, else `null`. A resuming client's messages are
   * read by the hub and are **not** passed to your `message` handler: read them from its session
   * (`session.on('message')`), and send with `session.send()`, not `ws.send()` (what is written on the socket
   * directly is neither numbered nor kept for a reconnect). Plain clients' messages reach your handler as before.
   * Closing the keep-alive hands every session over to the hub's store (without one, ends it: 1001). The hub's `refused` event reports
   * the connections it turned away (a wrong secret, the `admit` hook, a handshake timeout, a v1 client), with the
   * socket as `context`; the session they named was not touched (B17).
   */
  readonly sessions: SessionHub<BunSessionContext> | null;
}

/**
 * What a `session` or `refused` event of a resumable `withKeepalive` handler carries as its `context`, and what its
 * `admit` hook is asked with: the connection's `ServerWebSocket` (its `data` holds what the app passed to
 * `server.upgrade`: the request URL, and whatever identifies the user, to authenticate against the session's owner).
 */
export interface BunSessionContext {
  readonly ws: BunServerWebSocketLike;
}

/**
 * The keep-alive of a handler with resumable sessions on: {@link BunServerKeepalive} whose `sessions` is the hub.
 */
export interface ResumableBunServerKeepalive extends BunServerKeepalive {
  readonly sessions: SessionHub<BunSessionContext>;
}

/**
 * A handler returned by {@link withKeepalive}: the given handler with
 * keep-alive wired in, plus {@link BunServerKeepalive} as `keepalive`
 * ({@link ResumableBunServerKeepalive} with `resume` on).
 */
export type KeepaliveWebSocketHandler<H extends BunWebSocketHandlerLike, K extends BunServerKeepalive = BunServerKeepalive> = H & {
  readonly keepalive: K;
};

/** The request URL an app put in `ws.data.url` (a string or a `URL`), as its query; `null` when missing or unreadable. */
function queryOf(data: unknown): QueryGetter | null {
  if (typeof data !== 'object' || data === null) return null;
  let url: unknown;
  try {
    url = (data as { readonly url?: unknown }).url;
  } catch {
    return null;
  }
  return url instanceof URL || typeof url === 'string' ? requestQuery(url) : null;
}

/**
 * Wraps a `Bun.serve` `websocket` handler object so that every
 * `ServerWebSocket` gets server-side keep-alive driven by the core's peer
 * machine, on one shared timer (no timer per socket):
 *
 * - a protocol ping (`ws.ping()`) every `pingIntervalMs`, each connection on
 *   its own phase; the `pong` handler is the proof of life;
 * - a connection that shows no life (pong, ping or message) within
 *   `pongTimeoutMs` of a ping is terminated (`ws.terminate()`);
 * - with `idleCloseMs`, connections silent for that long are closed with 4000;
 * - a client pinging (or sending heartbeat messages) faster than
 *   `minPingIntervalMs`, past `maxPingStrikes`, is closed with 1008;
 * - the heartbeat message of clients that cannot ping is answered in kind.
 *
 * `open`, `message`, `ping`, `pong` and `close` feed the tracker first, then
 * call yours (every message is passed on, heartbeats included: skip them with
 * `classifyMessage(message) !== 'data'`). Other fields are kept, except that
 * Bun's own `idleTimeout` and `sendPings` default to off (0 and `false`) so the
 * core is the only keep-alive policy; set them to keep Bun's.
 *
 * With `resume` on, clients that ask (`ka=2` in the URL) get resumable
 * sessions (spec B14, B17, wire format v2) from `websocket.keepalive.sessions`:
 * the server numbers its messages, keeps them until acknowledged and
 * retransmits them after a reconnect; the client's messages are delivered once
 * and in order. The hub reads the request URL from `ws.data.url`, so upgrade
 * with `server.upgrade(request, { data: { url: request.url } })`. The hub's
 * first frame goes out in `open`, before your `open` runs (write nothing on a
 * resuming client's socket yourself): the hello of a new session, or the
 * challenge to a client that names one; a resumed session's hello follows only
 * once the client proved the session's secret in-band and the `admit` hook
 * accepted it (a wrong secret is closed with 4403, no proof within
 * `handshakeTimeoutMs` with 4408, and the session's owner is untouched). A
 * resuming client's messages go to its session, never to your `message`
 * handler; `open`, `ping`, `pong` and `close` still reach yours. A v1 client
 * (`ka=1`) is closed with 1002.
 *
 * @example
 * ```ts
 * import { connectWithKeepalive, createSessionActivity, withKeepalive } from '@keepalive/bun';
 *
 * const websocket = withKeepalive(
 *   { message: (ws, message) => ws.send(`echo: ${message}`) },
 *   { pingIntervalMs: 500, pongTimeoutMs: 250, minPingIntervalMs: 100 },
 * );
 * const server = Bun.serve({
 *   hostname: '127.0.0.1',
 *   port: 0,
 *   fetch: (request, srv) => (srv.upgrade(request) ? undefined : new Response('upgrade required', { status: 426 })),
 *   websocket,
 * });
 *
 * const activity = createSessionActivity({ heartbeatIntervalMs: 200, pongTimeoutMs: 500, logger: console });
 * const socket = connectWithKeepalive(`ws://127.0.0.1:${server.port}`, activity);
 * await new Promise((resolve) => socket.addEventListener('open', resolve));
 *
 * await activity.run('api_call', () => new Promise((resolve) => setTimeout(resolve, 1_000))); // keep-alives flow
 * console.log(activity.shutdown()); // { total: 0, active: {}, oldestActivityMs: null, keepalivesSent: 4 }
 * console.log(websocket.keepalive.stats()); // { tracked: 1, pingsSent: 2, deadPeers: 0, ... }
 * socket.close();
 * server.stop();
 * ```
 */
export function withKeepalive<H extends BunWebSocketHandlerLike>(
  handler: H,
  options: BunKeepaliveOptions & { readonly resume: true | SessionHubOptions<BunSessionContext> },
): KeepaliveWebSocketHandler<H, ResumableBunServerKeepalive>;
/** {@inheritDoc withKeepalive:0} */
export function withKeepalive<H extends BunWebSocketHandlerLike>(handler: H, options?: BunKeepaliveOptions): KeepaliveWebSocketHandler<H>;
export function withKeepalive<H extends BunWebSocketHandlerLike>(handler: H, options: BunKeepaliveOptions = {}): KeepaliveWebSocketHandler<H> {
  const given: unknown = handler;
  if (typeof given !== 'object' || given === null || typeof (given as Partial<BunWebSocketHandlerLike>).message !== 'function') {
    throw new TypeError('withKeepalive(handler): expected a Bun websocket handler object with a message() function');
  }
  // The options are checked, and the tracker and the hub made, as in every runtime; on this package's Bun scheduler.
  const server = createServerConnections<BunSessionContext, BunServerWebSocketLike>({ ...options, scheduler: options.scheduler ?? defaultScheduler() });
  // Until they close (even after the keep-alive stopped: a resuming socket's frames stay the hub's).
  const connections = new WeakMap<BunServerWebSocketLike, ServerConnection<BunServerWebSocketLike>>();
  let urlMissingReported = false;

  const open = (ws: BunServerWebSocketLike): void => {
    if (server.closed || connections.has(ws)) return;
    // Bun's ServerWebSocket has no URL: the app passes it in `data.url` when it upgrades.
    const query = server.sessions === null ? null : queryOf(ws.data);
    if (server.sessions !== null && query === null && !urlMissingReported) {
      urlMissingReported = true;
      server.report('warn', BUN_SERVER_DIAGNOSTICS.resumeUrlMissing);
    }
    // Until the hello, the hub reads the client's frames (the proof) and answers its plain heartbeat plainly.
    const connection = server.open(ws, query, query === null ? undefined : { ws });
    if (connection !== null) connections.set(ws, connection);
  };

  const wrapped: BunWebSocketHandlerLike & { readonly keepalive: BunServerKeepalive } = {
    ...handler,
    idleTimeout: handler.idleTimeout ?? 0,
    sendPings: handler.sendPings ?? false,
    open(ws) {
      try {
        open(ws);
      } catch {
        server.tracker.reportHandlerError();
      }
      return handler.open?.(ws);
    },
    message(ws, message) {
      // Heartbeats are passed on too (as always); a resuming client's frames are the hub's, never the handler's.
      if (connections.get(ws)?.onMessage(message) === 'session') return undefined;
      return handler.message(ws, message);
    },
    ping(ws, data) {
      connections.get(ws)?.onPing(data);
      return handler.ping?.(ws, data);
    },
    pong(ws, data) {
      connections.get(ws)?.onPong();
      return handler.pong?.(ws, data);
    },
    close(ws, code, reason) {
      const connection = connections.get(ws);
      connections.delete(ws);
      connection?.onClose(code);
      return handler.close?.(ws, code, reason);
    },
    keepalive: server.handle(),
  };
  return wrapped as KeepaliveWebSocketHandler<H>;
}
