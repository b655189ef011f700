import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import { CLOSE_CODES, PEER_DEFAULTS } from '@keepalive/core';
import { HEARTBEAT_MESSAGE, classifyMessage, type MessagePayload } from './heartbeat.js';
import { PeerTracker, type PeerTrackerOptions, type TrackedPeer, type TrackerStats } from './peer-tracker.js';

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

interface Listeners {
  readonly peer: TrackedPeer;
  readonly pong: () => void;
  readonly ping: () => void;
  readonly message: (data: MessagePayload, isBinary: boolean) => void;
  readonly close: () => void;
  readonly error: () => void;
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
  if (typeof heartbeatMessage !== 'string') throw new TypeError(`Invalid option heartbeatMessage: expected a string`);
  const tracker = new PeerTracker(trackerOptions);
  const sockets = new Map<WebSocket, Listeners>();
  let closed = false;

  const untrack = (ws: WebSocket): void => {
    const listeners = sockets.get(ws);
    if (listeners === undefined) return;
    sockets.delete(ws);
    ws.off('pong', listeners.pong);
    ws.off('ping', listeners.ping);
    ws.off('message', listeners.message);
    ws.off('close', listeners.close);
    ws.off('error', listeners.error);
    listeners.peer.closed();
  };

  const track = (ws: WebSocket): void => {
    if (closed || sockets.has(ws)) return;
    const peer = tracker.track({
      ping: () => {
        ws.ping();
      },
      reply: () => {
        ws.send(heartbeatMessage);
      },
      close: (code, reason) => {
        ws.close(code, reason);
      },
      terminate: () => {
        ws.terminate();
      },
    });
    const guard =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A): void => {
        try {
          fn(...args);
        } catch {
          tracker.reportHandlerError();
        }
      };
    const listeners: Listeners = {
      peer,
      pong: guard(() => {
        peer.inbound('pong');
      }),
      ping: guard(() => {
        peer.inbound('ping');
      }),
      message: guard((data: MessagePayload, isBinary: boolean) => {
        const kind = classifyMessage(data, isBinary, heartbeatMessage);
        if (kind === 'heartbeat') peer.inbound('heartbeat');
        else if (kind === 'malformed') peer.malformedHeartbeat();
        else peer.inbound('message');
      }),
      close: guard(() => {
        untrack(ws);
      }),
      // Errors end in 'close'; without a listener ws would throw them.
      error: guard(() => {
        tracker.reportHandlerError();
      }),
    };
    sockets.set(ws, listeners);
    ws.on('pong', listeners.pong);
    ws.on('ping', listeners.ping);
    ws.on('message', listeners.message);
    ws.on('close', listeners.close);
    ws.on('error', listeners.error);
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
    for (const ws of [...sockets.keys()]) untrack(ws);
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
 * set (default 1 MiB: larger frames are refused with 1009).
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
  return { wss, heartbeat: keepAlive(wss, keepalive) };
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
