/**
 * What the application and the adapters see of resumable sessions (spec B14, B17): the socket and frames a hub
 * reads, a session and its events, the hub's events, a connection's handle and the hub's counters. Types only.
 */

/**
 * What the hub needs from a server-side socket (Bun's, Deno's and `ws`'s
 * sockets fit in a line of glue).
 */
export interface ResumeSocket {
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code: number, reason: string): void;
}

/**
 * An inbound frame as runtimes deliver it: a string (WHATWG, Bun, Deno text),
 * bytes (`ws` delivers text as bytes too, with `isBinary` false), or
 * fragments (`ws`'s `binaryType: 'fragments'`).
 */
export type ResumeFrame = string | ArrayBuffer | ArrayBufferView | readonly ArrayBufferView[];

/**
 * What an inbound frame was, for the adapter's peer tracker:
 * - `heartbeat`: the client's keep-alive (`\u0006A<n>`): feed `peer.inbound('heartbeat')` so the heartbeat-answer
 *   rule answers it with {@link ResumeConnection.heartbeatReply};
 * - `ack`: a standalone acknowledgement (proof of life, never answered);
 * - `data`: application data (delivered to the session, or dropped as a duplicate);
 * - `invalid`: a control frame this version cannot read (counted, reported, not delivered);
 * - `proof`: the client's proof of the session it named (read by the hub; proof of life);
 * - `ignored`: the connection does not carry a session (not yet, or no longer: refused, replaced or ended): nothing
 *   is read; the client retransmits whatever it has not seen acknowledged when it resumes.
 *
 * Every kind but `heartbeat` is `peer.inbound('message')`.
 */
export type ResumeFrameKind = 'heartbeat' | 'ack' | 'data' | 'invalid' | 'proof' | 'ignored';

/**
 * A message of a session: text as a string; binary as the runtime delivered it (inbound: a `Uint8Array`, which is
 * `ws`'s `Buffer`, or an `ArrayBuffer`) or as the hub keeps it (handed back: a `Uint8Array` copy).
 */
export type SessionMessage = string | Uint8Array | ArrayBuffer;

/**
 * What {@link ResumableSession.send} did: `sent` (written on the connection now) or `queued` (kept for the client's
 * return; it goes out, in order, when the client resumes, or is handed back if it never does).
 */
export type SessionSendResult = 'sent' | 'queued';

/**
 * The `close` event of a session: it ended, by the client (a close with 1000: it ended its session deliberately)
 * or by the server (`session.close()`, or the hub closed), or it left this process (`handedOver`: the hub closed and
 * handed it over to its store; nothing is handed back then). `unacked` holds the server's messages the client never
 * acknowledged, oldest first, handed back (never dropped silently, B14): a client delivers what it received before
 * it closed, but messages written while its close frame was on its way cross it, and a WHATWG client drops messages
 * that arrive after it called `close()`; so the server cannot count them delivered. A client that acknowledges
 * before closing (a standalone ack, then 1000) leaves only those crossing messages here; they may also have been
 * delivered but not yet acknowledged, so treat them as possibly delivered.
 */
export interface SessionCloseEvent {
  readonly by: 'client' | 'server';
  readonly code: number;
  readonly reason: string;
  readonly unacked: readonly SessionMessage[];
  /**
   * True when the session did not end but left this process: the hub closed (`close()`, the default) and handed it
   * over to its store, where the client resumes it on another process. Nothing is handed back (`unacked` is empty):
   * the unacknowledged messages are in the store and go out from the process the client resumes on. The session
   * object is done here (`ended` is true, `send` throws); release what this process held for it.
   */
  readonly handedOver: boolean;
}

/**
 * The `expired` event of a session: its client did not come back within `sessionTtlMs`. The session is gone;
 * `unacked` holds the server's messages the client never acknowledged, oldest first (handed back, B14).
 */
export interface SessionExpiredEvent {
  readonly unacked: readonly SessionMessage[];
  /** How long the session waited without a connection. */
  readonly awayMs: number;
}

/**
 * The events of a {@link ResumableSession}: `message` (each of the client's messages, exactly once and in order),
 * `close` and `expired` (the session ended; one of them, once).
 */
export interface ResumableSessionEvents {
  message: SessionMessage;
  close: SessionCloseEvent;
  expired: SessionExpiredEvent;
}

/**
 * A resumable session as the application sees it: it outlives connections.
 * Read the client's messages here, never from the socket (raw frames include
 * control frames and retransmissions).
 */
export interface ResumableSession {
  /**
   * The session id (128 random bits, base64url). Public in wire format v2 (it is in the client's URL, so proxies log
   * it): resuming needs the session's secret, which the hub never keeps (only its digest). Still, do not log it.
   */
  readonly id: string;
  /** Whether a connection is attached now. */
  readonly connected: boolean;
  /** Whether the session has ended (closed or expired). */
  readonly ended: boolean;
  /** Server messages waiting for the client's acknowledgement. */
  readonly unackedMessages: number;
  /** Their size in bytes (UTF-8 for text). */
  readonly unackedBytes: number;
  /**
   * Sends a message to the client: `sent` when written now, `queued` when kept for the client's return. Text
   * starting with U+0006 is escaped on the wire (the client reads it back unchanged). Binary data is copied (the
   * hub keeps it for retransmission). Throws {@link ReplayFullError} when the replay buffer is full (nothing is
   * dropped: the message was not accepted), {@link SessionEndedError} after the session ended, and `TypeError`
   * for anything but a string, an `ArrayBuffer` or a typed array.
   */
  send(data: string | ArrayBuffer | ArrayBufferView): SessionSendResult;
  /** Adds a listener; returns the function that removes it. A listener that throws is reported (`listener_failed`). */
  on<K extends keyof ResumableSessionEvents>(event: K, listener: (event: ResumableSessionEvents[K]) => void): () => void;
  /**
   * Ends the session: closes the attached socket (if any) with `code` (default 1000; 1000 or 3000–4999) and
   * `reason` (at most 123 bytes), then emits `close` with the unacknowledged messages handed back.
   */
  close(code?: number, reason?: string): void;
}

/**
 * The `session` event of a hub: a connection attached to a session, new or
 * resumed. `forgotten` is true when the client presented a session the hub
 * does not know (the server restarted, the session expired or ended, or the
 * client's count was impossible): a new session was made, and the hello told
 * the client (`new`), which hands back what it had not seen acknowledged.
 */
export interface SessionEvent<C = unknown> {
  readonly session: ResumableSession;
  readonly resumed: boolean;
  readonly forgotten: boolean;
  /**
   * True when the session was resumed from the hub's store: another process held it (`resumed` is true too). The
   * session object is new in this process: add its listeners, as for a new session.
   */
  readonly restored: boolean;
  /**
   * What the adapter passed to {@link SessionHub.connect} for this connection (for `keepAlive(wss)`, the socket
   * and the upgrade request: authenticate here, before trusting the session).
   */
  readonly context: C;
}

/**
 * The `refused` event of a hub: a connection that asked for a resumable session got none, and nothing about any
 * session changed (B17). `reason`: `proof` (a wrong secret for a session held here or stored), `admission` (the
 * `admit` hook said no), `timeout` (no proof, store answer or verdict within `handshakeTimeoutMs`), `full`
 * (`maxSessions`, nothing to evict), `legacy` (a wire format v1 client), `invalid` (a request or first frame this
 * version cannot read). `code` is the close code the connection got. No secret, id or URL is in it.
 */
export interface RefusedEvent<C = unknown> {
  readonly reason: 'proof' | 'admission' | 'timeout' | 'full' | 'legacy' | 'invalid';
  readonly code: number;
  readonly context: C;
}

/**
 * Options of {@link SessionHub.close}.
 */
export interface SessionHubCloseOptions {
  /**
   * End every session for good instead of handing it over: their sockets are closed with 1001, each session's
   * `close` event hands back what its client never acknowledged, and the store forgets them (a client that comes
   * back to another process gets a new session: `new`). For a service that is going away, not being restarted.
   * Default `false`: with a store, the sessions are handed over; without one they end anyway (nothing outlives the
   * process).
   */
  readonly endSessions?: boolean | undefined;
}

/**
 * The events of a {@link SessionHub}: `session` (a connection attached to a session) and `refused`.
 */
export interface SessionHubEvents<C = unknown> {
  session: SessionEvent<C>;
  refused: RefusedEvent<C>;
}

/**
 * One connection of a resuming client, as {@link SessionHub.connect}
 * returned it: what the adapter calls from its socket handlers. None of its
 * methods throws on bad peer input.
 */
export interface ResumeConnection {
  /** Whether this connection carries a session now (false once refused, replaced or ended). */
  readonly attached: boolean;
  /**
   * Reads an inbound frame (`isBinary`: `ws`'s flag; leave it out for runtimes that deliver text as strings). The
   * plain heartbeat message is a `heartbeat` until the client's first wire-format frame on the connection (what a
   * client sends while it waits for the hello); after that, text is read as the wire format.
   */
  message(data: ResumeFrame, isBinary?: boolean): ResumeFrameKind;
  /** Reads the payload of the client's protocol ping (it may carry an acknowledgement). */
  ping(payload: ResumeFrame): void;
  /** The payload for the server's next keep-alive ping: the owed acknowledgement when the client reads pings (`ka_p=1`), else `''`. */
  pingPayload(): string;
  /** The heartbeat to answer the client's heartbeat with on this connection: `\u0006A<delivered>` (it carries the acknowledgement). */
  heartbeatReply(): string;
  /** The socket closed with `code`: 1000 from the client ends the session; anything else waits `sessionTtlMs` for the client. */
  closed(code: number): void;
}

/**
 * Counters of a hub.
 */
export interface SessionHubStats {
  /** Sessions held now (connected or waiting). */
  readonly sessions: number;
  /** Of those, connected now. */
  readonly connected: number;
  readonly created: number;
  readonly resumed: number;
  /** Clients that presented a session the hub did not know (a new one was made). */
  readonly forgotten: number;
  /** Half-open connections closed with 4001 because their session resumed elsewhere. */
  readonly replaced: number;
  readonly expired: number;
  /** Sessions ended by the client (1000) or the server. */
  readonly ended: number;
  /** Sessions left in the store for another process when the hub closed (hand-over, not ended). */
  readonly handedOver: number;
  /** New sessions refused with 1013 (`maxSessions`). */
  readonly refused: number;
  /** Unconfirmed sessions evicted to make room for a new one. */
  readonly evicted: number;
  /** Connections refused for a wrong proof (4403). */
  readonly wrongProofs: number;
  /** Connections the `admit` hook refused. */
  readonly refusedAdmissions: number;
  /** Connections closed for a handshake longer than `handshakeTimeoutMs` (4408). */
  readonly handshakeTimeouts: number;
  /** Resume requests refused with 1002 (unreadable, wire format v1, or no proof after a challenge). */
  readonly invalidRequests: number;
  readonly protocolErrors: number;
  /** Client messages delivered while the session had no `message` listener. */
  readonly unheardMessages: number;
  readonly listenerErrors: number;
  /** Exceptions thrown by a socket's `send` or `close`, caught. */
  readonly socketErrors: number;
}

/**
 * What a {@link SessionHub} decided for a socket of a session it holds no connection for (a socket that proved the
 * session before this process or instance started: after a Durable Object's eviction, say), at its close
 * (`SessionHub.unheldClosed`):
 *
 * - `ended`: the client ended the session (1000) and the store had it: removed from the store for good, reported as
 *   `session_ended_unheld` with the count of its unacknowledged messages (lost: no process holds them to hand back);
 * - `kept`: any other code, or the session is held here (by a newer connection): nothing changes, the store keeps
 *   the session for the client's return;
 * - `unknown`: the client ended a session the store does not have (expired, ended, never saved): nothing to end;
 * - `none`: the socket never proved a session (no id), or the hub is closed or has no store.
 */
export type UnheldCloseVerdict = 'ended' | 'kept' | 'unknown' | 'none';
