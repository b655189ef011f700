import { CLOSE_CODES } from '@keepalive/core';
import type { ClientMessageEvent, PingableWebSocketLike, SocketEventLike, WebSocketLike } from './client-types.js';
import { CLOSING, OPEN } from './ready-state.js';

/**
 * The socket side of the client driver: creating a socket from the target
 * (synchronously or from a promise), listening to it in the WHATWG way (plus
 * `ws`-style or Bun-style pong and ping events), and destroying it. Facts go
 * out through {@link SocketHandlers}; nothing here decides anything.
 */

/** What a socket reports, as plain data. */
export type SocketFact =
  | { readonly type: 'open' }
  | { readonly type: 'message'; readonly data: unknown }
  | { readonly type: 'close'; readonly code: number; readonly reason: string }
  | { readonly type: 'error'; readonly error: Error }
  | { readonly type: 'pong' }
  | { readonly type: 'ping'; readonly payload: string };

/** Whether `value` has everything the client needs from a socket. */
export function isWebSocketLike(value: unknown): value is WebSocketLike {
  if (typeof value !== 'object' || value === null) return false;
  const socket = value as Record<string, unknown>;
  return ['send', 'close', 'addEventListener', 'removeEventListener'].every((method) => typeof socket[method] === 'function') && typeof socket.readyState === 'number';
}

/** Whether the socket can send protocol pings. */
export function canPing(socket: WebSocketLike): socket is PingableWebSocketLike {
  return typeof (socket as Partial<PingableWebSocketLike>).ping === 'function';
}

/**
 * Calls the factory and hands over what it made: `adopt(socket)` for a
 * socket (at once, or when its promise resolves), `fail(error)` in a
 * microtask for a throw, a rejection or something that is not a socket, so a
 * failure is reported like a refused connection.
 */
export function createSocket(factory: () => unknown, adopt: (socket: WebSocketLike) => void, fail: (error: unknown) => void): void {
  const failLater = (error: unknown): void => {
    queueMicrotask(() => {
      fail(error);
    });
  };
  const take = (created: unknown): void => {
    if (isWebSocketLike(created)) adopt(created);
    else failLater(new TypeError('The socket factory did not return a WebSocket (readyState, send, close, addEventListener, removeEventListener)'));
  };
  let created: unknown;
  try {
    created = factory();
  } catch (error) {
    failLater(error);
    return;
  }
  if (typeof created === 'object' && created !== null && typeof (created as { then?: unknown }).then === 'function') {
    (created as PromiseLike<unknown>).then(take, failLater);
  } else {
    take(created);
  }
}

/** Listens to `socket`, reporting each fact; returns the function that stops listening (a no-op error listener stays, so a late error is never unhandled). */
export function listen(socket: WebSocketLike, report: (fact: SocketFact) => void): () => void {
  if (socket.binaryType !== undefined && socket.binaryType !== 'arraybuffer' && socket.binaryType !== 'nodebuffer') socket.binaryType = 'arraybuffer';
  const onOpen = (): void => {
    report(OPENED);
  };
  const onMessage = (event: SocketEventLike): void => {
    report({ type: 'message', data: event.data });
  };
  const onClose = (event: SocketEventLike): void => {
    report({ type: 'close', code: typeof event.code === 'number' ? event.code : CLOSE_CODES.abnormal, reason: typeof event.reason === 'string' ? event.reason : '' });
  };
  const onError = (event: SocketEventLike): void => {
    const error = event.error instanceof Error ? event.error : new Error(typeof event.message === 'string' && event.message !== '' ? event.message : 'WebSocket error');
    report({ type: 'error', error });
  };
  const onPong = (): void => {
    report(PONG);
  };
  const onPing = (data?: unknown): void => {
    report(data === undefined ? PING : { type: 'ping', payload: pingPayload(data) });
  };
  socket.addEventListener('open', onOpen);
  socket.addEventListener('message', onMessage);
  socket.addEventListener('close', onClose);
  socket.addEventListener('error', onError);
  const frames = listenControlFrames(socket, onPong, onPing);
  // A factory may hand back a socket that is already open (or already gone).
  if (socket.readyState === OPEN) queueMicrotask(onOpen);
  else if (socket.readyState >= CLOSING) queueMicrotask(() => { onClose({ type: 'close', code: CLOSE_CODES.abnormal, reason: '' }); });
  return () => {
    socket.removeEventListener('open', onOpen);
    socket.removeEventListener('message', onMessage);
    socket.removeEventListener('close', onClose);
    socket.removeEventListener('error', onError);
    frames();
    socket.addEventListener('error', ignore);
  };
}

const OPENED: SocketFact = /* @__PURE__ */ Object.freeze({ type: 'open' });
const PONG: SocketFact = /* @__PURE__ */ Object.freeze({ type: 'pong' });
const PING: SocketFact = /* @__PURE__ */ Object.freeze({ type: 'ping', payload: '' });
const decoder = /* @__PURE__ */ new TextDecoder();

/** A ping's payload as text (an acknowledgement is decimal ASCII); anything unreadable is ''. */
function pingPayload(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array && data.byteLength <= 125) return decoder.decode(data);
  return '';
}

/** Pongs and pings where the socket reports them (`ws`: `on`; Bun-like: `addEventListener('pong')`); returns the remover. */
function listenControlFrames(socket: WebSocketLike, onPong: () => void, onPing: (data?: unknown) => void): () => void {
  if (!canPing(socket)) return ignore;
  if (typeof socket.on === 'function') {
    socket.on('pong', onPong);
    socket.on('ping', onPing);
    return () => {
      socket.off?.('pong', onPong);
      socket.off?.('ping', onPing);
    };
  }
  const target = socket as unknown as { addEventListener(type: string, listener: () => void): void; removeEventListener(type: string, listener: () => void): void };
  target.addEventListener('pong', onPong);
  return () => {
    target.removeEventListener('pong', onPong);
  };
}

/** Destroys a socket without a close handshake where it can (`ws`: terminate), else starts a close and forgets it. */
export function destroySocket(socket: WebSocketLike): void {
  try {
    const terminate = (socket as Partial<PingableWebSocketLike>).terminate;
    if (typeof terminate === 'function') terminate.call(socket);
    else if (socket.readyState < CLOSING) socket.close();
  } catch {
    // Already closed or closing: nothing more to do.
  }
}

/** Inbound data as the client delivers it, or `null` for an unsupported type (a `Blob`, fragments). */
export function normalizeData(data: unknown): ClientMessageEvent | null {
  if (typeof data === 'string') return { data, binary: false };
  if (data instanceof Uint8Array) return { data, binary: true };
  if (data instanceof ArrayBuffer) return { data: new Uint8Array(data), binary: true };
  if (ArrayBuffer.isView(data)) return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), binary: true };
  return null;
}

function ignore(): void {
  // Abandoned sockets keep this as their error listener.
}
