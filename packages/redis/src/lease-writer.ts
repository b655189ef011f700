import { hostname } from 'node:os';
import type { Diagnostic, DiagnosticFields, DiagnosticLevel, SessionState } from '@keepalive/core';
import { createDiagnosticSink, errorName, nextInstanceId, type WorkActivity } from '@keepalive/node-timers';
import { RedisLink } from './connection.js';
import { encodeLease, leaseKeys, type LeaseKeys } from './lease-codec.js';
import { defineLeaseWriterConfig, type LeaseWriterConfig, type LeaseWriterOptions } from './options.js';

/**
 * Diagnostics of a {@link LeaseWriter} (counts, names and durations only; never session ids or owners):
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `redis_ready` | info | `leases` (written again at once) |
 * | `redis_lost` | warn | `error` (its name) |
 * | `lease_batch_failed` | warn | `error`, `leases` (kept, written at the next try) |
 * | `lease_removal_failed` | warn | `error` (its name, or `backlog_full` past 100 000 waiting removals), `leases` (they expire by themselves) |
 */
export const LEASE_WRITER_DIAGNOSTICS = Object.freeze({
  ready: 'redis_ready',
  lost: 'redis_lost',
  batchFailed: 'lease_batch_failed',
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
  readonly failedBatches: number;
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
  /** Writes what is pending now; resolves when that batch settled (for tests and orderly shutdowns). */
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
 * thousand: node-redis spends about 20 µs of the worker's CPU per command.
 */
const WRITE_SCRIPT = `
local n = #KEYS - 1
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
  private readonly counters = { writes: 0, batches: 0, failedBatches: 0, commands: 0 };

  constructor(options: LeaseWriterOptions) {
    this.config = defineLeaseWriterConfig(options);
    this.owner = this.config.owner ?? `${hostname()}/${process.pid}`;
    this.keys = leaseKeys(this.config.prefix);
    this.emit = createDiagnosticSink({ session: nextInstanceId(), logger: options.logger, onDiagnostic: options.onDiagnostic });
    this.renewal = Date.now();
    this.link = new RedisLink({
      url: this.config.url,
      commandTimeoutMs: this.config.commandTimeoutMs,
      reconnectMaxMs: this.config.reconnectMaxMs,
      onEvent: (event) => {
        if (event.type === 'ready') {
          // Redis may have restarted empty: every lease is written again at once.
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
    return { ...this.counters, sessions: this.entries.size, pending, connected: this.link.ready };
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
        this.report('warn', LEASE_WRITER_DIAGNOSTICS.removalFailed, { error: 'backlog_full', leases: 1 });
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

  /** Arms the one timer for `at`, unless it is armed sooner. */
  private arm(at: number): void {
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
    if (removals.length > 0) {
      this.removals.clear();
      // One transaction: a reader sees the session listed with its lease, or neither (never "expired").
      this.counters.commands += 4;
      work.push(
        this.link.run((client) => client.multi().sRem(this.keys.index, removals).del(removals.map((id) => this.keys.lease(id))).exec()).catch((error: unknown) => {
          this.report('warn', LEASE_WRITER_DIAGNOSTICS.removalFailed, { error: errorName(error), leases: removals.length });
        }),
      );
    }
    const writes: [key: string, value: string, ttlMs: number][] = [];
    for (const entry of due) {
      entry.dirty = false;
      // Busy: renewed by the session's heartbeat (each one at least half an interval after the last write), at the
      // latest 1.5 intervals after it (a session with no sender attached has no heartbeat): the lease says so.
      const intervalMs = entry.busy ? entry.activity.state.config.heartbeatIntervalMs : this.config.idleRenewalMs;
      const renewMs = entry.busy ? Math.ceil(intervalMs * BUSY_RENEWAL_SLACK) : intervalMs;
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
            this.counters.failedBatches++;
            // Kept: each is written at the next try (its latest state; nothing accumulates per session).
            let kept = 0;
            for (const entry of due) {
              if (this.entries.get(entry.id) !== entry) continue;
              entry.dirty = true;
              kept++;
            }
            this.report('warn', LEASE_WRITER_DIAGNOSTICS.batchFailed, { error: errorName(error), leases: kept });
            next = Math.min(next, now() + Math.min(this.config.reconnectMaxMs, this.config.idleRenewalMs));
          },
        ),
      );
    }
    await Promise.all(work);
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
 * one batch at a time.
 */
export function createLeaseWriter(options: LeaseWriterOptions): LeaseWriter {
  return new Writer(options);
}
