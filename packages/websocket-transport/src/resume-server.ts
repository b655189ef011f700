import {
  checkDuration,
  checkHeartbeatMessage,
  checkInteger,
  checkKnownKeys,
  KeepaliveOptionError,
  defineDeliveryConfig,
  constantTimeEqual,
  encodeHello,
  nestedOptions,
  optionOr,
  readResumeQuery,
  utf8Length,
  type DeliveryConfig,
  type DeliveryOptions,
  type Diagnostic,
  type DiagnosticFields,
  type DiagnosticLevel,
  type Proof,
  admitConnection,
} from '@keepalive/core';
import { Emitter, createDiagnosticSink, defaultScheduler, errorName, nextInstanceId, type Logger, type Scheduler } from '@keepalive/node-timers';
import { HEARTBEAT_MESSAGE } from './heartbeat.js';
import type { SessionStore, StoredSession } from './resume-store.js';
import { randomToken, secretDigest } from './resume-secret.js';
import { LEGACY_REFUSAL_REASON, RESUME_CLOSE_CODES, SESSION_HUB_DIAGNOSTICS } from './resume-codes.js';
import { Connection } from './resume-connection.js';
import { NO_FIELDS, Session, restoreSession, type Counter, type HubHost } from './resume-session.js';

export { LEGACY_REFUSAL_REASON, RESUME_CLOSE_CODES, SESSION_HUB_DIAGNOSTICS } from './resume-codes.js';
export { ReplayFullError, SessionEndedError } from './resume-errors.js';

/**
 * The server end of resumable sessions (spec B14, B17, wire format v2 of
 * `@keepalive/core`), runtime-neutral: no `node:` module, no `ws`, no
 * `Buffer` (typed arrays and `TextDecoder` only), so the `ws` integration,
 * Bun's and Deno's drive the same hub. A session outlives its connections:
 * the server numbers what it sends and keeps it until the client
 * acknowledges it, retransmits the rest when the client comes back, delivers
 * the client's messages exactly once and in order, and hands back what the
 * client never acknowledged when the session ends or expires. A session
 * belongs to whoever holds its secret (B17): a connection that names one is
 * challenged, and nothing about the session changes until it proved the
 * secret in-band and the application's `admit` hook accepted it.
 */

/**
 * Options of a resumable session: the delivery options of `@keepalive/core`
 * (`maxUnackedMessages`, `maxUnackedBytes`, `ackDelayMs`) and the hub's own.
 */
export interface ServerResumeOptions extends DeliveryOptions {
  /** How long a disconnected session is kept for its client to come back. Default 120 000 ms. */
  readonly sessionTtlMs?: number | undefined;
  /**
   * Sessions a hub holds at most (connected or waiting). Past it, a new session evicts the oldest unconfirmed one
   * without a connection (see `unconfirmedTtlMs`), or is refused with 1013 when there is none. Default 10 000.
   */
  readonly maxSessions?: number | undefined;
  /**
   * How long a session whose client never wrote a frame after the hello that made it (a client that took the hello
   * and left, or a flood of bare upgrades) is kept once its connection is lost. Such a session is also the first to
   * make room when the hub is full. Default 10 000 ms (at most `sessionTtlMs`).
   */
  readonly unconfirmedTtlMs?: number | undefined;
  /**
   * How long a connection may take from its upgrade to its hello: the client's proof of a session it names, the
   * store's answer and the application's `admit` hook. Past it the connection is closed with 4408 (the client
   * retries) and nothing changed. Default 10 000 ms.
   */
  readonly handshakeTimeoutMs?: number | undefined;
}

/**
 * Validated, frozen resume options.
 */
export interface ServerResumeConfig {
  readonly delivery: DeliveryConfig;
  readonly sessionTtlMs: number;
  readonly maxSessions: number;
  readonly unconfirmedTtlMs: number;
  readonly handshakeTimeoutMs: number;
}

/**
 * The hub's defaults (the delivery defaults are `DELIVERY_DEFAULTS` of `@keepalive/core`).
 */
export const SESSION_HUB_DEFAULTS = Object.freeze({ sessionTtlMs: 120_000, maxSessions: 10_000, unconfirmedTtlMs: 10_000, handshakeTimeoutMs: 10_000 });

const RESUME_KEYS: readonly string[] = Object.freeze(['maxUnackedMessages', 'maxUnackedBytes', 'ackDelayMs', 'sessionTtlMs', 'maxSessions', 'unconfirmedTtlMs', 'handshakeTimeoutMs']);
const HUB_KEYS: readonly string[] = Object.freeze([...RESUME_KEYS, 'heartbeatMessage', 'scheduler', 'onDiagnostic', 'logger', 'store', 'admit']);

/** Wrong proofs of one session reported one by one; past this, only every power of two is (the count goes on). */
const REPORTED_PROOF_FAILURES = 10;

/** Digests of stored sessions read lately (B17), kept so that wrong proofs for them cost no store read: at most this many. */
const STORED_PROOFS = 1_024;

/** A session this hub does not hold, as its store's digest was read: the digest, and the wrong proofs it has seen. */
interface StoredProof {
  readonly digest: string;
  failedProofs: number;
}

/**
 * Validates resume options once (B1); throws `KeepaliveOptionError` naming the option and the value.
 */
export function defineServerResumeConfig(options: ServerResumeOptions = {}): ServerResumeConfig {
  checkKnownKeys(options, RESUME_KEYS, 'resume');
  const { sessionTtlMs: _ttl, maxSessions: _max, unconfirmedTtlMs: _unconfirmed, handshakeTimeoutMs: _handshake, ...delivery } = options;
  const sessionTtlMs = checkDuration('sessionTtlMs', optionOr(options, 'sessionTtlMs', SESSION_HUB_DEFAULTS.sessionTtlMs));
  return Object.freeze({
    delivery: defineDeliveryConfig(delivery),
    sessionTtlMs,
    maxSessions: checkInteger('maxSessions', optionOr(options, 'maxSessions', SESSION_HUB_DEFAULTS.maxSessions), 1, 10_000_000),
    unconfirmedTtlMs: Math.min(sessionTtlMs, checkDuration('unconfirmedTtlMs', optionOr(options, 'unconfirmedTtlMs', SESSION_HUB_DEFAULTS.unconfirmedTtlMs))),
    handshakeTimeoutMs: checkDuration('handshakeTimeoutMs', optionOr(options, 'handshakeTimeoutMs', SESSION_HUB_DEFAULTS.handshakeTimeoutMs)),
  });
}

/**
 * What the application's admission hook is asked (B17), before anything about a session changes:
 * - `kind`: `new` (the connection asks for a new session, or named one known nowhere: it will get a new one),
 *   `resume` (it proved the secret of `session`, held here), `restore` (it proved the secret of a session another
 *   process held: it is taken up from the store once admitted);
 * - `session`: the session held here for `resume` (its owner's connection is untouched until the hook admits),
 *   else `null`;
 * - `context`: what the adapter passed for this connection (for `keepAlive(wss)`, the socket and the upgrade
 *   request: check its cookie or token against the session's owner here).
 */
export interface AdmissionQuery<C = unknown> {
  readonly kind: 'new' | 'resume' | 'restore';
  readonly session: ResumableSession | null;
  readonly context: C;
}

/**
 * What the admission hook answers: `true` admits; `false` refuses with 4403; `{ code, reason }` refuses with that
 * close code (1000 or 3000–4999; 4401 and 4403 end a keepalive client, other 4xxx codes make it retry) and reason
 * (at most 123 UTF-8 bytes). A hook that throws or rejects refuses with 4403, reported as `listener_failed`.
 */
export type AdmissionVerdict = boolean | { readonly code: number; readonly reason?: string | undefined };

/**
 * Options of {@link createSessionHub}: the {@link ServerResumeOptions}, the
 * scheduler, where diagnostics go, the store and the admission hook.
 */
export interface SessionHubOptions<C = unknown> extends ServerResumeOptions {
  /**
   * The application's admission hook (B17): asked once per connection, after the client proved the secret of the
   * session it names and before the session changes hands (or before a new session is made), so that
   * authentication against the upgrade request happens before the owner's connection is touched. May be
   * asynchronous (bounded by `handshakeTimeoutMs`). Default: every proved connection is admitted.
   */
  readonly admit?: ((query: AdmissionQuery<C>) => AdmissionVerdict | Promise<AdmissionVerdict>) | undefined;
  /**
   * The plain heartbeat message (default {@link HEARTBEAT_MESSAGE}, the empty text frame): what a resuming client
   * sends as its keep-alive while it waits for the hello. Until the first wire-format frame of a connection it is a
   * heartbeat; after that it is application text.
   */
  readonly heartbeatMessage?: string | undefined;
  /** The scheduler (expiry and standalone acknowledgements); default: the process-wide one of @keepalive/node-timers. */
  readonly scheduler?: Scheduler | undefined;
  /** Called with every diagnostic (counts, names and durations only). */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
  /** A logger for the diagnostics (a function, or a console-style or pino-style logger). */
  readonly logger?: Logger | undefined;
  /**
   * Where the sessions' delivery state is kept beyond this process (default: nowhere), so that a client resumes on
   * another process of the fleet (see {@link SessionStore}; `@keepalive/redis` has one on Redis).
   */
  readonly store?: SessionStore | undefined;
}

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
 * or by the server (`session.close()`, or the hub closed). `unacked` holds the server's messages the client never
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

type MutableStats = Record<Counter, number>;

/** The close code and reason of an admission hook's refusal; a verdict that is not one is reported and refuses with 4403. */
function refusalOf(verdict: unknown, invalid: (error: Error) => void): { readonly code: number; readonly reason: string } {
  if (typeof verdict === 'object' && verdict !== null) {
    const { code, reason = '' } = verdict as { code?: unknown; reason?: unknown };
    const codeOk = code === RESUME_CLOSE_CODES.normal || (typeof code === 'number' && Number.isInteger(code) && code >= 3000 && code <= 4999);
    if (codeOk && typeof reason === 'string' && utf8Length(reason) <= 123) return { code, reason };
  }
  if (verdict !== false) invalid(new TypeError('admit(): expected true, false or { code: 1000 or 3000-4999, reason: at most 123 bytes }'));
  return { code: RESUME_CLOSE_CODES.refused, reason: 'resume refused' };
}

/** Calls `then` with `value` now when it is not a promise (the common case: no hook), else once it settles. */
function whenReady<T>(value: T | Promise<T>, then: (value: T) => void, failed: (error: unknown) => void): void {
  if (!(value instanceof Promise)) {
    then(value);
    return;
  }
  value.then(then, failed);
}

/**
 * The resumable sessions of one server (spec B14), runtime-neutral: the `ws`
 * integration (`keepAlive(wss, { resume: true })`), Bun's and Deno's hand it
 * each connection's socket and query, and route the socket's events to the
 * handle it returns. The application gets sessions from the `session` event
 * and reads messages from them, not from the sockets.
 *
 * Memory: an idle session costs its object, its delivery state, the digest
 * of its secret, a scheduler entry and a map slot: about 0.9 KB (measured on
 * Node 20.20 with `--expose-gc`, heap used before and after 10 000 idle
 * sessions: about 905 bytes each while connected, counting the connection
 * handle but not the socket; about 830 bytes each while waiting for their
 * clients), plus the
 * payloads the client has not acknowledged (at most `maxUnackedMessages` and
 * `maxUnackedBytes`, per session). A session whose connection is gone is
 * kept `sessionTtlMs` (default 2 minutes) for its client, then removed, and
 * its unacknowledged messages are handed back in its `expired` event; a
 * client close with 1000 or `session.close()` ends it at once (`close`).
 */
export class SessionHub<C = unknown> {
  /** The validated options. */
  readonly config: ServerResumeConfig;
  /** The scheduler every session runs on. */
  readonly scheduler: Scheduler;
  private readonly sessions = new Map<string, Session>();
  /** Sessions a full hub may evict (unconfirmed, without a connection), oldest first. */
  private readonly evictable = new Set<Session>();
  /** Connections in their handshake (their clocks stop when the hub closes). */
  private readonly handshakes = new Set<Connection>();
  /**
   * Digests of stored sessions (another process holds them) read lately, oldest first. A session's digest never
   * changes, so a wrong proof for one of them is refused without reading the store again, and counted per session.
   */
  private readonly storedProofs = new Map<string, StoredProof>();
  private readonly admit: ((query: AdmissionQuery<C>) => AdmissionVerdict | Promise<AdmissionVerdict>) | null;
  private readonly events: Emitter<SessionHubEvents<C>>;
  private readonly host: HubHost;
  private readonly counters: MutableStats = {
    created: 0,
    resumed: 0,
    forgotten: 0,
    replaced: 0,
    expired: 0,
    ended: 0,
    refused: 0,
    evicted: 0,
    wrongProofs: 0,
    refusedAdmissions: 0,
    handshakeTimeouts: 0,
    invalidRequests: 0,
    protocolErrors: 0,
    unheardMessages: 0,
    listenerErrors: 0,
    socketErrors: 0,
  };
  private connectedCount = 0;
  private closed = false;
  private readonly store: SessionStore | null;

  /** Validates the options (a bad one throws `KeepaliveOptionError` naming it as `resume.<option>`). */
  constructor(options: SessionHubOptions<C> = {}) {
    const { config, diagnose, scheduler, heartbeatMessage, store, admit } = nestedOptions('resume', options, (given: SessionHubOptions<C>) => {
      checkKnownKeys(given, HUB_KEYS, 'resume');
      const { scheduler: chosen, onDiagnostic, logger, heartbeatMessage: plain, store: kept, admit: hook, ...resume } = given;
      const candidate: unknown = kept ?? null;
      if (candidate !== null && (typeof candidate !== 'object' || !(['proof', 'load', 'save', 'remove'] as const).every((method) => typeof (candidate as Record<string, unknown>)[method] === 'function'))) {
        throw new KeepaliveOptionError('store', candidate, 'a session store: an object with proof, load, save and remove methods');
      }
      const admitting: unknown = hook ?? null;
      if (admitting !== null && typeof admitting !== 'function') throw new KeepaliveOptionError('admit', admitting, 'a function that admits a connection (true, false or { code, reason })');
      return {
        admit: admitting as ((query: AdmissionQuery<C>) => AdmissionVerdict | Promise<AdmissionVerdict>) | null,
        config: defineServerResumeConfig(resume),
        heartbeatMessage: checkHeartbeatMessage('heartbeatMessage', plain ?? HEARTBEAT_MESSAGE),
        diagnose: createDiagnosticSink({ session: nextInstanceId(), logger, onDiagnostic }),
        scheduler: chosen ?? defaultScheduler(),
        store: candidate as SessionStore | null,
      };
    });
    this.config = config;
    this.store = store;
    this.admit = admit;
    this.scheduler = scheduler;
    const counters = this.counters;
    const sessions = this.sessions;
    const report = (level: DiagnosticLevel, name: string, fields: DiagnosticFields): void => {
      diagnose({ type: 'diagnostic', level, name, fields });
    };
    const listenerFailed = (event: string, error: unknown): void => {
      counters.listenerErrors++;
      report('warn', SESSION_HUB_DIAGNOSTICS.listenerFailed, { event, error: errorName(error) });
    };
    const socketFailed = (op: string, error: unknown): void => {
      counters.socketErrors++;
      report('warn', SESSION_HUB_DIAGNOSTICS.socketFailed, { op, error: errorName(error) });
    };
    this.events = new Emitter<SessionHubEvents<C>>(['session', 'refused'], listenerFailed);
    this.host = {
      accepting: null,
      store,
      storeFailed: (op, error) => {
        report('warn', SESSION_HUB_DIAGNOSTICS.storeFailed, { op, error: errorName(error) });
      },
      scheduler,
      config,
      heartbeatMessage,
      scratch: [],
      diagnose,
      report,
      count: (counter) => ++counters[counter],
      attached: (delta) => {
        this.connectedCount += delta;
      },
      remove: (session) => {
        if (sessions.get(session.id) === session) sessions.delete(session.id);
        this.evictable.delete(session);
      },
      evictable: (session, yes) => {
        if (yes) this.evictable.add(session);
        else this.evictable.delete(session);
      },
      proved: (handle, proof) => {
        this.proved(handle, proof);
      },
      handshakeEnded: (handle) => {
        this.handshakes.delete(handle);
      },
      handshakeTimedOut: (handle) => {
        this.counters.handshakeTimeouts++;
        this.refuse(handle, 'timeout', RESUME_CLOSE_CODES.handshakeTimeout, 'handshake timeout');
      },
      refuse: (handle, reason, code, text) => {
        this.refuse(handle, reason, code, text);
      },
      listenerFailed,
      write: (socket, data) => {
        try {
          socket.send(data);
          return true;
        } catch (error) {
          // What was not written stays unacknowledged: it goes again on the next connection, or is handed back.
          socketFailed('send', error);
          return false;
        }
      },
      shut: (socket, code, reason) => {
        try {
          socket.close(code, reason);
        } catch (error) {
          socketFailed('close', error);
        }
      },
    };
  }

  /**
   * Takes a new connection. `get(name)` reads a parameter of the request URL's query (or returns `null`). Returns
   * `null` when the client did not ask for a resumable session (a plain client: leave it alone), else the
   * connection's handle; route the socket's events to it. A request this version cannot read, or one of wire format
   * v1, is closed with 1002 (its handle is detached: every frame is `ignored`). A client that names a session is
   * challenged (B17): it must prove the session's secret in-band, then the `admit` hook is asked, and only then does
   * the session change hands (the hello says `resumed`, or `new` for a session known nowhere). A client that names
   * none gets a new session once admitted, or 1013 past `maxSessions`. The hub then retransmits what the client
   * has not acknowledged, and emits `session`; a refusal emits `refused`.
   */
  connect(socket: ResumeSocket, get: (name: string) => string | null, context?: C): ResumeConnection | null {
    let request: ReturnType<typeof readResumeQuery>;
    try {
      request = readResumeQuery(get);
    } catch {
      request = 'invalid';
    }
    if (request === null || this.closed) return null;
    const handle = new Connection(this.host, socket, typeof request === 'object' && request.pings, context);
    if (request === 'legacy') {
      this.refuse(handle, 'legacy', RESUME_CLOSE_CODES.protocolError, LEGACY_REFUSAL_REASON);
      return handle;
    }
    if (request === 'invalid') {
      this.refuse(handle, 'invalid', RESUME_CLOSE_CODES.protocolError, 'invalid resume request');
      return handle;
    }
    this.handshakes.add(handle);
    handle.arm(this.scheduler.now() + this.config.handshakeTimeoutMs);
    if (request.session === null) {
      this.admitThen(handle, 'new', null, () => {
        this.join(handle, 0, null, null);
      });
      return handle;
    }
    // B17: a named session is challenged; nothing happens to it before the proof.
    handle.named = request.session;
    handle.stage = 'proving';
    if (!this.host.write(socket, encodeHello({ status: 'prove' }))) this.refuse(handle, 'invalid', RESUME_CLOSE_CODES.internalError, 'send failed');
    return handle;
  }

  /** Whether a connection is still in its handshake (its socket open, the hub open). */
  private waiting(handle: Connection): boolean {
    if (this.closed && !handle.gone && handle.stage !== 'done') {
      handle.settle();
      this.host.shut(handle.socket, RESUME_CLOSE_CODES.goingAway, 'going away');
    }
    return !this.closed && !handle.gone && handle.stage !== 'done';
  }

  /**
   * The proof of the session the connection named (B17): checked against the digest of the session held here, or
   * stored (read without taking it over); a wrong one is refused and changes nothing. Then the application is asked,
   * then the session changes hands.
   */
  private proved(handle: Connection, proof: Proof): void {
    const id = handle.named as string;
    const digest = secretDigest(proof.secret);
    const held = this.sessions.get(id);
    if (held !== undefined || this.store === null) {
      this.owned(handle, proof.delivered, digest, held === undefined ? null : held.candidate(digest).proven, held ?? null);
      return;
    }
    // Read lately: decided without the store (a flood of wrong proofs for a stored session costs no store reads).
    const known = this.storedProofs.get(id);
    if (known !== undefined) {
      const proven = constantTimeEqual(known.digest, digest);
      this.owned(handle, proof.delivered, digest, proven, null, known);
      return;
    }
    const store = this.store;
    let reading: Promise<string | null>;
    try {
      reading = store.proof(id);
    } catch (error) {
      reading = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    void reading
      .then(
        (stored) => (typeof stored === 'string' ? stored : null),
        (error: unknown) => {
          this.host.storeFailed('proof', error);
          return null;
        },
      )
      .then((stored) => {
        if (!this.waiting(handle)) return;
        // Held here meanwhile (another connection restored it): the held copy decides.
        const now = this.sessions.get(id);
        if (now !== undefined) {
          this.owned(handle, proof.delivered, digest, now.candidate(digest).proven, now);
          return;
        }
        const entry = stored === null ? undefined : this.rememberStoredProof(id, stored);
        this.owned(handle, proof.delivered, digest, stored === null ? null : constantTimeEqual(stored, digest), null, entry);
      });
  }

  /** Keeps a stored session's digest (bounded: the oldest goes first). */
  private rememberStoredProof(id: string, digest: string): StoredProof {
    const entry = this.storedProofs.get(id) ?? { digest, failedProofs: 0 };
    this.storedProofs.delete(id);
    if (this.storedProofs.size >= STORED_PROOFS) {
      const oldest = this.storedProofs.keys().next().value;
      if (oldest !== undefined) this.storedProofs.delete(oldest);
    }
    this.storedProofs.set(id, entry);
    return entry;
  }

  /**
   * What the proof decided (`proven`: `null` when the session exists nowhere): refuse, or ask the application. `counted`
   * is where the session's wrong proofs are counted when this hub does not hold it.
   */
  private owned(handle: Connection, delivered: number, digest: string, proven: boolean | null, held: Session | null, counted: StoredProof | null = null): void {
    if (proven === false) {
      this.wrongProof(handle, held ?? counted);
      return;
    }
    const kind = proven === null ? 'new' : held === null ? 'restore' : 'resume';
    this.admitThen(handle, kind, held, () => {
      if (kind !== 'restore') {
        this.join(handle, delivered, digest, null);
        return;
      }
      this.restoreFrom(handle, delivered, digest);
    });
  }

  /** A wrong proof (B17): counted per session, reported (no secret, no id), refused with 4403; nothing changes. */
  private wrongProof(handle: Connection, counted: { failedProofs: number } | null): void {
    this.counters.wrongProofs++;
    const failures = counted === null ? 1 : ++counted.failedProofs;
    // A flood of wrong proofs for one session is reported one by one up to a bound, then at powers of two.
    if (failures <= REPORTED_PROOF_FAILURES || (failures & (failures - 1)) === 0) {
      this.host.report('warn', SESSION_HUB_DIAGNOSTICS.resumeRefused, { reason: 'proof', failures });
    }
    this.refuse(handle, 'proof', RESUME_CLOSE_CODES.refused, 'resume refused', false);
  }

  /** Asks the `admit` hook (if any) about the connection, then runs `then`; a refusal closes it, changing nothing. */
  private admitThen(handle: Connection, kind: AdmissionQuery['kind'], session: Session | null, then: () => void): void {
    const admit = this.admit;
    if (admit === null) {
      then();
      return;
    }
    handle.stage = 'pending';
    let verdict: AdmissionVerdict | Promise<AdmissionVerdict>;
    try {
      verdict = admit({ kind, session, context: handle.context as C });
    } catch (error) {
      verdict = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    whenReady(
      verdict,
      (answer) => {
        if (!this.waiting(handle)) return;
        if (answer === true) {
          then();
          return;
        }
        const refusal = refusalOf(answer, (error) => this.host.listenerFailed('admit', error));
        this.counters.refusedAdmissions++;
        this.host.report('warn', SESSION_HUB_DIAGNOSTICS.resumeRefused, { reason: 'admission', code: refusal.code });
        this.refuse(handle, 'admission', refusal.code, refusal.reason, false);
      },
      (error: unknown) => {
        this.host.listenerFailed('admit', error);
        if (!this.waiting(handle)) return;
        this.counters.refusedAdmissions++;
        this.host.report('warn', SESSION_HUB_DIAGNOSTICS.resumeRefused, { reason: 'admission', code: RESUME_CLOSE_CODES.refused });
        this.refuse(handle, 'admission', RESUME_CLOSE_CODES.refused, 'resume refused', false);
      },
    );
  }

  /**
   * Ends a connection's handshake with a refusal: closed with `code`, reported (unless the caller did), `refused`
   * emitted. Nothing about any session changed (B17).
   */
  private refuse(handle: Connection, reason: RefusedEvent['reason'], code: number, text: string, report = true): void {
    if (handle.stage === 'done') return;
    handle.settle();
    if (reason === 'legacy' || reason === 'invalid') {
      this.counters.invalidRequests++;
      if (reason === 'legacy') this.host.report('warn', SESSION_HUB_DIAGNOSTICS.resumeRefused, { reason });
      else this.host.report('warn', SESSION_HUB_DIAGNOSTICS.invalidRequest, NO_FIELDS);
    } else if (report) {
      this.host.report('warn', SESSION_HUB_DIAGNOSTICS.resumeRefused, { reason });
    }
    this.host.shut(handle.socket, code, text);
    this.events.emit('refused', { reason, code, context: handle.context as C });
  }

  /** Takes the stored session over (the store's `load`), then joins the connection to it, unless the client left meanwhile. */
  private restoreFrom(handle: Connection, delivered: number, digest: string): void {
    const store = this.store as SessionStore;
    const id = handle.named as string;
    handle.stage = 'pending';
    let loading: Promise<StoredSession | null>;
    try {
      loading = store.load(id);
    } catch (error) {
      loading = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    void loading
      .then(
        (stored) => stored,
        (error: unknown) => {
          this.host.storeFailed('load', error);
          return null;
        },
      )
      .then((stored) => {
        // The client left (or the hub closed) while the store answered: nothing is taken up here; the store still
        // has the session for the client's next attempt.
        if (!this.waiting(handle)) return;
        this.join(handle, delivered, digest, stored);
      });
  }

  /**
   * Attaches a connection to the session it asked for: held here, restored from `stored`, or a new one (the rule is
   * the core's; decided again here, with the facts as they are now, after every wait). `digest` is the digest of
   * the connection's proof (`null`: it named no session).
   */
  private join(handle: Connection, delivered: number, digest: string | null, stored: StoredSession | null): void {
    const host = this.host;
    const now = this.scheduler.now();
    const named = handle.named;
    const held = named === null ? undefined : this.sessions.get(named);
    const restored = held === undefined && named !== null && stored !== null ? restoreSession(this.config.delivery, stored, now) : null;
    const admission = admitConnection({
      named: named !== null,
      delivered,
      held: held?.candidate(digest) ?? null,
      stored:
        held !== undefined || stored === null
          ? null
          : restored === null
            ? 'invalid'
            : { proven: digest !== null && constantTimeEqual(restored.proof, digest), written: restored.state.transmittedThrough, ackedThrough: restored.state.ackedThrough },
      sessions: this.sessions.size,
      maxSessions: this.config.maxSessions,
      evictable: this.evictable.size > 0,
    });
    const context = handle.context as C;
    switch (admission.kind) {
      case 'resume':
        /* c8 ignore next -- admission resumes only a held session */
        if (held === undefined) return;
        this.counters.resumed++;
        held.attach(handle, null, delivered, now);
        this.events.emit('session', { session: held, resumed: true, forgotten: false, restored: false, context });
        return;
      case 'restore': {
        /* c8 ignore next -- admission restores only a named session that was restored */
        if (named === null || restored === null) return;
        if (admission.evict) this.evictOldest();
        const session = new Session(host, named, restored.proof, restored);
        this.sessions.set(named, session);
        this.storedProofs.delete(named);
        host.report('info', SESSION_HUB_DIAGNOSTICS.sessionRestored, { messages: session.unackedMessages });
        this.counters.resumed++;
        session.attach(handle, null, delivered, now);
        this.events.emit('session', { session, resumed: true, forgotten: false, restored: true, context });
        return;
      }
      case 'refuse':
        if (admission.reason === 'proof') {
          // The session that answered the proof is not the one here now (restored by another connection meanwhile).
          this.wrongProof(handle, held ?? null);
          return;
        }
        if (admission.unknown !== null) host.report('info', SESSION_HUB_DIAGNOSTICS.sessionUnknown, { reason: admission.unknown });
        this.counters.refused++;
        host.report('warn', SESSION_HUB_DIAGNOSTICS.sessionsFull, { limit: this.config.maxSessions });
        this.refuse(handle, 'full', RESUME_CLOSE_CODES.tryAgainLater, 'try again later', false);
        return;
      case 'new': {
        if (admission.unknown === 'unrestorable' && named !== null && stored !== null) {
          host.report('info', SESSION_HUB_DIAGNOSTICS.sessionUnknown, { reason: 'unrestorable', messages: Array.isArray(stored.unacked) ? stored.unacked.length : 0 });
          // The client gets a new session (forgotten): it hands back what it had not seen acknowledged. The stored
          // copy is removed, so no other process takes it up either.
          this.removeStored(named);
        } else if (admission.unknown !== null) {
          // Unknown (restarted, expired, ended), or a count this session cannot have: a new session, reported.
          host.report('info', SESSION_HUB_DIAGNOSTICS.sessionUnknown, { reason: admission.unknown });
        }
        if (admission.evict) this.evictOldest();
        let id = randomToken();
        while (this.sessions.has(id)) id = randomToken();
        // The secret goes out once, in the hello; the session keeps its digest only.
        const secret = randomToken();
        const session = new Session(host, id, secretDigest(secret));
        this.sessions.set(id, session);
        this.counters.created++;
        if (admission.forgotten) this.counters.forgotten++;
        host.report('debug', SESSION_HUB_DIAGNOSTICS.sessionStarted, { sessions: this.sessions.size });
        session.attach(handle, secret, 0, now);
        this.events.emit('session', { session, resumed: false, forgotten: admission.forgotten, restored: false, context });
        return;
      }
    }
  }

  /** Makes room: the oldest unconfirmed session without a connection goes (an expiry: its messages are handed back). */
  private evictOldest(): void {
    const oldest = this.evictable.values().next().value;
    if (oldest === undefined) return;
    oldest.evict();
    this.host.report('info', SESSION_HUB_DIAGNOSTICS.sessionEvicted, { sessions: this.sessions.size });
  }

  /** Removes a stored session; a store that throws is reported, never thrown. */
  private removeStored(id: string): void {
    this.storedProofs.delete(id);
    try {
      this.store?.remove(id);
    } catch (error) {
      this.host.storeFailed('remove', error);
    }
  }

  /** Adds a listener for `session` (every connection attached to a session, new or resumed); returns its remover. */
  on<K extends keyof SessionHubEvents<C>>(event: K, listener: (event: SessionHubEvents<C>[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Sessions held now (connected or waiting for their client). */
  get size(): number {
    return this.sessions.size;
  }

  /** Counters over every session this hub has seen. */
  stats(): SessionHubStats {
    return { ...this.counters, sessions: this.sessions.size, connected: this.connectedCount };
  }

  /**
   * Ends every session (their attached sockets are closed with 1001; each session's `close` event hands back what
   * its client never acknowledged) and takes no more connections (`connect` returns `null`).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const handle of this.handshakes) this.waiting(handle);
    this.handshakes.clear();
    for (const session of [...this.sessions.values()]) session.closeByServer(RESUME_CLOSE_CODES.goingAway, 'going away');
    this.events.clear();
  }
}

/**
 * Creates a {@link SessionHub}. A bad option throws `KeepaliveOptionError` naming it as `resume.<option>`.
 *
 * @example
 * ```ts
 * import { createSessionHub } from '@keepalive/websocket-transport';
 * const hub = createSessionHub({ sessionTtlMs: 30_000, maxSessions: 1_000 });
 * hub.on('session', ({ session, forgotten }) => { if (forgotten) console.log('a client came back to a forgotten session'); });
 * ```
 */
export function createSessionHub<C = unknown>(options: SessionHubOptions<C> = {}): SessionHub<C> {
  return new SessionHub<C>(options);
}
