import type { Attributes, Counter, Meter, ObservableCounter, ObservableGauge, BatchObservableResult, ObservableUpDownCounter } from '@opentelemetry/api';
import { invalid, meterOf, perMeter, seconds, type Instrumentation, type InstrumentationOptions } from './meter.js';
import { ATTRIBUTES, METRICS } from './names.js';

/** A lease's status as a reclaimer reports it (`LeaseStatus` of `@keepalive/redis`). */
export type LeaseStatusValue = 'busy' | 'idle' | 'reclaimable' | 'unknown' | 'expired' | 'ended';

/**
 * What {@link instrumentReclaimer} reads of a Redis reclaimer (`Reclaimer` of `@keepalive/redis`): the sessions it
 * knows with their status, its counters, and its `change` event. Nothing of a lease but its status is read.
 */
export interface InstrumentableReclaimer {
  sessions(): ReadonlyMap<string, { readonly status: string }>;
  stats(): { readonly sweeps: number; readonly failedSweeps: number; readonly lastReadAgeMs: number | null };
  on(event: 'change', listener: (change: { readonly status: string }) => void): () => void;
}

const STATUSES: readonly LeaseStatusValue[] = ['busy', 'idle', 'reclaimable', 'unknown', 'expired', 'ended'];
const STATUS: Readonly<Record<LeaseStatusValue, Attributes>> = Object.freeze(
  Object.fromEntries(STATUSES.map((status) => [status, Object.freeze({ [ATTRIBUTES.leaseStatus]: status })])) as unknown as Record<LeaseStatusValue, Attributes>,
);
const COMPLETE: Attributes = Object.freeze({ [ATTRIBUTES.sweepOutcome]: 'complete' });
const FAILED: Attributes = Object.freeze({ [ATTRIBUTES.sweepOutcome]: 'failed' });

function isStatus(value: string): value is LeaseStatusValue {
  return (STATUSES as readonly string[]).includes(value);
}

/** The shared reclaimer instruments of one meter. */
class ReclaimerMetrics {
  readonly reclaimers = new Set<InstrumentableReclaimer>();
  readonly retired = { sweeps: 0, failed: 0 };
  readonly transitions: Counter;

  constructor(meter: Meter) {
    const sessions = meter.createObservableUpDownCounter(METRICS.reclaimerSessions, {
      description: "Sessions in the reclaimers' view, by lease status: busy, idle, reclaimable, unknown (stale data: nothing decided).",
      unit: '{session}',
    });
    const staleness = meter.createObservableGauge(METRICS.reclaimerStaleness, {
      description: 'Age of the oldest successful read of a lease shard: how stale the view is (the largest over the reclaimers).',
      unit: 's',
    });
    const sweeps = meter.createObservableCounter(METRICS.reclaimerSweeps, { description: 'Sweeps that read every shard (complete) or could not read some (failed).', unit: '{sweep}' });
    meter.addBatchObservableCallback(
      (result) => {
        this.observe(result, sessions, staleness, sweeps);
      },
      [sessions, staleness, sweeps],
    );
    this.transitions = meter.createCounter(METRICS.reclaimerTransitions, {
      description: 'Status changes the reclaimers reported, by the status entered (reclaimable: idle past the limit; expired: the lease ran out).',
      unit: '{session}',
    });
  }

  private observe(result: BatchObservableResult, sessions: ObservableUpDownCounter, staleness: ObservableGauge, sweeps: ObservableCounter): void {
    const counts = new Map<LeaseStatusValue, number>();
    let complete = this.retired.sweeps;
    let failed = this.retired.failed;
    let stalest: number | null = null;
    for (const reclaimer of this.reclaimers) {
      for (const view of reclaimer.sessions().values()) {
        if (isStatus(view.status)) counts.set(view.status, (counts.get(view.status) ?? 0) + 1);
      }
      const stats = reclaimer.stats();
      complete += stats.sweeps;
      failed += stats.failedSweeps;
      if (stats.lastReadAgeMs !== null) stalest = Math.max(stalest ?? 0, stats.lastReadAgeMs);
    }
    for (const status of ['busy', 'idle', 'reclaimable', 'unknown'] as const) result.observe(sessions, counts.get(status) ?? 0, STATUS[status]);
    if (stalest !== null) result.observe(staleness, seconds(stalest));
    result.observe(sweeps, complete, COMPLETE);
    result.observe(sweeps, failed, FAILED);
  }
}

const reclaimerMetrics = new WeakMap<Meter, ReclaimerMetrics>();

/**
 * Measures a Redis reclaimer (`createReclaimer` of `@keepalive/redis`): the sessions of its view by status (busy,
 * idle, reclaimable, unknown), the status changes it reports (by the status entered, `expired` and `ended`
 * included), how stale its view is (the age of its oldest shard read), and its sweeps. The view is read when the SDK
 * collects; the changes are counted from its `change` event. No session id, owner or reason is ever an attribute.
 *
 * @throws TypeError for a bad `reclaimer` or option, naming it.
 */
export function instrumentReclaimer(reclaimer: InstrumentableReclaimer, options?: InstrumentationOptions): Instrumentation {
  const candidate = reclaimer as Partial<InstrumentableReclaimer> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.on !== 'function' || typeof candidate.sessions !== 'function' || typeof candidate.stats !== 'function') {
    throw invalid('instrumentReclaimer reclaimer', reclaimer, 'a reclaimer of @keepalive/redis');
  }
  const metrics = perMeter(reclaimerMetrics, meterOf(options, 'instrumentReclaimer'), (meter) => new ReclaimerMetrics(meter));
  const transitions = metrics.transitions;
  const off = reclaimer.on('change', ({ status }) => {
    if (isStatus(status)) transitions.add(1, STATUS[status]);
  });
  metrics.reclaimers.add(reclaimer);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    off();
    const stats = reclaimer.stats();
    metrics.retired.sweeps += stats.sweeps;
    metrics.retired.failed += stats.failedSweeps;
    metrics.reclaimers.delete(reclaimer);
  };
  return { close, [Symbol.dispose]: close };
}
