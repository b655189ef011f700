import { constantTimeEqual, utf8Length, type Proof } from '@keepalive/core';
import { RESUME_CLOSE_CODES, RESUME_CLOSE_REASONS, SESSION_HUB_DIAGNOSTICS, isApplicationCloseCode } from './resume-codes.js';
import type { Connection } from './resume-connection.js';
import type { AdmitHook } from './resume-options.js';
import { secretDigest } from './resume-secret.js';
import type { HubHost, Session } from './resume-session.js';
import type { RefusedEvent, ResumableSession } from './resume-types.js';

/**
 * Who may join a session (B17), between a connection's upgrade and its hello: the proof of the session it names
 * (checked against the session held here, or its store's digest, with wrong proofs counted per session and reported
 * at a bounded rate), then the application's `admit` hook. Nothing about any session changes before both said yes;
 * then the hub joins the connection to its session (the session table is the hub's).
 */

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

/** Wrong proofs of one session reported one by one; past this, only every power of two is (the count goes on). */
const REPORTED_PROOF_FAILURES = 10;

/** Digests of stored sessions read lately (B17), kept so that wrong proofs for them cost no store read: at most this many. */
const STORED_PROOFS = 1_024;

/** A session this hub does not hold, as its store's digest was read: the digest, and the wrong proofs it has seen. */
interface StoredProof {
  readonly digest: string;
  failedProofs: number;
}

/** The close code and reason of an admission hook's refusal; a verdict that is not one is reported and refuses with 4403. */
export function refusalOf(verdict: unknown, invalid: (error: Error) => void): { readonly code: number; readonly reason: string } {
  if (typeof verdict === 'object' && verdict !== null) {
    const { code, reason = '' } = verdict as { code?: unknown; reason?: unknown };
    if (isApplicationCloseCode(code) && typeof reason === 'string' && utf8Length(reason) <= 123) return { code, reason };
  }
  if (verdict !== false) invalid(new TypeError('admit(): expected true, false or { code: 1000 or 3000-4999, reason: at most 123 bytes }'));
  return { code: RESUME_CLOSE_CODES.refused, reason: RESUME_CLOSE_REASONS.refused };
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
 * Asks the hub's store (`op`: `proof` or `load`): its answer, or `null` when it threw or rejected (reported as
 * `store_failed`, never thrown).
 */
export function askStore<T>(host: HubHost, op: string, call: () => Promise<T>): Promise<T | null> {
  let answer: Promise<T>;
  try {
    answer = call();
  } catch (error) {
    answer = Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
  return answer.then(
    (value) => value,
    (error: unknown) => {
      host.storeFailed(op, error);
      return null;
    },
  );
}

/** What admission needs from its hub: the session table and the handshake's outcomes (kept off the hub's public surface). */
export interface AdmissionHub {
  /** The session held here under `id`, if any. */
  held(id: string): Session | undefined;
  /** Whether a connection is still in its handshake (its socket open, the hub open). */
  waiting(handle: Connection): boolean;
  /** Ends a connection's handshake with a refusal (reported unless `report` is false). */
  refuse(handle: Connection, reason: RefusedEvent['reason'], code: number, text: string, report: boolean): void;
  /** Joins an admitted connection to the session held here, or to a new one (`digest`: its proof's, `null` without one). */
  join(handle: Connection, delivered: number, digest: string | null): void;
  /** Takes the stored session the connection proved over, then joins the connection to it. */
  restore(handle: Connection, delivered: number, digest: string): void;
}

/**
 * The admission of one hub's connections: the proofs (with the digests of stored sessions read lately, bounded) and
 * the `admit` hook.
 */
export class Admission<C> {
  /**
   * Digests of stored sessions (another process holds them) read lately, oldest first. A session's digest never
   * changes, so a wrong proof for one of them is refused without reading the store again, and counted per session.
   */
  private readonly storedProofs = new Map<string, StoredProof>();

  constructor(
    private readonly host: HubHost,
    private readonly hub: AdmissionHub,
    private readonly admit: AdmitHook<C> | null,
  ) {}

  /** Forgets what was read of a stored session (it is held here now, or removed). */
  forget(id: string): void {
    this.storedProofs.delete(id);
  }

  /**
   * The proof of the session the connection named (B17): checked against the digest of the session held here, or
   * stored (read without taking it over); a wrong one is refused and changes nothing. Then the application is asked,
   * then the session changes hands.
   */
  proved(handle: Connection, proof: Proof): void {
    const id = handle.named as string;
    const digest = secretDigest(proof.secret);
    const held = this.hub.held(id);
    const store = this.host.store;
    if (held !== undefined || store === null) {
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
    void askStore(this.host, 'proof', () => store.proof(id)).then((answer) => {
      const stored = typeof answer === 'string' ? answer : null;
      if (!this.hub.waiting(handle)) return;
      // Held here meanwhile (another connection restored it): the held copy decides.
      const now = this.hub.held(id);
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
        this.hub.join(handle, delivered, digest);
        return;
      }
      this.hub.restore(handle, delivered, digest);
    });
  }

  /** A wrong proof (B17): counted per session, reported (no secret, no id), refused with 4403; nothing changes. */
  wrongProof(handle: Connection, counted: { failedProofs: number } | null): void {
    this.host.count('wrongProofs');
    const failures = counted === null ? 1 : ++counted.failedProofs;
    // A flood of wrong proofs for one session is reported one by one up to a bound, then at powers of two.
    if (failures <= REPORTED_PROOF_FAILURES || (failures & (failures - 1)) === 0) {
      this.host.report('warn', SESSION_HUB_DIAGNOSTICS.resumeRefused, { reason: 'proof', failures });
    }
    this.hub.refuse(handle, 'proof', RESUME_CLOSE_CODES.refused, RESUME_CLOSE_REASONS.refused, false);
  }

  /** Asks the `admit` hook (if any) about the connection, then runs `then`; a refusal closes it, changing nothing. */
  admitThen(handle: Connection, kind: AdmissionQuery['kind'], session: Session | null, then: () => void): void {
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
        if (!this.hub.waiting(handle)) return;
        if (answer === true) {
          then();
          return;
        }
        const refusal = refusalOf(answer, (error) => this.host.listenerFailed('admit', error));
        this.refused(handle, refusal.code, refusal.reason);
      },
      (error: unknown) => {
        this.host.listenerFailed('admit', error);
        if (!this.hub.waiting(handle)) return;
        this.refused(handle, RESUME_CLOSE_CODES.refused, RESUME_CLOSE_REASONS.refused);
      },
    );
  }

  /** The hook refused the connection: counted, reported with its code, closed. */
  private refused(handle: Connection, code: number, reason: string): void {
    this.host.count('refusedAdmissions');
    this.host.report('warn', SESSION_HUB_DIAGNOSTICS.resumeRefused, { reason: 'admission', code });
    this.hub.refuse(handle, 'admission', code, reason, false);
  }
}
