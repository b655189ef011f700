import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionActivity } from '@keepalive/node-timers';
import { createLeaseWriter, createReclaimer, type Reclaimer } from '@keepalive/redis';
import { within } from 'keepalive-test-support';
import { startRedisServer, type RedisServer } from 'keepalive-test-support/redis-server';
import { ATTRIBUTES, METRICS, instrumentReclaimer } from './index.js';
import { Metrics, everyAttribute, valueOf } from './test-support/metrics.js';

/**
 * A Redis reclaimer's view as metrics: a real `redis-server`, a lease writer mirroring two sessions, the reclaimer
 * sweeping them, read through the real OpenTelemetry metrics SDK. Every wait is on a reclaimer event, bounded.
 */

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});

function status(reclaimer: Reclaimer, event: 'busy' | 'reclaimable' | 'unknown', session: string): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const off = reclaimer.on(event, (change) => {
        if (change.session !== session) return;
        off();
        resolve();
      });
    }),
    5_000,
    `${session} ${event}`,
  );
}

describe('instrumentReclaimer on a real redis-server', () => {
  it('B16 S10: the view by status (busy, reclaimable, unknown), transitions, sweeps and read staleness; no session id or owner in any attribute', async () => {
    const m = new Metrics();
    const prefix = `otel-${String(process.pid)}`;
    const writer = createLeaseWriter({ url: redis.url, prefix, owner: 'worker-secret-owner' });
    const reclaimer = createReclaimer({ url: redis.url, prefix, sweepIntervalMs: 50, idleLimitMs: 150, readStaleMs: 400, graceMs: 200 });
    const instrumentation = instrumentReclaimer(reclaimer, { meter: m.meter });
    const busy = createSessionActivity({ heartbeatIntervalMs: 100 });
    const idle = createSessionActivity({ heartbeatIntervalMs: 100 });
    try {
      const seenBusy = status(reclaimer, 'busy', 'session-busy-42');
      const seenReclaimable = status(reclaimer, 'reclaimable', 'session-idle-43');
      writer.track('session-busy-42', busy);
      writer.track('session-idle-43', idle);
      busy.start('tool_exec');
      await Promise.all([seenBusy, seenReclaimable]);
      let read = await m.read();
      expect(valueOf(read, METRICS.reclaimerSessions, { [ATTRIBUTES.leaseStatus]: 'busy' })).toBe(1);
      expect(valueOf(read, METRICS.reclaimerSessions, { [ATTRIBUTES.leaseStatus]: 'reclaimable' })).toBe(1);
      expect(valueOf(read, METRICS.reclaimerTransitions, { [ATTRIBUTES.leaseStatus]: 'busy' })).toBe(1);
      expect(valueOf(read, METRICS.reclaimerTransitions, { [ATTRIBUTES.leaseStatus]: 'reclaimable' })).toBe(1);
      expect(valueOf(read, METRICS.reclaimerSweeps, { [ATTRIBUTES.sweepOutcome]: 'complete' })).toBeGreaterThanOrEqual(1);
      const fresh = valueOf(read, METRICS.reclaimerStaleness);
      expect(read.get(METRICS.reclaimerStaleness)?.descriptor.unit).toBe('s');
      expect(fresh).toBeGreaterThanOrEqual(0);
      expect(fresh).toBeLessThan(0.4);

      // Redis stops answering: the view goes stale, and every session turns unknown (nothing decided on stale data).
      const seenUnknown = Promise.all([status(reclaimer, 'unknown', 'session-busy-42'), status(reclaimer, 'unknown', 'session-idle-43')]);
      redis.pause();
      try {
        await seenUnknown;
        read = await m.read();
      } finally {
        redis.resume();
      }
      expect(valueOf(read, METRICS.reclaimerSessions, { [ATTRIBUTES.leaseStatus]: 'unknown' })).toBe(2);
      expect(valueOf(read, METRICS.reclaimerStaleness)).toBeGreaterThanOrEqual(0.4);
      for (const [, , value] of everyAttribute(read)) expect(String(value)).not.toMatch(/session-|worker-secret|otel-/);
      expect(JSON.stringify([...read.values()])).not.toMatch(/session-busy|session-idle|worker-secret-owner/);
    } finally {
      instrumentation.close();
      busy.shutdown();
      idle.shutdown();
      await Promise.all([writer.close(), reclaimer.close()]);
      await m.shutdown();
    }
  });

  it('a bad reclaimer throws a TypeError naming it', () => {
    expect(() => instrumentReclaimer({} as never)).toThrow(/instrumentReclaimer reclaimer/);
  });
});
