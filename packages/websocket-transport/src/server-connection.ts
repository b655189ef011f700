import {
  CLOSE_CODES,
  KeepaliveOptionError,
  RESUME_PARAMS,
  checkHeartbeatMessage,
  type Diagnostic,
  type DiagnosticFields,
  type DiagnosticLevel,
  type PeerState,
} from '@keepalive/core';
import { createDiagnosticSink, nextInstanceId, type Logger } from '@keepalive/node-timers';
import { HEARTBEAT_MESSAGE, classifyMessage, type MessagePayload } from './heartbeat.js';
import { PeerTracker, type PeerTrackerOptions, type TrackedSocket, type TrackerStats } from './peer-tracker.js';
import { OPEN } from './ready-state.js';
import { SessionHub, type ResumeConnection, type ResumeFrame, type SessionHubCloseOptions, type SessionHubOptions } from './resume-server.js';
import { ADOPT, Peer } from './tracked-peer.js';

/**
 * The server side of every runtime, written once and runtime-neutral: a server's connections
 * ({@link ServerConnections}: the options checked once, the tracker, the hub of resumable sessions) and one
 * {@link ServerConnection} per socket, which decides where each inbound frame goes (the application, the keep-alive,
 * or the session hub) and writes the keep-alives and their answers. The `ws` integration (`keepAlive(wss)`), Bun's
 * `withKeepalive` and Deno's `upgradeWithKeepalive` only translate their runtime's socket events onto it.
 */

/**
 * What a server connection needs from its socket: the `ws` library's, Bun's and Deno's server sockets fit as they
 * are (Bun's `ServerWebSocket` and Deno's `WebSocket` are assignable to it).
 */
export interface ServerSocket {
  /**
   * Sends a protocol ping; `payload` is the acknowledgement owed to a resuming client that reads ping payloads. Leave
   * it out where the runtime cannot send pings (Deno, WHATWG sockets): the keep-alive is then the heartbeat message,
   * and the tracker must expect answers in kind (`keepaliveFrame: 'message'`).
   */
  ping?(payload?: string): unknown;
  /** Sends a message: the heartbeat, or (for the session hub) a resumable session's frames, text or binary. */
  send(data: string | ArrayBuffer | ArrayBufferView): unknown;
  /** Closes with a close frame. */
  close(code?: number, reason?: string): unknown;
  /** Destroys the connection at once (no close handshake); without it, a dead peer gets `close()`. */
  terminate?(): unknown;
  /**
   * 0 connecting, 1 open, 2 closing, 3 closed. Where the socket has it, heartbeats (keep-alives and answers) are
   * written only while it is open: a WHATWG socket throws on a send after its close began.
   */
  readonly readyState?: number;
}

/** Reads a parameter of the request URL's query (`null` when absent): how a client asks for a resumable session. */
export type QueryGetter = (name: string) => string | null;

/**
 * Where an inbound frame went ({@link ServerConnection.onMessage}):
 * - `data`: application data of a plain connection: the application's;
 * - `heartbeat`: the heartbeat message, or a malformed one (an empty binary frame, a few spaces), of a plain
 *   connection: the keep-alive's business, not application data (adapters that always passed such frames on still do);
 * - `session`: a frame of a resuming connection, read by the session hub (hello, proof, acknowledgements, heartbeats,
 *   data, retransmissions): never the application's; it gets the client's messages from the session.
 */
export type FrameRoute = 'data' | 'heartbeat' | 'session';

/**
 * One server-side connection, as {@link ServerConnections.open} returned it: what an adapter translates its socket's
 * events to. None of its methods throws: an exception inside is caught and counted (`handlerErrors`).
 */
export interface ServerConnection<S extends ServerSocket = ServerSocket> {
  /** The socket it was opened for. */
  readonly socket: S;
  /**
   * Whether the client asked for a resumable session and the hub took the connection (until it closes): every frame
   * is then the hub's, and the client's messages arrive on its session.
   */
  readonly resumable: boolean;
  /** The peer state, updated in place by the tracker (read it; do not keep it as a snapshot). */
  readonly state: PeerState;
  /**
   * A message arrived (`isBinary`: `ws`'s flag; leave it out where text arrives as strings). It is proof of life; a
   * heartbeat is answered per the core's rule; a resuming connection's frame goes to the hub. Returns where it went:
   * whether the application should see it.
   */
  onMessage(data: MessagePayload, isBinary?: boolean): FrameRoute;
  /** The client pinged (`payload`: the ping's, which may carry a resuming client's acknowledgement). */
  onPing(payload?: ResumeFrame): void;
  /** The client answered a ping. */
  onPong(): void;
  /** The socket closed with `code` (default 1006): the tracker forgets the connection, and its session waits for the client (1000 ends it). */
  onClose(code?: number): void;
}

/**
 * Options of {@link createServerConnections}: the peer options (interval, timeout, idle close, ping-flood policy), the
 * scheduler and a diagnostics hook, the heartbeat message answered for clients that cannot ping, and resumable
 * sessions.
 */
export interface ServerConnectionsOptions<C = unknown> extends PeerTrackerOptions {
  /**
   * The application-level heartbeat clients may send, answered in kind: a string of at most 125 UTF-8 bytes (a
   * control frame's payload limit). Default {@link HEARTBEAT_MESSAGE} (the empty text frame).
   */
  readonly heartbeatMessage?: string | undefined;
  /**
   * Resumable sessions (spec B14, B17) for clients that ask for them (`ka=2` in the URL): `true` for the defaults, or
   * the {@link SessionHubOptions} (the hub's scheduler, `onDiagnostic` and `heartbeatMessage` default to these
   * options'). A bad one throws `KeepaliveOptionError` naming it as `resume.<option>`. Default off.
   */
  readonly resume?: boolean | SessionHubOptions<C> | undefined;
}

/**
 * What {@link ServerConnections} is made of: a tracker, a hub (or none) and the heartbeat message; and where an
 * adapter's own diagnostics go ({@link ServerConnections.report}).
 */
export interface ServerConnectionsParts<C = unknown> {
  readonly tracker: PeerTracker;
  readonly sessions?: SessionHub<C> | null | undefined;
  /** Checked as {@link ServerConnectionsOptions.heartbeatMessage}. Default {@link HEARTBEAT_MESSAGE}. */
  readonly heartbeatMessage?: string | undefined;
  readonly logger?: Logger | undefined;
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
}

/**
 * What a server adapter hands the application: counters, the hub, and a way to stop.
 */
export interface ServerKeepaliveHandle<C = unknown> extends Disposable {
  /** Connections tracked now. */
  readonly size: number;
  /** Counters: pings sent, heartbeats answered, dead, idle and flood closes, malformed heartbeats, handler errors. */
  stats(): TrackerStats;
  /**
   * Stops tracking (plain sockets stay open) and closes the hub: with a store its sessions are handed over to it
   * (their sockets closed with 1012 once written; clients resume on the next process), else, or with
   * `{ endSessions: true }`, they end (1001). See {@link SessionHub.close}.
   */
  close(options?: SessionHubCloseOptions): void;
  /** Resolves once `close` was called and the hub's {@link SessionHub.closed} resolved (at once without a hub). Never rejects. */
  readonly closed: Promise<void>;
  readonly tracker: PeerTracker;
  readonly sessions: SessionHub<C> | null;
}

/**
 * One connection in one object: the adapter's {@link ServerConnection}, the tracker's peer and socket adapter (its
 * `ping`, `reply`, `close` and `terminate` carry out the core's commands) and the scheduler's wake target.
 */
class Connection<C, S extends ServerSocket> extends Peer implements ServerConnection<S>, TrackedSocket {
  /** The server: a property of the prototype of the server's own subclass ({@link connectionClass}), not one per connection. */
  declare readonly server: ServerConnections<C, S>;

  constructor(readonly socket: S) {
    super();
  }

  /** The resumable session's handle when the client asked for one (B14), until the socket closed; a plain connection has none. */
  get resume(): ResumeConnection | null {
    return null;
  }

  set resume(_handle: ResumeConnection | null) {
    // A plain connection (the hub is off, or the request did not ask) holds no handle: see ResumableConnection.
  }

  get resumable(): boolean {
    return this.resume !== null;
  }

  onMessage(data: MessagePayload, isBinary?: boolean): FrameRoute {
    const resume = this.resume;
    let route: FrameRoute = resume === null ? 'data' : 'session';
    try {
      if (resume !== null) {
        // The session reads the frame (control, data, retransmission); the tracker only needs to know its kind.
        this.inbound(resume.message(data as ResumeFrame, isBinary) === 'heartbeat' ? 'heartbeat' : 'message');
        return route;
      }
      const kind = classifyMessage(data, isBinary, this.server.heartbeatMessage);
      if (kind === 'data') {
        this.inbound('message');
        return route;
      }
      route = 'heartbeat';
      // The core decides whether a heartbeat answers one of ours or is the client's own (and then commands the reply).
      if (kind === 'heartbeat') this.inbound('heartbeat');
      else this.malformedHeartbeat();
    } catch {
      this.server.tracker.reportHandlerError();
    }
    return route;
  }

  onPing(payload?: ResumeFrame): void {
    try {
      // A resuming client's ping may carry its acknowledgement.
      if (payload !== undefined) this.resume?.ping(payload);
      this.inbound('ping');
    } catch {
      this.server.tracker.reportHandlerError();
    }
  }

  onPong(): void {
    try {
      this.inbound('pong');
    } catch {
      this.server.tracker.reportHandlerError();
    }
  }

  onClose(code: number = CLOSE_CODES.abnormal): void {
    const resume = this.resume;
    this.resume = null;
    try {
      this.disconnected();
      resume?.closed(code);
    } catch {
      this.server.tracker.reportHandlerError();
    }
  }

  /** The tracker's `ping` command: a protocol ping (carrying a resuming client's owed acknowledgement), or the heartbeat. */
  ping(): void {
    const socket = this.socket;
    if (this.config.keepaliveFrame === 'message' || typeof socket.ping !== 'function') {
      this.reply();
      return;
    }
    const payload = this.resume?.pingPayload() ?? '';
    if (payload === '') socket.ping();
    else socket.ping(payload);
  }

  /**
   * The tracker's `reply` command, and the keep-alive where it is a message: the plain heartbeat, or a resumed
   * connection's own (it carries the acknowledgement; before its hello, the hub answers with the plain one).
   */
  reply(): void {
    const socket = this.socket;
    if (socket.readyState !== undefined && socket.readyState !== OPEN) return;
    socket.send(this.resume === null ? this.server.heartbeatMessage : this.resume.heartbeatReply());
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  terminate(): void {
    const socket = this.socket;
    if (typeof socket.terminate === 'function') socket.terminate();
    else socket.close();
  }
}

/** A connection that may hold a resumable session's handle: the one field a plain connection does without. */
class ResumableConnection<C, S extends ServerSocket> extends Connection<C, S> {
  #resume: ResumeConnection | null = null;

  override get resume(): ResumeConnection | null {
    return this.#resume;
  }

  override set resume(handle: ResumeConnection | null) {
    this.#resume = handle;
  }
}

/** A connection class of one server (typed loosely: a server's socket type is its own). */
type ConnectionClass = new (socket: never) => Peer & { resume: ResumeConnection | null };

/** A server's own subclass of a connection class, whose prototype holds the server (no field per connection). */
function connectionClass<C, S extends ServerSocket>(Base: typeof Connection<C, S>, server: ServerConnections<C, S>): ConnectionClass {
  class KeepaliveConnection extends Base {}
  Object.defineProperty(KeepaliveConnection.prototype, 'server', { value: server });
  return KeepaliveConnection;
}

/**
 * The keep-alive of one server's connections, in every runtime: the options checked once, the {@link PeerTracker}
 * that drives every connection on one shared scheduler, the {@link SessionHub} of resumable sessions (or none), and
 * one {@link ServerConnection} per socket ({@link ServerConnections.open}). Adapters translate their runtime's socket events onto the
 * connection and keep only what is their runtime's (where the request URL is, how a socket is upgraded).
 *
 * Memory: a connection is one object (the tracker's peer, its socket adapter and its scheduler entry at once); the
 * server keeps no collection of its own (the tracker links its peers).
 *
 * @example
 * ```ts
 * import { createServerConnections, requestQuery, type ServerSocket } from '@keepalive/websocket-transport/peer';
 *
 * // An adapter's socket: anything with send and close, and ping and terminate where the runtime has them.
 * const written: string[] = [];
 * const socket: ServerSocket = {
 *   ping: () => written.push('ping'),
 *   send: (data) => written.push(String(data)),
 *   close: (code) => written.push(`close ${String(code)}`),
 *   terminate: () => written.push('terminate'),
 * };
 * const server = createServerConnections({ pingIntervalMs: 30_000, pongTimeoutMs: 10_000, resume: true });
 * server.sessions?.on('session', ({ session }) => session.on('message', (message) => console.log(`the session got ${String(message)}`)));
 *
 * // The adapter translates its socket's events (message, ping, pong, close) onto the connection.
 * const plain = server.open(socket, requestQuery('/ws'));
 * console.log(plain?.onMessage('hello')); // data: the application's
 * console.log(plain?.onMessage('')); // heartbeat: answered in kind (an empty text frame written)
 * const resuming = server.open(socket, requestQuery('/ws?ka=2')); // the hello is written now
 * console.log(resuming?.onMessage('hi')); // session: the hub's (the session got it)
 * plain?.onClose(1000);
 * resuming?.onClose(1000);
 * server.close();
 * ```
 */
export class ServerConnections<C = unknown, S extends ServerSocket = ServerSocket> {
  /** The tracker every connection is registered with. */
  readonly tracker: PeerTracker;
  /** The resumable sessions, or `null` when resume is off. */
  readonly sessions: SessionHub<C> | null;
  /** The checked heartbeat message. */
  readonly heartbeatMessage: string;
  private readonly logger: Logger | undefined;
  private readonly onDiagnostic: ((diagnostic: Diagnostic) => void) | undefined;
  private sink: ((diagnostic: Diagnostic) => void) | null = null;
  private stopped = false;
  private finished: (value?: Promise<void>) => void = () => undefined;
  /** Resolves once {@link ServerConnections.close} was called and the hub's `closed` resolved (at once without a hub). */
  readonly whenClosed = new Promise<void>((resolve) => {
    this.finished = resolve;
  });

  /**
   * From a tracker and a hub the application already has (Deno's, shared by every request). A bad heartbeat message
   * throws `KeepaliveOptionError` naming `heartbeatMessage`. See {@link createServerConnections} for options.
   */
  constructor(parts: ServerConnectionsParts<C>) {
    const { heartbeatMessage = HEARTBEAT_MESSAGE } = parts;
    this.heartbeatMessage = checkHeartbeatMessage('heartbeatMessage', heartbeatMessage);
    this.tracker = parts.tracker;
    this.sessions = parts.sessions ?? null;
    this.logger = parts.logger;
    this.onDiagnostic = parts.onDiagnostic;
    this.Plain = connectionClass<C, S>(Connection, this);
    this.Resumable = this.sessions === null ? this.Plain : connectionClass<C, S>(ResumableConnection, this);
  }

  /** This server's connection classes: a plain one, and one that can hold a session's handle (the same without a hub). */
  private readonly Plain: ConnectionClass;
  private readonly Resumable: ConnectionClass;

  /** Whether {@link ServerConnections.close} was called. */
  get closed(): boolean {
    return this.stopped;
  }

  /**
   * Starts keeping a socket alive: tracks it, and when the hub is on and the client asked for a resumable session
   * (`query` reads the request URL's query; `null` when there is none), hands it to the hub, whose first frame goes
   * out now (a new session's hello, or the challenge to a client that names one). `context` is what the hub's
   * `admit` hook and events get for this connection. Returns `null` once the server closed. Throws `TypeError` for a
   * socket without `ping` on a tracker that sends protocol pings (its client's answers would be echoed forever).
   */
  open(socket: S, query: QueryGetter | null, context?: C): ServerConnection<S> | null {
    if (this.stopped) return null;
    if (typeof socket.ping !== 'function' && this.tracker.config.keepaliveFrame !== 'message') {
      throw new TypeError("ServerConnections.open: a socket that cannot ping needs a tracker with keepaliveFrame 'message'");
    }
    const hub = this.sessions;
    const connection = new (hub === null || query === null ? this.Plain : this.Resumable)(socket as never);
    this.tracker[ADOPT](connection);
    // The connection is this server's: its class was made for a socket of type S.
    const opened = connection as unknown as ServerConnection<S>;
    if (hub === null || query === null) return opened;
    try {
      // `null`: a plain client (no `ka` in the URL), left as it is.
      connection.resume = hub.connect(socket, query, context);
    } catch {
      this.tracker.reportHandlerError();
    }
    return opened;
  }

  /**
   * Whether a request with this query asks for a resumable session that {@link ServerConnections.open} would hand to
   * the hub (the hub is on and the URL has `ka`): for an adapter that must know before the socket opens.
   */
  asksForSession(query: QueryGetter | null): boolean {
    return this.sessions !== null && query !== null && query(RESUME_PARAMS.version) !== null;
  }

  /** The connections this server opened that are tracked now, oldest first (a copy: safe to close while walking it). */
  connections(): ServerConnection<S>[] {
    const list: ServerConnection<S>[] = [];
    for (const peer of this.tracker.peers()) if (peer instanceof Connection && peer.server === this) list.push(peer as Connection<C, S>);
    return list;
  }

  /**
   * Reports an adapter's own diagnostic where the hub's go (its `logger` and `onDiagnostic`; without a hub, the
   * tracker's hook), and on the diagnostics channel. Counts, codes and names only.
   */
  report(level: DiagnosticLevel, name: string, fields: DiagnosticFields = {}): void {
    this.sink ??= createDiagnosticSink({ session: nextInstanceId(), logger: this.logger, onDiagnostic: this.onDiagnostic });
    this.sink({ type: 'diagnostic', level, name, fields });
  }

  /**
   * Stops: the hub closes first (see {@link SessionHub.close}: its sessions handed over to its store, or ended with
   * 1001 without one or with `{ endSessions: true }`), then the tracker forgets every connection (sockets stay open).
   * Given parts are closed too. A connection's events after this change nothing but its session's.
   */
  close(options?: SessionHubCloseOptions): void {
    if (this.stopped) return;
    this.stopped = true;
    this.sessions?.close(options);
    this.tracker.close();
    this.finished(this.sessions?.closed);
  }

  /** What an adapter hands the application; `close` defaults to {@link ServerConnections.close} (an adapter with listeners of its own passes its own). */
  handle(close: (options?: SessionHubCloseOptions) => void = (options) => this.close(options)): ServerKeepaliveHandle<C> {
    const tracker = this.tracker;
    return {
      get size() {
        return tracker.size;
      },
      stats: () => tracker.stats(),
      close,
      closed: this.whenClosed,
      tracker,
      sessions: this.sessions,
      [Symbol.dispose]: () => {
        close();
      },
    };
  }
}

/**
 * Creates a server's {@link ServerConnections} from the user's options, checked once and named the same in every
 * runtime: `heartbeatMessage` (a string of at most 125 UTF-8 bytes), `resume` (`true`, `false` or an object), the
 * peer options (by the tracker) and the hub's (as `resume.<option>`), each a `KeepaliveOptionError` naming it. The hub
 * runs on the tracker's scheduler, reports where the tracker does and answers the same heartbeat message unless its
 * options say otherwise.
 */
export function createServerConnections<C = unknown, S extends ServerSocket = ServerSocket>(options: ServerConnectionsOptions<C> = {}): ServerConnections<C, S> {
  const { heartbeatMessage: given = HEARTBEAT_MESSAGE, resume, ...trackerOptions } = options;
  const heartbeatMessage = checkHeartbeatMessage('heartbeatMessage', given);
  const asked: unknown = resume;
  if (asked !== undefined && typeof asked !== 'boolean' && (typeof asked !== 'object' || asked === null || Array.isArray(asked))) {
    throw new KeepaliveOptionError('resume', asked, 'true, false or an object of resume options');
  }
  const tracker = new PeerTracker(trackerOptions);
  if (resume === undefined || resume === false) return new ServerConnections<C, S>({ tracker, heartbeatMessage, onDiagnostic: trackerOptions.onDiagnostic });
  // The hub checks its own options (named `resume.<option>`).
  const hubOptions: SessionHubOptions<C> = { scheduler: tracker.scheduler, onDiagnostic: trackerOptions.onDiagnostic, heartbeatMessage, ...(resume === true ? {} : resume) };
  const sessions = new SessionHub<C>(hubOptions);
  return new ServerConnections<C, S>({ tracker, sessions, heartbeatMessage, logger: hubOptions.logger, onDiagnostic: hubOptions.onDiagnostic });
}

/**
 * The query of a request URL (absolute, or a path such as `/ws?ka=2`) as {@link ServerConnections.open} reads it, or
 * `null` when the URL cannot be parsed.
 */
export function requestQuery(url: string | URL): QueryGetter | null {
  let params: URLSearchParams;
  try {
    params = (url instanceof URL ? url : new URL(url, 'http://localhost')).searchParams;
  } catch {
    return null;
  }
  return (name) => params.get(name);
}
