import type { HelloStatus } from './wire.js';

/**
 * The server end of a resumable session (spec B14, wire format v1): which
 * session a new connection joins ({@link admitConnection}), whether a client
 * can be the one it says it is ({@link canResumeSession}), and how long a
 * session outlives its connections (the lifetime machine,
 * {@link serverSessionStep}). The delivery machine (`delivery.ts`) numbers,
 * keeps and acknowledges the messages; this decides everything around it.
 * Pure: time arrives in events; it executes nothing (like XState's
 * `transition`), and a hub carries out its commands.
 *
 * Phases, exactly one at a time:
 *
 * | phase | connection | armed | leaves on |
 * | --- | --- | --- | --- |
 * | `away` | none | expiry at `expiresAt` (none before the first attach) | `attach` → `attached`; expiry due → `ended` (`expire`); `end` → `ended` |
 * | `attached` | one | nothing (the delivery machine's acknowledgement timer) | `detach` with 1000 → `ended` (by the client); any other code → `away`, expiring `ttlMs` later; `attach` (a newer connection) → `attached`, the older one `replace`d; `end` → `ended` |
 * | `ended` | none | nothing | never |
 */

/** Where a server-side session is. See the table in this module's documentation. */
export type ServerSessionPhase = 'away' | 'attached' | 'ended';

/** The lifetime of one server-side session: plain data, never mutated (each step returns a new object when it changed). */
export interface ServerSessionState {
  readonly phase: ServerSessionPhase;
  /** How long the session is kept after its connection is lost (`sessionTtlMs`). */
  readonly ttlMs: number;
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
 * - `timeout`: time passed to `now` (the hub's timer at {@link serverSessionDeadline});
 * - `end`: the server ends it (the application's `close`, or the hub closing).
 */
export type ServerSessionEvent =
  | { readonly type: 'attach'; readonly now: number; readonly status: HelloStatus }
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

/** A session made at `now` and not yet joined by a connection (`away`, nothing armed). */
export function createServerSessionState(ttlMs: number, now: number): ServerSessionState {
  return { phase: 'away', ttlMs, expiresAt: null, awaySince: now };
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
      return { ...state, phase: 'away', awaySince: event.now, expiresAt: event.now + state.ttlMs };
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

/** A session as far as admission needs it: what was written to it, and what its client acknowledged. */
export interface AdmissionCandidate {
  /** The highest message number a connection took (written without the socket failing): a client cannot have delivered more. */
  readonly written: number;
  /** What the client acknowledged (the delivery machine's `ackedThrough`). */
  readonly ackedThrough: number;
}

/**
 * Whether a client that says it delivered `delivered` of the server's messages can be this session's: at least what
 * it acknowledged, and no more than was ever written to it.
 */
export function canResumeSession(session: AdmissionCandidate, delivered: number): boolean {
  return delivered >= session.ackedThrough && delivered <= session.written;
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
}

/**
 * Where a connection goes:
 *
 * - `resume`: to the session held here;
 * - `restore`: to the stored session, taken up here;
 * - `new` `{forgotten, unknown}`: to a new session; `forgotten` when the client named one that cannot be resumed
 *   (`unknown` says why: `unknown` (not held, not stored), `impossible_delivered` (a count the session cannot have),
 *   `unrestorable` (stored, but not as a session the client can be: the stored copy is to be removed));
 * - `refuse`: a new session is needed and the hub holds `maxSessions`: closed with 1013 (try again later).
 */
export type Admission =
  | { readonly kind: 'resume' }
  | { readonly kind: 'restore' }
  | { readonly kind: 'new'; readonly forgotten: boolean; readonly unknown: 'unknown' | 'impossible_delivered' | 'unrestorable' | null }
  | { readonly kind: 'refuse'; readonly unknown: 'unknown' | 'impossible_delivered' | null };

/** Decides where a connection goes (see {@link Admission}). */
export function admitConnection(request: AdmissionRequest): Admission {
  const { named, delivered, held, stored } = request;
  const full = request.sessions >= request.maxSessions;
  if (!named) return full ? { kind: 'refuse', unknown: null } : { kind: 'new', forgotten: false, unknown: null };
  if (held !== null) {
    if (canResumeSession(held, delivered)) return { kind: 'resume' };
    return full ? { kind: 'refuse', unknown: 'impossible_delivered' } : { kind: 'new', forgotten: true, unknown: 'impossible_delivered' };
  }
  if (stored !== null && !full) {
    if (stored !== 'invalid' && canResumeSession(stored, delivered)) return { kind: 'restore' };
    return { kind: 'new', forgotten: true, unknown: 'unrestorable' };
  }
  return full ? { kind: 'refuse', unknown: 'unknown' } : { kind: 'new', forgotten: true, unknown: 'unknown' };
}
