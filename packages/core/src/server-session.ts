/**
 * The server end of a resumable session (spec B14, B17, wire format v2):
 * which session a new connection joins ({@link admitConnection}), whether a
 * client can be the one it says it is ({@link canResumeSession}: it proved
 * the session's secret, and its count is possible), and how long a session
 * outlives its connections (the lifetime machine, {@link serverSessionStep}). The delivery machine (`delivery.ts`) numbers,
 * keeps and acknowledges the messages; this decides everything around it.
 * Pure: time arrives in events; it executes nothing (like XState's
 * `transition`), and a hub carries out its commands.
 *
 * Phases, exactly one at a time:
 *
 * | phase | connection | armed | leaves on |
 * | --- | --- | --- | --- |
 * | `away` | none | expiry at `expiresAt` (none before the first attach) | `attach` → `attached`; expiry due → `ended` (`expire`); `evict` while unconfirmed → `ended` (`expire`); `end` → `ended` |
 * | `attached` | one | nothing (the delivery machine's acknowledgement timer) | `detach` with 1000 → `ended` (by the client); any other code → `away`, expiring `ttlMs` later (`unconfirmedTtlMs` while unconfirmed); `attach` (a newer connection) → `attached`, the older one `replace`d; `end` → `ended` |
 * | `ended` | none | nothing | never |
 *
 * A session is *unconfirmed* until its client wrote a frame after the hello that made it (`confirm`): a session that
 * never got past its first connection (a client that took the hello and left, or a flood of bare `ka=2` upgrades)
 * costs little and goes soon: it is kept `unconfirmedTtlMs` after its connection is lost, and a full hub evicts
 * the oldest such session to make room for a new one (B17: creating sessions cannot exhaust the table for others).
 */

/** Where a server-side session is. See the table in this module's documentation. */
export type ServerSessionPhase = 'away' | 'attached' | 'ended';

/** The lifetime of one server-side session: plain data, never mutated (each step returns a new object when it changed). */
export interface ServerSessionState {
  readonly phase: ServerSessionPhase;
  /** How long the session is kept after its connection is lost (`sessionTtlMs`). */
  readonly ttlMs: number;
  /** How long it is kept while unconfirmed (`unconfirmedTtlMs`, at most `ttlMs`). */
  readonly unconfirmedTtlMs: number;
  /** Whether its client wrote a frame after the hello that made the session (restored sessions are). */
  readonly confirmed: boolean;
  /** When the session expires while `away` (`null` before its first connection, and while attached or ended). */
  readonly expiresAt: number | null;
  /** When its last connection was lost (or when it was created). */
  readonly awaySince: number;
}

/**
 * What happens to a server-side session:
 *
 * - `attach`: a connection joins it (`status` is what its hello says: `new` or `resumed`);
 * - `detach`: its connection closed with `code` (1000: the client ended the session);
 * - `confirm`: its client wrote a frame after the hello (it took the session: it is no longer cheap to evict);
 * - `timeout`: time passed to `now` (the hub's timer at {@link serverSessionDeadline});
 * - `evict`: the hub is full and needs room: an unconfirmed session without a connection goes now;
 * - `end`: the server ends it (the application's `close`, or the hub closing).
 */
export type ServerSessionEvent =
  | { readonly type: 'attach'; readonly now: number; readonly status: 'new' | 'resumed' }
  | { readonly type: 'confirm'; readonly now: number }
  | { readonly type: 'evict'; readonly now: number }
  | { readonly type: 'detach'; readonly now: number; readonly code: number }
  | { readonly type: 'timeout'; readonly now: number }
  | { readonly type: 'end'; readonly now: number };

/**
 * What the hub does for a session, in order:
 *
 * - `replace`: a newer connection joined while one was attached (a half-open one): detach the older one (the delivery
 *   machine's `disconnected`) and close it with 4001 (resumed elsewhere);
 * - `resumed` `{awayMs}`: the client came back to the session after `awayMs` (0 for a replacement);
 * - `ended` `{by}`: the session is over (`client`: its connection closed with 1000; `server`): remove it and hand back
 *   what the client never acknowledged;
 * - `expired` `{awayMs}`: no connection came back within `ttlMs`: the same, reported as an expiry.
 */
export type ServerSessionCommand =
  | { readonly type: 'replace' }
  | { readonly type: 'resumed'; readonly awayMs: number }
  | { readonly type: 'ended'; readonly by: 'client' | 'server' }
  | { readonly type: 'expired'; readonly awayMs: number };

const REPLACE: ServerSessionCommand = /* @__PURE__ */ Object.freeze({ type: 'replace' });
const ENDED_BY_CLIENT: ServerSessionCommand = /* @__PURE__ */ Object.freeze({ type: 'ended', by: 'client' });
const ENDED_BY_SERVER: ServerSessionCommand = /* @__PURE__ */ Object.freeze({ type: 'ended', by: 'server' });

/** The close code with which a client ends its session (instead of leaving it to come back). */
const NORMAL_CLOSE = 1000;

/**
 * A session made at `now` and not yet joined by a connection (`away`, nothing armed); `confirmed` for a session taken
 * up from a store (its client had it before).
 */
export function createServerSessionState(ttlMs: number, now: number, unconfirmedTtlMs: number = ttlMs, confirmed = false): ServerSessionState {
  return { phase: 'away', ttlMs, unconfirmedTtlMs: Math.min(ttlMs, unconfirmedTtlMs), confirmed, expiresAt: null, awaySince: now };
}

/** Whether a full hub may evict this session to make room (unconfirmed, and without a connection). */
export function isEvictable(state: ServerSessionState): boolean {
  return state.phase === 'away' && !state.confirmed;
}

/**
 * The pure step `(state, event, out) → next`: appends the commands to `out`. An event that does not apply to the
 * phase (a `detach` while away, anything once ended) changes nothing and commands nothing: the hub reports only
 * what it holds.
 */
export function serverSessionStep(state: ServerSessionState, event: ServerSessionEvent, out: ServerSessionCommand[]): ServerSessionState {
  if (state.phase === 'ended') return state;
  switch (event.type) {
    case 'attach': {
      const replacing = state.phase === 'attached';
      if (replacing) out.push(REPLACE);
      if (event.status === 'resumed') out.push({ type: 'resumed', awayMs: replacing ? 0 : Math.max(0, event.now - state.awaySince) });
      return { ...state, phase: 'attached', expiresAt: null, awaySince: replacing ? event.now : state.awaySince };
    }
    case 'detach':
      if (state.phase !== 'attached') return state;
      if (event.code === NORMAL_CLOSE) {
        out.push(ENDED_BY_CLIENT);
        return { ...state, phase: 'ended', awaySince: event.now };
      }
      return { ...state, phase: 'away', awaySince: event.now, expiresAt: event.now + (state.confirmed ? state.ttlMs : state.unconfirmedTtlMs) };
    case 'confirm':
      return state.confirmed || state.phase !== 'attached' ? state : { ...state, confirmed: true };
    case 'evict':
      if (!isEvictable(state)) return state;
      out.push({ type: 'expired', awayMs: Math.max(0, event.now - state.awaySince) });
      return { ...state, phase: 'ended', expiresAt: null };
    case 'timeout':
      if (state.phase !== 'away' || state.expiresAt === null || event.now < state.expiresAt) return state;
      out.push({ type: 'expired', awayMs: Math.max(0, event.now - state.awaySince) });
      return { ...state, phase: 'ended', expiresAt: null };
    case 'end':
      out.push(ENDED_BY_SERVER);
      return { ...state, phase: 'ended', expiresAt: null };
  }
}

/**
 * The session's own deadline (its expiry while `away`), or `null`. While attached the hub's timer is the delivery
 * machine's (`deliveryDeadline`).
 */
export function serverSessionDeadline(state: ServerSessionState): number | null {
  return state.phase === 'away' ? state.expiresAt : null;
}

/**
 * A session as far as admission needs it: whether the newcomer proved its secret, what was written to it, and what
 * its client acknowledged.
 */
export interface AdmissionCandidate {
  /** Whether the connection proved the session's secret (its proof's digest equals the session's, compared in constant time). */
  readonly proven: boolean;
  /** The highest message number a connection took (written without the socket failing): a client cannot have delivered more. */
  readonly written: number;
  /** What the client acknowledged (the delivery machine's `ackedThrough`). */
  readonly ackedThrough: number;
}

/**
 * Whether a client that proved the session's secret and says it delivered `delivered` of the server's messages can
 * resume it: at least what it acknowledged, and no more than was ever written to it.
 */
export function canResumeSession(session: AdmissionCandidate, delivered: number): boolean {
  return session.proven && delivered >= session.ackedThrough && delivered <= session.written;
}

/** What a hub knows when a connection asks to join a session. */
export interface AdmissionRequest {
  /** Whether the client named a session to resume (else it asks for a new one). */
  readonly named: boolean;
  /** How many of the server's messages the client says it delivered. */
  readonly delivered: number;
  /** The session of that name held here, or `null`. */
  readonly held: AdmissionCandidate | null;
  /**
   * The session of that name another process held, as the hub's store gave it back: `null` when there is none (or
   * none was looked up, or a session is held here), `'invalid'` when what was stored cannot be a session.
   */
  readonly stored: AdmissionCandidate | 'invalid' | null;
  /** Sessions held now, and the most the hub may hold (`maxSessions`). */
  readonly sessions: number;
  readonly maxSessions: number;
  /** Whether the hub holds a session it may evict to make room ({@link isEvictable}). */
  readonly evictable: boolean;
}

/**
 * Where a connection goes:
 *
 * - `resume`: to the session held here;
 * - `restore`: to the stored session, taken up here;
 * - `new` `{forgotten, unknown}`: to a new session; `forgotten` when the client named one that cannot be resumed
 *   (`unknown` says why: `unknown` (not held, not stored), `impossible_delivered` (a count the session cannot have),
 *   `unrestorable` (stored, but not as a session the client can be: the stored copy is to be removed));
 *   `evict` (here and on `restore`) when the hub is full and makes room by evicting its oldest evictable session;
 * - `refuse` `{reason}`: `proof` (the connection named a session held here or stored, and did not prove its secret:
 *   closed with 4403, and nothing about the session changes, B17), or `full` (a new session is needed and the hub
 *   holds `maxSessions`, none evictable: closed with 1013, try again later).
 */
export type Admission =
  | { readonly kind: 'resume' }
  | { readonly kind: 'restore'; readonly evict: boolean }
  | { readonly kind: 'new'; readonly forgotten: boolean; readonly unknown: 'unknown' | 'impossible_delivered' | 'unrestorable' | null; readonly evict: boolean }
  | { readonly kind: 'refuse'; readonly reason: 'proof' | 'full'; readonly unknown: 'unknown' | 'impossible_delivered' | null };

const REFUSE_PROOF: Admission = /* @__PURE__ */ Object.freeze({ kind: 'refuse', reason: 'proof', unknown: null });

/**
 * Decides where a connection goes (see {@link Admission}). Called once the connection has proved (or failed to
 * prove) the secret of the session it named; the hub then asks the application (its admission hook) and decides
 * again before it changes anything, since the session may have moved while the application answered.
 */
export function admitConnection(request: AdmissionRequest): Admission {
  const { named, delivered, held, stored } = request;
  const full = request.sessions >= request.maxSessions;
  const fresh = (forgotten: boolean, unknown: 'unknown' | 'impossible_delivered' | 'unrestorable' | null): Admission =>
    full && !request.evictable ? { kind: 'refuse', reason: 'full', unknown: unknown === 'unrestorable' ? null : unknown } : { kind: 'new', forgotten, unknown, evict: full };
  if (!named) return fresh(false, null);
  if (held !== null) {
    // B17: a session held here changes hands only for its secret; a wrong proof changes nothing.
    if (!held.proven) return REFUSE_PROOF;
    return canResumeSession(held, delivered) ? { kind: 'resume' } : fresh(true, 'impossible_delivered');
  }
  if (stored !== null) {
    if (stored === 'invalid') return fresh(true, 'unrestorable');
    if (!stored.proven) return REFUSE_PROOF;
    if (!canResumeSession(stored, delivered)) return fresh(true, 'unrestorable');
    return full && !request.evictable ? { kind: 'refuse', reason: 'full', unknown: null } : { kind: 'restore', evict: full };
  }
  return fresh(true, 'unknown');
}
