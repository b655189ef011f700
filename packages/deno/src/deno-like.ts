/**
 * The parts of Deno this package uses, as small local interfaces: the
 * published package needs no Deno type definitions, and Deno's own types are
 * assignable to these.
 */

/**
 * A WebSocket as Deno creates it (the WHATWG socket: it cannot send protocol
 * pings, and answers the peer's by itself).
 */
export interface DenoWebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** How binary messages arrive (`'arraybuffer'` or `'blob'`); a resumable session's socket is set to `'arraybuffer'`. */
  binaryType?: string;
  /** Sends a message: text, or binary (a resumable session's binary messages). */
  send(data: string | ArrayBuffer | ArrayBufferView): unknown;
  close(code?: number, reason?: string): unknown;
  addEventListener(type: string, listener: (event: DenoSocketEventLike) => void): unknown;
  removeEventListener(type: string, listener: (event: DenoSocketEventLike) => void): unknown;
}

/**
 * The fields of a socket event this package reads: a message event's `data`, a close event's `code`.
 */
export interface DenoSocketEventLike {
  readonly data?: unknown;
  readonly code?: number;
}

/**
 * Options of `Deno.upgradeWebSocket`.
 */
export interface DenoUpgradeOptions {
  /** The subprotocol to accept. */
  protocol?: string;
  /** Deno's own ping-based timeout in seconds (its default is 30); 0 turns it off. */
  idleTimeout?: number;
}

/**
 * The parts of the `Deno` global this package uses.
 */
export interface DenoLike {
  /** Lets the process exit while this timer is pending: the handle `setTimeout` returned (a number, or a Timeout object on current Deno). */
  unrefTimer(id: number | object): void;
  /** Makes this timer keep the process alive (the default). */
  refTimer(id: number | object): void;
  /** Upgrades a request to a WebSocket: respond with `response`. */
  upgradeWebSocket(request: Request, options?: DenoUpgradeOptions): { socket: DenoWebSocketLike; response: Response };
  /** Versions of the runtime, e.g. `{ deno: '2.9.6' }`. */
  readonly version: { readonly deno: string };
}
