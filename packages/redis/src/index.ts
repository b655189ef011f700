/**
 * @keepalive/redis: session leases on Redis (or Valkey, 7.0 commands only) for a fleet. A lease writer mirrors
 * each session's activity (busy or idle, reasons in flight with counts, since when, owner) as a lease that its
 * heartbeat renews; a reclaimer in another process lists and watches every session across the fleet, with events
 * for reclaimable, expired and busy again, and never decides on stale data.
 *
 * @example
 * ```ts
 * import { createLeaseWriter, createReclaimer } from '@keepalive/redis';
 * const writer = createLeaseWriter({ url: 'redis://127.0.0.1:6379' });
 * writer.track(sessionId, activity);
 * const reclaimer = createReclaimer({ url: 'redis://127.0.0.1:6379', idleLimitMs: 300_000 });
 * reclaimer.on('reclaimable', ({ session }) => console.log(`${session} can go`));
 * ```
 *
 * @packageDocumentation
 */
export { createLeaseWriter, LEASE_WRITER_DIAGNOSTICS, type LeaseWriter, type LeaseWriterStats } from './lease-writer.js';
export {
  createReclaimer,
  RECLAIMER_DIAGNOSTICS,
  type Reclaimer,
  type ReclaimerEvents,
  type ReclaimerStats,
  type SessionView,
  type StatusChange,
} from './reclaimer.js';
export { classifyLease, type LeaseLimits, type LeaseObservation, type LeaseStatus, type LeaseVerdict } from './lease-state.js';
export { decodeLease, encodeLease, leaseKeys, type DecodedLease, type Lease, type LeaseKeys } from './lease-codec.js';
export {
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
