import { KeepaliveOptionError, RESUME_PARAMS, type Diagnostic } from '@keepalive/core';
import { createScheduler, type Logger } from '@keepalive/node-timers';
import { SessionHub, type ResumeConnection, type UnheldCloseVerdict } from '@keepalive/websocket-transport/peer';
import { saveSession, sessionOf } from './attachment.js';
import type { HibernatingKeepaliveOptions } from './options.js';
import { DurableObjectSessionStore } from './session-store.js';
import type { DurableObjectKeyValueStorageLike, DurableObjectStateLike, HibernatableWebSocketLike } from './workerd-like.js';

/*
 * The resumable-session wiring of a {@link HibernatingKeepalive} (`resume`): the runtime-neutral `SessionHub` on a
 * scheduler of this instance, its store on the object's storage, and this instance's connections of resumable
 * sessions. The sessions' rules are the hub's; here is only where a Durable Object's sockets meet it.
 */

/** What {@link createResumeWiring} needs of its keep-alive besides the `resume` option. */
export interface ResumeWiringOptions {
  /** The keep-alive's diagnostic sink (the store's diagnostics). */
  readonly sink: (diagnostic: Diagnostic) => void;
  /** The keep-alive's clock. */
  readonly now: () => number;
  /** The checked heartbeat message. */
  readonly heartbeatMessage: string;
  /** The application's `onDiagnostic` and `logger`, for the hub. */
  readonly onDiagnostic: ((diagnostic: Diagnostic) => void) | undefined;
  readonly logger: Logger | undefined;
  /** Called with the time a detached session expires from the storage: the object's alarm must wake by then. */
  readonly onExpiry: (until: number) => void;
}

/**
 * Checks `resume` (B1: `KeepaliveOptionError` naming it) and, unless it is off, creates the session store on
 * `ctx.storage` and the hub over it; `null` when off.
 */
export function createResumeWiring<W extends HibernatableWebSocketLike>(
  resume: NonNullable<HibernatingKeepaliveOptions<W>['resume']>,
  ctx: DurableObjectStateLike<W>,
  options: ResumeWiringOptions,
): ResumeWiring<W> | null {
  const asked: unknown = resume;
  if (typeof asked !== 'boolean' && (typeof asked !== 'object' || asked === null || Array.isArray(asked))) {
    throw new KeepaliveOptionError('resume', asked, 'true, false or an object of resume options');
  }
  if (resume === false) return null;
  const { storeTtlMs, storePrefix, ...hubOptions } = resume === true ? {} : resume;
  const storage = ctx.storage;
  if (!(['get', 'put', 'delete', 'list'] as const).every((method) => typeof storage[method] === 'function')) {
    throw new KeepaliveOptionError('resume', resume, "a Durable Object whose ctx.storage has get, put, delete and list (workerd's)");
  }
  const { sink, now, heartbeatMessage, onDiagnostic, logger, onExpiry } = options;
  const store = new DurableObjectSessionStore(storage as DurableObjectKeyValueStorageLike, { ttlMs: storeTtlMs, prefix: storePrefix, onDiagnostic: sink, now });
  store.onExpiry = onExpiry;
  // One scheduler per instance: its timers (the handshake's, an owed acknowledgement, a detached session's expiry)
  // run in this object's context and are gone with it; what must outlive it is in the storage.
  const hub = new SessionHub<W>({ ...hubOptions, store, scheduler: createScheduler(), heartbeatMessage, onDiagnostic, logger });
  hub.on('session', ({ session, context }) => {
    // The hub attached the socket to the session (it proved the secret, or was given a new one): the attachment says so.
    saveSession(context, session.id);
  });
  return new ResumeWiring(hub, store);
}

/** A keep-alive's resumable sessions: the hub, its store, and the connections of this instance's sockets. */
export class ResumeWiring<W extends HibernatableWebSocketLike> {
  /** This instance's connections of resumable sessions (their sockets are the hub's until they close). */
  private readonly connections = new Map<W, ResumeConnection>();

  constructor(
    readonly hub: SessionHub<W>,
    readonly store: DurableObjectSessionStore,
  ) {}

  /** The query of a request URL that asks for a resumable session (`ka=2`), or `null` (none asked, or no URL). */
  askedBy(url: string | URL | undefined): URLSearchParams | null {
    const query = url === undefined ? null : queryOf(url);
    return query !== null && query.get(RESUME_PARAMS.version) !== null ? query : null;
  }

  /** Hands a new socket to the hub, which writes its first frame now (a new session's hello, or the challenge). */
  connect(ws: W, query: URLSearchParams): void {
    const connection = this.hub.connect(ws, (name) => query.get(name), ws);
    if (connection !== null) this.connections.set(ws, connection);
  }

  /** The socket's connection, or `undefined` when this instance's hub does not hold it (after an eviction). */
  connection(ws: W): ResumeConnection | undefined {
    return this.connections.get(ws);
  }

  /**
   * A resumable socket closed, carrying `session` (`null` before its proof): its connection tells the hub (1000 ends
   * the session, anything else keeps it for the client's return). After an eviction this instance's hub holds no
   * connection for it, and decides what the close means for the stored session (`SessionHub.unheldClosed`); the
   * promise settles once the storage answered.
   */
  closed(ws: W, session: string | null, code: number): Promise<UnheldCloseVerdict> | undefined {
    const connection = this.connections.get(ws);
    this.connections.delete(ws);
    if (connection === undefined) return this.hub.unheldClosed(session, code);
    connection.closed(code);
    return undefined;
  }

  /**
   * A frame of a resumable socket this instance's hub holds no connection for (after an eviction): the hub's
   * decision (`SessionHub.unheldFrame`: closed with 1012, the client resumes on a new connection).
   */
  unheldFrame(ws: W): void {
    this.hub.unheldFrame(ws);
  }

  /** The sessions the open sockets carry (from their attachments): the storage keeps them. */
  held(sockets: Iterable<W>): Set<string> {
    const held = new Set<string>();
    for (const ws of sockets) {
      const id = sessionOf(ws.deserializeAttachment());
      if (typeof id === 'string') held.add(id);
    }
    return held;
  }
}

/** The query of a request URL, or `null` when it cannot be parsed. */
function queryOf(url: string | URL): URLSearchParams | null {
  try {
    return (url instanceof URL ? url : new URL(url, 'http://localhost')).searchParams;
  } catch {
    return null;
  }
}
