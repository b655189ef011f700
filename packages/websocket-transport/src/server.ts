import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import { CLOSE_CODES, KeepaliveOptionError, PEER_DEFAULTS, nestedOptions } from '@keepalive/core';
import { HEARTBEAT_MESSAGE, classifyMessage, type MessagePayload } from './heartbeat.js';
import { PeerTracker, type PeerTrackerOptions, type TrackedPeer, type TrackedSocket, type TrackerStats } from './peer-tracker.js';

/**
 * Options of {@link keepAlive}: the peer options (interval, timeout, idle
 * close, ping-flood policy), the scheduler and a diagnostics hook, plus the
 * heartbeat message answered for clients that cannot ping.
 *
 * @example
 * ```ts
 * const options: ServerKeepaliveOptions = { pingIntervalMs: 30_000, pongTimeoutMs: 10_000, idleCloseMs: 300_000 };
 * ```
 */
export interface ServerKeepaliveOptions extends PeerTrackerOptions {
  /** The application-level heartbeat clients may send; answered in kind. Default {@link HEARTBEAT_MESSAGE}. */
  readonly heartbeatMessage?: string | undefined;
}

/**
 * The server-side keep-alive of one `ws` WebSocketServer.
 *
 * @example
 * ```ts
 * const heartbeat = keepAlive(wss, { pingIntervalMs: 30_000 });
 * heartbeat.stats().deadPeers;
 * heartbeat.close();
 * ```
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
}

/**
 * One tracked `ws` connection: the socket the tracker drives (its methods
 * are on the prototype, so a connection costs this small object, not a set
 * of closures) and the link back to its peer.
 */
class WsConnection implements TrackedSocket {
  peer: TrackedPeer | null = null;
  constructor(
    readonly ws: WebSocket,
    private readonly heartbeatMessage: string,
  ) {}
  ping(): void {
    this.ws.ping();
  }
  reply(): void {
    this.ws.send(this.heartbeatMessage);
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
 * @example
 * ```ts
 * import { WebSocketServer } from 'ws';
 * import { keepAlive } from '@keepalive/websocket-transport';
 * const wss = new WebSocketServer({ port: 8080, maxPayload: 1 << 20 });
 * const heartbeat = keepAlive(wss, { pingIntervalMs: 30_000, pongTimeoutMs: 10_000 });
 * ```
 */
export function keepAlive(wss: WebSocketServer, options: ServerKeepaliveOptions = {}): ServerKeepalive {
  const { heartbeatMessage = HEARTBEAT_MESSAGE, ...trackerOptions } = options;
  if (typeof heartbeatMessage !== 'string') throw new KeepaliveOptionError('heartbeatMessage', heartbeatMessage, 'a string');
  const tracker = new PeerTracker(trackerOptions);
  // Each keepAlive() has its own key, so two of them on one socket never see each other's state.
  const key = Symbol('keepalive.connection');
  const connections = new Set<WsConnection>();
  type Tagged = WebSocket & { [key]?: WsConnection };
  let closed = false;

  const connectionOf = (ws: WebSocket): WsConnection | undefined => (ws as Tagged)[key];

  // Shared listeners: `this` is the socket that emitted the event.
  function onPong(this: WebSocket): void {
    try {
      connectionOf(this)?.peer?.inbound('pong');
    } catch {
      tracker.reportHandlerError();
    }
  }
  function onPing(this: WebSocket): void {
    try {
      connectionOf(this)?.peer?.inbound('ping');
    } catch {
      tracker.reportHandlerError();
    }
  }
  function onMessage(this: WebSocket, data: MessagePayload, isBinary: boolean): void {
    try {
      const peer = connectionOf(this)?.peer;
      if (peer === null || peer === undefined) return;
      const kind = classifyMessage(data, isBinary, heartbeatMessage);
      if (kind === 'heartbeat') peer.inbound('heartbeat');
      else if (kind === 'malformed') peer.malformedHeartbeat();
      else peer.inbound('message');
    } catch {
      tracker.reportHandlerError();
    }
  }
  function onClose(this: WebSocket): void {
    try {
      untrack(this);
    } catch {
      tracker.reportHandlerError();
    }
  }
  // Errors end in 'close'; without a listener ws would throw them.
  function onError(): void {
    tracker.reportHandlerError();
  }

  const untrack = (ws: WebSocket): void => {
    const connection = connectionOf(ws);
    if (connection === undefined) return;
    Reflect.deleteProperty(ws, key);
    connections.delete(connection);
    ws.off('pong', onPong);
    ws.off('ping', onPing);
    ws.off('message', onMessage);
    ws.off('close', onClose);
    ws.off('error', onError);
    connection.peer?.closed();
  };

  const track = (ws: WebSocket): void => {
    if (closed || connectionOf(ws) !== undefined) return;
    const connection = new WsConnection(ws, heartbeatMessage);
    (ws as Tagged)[key] = connection;
    connections.add(connection);
    ws.on('pong', onPong);
    ws.on('ping', onPing);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', onError);
    connection.peer = tracker.track(connection);
  };

  const onConnection = (ws: WebSocket): void => {
    try {
      track(ws);
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
    for (const connection of [...connections]) untrack(connection.ws);
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
    [Symbol.dispose]: close,
  };
}

/**
 * Options of {@link createKeepaliveServer}: `ws` server options (a safe
 * `maxPayload` of 1 MiB by default) and the keep-alive options.
 *
 * @example
 * ```ts
 * const options: KeepaliveServerOptions = { host: '127.0.0.1', port: 0, keepalive: { idleCloseMs: 60_000 } };
 * ```
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
 * import { createKeepaliveServer } from '@keepalive/websocket-transport';
 * const { wss, heartbeat } = createKeepaliveServer({ host: '127.0.0.1', port: 8080 });
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
 *
 * @example
 * ```ts
 * SERVER_DEFAULTS.pingIntervalMs; // 30000
 * ```
 */
export const SERVER_DEFAULTS = Object.freeze({
  pingIntervalMs: PEER_DEFAULTS.pingIntervalMs,
  pongTimeoutMs: PEER_DEFAULTS.pongTimeoutMs,
  idleCloseCode: CLOSE_CODES.idleTimeout,
  floodCloseCode: CLOSE_CODES.policyViolation,
  maxPayloadBytes: 1 << 20,
});
