import { KeepaliveOptionError, checkDuration, checkInteger, checkKnownKeys, checkNumber, optionOr, type Diagnostic } from '@keepalive/core';
import type { Logger } from '@keepalive/node-timers';
import { isRedisClientLike, type RedisClientLike } from './connection.js';
import { DEFAULT_SHARDS, MAX_LEASE_INTERVALS, MAX_SHARDS } from './lease-codec.js';

/**
 * Option validation for every part of this package, in one copy: a bad option throws `KeepaliveOptionError` at
 * construction, naming the option and the value.
 */

/**
 * Options every part shares: where Redis is (a `url`, or a `client`: exactly one of them), the key prefix,
 * timeouts, and where diagnostics go.
 */
export interface RedisOptions {
  /** The URL of a single Redis (or Valkey), `redis://` or `rediss://`: a connection of its own, closed by `close()`. */
  readonly url?: string | undefined;
  /**
   * A node-redis client (`createClient`) or a Redis Cluster (`createCluster`) of `@redis/client` (or of the `redis`
   * package) to use instead of a `url`: connected here if it is not open yet, never closed here (close it after
   * the parts that use it). Several parts may share one. Create it with `disableOfflineQueue: true` (for a
   * cluster, in `defaults`) so that a command to a server that is down fails at once instead of waiting in memory.
   */
  readonly client?: RedisClientLike | undefined;
  /**
   * Prefix of every key: 1 to 100 characters, no spaces and no braces (the package puts hash tags of its own in the
   * keys). Default `keepalive`.
   */
  readonly prefix?: string | undefined;
  /** Every command fails after this long without an answer (a stopped or unreachable server). Default 2 000 ms. */
  readonly commandTimeoutMs?: number | undefined;
  /** Longest wait between two reconnection attempts (node-redis reconnects with a doubling backoff). Default 1 000 ms. */
  readonly reconnectMaxMs?: number | undefined;
  /** Where diagnostics go: a function `(level, event, fields)`, a console-style or a pino-style logger. */
  readonly logger?: Logger | undefined;
  /** Called with every diagnostic. */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
}

/** The validated shared options. */
export interface RedisConfig {
  /** The URL given, or `null` when a `client` was given. */
  readonly url: string | null;
  readonly prefix: string;
  readonly commandTimeoutMs: number;
  readonly reconnectMaxMs: number;
}

/**
 * Options of {@link createLeaseWriter}.
 */
export interface LeaseWriterOptions extends RedisOptions {
  /**
   * The number of shards of the lease index: each session's lease and index entry are in one of them (one slot of a
   * cluster). Every writer and reclaimer of a fleet must use the same number. In [1, 1 024]. Default 16.
   */
  readonly shards?: number | undefined;
  /** The owner written in each lease. Default `hostname/pid`. */
  readonly owner?: string | undefined;
  /** How often an idle session's lease is renewed (busy ones ride their heartbeat). Default 60 000 ms. */
  readonly idleRenewalMs?: number | undefined;
  /** A lease expires this many renewal intervals (heartbeat intervals while busy) after it was written (at least 2). Default 3. */
  readonly leaseIntervals?: number | undefined;
  /** Changes within this window go in one batch. Default 20 ms. */
  readonly coalesceMs?: number | undefined;
  /**
   * The longest wait between two attempts while Redis refuses the writes (out of memory, a read-only replica, a
   * key of the wrong type) or does not answer: after a failure the writer waits at least 100 ms
   * ({@link RETRY_FLOOR_MS}), doubling with jitter up to this. In [100, 3 600 000]. Default 10 000 ms.
   */
  readonly retryMaxMs?: number | undefined;
}

/** The validated writer options. */
export interface LeaseWriterConfig extends RedisConfig {
  readonly shards: number;
  readonly owner: string | null;
  readonly idleRenewalMs: number;
  readonly leaseIntervals: number;
  readonly coalesceMs: number;
  readonly retryMaxMs: number;
}

/**
 * Options of {@link createReclaimer}.
 */
export interface ReclaimerOptions extends RedisOptions {
  /**
   * The number of shards of the lease index, as the writers have it (every shard is read at each sweep). In
   * [1, 1 024]. Default 16.
   */
  readonly shards?: number | undefined;
  /** A session idle at least this long is reclaimable. Default 300 000 ms. */
  readonly idleLimitMs?: number | undefined;
  /** How often every lease is read. Default 1 000 ms. */
  readonly sweepIntervalMs?: number | undefined;
  /**
   * With no successful read for this long, every session is `unknown`. Default three sweeps: `3 × sweepIntervalMs`,
   * raised to three times the longest of the last 8 complete sweeps when they take longer than `sweepIntervalMs` (a
   * large fleet: 1,000,000 leases take about 17 s to read), so that sessions do not turn `unknown` between two
   * reads. Set explicitly, it is kept whatever the sweeps take, and a sweep too slow for it is reported once
   * (`sweep_slow`, warn).
   */
  readonly readStaleMs?: number | undefined;
  /** Slack past a lease's renewal interval before an unrenewed lease is `unknown`. Default one sweep plus 1 000 ms. */
  readonly graceMs?: number | undefined;
  /** Index entries read per `SSCAN` page of a shard (one atomic script per page). Default 1 000. */
  readonly pageSize?: number | undefined;
  /**
   * The longest renewal interval (a lease's `r`) trusted: a lease that claims a longer one, an expiry (`t`) longer
   * than {@link MAX_LEASE_INTERVALS} of its renewal intervals, a key with no expiry or with more time left than its
   * `t` is not one this package's writer writes: it is ignored (`lease_ignored`, problem `out_of_bounds` or
   * `no_expiry`). Raise it if a writer's `idleRenewalMs` (or 1.5 heartbeat intervals of a busy session) is longer.
   * Default 3 600 000 ms (one hour).
   */
  readonly maxRenewalMs?: number | undefined;
}

/** The validated reclaimer options. */
export interface ReclaimerConfig extends RedisConfig {
  readonly shards: number;
  readonly idleLimitMs: number;
  readonly sweepIntervalMs: number;
  readonly readStaleMs: number;
  readonly graceMs: number;
  readonly pageSize: number;
  readonly maxRenewalMs: number;
}

/** After a failed write the lease writer waits at least this long before the next attempt. */
export const RETRY_FLOOR_MS = 100;

/** The options every part shares. */
export const SHARED_KEYS: readonly string[] = Object.freeze(['url', 'client', 'prefix', 'commandTimeoutMs', 'reconnectMaxMs', 'logger', 'onDiagnostic']);
const WRITER_KEYS: readonly string[] = Object.freeze([...SHARED_KEYS, 'shards', 'owner', 'idleRenewalMs', 'leaseIntervals', 'coalesceMs', 'retryMaxMs']);
const RECLAIMER_KEYS: readonly string[] = Object.freeze([...SHARED_KEYS, 'shards', 'idleLimitMs', 'sweepIntervalMs', 'readStaleMs', 'graceMs', 'pageSize', 'maxRenewalMs']);

function checkText(option: string, value: unknown, pattern: RegExp, expectation: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw new KeepaliveOptionError(option, value, expectation);
  return value;
}

/** Validates the shared options. */
export function defineRedisConfig(options: RedisOptions, known: readonly string[], what: string): RedisConfig {
  const given: unknown = options;
  if (typeof given !== 'object' || given === null) throw new KeepaliveOptionError('options', given, `an object of ${what} options with a url or a client`);
  checkKnownKeys(options, known, what);
  const client: unknown = options.client;
  if (client !== undefined) {
    if (!isRedisClientLike(client)) throw new KeepaliveOptionError('client', client, 'a node-redis client (createClient) or cluster (createCluster) of @redis/client');
    if (options.url !== undefined) throw new KeepaliveOptionError('url', options.url, 'no url when a client is given (one or the other)');
  }
  return {
    url: client === undefined ? checkText('url', options.url, /^rediss?:\/\/\S+$/, 'a redis:// or rediss:// URL (or a client)') : null,
    prefix: checkText('prefix', optionOr(options, 'prefix', 'keepalive'), /^[^\s{}]{1,100}$/, 'a key prefix of 1 to 100 characters without spaces or braces (the keys carry hash tags of their own)'),
    commandTimeoutMs: checkDuration('commandTimeoutMs', optionOr(options, 'commandTimeoutMs', 2_000)),
    reconnectMaxMs: checkDuration('reconnectMaxMs', optionOr(options, 'reconnectMaxMs', 1_000)),
  };
}

/** Validates {@link LeaseWriterOptions}. */
export function defineLeaseWriterConfig(options: LeaseWriterOptions): LeaseWriterConfig {
  const shared = defineRedisConfig(options, WRITER_KEYS, 'lease writer');
  const owner = options.owner === undefined ? null : checkText('owner', options.owner, /^[^\s]{1,200}$/, 'an owner name of 1 to 200 characters without spaces');
  return Object.freeze({
    ...shared,
    shards: checkInteger('shards', optionOr(options, 'shards', DEFAULT_SHARDS), 1, MAX_SHARDS),
    owner,
    idleRenewalMs: checkDuration('idleRenewalMs', optionOr(options, 'idleRenewalMs', 60_000)),
    leaseIntervals: checkNumber('leaseIntervals', optionOr(options, 'leaseIntervals', 3), 2, MAX_LEASE_INTERVALS),
    coalesceMs: checkDuration('coalesceMs', optionOr(options, 'coalesceMs', 20)),
    retryMaxMs: checkNumber('retryMaxMs', optionOr(options, 'retryMaxMs', 10_000), RETRY_FLOOR_MS, 3_600_000),
  });
}

/** Validates {@link ReclaimerOptions}. */
export function defineReclaimerConfig(options: ReclaimerOptions): ReclaimerConfig {
  const shared = defineRedisConfig(options, RECLAIMER_KEYS, 'reclaimer');
  const sweepIntervalMs = checkDuration('sweepIntervalMs', optionOr(options, 'sweepIntervalMs', 1_000));
  const pageSize = checkInteger('pageSize', optionOr(options, 'pageSize', 1_000), 10, 100_000);
  return Object.freeze({
    ...shared,
    shards: checkInteger('shards', optionOr(options, 'shards', DEFAULT_SHARDS), 1, MAX_SHARDS),
    idleLimitMs: checkDuration('idleLimitMs', optionOr(options, 'idleLimitMs', 300_000)),
    sweepIntervalMs,
    readStaleMs: checkDuration('readStaleMs', optionOr(options, 'readStaleMs', sweepIntervalMs * 3)),
    graceMs: checkDuration('graceMs', optionOr(options, 'graceMs', sweepIntervalMs + 1_000)),
    pageSize,
    maxRenewalMs: checkDuration('maxRenewalMs', optionOr(options, 'maxRenewalMs', 3_600_000)),
  });
}
