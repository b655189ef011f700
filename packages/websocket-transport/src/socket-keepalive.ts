import { KeepaliveOptionError, answerHeartbeat } from '@keepalive/core';
import type { SessionActivity } from '@keepalive/node-timers';
import { HEARTBEAT_MESSAGE } from './heartbeat.js';
import { OPEN } from './ready-state.js';

/**
 * The light client helper, runtime-neutral: wires one WHATWG-style socket
 * (Bun's, Deno's, a browser's) to a session activity, without reconnects or
 * a queue (for those, use `createKeepaliveClient`). The Bun and Deno
 * adapters export it with their runtime's types.
 */

/**
 * What the helper needs from a socket. `ping()` and `terminate()` are
 * optional extensions (Bun has them); without them heartbeat messages and
 * `close()` are used.
 */
export interface KeepaliveSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  send(data: string): unknown;
  close(code?: number, reason?: string): unknown;
  ping?(): unknown;
  terminate?(): unknown;
  addEventListener(type: string, listener: (event: { readonly data?: unknown }) => void): unknown;
  removeEventListener(type: string, listener: (event: { readonly data?: unknown }) => void): unknown;
}

/**
 * Options of {@link keepaliveWhatwgSocket}.
 */
export interface KeepaliveWhatwgSocketOptions {
  /**
   * `'auto'` (default) sends protocol pings where the socket has `ping()` and
   * takes the pong as proof of life; `'message'` always sends the heartbeat
   * message, answered by the server in kind.
   */
  readonly keepalive?: 'auto' | 'message' | undefined;
  /** The heartbeat message. Default {@link HEARTBEAT_MESSAGE} (the empty text frame). */
  readonly heartbeatMessage?: string | undefined;
}

/**
 * A WebSocket constructor, WHATWG style.
 */
export type KeepaliveSocketConstructor<W extends KeepaliveSocketLike = KeepaliveSocketLike> = new (
  url: string | URL,
  protocols?: string | string[],
) => W;

/** The socket each activity's sender was attached for (so a late close never detaches a newer one). */
const attachedSockets = new WeakMap<SessionActivity, KeepaliveSocketLike>();

/**
 * Wires a socket to a session activity, the client side of the adapter
 * contract:
 *
 * - on open (at once if the socket is already open) the keep-alive sender is
 *   attached, so while work is in flight the heartbeat runs, and it resumes at
 *   once on a new connection (S4);
 * - the keep-alive is a protocol ping where the socket can send one, else the
 *   heartbeat message;
 * - every inbound message, pong and ping is proof of life (B5); a dead-peer
 *   verdict terminates the socket (or closes it where it cannot be terminated);
 * - a heartbeat message from the server is answered in kind, unless it is the
 *   answer to one of ours (so two ends never echo each other forever);
 * - on close the sender is detached (unless a newer socket replaced it).
 *
 * Returns a function that removes the helper's listeners (and detaches if this
 * socket's sender is still attached).
 */
export function keepaliveWhatwgSocket(
  socket: KeepaliveSocketLike,
  activity: SessionActivity,
  options: KeepaliveWhatwgSocketOptions = {},
): () => void {
  const { keepalive = 'auto', heartbeatMessage = HEARTBEAT_MESSAGE } = options;
  const mode: unknown = keepalive;
  if (mode !== 'auto' && mode !== 'message') throw new KeepaliveOptionError('keepalive', mode, "'auto' or 'message'");
  if (typeof heartbeatMessage !== 'string') throw new KeepaliveOptionError('heartbeatMessage', heartbeatMessage, 'a string');
  const usePing = keepalive === 'auto' && typeof socket.ping === 'function';
  // Driver data: heartbeat messages sent and not yet answered. What an inbound heartbeat means is the core's rule.
  let unanswered = 0;
  let disposed = false;

  const live = (): boolean => !activity.state.shutdown;
  const sender = {
    sendKeepalive: (): void => {
      if (socket.readyState !== OPEN) return;
      if (usePing) {
        socket.ping?.();
      } else {
        socket.send(heartbeatMessage);
        unanswered++;
      }
    },
    closeTransport: (): void => {
      if (attachedSockets.get(activity) === socket) attachedSockets.delete(activity);
      if (typeof socket.terminate === 'function') socket.terminate();
      else socket.close();
    },
  };
  const onOpen = (): void => {
    if (!live()) return;
    attachedSockets.set(activity, socket);
    activity.attach(sender);
  };
  const onMessage = (event: { readonly data?: unknown }): void => {
    if (live()) activity.alive();
    if (event.data !== heartbeatMessage) return;
    const verdict = answerHeartbeat(unanswered);
    unanswered = verdict.unanswered;
    if (verdict.reply && socket.readyState === OPEN) socket.send(heartbeatMessage);
  };
  const onProofOfLife = (): void => {
    if (live()) activity.alive();
  };
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    socket.removeEventListener('open', onOpen);
    socket.removeEventListener('message', onMessage);
    socket.removeEventListener('pong', onProofOfLife);
    socket.removeEventListener('ping', onProofOfLife);
    socket.removeEventListener('close', dispose);
    if (attachedSockets.get(activity) !== socket) return;
    attachedSockets.delete(activity);
    if (live()) activity.detach();
  };
  socket.addEventListener('open', onOpen);
  socket.addEventListener('message', onMessage);
  socket.addEventListener('pong', onProofOfLife);
  socket.addEventListener('ping', onProofOfLife);
  socket.addEventListener('close', dispose);
  if (socket.readyState === OPEN) onOpen();
  return dispose;
}

/**
 * Opens a socket with `WebSocketClass` (default: the global `WebSocket`) and
 * wires it with {@link keepaliveWhatwgSocket}. Returns the socket.
 */
export function connectWhatwgWithKeepalive<W extends KeepaliveSocketLike = KeepaliveSocketLike>(
  url: string | URL,
  activity: SessionActivity,
  options: KeepaliveWhatwgSocketOptions & {
    readonly protocols?: string | string[] | undefined;
    readonly WebSocket?: KeepaliveSocketConstructor<W> | undefined;
  } = {},
): W {
  const { protocols, WebSocket: given, ...socketOptions } = options;
  const WebSocketClass = given ?? (globalThis as unknown as { WebSocket?: KeepaliveSocketConstructor<W> }).WebSocket;
  if (WebSocketClass === undefined) throw new TypeError('connectWithKeepalive: no WebSocket class (pass options.WebSocket)');
  const socket = protocols === undefined ? new WebSocketClass(url) : new WebSocketClass(url, protocols);
  keepaliveWhatwgSocket(socket, activity, socketOptions);
  return socket;
}
