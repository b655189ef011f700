import {
  PeerTracker,
  RESUME_CLOSE_CODES,
  RESUME_CLOSE_REASONS,
  ServerConnections,
  requestQuery,
  type MessagePayload,
  type PeerTrackerOptions,
  type ServerConnection,
  type SessionHub,
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
 * `Deno.upgradeWebSocket`'s options, the heartbeat message, and the hub of
 * resumable sessions.
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
  /**
   * The heartbeat message: sent as the keep-alive and answered in kind. A string of at most 125 UTF-8 bytes, as in
   * every runtime (else `KeepaliveOptionError` naming `heartbeatMessage`). Default {@link HEARTBEAT_MESSAGE} (the
   * empty text frame).
   */
  readonly heartbeatMessage?: string | undefined;
  /**
   * Resumable sessions (spec B14, B17, wire format v2) for clients that ask for them (`ka=2` in the URL): the hub the
   * server shares between all its connections (create one with `createSessionHub<DenoSessionContext>()`, on the same
   * `heartbeatMessage`, and pass it for every request). A resuming client's keep-alive and its answers are the hub's
   * heartbeat (`\u0006A<n>`, which carries the acknowledgement; before the hello, the plain heartbeat message); its
   * frames go to the hub, and its messages arrive, once and in order, on its session (the hub's `session` event, then
   * `session.on('message')`): add no `message` listener to such a socket, and send with `session.send()`, not
   * `socket.send()`. See {@link KeepaliveUpgrade.resumable}. The hub's `admit` hook and its `session` and `refused`
   * events get a {@link DenoSessionContext} (the upgrade request and the socket). Default none: every client is plain.
   */
  readonly sessions?: SessionHub<DenoSessionContext> | undefined;
  /** The `Deno` namespace (tests); default the global one. */
  readonly deno?: DenoLike | undefined;
}

/**
 * The result of {@link upgradeWithKeepalive}: `Deno.upgradeWebSocket`'s
 * socket and response, the tracker the connection is registered with, and
 * whether it carries a resumable session.
 */
export interface KeepaliveUpgrade {
  /** The server-side WebSocket (Deno's `WebSocket`). */
  readonly socket: DenoWebSocketLike;
  /** Respond to the request with it. */
  readonly response: Response;
  readonly tracker: PeerTracker;
  /**
   * Whether the client asked for a resumable session (B14: `sessions` was given and the URL has `ka`). Then the hub
   * takes the connection when the socket opens and reads every frame: a client that asks for a new session gets it
   * (the hub's `session` event) at once, or once the `admit` hook accepted it; one that names a session is challenged
   * and attached only after it proved the session's secret in-band and the hook accepted it (B17; a wrong secret is
   * closed with 4403, no proof within `handshakeTimeoutMs` with 4408, and the session's owner is untouched). Read the
   * client's messages from the session, not from the socket (its raw frames include the hello, the proof,
   * acknowledgements, heartbeats and retransmissions). A request this version cannot read, or a wire format v1 one
   * (`ka=1`), is closed with 1002, and one that arrives after the hub closed with 1001.
   */
  readonly resumable: boolean;
}

/**
 * What the hub's `admit` hook is asked with, and what its `session` and `refused` events carry, as their `context`
 * when the hub is given to {@link upgradeWithKeepalive}: the upgrade request (headers, cookies, URL: authenticate
 * here, against the session's owner) and the socket. Create the hub as `createSessionHub<DenoSessionContext>()` to
 * get it typed.
 */
export interface DenoSessionContext {
  /**
   * The upgrade request's URL and headers, copied before the upgrade: Deno closes the request itself once the
   * upgrade's response is sent (reading its headers then throws `Request closed`), and the hub asks `admit` later
   * (when the socket opens, or once the client proved its session's secret).
   */
  readonly request: Request;
  readonly socket: DenoWebSocketLike;
}

/** Refuses a `sessions` option that is not a hub. */
function checkHub(given: unknown): SessionHub<DenoSessionContext> | undefined {
  if (given === undefined) return undefined;
  if (typeof given !== 'object' || given === null || typeof (given as Partial<SessionHub>).connect !== 'function') {
    throw new TypeError('Invalid option sessions: expected a SessionHub (createSessionHub()), shared by every connection of the server');
  }
  return given as SessionHub<DenoSessionContext>;
}

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
 * With `sessions` (a hub from `createSessionHub()`), clients that ask (`ka=2`
 * in the URL) get resumable sessions (spec B14, B17, wire format v2): when the
 * socket opens the hub sends a new session's hello, or challenges a client
 * that names a session, which must prove the session's secret in-band before
 * the hub's `admit` hook is asked and the session changes hands (its hello
 * comes then). The keep-alive is the hub's heartbeat (it carries the
 * acknowledgement), and the client's messages are delivered once and in order
 * on its session, across reconnects. For those connections (`resumable` in
 * the result) read from and write to the session, never the socket. A wire
 * format v1 client (`ka=1`) is closed with 1002.
 *
 * @example
 * ```ts
 * import { createKeepaliveClient, createKeepaliveTracker, createSessionHub, resumable, upgradeWithKeepalive, type DenoSessionContext } from '@keepalive/deno';
 *
 * const tracker = createKeepaliveTracker({ pingIntervalMs: 30_000, pongTimeoutMs: 10_000 });
 * // Typed with the context, so an `admit` hook (B17) reads `context.request` (see the README).
 * const sessions = createSessionHub<DenoSessionContext>({ sessionTtlMs: 60_000 });
 * sessions.on('session', ({ session, resumed, restored }) => {
 *   if (resumed && !restored) return; // the same object as before: its listeners are in place
 *   session.on('message', (message) => session.send(`echo: ${String(message)}`));
 *   session.on('expired', ({ unacked }) => console.log(`${unacked.length} messages never acknowledged`));
 * });
 * const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => undefined }, (request) => {
 *   const { socket, response, resumable } = upgradeWithKeepalive(request, { tracker, sessions });
 *   if (!resumable) socket.addEventListener('message', (event) => socket.send(`echo: ${event.data}`));
 *   return response;
 * });
 *
 * // A client that asks for a resumable session: what it sends is kept until the server acknowledges it.
 * const client = createKeepaliveClient(`ws://127.0.0.1:${server.addr.port}`, { resume: resumable() });
 * const reply = new Promise((resolve) => client.on('message', ({ data }) => resolve(data)));
 * client.send('hello');
 * console.log(await reply); // echo: hello
 * await client.close();
 * sessions.close();
 * await server.shutdown();
 * ```
 */
export function upgradeWithKeepalive(request: Request, options: UpgradeWithKeepaliveOptions = {}): KeepaliveUpgrade {
  const { tracker: given, protocol, idleTimeout = 0, heartbeatMessage, sessions: hubOption, deno: denoOption, ...peerOptions } = options;
  const hub = checkHub(hubOption);
  if (given !== undefined && Object.values(peerOptions).some((value) => value !== undefined)) {
    throw new TypeError(`upgradeWithKeepalive: give either a tracker or peer options (${Object.keys(peerOptions).join(', ')}), not both`);
  }
  const deno = denoOption ?? denoGlobal();
  if (deno === undefined) throw new TypeError('upgradeWithKeepalive: Deno.upgradeWebSocket is not available (not running on Deno?)');
  const tracker = given === undefined ? createKeepaliveTracker(peerOptions) : requireHeartbeatMessages(given, 'tracker');
  // The heartbeat message is checked as in every runtime (`KeepaliveOptionError` naming `heartbeatMessage`).
  const server = new ServerConnections<DenoSessionContext, DenoWebSocketLike>({ tracker, sessions: hub ?? null, heartbeatMessage });
  // Read before the upgrade: the request is at hand now, the socket opens later.
  const query = hub === undefined ? null : requestQuery(request.url);
  const resumable = server.asksForSession(query);
  // The hub's `admit` hook and events read the request after the upgrade, when Deno has closed it (its headers can no
  // longer be read): they get a copy of what identifies the client, taken now.
  const asked = resumable ? new Request(request.url, { headers: request.headers }) : request;
  const upgradeOptions: DenoUpgradeOptions = protocol === undefined ? { idleTimeout } : { protocol, idleTimeout };
  const { socket, response } = deno.upgradeWebSocket(request, upgradeOptions);
  // The hub reads binary messages from ArrayBuffers (it cannot read a Blob synchronously).
  if (resumable) socket.binaryType = 'arraybuffer';

  // Deno's socket cannot ping: the keep-alive, and its answers, are the heartbeat message (the hub's on a resuming
  // connection, which carries the acknowledgement).
  let connection: ServerConnection<DenoWebSocketLike> | null = null;
  const onOpen = (): void => {
    if (connection !== null) return;
    try {
      // The hub's first frame goes out now: a new session's hello, or the challenge to a client that names one.
      connection = server.open(socket, resumable ? query : null, resumable ? { request: asked, socket } : undefined);
      // A client that asked for a session the hub cannot give (it has closed) is refused rather than served plain.
      if (resumable && connection?.resumable !== true) socket.close(RESUME_CLOSE_CODES.goingAway, RESUME_CLOSE_REASONS.goingAway);
    } catch {
      tracker.reportHandlerError();
    }
  };
  const onMessage = (event: DenoSocketEventLike): void => {
    connection?.onMessage(event.data as MessagePayload);
  };
  const onClose = (event: DenoSocketEventLike): void => {
    connection?.onClose(event.code);
    socket.removeEventListener('open', onOpen);
    socket.removeEventListener('message', onMessage);
    socket.removeEventListener('close', onClose);
  };
  socket.addEventListener('open', onOpen);
  socket.addEventListener('message', onMessage);
  socket.addEventListener('close', onClose);
  return { socket, response, tracker, resumable };
}
