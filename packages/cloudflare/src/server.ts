import {
  CLOSE_CODES,
  KeepaliveOptionError,
  MAX_DURATION_MS,
  RESUME_PARAMS,
  checkHeartbeatMessage,
  clearCommands,
  INITIAL_RTT,
  createPeerState,
  definePeerConfig,
  peerDeadline,
  peerStepInPlace,
  type Diagnostic,
  type InboundKind,
  type MutablePeerState,
  type PeerCommand,
  type PeerConfig,
  type PeerOptions,
  type PeerStepOptions,
} from '@keepalive/core';
import { createDiagnosticSink, createScheduler, nextInstanceId, type Logger } from '@keepalive/node-timers';
import {
  HEARTBEAT_MESSAGE,
  RESUME_CLOSE_CODES,
  RESUME_CLOSE_REASONS,
  SessionHub,
  classifyMessage,
  type ResumeConnection,
  type ServerResumeOptions,
  type SessionHubOptions,
} from '@keepalive/websocket-transport/peer';
import { DurableObjectSessionStore } from './session-store.js';
import type { DurableObjectKeyValueStorageLike, DurableObjectStateLike, HibernatableWebSocketLike, WebSocketPairConstructor, WebSocketRequestResponsePairConstructor } from './workerd-like.js';

/**
 * The server side in a Durable Object that holds its WebSockets with the hibernation API. The object is evicted from
 * memory while its sockets stay open, and wakes for a message, a close or its alarm; so nothing here lives between
 * two events but data:
 *
 * - **the client's keep-alives** (the heartbeat message, by default the empty text frame) are answered by workerd's
 *   auto-response (`ctx.setWebSocketAutoResponse`), which never wakes the object: a busy client costs nothing;
 * - **each socket's peer state** (the core's peer machine, `@keepalive/core`) is kept in the socket's attachment
 *   ({@link PackedPeer}, a fixed-size array), read and written back at every event;
 * - **the decisions** (the idle close, B16; the flood policy, B8) are the core's, taken on the object's one alarm,
 *   set to the earliest deadline of all its sockets. At each decision the machine is first told what the runtime saw
 *   meanwhile: the time of the socket's last auto-response is the client's last keep-alive.
 *
 * What the object does not do: it sends no keep-alive of its own. A Durable Object cannot send a protocol ping, and a
 * heartbeat message it wrote would be answered by the client with the heartbeat message, which the auto-response
 * answers in turn, which the client answers... forever, without ever waking the object to stop it. So the object
 * cannot probe a quiet client (B16's probe), and cannot tell a client that went idle from one that died: the idle
 * close (`idleCloseMs`) is how it learns about dead peers. A frozen client is closed (4000) `idleCloseMs` after its
 * last frame, plus the alarm's latency; a vanished one as soon as the runtime sees its connection end (a close).
 *
 * Why not `ServerConnections` (`@keepalive/websocket-transport/peer`), which the `ws`, Bun and Deno servers translate
 * to: its connection is a live object on an in-process scheduler (a timer per process, the peer state in the
 * object's fields), which hibernation throws away between two events; here the state is data in the attachment, the
 * one timer is the object's alarm, the heartbeat's answer is the runtime's, and the keep-alive it would write must
 * never be written. What is shared is shared: the core's peer machine and option checks, the heartbeat
 * classification (`classifyMessage`) every server uses, and (with `resume`) the `SessionHub` of resumable sessions
 * itself, the one `ServerConnections` drives, here on a scheduler of this instance and with its store on the object's
 * storage ({@link DurableObjectSessionStore}): its timers (a handshake's, an owed acknowledgement, a detached
 * session's expiry) live only while the instance does, and what must outlive it is in the storage.
 */

/** `readyState` of a closed WebSocket. */
const CLOSED = 3;

/** The close code of a normal close (the answer to a close whose code cannot be sent back). */
const NORMAL_CLOSE = 1000;

/**
 * The version of {@link PackedPeer}: a socket whose attachment holds another version (a deploy that changed the
 * layout) starts again from a fresh peer state at its next event.
 */
const PACKED_VERSION = 1;

/**
 * The per-socket state that survives hibernation, in the socket's attachment: the fields of the core's
 * `PeerState` (its `config` is rebuilt from the options at each wake), and the time of the last auto-response
 * already told to the machine. Numbers only (`null` where the core has `null`): 14 slots, at most 153 bytes as workerd
 * serializes it (V8's structured clone, measured in the tests), whatever the traffic: bounded.
 */
export type PackedPeer = readonly [
  version: number,
  pingAt: number | null,
  pongAt: number | null,
  idleAt: number | null,
  lastTrafficAt: number,
  floodLastPingAt: number | null,
  floodStrikes: number,
  floodViolated: number,
  pingsSent: number,
  quietPings: number,
  heartbeatsOwed: number,
  closed: number,
  /** The last auto-response time the machine was told about (ms since the epoch), or `null`. */
  autoResponseSeenAt: number | null,
  /** When the socket was accepted (ms since the epoch). */
  acceptedAt: number,
];

/**
 * What a socket's attachment holds: the keep-alive's state (`keepalive`) and the application's own value (`app`),
 * set with {@link HibernatingKeepalive.setAttachment}. Do not call `ws.serializeAttachment` yourself on a socket the
 * keep-alive accepted: it would replace the keep-alive's state, and the socket would no longer be decided for.
 */
export interface KeepaliveAttachment {
  readonly keepalive: PackedPeer;
  readonly app?: unknown;
  /**
   * Present on a socket whose client asked for a resumable session (`ka=2`): the id of the session it carries once
   * it proved the session's secret (or was given a new one), `null` before. Only the id (public, in the client's
   * URL) and, by its presence, the fact that this socket proved it: never the secret. After an eviction it tells the
   * new instance which session the socket held (see {@link HibernatingKeepalive.webSocketMessage}).
   */
  readonly session?: string | null;
}

/**
 * Resumable sessions on a Durable Object ({@link HibernatingKeepaliveOptions.resume}): the hub's options (the
 * delivery bounds, `sessionTtlMs`, `maxSessions`, `unconfirmedTtlMs`, `handshakeTimeoutMs`, the `admit` hook, whose
 * `context` is the server-side socket), and the storage's.
 */
export interface HibernatingResumeOptions<W extends HibernatableWebSocketLike = HibernatableWebSocketLike> extends ServerResumeOptions {
  /** The application's admission hook (B17), asked before a session changes hands; its `context` is the socket. */
  readonly admit?: SessionHubOptions<W>['admit'];
  /**
   * How long a session's state stays in the object's storage after its last write when no open socket holds it (a
   * client that never came back after an eviction or a restart). Default 600 000 ms; make it longer than
   * `sessionTtlMs`.
   */
  readonly storeTtlMs?: number | undefined;
  /** Prefix of the storage keys the sessions are kept under. Default `keepalive:`. */
  readonly storePrefix?: string | undefined;
}

/**
 * Options of {@link createHibernatingKeepalive}.
 */
export interface HibernatingKeepaliveOptions<W extends HibernatableWebSocketLike = HibernatableWebSocketLike> {
  /**
   * Close a socket with 4000 (`idle_timeout`) after this long without a frame from its client (keep-alives
   * included), decided on the object's alarm: the core's idle policy. It is also how the object learns about a
   * frozen or vanished client (it cannot probe one): set it above the clients' heartbeat interval, with room for a
   * late one. `null` (default) is off: an idle socket is kept, and the object sleeps, for as long as the client keeps
   * it open.
   */
  readonly idleCloseMs?: number | null | undefined;
  /**
   * The shortest allowed time between two of the client's keep-alives as the object sees them (B8). Default 5 000 ms.
   * The runtime answers keep-alives without the object, so the object sees at most the latest one at each event: a
   * flood is caught only where it shows (two decisions closer than this, each with a newer keep-alive).
   */
  readonly minPingIntervalMs?: number | undefined;
  /** Too-soon keep-alives tolerated before closing with 1008 (B8). Default 2. */
  readonly maxPingStrikes?: number | undefined;
  /**
   * The heartbeat message: the clients' keep-alive, answered in kind by the runtime's auto-response. A string of at
   * most 125 UTF-8 bytes, as in every runtime (else `KeepaliveOptionError` naming `heartbeatMessage`). Default
   * `HEARTBEAT_MESSAGE` (the empty text frame), the one `createKeepaliveClient` and browsers send.
   */
  readonly heartbeatMessage?: string | undefined;
  /** Called with every diagnostic (`peer_idle_closed`, `ping_flood`): counts and durations only. */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
  /** Where diagnostics are logged (a function, or a console-style or pino-style logger). */
  readonly logger?: Logger | undefined;
  /**
   * Resumable sessions (spec B14, B17, wire format v2) for clients that ask for one (`ka=2` in the URL), kept in the
   * object's transactional storage so that they survive its eviction and its restart: `true` for the defaults, or
   * {@link HibernatingResumeOptions}. The sessions are the runtime-neutral `SessionHub`'s (`sessions`); a resuming
   * client's keep-alive carries its acknowledgement, so it reaches the object (one wake per keep-alive while busy,
   * none while idle). Default off: such a client is served as a plain one.
   */
  readonly resume?: boolean | HibernatingResumeOptions<W> | undefined;
  /** The clock, in milliseconds since the epoch (the alarm's and the auto-response's). Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** The `WebSocketRequestResponsePair` class; default workerd's global one. */
  readonly WebSocketRequestResponsePair?: WebSocketRequestResponsePairConstructor | undefined;
}

/**
 * Counters of one {@link HibernatingKeepalive} since the object woke (an evicted object starts again from zero; what
 * must outlive eviction is in the sockets' attachments).
 */
export interface HibernatingKeepaliveStats {
  /** Sockets accepted by this instance. */
  readonly accepted: number;
  /** Alarms handled (decisions over every socket). */
  readonly alarms: number;
  /** Keep-alives the runtime answered that a decision read from a socket's auto-response time (at most one per socket per event). */
  readonly autoResponsesSeen: number;
  /** Heartbeat messages that reached the object and were answered by it (none while the auto-response is set). */
  readonly heartbeatsAnswered: number;
  readonly idleClosed: number;
  readonly floodClosed: number;
  /** Frames that looked like a heartbeat but were not one (an empty binary frame, a few spaces): proof of life, not answered, not data. */
  readonly malformedHeartbeats: number;
  /** Sockets whose close or error reached the object. */
  readonly closed: number;
  /** Exceptions thrown by a socket or a hook, caught and counted. */
  readonly handlerErrors: number;
  /** Frames of resumable sessions read by the session hub (each one a wake). */
  readonly sessionFrames: number;
  /**
   * Sockets of resumable sessions closed with 1012 (service restart) at their first frame after an eviction: the
   * instance that held their session is gone, so the client resumes it on a new connection, proving its secret.
   */
  readonly reattachCloses: number;
}

/**
 * Where an inbound frame went ({@link HibernatingKeepalive.webSocketMessage}): `data` is the application's; a
 * `heartbeat` (the heartbeat message, or a malformed one) is the keep-alive's business, not application data.
 */
export type HibernatingFrameRoute = 'data' | 'heartbeat' | 'session';

/** Options of {@link HibernatingKeepalive.accept}. */
export interface AcceptOptions {
  /** The socket's tags (`ctx.acceptWebSocket(ws, tags)`), to find it again with `ctx.getWebSockets(tag)`. */
  readonly tags?: string[] | undefined;
  /** The application's value to keep in the socket's attachment (see {@link HibernatingKeepalive.attachment}). */
  readonly attachment?: unknown;
  /**
   * The request URL (absolute, or a path with its query): where a client asks for a resumable session (`ka=2`).
   * Without it the socket is a plain one. {@link HibernatingKeepalive.upgrade} passes the request's.
   */
  readonly url?: string | URL | undefined;
}

/** What {@link HibernatingKeepalive.upgrade} reads of the request: its headers. */
export interface UpgradeRequestLike {
  readonly headers: { get(name: string): string | null };
  /** The request URL: its query says whether the client asks for a resumable session. */
  readonly url?: string | undefined;
}

type MutableStats = { -readonly [K in keyof HibernatingKeepaliveStats]: HibernatingKeepaliveStats[K] };

/** The core commands' timers are not used: the object re-arms its one alarm from `peerDeadline` after each event. */
const DRIVER: PeerStepOptions = Object.freeze({ timerCommands: false });

/**
 * A peer state read from an attachment: the core's mutable state plus what the adapter keeps beside it.
 */
interface LoadedPeer extends MutablePeerState {
  autoResponseSeenAt: number | null;
  acceptedAt: number;
  app: unknown;
  /** See {@link KeepaliveAttachment.session}; `undefined` on a plain socket. */
  session: string | null | undefined;
}

/**
 * The keep-alive of one Durable Object's hibernatable WebSockets: the object's handlers delegate to it. Create it
 * once per instance (in the constructor: it holds no state of its own that must survive eviction).
 *
 * Wakes, per socket: none for a client's keep-alives (the runtime answers them); one per application message (the
 * object's own `webSocketMessage`, which it would have anyway); and the alarm when a decision is due: with
 * `idleCloseMs`, about one per `idleCloseMs` while a client keeps alive (the idle check, re-armed from its last
 * keep-alive), and the close of a silent one. Without `idleCloseMs`, none at all.
 */
export class HibernatingKeepalive<W extends HibernatableWebSocketLike = HibernatableWebSocketLike> {
  /** The peer configuration every socket is decided with (validated once). */
  readonly config: PeerConfig;
  /** The checked heartbeat message (the auto-response's request and response). */
  readonly heartbeatMessage: string;
  private readonly ctx: DurableObjectStateLike<W>;
  private readonly now: () => number;
  private readonly Pair: WebSocketRequestResponsePairConstructor | undefined;
  private readonly sink: (diagnostic: Diagnostic) => void;
  private readonly out: PeerCommand[] = [];
  private readonly counters: MutableStats = {
    accepted: 0,
    alarms: 0,
    autoResponsesSeen: 0,
    heartbeatsAnswered: 0,
    idleClosed: 0,
    floodClosed: 0,
    malformedHeartbeats: 0,
    closed: 0,
    handlerErrors: 0,
    sessionFrames: 0,
    reattachCloses: 0,
  };
  /**
   * The resumable sessions (`resume`), or `null`: the runtime-neutral hub every server of this project uses, on this
   * instance's scheduler, with its sessions in the object's storage. A new instance (after an eviction) starts
   * empty and takes sessions up from the storage as their clients come back: listen to its `session` event in the
   * object's constructor.
   */
  readonly sessions: SessionHub<W> | null;
  /** The sessions' storage (`resume`), or `null`. */
  readonly store: DurableObjectSessionStore | null;
  /** This instance's connections of resumable sessions (their sockets are the hub's until they close). */
  private readonly resumes = new Map<W, ResumeConnection>();
  /** The object's alarm as this instance knows it: `undefined` until read (after a wake), `null` when none is set. */
  private alarmAt: number | null | undefined = undefined;
  private autoResponseSet = false;

  constructor(ctx: DurableObjectStateLike<W>, options: HibernatingKeepaliveOptions<W> = {}) {
    const { idleCloseMs = null, minPingIntervalMs, maxPingStrikes, heartbeatMessage = HEARTBEAT_MESSAGE, onDiagnostic, logger, now, WebSocketRequestResponsePair, resume = false } = options;
    this.ctx = ctx;
    this.heartbeatMessage = checkHeartbeatMessage('heartbeatMessage', heartbeatMessage);
    // The object sends no keep-alive (see the module comment): the core's ping timer is set as far as it goes (24.8
    // days), with no pong deadline; the rare ping it still commands is not written. What the machine decides here is
    // the idle close and the flood policy.
    const peer: { -readonly [K in keyof PeerOptions]: PeerOptions[K] } = { pingIntervalMs: MAX_DURATION_MS, terminateDeadPeers: false, keepaliveFrame: 'message', idleCloseMs };
    if (minPingIntervalMs !== undefined) peer.minPingIntervalMs = minPingIntervalMs;
    if (maxPingStrikes !== undefined) peer.maxPingStrikes = maxPingStrikes;
    this.config = definePeerConfig(peer);
    if (now !== undefined && typeof now !== 'function') throw new KeepaliveOptionError('now', now, 'a function');
    this.now = now ?? Date.now;
    const Pair = WebSocketRequestResponsePair ?? (globalThis as { WebSocketRequestResponsePair?: WebSocketRequestResponsePairConstructor }).WebSocketRequestResponsePair;
    if (Pair !== undefined && typeof Pair !== 'function') throw new KeepaliveOptionError('WebSocketRequestResponsePair', Pair, 'a class');
    this.Pair = Pair;
    this.sink = createDiagnosticSink({ session: nextInstanceId(), logger, onDiagnostic });
    const asked: unknown = resume;
    if (typeof asked !== 'boolean' && (typeof asked !== 'object' || asked === null || Array.isArray(asked))) {
      throw new KeepaliveOptionError('resume', asked, 'true, false or an object of resume options');
    }
    if (resume === false) {
      this.sessions = null;
      this.store = null;
      return;
    }
    const { storeTtlMs, storePrefix, ...hubOptions } = resume === true ? {} : resume;
    const storage = ctx.storage;
    if (!(['get', 'put', 'delete', 'list'] as const).every((method) => typeof storage[method] === 'function')) {
      throw new KeepaliveOptionError('resume', resume, "a Durable Object whose ctx.storage has get, put, delete and list (workerd's)");
    }
    this.store = new DurableObjectSessionStore(storage as DurableObjectKeyValueStorageLike, { ttlMs: storeTtlMs, prefix: storePrefix, onDiagnostic: this.sink, now: this.now });
    this.store.onExpiry = (until) => {
      void this.schedule(until).catch(() => {
        this.counters.handlerErrors++;
      });
    };
    // One scheduler per instance: its timers (the handshake's, an owed acknowledgement, a detached session's expiry)
    // run in this object's context and are gone with it; what must outlive it is in the storage.
    const hub = new SessionHub<W>({ ...hubOptions, store: this.store, scheduler: createScheduler(), heartbeatMessage: this.heartbeatMessage, onDiagnostic, logger });
    hub.on('session', ({ session, context }) => {
      this.carries(context, session.id);
    });
    this.sessions = hub;
  }

  /**
   * Accepts a server-side socket with the hibernation API and starts deciding for it: its state goes into its
   * attachment (with `options.attachment`, the application's value beside it), the auto-response is set (once per
   * object), and the alarm is moved earlier if this socket's first deadline is the earliest.
   */
  async accept(ws: W, options: AcceptOptions = {}): Promise<void> {
    this.ensureAutoResponse();
    const { tags, attachment, url } = options;
    if (tags === undefined) this.ctx.acceptWebSocket(ws);
    else this.ctx.acceptWebSocket(ws, tags);
    const now = this.now();
    // Phase 1 - ε: the machine's first ping as far away as its interval; it is never written anyway.
    const state = createPeerState(this.config, now, 1 - Number.EPSILON);
    const query = this.sessions === null || url === undefined ? null : queryOf(url);
    const resumable = query !== null && query.get(RESUME_PARAMS.version) !== null;
    const peer: LoadedPeer = { ...state, autoResponseSeenAt: null, acceptedAt: now, app: attachment, session: resumable ? null : undefined };
    this.save(ws, peer);
    this.counters.accepted++;
    if (resumable && this.sessions !== null) {
      // The hub writes its first frame now (a new session's hello, or the challenge to a client that names one).
      try {
        const connection = this.sessions.connect(ws, (name) => query.get(name), ws);
        if (connection !== null) this.resumes.set(ws, connection);
      } catch {
        this.counters.handlerErrors++;
      }
    }
    await this.schedule(peerDeadline(peer));
  }

  /**
   * Answers a WebSocket upgrade request from the object's `fetch`: a `WebSocketPair`, its server end accepted with
   * {@link accept}, and the 101 response that hands the client end to the client. A request without `Upgrade:
   * websocket` gets 426.
   */
  async upgrade(request: UpgradeRequestLike, options: AcceptOptions = {}): Promise<Response> {
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') return new Response('expected Upgrade: websocket', { status: 426 });
    const Pair = (globalThis as { WebSocketPair?: WebSocketPairConstructor<W> }).WebSocketPair;
    if (Pair === undefined) throw new TypeError('HibernatingKeepalive.upgrade: WebSocketPair is not available (not running on workerd?)');
    const pair = new Pair();
    await this.accept(pair[1], options.url === undefined && request.url !== undefined ? { ...options, url: request.url } : options);
    // workerd's ResponseInit takes the client end as `webSocket`.
    return new Response(null, { status: 101, webSocket: pair[0] } as ResponseInit);
  }

  /**
   * The object's `webSocketMessage(ws, message)`: proof of life, and a decision if one is due. Returns where the
   * frame went: `data` is the application's (handle it), `heartbeat` is not (a heartbeat message that reached the
   * object, answered here; or a malformed one: an empty binary frame or a few spaces, counted and not answered, as
   * every server of this project does). A socket the keep-alive did not accept is passed through as `data`.
   */
  async webSocketMessage(ws: W, message: string | ArrayBuffer): Promise<HibernatingFrameRoute> {
    const peer = this.load(ws);
    if (peer === null) return 'data';
    const now = this.now();
    let route: HibernatingFrameRoute = 'data';
    if (peer.session !== undefined) {
      await this.sessionFrame(ws, peer, message, now);
      return 'session';
    }
    try {
      this.observe(ws, peer);
      const kind = classifyMessage(message, undefined, this.heartbeatMessage);
      if (kind === 'data') {
        this.step(ws, peer, 'message', now, true);
      } else {
        route = 'heartbeat';
        if (kind === 'heartbeat') this.step(ws, peer, 'heartbeat', now, true);
        else {
          this.counters.malformedHeartbeats++;
          this.step(ws, peer, 'message', now, true);
        }
      }
      this.save(ws, peer);
    } catch {
      this.counters.handlerErrors++;
    }
    // An inbound frame never brings a deadline earlier, but a closed socket leaves none: the alarm finds out.
    await this.schedule(peerDeadline(peer));
    return route;
  }

  /**
   * The object's `webSocketClose(ws, code, reason, wasClean)`: the socket is forgotten. Where the compatibility date
   * is before 2026-04-07 (workerd's `web_socket_auto_reply_to_close`), the close is answered here, as workerd then
   * leaves it to the object.
   */
  webSocketClose(ws: W, code: number, reason = ''): void {
    const peer = this.load(ws);
    if (peer === null) return;
    this.sessionClosed(ws, peer, code);
    try {
      if (!peer.closed) {
        this.counters.closed++;
        peerStepInPlace(peer, { type: 'closed', now: this.now() }, [], DRIVER);
        this.save(ws, peer);
      }
      if (ws.readyState !== undefined && ws.readyState !== CLOSED) ws.close(code >= 3000 && code <= 4999 ? code : NORMAL_CLOSE, reason);
    } catch {
      this.counters.handlerErrors++;
    }
  }

  /** The object's `webSocketError(ws, error)`: the socket is gone, as after a close without a close frame. */
  webSocketError(ws: W): void {
    this.webSocketClose(ws, CLOSE_CODES.abnormal);
  }

  /**
   * The object's `alarm()`: every socket's due decision (the idle close, B16), taken by the core from the socket's
   * attachment and its last auto-response, then the alarm set to the earliest deadline left (or removed).
   */
  async alarm(): Promise<void> {
    this.counters.alarms++;
    // The alarm that woke us is spent.
    this.alarmAt = null;
    const now = this.now();
    let earliest: number | null = null;
    for (const ws of this.ctx.getWebSockets()) {
      const peer = this.load(ws);
      if (peer === null || peer.closed) continue;
      try {
        this.observe(ws, peer);
        const due = peerDeadline(peer);
        if (due !== null && due <= now) this.step(ws, peer, null, now, false);
        this.save(ws, peer);
      } catch {
        this.counters.handlerErrors++;
      }
      // A closed peer has no deadline left (the core clears them).
      const deadline = peerDeadline(peer);
      if (deadline !== null && (earliest === null || deadline < earliest)) earliest = deadline;
    }
    const store = this.store;
    if (store !== null) {
      // Sessions whose client never came back (after an eviction or a restart) leave the storage here.
      try {
        const expiry = await store.sweep(this.heldSessions());
        if (expiry !== null && (earliest === null || expiry < earliest)) earliest = expiry;
      } catch {
        this.counters.handlerErrors++;
      }
      // Another event may have moved the alarm while the storage answered: the earlier of the two stands.
      const moved = this.knownAlarm();
      if (moved !== null && moved !== undefined && (earliest === null || moved < earliest)) earliest = moved;
    }
    // No other event set an alarm in between (without a store the loop ran without yielding).
    this.alarmAt = earliest;
    if (earliest === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(earliest);
  }

  /** The application's value in a socket's attachment (set at `accept` or with {@link setAttachment}), or `undefined`. */
  attachment(ws: W): unknown {
    const stored = ws.deserializeAttachment();
    return isKeepaliveAttachment(stored) ? stored.app : undefined;
  }

  /** Replaces the application's value in a socket's attachment, keeping the keep-alive's state beside it. */
  setAttachment(ws: W, value: unknown): void {
    const stored = ws.deserializeAttachment();
    if (!isKeepaliveAttachment(stored)) throw new TypeError('setAttachment: the socket was not accepted by this keep-alive');
    ws.serializeAttachment({ keepalive: stored.keepalive, app: value } satisfies KeepaliveAttachment);
  }

  /** Whether the keep-alive decides for this socket (it accepted it and has not closed it). */
  isTracked(ws: W): boolean {
    const peer = this.load(ws);
    return peer !== null && !peer.closed;
  }

  /** Counters since this instance started. */
  stats(): HibernatingKeepaliveStats {
    return { ...this.counters };
  }

  /** Sets the auto-response once per instance: it is the object's (workerd keeps it across hibernation). */
  private ensureAutoResponse(): void {
    if (this.autoResponseSet) return;
    const Pair = this.Pair;
    if (Pair === undefined) throw new TypeError('HibernatingKeepalive: WebSocketRequestResponsePair is not available (not running on workerd?); pass the class as an option');
    this.ctx.setWebSocketAutoResponse(new Pair(this.heartbeatMessage, this.heartbeatMessage));
    this.autoResponseSet = true;
  }

  /**
   * Tells the machine about the client's keep-alive the runtime answered since the last event: the socket's
   * auto-response time, if newer than the one already told. It is the client's own keep-alive, answered in kind:
   * the machine's `reply` for it was the runtime's.
   */
  private observe(ws: W, peer: LoadedPeer): void {
    const stamp = this.ctx.getWebSocketAutoResponseTimestamp(ws);
    if (stamp === null) return;
    const at = stamp.getTime();
    if (!Number.isFinite(at) || (peer.autoResponseSeenAt !== null && at <= peer.autoResponseSeenAt)) return;
    peer.autoResponseSeenAt = at;
    this.counters.autoResponsesSeen++;
    this.step(ws, peer, 'heartbeat', at, false);
  }

  /**
   * One event of the core's peer machine, and its commands carried out on the socket: `kind` inbound at `now`, or
   * (`kind` null) the timeout at `now`. `written`: whether a `reply` is this object's to write (a heartbeat that
   * reached it), or was the runtime's (an auto-response told afterwards).
   */
  private step(ws: W, peer: LoadedPeer, kind: InboundKind | null, now: number, written: boolean): void {
    const out = this.out;
    const start = out.length;
    peerStepInPlace(peer, kind === null ? { type: 'timeout', now } : { type: 'inbound', kind, now }, out, DRIVER);
    for (let i = start; i < out.length; i++) this.execute(ws, out[i] as PeerCommand, written);
    clearCommands(out, start);
  }

  private execute(ws: W, command: PeerCommand, written: boolean): void {
    try {
      switch (command.type) {
        case 'reply': {
          if (!written) return;
          this.counters.heartbeatsAnswered++;
          // A resuming connection's answer carries its acknowledgement (the hub writes it).
          const resume = this.resumes.get(ws);
          if (ws.readyState === undefined || ws.readyState === 1) ws.send(resume === undefined ? this.heartbeatMessage : resume.heartbeatReply());
          return;
        }
        case 'close':
          if (command.reason === 'idle_timeout') this.counters.idleClosed++;
          else if (command.reason === 'ping_flood') this.counters.floodClosed++;
          // workerd has no terminate(): a dead peer (never commanded here) would get a close frame without a code, as on Deno.
          if (command.terminate) ws.close();
          else ws.close(command.code, command.text ?? command.reason);
          return;
        case 'diagnostic':
          this.sink(command);
          return;
        default:
          // 'ping': the object writes no keep-alive (see the module comment); 'arm'/'cancel' are not asked for.
          return;
      }
    } catch {
      this.counters.handlerErrors++;
    }
  }

  /** The socket's peer state from its attachment, or `null` when the keep-alive did not accept it. */
  private load(ws: W): LoadedPeer | null {
    const stored = ws.deserializeAttachment();
    if (!isKeepaliveAttachment(stored)) return null;
    const p = stored.keepalive;
    if (p[0] !== PACKED_VERSION) {
      // Another layout (a deploy in between): start again from a fresh state, as if just accepted.
      const now = this.now();
      return { ...createPeerState(this.config, now, 1 - Number.EPSILON), autoResponseSeenAt: null, acceptedAt: now, app: stored.app, session: sessionOf(stored) };
    }
    return {
      config: this.config,
      pingAt: p[1],
      pongAt: p[2],
      idleAt: p[3],
      lastTrafficAt: p[4],
      flood: { lastPingAt: p[5], strikes: p[6], violated: p[7] === 1 },
      pingsSent: p[8],
      quietPings: p[9],
      heartbeatsOwed: p[10],
      closed: p[11] === 1,
      // Not kept across hibernation (the attachment stays bounded): a fresh estimate, heard last at the last traffic.
      ...INITIAL_RTT,
      heardAt: p[4],
      autoResponseSeenAt: p[12],
      acceptedAt: p[13],
      app: stored.app,
      session: sessionOf(stored),
    };
  }

  private save(ws: W, peer: LoadedPeer): void {
    const attachment: KeepaliveAttachment = peer.session === undefined ? { keepalive: packPeer(peer), app: peer.app } : { keepalive: packPeer(peer), app: peer.app, session: peer.session };
    ws.serializeAttachment(attachment);
  }

  /**
   * A frame of a socket whose client asked for a resumable session: the hub's (hello, proof, acknowledgements,
   * heartbeats, data, retransmissions), and proof of life for the keep-alive. A resuming client's keep-alive carries
   * its acknowledgement, so it reaches the object (no auto-response can answer it) and is answered here with the
   * session's heartbeat. After an eviction this instance's hub does not hold the socket's connection: the socket is
   * closed with 1012 (service restart) and the client resumes on a new connection, proving its secret again, with
   * nothing lost or repeated (the session's state is in the storage). Re-attaching the open socket without a new
   * proof would need the hub to adopt a connection mid-session; the new connection costs one round trip instead.
   */
  private async sessionFrame(ws: W, peer: LoadedPeer, message: string | ArrayBuffer, now: number): Promise<void> {
    this.counters.sessionFrames++;
    const connection = this.resumes.get(ws);
    try {
      this.observe(ws, peer);
      if (connection === undefined) {
        this.step(ws, peer, 'message', now, true);
        this.save(ws, peer);
        // Once per socket: frames that were already on their way get nothing more (the client sends them again).
        if (ws.readyState === undefined || ws.readyState === 1) {
          this.counters.reattachCloses++;
          ws.close(RESUME_CLOSE_CODES.serviceRestart, RESUME_CLOSE_REASONS.serviceRestart);
        }
        return;
      }
      const kind = connection.message(message);
      this.step(ws, peer, kind === 'heartbeat' ? 'heartbeat' : 'message', now, true);
      // The hub may have written the session's id into the attachment meanwhile: keep it.
      peer.session = sessionOf(ws.deserializeAttachment()) ?? null;
      this.save(ws, peer);
    } catch {
      this.counters.handlerErrors++;
    }
    // A proof reads the storage (the digest, then the session): the hello goes out before this event ends.
    await this.store?.idle();
    await this.schedule(peerDeadline(peer));
  }

  /**
   * A resumable socket closed: its connection tells the hub (1000 ends the session, anything else keeps it for the
   * client's return). After an eviction the hub does not hold it; the session stays in the storage for the client
   * (until `storeTtlMs` with no socket holding it), or, when the client ended it (1000), is removed from there:
   * its unacknowledged messages cannot be handed back to the application then (no instance holds them), reported
   * as `session_ended_evicted` with their count.
   */
  private sessionClosed(ws: W, peer: LoadedPeer, code: number): void {
    if (peer.session === undefined) return;
    const connection = this.resumes.get(ws);
    this.resumes.delete(ws);
    try {
      if (connection !== undefined) {
        connection.closed(code);
        return;
      }
      const id = peer.session;
      if (id === null || code !== RESUME_CLOSE_CODES.normal || this.store === null || this.sessions === null) return;
      this.store.remove(id);
      this.sink({ type: 'diagnostic', level: 'warn', name: 'session_ended_evicted', fields: { code } });
    } catch {
      this.counters.handlerErrors++;
    }
  }

  /** The hub attached `ws` to session `id` (it proved the secret, or was given a new one): the attachment says so. */
  private carries(ws: W, id: string): void {
    const stored = ws.deserializeAttachment();
    if (!isKeepaliveAttachment(stored)) return;
    ws.serializeAttachment({ ...stored, session: id } satisfies KeepaliveAttachment);
  }

  /** The sessions the open sockets carry (from their attachments): the storage keeps them. */
  private heldSessions(): Set<string> {
    const held = new Set<string>();
    for (const ws of this.ctx.getWebSockets()) {
      const id = sessionOf(ws.deserializeAttachment());
      if (typeof id === 'string') held.add(id);
    }
    return held;
  }

  /**
   * Moves the object's alarm earlier when `deadline` is before it (or none is set). The alarm is read once per
   * instance; an inbound frame never brings a deadline earlier, so most events write nothing.
   */
  private async schedule(deadline: number | null): Promise<void> {
    if (deadline === null) return;
    if (this.alarmAt === undefined) {
      const current = await this.ctx.storage.getAlarm();
      // Another event may have set it while this one read: what it knows is newer.
      if (this.knownAlarm() === undefined) this.alarmAt = current;
    }
    const known = this.knownAlarm();
    if (known !== null && known !== undefined && known <= deadline) return;
    this.alarmAt = deadline;
    await this.ctx.storage.setAlarm(deadline);
  }

  /** The alarm as this instance knows it, read afresh (another event may have changed it across an `await`). */
  private knownAlarm(): number | null | undefined {
    return this.alarmAt;
  }
}

/** The attachment's packed state of a peer (see {@link PackedPeer}). */
function packPeer(peer: LoadedPeer): PackedPeer {
  return [
    PACKED_VERSION,
    peer.pingAt,
    peer.pongAt,
    peer.idleAt,
    peer.lastTrafficAt,
    peer.flood.lastPingAt,
    peer.flood.strikes,
    peer.flood.violated ? 1 : 0,
    peer.pingsSent,
    peer.quietPings,
    peer.heartbeatsOwed,
    peer.closed ? 1 : 0,
    peer.autoResponseSeenAt,
    peer.acceptedAt,
  ];
}

/** The session field of an attachment (see {@link KeepaliveAttachment.session}). */
function sessionOf(value: unknown): string | null | undefined {
  if (!isKeepaliveAttachment(value) || !('session' in value)) return undefined;
  const session = value.session;
  return typeof session === 'string' ? session : null;
}

/** The query of a request URL, or `null` when it cannot be parsed. */
function queryOf(url: string | URL): URLSearchParams | null {
  try {
    return (url instanceof URL ? url : new URL(url, 'http://localhost')).searchParams;
  } catch {
    return null;
  }
}

function isKeepaliveAttachment(value: unknown): value is KeepaliveAttachment {
  return typeof value === 'object' && value !== null && Array.isArray((value as { keepalive?: unknown }).keepalive);
}

/**
 * Creates the keep-alive of a Durable Object's hibernatable WebSockets (see {@link HibernatingKeepalive}); options
 * are checked once (B1), a bad one throws `KeepaliveOptionError` naming it.
 */
export function createHibernatingKeepalive<W extends HibernatableWebSocketLike = HibernatableWebSocketLike>(
  ctx: DurableObjectStateLike<W>,
  options: HibernatingKeepaliveOptions<W> = {},
): HibernatingKeepalive<W> {
  return new HibernatingKeepalive<W>(ctx, options);
}
