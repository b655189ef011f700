import { createSessionActivity } from '@keepalive/node-timers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from 'keepalive-test-support/redis-server';
import { parseConfig, type DemoConfig } from './config.js';
import { createLeaseWriter } from '@keepalive/redis';
import { FLEET_PREFIX, startFleet, type FleetView } from './fleet.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis.stop();
});

async function until(what: string, read: () => FleetView | null, done: (view: FleetView) => boolean, ms = 15_000): Promise<FleetView> {
  const started = performance.now();
  for (;;) {
    const view = read();
    if (view !== null && done(view)) return view;
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms: ${what} (last: ${JSON.stringify(view)})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('demo --redis: the fleet view', () => {
  it('--redis takes a redis:// URL (off by default)', () => {
    expect((parseConfig([], {}) as DemoConfig).redisUrl).toBeNull();
    expect((parseConfig(['--redis', 'redis://127.0.0.1:6379'], {}) as DemoConfig).redisUrl).toBe('redis://127.0.0.1:6379');
    expect(() => parseConfig(['--redis', 'http://x'], {})).toThrow(/--redis/);
  });

  it('S1: the reclaimer process, reading the leases from Redis, sees a busy worker busy and an idle one go reclaimable; the reclaimer process stops', async () => {
    const busy = createSessionActivity({ heartbeatIntervalMs: 200 });
    const idle = createSessionActivity({ heartbeatIntervalMs: 200 });
    const release = busy.start('tool_exec');
    const lines: string[] = [];
    // What each worker process does with --redis (worker-process.ts), here in one process.
    const writer = createLeaseWriter({ url: redis.url, prefix: FLEET_PREFIX, owner: 'test', idleRenewalMs: 400 });
    writer.track('worker-1', busy);
    writer.track('worker-2', idle);
    const fleet = startFleet({
      redisUrl: redis.url,
      idleLimitMs: 600,
      sweepMs: 100,
      onEvent: (line) => lines.push(line),
    });
    try {
      const view = await until('busy and reclaimable', () => fleet.view(), (v) => {
        const status = Object.fromEntries(v.sessions.map((s) => [s.session, s.status]));
        return status['worker-1'] === 'busy' && status['worker-2'] === 'reclaimable';
      });
      expect(view.sessions.find((s) => s.session === 'worker-1')?.counts).toEqual({ tool_exec: 1 });
      expect(lines).toContain('reclaimer process: worker-2 idle -> reclaimable');
      release();
      await until('both reclaimable', () => fleet.view(), (v) => v.sessions.every((s) => s.status === 'reclaimable'));
    } finally {
      await fleet.stop();
      await writer.close();
      busy.shutdown();
      idle.shutdown();
    }
  });
});
