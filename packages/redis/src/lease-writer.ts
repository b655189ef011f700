import { hostname } from 'node:os';
import type { Diagnostic, DiagnosticFields, DiagnosticLevel, SessionState } from '@keepalive/core';
import { createDiagnosticSink, nextInstanceId, type WorkActivity } from '@keepalive/node-timers';
import { RedisLink, errorClass } from './connection.js';
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
 * | `lease_batch_failed` | warn | once when writes start failing (not per attempt): `error`, `leases` (kept, written at the next attempt), `removals` (given up: those leases expire by themselves), `retryMs` (the wait before the next attempt) |
 * | `lease_writes_recovered` | info | once when a write succeeds after failures: `failures` (failed attempts), `failedMs` (how long writes failed), `error` (the last failure's class) |
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
  /** Batches sent (each one pipeline of script calls, one per 1 000 leases: their `SET … PX`s and one `SADD`). */
  readonly batches: number;
  /** Attempts (batches of writes or removals) that failed, so far: a counter for a metric. */
  readonly failedBatches: number;
  /** Consecutive failed attempts now: 0 while writes succeed (a gauge for a metric or an alert). */
  readonly failures: number;
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

/** Leases written per script call (and listed per `SADD` inside it). */
const CHUNK = 1_000;

/**
 * Writes a chunk of leases in one call: `SET key value PX ttl` for each (KEYS 1..n-1, ARGV value/ttl pairs), then
 * one `SADD` of their ids to the index (the last KEY). One command on the wire per thousand leases, instead of a
 * thousand: node-redis spends about 20 µs of the worker's CPU per command. Each lease is written before its index
 * entry, in one script (atomic): a reader never sees this writer's entry without its lease. An index of the wrong
 * type fails the call before any lease is written (a script is not rolled back: its `SET`s would stay, unlisted).
 */
const WRITE_SCRIPT = `
local n = #KEYS - 1
local kind = redis.call('TYPE', KEYS[n + 1])['ok']
if kind ~= 'set' and kind ~= 'none' then return redis.error_reply('WRONGTYPE the lease index is not a set') end
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i])
end
local ids = {}
for i = 2 * n + 1, #ARGV do ids[#ids + 1] = ARGV[i] end
redis.call('SADD', KEYS[n + 1], unpack(ids))
return n`;
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
  private readonly removals = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private inflight: Promise<void> | null = null;
  private closed = false;
  private renewal: number;
  private readonly counters = { writes: 0, batches: 0, failedBatches: 0, droppedRemovals: 0, commands: 0 };
  private readonly policy: RetryPolicy;
  /** Consecutive failed attempts, and when the next attempt may start (the writer's monotonic clock). */
  private failures = 0;
  private retryAt = -Infinity;
  private failingSince = 0;
  private lastError: string | null = null;
  private backlogReported = false;

  constructor(options: LeaseWriterOptions) {
    this.config = defineLeaseWriterConfig(options);
    this.owner = this.config.owner ?? `${hostname()}/${process.pid}`;
    this.keys = leaseKeys(this.config.prefix);
    this.emit = createDiagnosticSink({ session: nextInstanceId(), logger: options.logger, onDiagnostic: options.onDiagnostic });
    this.renewal = Date.now();
    this.policy = { floorMs: RETRY_FLOOR_MS, maxMs: this.config.retryMaxMs };
    this.link = new RedisLink({
      url: this.config.url,
      commandTimeoutMs: this.config.commandTimeoutMs,
      reconnectMaxMs: this.config.reconnectMaxMs,
      onEvent: (event) => {
        if (event.type === 'ready') {
          // Redis may have restarted empty: every lease is written again at once (after the wait of a failing
          // writer: a connection replaced after a timeout is no reason to retry sooner).
          for (const entry of this.entries.values()) entry.dirty = true;
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
    const entry: Entry = {
      id: session,
      key: this.keys.lease(session),
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
    this.arm(at + this.config.coalesceMs);
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
    return { ...this.counters, sessions: this.entries.size, pending, connected: this.link.ready, failures: this.failures, lastError: this.lastError };
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
      this.arm(now() + this.config.coalesceMs);
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
      entry.dirty = true;
      this.arm(at + this.config.coalesceMs);
    }
  }

  /** Arms the one timer for `at` (never before the next attempt is allowed while failing), unless it is armed sooner. */
  private arm(at: number): void {
    if (this.failures > 0 && at < this.retryAt) at = this.retryAt;
    if (this.closed || at >= this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      void this.run(false);
    }, Math.max(0, at - now()));
    this.timer.unref();
  }

  /** Sends one batch (one at a time: an unanswered batch holds the next, so nothing piles up). */
  private async run(wait: boolean): Promise<void> {
    if (this.inflight !== null) {
      if (!wait) return;
      await this.inflight;
    }
    this.inflight = this.batch().finally(() => {
      this.inflight = null;
    });
    await this.inflight;
  }

  private async batch(): Promise<void> {
    const at = now();
    const wall = Date.now();
    const due: Entry[] = [];
    let next = Infinity;
    for (const entry of this.entries.values()) {
      if (entry.dirty || at >= entry.dueAt) due.push(entry);
      else if (entry.dueAt < next) next = entry.dueAt;
    }
    const removals = [...this.removals];
    if (!this.link.ready) {
      // Not connected: nothing is queued; the leases are written when the connection is ready again.
      if (!this.closed) this.arm(at + this.config.reconnectMaxMs);
      return;
    }
    const work: Promise<unknown>[] = [];
    // The first failure of this attempt (a removal's or a write's), if any, and the leases kept for the next one.
    const outcome: { failed: { readonly error: unknown } | null; kept: number; dropped: number } = { failed: null, kept: 0, dropped: 0 };
    if (removals.length > 0) {
      this.removals.clear();
      this.backlogReported = false;
      // One transaction: a reader sees the session listed with its lease, or neither (never "expired").
      this.counters.commands += 4;
      work.push(
        this.link.run((client) => client.multi().sRem(this.keys.index, removals).del(removals.map((id) => this.keys.lease(id))).exec()).catch((error: unknown) => {
          // Given up, not retried (a removal retried later could remove the lease of the same session written
          // meanwhile by another process): those leases expire by themselves, and a reclaimer prunes their entries.
          this.counters.droppedRemovals += removals.length;
          outcome.dropped = removals.length;
          outcome.failed ??= { error };
        }),
      );
    }
    const writes: [key: string, value: string, ttlMs: number][] = [];
    for (const entry of due) {
      entry.dirty = false;
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
      if (entry.dueAt < next) next = entry.dueAt;
      writes.push([entry.key, value, ttlMs]);
    }
    if (due.length > 0) {
      const index = this.keys.index;
      const ids = due.map((entry) => entry.id);
      this.counters.batches++;
      this.counters.commands += Math.ceil(writes.length / CHUNK);
      work.push(
        this.link
          .run((client) => {
            // Issued in one tick: node-redis writes them as one pipeline.
            const replies: Promise<unknown>[] = [];
            for (let i = 0; i < writes.length; i += CHUNK) {
              const chunk = writes.slice(i, i + CHUNK);
              const keys = chunk.map(([key]) => key);
              keys.push(index);
              const args: string[] = [];
              for (const [, value, ttlMs] of chunk) args.push(value, String(ttlMs));
              for (const id of ids.slice(i, i + CHUNK)) args.push(id);
              replies.push(client.eval(WRITE_SCRIPT, { keys, arguments: args }));
            }
            return Promise.all(replies);
          })
          .then(
          () => {
            this.counters.writes += due.length;
          },
          (error: unknown) => {
            // Kept: each is written at the next attempt (its latest state; nothing accumulates per session).
            for (const entry of due) {
              if (this.entries.get(entry.id) !== entry) continue;
              entry.dirty = true;
              outcome.kept++;
            }
            outcome.failed ??= { error };
          },
        ),
      );
    }
    await Promise.all(work);
    if (work.length > 0) this.settle(outcome.failed, outcome.kept, outcome.dropped);
    if (!this.closed) {
      let dirty = false;
      for (const entry of this.entries.values()) {
        if (entry.dirty) {
          dirty = true;
          break;
        }
      }
      this.arm(dirty || this.removals.size > 0 ? now() + this.config.coalesceMs : next);
    }
  }

  /**
   * Takes the outcome of one attempt into the retry state ({@link nextRetry}): after a failure the next attempt
   * waits (jittered, doubling, at most `retryMaxMs`), whatever turns dirty meanwhile; one warning when writes start
   * failing and one note when they recover, never one per attempt.
   */
  private settle(failed: { readonly error: unknown } | null, kept: number, removals: number): void {
    const decision = nextRetry(this.failures, failed === null, this.policy, Math.random);
    const at = now();
    const previous = this.failures;
    this.failures = decision.failures;
    if (failed !== null) {
      this.counters.failedBatches++;
      this.lastError = errorClass(failed.error);
      this.retryAt = at + decision.delayMs;
      if (this.timer !== null && this.timerAt < this.retryAt) {
        // Armed sooner meanwhile (a session changed while this attempt was in flight): not before the wait.
        clearTimeout(this.timer);
        this.timer = null;
        this.timerAt = Infinity;
      }
      if (decision.change === 'failing') {
        this.failingSince = at;
        this.report('warn', LEASE_WRITER_DIAGNOSTICS.batchFailed, { error: this.lastError, leases: kept, removals, retryMs: Math.round(decision.delayMs) });
      }
      return;
    }
    if (decision.change === 'recovered') {
      this.report('info', LEASE_WRITER_DIAGNOSTICS.recovered, { failures: previous, failedMs: Math.round(at - this.failingSince), error: this.lastError ?? 'unknown' });
    }
    this.lastError = null;
    this.retryAt = -Infinity;
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
 * default 3), listed in one index set. It is renewed by the session's own heartbeat while busy (every
 * `heartbeatIntervalMs` of that session) and every `idleRenewalMs` (default 60 s) while idle, written at once
 * (within `coalesceMs`, default 20 ms) when the session turns busy or idle or its reasons change, and removed when
 * the session shuts down, is untracked, or the writer closes. Every write of a tick goes in one pipelined batch,
 * one batch at a time. After a failed batch (Redis refused it: `OOM`, `WRONGTYPE`, `READONLY`; or did not answer)
 * the next one waits at least 100 ms, doubling with jitter up to `retryMaxMs` (default 10 s), with one warning
 * when writes start failing and one note when they recover.
 */
export function createLeaseWriter(options: LeaseWriterOptions): LeaseWriter {
  return new Writer(options);
}
