import {
  KERNEL_OPTION_KEYS,
  KeepaliveOptionError,
  canRestart,
  checkHeartbeatMessage,
  checkKnownKeys,
  connect,
  connectionDeadline,
  connectionStep,
  defineKernelConfig,
  lifecycleLayer,
  utf8Length,
  type ConnectionCommand,
  type ConnectionEvent,
  type ConnectionPhase,
  type ConnectionState,
  type ConnectionUserEvent,
  type Diagnostic,
  type KernelOptions,
  type Layer,
} from '@keepalive/core';
import { checkCloseArguments, checkProtocols, checkWebSocket, parseTarget } from './client-target.js';
import { HEARTBEAT_MESSAGE, isHeartbeatText } from './heartbeat.js';
import { OPEN } from './ready-state.js';

/**
 * @keepalive/websocket-transport/lite: the kernel client. A small WebSocket client on the core's connection kernel
 * alone (`defineKernelConfig`, `connect`, `connectionStep`, `connectionDeadline`): keep-alives while busy and the
 * dead-peer rule (S4, B5), backoff with jitter and `maxAttempts` (B6, B11), the connect and close timeouts (B10),
 * terminal close codes (B12) and a bounded send queue. It runs unchanged in browsers, Bun, Deno and Node ≥ 22 (the
 * global `WebSocket`), and on Node 20 with a constructor passed in (`WebSocket` from `ws`). Keep-alives are always the
 * heartbeat message (a WHATWG socket cannot ping), which the servers of this package answer.
 *
 * Its API is a subset of `createKeepaliveClient`'s. The rules beyond the kernel's are layers given in `layers`: from
 * `@keepalive/core` (`lazyParkLayer`, `idleReadLayer(ms)`, `slowDownLayer(maxMs)`, `unconfirmedLayer`) and from here
 * ({@link pageLifecycle}); a program that does not import one does not bundle it. Events: `on`/`off`/`once`,
 * `addEventListener` with `{ once, signal }` (so `events.once(client, 'open')` of `node:events` works), and
 * `messages()`, an async iterator of messages; `reconnect()` starts a rejected or exhausted client again. Left out: function targets,
 * protocol pings, closing on `pagehide`, the resumable session, loggers and the diagnostics channel, the abort signal
 * and process-exit hooks.
 *
 * @module @keepalive/websocket-transport/lite
 */

/** What `send` takes: a string (a text frame) or bytes (a binary frame). */
export type LiteData = string | ArrayBuffer | ArrayBufferView;

/** The part of a WHATWG WebSocket the lite client uses (browsers, Bun, Deno, undici, `ws`). */
export interface LiteWebSocket {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  binaryType: string;
  send(data: LiteData): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: destroy the socket at once. */
  terminate?(): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

/** The part of a browser's `window` or `document` {@link pageLifecycle} listens to (present only in a page). */
interface LiteEventTarget {
  addEventListener?(type: string, listener: () => void): void;
  removeEventListener?(type: string, listener: () => void): void;
}

/**
 * A layer made for a platform: the core's layer, and the driver-side subscription that reports the platform's facts
 * to it (`watch`, called once when the client starts; the function it returns is called when the client closes).
 */
export interface PlatformLayer<S extends object = object> extends Layer<S> {
  watch(report: (event: ConnectionEvent) => void, now: () => number): () => void;
}

/**
 * The core's `lifecycleLayer` wired to a web page: the window's `online` / `offline` and the document's
 * `visibilitychange` become its `network` and `visibility` events (while offline no attempt starts; back online or
 * visible again, the connection is checked at once). Pass it in `layers`; where there is no page (Bun, Deno, Node)
 * it listens to nothing.
 */
export const pageLifecycle: PlatformLayer = /* @__PURE__ */ Object.freeze(
  /* @__PURE__ */ Object.assign({}, lifecycleLayer, {
    watch(report: (event: ConnectionEvent) => void, now: () => number): () => void {
      const page = globalThis as LiteEventTarget & { readonly document?: LiteEventTarget & { readonly visibilityState?: string } };
      const listeners: [LiteEventTarget | undefined, string, () => void][] = [
        [page, 'online', () => report({ type: 'network', now: now(), online: true })],
        [page, 'offline', () => report({ type: 'network', now: now(), online: false })],
        [page.document, 'visibilitychange', () => report({ type: 'visibility', now: now(), visible: page.document?.visibilityState != 'hidden' })],
      ];
      for (const [target, type, listener] of listeners) target?.addEventListener?.(type, listener);
      return () => {
        for (const [target, type, listener] of listeners) target?.removeEventListener?.(type, listener);
      };
    },
  }),
);

/** A WHATWG WebSocket constructor: the global one, or `ws`'s on Node 20. */
export type LiteWebSocketConstructor = new (url: string, protocols?: string | string[]) => LiteWebSocket;

/** Options of {@link createLiteClient}: the kernel's (validated by `defineKernelConfig`) and the client's own. */
export interface LiteClientOptions extends KernelOptions {
  /** The WebSocket constructor. Default the global `WebSocket`; on Node 20 pass `WebSocket` from `ws`. */
  readonly WebSocket?: LiteWebSocketConstructor | undefined;
  /** Subprotocols to offer. */
  readonly protocols?: string | readonly string[] | undefined;
  /** The heartbeat message (at most 125 UTF-8 bytes) the server answers in kind. Default the empty text frame. */
  readonly heartbeatMessage?: string | undefined;
  /** Layers of `@keepalive/core` to run on the kernel, in order (not `resumable()`: the lite client has no wire format). */
  readonly layers?: readonly Layer[] | undefined;
  /** Receives the kernel's diagnostics (counts, codes, durations), after the step. */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
}

/** The kernel's user event of type `K` (the payload of the lite client's event of that name). */
export type LiteUserEvent<K extends ConnectionUserEvent['type']> = Extract<ConnectionUserEvent, { readonly type: K }>;

/** An inbound message: text as a string, binary as a `Uint8Array`. Heartbeats are not delivered. */
export interface LiteMessageEvent {
  readonly data: string | Uint8Array;
  readonly binary: boolean;
}

/** The `closed` event: the kernel's, with the queued messages that never left (`undelivered`, oldest first). */
export type LiteClosedEvent = LiteUserEvent<'closed'> & { readonly undelivered: readonly LiteData[] };

/** Every event of a {@link LiteClient} and its payload (the kernel's user events, with their `type`). */
export interface LiteClientEvents {
  open: LiteUserEvent<'open'>;
  message: LiteMessageEvent;
  close: LiteUserEvent<'close'>;
  reconnecting: LiteUserEvent<'reconnecting'>;
  parked: LiteUserEvent<'parked'>;
  /** @deprecated The old name of `parked` (with the `lazyParkLayer`), emitted right after it for one minor version. */
  idle: LiteUserEvent<'idle'>;
  'dead-peer': LiteUserEvent<'dead-peer'>;
  rejected: LiteUserEvent<'rejected'>;
  closed: LiteClosedEvent;
  error: Error;
}

/** A listener of event `K`. */
export type LiteListener<K extends keyof LiteClientEvents> = (payload: LiteClientEvents[K]) => void;

/** A listener as `addEventListener` takes it: a function, or an object whose `handleEvent` is called with the payload. */
export type LiteEventListener<K extends keyof LiteClientEvents> = LiteListener<K> | { handleEvent(payload: LiteClientEvents[K]): void };

/** Options of `addEventListener`: `once` removes the listener before its first call, `signal` when it aborts. */
export interface LiteListenerOptions {
  readonly once?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Options of `messages()`. */
export interface LiteMessagesOptions {
  /** How many messages may wait while the loop body runs (default 1 000); one more ends the iterator with a `RangeError`. */
  readonly maxBuffered?: number | undefined;
  /** Ends the iterator (its next read throws the signal's reason) when it aborts. */
  readonly signal?: AbortSignal | undefined;
}

/** The client's activity: work on it keeps the connection alive (keep-alives while any is in flight, S4). */
export interface LiteActivity {
  /** Starts work of `reason`; returns the function that ends it (calling it again does nothing). */
  start(reason: string): () => void;
  /** Runs `fn` as work of `reason`, ended however `fn` ends. */
  run<T>(reason: string, fn: () => T | PromiseLike<T>): Promise<T>;
}

/** The lite client: see {@link createLiteClient}. */
export interface LiteClient {
  readonly activity: LiteActivity;
  /** The kernel's phase: `connecting`, `open`, `backoff`, `parked`, `closing` or `closed`. */
  readonly state: ConnectionPhase;
  /**
   * Writes `data` now when open (`'sent'`), else queues it to go in order after the next open (`'queued'`). Throws
   * an `Error` saying why when it is refused: the client is closed, or the queue is at `maxQueuedMessages` or
   * `maxQueuedBytes`; a `TypeError` for the heartbeat message itself (the keep-alive on the wire, not a message).
   */
  send(data: LiteData): 'sent' | 'queued';
  /** Closes for good; resolves with the `closed` event. `code` 1000 or 3000–4999, `reason` at most 123 bytes. */
  close(code?: number, reason?: string): Promise<LiteClosedEvent>;
  /** Adds a listener, called after the step that caused the event; returns the function that removes it. */
  on<K extends keyof LiteClientEvents>(type: K, listener: LiteListener<K>): () => void;
  /** Removes a listener added with `on`. */
  off<K extends keyof LiteClientEvents>(type: K, listener: LiteListener<K>): void;
  /** Adds a listener called at most once; returns the function that removes it. */
  once<K extends keyof LiteClientEvents>(type: K, listener: LiteListener<K>): () => void;
  /** Adds a listener as an `EventTarget` does (called with the payload): `{ once }`, `{ signal }`. */
  addEventListener<K extends keyof LiteClientEvents>(type: K, listener: LiteEventListener<K> | null, options?: LiteListenerOptions | boolean): void;
  /** Removes a listener added with `addEventListener`. */
  removeEventListener<K extends keyof LiteClientEvents>(type: K, listener: LiteEventListener<K> | null): void;
  /**
   * The inbound messages as an async iterator, from the call on, in order; it ends when the client closes, after
   * what it buffered. At most `maxBuffered` wait while the loop body runs: one more ends it with a `RangeError` after
   * the ones kept (never a silent drop). Leaving the loop removes its listeners.
   */
  messages(options?: LiteMessagesOptions): AsyncIterableIterator<LiteMessageEvent>;
  /**
   * Starts the client again after it closed `rejected` or `exhausted`: attempt 0 at once, a fresh attempt count,
   * listeners kept, and `close()` a new promise. Anywhere else it changes nothing (a `restart_ignored` diagnostic).
   */
  reconnect(): void;
}

const NO_LAYERS: readonly Layer[] = [];

const LITE_KEYS = ['WebSocket', 'protocols', 'heartbeatMessage', 'layers', 'onDiagnostic'];

/**
 * Creates the kernel client and opens its first socket: see the module's description. Options are validated here: a
 * bad one throws `KeepaliveOptionError` naming it and its value, an unknown one the nearest known name.
 */
export function createLiteClient(url: string | URL, options: LiteClientOptions = {}): LiteClient {
  checkKnownKeys(options, [...KERNEL_OPTION_KEYS, ...LITE_KEYS], 'client');
  const { WebSocket: Socket = (globalThis as { WebSocket?: LiteWebSocketConstructor }).WebSocket, protocols, heartbeatMessage = HEARTBEAT_MESSAGE, layers = NO_LAYERS, onDiagnostic, ...kernel } = options;
  const Ctor = checkWebSocket(Socket, undefined) as LiteWebSocketConstructor;
  const offered = checkProtocols(protocols);
  const given: readonly Layer[] = layers;
  if (!Array.isArray(layers)) throw new KeepaliveOptionError('layers', layers, 'an array of layers');
  layers.forEach((layer: Partial<Layer> | null, i) => {
    if (typeof layer?.init != 'function' || layer.name == 'resume') throw new KeepaliveOptionError(`layers[${String(i)}]`, layer, 'a layer of @keepalive/core, not resumable() (no wire format here: use createKeepaliveClient)');
  });
  if (!(onDiagnostic === undefined || typeof onDiagnostic == 'function')) throw new KeepaliveOptionError('onDiagnostic', onDiagnostic, 'a function');
  const beat = checkHeartbeatMessage('heartbeatMessage', heartbeatMessage);
  const href = parseTarget(url);
  const now = (): number => performance.now();

  /** Each event's listeners: what was given (the key `off` removes by) and what is called. */
  const listeners: Record<string, Map<unknown, (payload: never) => void> | undefined> = {};
  const emit = (type: string, payload: unknown): void => {
    queueMicrotask(() => {
      for (const listener of [...(listeners[type]?.values() ?? [])]) {
        try {
          listener(payload as never);
        } catch (error) {
          // Reported to the platform (as an EventTarget listener's would be), without stopping the others.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    });
  };
  const off = (type: string, listener: unknown): void => {
    listeners[type]?.delete(listener);
  };
  /** Adds `call` under `key` (once per key and event); `once` removes it before its first call. */
  const add = (type: string, key: unknown, call: (payload: never) => void, once?: boolean): (() => void) => {
    const remove = (): void => {
      off(type, key);
    };
    const map = (listeners[type] ??= new Map());
    const first = (payload: never): void => {
      remove();
      call(payload);
    };
    if (!map.has(key)) map.set(key, once ? first : call);
    return remove;
  };
  const on = (type: string, listener: (payload: never) => void): (() => void) => add(type, listener, listener);

  let ws: LiteWebSocket | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let queued: LiteData[] = [];
  let undelivered: LiteData[] = [];
  /** The message of the `send` being stepped, and what the kernel made of it. */
  let outgoing: LiteData = '';
  let outcome = '';
  /** The inbound message of the event being stepped. */
  let inbound: LiteMessageEvent | undefined;
  let busy = true;
  let state: ConnectionState;
  let resolveClosed: (event: LiteClosedEvent) => void;
  let closed = new Promise<LiteClosedEvent>((resolve) => (resolveClosed = resolve));
  /** Events reported while a step runs wait here, in order, with the message they carry. */
  const events: [ConnectionEvent, LiteMessageEvent | undefined][] = [];

  /** Carries out one command of the kernel's; what reaches the application waits for the step to end. */
  const execute = (command: ConnectionCommand): void => {
    switch (command.type) {
      case 'open_socket': {
        const socket = (ws = new Ctor(href, offered));
        socket.binaryType = 'arraybuffer';
        // Listeners stay on a socket once it is gone (`ws` throws an error event nobody listens to): they ignore it.
        const gone = (code: number, reason: string): void => {
          if (socket === ws) {
            ws = null;
            report({ type: 'socket_closed', now: now(), code, reason });
          }
        };
        socket.onopen = () => {
          if (socket === ws) report({ type: 'socket_opened', now: now(), canPing: false });
        };
        socket.onmessage = ({ data }: { data: string | ArrayBuffer }) => {
          if (socket !== ws) return;
          const text = typeof data == 'string';
          report({ type: 'inbound', now: now(), frame: text && isHeartbeatText(data, beat) ? 'heartbeat' : 'data' }, text ? { data, binary: false } : { data: new Uint8Array(data), binary: true });
        };
        socket.onclose = ({ code, reason }: { code: number; reason: string }) => {
          gone(code, reason);
        };
        socket.onerror = ({ error }: { error?: unknown }) => {
          if (socket === ws) emit('error', error instanceof Error ? error : new Error('WebSocket error'));
          gone(1006, '');
        };
        return;
      }
      case 'close_socket':
        ws?.close(command.code, command.reason);
        return;
      case 'destroy_socket': {
        // At once: `ws` has `terminate()` (its `close()` waits up to 30 s for a dead peer); a WHATWG socket only `close()`.
        const socket = ws;
        ws = null;
        if (socket?.terminate) socket.terminate();
        else socket?.close();
        return;
      }
      case 'keepalive':
      case 'reply_heartbeat':
        if (ws?.readyState == OPEN) ws.send(beat);
        return;
      case 'write':
        outcome = 'sent';
        ws?.send(outgoing);
        return;
      case 'enqueue':
        outcome = 'queued';
        // A copy: a caller reusing its buffer does not change what is sent later.
        queued.push(typeof outgoing == 'string' ? outgoing : (ArrayBuffer.isView(outgoing) ? new Uint8Array(outgoing.buffer, outgoing.byteOffset, outgoing.byteLength) : new Uint8Array(outgoing)).slice());
        return;
      case 'refuse':
        outcome = command.reason;
        return;
      case 'flush': {
        let messages = 0;
        let bytes = 0;
        for (; queued.length > 0 && ws?.readyState == OPEN; messages++) {
          const data = queued.shift() as LiteData;
          ws.send(data);
          bytes += byteSize(data);
        }
        if (messages > 0) report({ type: 'dequeued', now: state.now, messages, bytes });
        return;
      }
      case 'drain':
        undelivered = queued;
        queued = [];
        return;
      case 'deliver':
        if (inbound) emit('message', inbound);
        return;
      case 'event': {
        const event = command.event;
        if (event.type == 'closed') {
          const payload = { ...event, undelivered };
          // Final unless rejected or exhausted (then `reconnect()` may start it again, still watching the page).
          if (!canRestart(state)) for (const stop of unwatch.splice(0)) stop?.();
          emit('closed', payload);
          resolveClosed(payload);
        } else emit(event.type, event);
        return;
      }
      case 'diagnostic':
        if (onDiagnostic) queueMicrotask(() => onDiagnostic(command));
        return;
      default:
      // The resume layer's commands (refused at construction), `abandon_socket` (never asked for) and
      // `forget_copies` (the unconfirmed layer's: no copies are kept here).
    }
  };

  /** Steps the events in order (one reported during a step waits for it), then arms the one timer. */
  const pump = (commands: readonly ConnectionCommand[]): void => {
    commands.forEach(execute);
    for (let next; (next = events.shift()); ) {
      const out: ConnectionCommand[] = [];
      inbound = next[1];
      state = connectionStep(state, next[0], out);
      out.forEach(execute);
    }
    busy = false;
    clearTimeout(timer);
    const at = connectionDeadline(state);
    if (at !== null) timer = setTimeout(() => report({ type: 'timeout', now: Math.max(at, now()) }), at - now());
  };

  const report = (event: ConnectionEvent, message?: LiteMessageEvent): void => {
    events.push([event, message]);
    if (!busy) {
      busy = true;
      pump([]);
    }
  };

  // Layers made for a platform (`pageLifecycle`) subscribe to its facts until the client closes.
  const unwatch = given.map((layer) => (layer as Partial<PlatformLayer>).watch?.(report, now));

  const [initial, first] = connect(defineKernelConfig(kernel, layers), now(), globalThis.crypto.getRandomValues(new Uint32Array(1))[0] as number);
  state = initial;
  pump(first);

  const start = (reason: string): (() => void) => {
    const before = state.session.lastToken;
    report({ type: 'start', now: now(), reason });
    // The token of this start (none if the kernel refused it): its stop releases exactly this work.
    let token = state.session.lastToken == before ? 0 : state.session.lastToken;
    return () => {
      if (token) report({ type: 'release', now: now(), token });
      token = 0;
    };
  };

  return {
    activity: {
      start,
      async run(reason, fn) {
        const stop = start(reason);
        try {
          return await fn();
        } finally {
          stop();
        }
      },
    },
    get state() {
      return state.phase;
    },
    send(data) {
      // The heartbeat message is the keep-alive on the wire: sent as data, the server would read it as one.
      if (data === beat) throw new TypeError('send(): the heartbeat message is not data');
      outgoing = data;
      outcome = '';
      report({ type: 'send', now: now(), bytes: byteSize(data), writable: ws?.readyState == OPEN });
      if (outcome == 'sent' || outcome == 'queued') return outcome;
      throw new Error(outcome == 'closed' ? 'send(): the client is closed' : `send(): the queue is full (max${outcome == 'bytes' ? 'QueuedBytes' : 'QueuedMessages'})`);
    },
    close(code, reason) {
      let checked: { readonly code: number; readonly reason: string };
      try {
        checked = checkCloseArguments(code, reason);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new RangeError(String(error)));
      }
      report({ type: 'close', now: now(), ...checked });
      return closed;
    },
    on,
    off,
    once: (type, listener) => add(type, listener, listener, true),
    addEventListener(type, listener, options) {
      const { once, signal } = typeof options == 'object' ? options : ({} as LiteListenerOptions);
      if (!listener || signal?.aborted) return;
      const remove = add(type, listener, typeof listener == 'function' ? listener : (payload) => listener.handleEvent(payload), once);
      signal?.addEventListener('abort', remove, { once: true });
    },
    removeEventListener: off,
    messages({ maxBuffered = 1_000, signal } = {}) {
      const buffer: LiteMessageEvent[] = [];
      let wake = (): void => undefined;
      /** 1: closed, 2: overflowed, 3: aborted. */
      let end = 0;
      const stop = (why: number): void => {
        end ||= why;
        wake();
      };
      const abort = (): void => {
        stop(3);
      };
      const offs = [
        on('message', (message: LiteMessageEvent) => {
          if (end) return;
          if (buffer.length < maxBuffered) buffer.push(message);
          else stop(2);
          wake();
        }),
        on('closed', () => {
          stop(1);
        }),
      ];
      signal?.addEventListener('abort', abort);
      if (signal?.aborted) abort();
      return (async function* read() {
        try {
          for (;;) {
            if (buffer.length) yield buffer.shift() as LiteMessageEvent;
            else if (end == 2) throw new RangeError(`messages(): more than ${String(maxBuffered)} messages waited (maxBuffered): the iterator ended; the later ones were not kept`);
            else if (end == 3) throw signal?.reason;
            else if (end) return;
            else await new Promise<void>((resolve) => (wake = resolve));
          }
        } finally {
          for (const remove of offs) remove();
          signal?.removeEventListener('abort', abort);
        }
      })();
    },
    reconnect() {
      if (canRestart(state)) closed = new Promise((resolve) => (resolveClosed = resolve));
      report({ type: 'restart', now: now() });
    },
  };
}

function byteSize(data: LiteData): number {
  return typeof data == 'string' ? utf8Length(data) : data.byteLength;
}
