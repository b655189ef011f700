import type { Diagnostic, DiagnosticFields, DiagnosticLevel } from '@keepalive/core';
import { KeepaliveOptionError, checkDuration, checkKnownKeys, checkNumber, optionOr } from '@keepalive/core';
import { createDiagnosticSink, nextInstanceId } from '@keepalive/node-timers';
import type { SessionStore, StoredSession } from '@keepalive/websocket-transport';
import { LuaScript, RedisLink, errorClass } from './connection.js';
import { RETRY_FLOOR_MS, SHARED_KEYS, defineRedisConfig, type RedisConfig, type RedisOptions } from './options.js';
import { nextRetry, type RetryPolicy } from './retry.js';
import { decodeStoredSession, encodeStoredSession, isSecretDigest } from './resume-codec.js';

/**
 * Options of {@link createRedisSessionStore}.
 */
export interface RedisSessionStoreOptions extends RedisOptions {
  /**
   * How long Redis keeps a session's state after its last write; every held session is written again each third
   * of it. Make it longer than the hub's `sessionTtlMs`. Default 600 000 ms.
   */
  readonly ttlMs?: number | undefined;
  /** Changes within this window go in one batch. Default 5 ms. */
  readonly coalesceMs?: number | undefined;
  /**
   * The longest wait between two attempts while Redis refuses the writes (out of memory, a read-only replica) or does
   * not answer: after a failed batch the store waits at least 100 ms ({@link RETRY_FLOOR_MS}), doubling with jitter up
   * to this (`flush()` and `close()` try at once whatever the wait). In [100, 3 600 000]. Default 10 000 ms.
   */
  readonly retryMaxMs?: number | undefined;
}

/** The validated store options. */
export interface RedisSessionStoreConfig extends RedisConfig {
  readonly ttlMs: number;
  readonly coalesceMs: number;
  readonly retryMaxMs: number;
}

/**
 * Counters of a {@link RedisSessionStore}.
 */
export interface RedisSessionStoreStats {
  /** Sessions this process holds (saved or taken over, not removed). */
  readonly held: number;
  /** Sessions whose latest state waits to be written (at most `held`: one entry each, whatever the outage). */
  readonly pending: number;
  /** Snapshots written. */
  readonly writes: number;
  /** Writes refused because another process took the session over. */
  readonly conflicts: number;
  /** Sessions taken over from the store. */
  readonly loaded: number;
  /** Digests read by `proof` (answered by Redis, found or not; none of them takes a session over). */
  readonly proofReads: number;
  /** Consecutive failed batches now: 0 while writes succeed (a gauge for a metric or an alert). */
  readonly failures: number;
  /** Failed batches since the store was created. */
  readonly failedBatches: number;
}

/**
 * Diagnostics of a {@link RedisSessionStore}:
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `redis_ready` / `redis_lost` | info / warn | none / `error` |
 * | `session_store_failed` | warn | once when writes start failing (not per attempt): `op` (`save`), `error` (its class: `OOM`, `READONLY`, `RedisTimeoutError`…), `sessions` (kept, written at the next attempt), `retryMs` (the wait before it); also `op` `read` (a session's snapshot could not be read, `sessions` 1) and `op` `remove` with `error` `backlog_full` (a removal given up during a long outage) |
 * | `session_store_recovered` | info | once when a batch succeeds again: `failures` (failed batches meanwhile), `failedMs` (how long writes failed), `error` (the last failure's class) |
 * | `session_taken_over` | warn | `sessions` (another process took them over: this one no longer writes them) |
 * | `session_ignored` | warn | `problem` (a stored value that is not a session of this version: `unknown_version` (also a session written by a version before secrets, which has no digest), `bad_proof` (a digest that is not 43 characters of base64url), `not_json`, `not_an_object`, `bad_field`, `bad_reply`); the client gets a new session |
 */
export const SESSION_STORE_DIAGNOSTICS = Object.freeze({
  ready: 'redis_ready',
  lost: 'redis_lost',
  failed: 'session_store_failed',
  recovered: 'session_store_recovered',
  takenOver: 'session_taken_over',
  ignored: 'session_ignored',
} as const);

/**
 * A {@link SessionStore} on Redis, for `createSessionHub({ store })` / `keepAlive(wss, { resume: { store } })`.
 */
export interface RedisSessionStore extends SessionStore {
  readonly config: RedisSessionStoreConfig;
  /**
   * Writes everything handed to the store so far (at once, even while a failing store waits to retry; again after
   * a failed attempt), and resolves once nothing is pending; rejects when something still is after
   * `commandTimeoutMs` (Redis down or refusing). What a hub awaits when it closes and hands its sessions over.
   */
  flush(): Promise<void>;
  stats(): RedisSessionStoreStats;
  /** Writes what is pending (bounded by `commandTimeoutMs`), then closes the connection. The sessions stay in Redis. */
  close(): Promise<void>;
}

/**
 * Writes a session's state only while this process holds it: the write carries the holder's epoch, and a newer
 * epoch (another process took the session over) refuses it. One hash per session: `e` (epoch), `s` (state, with
 * the digest in it), `p` (the digest of the session's secret, on its own so that `proof` reads 43 bytes, not the
 * state), written together, so a reader gets a whole state or none. The secret itself is never stored (B17).
 */
const SAVE_SCRIPT = /* @__PURE__ */ new LuaScript(`
local e = redis.call('HGET', KEYS[1], 'e')
if e and e ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'e', ARGV[1], 's', ARGV[2], 'p', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`);

/** Takes a session over: a new epoch (later writes of the previous holder are refused) and the state, atomically. */
const CLAIM_SCRIPT = /* @__PURE__ */ new LuaScript(`
local s = redis.call('HGET', KEYS[1], 's')
if not s then return false end
local e = redis.call('HINCRBY', KEYS[1], 'e', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return { tostring(e), s }`);

/** Removes a session's state, if this holder still holds it. */
const REMOVE_SCRIPT = /* @__PURE__ */ new LuaScript(`
if redis.call('HGET', KEYS[1], 'e') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

/** Removals kept while Redis is unreachable, at most. */
const MAX_REMOVALS = 100_000;

const STORE_KEYS: readonly string[] = Object.freeze([...SHARED_KEYS, 'ttlMs', 'coalesceMs', 'retryMaxMs']);

interface Held {
  epoch: string;
  read: (() => StoredSession) | null;
  /** Monotonic time of the last write. */
  writtenAt: number;
}

class Store implements RedisSessionStore {
  readonly config: RedisSessionStoreConfig;
  private readonly link: RedisLink;
  private readonly emit: (diagnostic: Diagnostic) => void;
  private readonly held = new Map<string, Held>();
  private readonly dirty = new Set<string>();
  private readonly removals = new Map<string, string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly renewer: ReturnType<typeof setInterval>;
  private inflight: Promise<void> | null = null;
  private closed = false;
  private readonly counters = { writes: 0, conflicts: 0, loaded: 0, proofReads: 0, failedBatches: 0 };
  private readonly key: (id: string) => string;
  private readonly policy: RetryPolicy;
  /** Consecutive failed batches, and when the next attempt may go (monotonic ms; `-Infinity`: now). */
  private failures = 0;
  private retryAt = -Infinity;
  private failingSince = 0;
  private failedAtStart = 0;
  private lastError: string | null = null;
  /** `proof` and `load` calls waiting for the first connection (bounded by `commandTimeoutMs`). */
  private readonly waiting = new Set<() => void>();

  constructor(options: RedisSessionStoreOptions) {
    const shared = defineRedisConfig(options, STORE_KEYS, 'session store');
    this.config = Object.freeze({
      ...shared,
      ttlMs: checkDuration('ttlMs', optionOr(options, 'ttlMs', 600_000)),
      coalesceMs: checkDuration('coalesceMs', optionOr(options, 'coalesceMs', 5)),
      retryMaxMs: checkNumber('retryMaxMs', optionOr(options, 'retryMaxMs', 10_000), RETRY_FLOOR_MS, 3_600_000),
    });
    this.policy = { floorMs: RETRY_FLOOR_MS, maxMs: this.config.retryMaxMs };
    const prefix = `${this.config.prefix}:resume:`;
    this.key = (id) => prefix + id;
    this.emit = createDiagnosticSink({ session: nextInstanceId(), logger: options.logger, onDiagnostic: options.onDiagnostic });
    this.link = new RedisLink({
      url: this.config.url,
      client: options.client ?? null,
      commandTimeoutMs: this.config.commandTimeoutMs,
      reconnectMaxMs: this.config.reconnectMaxMs,
      onEvent: (event) => {
        if (event.type === 'ready') {
          this.report('info', SESSION_STORE_DIAGNOSTICS.ready, {});
          for (const resume of [...this.waiting]) resume();
          this.arm();
        } else {
          this.report('warn', SESSION_STORE_DIAGNOSTICS.lost, { error: event.error });
        }
      },
    });
    // Held sessions are written again each third of ttlMs, so Redis keeps them while this process holds them.
    this.renewer = setInterval(() => {
      const due = performance.now() - this.config.ttlMs / 3;
      for (const [id, held] of this.held) if (held.writtenAt <= due && held.read !== null) this.dirty.add(id);
      this.arm();
    }, this.config.ttlMs / 6);
    this.renewer.unref();
  }

  /**
   * The digest of session `id`'s secret: its `p` field, read with one `HMGET` of `p` and `e` (a few bytes, never the
   * state), `null` when there is none. Reads only: the epoch is untouched, so the holder keeps writing it (B17: a
   * connection with a wrong proof changes nothing). A session written by a version before secrets (an epoch, no
   * digest) and a `p` that is not a digest are reported (`session_ignored`) and count as `null`.
   */
  async proof(id: string): Promise<string | null> {
    if (this.closed) return null;
    await this.connected();
    const reply: unknown = await this.link.run((client) => client.hmGet(this.key(id), ['p', 'e']));
    this.counters.proofReads++;
    if (!Array.isArray(reply) || reply.length !== 2) {
      this.report('warn', SESSION_STORE_DIAGNOSTICS.ignored, { problem: 'bad_reply' });
      return null;
    }
    const [digest, epoch] = reply as [unknown, unknown];
    if (digest === null || digest === undefined) {
      // A hash with an epoch and no digest was written before sessions had secrets: not read back.
      if (epoch !== null && epoch !== undefined) this.report('warn', SESSION_STORE_DIAGNOSTICS.ignored, { problem: 'unknown_version' });
      return null;
    }
    if (!isSecretDigest(digest)) {
      this.report('warn', SESSION_STORE_DIAGNOSTICS.ignored, { problem: 'bad_proof' });
      return null;
    }
    return digest;
  }

  async load(id: string): Promise<StoredSession | null> {
    if (this.closed) return null;
    await this.connected();
    const reply: unknown = await this.link.run((client) => CLAIM_SCRIPT.run(client, [this.key(id)], [String(this.config.ttlMs)]));
    if (reply === null) return null;
    if (!Array.isArray(reply) || reply.length !== 2 || typeof reply[0] !== 'string' || typeof reply[1] !== 'string') {
      this.report('warn', SESSION_STORE_DIAGNOSTICS.ignored, { problem: 'bad_reply' });
      return null;
    }
    const decoded = decodeStoredSession(reply[1]);
    if (!decoded.ok) {
      this.report('warn', SESSION_STORE_DIAGNOSTICS.ignored, { problem: decoded.problem });
      return null;
    }
    this.counters.loaded++;
    // Taken over: from now on only this epoch writes it (the hub saves it again as soon as it changes).
    this.held.set(id, { epoch: reply[0], read: null, writtenAt: performance.now() });
    this.removals.delete(id);
    return decoded.stored;
  }

  save(id: string, read: () => StoredSession): void {
    if (this.closed) return;
    const held = this.held.get(id);
    if (held === undefined) this.held.set(id, { epoch: '1', read, writtenAt: -Infinity });
    else held.read = read;
    this.removals.delete(id);
    this.dirty.add(id);
    this.arm();
  }

  remove(id: string): void {
    const held = this.held.get(id);
    if (held === undefined) return;
    this.held.delete(id);
    this.dirty.delete(id);
    if (this.removals.size >= MAX_REMOVALS) {
      // A long outage with many sessions ending: the oldest removal is given up; that state expires after ttlMs.
      const oldest = this.removals.keys().next().value;
      if (oldest !== undefined) this.removals.delete(oldest);
      this.report('warn', SESSION_STORE_DIAGNOSTICS.failed, { op: 'remove', error: 'backlog_full', sessions: 1 });
    }
    this.removals.set(id, held.epoch);
    this.arm();
  }

  async flush(): Promise<void> {
    const deadline = performance.now() + this.config.commandTimeoutMs;
    // Bounded: each turn is one batch (itself bounded by commandTimeoutMs) or a wait of RETRY_FLOOR_MS, until the deadline.
    for (;;) {
      await this.run(true);
      const pending = this.dirty.size + this.removals.size;
      if (pending === 0 || this.closed) return;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`session store: ${String(pending)} sessions not written within ${String(this.config.commandTimeoutMs)} ms (Redis down or refusing writes)`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_FLOOR_MS, left)));
    }
  }

  stats(): RedisSessionStoreStats {
    return { ...this.counters, held: this.held.size, pending: this.dirty.size + this.removals.size, failures: this.failures };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.renewer);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.link.ready) await this.flush().catch(() => undefined);
    this.closed = true;
    for (const resume of [...this.waiting]) resume();
    await this.link.close();
  }

  /**
   * Resolves once Redis is connected, or after `commandTimeoutMs` (the command then fails as usual and the hub
   * counts it as nothing stored): a client that resumes while the store is still connecting (a process just
   * started) waits for it instead of being refused at once.
   */
  private connected(): Promise<void> {
    if (this.link.ready || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.config.commandTimeoutMs);
      this.waiting.add(done);
    });
  }

  private arm(): void {
    if (this.closed || this.timer !== null || (this.dirty.size === 0 && this.removals.size === 0)) return;
    // Never before a failing store may retry (a write that turns due meanwhile waits with the others).
    const delay = Math.max(this.config.coalesceMs, this.retryAt - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run(false);
    }, delay);
    this.timer.unref();
  }

  private async run(wait: boolean): Promise<void> {
    if (this.inflight !== null) {
      if (!wait) return;
      await this.inflight;
    }
    this.inflight = this.batch().finally(() => {
      this.inflight = null;
      this.arm();
    });
    await this.inflight;
  }

  private async batch(): Promise<void> {
    if (!this.link.ready) return;
    const writes: [id: string, epoch: string, value: string, proof: string][] = [];
    for (const id of this.dirty) {
      const held = this.held.get(id);
      if (held?.read == null) continue;
      let value: string;
      let proof: string;
      try {
        const stored = held.read();
        // Throws unless `proof` is a digest: nothing else goes in `p` or `s`.
        value = encodeStoredSession(stored);
        proof = stored.proof;
      } catch (error) {
        this.report('warn', SESSION_STORE_DIAGNOSTICS.failed, { op: 'read', error: errorClass(error), sessions: 1 });
        continue;
      }
      writes.push([id, held.epoch, value, proof]);
    }
    this.dirty.clear();
    const removals = [...this.removals];
    this.removals.clear();
    if (writes.length === 0 && removals.length === 0) return;
    const ttl = String(this.config.ttlMs);
    const startedAt = performance.now();
    // One script call per session (one key each: on a cluster, each goes to the master of its key), issued in one
    // tick; each settles on its own, so a master that is down keeps only its own sessions waiting.
    let settled: PromiseSettledResult<unknown>[];
    try {
      settled = await this.link.run((client) =>
        Promise.allSettled([
          ...writes.map(([id, epoch, value, proof]) => SAVE_SCRIPT.run(client, [this.key(id)], [epoch, value, ttl, proof])),
          ...removals.map(([id, epoch]) => REMOVE_SCRIPT.run(client, [this.key(id)], [epoch])),
        ]),
      );
    } catch (error) {
      settled = [...writes, ...removals].map(() => ({ status: 'rejected', reason: error }) as const);
    }
    let conflicts = 0;
    let failed = 0;
    let failure: unknown = null;
    writes.forEach(([id], i) => {
      const result = settled[i];
      if (result?.status !== 'fulfilled') {
        // Kept: the latest state is written at the next try.
        failed++;
        failure ??= result?.reason;
        if (this.held.has(id)) this.dirty.add(id);
        return;
      }
      if (result.value === 1) {
        this.counters.writes++;
        const held = this.held.get(id);
        if (held !== undefined) held.writtenAt = startedAt;
        return;
      }
      // Another process took it over: this one no longer writes it.
      conflicts++;
      this.held.delete(id);
    });
    removals.forEach(([id, epoch], i) => {
      const result = settled[writes.length + i];
      if (result?.status === 'fulfilled') return;
      failed++;
      failure ??= result?.reason;
      if (!this.held.has(id)) this.removals.set(id, epoch);
    });
    if (conflicts > 0) {
      this.counters.conflicts += conflicts;
      this.report('warn', SESSION_STORE_DIAGNOSTICS.takenOver, { sessions: conflicts });
    }
    this.settle(failed, failure);
  }

  /**
   * Takes one batch's outcome into the retry state (`nextRetry`): after a failure the next attempt waits
   * (jittered, doubling, at most `retryMaxMs`); one warning when writes start failing and one note when they succeed
   * again, never one per attempt.
   */
  private settle(failed: number, failure: unknown): void {
    const at = performance.now();
    const decision = nextRetry(this.failures, failed === 0, this.policy, Math.random);
    this.failures = decision.failures;
    if (failed === 0) {
      this.retryAt = -Infinity;
      if (decision.change === 'recovered') {
        this.report('info', SESSION_STORE_DIAGNOSTICS.recovered, {
          failures: this.counters.failedBatches - this.failedAtStart,
          failedMs: Math.round(at - this.failingSince),
          error: this.lastError ?? 'unknown',
        });
        this.lastError = null;
      }
      return;
    }
    this.counters.failedBatches++;
    this.retryAt = at + decision.delayMs;
    this.lastError = errorClass(failure);
    if (decision.change === 'failing') {
      this.failingSince = at;
      this.failedAtStart = this.counters.failedBatches - 1;
      this.report('warn', SESSION_STORE_DIAGNOSTICS.failed, { op: 'save', error: this.lastError, sessions: failed, retryMs: Math.round(decision.delayMs) });
    }
  }

  private report(level: DiagnosticLevel, name: string, fields: DiagnosticFields): void {
    this.emit({ type: 'diagnostic', level, name, fields });
  }
}

/**
 * Creates a {@link RedisSessionStore}: the state of every resumable session of this process's hub, kept in Redis
 * (one hash per session under `<prefix>:resume:`, expiring `ttlMs` after its last write; every command touches one
 * key, so it runs on a Redis Cluster as on a single Redis: pass a `client` from `createCluster`), so that a client that
 * reconnects to another process resumes there. Each change of a session (a message delivered, sent or
 * acknowledged) is written within `coalesceMs`, the whole state in one atomic write; a process that takes a
 * session over bumps its epoch, and from then on the previous holder's writes are refused. Of the session's secret
 * only its digest is stored (B17): `proof` reads it without taking the session over, so what can be read out of
 * Redis resumes nothing. See the package README for exactly what is guaranteed when a process is killed.
 *
 * @example
 * ```ts
 * import type { AddressInfo } from 'node:net';
 * import { WebSocketServer } from 'ws';
 * import { createRedisSessionStore } from '@keepalive/redis';
 * import { createKeepaliveClient, keepAlive, resumable } from '@keepalive/websocket-transport';
 *
 * // Every process behind the load balancer keeps its resumable sessions in the same Redis, so a client that
 * // reconnects to another process resumes there.
 * const store = createRedisSessionStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
 * const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
 * await new Promise((resolve) => wss.once('listening', resolve));
 * const heartbeat = keepAlive(wss, { resume: { store } });
 * heartbeat.sessions.on('session', ({ session, resumed, restored }) => {
 *   if (resumed && !restored) return; // the same object as before: its listeners are in place
 *   session.on('message', (message) => session.send(`echo ${String(message)}`));
 * });
 *
 * const client = createKeepaliveClient(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { resume: resumable() });
 * const echo = new Promise<string>((resolve) => client.on('message', ({ data }) => resolve(String(data))));
 * client.send('kept in Redis until acknowledged');
 * console.log(await echo);
 *
 * await client.close();
 * heartbeat.close();
 * await new Promise((resolve) => wss.close(resolve));
 * await store.close();
 * ```
 */
export function createRedisSessionStore(options: RedisSessionStoreOptions): RedisSessionStore {
  const given: unknown = options;
  if (typeof given !== 'object' || given === null) throw new KeepaliveOptionError('options', given, 'an object of session store options with a url or a client');
  checkKnownKeys(options, STORE_KEYS, 'session store');
  return new Store(options);
}
