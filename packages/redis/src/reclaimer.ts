import type { Diagnostic, DiagnosticFields, DiagnosticLevel } from '@keepalive/core';
import { Emitter, createDiagnosticSink, errorName, nextInstanceId } from '@keepalive/node-timers';
import { LuaScript, RedisLink, RedisNotConnectedError, errorClass } from './connection.js';
import { checkLeaseBounds, decodeLease, leaseKeys, type Lease, type LeaseKeys } from './lease-codec.js';
import { classifyLease, type LeaseLimits, type LeaseStatus } from './lease-state.js';
import { defineReclaimerConfig, type ReclaimerConfig, type ReclaimerOptions } from './options.js';

/**
 * Diagnostics of a {@link Reclaimer} (counts, names and durations only; never session ids or error messages).
 * `error` is the failing command's error class: the Redis error prefix (`WRONGTYPE`, `OOM`, `NOSCRIPT`, …), a
 * system error's code, or the error's name (`RedisTimeoutError`, `RedisNotConnectedError`).
 *
 * | name | level | fields |
 * | --- | --- | --- |
 * | `redis_ready` | info | none |
 * | `redis_lost` | warn | `error` |
 * | `sweep_failed` | warn | once when sweeps start failing (not per sweep): `error`, `op` (`read`, or `prune`: the expired entries are pruned at a later sweep), `shards` (how many could not be read or pruned; after `readStaleMs` without a read of its shard a session turns `unknown`) |
 * | `sweep_recovered` | info | once when sweeps succeed again: `op`, `failures` (sweeps that failed meanwhile; `stats().failedSweeps` counts every failed read), `failedMs` |
 * | `sweep_slow` | warn, or info when `readStaleMs` is the default | once when a sweep that read every shard took so long that sessions would turn `unknown` between two reads (two sweeps more than `readStaleMs`): `sweepMs`, `readStaleMs` (the one in force). Left at its default, `readStaleMs` follows the sweeps: three times the longest of `sweepIntervalMs` and the last 8 complete sweeps' durations (info). Set explicitly, it is kept, and sessions flip to `unknown` (warn): raise it above three sweeps, or read fewer leases per reclaimer |
 * | `lease_ignored` | warn | `problem` (`not_json`, `not_an_object`, `unknown_version`, `bad_field`, `wrong_type`, `out_of_bounds`, `no_expiry`), `total` (entries ignored at this sweep); once per entry until its value changes |
 * | `data_lost` | warn | `sessions` (Redis, or a master of a cluster, came back empty: they are `unknown` until their owners write again), `shards` |
 */
export const RECLAIMER_DIAGNOSTICS = Object.freeze({
  ready: 'redis_ready',
  lost: 'redis_lost',
  sweepFailed: 'sweep_failed',
  sweepRecovered: 'sweep_recovered',
  sweepSlow: 'sweep_slow',
  leaseIgnored: 'lease_ignored',
  dataLost: 'data_lost',
} as const);

/**
 * What the reclaimer says about one session now.
 */
export interface SessionView {
  readonly session: string;
  readonly status: LeaseStatus;
  /** The last lease read (`null` never: a session is known from its first lease). */
  readonly lease: Lease;
  /** Idle at least this long (idle and reclaimable sessions), else `null`. */
  readonly idleMs: number | null;
}

/**
 * A change of one session's status: `previous` is `null` the first time the reclaimer sees the session.
 */
export interface StatusChange extends SessionView {
  readonly previous: LeaseStatus | null;
}

/**
 * An orphan: an index entry whose lease key is gone, of a session this reclaimer never saw with a lease (its owner
 * died before this reclaimer started, or while it was not reading). Reported once as `expired`, with no lease
 * (nothing is known of it but its id), when the reclaimer pruned it from the index: found without its key by two
 * reads at least `graceMs` apart, then removed atomically only if the key was still gone.
 */
export interface OrphanChange {
  readonly session: string;
  readonly status: 'expired';
  readonly previous: null;
  readonly lease: null;
  readonly idleMs: null;
}

/**
 * The events of a {@link Reclaimer}: `change` for every status change, and one event per status entered:
 * `reclaimable` (idle at least `idleLimitMs`), `expired` (lease ran out: the owner died or was cut off; `lease`
 * `null` for an {@link OrphanChange}), `busy` (busy, or busy again), `idle`, `unknown` (stale data: nothing
 * decided), `ended` (removed by its owner).
 */
export interface ReclaimerEvents {
  change: StatusChange | OrphanChange;
  busy: StatusChange;
  idle: StatusChange;
  reclaimable: StatusChange;
  unknown: StatusChange;
  expired: StatusChange | OrphanChange;
  ended: StatusChange;
}

/**
 * Counters of a {@link Reclaimer}.
 */
export interface ReclaimerStats {
  readonly sessions: number;
  /** Sweeps that read every shard. */
  readonly sweeps: number;
  /** Sweeps that could not read some shard (the others were read and reported as usual). */
  readonly failedSweeps: number;
  /** Index entries whose value is not a lease this reclaimer trusts (foreign, corrupt, out of bounds), at the last sweep. */
  readonly ignored: number;
  /** Orphans (index entries without their key, of sessions this reclaimer never saw) reported `expired` and pruned, so far. */
  readonly orphans: number;
  /** Index entries pruned (their key gone), so far. */
  readonly pruned: number;
  /** Age of the last successful read of the shard read longest ago, or `null` before every shard was read once. */
  readonly lastReadAgeMs: number | null;
  /** How long the last sweep that read every shard took (ms), or `null` before one did. */
  readonly lastSweepMs: number | null;
  /**
   * The `readStaleMs` in force: the option, or (left at its default) three times the longest of `sweepIntervalMs` and
   * the last 8 complete sweeps' durations.
   */
  readonly readStaleMs: number;
}

/**
 * Lists and watches every session's lease across every process writing under the same prefix.
 */
export interface Reclaimer {
  readonly config: ReclaimerConfig;
  /** Adds a listener; returns its remover. A listener that throws is reported and never stops the sweep. */
  on<K extends keyof ReclaimerEvents>(event: K, listener: (event: ReclaimerEvents[K]) => void): () => void;
  /** Every session known now, with its status. */
  sessions(): ReadonlyMap<string, SessionView>;
  /** Reads every lease now (or joins the read in flight) and reports the changes. */
  sweep(): Promise<void>;
  stats(): ReclaimerStats;
  /** Stops sweeping and closes the connection. */
  close(): Promise<void>;
}

interface Known {
  readonly session: string;
  readonly shard: number;
  lease: Lease;
  current: Lease | null;
  listed: boolean;
  seenAt: number;
  lostAt: number | null;
  status: LeaseStatus | null;
  idleMs: number | null;
}

/**
 * One page of a shard's index, atomically: `SSCAN` the index (KEYS[1]) from a cursor (ARGV[1], ARGV[2] entries),
 * then `GET` (and `PTTL`) each listed lease (KEYS[2] is the shard's lease prefix: every key is in the shard's slot)
 * in the same script, so a lease removed with its index entry (one script) is never seen listed without its key.
 * On the first page (ARGV[3] not empty) it first sets the reclaimer's marker in the shard (KEYS[3], `PX` ARGV[3])
 * and says whether it was there. Returns `[cursor, marker, id1, value1, pttl1, id2, value2, pttl2, …]`: `marker` 1
 * (there), 0 (gone: the master lost its data), -1 (not set: not the first page, or refused, as by a full Redis); a
 * missing key is `false` (nil), a key of another type is `"\0wrongtype"`; the `PTTL` is `-1` for a key without an
 * expiry.
 */
const PAGE_SCRIPT = /* @__PURE__ */ new LuaScript(`
local marker = -1
if ARGV[3] ~= '' then
  local previous = redis.pcall('SET', KEYS[3], '1', 'PX', ARGV[3], 'GET')
  if type(previous) == 'table' and previous.err then marker = -1
  elseif previous then marker = 1
  else marker = 0 end
end
local page = redis.call('SSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local out = { page[1], marker }
for _, id in ipairs(page[2]) do
  local key = KEYS[2] .. id
  local value = redis.pcall('GET', key)
  local ttl = -2
  if type(value) == 'table' and value.err then value = '\\0wrongtype'
  elseif value then ttl = redis.call('PTTL', key) end
  out[#out + 1] = id
  out[#out + 1] = value
  out[#out + 1] = ttl
end
return out`);

/**
 * Removes index entries (ARGV) of one shard whose lease key is gone, checked atomically (a lease written meanwhile
 * stays listed): KEYS[1] the shard's index, KEYS[2] its lease prefix. Returns the ids removed.
 */
const PRUNE_SCRIPT = /* @__PURE__ */ new LuaScript(`
local removed = {}
for _, id in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[2] .. id) == 0 and redis.call('SREM', KEYS[1], id) == 1 then removed[#removed + 1] = id end
end
return removed`);

/** What one shard's read found: each listed id's value (`null`: no key) and `PTTL`, and whether its data was lost. */
type ShardRead =
  | { readonly ok: true; readonly shard: number; readonly found: Map<string, { readonly value: string | null; readonly ttl: number }>; readonly lost: boolean }
  | { readonly ok: false; readonly shard: number; readonly error: unknown };

const MARKER_TTL_MS = 3_600_000;
/** Pages read per sweep at most, over every shard. */
const MAX_PAGES = 1_000_000;
/** Complete sweeps whose longest duration sets a default `readStaleMs` (one slower sweep does not flip everything). */
const SWEEP_WINDOW = 8;

class LeaseReclaimer implements Reclaimer {
  readonly config: ReclaimerConfig;
  private readonly keys: LeaseKeys;
  private limits: LeaseLimits;
  /** Whether `readStaleMs` was left at its default: it then follows the measured sweeps. */
  private readonly staleFollowsSweeps: boolean;
  private lastSweepMs: number | null = null;
  /** The durations of the last complete sweeps (at most `SWEEP_WINDOW`), oldest first. */
  private readonly sweepDurations: number[] = [];
  private slow = false;
  /** Per op (`read`, `prune`): when sweeps started failing and the failed sweeps then, while they fail. */
  private readonly failing = new Map<'read' | 'prune', { readonly since: number; failures: number }>();
  private readonly link: RedisLink;
  private readonly emitDiagnostic: (diagnostic: Diagnostic) => void;
  private readonly events: Emitter<ReclaimerEvents>;
  private readonly known = new Map<string, Known>();
  private inflight: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval> | null;
  /** Per shard: when its last successful read started (`null` before any). */
  private readonly lastReadAt: (number | null)[];
  private readonly markerId: string;
  private closed = false;
  private readonly counters = { sweeps: 0, failedSweeps: 0, ignored: 0, orphans: 0, pruned: 0 };
  /** Entries listed without a key that this reclaimer never saw with a lease: when first found so (start of that read). */
  private orphanSince = new Map<string, number>();
  /** Entries reported `expired` whose pruning failed: pruned at a later sweep, never reported again. */
  private reported = new Set<string>();
  /** The ignored entries and a fingerprint of what was reported for each (reported again only when it changes). */
  private ignoredEntries = new Map<string, string>();

  constructor(options: ReclaimerOptions) {
    this.config = defineReclaimerConfig(options);
    this.keys = leaseKeys(this.config.prefix, this.config.shards);
    this.lastReadAt = new Array<number | null>(this.config.shards).fill(null);
    this.limits = { idleLimitMs: this.config.idleLimitMs, readStaleMs: this.config.readStaleMs, graceMs: this.config.graceMs };
    this.staleFollowsSweeps = options.readStaleMs === undefined;
    this.markerId = `${String(Date.now())}-${String(Math.random()).slice(2, 10)}`;
    this.emitDiagnostic = createDiagnosticSink({ session: nextInstanceId(), logger: options.logger, onDiagnostic: options.onDiagnostic });
    this.events = new Emitter<ReclaimerEvents>(['change', 'busy', 'idle', 'reclaimable', 'unknown', 'expired', 'ended'], (event, error) => {
      this.report('warn', 'listener_failed', { event, error: errorName(error) });
    });
    this.link = new RedisLink({
      url: this.config.url,
      client: options.client ?? null,
      commandTimeoutMs: this.config.commandTimeoutMs,
      reconnectMaxMs: this.config.reconnectMaxMs,
      onEvent: (event) => {
        if (event.type === 'ready') this.report('info', RECLAIMER_DIAGNOSTICS.ready, {});
        else this.report('warn', RECLAIMER_DIAGNOSTICS.lost, { error: event.error });
      },
    });
    this.timer = setInterval(() => {
      // The verdicts age even while a read hangs: stale data turns into `unknown`.
      this.classifyAll(now());
      void this.sweep();
    }, this.config.sweepIntervalMs);
    this.timer.unref();
  }

  on<K extends keyof ReclaimerEvents>(event: K, listener: (event: ReclaimerEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  sessions(): ReadonlyMap<string, SessionView> {
    const views = new Map<string, SessionView>();
    for (const known of this.known.values()) {
      if (known.status !== null) views.set(known.session, { session: known.session, status: known.status, lease: known.lease, idleMs: known.idleMs });
    }
    return views;
  }

  sweep(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.inflight ??= this.read().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  stats(): ReclaimerStats {
    let oldest: number | null = Infinity;
    for (const at of this.lastReadAt) oldest = at === null || oldest === null ? null : Math.min(oldest, at);
    return { ...this.counters, sessions: this.known.size, lastReadAgeMs: oldest === null ? null : now() - oldest, lastSweepMs: this.lastSweepMs, readStaleMs: this.limits.readStaleMs };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.inflight?.catch(() => undefined);
    if (this.link.ready) {
      const markers = Array.from({ length: this.keys.shards }, (_, shard) => this.keys.marker(shard, this.markerId));
      await this.link.run((client) => Promise.all(markers.map((marker) => client.del(marker)))).catch(() => undefined);
    }
    await this.link.close();
    this.events.clear();
  }

  /** Reads one shard, page by page (at most `budget.pages` pages left for the whole sweep). */
  private async readShard(shard: number, budget: { pages: number }): Promise<ShardRead> {
    const found = new Map<string, { readonly value: string | null; readonly ttl: number }>();
    let lost = false;
    try {
      if (!this.link.ready) throw new RedisNotConnectedError();
      const keys = [this.keys.index(shard), this.keys.leasePrefix(shard), this.keys.marker(shard, this.markerId)];
      const count = String(this.config.pageSize);
      let cursor = '0';
      for (let page = 0; budget.pages > 0; page++) {
        budget.pages--;
        const from = cursor;
        // A marker that vanished means this shard's master lost its data (a restart without persistence, a failover
        // to a replica that had not caught up, a flush).
        const args = [from, count, page === 0 ? String(MARKER_TTL_MS) : ''];
        const reply: unknown = await this.link.run((client) => PAGE_SCRIPT.run(client, keys, args));
        if (!Array.isArray(reply) || reply.length % 3 !== 2) throw new TypeError('unexpected page reply');
        cursor = String(reply[0]);
        if (page === 0) lost = Number(reply[1]) === 0 && this.lastReadAt[shard] !== null;
        for (let i = 2; i < reply.length; i += 3) {
          const value: unknown = reply[i + 1];
          found.set(String(reply[i]), { value: typeof value === 'string' ? value : null, ttl: Number(reply[i + 2]) });
        }
        if (cursor === '0') break;
      }
    } catch (error) {
      return { ok: false, shard, error };
    }
    return { ok: true, shard, found, lost };
  }

  private async read(): Promise<void> {
    const startedAt = now();
    const budget = { pages: MAX_PAGES };
    // Every shard at once: on a cluster, each master reads its own shards.
    const reads = await Promise.all(Array.from({ length: this.keys.shards }, (_, shard) => this.readShard(shard, budget)));
    const read = new Set<number>();
    const lostShards = new Set<number>();
    const found = new Map<string, { readonly value: string | null; readonly ttl: number }>();
    let failure: unknown = null;
    let failed = 0;
    for (const result of reads) {
      if (!result.ok) {
        failed++;
        failure ??= result.error;
        continue;
      }
      read.add(result.shard);
      if (result.lost) lostShards.add(result.shard);
      for (const [session, entry] of result.found) found.set(session, entry);
    }
    if (failed > 0) {
      this.counters.failedSweeps++;
      this.failed('read', failure, failed);
      if (read.size === 0) {
        this.classifyAll(now());
        return;
      }
    } else {
      this.counters.sweeps++;
      this.succeeded('read');
    }
    const readAt = now();
    if (failed === 0) this.measured(readAt - startedAt);
    for (const shard of read) this.lastReadAt[shard] = startedAt;
    if (lostShards.size > 0) {
      let sessions = 0;
      for (const known of this.known.values()) if (lostShards.has(known.shard)) sessions++;
      if (sessions > 0) this.report('warn', RECLAIMER_DIAGNOSTICS.dataLost, { sessions, shards: lostShards.size });
    }
    // What is kept of the shards not read this time: as it was.
    const unread = (session: string): boolean => !read.has(this.keys.shardOf(session));
    const orphanSince = new Map([...this.orphanSince].filter(([session]) => unread(session)));
    const orphans: string[] = [];
    const silent: string[] = [];
    const reported = this.reported;
    const ignored = new Map([...this.ignoredEntries].filter(([session]) => unread(session)));
    const newlyIgnored: string[] = [];
    for (const [session, { value, ttl }] of found) {
      const known = this.known.get(session);
      if (value === null) {
        if (known !== undefined) {
          known.current = null;
          known.listed = true;
        } else if (reported.has(session)) {
          // Reported expired already; its pruning failed: pruned now, not reported again.
          silent.push(session);
        } else {
          // An orphan: listed without its key, never seen alive here (its owner died before this reclaimer
          // started). This package's writer writes a lease before its index entry, in one script, so this is an
          // expired lease; a writer that lists first (another implementation) leaves an entry without its key for
          // one round trip, hence two reads at least graceMs apart before it is reported and pruned.
          const since = this.orphanSince.get(session);
          if (since !== undefined && startedAt - since >= this.config.graceMs) orphans.push(session);
          orphanSince.set(session, since ?? startedAt);
        }
        continue;
      }
      const decoded = decodeLease(value === '\0wrongtype' ? '' : value);
      const problem = value === '\0wrongtype' ? 'wrong_type' : decoded.ok ? checkLeaseBounds(decoded.lease, ttl, this.config.maxRenewalMs) : decoded.problem;
      if (problem !== null || !decoded.ok) {
        // Not a lease this reclaimer trusts (foreign, corrupt, out of bounds): a known session's last good lease
        // ages into `unknown`. Reported once per entry until its value changes.
        const print = `${problem ?? 'bad_field'}:${fingerprint(value)}`;
        ignored.set(session, print);
        if (this.ignoredEntries.get(session) !== print) newlyIgnored.push(problem ?? 'bad_field');
        continue;
      }
      const lease = decoded.lease;
      if (known === undefined) {
        this.known.set(session, { session, shard: this.keys.shardOf(session), lease, current: lease, listed: true, seenAt: readAt, lostAt: null, status: null, idleMs: null });
        continue;
      }
      if (known.current?.renewal !== lease.renewal) known.seenAt = readAt;
      known.lease = lease;
      known.current = lease;
      known.listed = true;
      known.lostAt = null;
    }
    for (const known of this.known.values()) {
      if (found.has(known.session) || !read.has(known.shard)) continue;
      known.current = null;
      known.listed = false;
      if (lostShards.has(known.shard) && known.lostAt === null) known.lostAt = startedAt;
    }
    this.ignoredEntries = ignored;
    this.counters.ignored = ignored.size;
    for (const problem of newlyIgnored) this.report('warn', RECLAIMER_DIAGNOSTICS.leaseIgnored, { problem, total: ignored.size });
    const expired = this.classifyAll(now());
    const prune = [...expired, ...silent, ...orphans];
    const removed = new Set<string>();
    const failedPrunes = new Set<number>();
    let pruneError: unknown = null;
    const byShard = new Map<number, string[]>();
    for (const session of prune) {
      const shard = this.keys.shardOf(session);
      const list = byShard.get(shard);
      if (list === undefined) byShard.set(shard, [session]);
      else list.push(session);
    }
    await Promise.all(
      [...byShard].map(async ([shard, sessions]) => {
        const keys = [this.keys.index(shard), this.keys.leasePrefix(shard)];
        for (let i = 0; i < sessions.length; i += this.config.pageSize) {
          const chunk = sessions.slice(i, i + this.config.pageSize);
          try {
            const reply: unknown = await this.link.run((client) => PRUNE_SCRIPT.run(client, keys, chunk));
            if (Array.isArray(reply)) for (const id of reply) removed.add(String(id));
          } catch (error) {
            // Pruned at a later sweep: the expired are not reported again, the orphans are reported once pruned.
            failedPrunes.add(shard);
            pruneError ??= error;
            return;
          }
        }
      }),
    );
    if (failedPrunes.size > 0) this.failed('prune', pruneError, failedPrunes.size);
    else this.succeeded('prune');
    this.counters.pruned += removed.size;
    this.reported = new Set([...expired, ...silent].filter((id) => !removed.has(id) && (failedPrunes.has(this.keys.shardOf(id)) || !read.has(this.keys.shardOf(id)))));
    for (const id of reported) if (unread(id)) this.reported.add(id);
    const changes: OrphanChange[] = [];
    for (const session of orphans) {
      if (!removed.has(session)) continue;
      // Reported and forgotten; one not removed (its key written meanwhile, or the prune failed) stays a candidate.
      orphanSince.delete(session);
      changes.push({ session, status: 'expired', previous: null, lease: null, idleMs: null });
    }
    this.orphanSince = orphanSince;
    this.counters.orphans += changes.length;
    for (const change of changes) {
      this.events.emit('change', change);
      this.events.emit('expired', change);
    }
  }

  /** Classifies every known session at `at`, emits the changes, forgets the ended; returns the expired ids. */
  private classifyAll(at: number): string[] {
    const expired: string[] = [];
    const changes: StatusChange[] = [];
    for (const known of this.known.values()) {
      const verdict = classifyLease(
        { lease: known.current, last: known.lease, listed: known.listed, seenAt: known.seenAt, lostAt: known.lostAt },
        { now: at, lastReadAt: this.lastReadAt[known.shard] ?? null },
        this.limits,
      );
      known.idleMs = verdict.idleMs;
      if (verdict.status === 'expired' && known.listed) expired.push(known.session);
      if (verdict.status === known.status) continue;
      changes.push({ session: known.session, status: verdict.status, previous: known.status, lease: known.lease, idleMs: verdict.idleMs });
      known.status = verdict.status;
      if (verdict.status === 'expired' || verdict.status === 'ended') this.known.delete(known.session);
    }
    for (const change of changes) {
      this.events.emit('change', change);
      this.events.emit(change.status, change);
    }
    return expired;
  }

  /** A sweep could not read (or prune) `shards` shards: reported when sweeps start failing, not at every sweep. */
  private failed(op: 'read' | 'prune', error: unknown, shards: number): void {
    const failing = this.failing.get(op);
    if (failing !== undefined) {
      failing.failures++;
      return;
    }
    this.failing.set(op, { since: now(), failures: 1 });
    this.report('warn', RECLAIMER_DIAGNOSTICS.sweepFailed, { error: errorClass(error), op, shards });
  }

  /** A sweep read (or pruned) every shard: reported once after a failing period. */
  private succeeded(op: 'read' | 'prune'): void {
    const failing = this.failing.get(op);
    if (failing === undefined) return;
    this.failing.delete(op);
    this.report('info', RECLAIMER_DIAGNOSTICS.sweepRecovered, { op, failures: failing.failures, failedMs: Math.round(now() - failing.since) });
  }

  /**
   * A sweep that read every shard took `ms`. Sessions are judged on data up to two sweeps old (the read in progress
   * and the one before, each dated from its start): past `readStaleMs` they would turn `unknown` between two reads.
   * Left at its default, `readStaleMs` follows (three sweeps); set, it is kept and the slowness reported.
   */
  private measured(ms: number): void {
    this.lastSweepMs = ms;
    const durations = this.sweepDurations;
    durations.push(ms);
    if (durations.length > SWEEP_WINDOW) durations.shift();
    const longest = Math.max(this.config.sweepIntervalMs, ...durations);
    if (this.staleFollowsSweeps) {
      const readStaleMs = Math.max(this.config.readStaleMs, 3 * longest);
      if (readStaleMs !== this.limits.readStaleMs) this.limits = { ...this.limits, readStaleMs };
    }
    const slow = 2 * longest > this.config.readStaleMs;
    if (slow && !this.slow) {
      this.report(this.staleFollowsSweeps ? 'info' : 'warn', RECLAIMER_DIAGNOSTICS.sweepSlow, { sweepMs: Math.round(ms), readStaleMs: Math.round(this.limits.readStaleMs) });
    }
    this.slow = slow;
  }

  private report(level: DiagnosticLevel, name: string, fields: DiagnosticFields): void {
    this.emitDiagnostic({ type: 'diagnostic', level, name, fields });
  }
}

function now(): number {
  return performance.now();
}

/** A cheap fingerprint of a value (FNV-1a, 32 bits, and its length): a collision only spares a diagnostic. */
function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return `${String(text.length)}:${(hash >>> 0).toString(36)}`;
}

/**
 * Creates a {@link Reclaimer} on a single Redis (`url`, or a `client` from `createClient`) or a Redis Cluster (a
 * `client` from `createCluster`): it reads every lease each `sweepIntervalMs` (every shard of the index at once, one
 * atomic script per `pageSize` entries of a shard, never a scan of the keyspace) and reports status changes. While
 * it cannot read a shard (Redis, or the master holding it, is down), that shard's sessions turn `unknown` once its
 * last good read is `readStaleMs` old: it never reports idle or reclaimable on stale data. A killed owner's sessions
 * are `expired` within their lease expiry plus one sweep. A bad option throws `KeepaliveOptionError` naming it.
 */
export function createReclaimer(options: ReclaimerOptions): Reclaimer {
  return new LeaseReclaimer(options);
}
