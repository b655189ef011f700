import { KeepaliveOptionError, type Diagnostic } from '@keepalive/core';
import { createDiagnosticSink, nextInstanceId } from '@keepalive/node-timers';
import {
  HEARTBEAT_MESSAGE,
  PeerTracker,
  SessionHub,
  classifyMessage,
  type PeerTrackerOptions,
  type ResumeConnection,
  type ResumeSocket,
  type SessionHubOptions,
  type TrackedPeer,
  type TrackedSocket,
  type TrackerStats,
} from '@keepalive/websocket-transport/peer';
import { defaultScheduler } from './platform.js';

/**
 * What the keep-alive needs from a Bun `ServerWebSocket` (a local interface:
 * no `bun-types` dependency). Bun's own type is assignable to it.
 */
export interface BunServerWebSocketLike {
  /** Sends a protocol ping (with `resume`, its payload may carry an acknowledgement). */
  ping(data?: string): unknown;
  /** Sends a message: text, or binary (a resumable session's binary messages). */
  send(data: string | ArrayBuffer | ArrayBufferView): unknown;
  /** Closes with a close frame. */
  close(code?: number, reason?: string): unknown;
  /** Destroys the connection at once (no close handshake); Bun ≥ 1.1 has it. */
  terminate?(): unknown;
  /**
   * What the app passed as `data` to `server.upgrade(request, { data })`. With `resume`, {@link withKeepalive} reads
   * the request URL from `data.url` (a string or a `URL`): upgrade with `server.upgrade(request, { data: { url: request.url } })`.
   */
  readonly data?: unknown;
}

/**
 * A message as Bun delivers it to a `websocket.message` handler: a string for
 * a text frame, a `Buffer` (a `Uint8Array`) for a binary one.
 */
export type BunMessage = string | ArrayBuffer | ArrayBufferView;

/**
 * The `websocket` handler object of `Bun.serve` (a local interface: Bun's
 * `WebSocketHandler<T>` is assignable to it). Settings such as
 * `maxPayloadLength` or `perMessageDeflate` are passed through unchanged.
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
 */
export interface BunKeepaliveOptions extends PeerTrackerOptions {
  /** The application-level heartbeat clients may send; answered in kind. Default {@link HEARTBEAT_MESSAGE} (the empty text frame). */
  readonly heartbeatMessage?: string | undefined;
  /**
   * Resumable sessions (spec B14, B17, wire format v2) for clients that ask for them (`ka=2` in the URL): `true` for
   * the defaults, or the `SessionHubOptions` (the hub's scheduler, `onDiagnostic` and `heartbeatMessage` default to
   * this keep-alive's). A bad option throws `KeepaliveOptionError` naming it as `resume.<option>`. Default off.
   *
   * Bun's `ServerWebSocket` has no URL: upgrade with `server.upgrade(request, { data: { url: request.url } })` so the
   * hub can read the query from `ws.data.url`. A connection without one is served as a plain client, and a warn
   * diagnostic `resume_url_missing` ({@link BUN_SERVER_DIAGNOSTICS}) says so once. Plain clients are untouched. See
   * {@link BunServerKeepalive.sessions}.
   *
   * The session id in the URL is public: a client that names a session must prove its secret in-band before anything
   * about the session changes (B17). The `admit` hook (`resume: { admit }`) is then asked, with a
   * {@link BunSessionContext} (the socket, whose `data` is what you passed to `server.upgrade`: put the user's
   * identity there and check it against the session's owner), before a session is made or changes hands.
   */
  readonly resume?: boolean | SessionHubOptions<BunSessionContext> | undefined;
}

/**
 * Diagnostics of {@link withKeepalive} besides the tracker's and the hub's (names only, never URLs or session ids):
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `resume_url_missing` | warn | none (resume is on, but a socket's `data.url` is missing or unreadable: served as a plain client; reported once) |
 */
export const BUN_SERVER_DIAGNOSTICS = Object.freeze({ resumeUrlMissing: 'resume_url_missing' } as const);

/**
 * The keep-alive behind a wrapped handler: counters and a way to stop.
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
  /**
   * The resumable sessions (spec B14) when the `resume` option is on, else `null`. A resuming client's messages are
   * read by the hub and are **not** passed to your `message` handler: read them from its session
   * (`session.on('message')`), and send with `session.send()`, not `ws.send()` (what is written on the socket
   * directly is neither numbered nor kept for a reconnect). Plain clients' messages reach your handler as before.
   * Closing the keep-alive ends every session (their sockets are closed with 1001). The hub's `refused` event reports
   * the connections it turned away (a wrong secret, the `admit` hook, a handshake timeout, a v1 client), with the
   * socket as `context`; the session they named was not touched (B17).
   */
  readonly sessions: SessionHub<BunSessionContext> | null;
}

/**
 * What a `session` or `refused` event of a resumable `withKeepalive` handler carries as its `context`, and what its
 * `admit` hook is asked with: the connection's `ServerWebSocket` (its `data` holds what the app passed to
 * `server.upgrade`: the request URL, and whatever identifies the user, to authenticate against the session's owner).
 */
export interface BunSessionContext {
  readonly ws: BunServerWebSocketLike;
}

/**
 * The keep-alive of a handler with resumable sessions on: {@link BunServerKeepalive} whose `sessions` is the hub.
 */
export interface ResumableBunServerKeepalive extends BunServerKeepalive {
  readonly sessions: SessionHub<BunSessionContext>;
}

/**
 * A handler returned by {@link withKeepalive}: the given handler with
 * keep-alive wired in, plus {@link BunServerKeepalive} as `keepalive`
 * ({@link ResumableBunServerKeepalive} with `resume` on).
 */
export type KeepaliveWebSocketHandler<H extends BunWebSocketHandlerLike, K extends BunServerKeepalive = BunServerKeepalive> = H & {
  readonly keepalive: K;
};

/**
 * One tracked connection: the socket the tracker drives (methods on the prototype: no closures per connection) and,
 * for a resuming client, its session's handle.
 */
class BunConnection implements TrackedSocket, ResumeSocket {
  peer: TrackedPeer | null = null;
  /** The resumable session's handle when the client asked for one (B14), else `null`. */
  resume: ResumeConnection | null = null;
  constructor(
    readonly ws: BunServerWebSocketLike,
    private readonly heartbeatMessage: string,
  ) {}
  ping(): void {
    // A resuming client that reads ping payloads gets the owed acknowledgement on the ping.
    const payload = this.resume?.pingPayload() ?? '';
    if (payload === '') this.ws.ping();
    else this.ws.ping(payload);
  }
  reply(): void {
    // A resuming connection answers with the hub's heartbeat, which carries the acknowledgement (before its hello,
    // while it proves its session, the hub answers with the plain heartbeat message).
    this.ws.send(this.resume === null ? this.heartbeatMessage : this.resume.heartbeatReply());
  }
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    this.ws.send(data);
  }
  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
  terminate(): void {
    if (typeof this.ws.terminate === 'function') this.ws.terminate();
    else this.ws.close();
  }
}

/** The request URL an app put in `ws.data.url` (a string or a `URL`), as its query; `null` when missing or unreadable. */
function queryOf(data: unknown): URLSearchParams | null {
  if (typeof data !== 'object' || data === null) return null;
  let url: unknown;
  try {
    url = (data as { readonly url?: unknown }).url;
  } catch {
    return null;
  }
  if (url instanceof URL) return url.searchParams;
  if (typeof url !== 'string') return null;
  try {
    return new URL(url, 'http://localhost').searchParams;
  } catch {
    return null;
  }
}

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
 * With `resume` on, clients that ask (`ka=2` in the URL) get resumable
 * sessions (spec B14, B17, wire format v2) from `websocket.keepalive.sessions`:
 * the server numbers its messages, keeps them until acknowledged and
 * retransmits them after a reconnect; the client's messages are delivered once
 * and in order. The hub reads the request URL from `ws.data.url`, so upgrade
 * with `server.upgrade(request, { data: { url: request.url } })`. The hub's
 * first frame goes out in `open`, before your `open` runs (write nothing on a
 * resuming client's socket yourself): the hello of a new session, or the
 * challenge to a client that names one; a resumed session's hello follows only
 * once the client proved the session's secret in-band and the `admit` hook
 * accepted it (a wrong secret is closed with 4403, no proof within
 * `handshakeTimeoutMs` with 4408, and the session's owner is untouched). A
 * resuming client's messages go to its session, never to your `message`
 * handler; `open`, `ping`, `pong` and `close` still reach yours. A v1 client
 * (`ka=1`) is closed with 1002.
 *
 * @example
 * ```ts
 * import { connectWithKeepalive, createSessionActivity, withKeepalive } from '@keepalive/bun';
 *
 * const websocket = withKeepalive(
 *   { message: (ws, message) => ws.send(`echo: ${message}`) },
 *   { pingIntervalMs: 500, pongTimeoutMs: 250, minPingIntervalMs: 100 },
 * );
 * const server = Bun.serve({
 *   hostname: '127.0.0.1',
 *   port: 0,
 *   fetch: (request, srv) => (srv.upgrade(request) ? undefined : new Response('upgrade required', { status: 426 })),
 *   websocket,
 * });
 *
 * const activity = createSessionActivity({ heartbeatIntervalMs: 200, pongTimeoutMs: 500, logger: console });
 * const socket = connectWithKeepalive(`ws://127.0.0.1:${server.port}`, activity);
 * await new Promise((resolve) => socket.addEventListener('open', resolve));
 *
 * await activity.run('api_call', () => new Promise((resolve) => setTimeout(resolve, 1_000))); // keep-alives flow
 * console.log(activity.shutdown()); // { total: 0, active: {}, oldestActivityMs: null, keepalivesSent: 4 }
 * console.log(websocket.keepalive.stats()); // { tracked: 1, pingsSent: 2, deadPeers: 0, ... }
 * socket.close();
 * server.stop();
 * ```
 */
export function withKeepalive<H extends BunWebSocketHandlerLike>(
  handler: H,
  options: BunKeepaliveOptions & { readonly resume: true | SessionHubOptions<BunSessionContext> },
): KeepaliveWebSocketHandler<H, ResumableBunServerKeepalive>;
/** {@inheritDoc withKeepalive:0} */
export function withKeepalive<H extends BunWebSocketHandlerLike>(handler: H, options?: BunKeepaliveOptions): KeepaliveWebSocketHandler<H>;
export function withKeepalive<H extends BunWebSocketHandlerLike>(handler: H, options: BunKeepaliveOptions = {}): KeepaliveWebSocketHandler<H> {
  const given: unknown = handler;
  if (typeof given !== 'object' || given === null || typeof (given as Partial<BunWebSocketHandlerLike>).message !== 'function') {
    throw new TypeError('withKeepalive(handler): expected a Bun websocket handler object with a message() function');
  }
  const { heartbeatMessage = HEARTBEAT_MESSAGE, scheduler, resume, ...peerOptions } = options;
  if (typeof heartbeatMessage !== 'string') throw new KeepaliveOptionError('heartbeatMessage', heartbeatMessage, 'a string');
  const resumeGiven: unknown = resume;
  if (resumeGiven !== undefined && typeof resumeGiven !== 'boolean' && (typeof resumeGiven !== 'object' || resumeGiven === null || Array.isArray(resumeGiven))) {
    throw new KeepaliveOptionError('resume', resumeGiven, 'true, false or an object of resume options');
  }
  const tracker = new PeerTracker({ ...peerOptions, scheduler: scheduler ?? defaultScheduler() });
  const hubOptions: SessionHubOptions<BunSessionContext> | null =
    resume === undefined || resume === false
      ? null
      : { scheduler: tracker.scheduler, onDiagnostic: peerOptions.onDiagnostic, heartbeatMessage, ...(resume === true ? {} : resume) };
  // The hub validates its options (named `resume.<option>`); it runs on the tracker's scheduler by default.
  const hub = hubOptions === null ? null : new SessionHub<BunSessionContext>(hubOptions);
  // The adapter's own warning goes where the hub's diagnostics go.
  const diagnose: ((diagnostic: Diagnostic) => void) | null =
    hubOptions === null ? null : createDiagnosticSink({ session: nextInstanceId(), logger: hubOptions.logger, onDiagnostic: hubOptions.onDiagnostic });
  const connections = new Map<BunServerWebSocketLike, BunConnection>();
  // Resuming sockets, until they close: their frames belong to the hub even after the keep-alive stopped.
  const resumed = new WeakMap<BunServerWebSocketLike, ResumeConnection>();
  let urlMissingReported = false;
  let closed = false;

  const guarded = (fn: () => void): void => {
    try {
      fn();
    } catch {
      tracker.reportHandlerError();
    }
  };

  const track = (ws: BunServerWebSocketLike): void => {
    if (closed || connections.has(ws)) return;
    const connection = new BunConnection(ws, heartbeatMessage);
    connections.set(ws, connection);
    connection.peer = tracker.track(connection);
    if (hub === null) return;
    const query = queryOf(ws.data);
    if (query === null) {
      if (!urlMissingReported) {
        urlMissingReported = true;
        diagnose?.({ type: 'diagnostic', level: 'warn', name: BUN_SERVER_DIAGNOSTICS.resumeUrlMissing, fields: {} });
      }
      return;
    }
    // The hub's first frame goes out now (a new session's hello, or the challenge to a client that names one: the
    // session is attached later, once the proof and the admit hook let it); `null` is a plain client, left as it is.
    // Until the hello, the hub reads the client's frames (the proof) and answers its plain heartbeat plainly.
    const handle = hub.connect(connection, (name) => query.get(name), { ws });
    if (handle === null) return;
    connection.resume = handle;
    resumed.set(ws, handle);
  };

  const untrack = (ws: BunServerWebSocketLike, code: number): void => {
    const handle = resumed.get(ws);
    if (handle !== undefined) {
      resumed.delete(ws);
      handle.closed(code);
    }
    const connection = connections.get(ws);
    if (connection === undefined) return;
    connections.delete(ws);
    connection.peer?.disconnected();
  };

  const keepalive: BunServerKeepalive = {
    get size() {
      return tracker.size;
    },
    stats: () => tracker.stats(),
    close: () => {
      if (closed) return;
      closed = true;
      // Sessions end first (their sockets are closed with 1001 and their handles detached).
      hub?.close();
      connections.clear();
      tracker.close();
    },
    tracker,
    sessions: hub,
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
      const handle = resumed.get(ws);
      if (handle !== undefined) {
        // The session reads the frame (control, data, retransmission); the tracker only needs to know its kind.
        guarded(() => {
          const kind = handle.message(message);
          connections.get(ws)?.peer?.inbound(kind === 'heartbeat' ? 'heartbeat' : 'message');
        });
        return undefined;
      }
      guarded(() => {
        const peer = connections.get(ws)?.peer;
        if (peer === null || peer === undefined) return;
        const kind = classifyMessage(message, undefined, heartbeatMessage);
        if (kind === 'heartbeat') peer.inbound('heartbeat');
        else if (kind === 'malformed') peer.malformedHeartbeat();
        else peer.inbound('message');
      });
      return handler.message(ws, message);
    },
    ping(ws, data) {
      guarded(() => {
        // A resuming client's ping may carry its acknowledgement.
        resumed.get(ws)?.ping(data);
        connections.get(ws)?.peer?.inbound('ping');
      });
      return handler.ping?.(ws, data);
    },
    pong(ws, data) {
      guarded(() => connections.get(ws)?.peer?.inbound('pong'));
      return handler.pong?.(ws, data);
    },
    close(ws, code, reason) {
      guarded(() => {
        untrack(ws, code);
      });
      return handler.close?.(ws, code, reason);
    },
    keepalive,
  };
  return wrapped as KeepaliveWebSocketHandler<H>;
}
