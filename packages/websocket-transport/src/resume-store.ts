import type { SessionMessage } from './resume-types.js';

/**
 * Where a {@link SessionHub} keeps its sessions' delivery state beyond its own memory, so that a client that
 * reconnects to another process (behind a load balancer, after the first one died) resumes there. The hub holds
 * every session in memory as before and tells the store about each change; the store persists (coalesced, in the
 * background: the hub never waits for it) and, when a client presents a session the hub does not hold, loads it.
 * `@keepalive/redis` has one on Redis (`createRedisSessionStore`).
 *
 * What a store must do for the guarantee in docs/resume-protocol.md (section "Resuming on another process"):
 * `proof` reads without taking over, `load` takes the session over (later `save`s and `remove`s of any previous
 * holder are refused), and what it returns is the last complete `save`, never a mix of two. A store keeps only
 * the digest of a session's secret (B17): a read of the store resumes nothing.
 */
export interface SessionStore {
  /**
   * The digest of the secret of session `id` (its `StoredSession.proof`), or `null` when the store has none. Reads
   * only: the session is **not** taken over, so that a connection with a wrong proof changes nothing (B17). The hub
   * compares it with the digest of the client's proof in constant time before it calls `load`. Never rejects for a
   * missing session; a rejection counts as `null`, reported.
   */
  proof(id: string): Promise<string | null>;
  /**
   * Takes over the session `id` that a client presented and this hub does not hold; resolves with its state, or
   * `null` when the store has none (never saved, ended, expired, or unreadable: the client gets a new session).
   * Never rejects for a missing session; a rejection counts as `null`, reported.
   */
  load(id: string): Promise<StoredSession | null>;
  /** The session changed: persist what `read()` returns when the store writes (it may coalesce many changes). */
  save(id: string, read: () => StoredSession): void;
  /** The session ended (closed or expired here): forget it. */
  remove(id: string): void;
  /**
   * Optional: writes everything handed to the store so far (`save`s and `remove`s); resolves once it is written,
   * rejects when it could not be within the store's own bound. A hub that closes awaits it before it closes its
   * sockets, so that a client resuming on the next process finds its session's last state (hand-over). Without it,
   * a hub's `closed` resolves at once and the store's background writes race the clients' reconnects.
   */
  flush?(): Promise<void>;
}

/**
 * A session's delivery state as a store keeps it: the counters of the delivery (see `DeliveryCounters` of
 * `@keepalive/core`) and the payloads of the server's messages the client has not acknowledged (numbers
 * `ackedThrough + 1 ..`, oldest first).
 */
export interface StoredSession {
  /** The client's messages delivered to the application here, in order. */
  readonly deliveredThrough: number;
  /** The server's messages the client acknowledged. */
  readonly ackedThrough: number;
  /** The highest number of the server's messages ever written to a connection. */
  readonly transmittedThrough: number;
  /** The server's messages not acknowledged yet, oldest first. */
  readonly unacked: readonly SessionMessage[];
  /**
   * The SHA-256 digest of the session's secret, base64url (43 characters): what a client's proof is checked against.
   * Never the secret itself.
   */
  readonly proof: string;
}
