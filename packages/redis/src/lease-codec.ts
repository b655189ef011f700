/**
 * The lease as it is stored in Redis: the key layout and the value's compact encoding, in one copy for the writer
 * and the reclaimer. Decoding never throws: a value that is not a lease of this version comes back as a problem
 * name (the reclaimer reports it and ignores the key).
 */
import { crc16, shardTags } from './slots.js';

/**
 * One session's lease: what the reclaimer reads. Times are milliseconds; `since` is the writer's wall clock (for
 * display: "busy since 12:04"), `ageMs` is how long the session had been in its state when the lease was written,
 * measured on the writer's monotonic clock (what the reclaimer's idle decision uses, so clock skew between machines
 * never makes a session look idle for longer than it was).
 */
export interface Lease {
  /** The owner process (default `hostname/pid`). */
  readonly owner: string;
  /** Whether any activity was in flight (S1). */
  readonly busy: boolean;
  /** Activities in flight by reason (empty while idle). */
  readonly counts: Readonly<Record<string, number>>;
  /** Wall-clock milliseconds since which the session has been busy (or idle). */
  readonly since: number;
  /** How long the session had been busy (or idle) when this lease was written. */
  readonly ageMs: number;
  /** The writer's renewal number for this session: it changes with every write, so a reader sees renewals. */
  readonly renewal: number;
  /** The renewal interval in force for this lease (the heartbeat interval while busy, the idle rate while idle). */
  readonly renewMs: number;
  /** The expiry the key was written with (`PX`): a few renewal intervals. */
  readonly ttlMs: number;
}

/**
 * The default number of shards of the lease index ({@link leaseKeys}): enough to spread the leases of a fleet over
 * the masters of a cluster of up to 16 masters (each gets about `16 / masters` shards), few enough that a sweep of
 * an empty or small fleet costs 16 small script calls.
 */
export const DEFAULT_SHARDS = 16;

/** The most shards an index may have. */
export const MAX_SHARDS = 1_024;

/**
 * Key names under a prefix, sharded: each session belongs to one of `shards` shards (a hash of its id), and each
 * shard has a hash tag (`{3.0}`, see {@link shardTags}) that every key of the shard carries, so that each key a
 * script touches is in one slot of a Redis Cluster, and the shards spread over its masters:
 *
 * - `<prefix>:lease:{<tag>}:<session>`: the session's lease (one string key, with a `PX` expiry);
 * - `<prefix>:leases:{<tag>}`: the shard's index, a set of session ids, that the reclaimer lists with `SSCAN`
 *   instead of scanning the keyspace;
 * - `<prefix>:reclaimer:{<tag>}:<id>`: a marker each reclaimer keeps in each shard, to notice that the master holding
 *   it lost its data.
 *
 * Every writer and reclaimer of a fleet must use the same prefix and the same number of shards.
 */
export interface LeaseKeys {
  readonly prefix: string;
  /** The number of shards. */
  readonly shards: number;
  /** The shard of a session (pure: CRC16 of its id, scaled to `shards`). */
  shardOf(session: string): number;
  /** The hash tag of a shard, without its braces. */
  tag(shard: number): string;
  /** The index of a shard. */
  index(shard: number): string;
  /** The prefix of every lease key of a shard (`<prefix>:lease:{<tag>}:`). */
  leasePrefix(shard: number): string;
  /** The lease key of a session (in its shard). */
  lease(session: string): string;
  /** The marker of reclaimer `id` in a shard. */
  marker(shard: number, id: string): string;
}

/** The {@link LeaseKeys} under `prefix` with `shards` shards (default {@link DEFAULT_SHARDS}). */
export function leaseKeys(prefix: string, shards: number = DEFAULT_SHARDS): LeaseKeys {
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > MAX_SHARDS) throw new RangeError(`leaseKeys: shards must be an integer in [1, ${String(MAX_SHARDS)}]`);
  const tags = shardTags(shards);
  const leasePrefixes = tags.map((tag) => `${prefix}:lease:{${tag}}:`);
  const indexes = tags.map((tag) => `${prefix}:leases:{${tag}}`);
  const shardOf = (session: string): number => Math.floor((crc16(session) * shards) / 65_536);
  const at = <T>(list: readonly T[], shard: number): T => {
    const value = list[shard];
    if (value === undefined) throw new RangeError(`no shard ${String(shard)} of ${String(shards)}`);
    return value;
  };
  return Object.freeze({
    prefix,
    shards,
    shardOf,
    tag: (shard: number) => at(tags, shard),
    index: (shard: number) => at(indexes, shard),
    leasePrefix: (shard: number) => at(leasePrefixes, shard),
    lease: (session: string) => at(leasePrefixes, shardOf(session)) + session,
    marker: (shard: number, id: string) => `${prefix}:reclaimer:{${at(tags, shard)}}:${id}`,
  });
}

const VERSION = 1;

/**
 * Encodes a lease as compact JSON (`{"v":1,"o":…,"b":1,"c":{…},"s":…,"a":…,"n":…,"r":…,"t":…}`, about 120 bytes
 * with one reason).
 */
export function encodeLease(lease: Lease): string {
  return JSON.stringify({
    v: VERSION,
    o: lease.owner,
    b: lease.busy ? 1 : 0,
    c: lease.counts,
    s: Math.round(lease.since),
    a: Math.round(lease.ageMs),
    n: lease.renewal,
    r: lease.renewMs,
    t: lease.ttlMs,
  });
}

/**
 * What decoding found: a lease, or the name of the problem (`not_json`, `not_an_object`, `unknown_version`,
 * `bad_field`) for a diagnostic.
 */
export type DecodedLease = { readonly ok: true; readonly lease: Lease } | { readonly ok: false; readonly problem: 'not_json' | 'not_an_object' | 'unknown_version' | 'bad_field' };

const MAX_VALUE_BYTES = 64 * 1024;

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** Decodes a stored value; never throws (foreign or corrupt data is a problem name, not an exception). */
export function decodeLease(text: string): DecodedLease {
  if (text.length > MAX_VALUE_BYTES) return { ok: false, problem: 'bad_field' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'not_json' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, problem: 'not_an_object' };
  const record = value as Record<string, unknown>;
  if (record.v !== VERSION) return { ok: false, problem: 'unknown_version' };
  const { o: owner, b: busy, c: counts, s: since, a: ageMs, n: renewal, r: renewMs, t: ttlMs } = record;
  if (typeof owner !== 'string' || (busy !== 0 && busy !== 1) || !isTime(since) || !isTime(ageMs) || !isCount(renewal) || !isCount(renewMs) || !isCount(ttlMs)) {
    return { ok: false, problem: 'bad_field' };
  }
  if (typeof counts !== 'object' || counts === null || Array.isArray(counts)) return { ok: false, problem: 'bad_field' };
  const entries = Object.entries(counts as Record<string, unknown>);
  if (!entries.every(([, count]) => isCount(count))) return { ok: false, problem: 'bad_field' };
  // Busy means something in flight, idle means nothing: a lease that says otherwise is corrupt.
  if ((busy === 1) !== entries.length > 0) return { ok: false, problem: 'bad_field' };
  return {
    ok: true,
    lease: { owner, busy: busy === 1, counts: Object.freeze(Object.fromEntries(entries)) as Record<string, number>, since, ageMs, renewal, renewMs, ttlMs },
  };
}

/**
 * A lease's expiry (`t`) is at most this many of its renewal intervals (`r`): the writer's `leaseIntervals` is at
 * most 100, and a busy lease's `r` is 1.5 heartbeat intervals, so every lease it writes has `t <= 100 r`.
 */
export const MAX_LEASE_INTERVALS = 100;

/** Why a well-formed lease is still not trusted: see {@link checkLeaseBounds}. */
export type LeaseBoundsProblem = 'out_of_bounds' | 'no_expiry';

/**
 * Bounds on a lease read back (pure): `null` when it is within what this package's writer writes, else why not.
 * `remainingMs` is the key's `PTTL` (`-1`: no expiry). Not trusted:
 *
 * - `out_of_bounds`: a renewal interval `r` longer than `maxRenewalMs` (the reclaimer's option, default one hour),
 *   an expiry `t` longer than {@link MAX_LEASE_INTERVALS} renewal intervals, or more time left on the key than the
 *   `t` it was written with (the writer sets `PX t` with the value);
 * - `no_expiry`: a key without an expiry (the writer always sets one; such a key would never expire).
 */
export function checkLeaseBounds(lease: Lease, remainingMs: number, maxRenewalMs: number): LeaseBoundsProblem | null {
  if (remainingMs === -1) return 'no_expiry';
  if (lease.renewMs > maxRenewalMs || lease.ttlMs > lease.renewMs * MAX_LEASE_INTERVALS || remainingMs > lease.ttlMs) return 'out_of_bounds';
  return null;
}
