import {
  HEARTBEAT_MESSAGE,
  PeerTracker,
  classifyMessage,
  type MessagePayload,
  type PeerTrackerOptions,
  type TrackedPeer,
} from '@keepalive/websocket-transport/peer';
import type { DenoLike, DenoSocketEventLike, DenoUpgradeOptions, DenoWebSocketLike } from './deno-like.ts';
import { defaultScheduler, denoGlobal } from './platform.ts';

/**
 * Creates a {@link PeerTracker} on this package's Deno scheduler, with
 * `keepaliveFrame: 'message'` (Deno's sockets cannot send protocol pings, so
 * the keep-alive is the heartbeat message, and the core tells the answers to
 * ours from the client's own). Share one between all the connections of a
 * server: its counters cover them all.
 *
 * @example
 * ```ts
 * import { createKeepaliveTracker } from '@keepalive/deno';
 * const tracker = createKeepaliveTracker({ pingIntervalMs: 30_000, pongTimeoutMs: 10_000, idleCloseMs: 300_000 });
 * tracker.stats().deadPeers;
 * ```
 */
export function createKeepaliveTracker(options: PeerTrackerOptions = {}): PeerTracker {
  return requireHeartbeatMessages(
    new PeerTracker({ ...options, keepaliveFrame: options.keepaliveFrame ?? 'message', scheduler: options.scheduler ?? defaultScheduler() }),
    'keepaliveFrame',
  );
}

/** Refuses a tracker whose peers expect protocol pings: on Deno every keep-alive is a heartbeat message. */
function requireHeartbeatMessages(tracker: PeerTracker, option: string): PeerTracker {
  const frame: unknown = tracker.config.keepaliveFrame;
  if (frame !== 'message') {
    throw new TypeError(
      `Invalid option ${option}: ${String(frame)} (expected a tracker with keepaliveFrame 'message', as createKeepaliveTracker makes: Deno's sockets cannot send protocol pings)`,
    );
  }
  return tracker;
}

/**
 * Options of {@link upgradeWithKeepalive}: either a shared `tracker`, or the
 * peer options for a tracker of this connection's own; plus
 * `Deno.upgradeWebSocket`'s options and the heartbeat message.
 *
 * @example
 * ```ts
 * const options: UpgradeWithKeepaliveOptions = { tracker, protocol: 'chat' };
 * ```
 */
export interface UpgradeWithKeepaliveOptions extends PeerTrackerOptions {
  /**
   * The tracker to register the connection with (see {@link createKeepaliveTracker}); peer options must then be left out.
   * Its `config.keepaliveFrame` must be `'message'`.
   */
  readonly tracker?: PeerTracker | undefined;
  /** The subprotocol to accept (`Deno.upgradeWebSocket`'s `protocol`). */
  readonly protocol?: string | undefined;
  /**
   * Deno's own ping-based timeout, in seconds. Default 0 (off), so the core is
   * the only keep-alive policy; Deno's own default would be 30.
   */
  readonly idleTimeout?: number | undefined;
  /** The heartbeat message: sent as the keep-alive and answered in kind. Default {@link HEARTBEAT_MESSAGE} (the empty text frame). */
  readonly heartbeatMessage?: string | undefined;
  /** The `Deno` namespace (tests); default the global one. */
  readonly deno?: DenoLike | undefined;
}

/**
 * The result of {@link upgradeWithKeepalive}: `Deno.upgradeWebSocket`'s
 * socket and response, and the tracker the connection is registered with.
 *
 * @example
 * ```ts
 * const { socket, response, tracker }: KeepaliveUpgrade = upgradeWithKeepalive(request);
 * ```
 */
export interface KeepaliveUpgrade {
  /** The server-side WebSocket (Deno's `WebSocket`). */
  readonly socket: DenoWebSocketLike;
  /** Respond to the request with it. */
  readonly response: Response;
  readonly tracker: PeerTracker;
}

const OPEN = 1;

/**
 * Upgrades a request with `Deno.upgradeWebSocket` and gives the connection
 * server-side keep-alive driven by the core's peer machine, on one shared
 * timer. Deno's sockets cannot send protocol pings, so:
 *
 * - the keep-alive is the heartbeat message (the empty text frame), sent every
 *   `pingIntervalMs` on the connection's own phase;
 * - any inbound message is proof of life (B5); every heartbeat message goes
 *   to the core's peer machine (`keepaliveFrame: 'message'`), which counts
 *   the heartbeats it owes an answer for: one that arrives while one of ours
 *   is unanswered is its answer (like a pong), any other is the client's own
 *   and is answered in kind (so the two ends never echo each other forever);
 * - a connection that shows no life within `pongTimeoutMs` is closed (Deno
 *   has no `terminate()`, so it is a close frame);
 * - `idleCloseMs` closes silent connections with 4000, and heartbeats faster
 *   than `minPingIntervalMs`, past `maxPingStrikes`, close with 1008 (B8).
 *
 * Clients must answer the server's heartbeat messages (the helpers of
 * `@keepalive/deno` and `@keepalive/bun` do); for clients that cannot, set
 * `terminateDeadPeers: false`. The tracker's listeners are added before
 * yours, so they run first; heartbeat messages reach your listeners too (skip
 * them with `classifyMessage(event.data) !== 'data'`).
 *
 * @example
 * ```ts
 * import { createKeepaliveTracker, upgradeWithKeepalive } from '@keepalive/deno';
 * const tracker = createKeepaliveTracker({ pingIntervalMs: 30_000, pongTimeoutMs: 10_000 });
 * Deno.serve((request) => {
 *   if (request.headers.get('upgrade') !== 'websocket') return new Response('upgrade required', { status: 426 });
 *   const { socket, response } = upgradeWithKeepalive(request, { tracker });
 *   socket.addEventListener('message', (event) => socket.send(String(event.data)));
 *   return response;
 * });
 * ```
 */
export function upgradeWithKeepalive(request: Request, options: UpgradeWithKeepaliveOptions = {}): KeepaliveUpgrade {
  const { tracker: given, protocol, idleTimeout = 0, heartbeatMessage = HEARTBEAT_MESSAGE, deno: denoOption, ...peerOptions } = options;
  if (typeof heartbeatMessage !== 'string') throw new TypeError('Invalid option heartbeatMessage: expected a string');
  if (given !== undefined && Object.values(peerOptions).some((value) => value !== undefined)) {
    throw new TypeError(`upgradeWithKeepalive: give either a tracker or peer options (${Object.keys(peerOptions).join(', ')}), not both`);
  }
  const deno = denoOption ?? denoGlobal();
  if (deno === undefined) throw new TypeError('upgradeWithKeepalive: Deno.upgradeWebSocket is not available (not running on Deno?)');
  const tracker = given === undefined ? createKeepaliveTracker(peerOptions) : requireHeartbeatMessages(given, 'tracker');
  const upgradeOptions: DenoUpgradeOptions = protocol === undefined ? { idleTimeout } : { protocol, idleTimeout };
  const { socket, response } = deno.upgradeWebSocket(request, upgradeOptions);

  let peer: TrackedPeer | null = null;
  const guarded = (fn: () => void): void => {
    try {
      fn();
    } catch {
      tracker.reportHandlerError();
    }
  };
  const onOpen = (): void => {
    guarded(() => {
      peer ??= tracker.track({
        // keepaliveFrame 'message': each keep-alive is the heartbeat message, owed an answer in the core.
        ping: () => {
          if (socket.readyState === OPEN) socket.send(heartbeatMessage);
        },
        reply: () => {
          if (socket.readyState === OPEN) socket.send(heartbeatMessage);
        },
        close: (code, reason) => {
          socket.close(code, reason);
        },
        terminate: () => {
          socket.close();
        },
      });
    });
  };
  const onMessage = (event: DenoSocketEventLike): void => {
    guarded(() => {
      if (peer === null) return;
      const data = event.data;
      if (data === heartbeatMessage) {
        // The core decides whether it answers ours or is the client's own (and then commands the reply).
        peer.inbound('heartbeat');
        return;
      }
      const kind = classifyMessage(data as MessagePayload, undefined, heartbeatMessage);
      if (kind === 'malformed') peer.malformedHeartbeat();
      else peer.inbound('message');
    });
  };
  const onClose = (): void => {
    guarded(() => {
      peer?.closed();
      socket.removeEventListener('open', onOpen);
      socket.removeEventListener('message', onMessage);
      socket.removeEventListener('close', onClose);
    });
  };
  socket.addEventListener('open', onOpen);
  socket.addEventListener('message', onMessage);
  socket.addEventListener('close', onClose);
  return { socket, response, tracker };
}
