import { constantTimeEqual, createServerSessionState, encodeHello, readResumeQuery, admitConnection, serverSessionStep, type DiagnosticFields, type DiagnosticLevel, type ServerSessionCommand } from '@keepalive/core';
import { Emitter, errorName, type Scheduler } from '@keepalive/node-timers';
import type { SessionStore, StoredSession } from './resume-store.js';
import { randomToken, secretDigest } from './resume-secret.js';
import { RESUME_CLOSE_CODES, RESUME_CLOSE_REASONS, SESSION_HUB_DIAGNOSTICS } from './resume-codes.js';
import { Admission, askStore } from './resume-admission.js';
import { Connection } from './resume-connection.js';
import { defineHubSettings, type ServerResumeConfig, type SessionHubOptions } from './resume-options.js';
import { restoreSession } from './resume-restore.js';
import { NO_FIELDS, Session, type Counter, type HubHost } from './resume-session.js';
import type { RefusedEvent, ResumeConnection, ResumeSocket, SessionHubCloseOptions, SessionHubEvents, SessionHubStats, UnheldCloseVerdict } from './resume-types.js';

export { LEGACY_REFUSAL_REASON, RESUME_CLOSE_CODES, RESUME_CLOSE_REASONS, SESSION_HUB_DIAGNOSTICS, isApplicationCloseCode } from './resume-codes.js';
export { ReplayFullError, SessionEndedError } from './resume-errors.js';
export { SESSION_HUB_DEFAULTS, defineServerResumeConfig, type ServerResumeConfig, type ServerResumeOptions, type SessionHubOptions } from './resume-options.js';
export type { AdmissionQuery, AdmissionVerdict } from './resume-admission.js';
export type * from './resume-types.js';

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

type MutableStats = Record<Counter, number>;

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
  /** Sessions being taken up from the store now, by id: how many connections are reading them. */
  private readonly restoring = new Map<string, number>();
  /** Who may join a session: the proofs and the `admit` hook (B17). */
  private readonly admission: Admission<C>;
  private readonly events: Emitter<SessionHubEvents<C>>;
  private readonly host: HubHost;
  private readonly counters: MutableStats = {
    created: 0,
    resumed: 0,
    forgotten: 0,
    replaced: 0,
    expired: 0,
    ended: 0,
    handedOver: 0,
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
  /** Whether `close` was called. */
  private closing = false;
  /** The close code a connection still in its handshake gets once the hub closed: 1012 when sessions are handed over. */
  private closeCode: number = RESUME_CLOSE_CODES.goingAway;
  private closeReason: string = RESUME_CLOSE_REASONS.goingAway;
  private readonly store: SessionStore | null;
  private settle: () => void = noop;
  /**
   * Resolves once the hub closed and its store wrote what the close left it (the sessions handed over, or the
   * removals of those ended), and the handed-over sessions' sockets are closed; never rejects (a store that failed
   * is reported, `store_failed` with `op` `flush`). Pending until {@link SessionHub.close} is called. Await it
   * before closing the store and exiting the process.
   */
  readonly closed = new Promise<void>((resolve) => {
    this.settle = resolve;
  });

  /** Validates the options (a bad one throws `KeepaliveOptionError` naming it as `resume.<option>`). */
  constructor(options: SessionHubOptions<C> = {}) {
    const { config, diagnose, scheduler, heartbeatMessage, store, admit } = defineHubSettings(options);
    this.config = config;
    this.store = store;
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
        this.admission.proved(handle, proof);
      },
      handshakeEnded: (handle) => {
        this.handshakes.delete(handle);
      },
      handshakeTimedOut: (handle) => {
        this.counters.handshakeTimeouts++;
        this.refuse(handle, 'timeout', RESUME_CLOSE_CODES.handshakeTimeout, RESUME_CLOSE_REASONS.handshakeTimeout);
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
    // Who may join a session: the proofs and the `admit` hook (B17); the session table stays here.
    this.admission = new Admission<C>(
      this.host,
      {
        held: (id) => sessions.get(id),
        waiting: (handle) => this.waiting(handle),
        refuse: (handle, reason, code, text, report) => {
          this.refuse(handle, reason, code, text, report);
        },
        join: (handle, delivered, digest) => {
          this.join(handle, delivered, digest, null);
        },
        restore: (handle, delivered, digest) => {
          this.restoreFrom(handle, delivered, digest);
        },
      },
      admit,
    );
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
    if (request === null || this.closing) return null;
    const handle = new Connection(this.host, socket, typeof request === 'object' && request.pings, context);
    if (request === 'legacy') {
      this.refuse(handle, 'legacy', RESUME_CLOSE_CODES.protocolError, RESUME_CLOSE_REASONS.legacy);
      return handle;
    }
    if (request === 'invalid') {
      this.refuse(handle, 'invalid', RESUME_CLOSE_CODES.protocolError, RESUME_CLOSE_REASONS.invalidRequest);
      return handle;
    }
    this.handshakes.add(handle);
    handle.arm(Math.floor(this.scheduler.now()) + this.config.handshakeTimeoutMs);
    if (request.session === null) {
      this.admission.admitThen(handle, 'new', null, () => {
        this.join(handle, 0, null, null);
      });
      return handle;
    }
    // B17: a named session is challenged; nothing happens to it before the proof.
    handle.named = request.session;
    handle.stage = 'proving';
    if (!this.host.write(socket, encodeHello({ status: 'prove' }))) this.refuse(handle, 'invalid', RESUME_CLOSE_CODES.internalError, RESUME_CLOSE_REASONS.sendFailed);
    return handle;
  }

  /** Whether a connection is still in its handshake (its socket open, the hub open). */
  private waiting(handle: Connection): boolean {
    if (this.closing && !handle.gone && handle.stage !== 'done') {
      handle.settle();
      this.host.shut(handle.socket, this.closeCode, this.closeReason);
    }
    return !this.closing && !handle.gone && handle.stage !== 'done';
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
    handle.context = undefined;
  }

  /** Takes the stored session over (the store's `load`), then joins the connection to it, unless the client left meanwhile. */
  private restoreFrom(handle: Connection, delivered: number, digest: string): void {
    const store = this.store as SessionStore;
    const id = handle.named as string;
    handle.stage = 'pending';
    const restoring = this.restoring;
    restoring.set(id, (restoring.get(id) ?? 0) + 1);
    void askStore(this.host, 'load', () => store.load(id)).then((stored) => {
      const left = (restoring.get(id) ?? 1) - 1;
      if (left === 0) restoring.delete(id);
      else restoring.set(id, left);
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
    const now = Math.floor(this.scheduler.now());
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
        handle.context = undefined;
        return;
      case 'restore': {
        /* c8 ignore next -- admission restores only a named session that was restored */
        if (named === null || restored === null) return;
        if (admission.evict) this.evictOldest();
        const session = new Session(host, named, restored.proof, restored);
        this.sessions.set(named, session);
        this.admission.forget(named);
        host.report('info', SESSION_HUB_DIAGNOSTICS.sessionRestored, { messages: session.unackedMessages });
        this.counters.resumed++;
        session.attach(handle, null, delivered, now);
        this.events.emit('session', { session, resumed: true, forgotten: false, restored: true, context });
        handle.context = undefined;
        return;
      }
      case 'refuse':
        if (admission.reason === 'proof') {
          // The session that answered the proof is not the one here now (restored by another connection meanwhile).
          this.admission.wrongProof(handle, held ?? null);
          return;
        }
        if (admission.unknown !== null) host.report('info', SESSION_HUB_DIAGNOSTICS.sessionUnknown, { reason: admission.unknown });
        this.counters.refused++;
        host.report('warn', SESSION_HUB_DIAGNOSTICS.sessionsFull, { limit: this.config.maxSessions });
        this.refuse(handle, 'full', RESUME_CLOSE_CODES.tryAgainLater, RESUME_CLOSE_REASONS.tryAgainLater, false);
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
        handle.context = undefined;
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
    this.admission.forget(id);
    try {
      this.store?.remove(id);
    } catch (error) {
      this.host.storeFailed('remove', error);
    }
  }

  /**
   * A frame reached the server on a socket this hub holds no connection for, though its client asked for a resumable
   * session (and may have proved one) on an earlier process or instance of this server: after a Durable Object's
   * eviction, its sockets stay open while the hub that held them is gone. The hub cannot adopt such a socket
   * mid-session (its handshake is not replayed), so it hands it over: the socket is closed with 1012 (service
   * restart), and the client resumes on a new connection, proving its secret again; the store has the session's
   * state, so nothing is lost or repeated. Call it once per socket (its later frames were already on their way: the
   * client sends them again); the frame itself is not read.
   */
  unheldFrame(socket: ResumeSocket): void {
    this.host.shut(socket, RESUME_CLOSE_CODES.serviceRestart, RESUME_CLOSE_REASONS.serviceRestart);
  }

  /**
   * Such a socket (see {@link SessionHub.unheldFrame}) closed with `code`, carrying `session`: the id it proved
   * before this hub started, or `null` when it never proved one. The rule is the core's (`serverSessionStep`): a
   * close with 1000 ends the session for good (the store's copy is removed, with the payloads it kept, reported as
   * `session_ended_unheld` with the count of its unacknowledged messages, which no process holds to hand back); any
   * other code leaves it in the store for the client's return. A session held here, or being taken up from the store
   * by a newer connection that proved it, is not this socket's any more: it is kept. Resolves with what was decided
   * once the store answered; never rejects (a store that fails is reported, `store_failed`).
   */
  async unheldClosed(session: string | null, code: number): Promise<UnheldCloseVerdict> {
    const store = this.store;
    if (session === null || store === null || this.closing) return 'none';
    if (this.sessions.has(session) || this.restoring.has(session)) return 'kept';
    // The socket had proved the session: it was attached. Its close is a detach, decided by the core.
    const now = Math.floor(this.scheduler.now());
    const ttlMs = this.config.sessionTtlMs;
    const out: ServerSessionCommand[] = [];
    const attached = serverSessionStep(createServerSessionState(ttlMs, now, ttlMs, true), { type: 'attach', now, status: 'resumed' }, out);
    out.length = 0;
    serverSessionStep(attached, { type: 'detach', now, code }, out);
    if (!out.some((command) => command.type === 'ended')) return 'kept';
    // What the store kept of it: the count the client never acknowledged (and, for the store, which payloads go).
    const stored = await askStore(this.host, 'load', () => store.load(session));
    // A newer connection took it up, or is taking it up, while the store answered: it is that connection's now.
    if (this.sessions.has(session) || this.restoring.has(session)) return 'kept';
    this.removeStored(session);
    if (stored === null) return 'unknown';
    this.counters.ended++;
    this.host.report('warn', SESSION_HUB_DIAGNOSTICS.sessionEndedUnheld, { code, messages: Array.isArray(stored.unacked) ? stored.unacked.length : 0 });
    return 'ended';
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
   * Closes the hub: it takes no more connections (`connect` returns `null`), and connections still in their
   * handshake are closed (nothing about any session changed for them). Then, by default, every session is **handed
   * over** when the hub has a store: its connection is let go (later frames are not read: the client sends them
   * again where it resumes), its last state goes to the store, its `close` event says `handedOver` (nothing handed
   * back), and once the store wrote it (its `flush`, bounded by the store) its socket is closed with 1012 (service
   * restart): the client reconnects, and the process it reaches resumes the session from the store, losing and
   * repeating nothing. Await {@link SessionHub.closed} before closing the store or exiting.
   *
   * With `{ endSessions: true }`, or without a store (an in-memory hub: nothing outlives the process, so there is
   * nothing to hand over), every session **ends** instead: its socket is closed with 1001, its `close` event hands
   * back what its client never acknowledged, and the store forgets it (a client that comes back gets a new session).
   * Throws `TypeError` for options that are not `{ endSessions?: boolean }`. A second call does nothing.
   */
  close(options: SessionHubCloseOptions = {}): void {
    const given: unknown = options;
    const endSessions: unknown = typeof given === 'object' && given !== null ? (given as SessionHubCloseOptions).endSessions : null;
    if (endSessions !== undefined && typeof endSessions !== 'boolean') {
      throw new TypeError(`close(options): endSessions must be a boolean, got ${endSessions === null ? String(given) : typeof endSessions}`);
    }
    if (this.closing) return;
    this.closing = true;
    const startedAt = this.scheduler.now();
    const store = this.store;
    const handOver = store !== null && endSessions !== true;
    if (handOver) {
      this.closeCode = RESUME_CLOSE_CODES.serviceRestart;
      this.closeReason = RESUME_CLOSE_REASONS.serviceRestart;
    }
    for (const handle of this.handshakes) this.waiting(handle);
    this.handshakes.clear();
    const sockets: ResumeSocket[] = [];
    for (const session of [...this.sessions.values()]) {
      if (!handOver) {
        session.closeByServer(RESUME_CLOSE_CODES.goingAway, RESUME_CLOSE_REASONS.goingAway);
        continue;
      }
      const socket = session.handOver();
      if (socket !== null) sockets.push(socket);
    }
    const handedOver = this.counters.handedOver;
    this.events.clear();
    if (store?.flush === undefined) {
      for (const socket of sockets) this.host.shut(socket, RESUME_CLOSE_CODES.serviceRestart, RESUME_CLOSE_REASONS.serviceRestart);
      if (handOver) this.host.report('info', SESSION_HUB_DIAGNOSTICS.sessionsHandedOver, { sessions: handedOver, ms: 0 });
      this.settle();
      return;
    }
    const flush = askStore(this.host, 'flush', async () => {
      await store.flush?.();
      return true;
    });
    void flush.then((written) => {
      // Written (or given up, reported): the clients may resume elsewhere now.
      for (const socket of sockets) this.host.shut(socket, RESUME_CLOSE_CODES.serviceRestart, RESUME_CLOSE_REASONS.serviceRestart);
      if (handOver && written === true) this.host.report('info', SESSION_HUB_DIAGNOSTICS.sessionsHandedOver, { sessions: handedOver, ms: Math.round(this.scheduler.now() - startedAt) });
      this.settle();
    });
  }
}

function noop(): void {
  // Replaced by the promise's resolver.
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
