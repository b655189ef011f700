import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import { CLOSE_CODES, KeepaliveOptionError, PEER_DEFAULTS, nestedOptions } from '@keepalive/core';
import { HEARTBEAT_MESSAGE, classifyMessage, type MessagePayload } from './heartbeat.js';
import { PeerTracker, type PeerTrackerOptions, type TrackedSocket, type TrackerStats } from './peer-tracker.js';
import { ADOPT, Peer } from './tracked-peer.js';
import { SessionHub, type ResumeConnection, type ResumeFrame, type ResumeSocket, type SessionHubOptions } from './resume-server.js';

/**
 * Options of {@link keepAlive}: the peer options (interval, timeout, idle
 * close, ping-flood policy), the scheduler and a diagnostics hook, plus the
 * heartbeat message answered for clients that cannot ping.
 */
export interface ServerKeepaliveOptions extends PeerTrackerOptions {
  /** The application-level heartbeat clients may send; answered in kind. Default {@link HEARTBEAT_MESSAGE}. */
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
  /** Stops tracking: removes every listener it added (sockets stay open). */
  close(): void;
  /** The tracker behind it (for custom transports). */
  readonly tracker: PeerTracker;
  /**
   * The resumable sessions (spec B14) when the `resume` option is on, else `null`. With resume on, read a resuming
   * client's messages from its session (`session.on('message')`), and send with `session.send()`, not from or to
   * the socket: its raw frames include the hello, acknowledgements, heartbeats and retransmissions, and what is
   * written on the socket directly is neither numbered nor kept for a reconnect. Plain clients' sockets work as
   * before. Closing the keep-alive ends every session (their sockets are closed with 1001).
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
 * One tracked `ws` connection in one object: the socket adapter the tracker
 * drives (its methods are on the prototype, so no closures per connection),
 * the tracker's peer (its state updated in place) and the scheduler's wake
 * target, all this object.
 */
class WsConnection extends Peer implements TrackedSocket, ResumeSocket {
  /** The resumable session's handle when the client asked for one (B14), else `null`. */
  resume: ResumeConnection | null = null;
  constructor(
    readonly ws: WebSocket,
    private readonly heartbeatMessage: string,
  ) {
    super();
  }
  ping(): void {
    // A resuming client that reads ping payloads gets the owed acknowledgement on the ping.
    const payload = this.resume?.pingPayload() ?? '';
    if (payload === '') this.ws.ping();
    else this.ws.ping(payload);
  }
  reply(): void {
    // A resumed connection answers with its own heartbeat, which carries the acknowledgement.
    this.ws.send(this.resume === null ? this.heartbeatMessage : this.resume.heartbeatReply());
  }
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    this.ws.send(data);
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
  terminate(): void {
    this.ws.terminate();
  }
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
  const { heartbeatMessage = HEARTBEAT_MESSAGE, resume, ...trackerOptions } = options;
  if (typeof heartbeatMessage !== 'string') throw new KeepaliveOptionError('heartbeatMessage', heartbeatMessage, 'a string');
  const given: unknown = resume;
  if (given !== undefined && typeof given !== 'boolean' && (typeof given !== 'object' || given === null || Array.isArray(given))) {
    throw new KeepaliveOptionError('resume', given, 'true, false or an object of resume options');
  }
  const tracker = new PeerTracker(trackerOptions);
  // The hub validates its options (named `resume.<option>`); it runs on the tracker's scheduler by default.
  const hub =
    resume === undefined || resume === false
      ? null
      : new SessionHub<WsSessionContext>({ scheduler: tracker.scheduler, onDiagnostic: trackerOptions.onDiagnostic, heartbeatMessage, ...(resume === true ? {} : resume) });
  // Each keepAlive() has its own key, so two of them on one socket never see each other's state.
  const key = Symbol('keepalive.connection');
  type Tagged = WebSocket & { [key]?: WsConnection };
  let closed = false;

  const connectionOf = (ws: WebSocket): WsConnection | undefined => (ws as Tagged)[key];

  // Shared listeners: `this` is the socket that emitted the event.
  function onPong(this: WebSocket): void {
    try {
      connectionOf(this)?.inbound('pong');
    } catch {
      tracker.reportHandlerError();
    }
  }
  function onPing(this: WebSocket, data: Buffer): void {
    try {
      const connection = connectionOf(this);
      // A resuming client's ping may carry its acknowledgement.
      connection?.resume?.ping(data);
      connection?.inbound('ping');
    } catch {
      tracker.reportHandlerError();
    }
  }
  function onMessage(this: WebSocket, data: MessagePayload, isBinary: boolean): void {
    try {
      const connection = connectionOf(this);
      if (connection === undefined) return;
      const peer = connection;
      const resumed = connection.resume;
      if (resumed !== null) {
        // The session reads the frame (control, data, retransmission); the tracker only needs to know its kind.
        peer.inbound(resumed.message(data as ResumeFrame, isBinary) === 'heartbeat' ? 'heartbeat' : 'message');
        return;
      }
      const kind = classifyMessage(data, isBinary, heartbeatMessage);
      if (kind === 'heartbeat') peer.inbound('heartbeat');
      else if (kind === 'malformed') peer.malformedHeartbeat();
      else peer.inbound('message');
    } catch {
      tracker.reportHandlerError();
    }
  }
  function onClose(this: WebSocket, code: number): void {
    try {
      untrack(this, code);
    } catch {
      tracker.reportHandlerError();
    }
  }
  // Errors end in 'close'; without a listener ws would throw them.
  function onError(): void {
    tracker.reportHandlerError();
  }

  const untrack = (ws: WebSocket, code: number = CLOSE_CODES.abnormal): void => {
    const connection = connectionOf(ws);
    if (connection === undefined) return;
    Reflect.deleteProperty(ws, key);
    ws.off('pong', onPong);
    ws.off('ping', onPing);
    ws.off('message', onMessage);
    ws.off('close', onClose);
    ws.off('error', onError);
    connection.disconnected();
    connection.resume?.closed(code);
  };

  const track = (ws: WebSocket, request?: IncomingMessage): void => {
    if (closed || connectionOf(ws) !== undefined) return;
    const connection = new WsConnection(ws, heartbeatMessage);
    (ws as Tagged)[key] = connection;
    ws.on('pong', onPong);
    ws.on('ping', onPing);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', onError);
    tracker[ADOPT](connection);
    if (hub !== null && request?.url !== undefined) {
      const query = queryOf(request.url);
      // The hello goes out now; `null` is a plain client, left as it is.
      if (query !== null) connection.resume = hub.connect(connection, (name) => query.get(name), { ws, request });
    }
  };

  const onConnection = (ws: WebSocket, request?: IncomingMessage): void => {
    try {
      track(ws, request);
    } catch {
      tracker.reportHandlerError();
    }
  };
  wss.on('connection', onConnection);
  for (const ws of wss.clients) track(ws);

  const close = (): void => {
    if (closed) return;
    closed = true;
    wss.off('connection', onConnection);
    // Sessions end first (their sockets are closed with 1001 and their handles detached).
    hub?.close();
    // The tracker knows every connection (no Set of our own); ours are the WsConnections among them.
    for (const peer of tracker.peers()) if (peer instanceof WsConnection) untrack(peer.ws);
    tracker.close();
  };
  wss.once('close', close);

  return {
    get size() {
      return tracker.size;
    },
    stats: () => tracker.stats(),
    close,
    tracker,
    sessions: hub,
    [Symbol.dispose]: close,
  };
}

/** The query of a request URL (a path such as `/ws?ka=2`), or `null` when it cannot be parsed. */
function queryOf(url: string): URLSearchParams | null {
  try {
    return new URL(url, 'http://localhost').searchParams;
  } catch {
    return null;
  }
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
  const wss = new WebSocketServer({ maxPayload: 1 << 20, ...serverOptions }, onListening);
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
  maxPayloadBytes: 1 << 20,
});
