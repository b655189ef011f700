import { hostname } from 'node:os';
import type { Diagnostic, DiagnosticFields, DiagnosticLevel, SessionState } from '@keepalive/core';
import { createDiagnosticSink, nextInstanceId, type WorkActivity } from '@keepalive/node-timers';
import { LuaScript, RedisLink, errorClass } from './connection.js';
import { encodeLease, leaseKeys, type LeaseKeys } from './lease-codec.js';
import { RETRY_FLOOR_MS, defineLeaseWriterConfig, type LeaseWriterConfig, type LeaseWriterOptions } from './options.js';
import { nextRetry, type RetryPolicy } from './retry.js';

/**
 * Diagnostics of a {@link LeaseWriter} (counts, names and durations only; never session ids, owners or error
 * messages). `error` is the error's class: the Redis error prefix (`OOM`, `WRONGTYPE`, `READONLY`, …), a system
 * error's code, or the error's name (`RedisTimeoutError`).
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `redis_ready` | info | `leases` (written again at the next attempt) |
 * | `redis_lost` | warn | `error` |
 * | `lease_batch_failed` | warn | once when writes start failing in some shard (not per attempt, nor per shard): `error`, `shards` (failing), `leases` (kept, written at the next attempt), `removals` (given up: those leases expire by themselves), `retryMs` (the wait before that shard's next attempt) |
 * | `lease_writes_recovered` | info | once when writes succeed again in every shard: `failures` (failed attempts meanwhile, one per shard per attempt), `failedMs` (how long writes failed), `error` (the last failure's class) |
 * | `lease_removal_failed` | warn | `error` `backlog_full` (past 100 000 removals waiting for Redis, the oldest is given up: it expires by itself), `leases`; once until the backlog is sent |
 */
export const LEASE_WRITER_DIAGNOSTICS = Object.freeze({
  ready: 'redis_ready',
  lost: 'redis_lost',
  batchFailed: 'lease_batch_failed',
  recovered: 'lease_writes_recovered',
  removalFailed: 'lease_removal_failed',
} as const);

/**
 * Counters of a {@link LeaseWriter}.
 */
export interface LeaseWriterStats {
  /** Sessions tracked now. */
  readonly sessions: number;
  /** Sessions whose lease waits to be written (changed or due): at most `sessions`, whatever the outage. */
  readonly pending: number;
  /** Whether the connection is ready now. */
  readonly connected: boolean;
  /** Lease writes (one `SET … PX` each, inside the script) acknowledged by Redis. */
  readonly writes: number;
  /**
   * Batches sent (each one pipeline of script calls: per shard with something to write, one per 1 000 of its
   * leases, their `SET … PX`s and one `SADD`; and one per 1 000 of its removals).
   */
  readonly batches: number;
  /** Attempts that failed (one per shard per batch: its writes or removals), so far: a counter for a metric. */
  readonly failedBatches: number;
  /** Consecutive failed attempts now, of the shard failing longest: 0 while writes succeed (a gauge for a metric or an alert). */
  readonly failures: number;
  /** Shards whose writes fail now (each waits for its own retry; the others are written as usual). */
  readonly failingShards: number;
  /** The class of the last failure while `failures > 0` (`OOM`, `WRONGTYPE`, `READONLY`, `RedisTimeoutError`, …), else `null`. */
  readonly lastError: string | null;
  /** Removals given up so far (their batch failed, or the backlog was full): those leases expire by themselves. */
  readonly droppedRemovals: number;
  /** Redis commands sent. */
  readonly commands: number;
}

/**
 * Mirrors the activity of this process's sessions to Redis as leases, for a reclaimer elsewhere (see
 * {@link createReclaimer}).
 */
export interface LeaseWriter {
  /** The owner written in every lease. */
  readonly owner: string;
  /** The validated options. */
  readonly config: LeaseWriterConfig;
  /**
   * Mirrors `activity` as the lease of `session` (an id unique across the fleet: a resumable session's id, say)
   * until it shuts down or is untracked; returns the untrack function. Tracking the same id again replaces it.
   */
  track(session: string, activity: WorkActivity): () => void;
  /** Stops mirroring `session` and removes its lease (at the next batch). */
  untrack(session: string): void;
  /**
   * Writes what is pending now, even while a failing writer waits to retry; resolves when that batch settled (for
   * tests and orderly shutdowns).
   */
  flush(): Promise<void>;
  /** Counters. */
  stats(): LeaseWriterStats;
  /** Removes every lease (bounded by `commandTimeoutMs`), stops, and closes the connection. */
  close(): Promise<void>;
}

interface Entry {
  readonly id: string;
  readonly key: string;
  readonly shard: number;
  readonly activity: WorkActivity;
  unsubscribe: () => void;
  busy: boolean;
  counts: Readonly<Record<string, number>>;
  /** Monotonic time the session became busy (or idle). */
  sinceMono: number;
  keepalives: number;
  dirty: boolean;
  /** Monotonic time the next renewal is due; `-1` before the first write. */
  dueAt: number;
  writtenAt: number;
}

/** Leases written (or removed) per script call. */
const CHUNK = 1_000;

/**
 * Writes a chunk of leases of one shard in one call: `SET key value PX ttl` for each (KEYS 1..n-1, ARGV value/ttl
 * pairs), then one `SADD` of their ids to the shard's index (the last KEY; every key carries the shard's hash tag,
 * so all are in one slot of a cluster). One command on the wire per thousand leases, instead of a thousand:
 * node-redis spends about 20 µs of the worker's CPU per command. Each lease is written before its index entry, in
 * one script (atomic): a reader never sees this writer's entry without its lease. An index of the wrong type fails
 * the call before any lease is written (a script is not rolled back: its `SET`s would stay, unlisted).
 */
const WRITE_SCRIPT = /* @__PURE__ */ new LuaScript(`
local n = #KEYS - 1
local kind = redis.call('TYPE', KEYS[n + 1])['ok']
if kind ~= 'set' and kind ~= 'none' then return redis.error_reply('WRONGTYPE the lease index is not a set') end
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i])
end
local ids = {}
for i = 2 * n + 1, #ARGV do ids[#ids + 1] = ARGV[i] end
redis.call('SADD', KEYS[n + 1], unpack(ids))
return n`);

/**
 * Removes a chunk of leases of one shard in one call (atomic): `SREM` of their ids from the shard's index (KEYS[1],
 * ARGV the ids), then `DEL` of their keys (KEYS 2..n): a reader sees a session listed with its lease, or neither.
 */
const REMOVE_SCRIPT = /* @__PURE__ */ new LuaScript(`
redis.call('SREM', KEYS[1], unpack(ARGV))
redis.call('DEL', unpack(KEYS, 2))
return #ARGV`);

/** Removals kept while Redis is unreachable, at most (past it the oldest lease is left to expire). */
const MAX_REMOVALS = 100_000;
/** A busy lease is renewed at the latest this many heartbeat intervals after its last write. */
const BUSY_RENEWAL_SLACK = 1.5;

class Writer implements LeaseWriter {
  readonly owner: string;
  readonly config: LeaseWriterConfig;
  private readonly keys: LeaseKeys;
  private readonly link: RedisLink;
  private readonly emit: (diagnostic: Diagnostic) => void;
  private readonly entries = new Map<string, Entry>();
  /** The entries whose lease changed since it was last written (`entry.dirty`), so a batch's end need not scan them all. */
  private readonly dirty = new Set<Entry>();
  private readonly removals = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private inflight: Promise<void> | null = null;
  private closed = false;
  private renewal: number;
  private readonly counters = { writes: 0, batches: 0, failedBatches: 0, droppedRemovals: 0, commands: 0 };
  private readonly policy: RetryPolicy;
  /** Per shard: consecutive failed attempts, and when its next attempt may start (the writer's monotonic clock). */
  private readonly failures: number[];
  private readonly retryAt: number[];
  /** Shards with failures now. */
  private failing = 0;
  private failingSince = 0;
  /** `failedBatches` when writes started failing. */
  private failedAtStart = 0;
  private lastError: string | null = null;
  private backlogReported = false;

  constructor(options: LeaseWriterOptions) {
    this.config = defineLeaseWriterConfig(options);
    this.owner = this.config.owner ?? `${hostname()}/${process.pid}`;
    this.keys = leaseKeys(this.config.prefix, this.config.shards);
    this.failures = new Array<number>(this.config.shards).fill(0);
    this.retryAt = new Array<number>(this.config.shards).fill(-Infinity);
    this.emit = createDiagnosticSink({ session: nextInstanceId(), logger: options.logger, onDiagnostic: options.onDiagnostic });
    this.renewal = Date.now();
    this.policy = { floorMs: RETRY_FLOOR_MS, maxMs: this.config.retryMaxMs };
    this.link = new RedisLink({
      url: this.config.url,
      client: options.client ?? null,
      commandTimeoutMs: this.config.commandTimeoutMs,
      reconnectMaxMs: this.config.reconnectMaxMs,
      onEvent: (event) => {
        if (event.type === 'ready') {
          // Redis (or a master of a cluster) may have restarted empty: every lease is written again at once (after
          // the wait of a failing shard: a connection replaced after a timeout is no reason to retry sooner).
          for (const entry of this.entries.values()) this.markDirty(entry);
          this.report('info', LEASE_WRITER_DIAGNOSTICS.ready, { leases: this.entries.size });
          this.arm(now());
        } else {
          this.report('warn', LEASE_WRITER_DIAGNOSTICS.lost, { error: event.error });
        }
      },
    });
  }

  track(session: string, activity: WorkActivity): () => void {
    if (typeof session !== 'string' || session === '' || session.length > 512) throw new TypeError('track(session): expected a non-empty string of at most 512 characters');
    if (typeof activity !== 'object' || typeof (activity as Partial<WorkActivity>).subscribe !== 'function') {
      throw new TypeError('track(session, activity): expected a session activity (createSessionActivity, or a client.activity)');
    }
    if (this.closed) throw new Error('track(): the lease writer is closed');
    this.untrackEntry(session, false);
    this.removals.delete(session);
    const state = activity.state;
    const at = now();
    const snapshot = activity.snapshot();
    const shard = this.keys.shardOf(session);
    const entry: Entry = {
      id: session,
      key: this.keys.lease(session),
      shard,
      activity,
      unsubscribe: () => undefined,
      busy: state.total > 0,
      counts: state.counts,
      sinceMono: at - (snapshot.oldestActivityMs ?? 0),
      keepalives: state.keepalivesSent,
      dirty: true,
      dueAt: -1,
      writtenAt: -Infinity,
    };
    entry.unsubscribe = activity.subscribe((next) => this.observe(entry, next));
    this.entries.set(session, entry);
    this.dirty.add(entry);
    this.arm(at + this.config.coalesceMs, shard);
    return () => {
      if (this.entries.get(session) === entry) this.untrack(session);
    };
  }

  untrack(session: string): void {
    this.untrackEntry(session, true);
  }

  flush(): Promise<void> {
    return this.run(true);
  }

  stats(): LeaseWriterStats {
    let pending = 0;
    const at = now();
    for (const entry of this.entries.values()) if (entry.dirty || at >= entry.dueAt) pending++;
    return {
      ...this.counters,
      sessions: this.entries.size,
      pending,
      connected: this.link.ready,
      failures: Math.max(...this.failures),
      failingShards: this.failing,
      lastError: this.lastError,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const id of [...this.entries.keys()]) this.untrackEntry(id, true);
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.run(true);
    await this.link.close();
  }

  private untrackEntry(session: string, remove: boolean): void {
    const entry = this.entries.get(session);
    if (entry === undefined) return;
    this.entries.delete(session);
    this.dirty.delete(entry);
    entry.unsubscribe();
    if (remove) {
      if (this.removals.size >= MAX_REMOVALS) {
        // A long outage with many sessions ending: the oldest removal is given up; that lease expires by itself.
        const oldest = this.removals.values().next().value;
        if (oldest !== undefined) this.removals.delete(oldest);
        this.counters.droppedRemovals++;
        if (!this.backlogReported) {
          this.backlogReported = true;
          this.report('warn', LEASE_WRITER_DIAGNOSTICS.removalFailed, { error: 'backlog_full', leases: 1 });
        }
      }
      this.removals.add(session);
      this.arm(now() + this.config.coalesceMs, this.keys.shardOf(session));
    }
  }

  /** A new state of a tracked session: only what the lease shows marks it; a heartbeat renews a busy lease. */
  private observe(entry: Entry, state: SessionState): void {
    if (this.entries.get(entry.id) !== entry) return;
    if (state.shutdown) {
      this.untrack(entry.id);
      return;
    }
    const at = now();
    const busy = state.total > 0;
    let changed = false;
    if (busy !== entry.busy) {
      entry.busy = busy;
      entry.sinceMono = at;
      changed = true;
    }
    if (state.counts !== entry.counts) {
      entry.counts = state.counts;
      changed = true;
    }
    if (state.keepalivesSent !== entry.keepalives) {
      entry.keepalives = state.keepalivesSent;
      // The renewal rides the session's own heartbeat: due now if half an interval passed since the last write.
      if (busy && at - entry.writtenAt >= state.config.heartbeatIntervalMs / 2) changed = true;
    }
    if (changed && !entry.dirty) {
      this.markDirty(entry);
      this.arm(at + this.config.coalesceMs, entry.shard);
    }
  }

  /** Arms the one timer for `at` (never before `shard`'s next attempt is allowed while it fails), unless it is armed sooner. */
  private arm(at: number, shard = -1): void {
    if (shard >= 0) at = Math.max(at, this.retryAt[shard] ?? -Infinity);
    if (this.closed || at >= this.timerAt) return;
    this.rearm(at);
  }

  /** Arms the one timer for `at`, replacing the one armed (none for `Infinity`). */
  private rearm(at: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    if (this.closed || at === Infinity) return;
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      void this.run(false);
    }, Math.max(0, at - now()));
    this.timer.unref();
  }

  /** Sends one batch (one at a time: an unanswered batch holds the next, so nothing piles up). */
  private async run(force: boolean): Promise<void> {
    if (this.inflight !== null) {
      if (!force) return;
      await this.inflight;
    }
    this.inflight = this.batch(force).finally(() => {
      this.inflight = null;
    });
    await this.inflight;
  }

  /**
   * One batch: what is due in every shard that may be written now (all of them when `force`: `flush()`, `close()`),
   * one pipeline of script calls, each within one shard (one slot of a cluster).
   */
  private async batch(force: boolean): Promise<void> {
    const at = now();
    const wall = Date.now();
    if (!this.link.ready) {
      // Not connected: nothing is queued; the leases are written when the connection is ready again.
      if (!this.closed) this.arm(at + this.config.reconnectMaxMs);
      return;
    }
    const open = (shard: number): boolean => force || (this.retryAt[shard] ?? -Infinity) <= at;
    const work = new Map<number, { readonly writes: Entry[]; readonly removals: string[] }>();
    const shardWork = (shard: number) => {
      let found = work.get(shard);
      if (found === undefined) {
        found = { writes: [], removals: [] };
        work.set(shard, found);
      }
      return found;
    };
    // One pass over the sessions: what is due goes in this batch (unless its shard waits), and when the rest is due.
    let next = Infinity;
    for (const entry of this.entries.values()) {
      const retryAt = this.retryAt[entry.shard] ?? -Infinity;
      if (!entry.dirty && at < entry.dueAt) next = Math.min(next, Math.max(entry.dueAt, retryAt));
      else if (open(entry.shard)) shardWork(entry.shard).writes.push(entry);
      else next = Math.min(next, retryAt);
    }
    for (const id of this.removals) {
      const shard = this.keys.shardOf(id);
      if (!open(shard)) continue;
      shardWork(shard).removals.push(id);
      this.removals.delete(id);
    }
    if (work.size === 0) {
      this.rearm(this.nextWake(at, next));
      return;
    }
    if (this.removals.size === 0) this.backlogReported = false;
    this.counters.batches++;
    // Per shard: the first failure of this attempt (a removal's or a write's), if any; the leases kept for the next one.
    const outcomes = new Map<number, { failed: { readonly error: unknown } | null; kept: number; dropped: number }>();
    const calls: Promise<unknown>[] = [];
    const commands = this.link.run((client) => {
      // Issued in one tick: node-redis writes them as one pipeline (on a cluster, one per master).
      for (const [shard, { writes, removals }] of work) {
        const outcome: { failed: { readonly error: unknown } | null; kept: number; dropped: number } = { failed: null, kept: 0, dropped: 0 };
        outcomes.set(shard, outcome);
        const index = this.keys.index(shard);
        for (let i = 0; i < removals.length; i += CHUNK) {
          const ids = removals.slice(i, i + CHUNK);
          this.counters.commands++;
          calls.push(
            REMOVE_SCRIPT.run(client, [index, ...ids.map((id) => this.keys.lease(id))], ids).catch((error: unknown) => {
              // Given up, not retried (a removal retried later could remove the lease of the same session written
              // meanwhile by another process): those leases expire by themselves, and a reclaimer prunes their entries.
              this.counters.droppedRemovals += ids.length;
              outcome.dropped += ids.length;
              outcome.failed ??= { error };
            }),
          );
        }
        for (let i = 0; i < writes.length; i += CHUNK) {
          const chunk = writes.slice(i, i + CHUNK).map((entry) => this.encode(entry, at, wall));
          for (const [entry] of chunk) next = Math.min(next, entry.dueAt);
          const keys = chunk.map(([entry]) => entry.key);
          keys.push(index);
          const args: string[] = [];
          for (const [, value, ttlMs] of chunk) args.push(value, String(ttlMs));
          for (const [entry] of chunk) args.push(entry.id);
          this.counters.commands++;
          calls.push(
            WRITE_SCRIPT.run(client, keys, args).then(
              () => {
                this.counters.writes += chunk.length;
              },
              (error: unknown) => {
                // Kept: each is written at the next attempt (its latest state; nothing accumulates per session).
                for (const [entry] of chunk) {
                  if (this.entries.get(entry.id) !== entry) continue;
                  this.markDirty(entry);
                  outcome.kept++;
                }
                outcome.failed ??= { error };
              },
            ),
          );
        }
      }
      return Promise.all(calls);
    });
    await commands.catch((error: unknown) => {
      // The whole batch timed out (or could not be sent): every shard of it failed; what was kept stays dirty.
      for (const [shard, { writes, removals }] of work) {
        const outcome = outcomes.get(shard) ?? { failed: null, kept: 0, dropped: 0 };
        outcomes.set(shard, outcome);
        if (outcome.failed !== null) continue;
        outcome.failed = { error };
        for (const entry of writes) {
          if (this.entries.get(entry.id) !== entry) continue;
          this.markDirty(entry);
          outcome.kept++;
        }
        outcome.dropped += removals.length;
        if (calls.length === 0) this.counters.droppedRemovals += removals.length;
      }
    });
    this.settle(outcomes);
    this.rearm(this.nextWake(now(), next));
  }

  private markDirty(entry: Entry): void {
    entry.dirty = true;
    this.dirty.add(entry);
  }

  /** The entry's lease, encoded, as of `at` (monotonic) and `wall`; marks it written (clean, due at its next renewal). */
  private encode(entry: Entry, at: number, wall: number): [entry: Entry, value: string, ttlMs: number] {
    entry.dirty = false;
    this.dirty.delete(entry);
    // Busy: renewed by the session's heartbeat (each one at least half an interval after the last write), at the
    // latest 1.5 intervals after it (a session with no sender attached has no heartbeat): the lease says so.
    const intervalMs = entry.busy ? entry.activity.state.config.heartbeatIntervalMs : this.config.idleRenewalMs;
    // Whole milliseconds (the lease's `r` is an integer): an idle renewal of 1 500.5 ms is written as 1 501.
    const renewMs = Math.ceil(entry.busy ? intervalMs * BUSY_RENEWAL_SLACK : intervalMs);
    const ttlMs = Math.ceil(intervalMs * this.config.leaseIntervals);
    const ageMs = Math.max(0, at - entry.sinceMono);
    const value = encodeLease({
      owner: this.owner,
      busy: entry.busy,
      counts: entry.counts,
      since: wall - ageMs,
      ageMs,
      renewal: ++this.renewal,
      renewMs,
      ttlMs,
    });
    entry.dueAt = at + renewMs;
    entry.writtenAt = at;
    return [entry, value, ttlMs];
  }

  /**
   * When something is next due: `renewals` (the next renewal, found by the batch's pass over the sessions), a change
   * (within `coalesceMs`), a removal; never before its shard may retry.
   */
  private nextWake(at: number, renewals: number): number {
    if (this.closed) return Infinity;
    const soon = at + this.config.coalesceMs;
    let next = renewals;
    for (const entry of this.dirty) {
      const when = Math.max(soon, this.retryAt[entry.shard] ?? -Infinity);
      if (when < next) next = when;
    }
    for (const id of this.removals) {
      const when = Math.max(soon, this.retryAt[this.keys.shardOf(id)] ?? -Infinity);
      if (when < next) next = when;
    }
    return next;
  }

  /**
   * Takes the outcome of one attempt per shard into that shard's retry state ({@link nextRetry}): after a failure
   * the shard's next attempt waits (jittered, doubling, at most `retryMaxMs`), whatever turns dirty in it meanwhile;
   * the other shards are written as usual. One warning when writes start failing (in any shard) and one note when
   * they succeed again in every shard, never one per attempt.
   */
  private settle(outcomes: ReadonlyMap<number, { readonly failed: { readonly error: unknown } | null; readonly kept: number; readonly dropped: number }>): void {
    const at = now();
    const wasFailing = this.failing;
    let first: { readonly error: unknown; readonly delayMs: number } | null = null;
    let kept = 0;
    let dropped = 0;
    let failedNow = 0;
    for (const [shard, outcome] of outcomes) {
      const previous = this.failures[shard] ?? 0;
      const decision = nextRetry(previous, outcome.failed === null, this.policy, Math.random);
      this.failures[shard] = decision.failures;
      if (outcome.failed === null) {
        this.retryAt[shard] = -Infinity;
        if (previous > 0) this.failing--;
        continue;
      }
      if (previous === 0) this.failing++;
      this.counters.failedBatches++;
      failedNow++;
      this.retryAt[shard] = at + decision.delayMs;
      this.lastError = errorClass(outcome.failed.error);
      first ??= { error: outcome.failed.error, delayMs: decision.delayMs };
      kept += outcome.kept;
      dropped += outcome.dropped;
    }
    if (wasFailing === 0 && this.failing > 0 && first !== null) {
      this.failingSince = at;
      this.failedAtStart = this.counters.failedBatches - failedNow;
      this.report('warn', LEASE_WRITER_DIAGNOSTICS.batchFailed, { error: errorClass(first.error), shards: this.failing, leases: kept, removals: dropped, retryMs: Math.round(first.delayMs) });
    } else if (wasFailing > 0 && this.failing === 0) {
      this.report('info', LEASE_WRITER_DIAGNOSTICS.recovered, {
        failures: this.counters.failedBatches - this.failedAtStart,
        failedMs: Math.round(at - this.failingSince),
        error: this.lastError ?? 'unknown',
      });
      this.lastError = null;
    }
  }

  private report(level: DiagnosticLevel, name: string, fields: DiagnosticFields): void {
    this.emit({ type: 'diagnostic', level, name, fields });
  }
}

function now(): number {
  return performance.now();
}

/**
 * Creates a {@link LeaseWriter} connected to `url` (in the background: a Redis that is down now is retried, and the
 * sessions keep their local keep-alives whatever Redis does). A bad option throws `KeepaliveOptionError` naming it.
 *
 * Each tracked session's lease is one string key, `SET … PX` a few renewal intervals ahead (`leaseIntervals`,
 * default 3), listed in the index set of its shard (one of `shards`, default 16: see {@link leaseKeys}). It is
 * renewed by the session's own heartbeat while busy (every `heartbeatIntervalMs` of that session) and every
 * `idleRenewalMs` (default 60 s) while idle, written at once (within `coalesceMs`, default 20 ms) when the session
 * turns busy or idle or its reasons change, and removed when the session shuts down, is untracked, or the writer
 * closes. Every write of a tick goes in one pipelined batch, one batch at a time. After a failed attempt in a shard
 * (Redis refused it: `OOM`, `WRONGTYPE`, `READONLY`, `CLUSTERDOWN`; or did not answer) that shard's next attempt
 * waits at least 100 ms, doubling with jitter up to `retryMaxMs` (default 10 s), with one warning when writes start
 * failing and one note when they recover. The same on a single Redis (`url`, or a `client` from `createClient`) and
 * on a Redis Cluster (a `client` from `createCluster`).
 */
export function createLeaseWriter(options: LeaseWriterOptions): LeaseWriter {
  return new Writer(options);
}
