/**
 * @keepalive/redis: session leases on Redis (or Valkey, 7.0 commands only), a single server or a Redis Cluster, for
 * a fleet. A lease writer mirrors each session's activity (busy or idle, reasons in flight with counts, since when,
 * owner) as a lease that its heartbeat renews; a reclaimer in another process lists and watches every session
 * across the fleet, with events for reclaimable, expired and busy again, and never decides on stale data.
 *
 * @example
 * ```ts
 * import { createSessionActivity } from '@keepalive/node-timers';
 * import { createLeaseWriter, createReclaimer } from '@keepalive/redis';
 *
 * const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
 *
 * // The worker: each session's activity mirrored to Redis as a lease.
 * const writer = createLeaseWriter({ url, owner: 'worker-1' });
 * const activity = createSessionActivity({ heartbeatIntervalMs: 1_000 });
 * writer.track('session-1', activity);
 * const release = activity.start('tool_exec');
 *
 * // The reclaimer: normally its own process (the container host's view of the fleet).
 * const reclaimer = createReclaimer({ url, sweepIntervalMs: 200, idleLimitMs: 500 });
 * reclaimer.on('busy', ({ session, lease }) => {
 *   console.log(`${session} busy on ${lease.owner}: ${JSON.stringify(lease.counts)}`);
 *   release();
 * });
 * reclaimer.on('reclaimable', ({ session, idleMs }) => {
 *   console.log(`${session} idle for ${idleMs} ms or more: reclaimable`);
 *   activity.shutdown(); // the session ends: its lease is removed
 * });
 * reclaimer.on('ended', ({ session }) => {
 *   console.log(`${session} ended`);
 *   void Promise.all([writer.close(), reclaimer.close()]);
 * });
 * ```
 *
 * @packageDocumentation
 */
export { createLeaseWriter, LEASE_WRITER_DIAGNOSTICS, type LeaseWriter, type LeaseWriterStats } from './lease-writer.js';
export {
  createReclaimer,
  RECLAIMER_DIAGNOSTICS,
  type OrphanChange,
  type Reclaimer,
  type ReclaimerEvents,
  type ReclaimerStats,
  type SessionView,
  type StatusChange,
} from './reclaimer.js';
export { classifyLease, type LeaseLimits, type LeaseObservation, type LeaseStatus, type LeaseVerdict } from './lease-state.js';
export {
  checkLeaseBounds,
  decodeLease,
  DEFAULT_SHARDS,
  encodeLease,
  leaseKeys,
  MAX_LEASE_INTERVALS,
  MAX_SHARDS,
  type DecodedLease,
  type Lease,
  type LeaseBoundsProblem,
  type LeaseKeys,
} from './lease-codec.js';
export {
  RETRY_FLOOR_MS,
  defineLeaseWriterConfig,
  defineReclaimerConfig,
  type LeaseWriterConfig,
  type LeaseWriterOptions,
  type ReclaimerConfig,
  type ReclaimerOptions,
  type RedisConfig,
  type RedisOptions,
} from './options.js';
export {
  createRedisSessionStore,
  SESSION_STORE_DIAGNOSTICS,
  type RedisSessionStore,
  type RedisSessionStoreConfig,
  type RedisSessionStoreOptions,
  type RedisSessionStoreStats,
} from './resume-store.js';
export { decodeStoredSession, encodeStoredSession, type DecodedSession } from './resume-codec.js';
export { CLUSTER_SLOTS, keySlot, shardTags } from './slots.js';
export type { RedisClientLike, RedisCommands } from './connection.js';
