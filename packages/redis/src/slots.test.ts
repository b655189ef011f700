import { createClient } from '@redis/client';
import fc from 'fast-check';
import { createScheduler, createSessionActivity } from '@keepalive/node-timers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from 'keepalive-test-support/redis-server';
import { CLUSTER_SLOTS, createLeaseWriter, createReclaimer, createRedisSessionStore, DEFAULT_SHARDS, keySlot, leaseKeys, shardTags, type RedisClientLike, type RedisCommands } from './index.js';
import { crc16 } from './slots.js';

describe('key slots, as a Redis Cluster computes them', () => {
  it('CRC16/XMODEM and the hash tag rules of the cluster specification', () => {
    expect(crc16('123456789')).toBe(0x31c3);
    expect(keySlot('foo')).toBe(12_182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    // An empty tag, or no closing brace: the whole key is hashed; only the first tag counts.
    expect(keySlot('foo{}{bar}')).toBe(crc16('foo{}{bar}') % CLUSTER_SLOTS);
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
    expect(keySlot('foo{bar')).toBe(crc16('foo{bar') % CLUSTER_SLOTS);
    // UTF-8 bytes, as the server hashes them.
    expect(crc16('é')).toBe(crc16('\u00e9'));
    expect(crc16('é')).not.toBe(crc16('\u00e9x'));
  });

  it('the shards spread evenly over the slots: shard s of n in the s-th of n equal ranges', () => {
    for (const shards of [1, 2, 3, 7, DEFAULT_SHARDS, 100, 1_024]) {
      const tags = shardTags(shards);
      expect(new Set(tags).size).toBe(shards);
      tags.forEach((tag, shard) => {
        const slot = keySlot(`{${tag}}`);
        expect(slot).toBeGreaterThanOrEqual(Math.ceil((shard * CLUSTER_SLOTS) / shards));
        expect(slot).toBeLessThan(Math.ceil(((shard + 1) * CLUSTER_SLOTS) / shards));
      });
    }
  });

  it('a session lease, its shard index, lease prefix and markers are in one slot, whatever its id (braces too)', () => {
    const ids = fc.oneof(fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }), fc.constantFrom('{', '}', '{}', 'a{b}c', '{x}', '}{'));
    fc.assert(
      fc.property(ids, fc.integer({ min: 1, max: 64 }), (session, shards) => {
        const keys = leaseKeys('keepalive', shards);
        const shard = keys.shardOf(session);
        expect(shard).toBeGreaterThanOrEqual(0);
        expect(shard).toBeLessThan(shards);
        const slot = keySlot(keys.index(shard));
        expect(keySlot(keys.lease(session))).toBe(slot);
        expect(keySlot(keys.leasePrefix(shard) + session)).toBe(slot);
        expect(keySlot(keys.marker(shard, 'r-1'))).toBe(slot);
      }),
    );
  });

  it('leaseKeys refuses a number of shards out of [1, 1 024], and a shard it does not have', () => {
    expect(() => leaseKeys('p', 0)).toThrow(RangeError);
    expect(() => leaseKeys('p', 1_025)).toThrow(RangeError);
    expect(() => leaseKeys('p', 2).index(2)).toThrow(RangeError);
    expect(leaseKeys('p', 1).lease('s')).toBe('p:lease:{0.0}:s');
  });
});

describe('every script call of the writer, the reclaimer and the session store touches keys of one slot', () => {
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

  /** `client`, with every command the package sends recorded (its name or script, and its keys). */
  function recording(calls: { readonly command: string; readonly keys: readonly string[] }[]): RedisClientLike {
    const commands = client.withTypeMapping({});
    const recorded: RedisCommands = {
      evalSha: (sha1, options) => {
        calls.push({ command: `evalsha ${sha1}`, keys: [...options.keys] });
        return commands.evalSha(sha1, options);
      },
      eval: (script, options) => {
        calls.push({ command: 'eval', keys: [...options.keys] });
        return commands.eval(script, options);
      },
      hmGet: (key, fields) => {
        calls.push({ command: 'hmget', keys: [key] });
        return commands.hmGet(key, fields);
      },
      del: (key) => {
        calls.push({ command: 'del', keys: [key] });
        return commands.del(key);
      },
    };
    return {
      get isOpen() {
        return client.isOpen;
      },
      get isReady() {
        return client.isReady;
      },
      connect: () => client.connect(),
      on: (event, listener) => client.on(event, listener),
      off: (event, listener) => client.off(event, listener),
      withTypeMapping: () => recorded,
    };
  }

  it('writes, renewals, removals, pages, prunes, saves, claims and removals of the store', async () => {
    const calls: { readonly command: string; readonly keys: readonly string[] }[] = [];
    const given = recording(calls);
    const prefix = 'slots';
    const keys = leaseKeys(prefix);
    const scheduler = createScheduler();
    const writer = createLeaseWriter({ client: given, prefix, owner: 'w', coalesceMs: 5 });
    const activities = Array.from({ length: 2_500 }, () => createSessionActivity({ heartbeatIntervalMs: 30_000, scheduler }));
    activities.forEach((activity, i) => writer.track(`s{${String(i % 7)}}-${String(i)}`, activity));
    await writer.flush();
    for (let i = 0; i < 50 && writer.stats().writes < activities.length; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(writer.stats().writes).toBe(activities.length);
    // Removals (sessions that end), and orphans for the reclaimer to prune.
    for (const activity of activities.slice(0, 1_200)) activity.shutdown();
    await writer.flush();
    for (const id of ['orphan-1', 'orphan-2', 'o{x}']) await client.sAdd(keys.index(keys.shardOf(id)), id);
    const reclaimer = createReclaimer({ client: given, prefix, sweepIntervalMs: 60_000, graceMs: 10, pageSize: 100 });
    const orphans: string[] = [];
    reclaimer.on('expired', ({ session }) => orphans.push(session));
    for (let i = 0; i < 20 && orphans.length < 3; i++) {
      await reclaimer.sweep();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(new Set(orphans)).toEqual(new Set(['o{x}', 'orphan-1', 'orphan-2']));
    expect(reclaimer.sessions().size).toBe(1_300);
    const store = createRedisSessionStore({ client: given, prefix, coalesceMs: 1 });
    const proof = 'A'.repeat(43);
    store.save('r{1}', () => ({ deliveredThrough: 1, ackedThrough: 0, transmittedThrough: 0, unacked: ['x'], proof }));
    await store.flush();
    expect(await store.proof('r{1}')).toBe(proof);
    const other = createRedisSessionStore({ client: given, prefix });
    expect(await other.load('r{1}')).toMatchObject({ deliveredThrough: 1 });
    other.remove('r{1}');
    await other.flush();
    await Promise.all([writer.close(), reclaimer.close(), store.close(), other.close()]);
    for (const activity of activities) activity.shutdown();
    // A given client is never closed by the parts.
    expect(client.isReady).toBe(true);

    const scripts = new Set(calls.filter((call) => call.command.startsWith('evalsha')).map((call) => call.command));
    // Write, remove; page, prune; save, claim, remove: every script the package has.
    expect(scripts.size).toBe(7);
    expect(calls.filter((call) => call.command === 'hmget')).toHaveLength(1);
    // Markers deleted at close, one per shard.
    expect(calls.filter((call) => call.command === 'del')).toHaveLength(keys.shards);
    for (const call of calls) {
      expect(call.keys.length).toBeGreaterThan(0);
      const slots = new Set(call.keys.map((key) => keySlot(key)));
      expect(slots.size, `${call.command}: ${call.keys.slice(0, 3).join(', ')}…`).toBe(1);
    }
    // Lease writes and removals were spread over every shard.
    const written = new Set(calls.filter((call) => call.keys.length > 3).map((call) => keySlot(call.keys[0] ?? '')));
    expect(written.size).toBe(keys.shards);
  });
});
