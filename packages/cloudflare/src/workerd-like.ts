/**
 * What this package needs from workerd (Cloudflare Workers and Durable Objects), as small local interfaces: no
 * dependency on `@cloudflare/workers-types` and no import of `cloudflare:workers`, so the package is plain JavaScript
 * that any bundler takes. The types of `@cloudflare/workers-types` (`DurableObjectState`, `WebSocket`) are assignable to
 * them (the package's tests check it).
 */

/**
 * A WebSocket accepted with the hibernation API (`ctx.acceptWebSocket(ws)`): workerd's server-side `WebSocket`.
 */
export interface HibernatableWebSocketLike {
  /** Sends a message. */
  send(message: string | ArrayBuffer | ArrayBufferView): void;
  /** Closes with a close frame; workerd takes 1000 and 3000–4999 as `code`. */
  close(code?: number, reason?: string): void;
  /**
   * Keeps a structured-clone copy of `value` with the socket, in memory outside the isolate, so that it survives
   * hibernation (workerd: at most 16 KiB serialized).
   */
  serializeAttachment(value: unknown): void;
  /** The value last given to `serializeAttachment`, or `null`. */
  deserializeAttachment(): unknown;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState?: number;
}

/**
 * The pair workerd's auto-response is set with: a text message `request` that the runtime answers with `response`
 * itself, without waking the object (`new WebSocketRequestResponsePair(request, response)`).
 */
export interface WebSocketRequestResponsePairLike {
  readonly request: string;
  readonly response: string;
}

/** The global `WebSocketRequestResponsePair` class of workerd. */
export type WebSocketRequestResponsePairConstructor = new (request: string, response: string) => WebSocketRequestResponsePairLike;

/** The global `WebSocketPair` class of workerd: `0` is the client end (for the response), `1` the server end. */
export type WebSocketPairConstructor<W extends HibernatableWebSocketLike = HibernatableWebSocketLike> = new () => { readonly 0: W; readonly 1: W };

/** What the keep-alive needs of a Durable Object's storage: its one alarm. */
export interface DurableObjectAlarmStorageLike {
  /** The alarm's time in milliseconds since the epoch, or `null` when none is set. */
  getAlarm(): Promise<number | null>;
  /** Sets (or moves) the object's one alarm. */
  setAlarm(scheduledTime: number | Date): Promise<void>;
  /** Removes the alarm. */
  deleteAlarm(): Promise<void>;
}

/**
 * What a session store (`DurableObjectSessionStore`) needs of a Durable Object's storage: its key-value
 * API (workerd's `DurableObjectStorage`, in-memory-cached and transactional; `put` and `delete` of one event are
 * written together).
 */
export interface DurableObjectKeyValueStorageLike {
  /** The value of `key`, or `undefined`. */
  get(key: string): Promise<unknown>;
  /** The values of `keys` that exist (at most 128 keys). */
  get(keys: string[]): Promise<Map<string, unknown>>;
  /** Writes the entries (at most 128). */
  put(entries: Record<string, unknown>): Promise<void>;
  /** Deletes the keys (at most 128); resolves with how many existed. */
  delete(keys: string[]): Promise<number>;
  /** The entries whose key starts with `prefix`, in key order. */
  list(options: { prefix: string }): Promise<Map<string, unknown>>;
}

/**
 * What the keep-alive needs of a Durable Object's state (`this.ctx` in a class that extends `DurableObject`): the
 * hibernation API and the alarm. workerd's `DurableObjectState` is assignable to it.
 */
export interface DurableObjectStateLike<W extends HibernatableWebSocketLike = HibernatableWebSocketLike> {
  /** Accepts a server-side socket with the hibernation API: its events arrive on the object's handlers. */
  acceptWebSocket(ws: W, tags?: string[]): void;
  /** The sockets accepted with the hibernation API and not closed yet (with `tag`: those tagged so). */
  getWebSockets(tag?: string): W[];
  /** Sets the auto-response (one per object), or clears it when called without a pair. */
  setWebSocketAutoResponse(pair?: WebSocketRequestResponsePairLike): void;
  /** When the runtime last answered this socket with the auto-response, or `null`. */
  getWebSocketAutoResponseTimestamp(ws: W): Date | null;
  /** The object's storage: its alarm, and (for resumable sessions) its key-value API. */
  readonly storage: DurableObjectAlarmStorageLike & Partial<DurableObjectKeyValueStorageLike>;
}
