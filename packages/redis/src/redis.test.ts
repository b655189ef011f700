import { KeepaliveOptionError, type Diagnostic } from '@keepalive/core';
import { createScheduler, createSessionActivity } from '@keepalive/node-timers';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from 'keepalive-test-support/redis-server';
import { createLeaseWriter, createReclaimer, decodeLease, leaseKeys, type OrphanChange, type Reclaimer, type StatusChange } from './index.js';

let redis: RedisServer;
let client: ReturnType<typeof createClient>;

beforeAll(async () => {
  redis = await startRedisServer();
  client = createClient({ url: redis.url });
  client.on('error', () => undefined);
  await client.connect();
});

afterAll(async () => {
  await client.close();
  await redis.stop();
});

/** Entries of every shard of the index under `prefix`. */
async function indexSize(prefix: string): Promise<number> {
  const keys = leaseKeys(prefix);
  const sizes = await Promise.all(Array.from({ length: keys.shards }, (_, shard) => client.sCard(keys.index(shard))));
  return sizes.reduce((a, b) => a + b, 0);
}

async function eventually<T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const started = performance.now();
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms: ${what} (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('options', () => {
  it('B1: a bad option throws at construction, naming it and its value', () => {
    expect(() => createLeaseWriter({ url: 'http://x' })).toThrow(KeepaliveOptionError);
    expect(() => createLeaseWriter({ url: 'http://x' })).toThrow(/url/);
    expect(() => createLeaseWriter({ url: redis.url, idleRenewalMs: -1 })).toThrow(/idleRenewalMs: -1/);
    expect(() => createLeaseWriter({ url: redis.url, leaseIntervals: 1 })).toThrow(/leaseIntervals: 1/);
    expect(() => createLeaseWriter({ url: redis.url, owner: 'has space' })).toThrow(/owner/);
    expect(() => createReclaimer({ url: redis.url, pageSize: 1.5 })).toThrow(/pageSize: 1.5/);
    expect(() => createReclaimer({ url: redis.url, sweepIntervalMs: 0 })).toThrow(/sweepIntervalMs: 0/);
    expect(() => createReclaimer({ url: redis.url, typo: 1 } as never)).toThrow(/typo/);
    expect(() => createReclaimer({ url: redis.url, shards: 0 })).toThrow(/shards: 0/);
    expect(() => createLeaseWriter({ url: redis.url, shards: 1_025 })).toThrow(/shards: 1025/);
    // The keys carry hash tags of their own: a prefix with braces would override them.
    expect(() => createLeaseWriter({ url: redis.url, prefix: '{keepalive}' })).toThrow(/prefix: "\{keepalive\}"/);
    // A url or a client, exactly one.
    expect(() => createLeaseWriter({})).toThrow(/url/);
    expect(() => createReclaimer({ client: {} as never })).toThrow(/client/);
    expect(() => createReclaimer({ url: redis.url, client })).toThrow(/url/);
  });
});

describe('lease writer', () => {
  it('S1: writes a lease per session (busy with its reasons and counts, idle), coalesced into one batch per tick, removed at close', async () => {
    const prefix = 'coalesce';
    const keys = leaseKeys(prefix);
    const scheduler = createScheduler();
    const writer = createLeaseWriter({ url: redis.url, prefix, owner: 'w1', idleRenewalMs: 60_000, coalesceMs: 20 });
    const activities = Array.from({ length: 1_000 }, () => createSessionActivity({ heartbeatIntervalMs: 30_000, scheduler }));
    activities.forEach((activity, i) => writer.track(`s${String(i)}`, activity));
    await eventually('written', () => writer.stats(), (stats) => stats.writes >= 1_000);
    const first = writer.stats();
    expect(first.batches).toBe(1);
    // One script call per shard with leases to write (their SETs and one SADD of the shard's index inside it).
    expect(first.commands).toBe(keys.shards);
    // 1 000 sessions change in one tick: one more batch.
    const releases = activities.map((activity) => activity.start('api_call'));
    activities[0]?.start('tool_exec');
    await eventually('busy written', () => writer.stats(), (stats) => stats.writes >= 2_000);
    expect(writer.stats().batches).toBe(2);
    const busy = decodeLease((await client.get(keys.lease('s0'))) ?? '');
    expect(busy.ok && busy.lease).toMatchObject({ owner: 'w1', busy: true, counts: { api_call: 1, tool_exec: 1 }, renewMs: 45_000, ttlMs: 90_000 });
    const ttl = await client.pTTL(keys.lease('s0'));
    expect(ttl).toBeGreaterThan(80_000);
    expect(ttl).toBeLessThanOrEqual(90_000);
    for (const release of releases.slice(1)) release();
    await eventually('idle written', () => client.get(keys.lease('s5')), (text) => decodeLease(text ?? '').ok && !(decodeLease(text ?? '') as { lease: { busy: boolean } }).lease.busy);
    const idle = decodeLease((await client.get(keys.lease('s5'))) ?? '');
    expect(idle.ok && idle.lease).toMatchObject({ busy: false, counts: {}, renewMs: 60_000, ttlMs: 180_000 });
    expect(await indexSize(prefix)).toBe(1_000);
    // A session that shuts down removes its lease.
    activities[7]?.shutdown();
    await eventually('removed', () => client.exists(keys.lease('s7')), (n) => n === 0);
    expect(await client.sIsMember(keys.index(keys.shardOf('s7')), 's7')).toBe(0);
    await writer.close();
    expect(await indexSize(prefix)).toBe(0);
    expect(await client.keys(`${prefix}:*`)).toEqual([]);
    for (const activity of activities) activity.shutdown();
  });

  it('B5: a writer whose Redis is unreachable never throws into the session and keeps nothing but the latest state per session', async () => {
    const diagnostics: Diagnostic[] = [];
    const writer = createLeaseWriter({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 100, reconnectMaxMs: 50, onDiagnostic: (d) => diagnostics.push(d) });
    const activity = createSessionActivity({ heartbeatIntervalMs: 1_000 });
    let sent = 0;
    activity.attach(() => sent++);
    writer.track('lonely', activity);
    for (let i = 0; i < 100; i++) activity.run('work', () => activity.signal());
    expect(sent).toBe(100);
    await eventually('reported', () => diagnostics.map((d) => d.name), (names) => names.includes('redis_lost'));
    expect(writer.stats()).toMatchObject({ sessions: 1, pending: 1, connected: false, writes: 0 });
    await writer.close();
    activity.shutdown();
  });
});

describe('reclaimer', () => {
  it('bad data in Redis (foreign keys, corrupt values, a key of another type) is ignored with a diagnostic, never a crash', async () => {
    const prefix = 'bad';
    const keys = leaseKeys(prefix);
    const diagnostics: Diagnostic[] = [];
    const changes: (StatusChange | OrphanChange)[] = [];
    const writer = createLeaseWriter({ url: redis.url, prefix, owner: 'good' });
    const activity = createSessionActivity();
    writer.track('real', activity);
    await writer.flush();
    await eventually('written', () => writer.stats(), (stats) => stats.writes >= 1);
    for (const id of ['junk', 'old', 'hash', 'half', 'ghost']) await client.sAdd(keys.index(keys.shardOf(id)), id);
    await client.set(keys.lease('junk'), 'not json at all');
    await client.set(keys.lease('old'), '{"v":0,"o":"x"}');
    await client.hSet(keys.lease('hash'), 'o', 'x');
    await client.set(keys.lease('half'), '{"v":1,"o":"x","b":1,"c":{},"s":0,"a":0,"n":1,"r":1,"t":3}');
    await client.set(`${prefix}:unrelated`, 'anything');
    const reclaimer: Reclaimer = createReclaimer({ url: redis.url, prefix, sweepIntervalMs: 50, onDiagnostic: (d) => diagnostics.push(d) });
    reclaimer.on('change', (change) => changes.push(change));
    await eventually('swept', async () => {
      await reclaimer.sweep();
      return reclaimer.stats();
    }, (stats) => stats.sweeps > 0 && stats.ignored >= 4);
    const problems = diagnostics.filter((d) => d.name === 'lease_ignored').map((d) => d.fields.problem);
    expect(new Set(problems)).toEqual(new Set(['not_json', 'unknown_version', 'wrong_type', 'bad_field']));
    // Diagnostics carry no ids or values.
    for (const d of diagnostics) expect(JSON.stringify(d.fields)).not.toMatch(/junk|real|good|ghost/);
    expect([...reclaimer.sessions().keys()]).toEqual(['real']);
    expect(reclaimer.sessions().get('real')?.status).toBe('idle');
    // A corrupt index (a key of another type) fails the read of its shard, reported; after readStaleMs the session
    // is unknown.
    const index = keys.index(keys.shardOf('real'));
    const before = { diagnostics: diagnostics.length, failedSweeps: reclaimer.stats().failedSweeps };
    const since = (name: string): Diagnostic[] => diagnostics.slice(before.diagnostics).filter((d) => d.name === name);
    // In one transaction: a sweep between a DEL and a SET would find the session unlisted (ended), not unreadable.
    await client.multi().del(index).set(index, 'not a set').exec();
    await eventually('unknown', async () => {
      await reclaimer.sweep();
      return reclaimer.sessions().get('real')?.status;
    }, (status) => status === 'unknown');
    // Named by the Redis error's class, never by its message; once for the whole failing period, not per sweep.
    await reclaimer.sweep();
    const failedSweeps = reclaimer.stats().failedSweeps - before.failedSweeps;
    expect(failedSweeps).toBeGreaterThan(1);
    expect(since('sweep_failed').map((d) => d.fields)).toEqual([{ error: 'WRONGTYPE', op: 'read', shards: 1 }]);
    // The index repaired: one note when sweeps read every shard again, with the count of failed sweeps meanwhile.
    await client.del(index);
    await writer.flush();
    await eventually('recovered', async () => {
      await reclaimer.sweep();
      return since('sweep_recovered');
    }, (notes) => notes.length > 0);
    const recovered = since('sweep_recovered');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]?.fields).toMatchObject({ op: 'read', failures: reclaimer.stats().failedSweeps - before.failedSweeps });
    expect(Number(recovered[0]?.fields.failures)).toBeGreaterThanOrEqual(failedSweeps);
    await reclaimer.close();
    await writer.close();
    activity.shutdown();
  });
});

describe('reclaimer: sweeps slower than readStaleMs allows', () => {
  it('left at its default, readStaleMs follows the measured sweeps (three of the longest; sweep_slow info once) and sessions stay known after each read; set explicitly, it is kept and sweep_slow warns once, not per sweep', async () => {
    const prefix = 'slow';
    const scheduler = createScheduler();
    const writer = createLeaseWriter({ url: redis.url, prefix, owner: 'w', shards: 1 });
    const activities = Array.from({ length: 3_000 }, () => createSessionActivity({ heartbeatIntervalMs: 30_000, scheduler }));
    activities.forEach((activity, i) => writer.track(`s${String(i)}`, activity));
    await eventually('written', () => writer.stats(), (stats) => stats.writes >= 3_000);
    // One shard read in pages of 10: 300 script calls one after another, longer than a 5 ms sweep interval allows
    // (readStaleMs by default three intervals: 15 ms).
    const sweepUntil = async (reclaimer: Reclaimer, sweeps: number): Promise<void> => {
      await eventually(`${String(sweeps)} sweeps`, async () => {
        await reclaimer.sweep();
        return reclaimer.stats().sweeps;
      }, (done) => done >= sweeps);
    };
    const followed: Diagnostic[] = [];
    const auto = createReclaimer({ url: redis.url, prefix, shards: 1, pageSize: 10, sweepIntervalMs: 5, onDiagnostic: (d) => followed.push(d) });
    const kept: Diagnostic[] = [];
    const explicit = createReclaimer({ url: redis.url, prefix, shards: 1, pageSize: 10, sweepIntervalMs: 5, readStaleMs: 15, onDiagnostic: (d) => kept.push(d) });
    try {
      await sweepUntil(auto, 4);
      const stats = auto.stats();
      console.log(`reclaimer: 3 000 leases in pages of 10, last sweep ${String(Math.round(stats.lastSweepMs ?? 0))} ms, readStaleMs in force ${String(Math.round(stats.readStaleMs))} ms`);
      expect(stats.lastSweepMs).toBeGreaterThan(7.5);
      expect(stats.readStaleMs).toBeGreaterThanOrEqual(3 * (stats.lastSweepMs ?? 0));
      expect(followed.filter((d) => d.name === 'sweep_slow').map((d) => d.level)).toEqual(['info']);
      expect(auto.sessions().size).toBe(3_000);
      expect([...auto.sessions().values()].filter((view) => view.status === 'unknown')).toEqual([]);

      await sweepUntil(explicit, 4);
      expect(explicit.stats().readStaleMs).toBe(15);
      const slow = kept.filter((d) => d.name === 'sweep_slow');
      expect(slow.map((d) => [d.level, d.fields.readStaleMs])).toEqual([['warn', 15]]);
    } finally {
      await auto.close();
      await explicit.close();
      await writer.close();
      for (const activity of activities) activity.shutdown();
    }
  });
});

