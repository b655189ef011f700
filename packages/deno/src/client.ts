import type { SessionActivity } from '@keepalive/node-timers';
import { connectWhatwgWithKeepalive, keepaliveWhatwgSocket } from '@keepalive/websocket-transport/peer';
import type { DenoWebSocketLike } from './deno-like.ts';

/**
 * A WebSocket constructor (Deno's global `WebSocket` by default).
 */
export type DenoWebSocketConstructor<W extends DenoWebSocketLike = DenoWebSocketLike> = new (url: string | URL, protocols?: string | string[]) => W;

/**
 * Options of {@link keepaliveSocket}.
 */
export interface KeepaliveSocketOptions {
  /** The heartbeat message. Default `HEARTBEAT_MESSAGE` (the empty text frame). */
  readonly heartbeatMessage?: string | undefined;
}

/**
 * Options of {@link connectWithKeepalive}: those of {@link keepaliveSocket},
 * the subprotocols, and the WebSocket class.
 */
export interface ConnectWithKeepaliveOptions<W extends DenoWebSocketLike = DenoWebSocketLike> extends KeepaliveSocketOptions {
  readonly protocols?: string | string[] | undefined;
  /** The WebSocket class; default the global `WebSocket`. */
  readonly WebSocket?: DenoWebSocketConstructor<W> | undefined;
}


/**
 * Wires a Deno WebSocket to a session activity, the client side of the
 * adapter contract:
 *
 * - on open (at once if the socket is already open) the keep-alive sender is
 *   attached, so while work is in flight the heartbeat runs, and it resumes at
 *   once on a new connection (S4);
 * - the keep-alive is the heartbeat message (Deno's WebSocket cannot send
 *   protocol pings), answered by the server in kind;
 * - every inbound message is proof of life (B5); a dead-peer verdict closes
 *   the socket;
 * - a heartbeat message from the server is answered in kind, unless it is the
 *   answer to one of ours (so two ends never echo each other forever);
 * - on close the sender is detached (unless a newer socket replaced it).
 *
 * Returns a function that removes the helper's listeners (and detaches if
 * this socket's sender is still attached).
 */
export function keepaliveSocket(socket: DenoWebSocketLike, activity: SessionActivity, options: KeepaliveSocketOptions = {}): () => void {
  // Deno's WebSocket cannot send protocol pings: the keep-alive is always the heartbeat message.
  return keepaliveWhatwgSocket(socket, activity, { ...options, keepalive: 'message' });
}

/**
 * Opens a WebSocket (Deno's global `WebSocket` unless another class is given)
 * and wires it to `activity` with {@link keepaliveSocket}. Returns the socket:
 * use it as usual. When it closes the sender is detached; call this again to
 * reconnect and the heartbeat resumes at once if work is in flight.
 *
 * @example
 * ```ts
 * import { connectWithKeepalive, createKeepaliveTracker, createSessionActivity, upgradeWithKeepalive } from '@keepalive/deno';
 *
 * const tracker = createKeepaliveTracker({ pingIntervalMs: 500, pongTimeoutMs: 250, minPingIntervalMs: 100 });
 * const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, (request) => {
 *   const { socket, response } = upgradeWithKeepalive(request, { tracker });
 *   socket.addEventListener('message', (event) => {
 *     if (event.data !== '') socket.send(`echo: ${event.data}`); // '' is the heartbeat
 *   });
 *   return response;
 * });
 *
 * const activity = createSessionActivity({ heartbeatIntervalMs: 200, pongTimeoutMs: 500, logger: console });
 * const socket = connectWithKeepalive(`ws://127.0.0.1:${server.addr.port}`, activity);
 * await new Promise((resolve) => socket.addEventListener('open', resolve));
 *
 * await activity.run('api_call', () => new Promise((resolve) => setTimeout(resolve, 1_000))); // keep-alives flow
 * console.log(activity.shutdown()); // { total: 0, active: {}, oldestActivityMs: null, keepalivesSent: 4 }
 * console.log(tracker.stats()); // { tracked: 1, pingsSent: 2, heartbeatsAnswered: 4, deadPeers: 0, ... }
 * socket.close();
 * await server.shutdown();
 * ```
 */
export function connectWithKeepalive<W extends DenoWebSocketLike = DenoWebSocketLike>(
  url: string | URL,
  activity: SessionActivity,
  options: ConnectWithKeepaliveOptions<W> = {},
): W {
  return connectWhatwgWithKeepalive(url, activity, { ...options, keepalive: 'message' });
}
