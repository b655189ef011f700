import type { RawData, WebSocket } from 'ws';
import type { PeerTracker } from './peer-tracker.js';
import type { ServerConnection } from './server-connection.js';

/**
 * The socket class `keepAlive(wss)` has a `ws` server make its sockets from: a subclass of the server's own (the `ws`
 * option `WebSocket`) whose sockets carry their connection and read their own keep-alive events. Not exported from
 * the package.
 */

/** A `ws` socket class whose sockets carry their connection in a field and read their own events. */
export interface TrackedSocketClass {
  new (...args: ConstructorParameters<typeof WebSocket>): WebSocket;
  /** The socket's connection, or `null`. */
  connectionOf(ws: WebSocket): ServerConnection<WebSocket> | null;
  attach(ws: WebSocket, connection: ServerConnection<WebSocket>): void;
  /**
   * Lets the socket's connection go (its `onClose`, with `code`), once: the socket's own `close` and the keep-alive's
   * `close()` both end here. `false` for a socket not of this class.
   */
  release(ws: WebSocket, code?: number): boolean;
}

/**
 * The subclass of the server's socket class that {@link keepAlive} has the server make: each socket holds its
 * connection in a private field and hands its own events (pong, ping, message, close, error) to it as it emits them,
 * before any listener of the application sees them. No listener and no added property per socket: a connection costs
 * `ws`'s event table nothing. Errors end in `close`; one with no listener of the application's is counted, not thrown.
 */
export function trackedSocketClass(Base: typeof WebSocket, tracker: PeerTracker): TrackedSocketClass {
  return class KeepaliveWebSocket extends Base {
    #connection: ServerConnection<WebSocket> | null = null;

    static connectionOf(ws: WebSocket): ServerConnection<WebSocket> | null {
      return #connection in ws ? (ws).#connection : null;
    }

    static attach(ws: WebSocket, connection: ServerConnection<WebSocket>): void {
      if (#connection in ws) (ws).#connection = connection;
    }

    static release(ws: WebSocket, code?: number): boolean {
      if (!(#connection in ws)) return false;
      const socket = ws;
      const connection = socket.#connection;
      socket.#connection = null;
      connection?.onClose(code);
      return true;
    }

    /** `ws` emits its events with at most two arguments: they are passed on as given, with no array per event. */
    override emit(event: string | symbol, a?: unknown, b?: unknown): boolean {
      const connection = this.#connection;
      if (connection !== null) {
        switch (event) {
          case 'pong':
            connection.onPong();
            break;
          case 'ping':
            connection.onPing(a as Buffer);
            break;
          case 'message':
            connection.onMessage(a as RawData, b as boolean);
            break;
          case 'close':
            try {
              KeepaliveWebSocket.release(this, a as number);
            } catch {
              tracker.reportHandlerError();
            }
            break;
          case 'error':
            tracker.reportHandlerError();
            // Without a listener of the application's, an error would be thrown: it ends in 'close' anyway.
            if (this.listenerCount('error') === 0) return false;
            break;
          default:
            break;
        }
      }
      const count = arguments.length;
      if (count === 1) return super.emit(event);
      if (count === 2) return super.emit(event, a);
      if (count === 3) return super.emit(event, a, b);
      // More than `ws` ever passes: forwarded as they are.
      // eslint-disable-next-line prefer-rest-params, @typescript-eslint/unbound-method -- no array per event; `this` is given
      return Reflect.apply(Base.prototype.emit, this, arguments) as boolean;
    }
  };
}
