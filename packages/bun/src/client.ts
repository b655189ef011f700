import type { SessionActivity } from '@keepalive/node-timers';
import { connectWhatwgWithKeepalive, keepaliveWhatwgSocket } from '@keepalive/websocket-transport/peer';

/**
 * What the client helper needs from a WebSocket: Bun's `WebSocket` (a local
 * interface: no `bun-types` dependency). `ping()` and `terminate()` are Bun's
 * extensions to the WHATWG socket; without them heartbeat messages and
 * `close()` are used.
 */
export interface BunWebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  send(data: string): unknown;
  close(code?: number, reason?: string): unknown;
  /** Sends a protocol ping (Bun's extension). */
  ping?(): unknown;
  /** Destroys the connection at once (Bun's extension). */
  terminate?(): unknown;
  addEventListener(type: string, listener: (event: BunSocketEventLike) => void): unknown;
  removeEventListener(type: string, listener: (event: BunSocketEventLike) => void): unknown;
}

/**
 * The one field of a socket event the helper reads: a message event's `data`.
 */
export interface BunSocketEventLike {
  readonly data?: unknown;
}

/**
 * A WebSocket constructor (Bun's global `WebSocket` by default).
 */
export type BunWebSocketConstructor<W extends BunWebSocketLike = BunWebSocketLike> = new (url: string | URL, protocols?: string | string[]) => W;

/**
 * Options of {@link keepaliveSocket}.
 */
export interface KeepaliveSocketOptions {
  /**
   * `'auto'` (default) sends protocol pings where the socket has `ping()`
   * (Bun's WebSocket does) and the pong is the proof of life; `'message'`
   * always sends the heartbeat message, answered by the server in kind.
   */
  readonly keepalive?: 'auto' | 'message' | undefined;
  /** The heartbeat message. Default `HEARTBEAT_MESSAGE` (the empty text frame). */
  readonly heartbeatMessage?: string | undefined;
}

/**
 * Options of {@link connectWithKeepalive}: those of {@link keepaliveSocket},
 * the subprotocols, and the WebSocket class.
 */
export interface ConnectWithKeepaliveOptions<W extends BunWebSocketLike = BunWebSocketLike> extends KeepaliveSocketOptions {
  readonly protocols?: string | string[] | undefined;
  /** The WebSocket class; default the global `WebSocket`. */
  readonly WebSocket?: BunWebSocketConstructor<W> | undefined;
}


/**
 * Wires a Bun WebSocket to a session activity, the client side of the
 * adapter contract:
 *
 * - on open (at once if the socket is already open) the keep-alive sender is
 *   attached, so while work is in flight the heartbeat runs, and it resumes at
 *   once on a new connection (S4);
 * - the keep-alive is a protocol ping (`ws.ping()`), or the heartbeat message
 *   with `keepalive: 'message'`;
 * - every inbound message, pong and ping is proof of life (B5); a dead-peer
 *   verdict terminates the socket;
 * - a heartbeat message from the server is answered in kind, unless it is the
 *   answer to one of ours (so two ends never echo each other forever);
 * - on close the sender is detached (unless a newer socket replaced it).
 *
 * Returns a function that removes the helper's listeners (and detaches if
 * this socket's sender is still attached).
 */
export function keepaliveSocket(socket: BunWebSocketLike, activity: SessionActivity, options: KeepaliveSocketOptions = {}): () => void {
  return keepaliveWhatwgSocket(socket, activity, options);
}

/**
 * Opens a WebSocket (Bun's global `WebSocket` unless another class is given)
 * and wires it to `activity` with {@link keepaliveSocket}. Returns the socket:
 * use it as usual. When it closes the sender is detached; call this again to
 * reconnect and the heartbeat resumes at once if work is in flight.
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
export function connectWithKeepalive<W extends BunWebSocketLike = BunWebSocketLike>(
  url: string | URL,
  activity: SessionActivity,
  options: ConnectWithKeepaliveOptions<W> = {},
): W {
  return connectWhatwgWithKeepalive(url, activity, options);
}
