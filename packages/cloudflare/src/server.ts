import { CLOSE_CODES, clearCommands, peerDeadline, peerStepInPlace, type Diagnostic, type InboundKind, type PeerCommand, type PeerConfig, type PeerStepOptions } from '@keepalive/core';
import { createDiagnosticSink, nextInstanceId } from '@keepalive/node-timers';
import { classifyMessage, isApplicationCloseCode, type SessionHub } from '@keepalive/websocket-transport/peer';
import { freshPeer, isKeepaliveAttachment, loadPeer, savePeer, sessionOf, type KeepaliveAttachment, type LoadedPeer } from './attachment.js';
import { checkOptions, type AcceptOptions, type HibernatingFrameRoute, type HibernatingKeepaliveOptions, type HibernatingKeepaliveStats, type MutableStats, type UpgradeRequestLike } from './options.js';
import { createResumeWiring, type ResumeWiring } from './resume.js';
import type { DurableObjectSessionStore } from './session-store.js';
import type { DurableObjectStateLike, HibernatableWebSocketLike, WebSocketPairConstructor, WebSocketRequestResponsePairConstructor } from './workerd-like.js';

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

/** The code a close is answered with: the client's own when an application may send it, else 1000. */
function echoedCloseCode(code: number): number {
  return isApplicationCloseCode(code) ? code : NORMAL_CLOSE;
}

/** Nothing to do: a settled decision's value is not needed. */
function noop(): void {
  // Intentionally empty.
}

/** The core commands' timers are not used: the object re-arms its one alarm from `peerDeadline` after each event. */
const DRIVER: PeerStepOptions = Object.freeze({ timerCommands: false });

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
  /** The resumable-session wiring (`resume`), or `null`. */
  private readonly resume: ResumeWiring<W> | null;
  /** The object's alarm as this instance knows it: `undefined` until read (after a wake), `null` when none is set. */
  private alarmAt: number | null | undefined = undefined;
  private autoResponseSet = false;

  constructor(ctx: DurableObjectStateLike<W>, options: HibernatingKeepaliveOptions<W> = {}) {
    const { onDiagnostic, logger, resume = false } = options;
    this.ctx = ctx;
    const checked = checkOptions(options);
    this.config = checked.config;
    this.heartbeatMessage = checked.heartbeatMessage;
    this.now = checked.now;
    this.Pair = checked.Pair;
    this.sink = createDiagnosticSink({ session: nextInstanceId(), logger, onDiagnostic });
    const onExpiry = (until: number): void => {
      void this.schedule(until).catch(() => {
        this.counters.handlerErrors++;
      });
    };
    this.resume = createResumeWiring<W>(resume, ctx, { sink: this.sink, now: this.now, heartbeatMessage: this.heartbeatMessage, onDiagnostic, logger, onExpiry });
    this.sessions = this.resume?.hub ?? null;
    this.store = this.resume?.store ?? null;
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
    const resume = this.resume;
    const query = resume === null ? null : resume.askedBy(url);
    const peer = freshPeer(this.config, now, attachment, query === null ? undefined : null);
    this.save(ws, peer);
    this.counters.accepted++;
    if (resume !== null && query !== null) {
      // The hub writes its first frame now (a new session's hello, or the challenge to a client that names one).
      try {
        resume.connect(ws, query);
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
   * leaves it to the object. Return (or await) it from the object's handler: a resumable socket's close after an
   * eviction may read the storage (the session hub's decision), and the event lasts until that is done.
   */
  async webSocketClose(ws: W, code: number, reason = ''): Promise<void> {
    const peer = this.load(ws);
    if (peer === null) return;
    const session = this.sessionClosed(ws, peer, code);
    try {
      if (!peer.closed) {
        this.counters.closed++;
        peerStepInPlace(peer, { type: 'closed', now: this.now() }, [], DRIVER);
        this.save(ws, peer);
      }
      if (ws.readyState !== undefined && ws.readyState !== CLOSED) ws.close(echoedCloseCode(code), reason);
    } catch {
      this.counters.handlerErrors++;
    }
    if (session !== undefined) await session;
  }

  /** The object's `webSocketError(ws, error)`: the socket is gone, as after a close without a close frame. */
  webSocketError(ws: W): Promise<void> {
    return this.webSocketClose(ws, CLOSE_CODES.abnormal);
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
    const resume = this.resume;
    if (resume !== null) {
      // Sessions whose client never came back (after an eviction or a restart) leave the storage here.
      try {
        const expiry = await resume.store.sweep(resume.held(this.ctx.getWebSockets()));
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
          const resume = this.resume?.connection(ws);
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
          // 'arm'/'cancel' are not asked for; 'ping' never comes (`sendKeepalives: false`).
          return;
      }
    } catch {
      this.counters.handlerErrors++;
    }
  }

  /** The socket's peer state from its attachment, or `null` when the keep-alive did not accept it. */
  private load(ws: W): LoadedPeer | null {
    return loadPeer(ws, this.config, this.now);
  }

  private save(ws: W, peer: LoadedPeer): void {
    savePeer(ws, peer);
  }

  /**
   * A frame of a socket whose client asked for a resumable session: the hub's (hello, proof, acknowledgements,
   * heartbeats, data, retransmissions), and proof of life for the keep-alive. A resuming client's keep-alive carries
   * its acknowledgement, so it reaches the object (no auto-response can answer it) and is answered here with the
   * session's heartbeat. After an eviction this instance's hub does not hold the socket's connection: the hub closes
   * it with 1012 (service restart, `SessionHub.unheldFrame`) and the client resumes on a new connection, proving its
   * secret again, with nothing lost or repeated (the session's state is in the storage). Re-attaching the open socket
   * without a new proof would need the hub to adopt a connection mid-session; the new connection costs one round trip
   * instead.
   */
  private async sessionFrame(ws: W, peer: LoadedPeer, message: string | ArrayBuffer, now: number): Promise<void> {
    this.counters.sessionFrames++;
    const connection = this.resume?.connection(ws);
    try {
      this.observe(ws, peer);
      if (connection === undefined) {
        this.step(ws, peer, 'message', now, true);
        this.save(ws, peer);
        // Once per socket (the hub's decision for it is a close): frames already on their way find it closing.
        if (ws.readyState === undefined || ws.readyState === 1) {
          this.counters.reattachCloses++;
          this.resume?.unheldFrame(ws);
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
    await this.resume?.store.idle();
    await this.schedule(peerDeadline(peer));
  }

  /**
   * A resumable socket closed: the hub's business (see `ResumeWiring.closed`). Returns what settles once the hub's
   * decision is carried out, if it waits for the storage; never rejects.
   */
  private sessionClosed(ws: W, peer: LoadedPeer, code: number): Promise<void> | undefined {
    if (peer.session === undefined || this.resume === null) return undefined;
    try {
      const decided = this.resume.closed(ws, peer.session, code);
      return decided?.then(noop, () => {
        this.counters.handlerErrors++;
      });
    } catch {
      this.counters.handlerErrors++;
      return undefined;
    }
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
