/**
 * @keepalive/opentelemetry: OpenTelemetry metrics for keepalive's clients, servers and Redis reclaimers, on
 * `@opentelemetry/api` only (bring your own SDK and exporter). Nothing is measured until `instrumentClient`,
 * `instrumentServer` or `instrumentReclaimer` is called. Instrument names, units and attribute values are stable
 * and listed in {@link METRICS} and {@link ATTRIBUTE_VALUES}; no attribute ever carries an id, a URL, a token or a
 * payload. Runtime-neutral: Node, Bun, Deno, browsers, Workers (wherever `@opentelemetry/api` runs).
 *
 * @module @keepalive/opentelemetry
 */
export { instrumentClient, type InstrumentableClient, type RoundTripTimeLike } from './client.js';
export {
  instrumentServer,
  type InstrumentableServer,
  type InstrumentableTracker,
  type SessionHubStatsLike,
  type TrackerObserverLike,
  type TrackerStatsLike,
} from './server.js';
export { instrumentReclaimer, type InstrumentableReclaimer, type LeaseStatusValue } from './reclaimer.js';
export { type Instrumentation, type InstrumentationOptions } from './meter.js';
export {
  ATTRIBUTES,
  ATTRIBUTE_VALUES,
  DURATION_BUCKETS,
  INSTRUMENTATION_SCOPE,
  METRICS,
  RTT_BUCKETS,
  closeClass,
  type CloseClass,
  type SessionStateValue,
} from './names.js';
