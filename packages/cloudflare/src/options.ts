import { KeepaliveOptionError, checkHeartbeatMessage, definePeerConfig, type Diagnostic, type PeerConfig, type PeerOptions } from '@keepalive/core';
import type { Logger } from '@keepalive/node-timers';
import { HEARTBEAT_MESSAGE, type ServerResumeOptions, type SessionHubOptions } from '@keepalive/websocket-transport/peer';
import type { HibernatableWebSocketLike, WebSocketRequestResponsePairConstructor } from './workerd-like.js';

/*
 * The options of a {@link HibernatingKeepalive} and of its methods, its counters, and the checks of its options
 * (B1: a bad one throws `KeepaliveOptionError` naming it, at construction).
 */

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

/** {@link HibernatingKeepaliveStats} as the instance counts them. */
export type MutableStats = { -readonly [K in keyof HibernatingKeepaliveStats]: HibernatingKeepaliveStats[K] };

/** What {@link checkOptions} keeps of the options: checked, with their defaults. */
export interface CheckedOptions {
  /** The peer configuration every socket is decided with. */
  readonly config: PeerConfig;
  readonly heartbeatMessage: string;
  readonly now: () => number;
  readonly Pair: WebSocketRequestResponsePairConstructor | undefined;
}

/**
 * Checks the options of a {@link HibernatingKeepalive} but `resume` (checked with the storage it needs), in this
 * order: `heartbeatMessage`, the peer options (`idleCloseMs`, `minPingIntervalMs`, `maxPingStrikes`), `now`,
 * `WebSocketRequestResponsePair`. Throws `KeepaliveOptionError` naming the first bad one.
 */
export function checkOptions<W extends HibernatableWebSocketLike>(options: HibernatingKeepaliveOptions<W>): CheckedOptions {
  const { idleCloseMs = null, minPingIntervalMs, maxPingStrikes, heartbeatMessage = HEARTBEAT_MESSAGE, now, WebSocketRequestResponsePair } = options;
  const checkedHeartbeat = checkHeartbeatMessage('heartbeatMessage', heartbeatMessage);
  // The object sends no keep-alive (see the module comment of server.ts), so neither does the core's peer
  // (`sendKeepalives: false`): what the machine decides here is the idle close and the flood policy.
  const peer: { -readonly [K in keyof PeerOptions]: PeerOptions[K] } = { sendKeepalives: false, keepaliveFrame: 'message', idleCloseMs };
  if (minPingIntervalMs !== undefined) peer.minPingIntervalMs = minPingIntervalMs;
  if (maxPingStrikes !== undefined) peer.maxPingStrikes = maxPingStrikes;
  const config = definePeerConfig(peer);
  if (now !== undefined && typeof now !== 'function') throw new KeepaliveOptionError('now', now, 'a function');
  const Pair = WebSocketRequestResponsePair ?? (globalThis as { WebSocketRequestResponsePair?: WebSocketRequestResponsePairConstructor }).WebSocketRequestResponsePair;
  if (Pair !== undefined && typeof Pair !== 'function') throw new KeepaliveOptionError('WebSocketRequestResponsePair', Pair, 'a class');
  return { config, heartbeatMessage: checkedHeartbeat, now: now ?? Date.now, Pair };
}
