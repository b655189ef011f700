import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '@keepalive/core';
import { createScheduler, createSessionActivity } from '@keepalive/node-timers';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { within } from 'keepalive-test-support';
import { RuntimeChild } from 'keepalive-test-support/runtime-child';
import { startProxy, startRedisServer, type RedisServer } from 'keepalive-test-support/redis-server';
import {
  createLeaseWriter,
  createReclaimer,
  createRedisSessionStore,
  decodeLease,
  encodeLease,
  encodeStoredSession,
  leaseKeys,
  type Lease,
  type OrphanChange,
  type Reclaimer,
  type StatusChange,
} from './index.js';
import { startBackend, type Backend } from './test-support/backends.js';

// Faults of a Redis that answers but refuses (out of memory, a key of the wrong type, a read-only replica), orphans
// nobody saw alive, leases nobody should trust, and a session store that is refused or not connected yet, on real
// redis-servers. Intervals compressed: the writer and the store retry at most 400 ms apart (the default is 10 s).

function newClient(url: string) {
  return createClient({ url });
}
type Client = ReturnType<typeof newClient>;

const WORKER = fileURLToPath(new URL('./test-support/worker.mjs', import.meta.url));
const CWD = fileURLToPath(new URL('..', import.meta.url));
const SESSIONS = 200;
const RETRY_MAX_MS = 400;
/** Failed attempts watched in each refusal. */
const ATTEMPTS = 6;
/** The least time those attempts take: 20 ms coalescing, then waits of at least 100, 100, 200, 200, 200 ms. */
const LEAST_MS = 20 + 100 + 100 + 200 + 200 + 200;

const servers: RedisServer[] = [];
const clients: Client[] = [];
const children: RuntimeChild[] = [];
let redis: RedisServer;
let client: Client;

async function connect(server: RedisServer): Promise<Client> {
  const connection = newClient(server.url);
  connection.on('error', () => undefined);
  await connection.connect();
  clients.push(connection);
  return connection;
}

async function startServer(): Promise<{ server: RedisServer; client: Client }> {
  const server = await startRedisServer();
  servers.push(server);
  return { server, client: await connect(server) };
}

beforeAll(async () => {
  ({ server: redis, client } = await startServer());
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map((child) => child.exited));
  await Promise.all(clients.map((connection) => connection.close().catch(() => undefined)));
  await Promise.all(servers.map((server) => server.stop()));
});

/** Waits (bounded) until `done(read())`, reading again at each turn of the event loop's timers. */
async function until<T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const started = performance.now();
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms: ${what} (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Diagnostics as they come, and a promise for the first one that matches. */
class Diagnostics {
  readonly all: Diagnostic[] = [];
  private readonly waiters = new Set<{ readonly match: (d: Diagnostic) => boolean; readonly resolve: (d: Diagnostic) => void }>();
  readonly sink = (diagnostic: Diagnostic): void => {
    this.all.push(diagnostic);
    for (const waiter of [...this.waiters]) {
      if (!waiter.match(diagnostic)) continue;
      this.waiters.delete(waiter);
      waiter.resolve(diagnostic);
    }
  };

  next(name: string, ms = 5_000): Promise<Diagnostic> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${name} within ${ms} ms: ${JSON.stringify(this.all.map((d) => d.name))}`)), ms);
      this.waiters.add({
        match: (d) => d.name === name,
        resolve: (d) => {
          clearTimeout(timer);
          resolve(d);
        },
      });
    });
  }
}

/** Calls of a command so far, from `INFO commandstats`: executed (failed or not) plus rejected before running. */
async function calls(connection: Client, command: string): Promise<number> {
  const info = await connection.info('commandstats');
  const found = new RegExp(`^cmdstat_${command}:calls=(\\d+).*?rejected_calls=(\\d+)`, 'm').exec(info);
  return found === null ? 0 : Number(found[1]) + Number(found[2]);
}

/** Script calls so far: `EVALSHA`, and `EVAL` (once per script and server: the first `EVALSHA` answers `NOSCRIPT`). */
async function scriptCalls(connection: Client): Promise<{ readonly evalsha: number; readonly eval: number }> {
  return { evalsha: await calls(connection, 'evalsha'), eval: await calls(connection, 'eval') };
}

/** Entries of every shard of the index under `prefix`. */
async function indexSize(connection: Client, prefix: string, shards?: number): Promise<number> {
  const keys = leaseKeys(prefix, shards);
  const sizes = await Promise.all(Array.from({ length: keys.shards }, (_, shard) => connection.sCard(keys.index(shard))));
  return sizes.reduce((a, b) => a + b, 0);
}

interface Refusal {
  /** The class the writer should report. */
  readonly error: string;
  /** `SET`s tried per attempt: the first refused one stops the script (none when the index is checked first). */
  readonly setsPerAttempt: number;
  /** The server the writer writes to (and whose commands are counted). */
  readonly server: RedisServer;
  readonly client: Client;
  refuse(): Promise<void>;
  clear(): Promise<void>;
}

/**
 * A writer with SESSIONS sessions against a Redis that refuses its writes: its attempts are spaced by the backoff
 * (counted on the server), it warns once, and it writes every lease once the refusal clears. One shard (one
 * script call per attempt) so that the attempts are counted exactly; a failing shard among others is below.
 */
async function refusedThenRecovered(name: string, prefix: string, refusal: Refusal): Promise<void> {
  const diagnostics = new Diagnostics();
  await refusal.refuse();
  const writer = createLeaseWriter({ url: refusal.server.url, prefix, shards: 1, owner: 'w', coalesceMs: 20, retryMaxMs: RETRY_MAX_MS, onDiagnostic: diagnostics.sink });
  await until('connected', () => writer.stats().connected, Boolean);
  const scheduler = createScheduler();
  const activities = Array.from({ length: SESSIONS }, () => createSessionActivity({ heartbeatIntervalMs: 30_000, scheduler }));
  const scriptsBefore = await scriptCalls(refusal.client);
  const setsBefore = await calls(refusal.client, 'set');
  const failing = diagnostics.next('lease_batch_failed');
  const startedAt = performance.now();
  activities.forEach((activity, i) => writer.track(`s${String(i)}`, activity));
  await until(`${String(ATTEMPTS)} failed attempts`, () => writer.stats().failedBatches, (failed) => failed >= ATTEMPTS);
  const elapsedMs = performance.now() - startedAt;
  const scripts = await scriptCalls(refusal.client);
  // Attempts: one EVALSHA each; the first is answered NOSCRIPT, then sent whole (EVAL) once.
  const evals = scripts.evalsha - scriptsBefore.evalsha;
  expect(scripts.eval - scriptsBefore.eval).toBeLessThanOrEqual(1);
  const sets = (await calls(refusal.client, 'set')) - setsBefore;
  const warned = diagnostics.all.filter((d) => d.level === 'warn');
  const perSecond = (n: number): string => ((n * 1_000) / elapsedMs).toFixed(1);
  console.log(`${name}: ${String(evals)} attempts (EVALSHA) in ${elapsedMs.toFixed(0)} ms: ${perSecond(evals)} calls/s, ${perSecond(sets)} SET/s, ${String(warned.length)} warning(s)`);

  // One script call per attempt (SESSIONS < 1 000 leases per call), spaced by the backoff: today's rate bound.
  expect(evals).toBeLessThanOrEqual(ATTEMPTS + 1);
  expect(elapsedMs).toBeGreaterThanOrEqual(LEAST_MS - 10);
  expect((evals * 1_000) / elapsedMs).toBeLessThan(10);
  // Each attempt stops at its first refused write: no lease is written unlisted.
  expect(sets).toBeLessThanOrEqual(evals * refusal.setsPerAttempt);
  // One warning for the whole failing period, naming the error class, not one per attempt.
  expect((await failing).fields).toMatchObject({ error: refusal.error, leases: SESSIONS, shards: 1 });
  expect(warned.map((d) => d.name)).toEqual(['lease_batch_failed']);
  expect(writer.stats()).toMatchObject({ lastError: refusal.error, writes: 0 });
  expect(writer.stats().failures).toBeGreaterThanOrEqual(ATTEMPTS);

  const recovered = diagnostics.next('lease_writes_recovered', RETRY_MAX_MS + 5_000);
  const clearedAt = performance.now();
  await refusal.clear();
  const note = await recovered;
  console.log(`${name}: every lease written ${(performance.now() - clearedAt).toFixed(0)} ms after the refusal cleared`);
  expect(note.level).toBe('info');
  expect(note.fields).toMatchObject({ error: refusal.error });
  expect(Number(note.fields.failures)).toBeGreaterThanOrEqual(ATTEMPTS);
  expect(writer.stats()).toMatchObject({ failures: 0, failingShards: 0, lastError: null, pending: 0, writes: SESSIONS });
  expect(await indexSize(refusal.client, prefix, 1)).toBe(SESSIONS);
  expect(diagnostics.all.filter((d) => d.level === 'warn')).toHaveLength(1);
  await writer.close();
  expect(await indexSize(refusal.client, prefix, 1)).toBe(0);
  for (const activity of activities) activity.shutdown();
}

describe('a Redis that answers but refuses the writes: backoff, one warning, recovery', () => {
  it('out of memory (maxmemory tiny, noeviction): OOM', async () => {
    await refusedThenRecovered('OOM', 'oom', {
      error: 'OOM',
      setsPerAttempt: 1,
      server: redis,
      client,
      refuse: async () => {
        await client.configSet({ 'maxmemory-policy': 'noeviction', maxmemory: '1' });
      },
      clear: async () => {
        await client.configSet('maxmemory', '0');
      },
    });
  });

  it('the index key holding the wrong type: WRONGTYPE, and no lease written unlisted', async () => {
    await refusedThenRecovered('WRONGTYPE', 'wrong', {
      error: 'WRONGTYPE',
      setsPerAttempt: 0,
      server: redis,
      client,
      refuse: async () => {
        await client.set(leaseKeys('wrong', 1).index(0), 'not a set');
      },
      clear: async () => {
        await client.del(leaseKeys('wrong', 1).index(0));
      },
    });
  });

  it('a reclaimer still reads a Redis out of memory: its marker is refused, not the read', async () => {
    const prefix = 'oomread';
    const writer = createLeaseWriter({ url: redis.url, prefix, owner: 'w' });
    const activity = createSessionActivity();
    writer.track('s1', activity);
    await until('written', () => writer.stats().writes, (n) => n >= 1);
    await client.configSet({ 'maxmemory-policy': 'noeviction', maxmemory: '1' });
    try {
      const reclaimer = createReclaimer({ url: redis.url, prefix, sweepIntervalMs: 60_000 });
      await until('read', async () => {
        await reclaimer.sweep();
        return reclaimer.stats().sweeps;
      }, (sweeps) => sweeps >= 2);
      expect(reclaimer.sessions().get('s1')?.status).toBe('idle');
      await reclaimer.close();
    } finally {
      await client.configSet('maxmemory', '0');
    }
    await writer.close();
    activity.shutdown();
  });

  it('a read-only replica (a second redis-server replicating the first): READONLY', async () => {
    const replica = await startServer();
    // The primary syncs a new replica at once (by default it waits 5 s for others to join the transfer), and the
    // replica loads it from the socket (by default it writes a dump.rdb into its working directory first).
    await client.configSet('repl-diskless-sync-delay', '0');
    await replica.client.configSet('repl-diskless-load', 'on-empty-db');
    await replica.client.sendCommand(['REPLICAOF', '127.0.0.1', String(redis.port)]);
    await until('replicating', () => replica.client.info('replication'), (info) => info.includes('master_link_status:up'));
    await refusedThenRecovered('READONLY', 'replica', {
      error: 'READONLY',
      setsPerAttempt: 1,
      server: replica.server,
      client: replica.client,
      refuse: () => Promise.resolve(),
      clear: async () => {
        // A failover: the replica is promoted.
        await replica.client.sendCommand(['REPLICAOF', 'NO', 'ONE']);
      },
    });
  });
});

describe('one shard refusing among others (its index of the wrong type): only that shard waits', () => {
  it('the other shards are written as usual, changes in them within coalesceMs; the failing shard retries alone, spaced by the backoff', async () => {
    const prefix = 'oneshard';
    const keys = leaseKeys(prefix);
    const diagnostics = new Diagnostics();
    const ids = Array.from({ length: SESSIONS }, (_, i) => `s${String(i)}`);
    const bad = keys.shardOf('s0');
    const inBad = ids.filter((id) => keys.shardOf(id) === bad);
    const healthy = ids.find((id) => keys.shardOf(id) !== bad) ?? '';
    await client.set(keys.index(bad), 'not a set');
    const writer = createLeaseWriter({ url: redis.url, prefix, owner: 'w', coalesceMs: 20, retryMaxMs: RETRY_MAX_MS, onDiagnostic: diagnostics.sink });
    await until('connected', () => writer.stats().connected, Boolean);
    const scheduler = createScheduler();
    const activities = ids.map(() => createSessionActivity({ heartbeatIntervalMs: 30_000, scheduler }));
    const before = await scriptCalls(client);
    const failing = diagnostics.next('lease_batch_failed');
    activities.forEach((activity, i) => writer.track(ids[i] ?? '', activity));
    await until(`${String(ATTEMPTS)} failed attempts`, () => writer.stats().failedBatches, (failed) => failed >= ATTEMPTS);
    expect((await failing).fields).toMatchObject({ error: 'WRONGTYPE', shards: 1, leases: inBad.length });
    expect(writer.stats()).toMatchObject({ failingShards: 1, writes: SESSIONS - inBad.length, lastError: 'WRONGTYPE' });
    const listed = await Promise.all(Array.from({ length: keys.shards }, (_, shard) => (shard === bad ? Promise.resolve(0) : client.sCard(keys.index(shard)))));
    expect(listed.reduce((a, b) => a + b, 0)).toBe(SESSIONS - inBad.length);
    // The first batch: one call per shard; then one per attempt of the failing shard alone.
    const evals = (await scriptCalls(client)).evalsha - before.evalsha;
    expect(evals).toBeLessThanOrEqual(keys.shards + writer.stats().failedBatches);
    // A change in a healthy shard is written at once, whatever the failing shard waits for.
    const index = ids.indexOf(healthy);
    const changedAt = performance.now();
    activities[index]?.start('tool_exec');
    await until('the healthy change written', async () => decodeLease((await client.get(keys.lease(healthy))) ?? ''), (decoded) => decoded.ok && decoded.lease.busy);
    const lagMs = performance.now() - changedAt;
    console.log(`one shard of ${String(keys.shards)} refusing: ${String(evals)} script calls for ${String(writer.stats().failedBatches)} failed attempts; a change in a healthy shard written ${lagMs.toFixed(0)} ms later`);
    expect(lagMs).toBeLessThan(RETRY_MAX_MS);
    const recovered = diagnostics.next('lease_writes_recovered', RETRY_MAX_MS + 5_000);
    await client.del(keys.index(bad));
    expect((await recovered).fields).toMatchObject({ error: 'WRONGTYPE' });
    expect(writer.stats()).toMatchObject({ failingShards: 0, failures: 0, pending: 0 });
    expect(await indexSize(client, prefix)).toBe(SESSIONS);
    expect(diagnostics.all.filter((d) => d.level === 'warn')).toHaveLength(1);
    await writer.close();
    expect(await indexSize(client, prefix)).toBe(0);
    for (const activity of activities) activity.shutdown();
  });
});

describe.each(['redis-server', 'cluster'] as const)('orphans on a %s: index entries whose lease is gone, of sessions this reclaimer never saw', (kind) => {
  let backend: Backend;

  beforeAll(async () => {
    backend = await startBackend(kind);
  });

  afterAll(async () => {
    await backend.stop();
  });

  it('a reclaimer started after a worker was killed (SIGKILL) reports each of its sessions expired once, and prunes the index', async () => {
    const count = 100;
    // 100 idle sessions renewed every 200 ms, expiring 400 ms after each write.
    const child = new RuntimeChild(process.execPath, [WORKER, backend.target, 'doomed', String(count), '100', '200', '2'], { cwd: CWD, timeoutMs: 60_000 });
    children.push(child);
    await child.line('ready', () => true, 20_000);
    child.kill('SIGKILL');
    await child.exited;
    const ids = Array.from({ length: count }, (_, i) => `doomed-${String(i)}`);
    const keys = leaseKeys('keepalive');
    const probe = await backend.probe();
    const leases = async (): Promise<number> => (await Promise.all(ids.map((id) => probe.exists(keys.lease(id))))).reduce((a, b) => a + b, 0);
    await until('every lease expired', leases, (n) => n === 0);
    expect(await backend.indexSize()).toBe(count);

    const reclaimer = createReclaimer({ ...backend.options(), sweepIntervalMs: 50, graceMs: 200 });
    const expired: (StatusChange | OrphanChange)[] = [];
    const all = new Promise<void>((resolve) => {
      reclaimer.on('expired', (change) => {
        expired.push(change);
        if (expired.length === count) resolve();
      });
    });
    const changes: string[] = [];
    reclaimer.on('change', (change) => changes.push(change.status));
    await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error(`${String(expired.length)} of ${String(count)} reported`)), 10_000))]);
    expect(new Set(expired.map((change) => change.session))).toEqual(new Set(ids));
    for (const change of expired) expect(change).toMatchObject({ status: 'expired', previous: null, lease: null, idleMs: null });
    expect(await backend.indexSize()).toBe(0);
    // Never again: a few more sweeps report nothing.
    const sweeps = reclaimer.stats().sweeps;
    await until('three more sweeps', () => reclaimer.stats().sweeps, (n) => n >= sweeps + 3);
    expect(expired).toHaveLength(count);
    expect(changes).toEqual(Array.from({ length: count }, () => 'expired'));
    expect(reclaimer.stats()).toMatchObject({ orphans: count, pruned: count, sessions: 0 });
    expect([...reclaimer.sessions().keys()]).toEqual([]);
    await reclaimer.close();
  });
});

describe('orphans: index entries whose lease is gone, of sessions this reclaimer never saw', () => {
  it('an entry without its lease is reported only when two reads at least graceMs apart found it so: a lease written in between keeps it', async () => {
    const prefix = 'ghosts';
    const keys = leaseKeys(prefix);
    const ghosts = Array.from({ length: 50 }, (_, i) => `ghost-${String(i)}`);
    for (const id of [...ghosts, 'late']) await client.sAdd(keys.index(keys.shardOf(id)), id);
    // Swept by hand only.
    const reclaimer: Reclaimer = createReclaimer({ url: redis.url, prefix, sweepIntervalMs: 60_000, graceMs: 200 });
    const expired: string[] = [];
    reclaimer.on('expired', ({ session }) => expired.push(session));
    await reclaimer.sweep();
    await reclaimer.sweep();
    // Twice, but less than graceMs apart: a writer that lists before it writes may be between its two commands.
    expect(expired).toEqual([]);
    expect(await indexSize(client, prefix)).toBe(51);
    // That writer's lease arrives.
    const lease: Lease = { owner: 'slow', busy: false, counts: {}, since: Date.now(), ageMs: 0, renewal: 1, renewMs: 10_000, ttlMs: 30_000 };
    await client.set(keys.lease('late'), encodeLease(lease), { expiration: { type: 'PX', value: 30_000 } });
    await until('the ghosts reported', async () => {
      await reclaimer.sweep();
      return expired.length;
    }, (n) => n >= ghosts.length);
    expect(new Set(expired)).toEqual(new Set(ghosts));
    expect(reclaimer.sessions().get('late')?.status).toBe('idle');
    expect(await indexSize(client, prefix)).toBe(1);
    expect(await client.sMembers(keys.index(keys.shardOf('late')))).toEqual(['late']);
    await reclaimer.close();
  });
});

describe('leases nobody should trust', () => {
  it('a 10-year lease, one with no expiry and one whose expiry is 1 000 renewals are reported foreign, not trusted, once each until they change', async () => {
    const prefix = 'absurd';
    const keys = leaseKeys(prefix);
    const decade = 10 * 365 * 86_400_000;
    const base: Lease = { owner: 'elsewhere', busy: true, counts: { tool_exec: 1 }, since: Date.now(), ageMs: 0, renewal: 1, renewMs: 2_000, ttlMs: 6_000 };
    const px = (value: number) => ({ expiration: { type: 'PX', value } }) as const;
    await client.set(keys.lease('decade'), encodeLease({ ...base, renewMs: decade, ttlMs: decade }), px(decade));
    await client.set(keys.lease('forever'), encodeLease(base));
    await client.set(keys.lease('stretched'), encodeLease({ ...base, ttlMs: 2_000_000 }), px(2_000_000));
    await client.set(keys.lease('fine'), encodeLease(base), px(6_000));
    for (const id of ['decade', 'forever', 'stretched', 'fine']) await client.sAdd(keys.index(keys.shardOf(id)), id);
    const diagnostics = new Diagnostics();
    const reclaimer = createReclaimer({ url: redis.url, prefix, sweepIntervalMs: 60_000, onDiagnostic: diagnostics.sink });
    await diagnostics.next('redis_ready');
    for (let i = 0; i < 10; i++) await reclaimer.sweep();
    const ignored = (): string[] => diagnostics.all.filter((d) => d.name === 'lease_ignored').map((d) => d.fields.problem as string);
    expect(ignored().sort()).toEqual(['no_expiry', 'out_of_bounds', 'out_of_bounds']);
    expect([...reclaimer.sessions().keys()]).toEqual(['fine']);
    expect(reclaimer.stats()).toMatchObject({ sweeps: 10, ignored: 3 });
    // A new value for the same entry is reported again, once.
    await client.set(keys.lease('decade'), encodeLease({ ...base, renewal: 2, renewMs: decade, ttlMs: decade }), px(decade));
    for (let i = 0; i < 5; i++) await reclaimer.sweep();
    expect(ignored()).toHaveLength(4);
    // No ids, owners or values in the diagnostics.
    for (const d of diagnostics.all) expect(JSON.stringify(d.fields)).not.toMatch(/decade|forever|stretched|elsewhere|tool_exec/);
    await reclaimer.close();
  });
});

describe('the Redis session store against a Redis that refuses or is not there yet', () => {
  const PROOF = 'a'.repeat(43);
  const stored = (delivered: number) => () => ({ deliveredThrough: delivered, ackedThrough: 0, transmittedThrough: 0, unacked: [], proof: PROOF });

  it('out of memory: batches spaced by the backoff, one session_store_failed for the whole period, flush rejects within commandTimeoutMs, then one session_store_recovered and every session written', async () => {
    const diagnostics = new Diagnostics();
    const store = createRedisSessionStore({ url: redis.url, prefix: 'store-oom', coalesceMs: 5, retryMaxMs: RETRY_MAX_MS, commandTimeoutMs: 500, onDiagnostic: diagnostics.sink });
    try {
      await until('connected', () => diagnostics.all.some((d) => d.name === 'redis_ready'), Boolean);
      await client.configSet({ 'maxmemory-policy': 'noeviction', maxmemory: '1' });
      const before = await scriptCalls(client);
      const startedAt = performance.now();
      for (let i = 0; i < 20; i++) store.save(`s${String(i)}`, stored(1));
      await until(`${String(ATTEMPTS)} failed batches`, () => store.stats().failedBatches, (failed) => failed >= ATTEMPTS);
      const elapsedMs = performance.now() - startedAt;
      const after = await scriptCalls(client);
      const calls = after.evalsha - before.evalsha + after.eval - before.eval;
      console.log(`session store, OOM: ${String(store.stats().failedBatches)} batches of 20 writes in ${elapsedMs.toFixed(0)} ms (${String(calls)} script calls), ${String(diagnostics.all.filter((d) => d.level === 'warn').length)} warning(s)`);
      // Before: a batch every 100 ms and a warning each. Now the waits double (at least 100, 100, 200, 200, 200 ms).
      expect(elapsedMs).toBeGreaterThanOrEqual(LEAST_MS - 20 - 10);
      expect(calls).toBeLessThanOrEqual((ATTEMPTS + 1) * 20 * 2);
      expect(diagnostics.all.filter((d) => d.level === 'warn').map((d) => [d.name, d.fields.op, d.fields.error, d.fields.sessions])).toEqual([['session_store_failed', 'save', 'OOM', 20]]);
      expect(store.stats()).toMatchObject({ pending: 20, writes: 0 });
      expect(store.stats().failures).toBeGreaterThanOrEqual(ATTEMPTS);
      // flush tries at once and again, and gives up after commandTimeoutMs, saying how many are not written.
      const flushedAt = performance.now();
      await expect(store.flush()).rejects.toThrow('20 sessions not written within 500 ms');
      expect(performance.now() - flushedAt).toBeLessThan(500 + 500 + 200);

      const recovered = diagnostics.next('session_store_recovered', RETRY_MAX_MS + 5_000);
      await client.configSet('maxmemory', '0');
      const note = await recovered;
      expect(note.fields).toMatchObject({ error: 'OOM' });
      expect(Number(note.fields.failures)).toBeGreaterThanOrEqual(ATTEMPTS);
      await store.flush();
      expect(store.stats()).toMatchObject({ pending: 0, failures: 0, writes: 20 });
      expect(await client.exists(Array.from({ length: 20 }, (_, i) => `store-oom:resume:s${String(i)}`))).toBe(20);
      expect(diagnostics.all.filter((d) => d.level === 'warn')).toHaveLength(1);
    } finally {
      await client.configSet('maxmemory', '0');
      await store.close();
    }
  });

  it('proof() and load() asked while the store is still connecting wait for the connection (bounded by commandTimeoutMs) instead of failing at once', async () => {
    const proxy = await startProxy(redis.port);
    try {
      await client.hSet('late:resume:s1', { e: '1', s: encodeStoredSession({ deliveredThrough: 2, ackedThrough: 0, transmittedThrough: 0, unacked: [], proof: PROOF }), p: PROOF });
      proxy.cut();
      const store = createRedisSessionStore({ url: proxy.url, prefix: 'late', commandTimeoutMs: 2_000, reconnectMaxMs: 50 });
      try {
        const asked = store.proof('s1');
        const loaded = store.load('s1');
        // Redis reachable a moment later: both are answered, not refused.
        await new Promise((resolve) => setTimeout(resolve, 200));
        proxy.restore();
        expect(await within(asked, 5_000, 'proof')).toBe(PROOF);
        expect(await within(loaded, 5_000, 'load')).toMatchObject({ deliveredThrough: 2, proof: PROOF });
      } finally {
        await store.close();
      }
      // Never reachable: the wait ends after commandTimeoutMs, and the command fails then.
      proxy.cut();
      const unreachable = createRedisSessionStore({ url: proxy.url, prefix: 'late', commandTimeoutMs: 300, reconnectMaxMs: 50 });
      try {
        const startedAt = performance.now();
        await expect(unreachable.proof('s1')).rejects.toThrow();
        expect(performance.now() - startedAt).toBeGreaterThanOrEqual(290);
      } finally {
        await unreachable.close();
      }
    } finally {
      await proxy.close();
    }
  });
});
