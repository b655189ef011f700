import { KeepaliveOptionError } from '@keepalive/core';
import {
  HEARTBEAT_MESSAGE,
  PeerTracker,
  classifyMessage,
  type PeerTrackerOptions,
  type TrackedPeer,
  type TrackerStats,
} from '@keepalive/websocket-transport/peer';
import { defaultScheduler } from './platform.js';

/**
 * What the keep-alive needs from a Bun `ServerWebSocket` (a local interface:
 * no `bun-types` dependency). Bun's own type is assignable to it.
 *
 * @example
 * ```ts
 * const socket: BunServerWebSocketLike = ws; // the ServerWebSocket Bun hands to open()
 * socket.ping();
 * ```
 */
export interface BunServerWebSocketLike {
  /** Sends a protocol ping. */
  ping(data?: string): unknown;
  /** Sends a text message. */
  send(data: string): unknown;
  /** Closes with a close frame. */
  close(code?: number, reason?: string): unknown;
  /** Destroys the connection at once (no close handshake); Bun ≥ 1.1 has it. */
  terminate?(): unknown;
}

/**
 * A message as Bun delivers it to a `websocket.message` handler: a string for
 * a text frame, a `Buffer` (a `Uint8Array`) for a binary one.
 *
 * @example
 * ```ts
 * const message: BunMessage = 'hello';
 * ```
 */
export type BunMessage = string | ArrayBuffer | ArrayBufferView;

/**
 * The `websocket` handler object of `Bun.serve` (a local interface: Bun's
 * `WebSocketHandler<T>` is assignable to it). Settings such as
 * `maxPayloadLength` or `perMessageDeflate` are passed through unchanged.
 *
 * @example
 * ```ts
 * const handler: BunWebSocketHandlerLike = { message: (ws, message) => ws.send(String(message)) };
 * ```
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
 *
 * @example
 * ```ts
 * const options: BunKeepaliveOptions = { pingIntervalMs: 30_000, pongTimeoutMs: 10_000, idleCloseMs: 300_000 };
 * ```
 */
export interface BunKeepaliveOptions extends PeerTrackerOptions {
  /** The application-level heartbeat clients may send; answered in kind. Default {@link HEARTBEAT_MESSAGE} (the empty text frame). */
  readonly heartbeatMessage?: string | undefined;
}

/**
 * The keep-alive behind a wrapped handler: counters and a way to stop.
 *
 * @example
 * ```ts
 * const { deadPeers, pingsSent } = websocket.keepalive.stats();
 * ```
 */
export interface BunServerKeepalive extends Disposable {
  /** Connections tracked now. */
  readonly size: number;
  /** Counters: pings sent, heartbeats answered, dead, idle and flood closes, malformed heartbeats, handler errors. */
  stats(): TrackerStats;
  /** Stops tracking every connection (sockets stay open; the handlers then only pass events through). */
  close(): void;
  /** The tracker behind it. */
  readonly tracker: PeerTracker;
}

/**
 * A handler returned by {@link withKeepalive}: the given handler with
 * keep-alive wired in, plus {@link BunServerKeepalive} as `keepalive`.
 *
 * @example
 * ```ts
 * const websocket: KeepaliveWebSocketHandler<typeof handler> = withKeepalive(handler);
 * ```
 */
export type KeepaliveWebSocketHandler<H extends BunWebSocketHandlerLike> = H & {
  readonly keepalive: BunServerKeepalive;
};

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
 * @example
 * ```ts
 * import { withKeepalive } from '@keepalive/bun';
 * const server = Bun.serve({
 *   port: 8080,
 *   fetch: (request, server) => (server.upgrade(request) ? undefined : new Response('upgrade required', { status: 426 })),
 *   websocket: withKeepalive({ message: (ws, message) => ws.send(String(message)) }, { pingIntervalMs: 30_000 }),
 * });
 * ```
 */
export function withKeepalive<H extends BunWebSocketHandlerLike>(handler: H, options: BunKeepaliveOptions = {}): KeepaliveWebSocketHandler<H> {
  const given: unknown = handler;
  if (typeof given !== 'object' || given === null || typeof (given as Partial<BunWebSocketHandlerLike>).message !== 'function') {
    throw new TypeError('withKeepalive(handler): expected a Bun websocket handler object with a message() function');
  }
  const { heartbeatMessage = HEARTBEAT_MESSAGE, scheduler, ...peerOptions } = options;
  if (typeof heartbeatMessage !== 'string') throw new KeepaliveOptionError('heartbeatMessage', heartbeatMessage, 'a string');
  const tracker = new PeerTracker({ ...peerOptions, scheduler: scheduler ?? defaultScheduler() });
  const peers = new Map<BunServerWebSocketLike, TrackedPeer>();
  let closed = false;

  const guarded = (fn: () => void): void => {
    try {
      fn();
    } catch {
      tracker.reportHandlerError();
    }
  };

  const track = (ws: BunServerWebSocketLike): void => {
    if (closed || peers.has(ws)) return;
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
        if (typeof ws.terminate === 'function') ws.terminate();
        else ws.close();
      },
    });
    peers.set(ws, peer);
  };

  const untrack = (ws: BunServerWebSocketLike): void => {
    const peer = peers.get(ws);
    if (peer === undefined) return;
    peers.delete(ws);
    peer.closed();
  };

  const keepalive: BunServerKeepalive = {
    get size() {
      return tracker.size;
    },
    stats: () => tracker.stats(),
    close: () => {
      if (closed) return;
      closed = true;
      peers.clear();
      tracker.close();
    },
    tracker,
    [Symbol.dispose]: () => {
      keepalive.close();
    },
  };

  const wrapped: BunWebSocketHandlerLike & { readonly keepalive: BunServerKeepalive } = {
    ...handler,
    idleTimeout: handler.idleTimeout ?? 0,
    sendPings: handler.sendPings ?? false,
    open(ws) {
      guarded(() => {
        track(ws);
      });
      return handler.open?.(ws);
    },
    message(ws, message) {
      guarded(() => {
        const peer = peers.get(ws);
        if (peer === undefined) return;
        const kind = classifyMessage(message, undefined, heartbeatMessage);
        if (kind === 'heartbeat') peer.inbound('heartbeat');
        else if (kind === 'malformed') peer.malformedHeartbeat();
        else peer.inbound('message');
      });
      return handler.message(ws, message);
    },
    ping(ws, data) {
      guarded(() => peers.get(ws)?.inbound('ping'));
      return handler.ping?.(ws, data);
    },
    pong(ws, data) {
      guarded(() => peers.get(ws)?.inbound('pong'));
      return handler.pong?.(ws, data);
    },
    close(ws, code, reason) {
      guarded(() => {
        untrack(ws);
      });
      return handler.close?.(ws, code, reason);
    },
    keepalive,
  };
  return wrapped as KeepaliveWebSocketHandler<H>;
}
