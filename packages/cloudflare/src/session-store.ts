import { KeepaliveOptionError, checkDuration, type Diagnostic } from '@keepalive/core';
import type { SessionMessage, SessionStore, StoredSession } from '@keepalive/websocket-transport';
import type { DurableObjectKeyValueStorageLike } from './workerd-like.js';

/**
 * A {@link SessionStore} on a Durable Object's own transactional storage (`ctx.storage`), so that a resumable
 * session survives the object's eviction and a restart of it: the hub that holds the session writes its delivery
 * state here, and a new instance of the object (after an eviction, a deploy, a crash) takes it up when the client
 * comes back and proves its secret.
 *
 * What is stored, per session (keys under `prefix`, default `keepalive:`):
 * - `s:<id>`: `[version, deliveredThrough, ackedThrough, transmittedThrough, until]`, five numbers (about 60 bytes
 *   with its key);
 * - `p:<id>`: the SHA-256 digest of the session's secret (43 characters of base64url), never the secret (B17): what
 *   `proof` reads, on its own;
 * - `m:<id>:<seq>`: one key per message the client has not acknowledged (its payload: text, or bytes as a
 *   `Uint8Array`). A change writes only the messages numbered since the last write and deletes those acknowledged
 *   since: a write costs what changed, not what is held.
 *
 * Bounded: per session about 200 bytes plus the unacknowledged payloads (at most the hub's `maxUnackedMessages` and
 * `maxUnackedBytes`); at most the hub's `maxSessions` sessions held, and a session no socket holds is deleted
 * `ttlMs` after its last write by {@link DurableObjectSessionStore.sweep} (on the object's alarm). A message is one
 * value: workerd takes up to 128 KiB per value (2 MiB on SQLite-backed objects).
 *
 * Fencing: a Durable Object runs as one instance at a time, and its storage belongs to that instance (an instance
 * that was replaced can no longer write), so the object itself is the fence the Redis store's epochs make; `load`
 * takes nothing over beyond reading. Writes are not awaited by the hub: workerd coalesces the writes of one event
 * into one atomic batch, and holds the object's outgoing messages until they are written (its output gate).
 */

/** The layout version of a session's `s:` record; a record of another version is not a session (the client gets a new one). */
const RECORD_VERSION = 1;

/** workerd's limit of keys per `put` or `delete` call. */
const KEYS_PER_CALL = 128;

/** A digest as the hub writes it: SHA-256 as unpadded base64url. */
const DIGEST = /^[A-Za-z0-9_-]{43}$/;

/**
 * Options of {@link createDurableObjectSessionStore}.
 */
export interface DurableObjectSessionStoreOptions {
  /** Prefix of every key the store writes in the object's storage. Default `keepalive:`. */
  readonly prefix?: string | undefined;
  /**
   * How long a session's state is kept after its last write when no socket holds it (a client that never comes
   * back after an eviction or a restart). Make it longer than the hub's `sessionTtlMs`. Default 600 000 ms.
   */
  readonly ttlMs?: number | undefined;
  /** Called with the store's diagnostics (`session_store_failed` with `op` and `error` name; counts only). */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
  /** The clock (ms since the epoch). Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** Counters of a {@link DurableObjectSessionStore} since the instance started. */
export interface DurableObjectSessionStoreStats {
  /** Session records written (one per session per event that changed it). */
  readonly writes: number;
  /** Message values written and deleted. */
  readonly messagesWritten: number;
  readonly messagesDeleted: number;
  /** Sessions taken up by `load`. */
  readonly loaded: number;
  /** Digests read by `proof`. */
  readonly proofReads: number;
  /** Sessions removed (ended, expired, or swept). */
  readonly removed: number;
  /** Sessions deleted by a sweep (no socket held them for `ttlMs`). */
  readonly swept: number;
  /** Storage calls that failed (reported as `session_store_failed`). */
  readonly failures: number;
}

/** A session as the store knows it in this instance: what it wrote last, and its pending change. */
interface Known {
  /** The snapshot to write at the end of this turn, or `null` when nothing is pending. */
  read: (() => StoredSession) | null;
  /** The highest message number whose payload is stored (`ackedThrough` when none is). */
  storedThrough: number;
  /** The acknowledged count last written (messages at or below it are deleted). */
  ackedThrough: number;
}

type MutableStats = { -readonly [K in keyof DurableObjectSessionStoreStats]: DurableObjectSessionStoreStats[K] };

/**
 * A {@link SessionStore} on a Durable Object's storage; see {@link createDurableObjectSessionStore}.
 */
export class DurableObjectSessionStore implements SessionStore {
  /** The checked key prefix. */
  readonly prefix: string;
  /** The checked `ttlMs`. */
  readonly ttlMs: number;
  private readonly storage: DurableObjectKeyValueStorageLike;
  private readonly now: () => number;
  private readonly onDiagnostic: ((diagnostic: Diagnostic) => void) | undefined;
  private readonly known = new Map<string, Known>();
  private readonly dirty = new Set<string>();
  private flushQueued = false;
  /** Storage calls not settled yet (writes and reads): what `flush` waits for. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Reads not settled yet (a proof, a load, a listing): what `idle` waits for. */
  private readonly reads = new Set<Promise<unknown>>();
  private readonly counters: MutableStats = { writes: 0, messagesWritten: 0, messagesDeleted: 0, loaded: 0, proofReads: 0, removed: 0, swept: 0, failures: 0 };
  /** Called with each record's expiry as it is written: where the object's alarm must be, at the latest. */
  onExpiry: ((until: number) => void) | null = null;

  constructor(storage: DurableObjectKeyValueStorageLike, options: DurableObjectSessionStoreOptions = {}) {
    const { prefix = 'keepalive:', ttlMs = 600_000, onDiagnostic, now } = options;
    if (typeof prefix !== 'string') throw new KeepaliveOptionError('prefix', prefix, 'a string');
    if (now !== undefined && typeof now !== 'function') throw new KeepaliveOptionError('now', now, 'a function');
    if (onDiagnostic !== undefined && typeof onDiagnostic !== 'function') throw new KeepaliveOptionError('onDiagnostic', onDiagnostic, 'a function');
    this.prefix = prefix;
    this.ttlMs = checkDuration('ttlMs', ttlMs);
    this.storage = storage;
    this.now = now ?? Date.now;
    this.onDiagnostic = onDiagnostic;
  }

  async proof(id: string): Promise<string | null> {
    this.counters.proofReads++;
    const digest = await this.read(this.storage.get(this.key('p', id)));
    return typeof digest === 'string' && DIGEST.test(digest) ? digest : null;
  }

  async load(id: string): Promise<StoredSession | null> {
    // What this instance has not written yet is the newest state: write it first (the reads below see it).
    this.writeNow();
    const got = await this.read(this.storage.get([this.key('s', id), this.key('p', id)]));
    const record = got.get(this.key('s', id));
    const proof = got.get(this.key('p', id));
    if (!isRecord(record) || typeof proof !== 'string' || !DIGEST.test(proof)) return null;
    const [, deliveredThrough, ackedThrough, transmittedThrough] = record;
    const messages = await this.read(this.storage.list({ prefix: `${this.key('m', id)}:` }));
    const unacked: SessionMessage[] = [];
    let next = ackedThrough + 1;
    for (const [key, value] of messages) {
      const seq = Number(key.slice(key.lastIndexOf(':') + 1));
      // Left over from a write cut short: acknowledged already.
      if (seq <= ackedThrough) continue;
      // A gap: what was stored cannot be this session's (the client gets a new one; the hub reports it).
      if (seq !== next || (typeof value !== 'string' && !(value instanceof Uint8Array))) return null;
      unacked.push(value);
      next++;
    }
    this.counters.loaded++;
    this.known.set(id, { read: null, storedThrough: ackedThrough + unacked.length, ackedThrough });
    return { deliveredThrough, ackedThrough, transmittedThrough, unacked, proof };
  }

  save(id: string, read: () => StoredSession): void {
    const known = this.known.get(id);
    if (known === undefined) this.known.set(id, { read, storedThrough: 0, ackedThrough: 0 });
    else known.read = read;
    this.dirty.add(id);
    if (this.flushQueued) return;
    this.flushQueued = true;
    // Every change of this event goes out in one batch at the end of its turn (workerd coalesces them atomically).
    queueMicrotask(() => {
      this.writeNow();
    });
  }

  remove(id: string): void {
    const known = this.known.get(id);
    this.known.delete(id);
    this.dirty.delete(id);
    this.counters.removed++;
    this.deleteKeys([this.key('s', id), this.key('p', id)]);
    if (known !== undefined) {
      const keys: string[] = [];
      for (let seq = known.ackedThrough + 1; seq <= known.storedThrough; seq++) keys.push(this.messageKey(id, seq));
      this.deleteKeys(keys);
      this.counters.messagesDeleted += keys.length;
      return;
    }
    // Not written by this instance (taken up by another one before an eviction): its messages are listed first.
    const listed = this.track(this.storage.list({ prefix: `${this.key('m', id)}:` })).then((messages) => {
      const keys = [...messages.keys()];
      this.counters.messagesDeleted += keys.length;
      this.deleteKeys(keys);
    });
    listed.catch(() => undefined);
  }

  /** Writes what is pending now; resolves once every storage call made so far settled (rejects if one failed). */
  async flush(): Promise<void> {
    this.writeNow();
    const pending = [...this.inFlight];
    const results = await Promise.allSettled(pending);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }

  /**
   * The sweep, from the object's alarm: deletes every session whose record expired (`ttlMs` after its last write)
   * and that no open socket holds (`held`: the session ids in the open sockets' attachments); a held one gets its
   * expiry moved on instead. Resolves with the earliest expiry left (where the alarm must be), or `null`.
   */
  async sweep(held: ReadonlySet<string>): Promise<number | null> {
    this.writeNow();
    const now = this.now();
    const prefix = `${this.prefix}s:`;
    const records = await this.track(this.storage.list({ prefix }));
    let earliest: number | null = null;
    const extended: Record<string, unknown> = {};
    let extendedCount = 0;
    for (const [key, record] of records) {
      const id = key.slice(prefix.length);
      const until = isRecord(record) ? record[4] : 0;
      let next: number | null = until;
      if (until <= now) {
        if (held.has(id) && isRecord(record)) {
          next = now + this.ttlMs;
          extended[key] = [record[0], record[1], record[2], record[3], next];
          extendedCount++;
        } else {
          this.counters.swept++;
          this.remove(id);
          next = null;
        }
      }
      if (next !== null && (earliest === null || next < earliest)) earliest = next;
    }
    if (extendedCount > 0) this.putEntries(extended);
    return earliest;
  }

  /**
   * Resolves once the reads made so far settled, and those they led to (a proof, then a load): what a handler awaits
   * so that the hub's answer (a hello, a refusal) goes out in the event that asked. Writes are not waited for: workerd
   * holds the object's outgoing messages until they are written.
   */
  async idle(): Promise<void> {
    for (let round = 0; round < 4 && this.reads.size > 0; round++) {
      await Promise.allSettled([...this.reads]);
      // The hub's continuation runs, and may start the next read.
      await Promise.resolve();
      await Promise.resolve();
    }
  }

  /** Counters since this instance started. */
  stats(): DurableObjectSessionStoreStats {
    return { ...this.counters };
  }

  /** Writes every pending session now, in one batch (not awaited: workerd holds outgoing messages until it is written). */
  private writeNow(): void {
    this.flushQueued = false;
    if (this.dirty.size === 0) return;
    const until = this.now() + this.ttlMs;
    const entries: Record<string, unknown> = {};
    const deletions: string[] = [];
    for (const id of this.dirty) {
      const known = this.known.get(id);
      const read = known?.read ?? null;
      if (known === undefined || read === null) continue;
      known.read = null;
      let stored: StoredSession;
      try {
        stored = read();
      } catch (error) {
        this.failed('save', error);
        continue;
      }
      const { deliveredThrough, ackedThrough, transmittedThrough, unacked, proof } = stored;
      entries[this.key('s', id)] = [RECORD_VERSION, deliveredThrough, ackedThrough, transmittedThrough, until];
      // The digest never changes: written with the session's first record only.
      if (known.storedThrough === 0 && known.ackedThrough === 0) entries[this.key('p', id)] = proof;
      // Messages numbered since the last write (each payload is immutable once numbered).
      const last = ackedThrough + unacked.length;
      for (let seq = Math.max(known.storedThrough, ackedThrough) + 1; seq <= last; seq++) {
        entries[this.messageKey(id, seq)] = unacked[seq - ackedThrough - 1];
        this.counters.messagesWritten++;
      }
      // Messages acknowledged since the last write.
      for (let seq = known.ackedThrough + 1; seq <= Math.min(ackedThrough, known.storedThrough); seq++) {
        deletions.push(this.messageKey(id, seq));
        this.counters.messagesDeleted++;
      }
      known.storedThrough = last;
      known.ackedThrough = ackedThrough;
      this.counters.writes++;
    }
    this.dirty.clear();
    this.putEntries(entries);
    this.deleteKeys(deletions);
    this.onExpiry?.(until);
  }

  private putEntries(entries: Record<string, unknown>): void {
    const keys = Object.keys(entries);
    for (let i = 0; i < keys.length; i += KEYS_PER_CALL) {
      const chunk: Record<string, unknown> = {};
      for (const key of keys.slice(i, i + KEYS_PER_CALL)) chunk[key] = entries[key];
      this.track(this.storage.put(chunk)).catch((error: unknown) => {
        this.failed('save', error);
      });
    }
  }

  private deleteKeys(keys: readonly string[]): void {
    for (let i = 0; i < keys.length; i += KEYS_PER_CALL) {
      this.track(this.storage.delete(keys.slice(i, i + KEYS_PER_CALL))).catch((error: unknown) => {
        this.failed('remove', error);
      });
    }
  }

  /** A read: tracked as a call in flight and as a read until it settles; returns it. */
  private read<T>(promise: Promise<T>): Promise<T> {
    this.reads.add(promise);
    const settled = (): void => {
      this.reads.delete(promise);
    };
    promise.then(settled, settled);
    return this.track(promise);
  }

  /** Keeps `promise` among the calls in flight until it settles; returns it. */
  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const settled = (): void => {
      this.inFlight.delete(promise);
    };
    promise.then(settled, settled);
    return promise;
  }

  private failed(op: string, error: unknown): void {
    this.counters.failures++;
    this.onDiagnostic?.({ type: 'diagnostic', level: 'warn', name: 'session_store_failed', fields: { op, error: error instanceof Error ? error.name : typeof error } });
  }

  private key(kind: 's' | 'p' | 'm', id: string): string {
    return `${this.prefix}${kind}:${id}`;
  }

  /** A message's key: its number zero-padded, so that a prefix listing returns them in order. */
  private messageKey(id: string, seq: number): string {
    return `${this.key('m', id)}:${String(seq).padStart(16, '0')}`;
  }
}

/** A session's `s:` record: `[version, deliveredThrough, ackedThrough, transmittedThrough, until]`. */
type SessionRecord = [version: number, deliveredThrough: number, ackedThrough: number, transmittedThrough: number, until: number];

function isRecord(value: unknown): value is SessionRecord {
  return Array.isArray(value) && value.length === 5 && value[0] === RECORD_VERSION && value.every((item) => typeof item === 'number' && Number.isSafeInteger(item) && item >= 0);
}

/**
 * Creates a {@link DurableObjectSessionStore} on a Durable Object's storage (`ctx.storage`), for a session hub's
 * `store` option. `createHibernatingKeepalive(ctx, { resume })` makes one itself; this is for a hub of your own. A bad
 * option throws `KeepaliveOptionError` naming it.
 */
export function createDurableObjectSessionStore(storage: DurableObjectKeyValueStorageLike, options: DurableObjectSessionStoreOptions = {}): DurableObjectSessionStore {
  return new DurableObjectSessionStore(storage, options);
}
