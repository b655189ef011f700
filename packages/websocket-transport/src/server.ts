import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type RawData, type ServerOptions, type WebSocket } from 'ws';
import { CLOSE_CODES, PEER_DEFAULTS, nestedOptions } from '@keepalive/core';
import type { PeerTracker, PeerTrackerOptions, TrackerStats } from './peer-tracker.js';
import type { SessionHub, SessionHubCloseOptions, SessionHubOptions } from './resume-server.js';
import { createServerConnections, requestQuery, type ServerConnection } from './server-connection.js';
import { trackedSocketClass } from './tracked-socket.js';

/** The largest frame {@link createKeepaliveServer} accepts by default (1 MiB): larger ones are refused with 1009. */
const MAX_PAYLOAD_BYTES = 1 << 20;

/**
 * Options of {@link keepAlive}: the peer options (interval, timeout, idle
 * close, ping-flood policy), the scheduler and a diagnostics hook, plus the
 * heartbeat message answered for clients that cannot ping.
 */
export interface ServerKeepaliveOptions extends PeerTrackerOptions {
  /**
   * The application-level heartbeat clients may send; answered in kind. A string of at most 125 UTF-8 bytes (a
   * control frame's payload limit), as in every runtime. Default {@link HEARTBEAT_MESSAGE}.
   */
  readonly heartbeatMessage?: string | undefined;
  /**
   * Resumable sessions (spec B14, B17) for clients that ask for them (`ka=2` in the URL): `true` for the defaults,
   * or the {@link SessionHubOptions} (the hub's scheduler, `onDiagnostic` and `heartbeatMessage` default to this
   * keep-alive's; its `admit` hook gets the socket and the upgrade request, to authenticate a connection before it
   * takes a session over). A bad option throws `KeepaliveOptionError` naming it as `resume.<option>`. Default off.
   * Plain clients on the same server are untouched either way. See {@link ServerKeepalive.sessions}.
   */
  readonly resume?: boolean | SessionHubOptions<WsSessionContext> | undefined;
}

/**
 * The server-side keep-alive of one `ws` WebSocketServer.
 */
export interface ServerKeepalive extends Disposable {
  /** Connections tracked now. */
  readonly size: number;
  /** Counters: pings sent, heartbeats answered, dead, idle and flood closes, malformed heartbeats, handler errors. */
  stats(): TrackerStats;
  /**
   * Stops tracking: removes every listener it added (plain sockets stay open), and closes the hub when `resume` is
   * on: with a store, every session is handed over to it (the default: its last state written, then its socket
   * closed with 1012, and its client resumes on the next process); without a store, or with
   * `{ endSessions: true }`, every session ends (1001). Await {@link ServerKeepalive.closed} before closing the store.
   * Called by itself when the `ws` server emits `close` (once `wss.close()` was called and every socket closed).
   */
  close(options?: SessionHubCloseOptions): void;
  /**
   * Resolves once `close` was called and, with resume on, the hub's store wrote what the close left it and the
   * sockets of the sessions handed over are closed. Never rejects (a store that failed is reported).
   */
  readonly closed: Promise<void>;
  /** The tracker behind it (for custom transports). */
  readonly tracker: PeerTracker;
  /**
   * The resumable sessions (spec B14) when the `resume` option is on, else `null`. With resume on, read a resuming
   * client's messages from its session (`session.on('message')`), and send with `session.send()`, not from or to
   * the socket: its raw frames include the hello, acknowledgements, heartbeats and retransmissions, and what is
   * written on the socket directly is neither numbered nor kept for a reconnect. Plain clients' sockets work as
   * before. Closing the keep-alive closes the hub: with a store its sessions are handed over (their clients resume
   * on the next process), else they end (their sockets are closed with 1001). See {@link ServerKeepalive.close}.
   */
  readonly sessions: SessionHub<WsSessionContext> | null;
}

/**
 * What a `session` event of `keepAlive(wss, { resume })` carries as its `context`: the connection's socket and its
 * upgrade request (headers, cookies, URL), to authenticate the client before trusting its session.
 */
export interface WsSessionContext {
  readonly ws: WebSocket;
  readonly request: IncomingMessage;
}

/**
 * The keep-alive of a server with resumable sessions on: {@link ServerKeepalive} whose `sessions` is the hub.
 */
export interface ResumableServerKeepalive extends ServerKeepalive {
  readonly sessions: SessionHub<WsSessionContext>;
}

/**
 * Keeps every connection of a `ws` WebSocketServer alive and honest, on one
 * shared scheduler (no timer per socket). It is the ws README's heartbeat
 * pattern done properly:
 *
 * - the server pings each connection every `pingIntervalMs`, each on its
 *   own phase, so pings are spread across the interval instead of one burst;
 * - a connection that shows no life (pong, ping, message) within
 *   `pongTimeoutMs` of a ping is terminated: detection takes at most
 *   interval + timeout (spec B5);
 * - with `idleCloseMs`, connections silent (no message, heartbeat or ping
 *   of their own) for that long are closed with code 4000
 *   (`CLOSE_CODES.idleTimeout`), like a load balancer's idle timeout;
 * - a client pinging faster than `minPingIntervalMs` collects strikes; past
 *   `maxPingStrikes` it is closed with 1008 (spec B8);
 * - the empty-text heartbeat of clients that cannot ping is answered in
 *   kind; empty binary or whitespace-only frames count as malformed
 *   heartbeats: proof of life, not answered, counted;
 * - all state of a socket is removed when it closes, and no exception from
 *   a socket escapes a handler.
 *
 * The listeners are shared by every connection of a server (they find the
 * connection through a private symbol on the socket), so a connection adds
 * a few small objects and no closures.
 *
 * Set `maxPayload` on the server (or use {@link createKeepaliveServer}) so
 * oversized frames are refused with 1009.
 *
 * With `resume` on, clients that ask (`ka=2` in the URL) get resumable
 * sessions (spec B14) from {@link ServerKeepalive.sessions}; a client resumes
 * only with its session's secret, proved in-band (B17): the server
 * numbers its messages, keeps them until acknowledged and retransmits them
 * after a reconnect; the client's messages are delivered once and in order.
 * Read and write those clients' messages through their sessions, never
 * through `ws.on('message')` / `ws.send()` (raw frames include control
 * frames and retransmissions), and apply `keepAlive()` before adding your
 * own `connection` listener that writes, so the hello is the first frame.
 * Only connections made after `keepAlive()` can resume (the request URL is
 * read from the `connection` event).
 *
 * @example
 * ```ts
 * import type { AddressInfo } from 'node:net';
 * import { WebSocketServer } from 'ws';
 * import { createKeepaliveClient, keepAlive, resumable } from '@keepalive/websocket-transport';
 *
 * // The server: sessions that outlive their connections (B14).
 * const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
 * await new Promise((resolve) => wss.once('listening', resolve));
 * const heartbeat = keepAlive(wss, { resume: { sessionTtlMs: 60_000 } });
 * heartbeat.sessions.on('session', ({ session, resumed, restored }) => {
 *   if (resumed && !restored) return; // the same object as before: its listeners are in place
 *   session.on('message', (message) => session.send(`echo ${String(message)}`));
 *   session.on('expired', ({ unacked }) => console.warn(`${unacked.length} messages never acknowledged`));
 * });
 *
 * // The client: every message kept until the server acknowledges it, sent again after a reconnect.
 * const client = createKeepaliveClient(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { resume: resumable() });
 * client.on('session', ({ status, retransmitted }) => console.log(`session ${status}, ${retransmitted} sent again`));
 * client.on('forgotten', ({ messages }) => console.warn(`the server lost our session: ${messages.length} may not have arrived`));
 * const echoes: string[] = [];
 * const done = new Promise<void>((resolve) =>
 *   client.on('message', ({ data }) => {
 *     echoes.push(String(data));
 *     if (echoes.length === 2) resolve();
 *   }),
 * );
 * client.send('kept until the server acknowledges it');
 * client.send('and this one, in order');
 * await done;
 * console.log(echoes); // [ 'echo kept until the server acknowledges it', 'echo and this one, in order' ]
 * await client.close();
 * heartbeat.close();
 * wss.close();
 * ```
 */
export function keepAlive(wss: WebSocketServer, options: ServerKeepaliveOptions & { readonly resume: true | SessionHubOptions<WsSessionContext> }): ResumableServerKeepalive;
/** {@inheritDoc keepAlive:0} */
export function keepAlive(wss: WebSocketServer, options?: ServerKeepaliveOptions): ServerKeepalive;
export function keepAlive(wss: WebSocketServer, options: ServerKeepaliveOptions = {}): ServerKeepalive {
  // The options are checked, and the tracker and the hub made, as in every runtime.
  const server = createServerConnections<WsSessionContext, WebSocket>(options);
  // Each keepAlive() has its own key, so two of them on one socket never see each other's state.
  const key = Symbol('keepalive.connection');
  type Tagged = WebSocket & { [key]?: ServerConnection<WebSocket> };
  const connectionOf = (ws: WebSocket): ServerConnection<WebSocket> | undefined => (ws as Tagged)[key];

  // Shared listeners: `this` is the socket that emitted the event. The connection catches what its handlers throw.
  function onPong(this: WebSocket): void {
    connectionOf(this)?.onPong();
  }
  function onPing(this: WebSocket, data: Buffer): void {
    connectionOf(this)?.onPing(data);
  }
  function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    connectionOf(this)?.onMessage(data, isBinary);
  }
  function onClose(this: WebSocket, code: number): void {
    try {
      untrack(this, code);
    } catch {
      server.tracker.reportHandlerError();
    }
  }
  // Errors end in 'close'; without a listener ws would throw them.
  function onError(): void {
    server.tracker.reportHandlerError();
  }

  // The sockets this server makes from now on are of a subclass that reads their events as they are emitted (no
  // listener and no added property per socket: the connection is a field of the socket). Sockets made before, or by a
  // `ws` without the `WebSocket` option, get the shared listeners.
  const wsOptions = (wss as { options?: { WebSocket?: unknown } }).options;
  const Base = wsOptions?.WebSocket;
  const Tracked = typeof Base === 'function' ? trackedSocketClass(Base as typeof WebSocket, server.tracker) : null;
  if (Tracked !== null && wsOptions !== undefined) wsOptions.WebSocket = Tracked;

  const untrack = (ws: WebSocket, code?: number): void => {
    if (Tracked?.release(ws, code) === true) return;
    const connection = connectionOf(ws);
    if (connection === undefined) return;
    Reflect.deleteProperty(ws, key);
    ws.off('pong', onPong);
    ws.off('ping', onPing);
    ws.off('message', onMessage);
    ws.off('close', onClose);
    ws.off('error', onError);
    connection.onClose(code);
  };

  const track = (ws: WebSocket, request?: IncomingMessage): void => {
    const tracked = Tracked !== null && ws instanceof Tracked ? Tracked : null;
    if (tracked !== null ? tracked.connectionOf(ws) !== null : connectionOf(ws) !== undefined) return;
    // Only a connection whose upgrade request is at hand can resume (the request URL is read from the `connection` event).
    const query = server.sessions === null || request?.url === undefined ? null : requestQuery(request.url);
    const connection = server.open(ws, query, query === null || request === undefined ? undefined : { ws, request });
    if (connection === null) return;
    if (tracked !== null) {
      tracked.attach(ws, connection);
      return;
    }
    (ws as Tagged)[key] = connection;
    ws.on('pong', onPong);
    ws.on('ping', onPing);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', onError);
  };

  const onConnection = (ws: WebSocket, request?: IncomingMessage): void => {
    try {
      track(ws, request);
    } catch {
      server.tracker.reportHandlerError();
    }
  };
  wss.on('connection', onConnection);
  for (const ws of wss.clients) track(ws);

  const close = (closeOptions?: SessionHubCloseOptions): void => {
    if (server.closed) return;
    wss.off('connection', onConnection);
    // Sockets made from now on are plain again.
    if (Tracked !== null && wsOptions?.WebSocket === Tracked) wsOptions.WebSocket = Base;
    const open = server.connections();
    // The hub closes first (its sessions handed over or ended, their handles detached), then tracking stops.
    server.close(closeOptions);
    for (const connection of open) untrack(connection.socket);
  };
  // Once `wss.close()` was called and every socket closed: the sessions left waiting for their clients are handed
  // over (or end, without a store).
  wss.once('close', () => {
    close();
  });
  return server.handle(close);
}

/**
 * Options of {@link createKeepaliveServer}: `ws` server options (a safe
 * `maxPayload` of 1 MiB by default) and the keep-alive options.
 */
export interface KeepaliveServerOptions extends ServerOptions {
  readonly keepalive?: ServerKeepaliveOptions | undefined;
}

/**
 * A `ws` WebSocketServer with {@link keepAlive} applied and `maxPayload`
 * set (default 1 MiB: larger frames are refused with 1009). A bad
 * keep-alive option throws a `KeepaliveOptionError` naming it as
 * `keepalive.<option>` (and the server is closed).
 *
 * @example
 * ```ts
 * import type { AddressInfo } from 'node:net';
 * import { classifyMessage, createKeepaliveClient, createKeepaliveServer } from '@keepalive/websocket-transport';
 *
 * const { wss, heartbeat } = createKeepaliveServer({
 *   host: '127.0.0.1',
 *   port: 0, // maxPayload defaults to 1 MiB: bigger frames are refused with 1009
 *   keepalive: { pingIntervalMs: 30_000, pongTimeoutMs: 10_000, idleCloseMs: 300_000 },
 * });
 * wss.on('connection', (ws) =>
 *   ws.on('message', (data, isBinary) => {
 *     if (classifyMessage(data, isBinary) !== 'data') return; // heartbeats are the library's business
 *     ws.send(data);
 *   }),
 * );
 * await new Promise((resolve) => wss.once('listening', resolve));
 *
 * const client = createKeepaliveClient(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
 * client.send('ping me back');
 * console.log(await new Promise((resolve) => client.on('message', ({ data }) => resolve(String(data))))); // ping me back
 * console.log(heartbeat.stats()); // { tracked: 1, pingsSent, heartbeatsAnswered, deadPeers: 0, idleClosed: 0, ... }
 * await client.close();
 * heartbeat.close();
 * wss.close();
 * ```
 */
export function createKeepaliveServer(
  options: KeepaliveServerOptions = {},
  onListening?: () => void,
): { wss: WebSocketServer; heartbeat: ServerKeepalive } {
  const { keepalive, ...serverOptions } = options;
  const wss = new WebSocketServer({ maxPayload: MAX_PAYLOAD_BYTES, ...serverOptions }, onListening);
  try {
    return { wss, heartbeat: nestedOptions('keepalive', keepalive, (given) => keepAlive(wss, given)) };
  } catch (error) {
    // Refused keep-alive options (reported as `keepalive.<option>`): do not leave the server listening.
    wss.close();
    throw error;
  }
}

/**
 * The server defaults beside the peers' (documentation and tests).
 */
export const SERVER_DEFAULTS = Object.freeze({
  pingIntervalMs: PEER_DEFAULTS.pingIntervalMs,
  pongTimeoutMs: PEER_DEFAULTS.pongTimeoutMs,
  idleCloseCode: CLOSE_CODES.idleTimeout,
  floodCloseCode: CLOSE_CODES.policyViolation,
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
});
