import type { Diagnostic, DiagnosticFields, DiagnosticLevel } from '@keepalive/core';
import { Emitter, createDiagnosticSink, errorName, nextInstanceId } from '@keepalive/node-timers';
import { RedisLink, RedisNotConnectedError, errorClass } from './connection.js';
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
 * | `sweep_failed` | warn | `error`, `op` (`read`, or `prune`: the expired entries are pruned at a later sweep) (after `readStaleMs` without a read every session turns `unknown`) |
 * | `lease_ignored` | warn | `problem` (`not_json`, `not_an_object`, `unknown_version`, `bad_field`, `wrong_type`, `out_of_bounds`, `no_expiry`), `total` (entries ignored at this sweep); once per entry until its value changes |
 * | `data_lost` | warn | `sessions` (Redis came back empty: they are `unknown` until their owners write again) |
 */
export const RECLAIMER_DIAGNOSTICS = Object.freeze({
  ready: 'redis_ready',
  lost: 'redis_lost',
  sweepFailed: 'sweep_failed',
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
  readonly sweeps: number;
  readonly failedSweeps: number;
  /** Index entries whose value is not a lease this reclaimer trusts (foreign, corrupt, out of bounds), at the last sweep. */
  readonly ignored: number;
  /** Orphans (index entries without their key, of sessions this reclaimer never saw) reported `expired` and pruned, so far. */
  readonly orphans: number;
  /** Index entries pruned (their key gone), so far. */
  readonly pruned: number;
  /** Age of the last successful read, or `null` before any. */
  readonly lastReadAgeMs: number | null;
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
  lease: Lease;
  current: Lease | null;
  listed: boolean;
  seenAt: number;
  lostAt: number | null;
  status: LeaseStatus | null;
  idleMs: number | null;
}

/**
 * One page of the index, atomically: `SSCAN` the index from a cursor, then `GET` (and `PTTL`) each listed lease in
 * the same script, so a lease removed with its index entry (one `MULTI`) is never seen listed without its key.
 * Returns `[cursor, id1, value1, pttl1, id2, value2, pttl2, …]`; a missing key is `false` (nil), a key of another
 * type is `"\0wrongtype"`; the `PTTL` is `-1` for a key without an expiry.
 */
const PAGE_SCRIPT = `
local page = redis.call('SSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local out = { page[1] }
for _, id in ipairs(page[2]) do
  local key = ARGV[3] .. id
  local value = redis.pcall('GET', key)
  local ttl = -2
  if type(value) == 'table' and value.err then value = '\\0wrongtype'
  elseif value then ttl = redis.call('PTTL', key) end
  out[#out + 1] = id
  out[#out + 1] = value
  out[#out + 1] = ttl
end
return out`;

/**
 * Removes index entries whose lease key is gone, checked atomically (a lease written meanwhile stays listed);
 * returns the ids removed.
 */
const PRUNE_SCRIPT = `
local removed = {}
for _, id in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[2] .. id) == 0 and redis.call('SREM', KEYS[1], id) == 1 then removed[#removed + 1] = id end
end
return removed`;

const MARKER_TTL_MS = 3_600_000;
const MAX_PAGES = 1_000_000;

class LeaseReclaimer implements Reclaimer {
  readonly config: ReclaimerConfig;
  private readonly keys: LeaseKeys;
  private readonly limits: LeaseLimits;
  private readonly link: RedisLink;
  private readonly emitDiagnostic: (diagnostic: Diagnostic) => void;
  private readonly events: Emitter<ReclaimerEvents>;
  private readonly known = new Map<string, Known>();
  private readonly marker: string;
  private inflight: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval> | null;
  private lastReadAt: number | null = null;
  private everRead = false;
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
    this.keys = leaseKeys(this.config.prefix);
    this.limits = { idleLimitMs: this.config.idleLimitMs, readStaleMs: this.config.readStaleMs, graceMs: this.config.graceMs };
    this.marker = this.keys.marker(`${String(Date.now())}-${String(Math.random()).slice(2, 10)}`);
    this.emitDiagnostic = createDiagnosticSink({ session: nextInstanceId(), logger: options.logger, onDiagnostic: options.onDiagnostic });
    this.events = new Emitter<ReclaimerEvents>(['change', 'busy', 'idle', 'reclaimable', 'unknown', 'expired', 'ended'], (event, error) => {
      this.report('warn', 'listener_failed', { event, error: errorName(error) });
    });
    this.link = new RedisLink({
      url: this.config.url,
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
    return { ...this.counters, sessions: this.known.size, lastReadAgeMs: this.lastReadAt === null ? null : now() - this.lastReadAt };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.inflight?.catch(() => undefined);
    if (this.link.ready) await this.link.run((client) => client.del(this.marker)).catch(() => undefined);
    await this.link.close();
    this.events.clear();
  }

  private async read(): Promise<void> {
    const startedAt = now();
    const found = new Map<string, { readonly value: string | null; readonly ttl: number }>();
    let lost = false;
    try {
      if (!this.link.ready) throw new RedisNotConnectedError();
      // A marker that vanished means Redis lost its data (a restart without persistence, a failover, a flush).
      const previous = await this.link.run((client) => client.set(this.marker, '1', { expiration: { type: 'PX', value: MARKER_TTL_MS }, GET: true }));
      lost = previous === null && this.everRead;
      let cursor = '0';
      for (let page = 0; page < MAX_PAGES; page++) {
        const from = cursor;
        const reply: unknown = await this.link.run((client) => client.eval(PAGE_SCRIPT, { keys: [this.keys.index], arguments: [from, String(this.config.pageSize), this.keys.leasePrefix] }));
        if (!Array.isArray(reply) || reply.length % 3 !== 1) throw new TypeError('unexpected page reply');
        cursor = String(reply[0]);
        for (let i = 1; i < reply.length; i += 3) {
          const value: unknown = reply[i + 1];
          found.set(String(reply[i]), { value: typeof value === 'string' ? value : null, ttl: Number(reply[i + 2]) });
        }
        if (cursor === '0') break;
      }
    } catch (error) {
      this.counters.failedSweeps++;
      this.report('warn', RECLAIMER_DIAGNOSTICS.sweepFailed, { error: errorClass(error), op: 'read' });
      this.classifyAll(now());
      return;
    }
    const readAt = now();
    this.counters.sweeps++;
    this.everRead = true;
    this.lastReadAt = startedAt;
    if (lost && this.known.size > 0) this.report('warn', RECLAIMER_DIAGNOSTICS.dataLost, { sessions: this.known.size });
    const orphanSince = new Map<string, number>();
    const orphans: string[] = [];
    const silent: string[] = [];
    const reported = this.reported;
    const ignored = new Map<string, string>();
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
        this.known.set(session, { session, lease, current: lease, listed: true, seenAt: readAt, lostAt: null, status: null, idleMs: null });
        continue;
      }
      if (known.current?.renewal !== lease.renewal) known.seenAt = readAt;
      known.lease = lease;
      known.current = lease;
      known.listed = true;
      known.lostAt = null;
    }
    for (const known of this.known.values()) {
      if (found.has(known.session)) continue;
      known.current = null;
      known.listed = false;
      if (lost && known.lostAt === null) known.lostAt = startedAt;
    }
    this.ignoredEntries = ignored;
    this.counters.ignored = ignored.size;
    for (const problem of newlyIgnored) this.report('warn', RECLAIMER_DIAGNOSTICS.leaseIgnored, { problem, total: ignored.size });
    const expired = this.classifyAll(now());
    const prune = [...expired, ...silent, ...orphans];
    const removed = new Set<string>();
    let pruneFailed = false;
    for (let i = 0; i < prune.length && !pruneFailed; i += this.config.pageSize) {
      const chunk = prune.slice(i, i + this.config.pageSize);
      try {
        const reply: unknown = await this.link.run((client) => client.eval(PRUNE_SCRIPT, { keys: [this.keys.index, this.keys.leasePrefix], arguments: chunk }));
        if (Array.isArray(reply)) for (const id of reply) removed.add(String(id));
      } catch (error) {
        // Pruned at a later sweep: the expired are not reported again, the orphans are reported once pruned.
        pruneFailed = true;
        this.report('warn', RECLAIMER_DIAGNOSTICS.sweepFailed, { error: errorClass(error), op: 'prune' });
      }
    }
    this.counters.pruned += removed.size;
    this.reported = new Set([...expired, ...silent].filter((id) => pruneFailed && !removed.has(id)));
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
        { now: at, lastReadAt: this.lastReadAt },
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
 * Creates a {@link Reclaimer} connected to `url`: it reads every lease each `sweepIntervalMs` (one atomic script per
 * `pageSize` index entries, never a scan of the keyspace) and reports status changes. While it cannot read Redis,
 * every session turns `unknown` once the last good read is `readStaleMs` old: it never reports idle or reclaimable
 * on stale data. A killed owner's sessions are `expired` within their lease expiry plus one sweep. A bad option
 * throws `KeepaliveOptionError` naming it.
 */
export function createReclaimer(options: ReclaimerOptions): Reclaimer {
  return new LeaseReclaimer(options);
}
