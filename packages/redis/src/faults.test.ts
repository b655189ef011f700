import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '@keepalive/core';
import { createScheduler, createSessionActivity } from '@keepalive/node-timers';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeChild } from 'keepalive-test-support/runtime-child';
import { startRedisServer, type RedisServer } from 'keepalive-test-support/redis-server';
import { createLeaseWriter, createReclaimer, encodeLease, type Lease, type OrphanChange, type Reclaimer, type StatusChange } from './index.js';

// Faults of a Redis that answers but refuses (out of memory, a key of the wrong type, a read-only replica), orphans
// nobody saw alive, and leases nobody should trust, on real redis-servers. Intervals compressed: the writer retries
// at most 400 ms apart (the default is 10 s).

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
 * (counted on the server), it warns once, and it writes every lease once the refusal clears.
 */
async function refusedThenRecovered(name: string, prefix: string, refusal: Refusal): Promise<void> {
  const diagnostics = new Diagnostics();
  await refusal.refuse();
  const writer = createLeaseWriter({ url: refusal.server.url, prefix, owner: 'w', coalesceMs: 20, retryMaxMs: RETRY_MAX_MS, onDiagnostic: diagnostics.sink });
  await until('connected', () => writer.stats().connected, Boolean);
  const scheduler = createScheduler();
  const activities = Array.from({ length: SESSIONS }, () => createSessionActivity({ heartbeatIntervalMs: 30_000, scheduler }));
  const evalsBefore = await calls(refusal.client, 'eval');
  const setsBefore = await calls(refusal.client, 'set');
  const failing = diagnostics.next('lease_batch_failed');
  const startedAt = performance.now();
  activities.forEach((activity, i) => writer.track(`s${String(i)}`, activity));
  await until(`${String(ATTEMPTS)} failed attempts`, () => writer.stats().failedBatches, (failed) => failed >= ATTEMPTS);
  const elapsedMs = performance.now() - startedAt;
  const evals = (await calls(refusal.client, 'eval')) - evalsBefore;
  const sets = (await calls(refusal.client, 'set')) - setsBefore;
  const warned = diagnostics.all.filter((d) => d.level === 'warn');
  const perSecond = (n: number): string => ((n * 1_000) / elapsedMs).toFixed(1);
  console.log(`${name}: ${String(evals)} attempts (EVAL) in ${elapsedMs.toFixed(0)} ms: ${perSecond(evals)} EVAL/s, ${perSecond(sets)} SET/s, ${String(warned.length)} warning(s)`);

  // One script call per attempt (SESSIONS < 1 000 leases per call), spaced by the backoff: today's rate bound.
  expect(evals).toBeLessThanOrEqual(ATTEMPTS + 1);
  expect(elapsedMs).toBeGreaterThanOrEqual(LEAST_MS - 10);
  expect((evals * 1_000) / elapsedMs).toBeLessThan(10);
  // Each attempt stops at its first refused write: no lease is written unlisted.
  expect(sets).toBeLessThanOrEqual(evals * refusal.setsPerAttempt);
  // One warning for the whole failing period, naming the error class, not one per attempt.
  expect((await failing).fields).toMatchObject({ error: refusal.error, leases: SESSIONS });
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
  expect(writer.stats()).toMatchObject({ failures: 0, lastError: null, pending: 0, writes: SESSIONS });
  expect(await refusal.client.sCard(`${prefix}:leases`)).toBe(SESSIONS);
  expect(diagnostics.all.filter((d) => d.level === 'warn')).toHaveLength(1);
  await writer.close();
  expect(await refusal.client.sCard(`${prefix}:leases`)).toBe(0);
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
        await client.set('wrong:leases', 'not a set');
      },
      clear: async () => {
        await client.del('wrong:leases');
      },
    });
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

describe('orphans: index entries whose lease is gone, of sessions this reclaimer never saw', () => {
  it('a reclaimer started after a worker was killed (SIGKILL) reports each of its sessions expired once, and prunes the index', async () => {
    const count = 100;
    // 100 idle sessions renewed every 200 ms, expiring 400 ms after each write.
    const child = new RuntimeChild(process.execPath, [WORKER, redis.url, 'doomed', String(count), '100', '200', '2'], { cwd: CWD, timeoutMs: 60_000 });
    children.push(child);
    await child.line('ready', () => true, 20_000);
    child.kill('SIGKILL');
    await child.exited;
    const ids = Array.from({ length: count }, (_, i) => `doomed-${String(i)}`);
    await until('every lease expired', () => client.exists(ids.map((id) => `keepalive:lease:${id}`)), (n) => n === 0);
    expect(await client.sCard('keepalive:leases')).toBe(count);

    const reclaimer = createReclaimer({ url: redis.url, sweepIntervalMs: 50, graceMs: 200 });
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
    expect(await client.sCard('keepalive:leases')).toBe(0);
    // Never again: a few more sweeps report nothing.
    const sweeps = reclaimer.stats().sweeps;
    await until('three more sweeps', () => reclaimer.stats().sweeps, (n) => n >= sweeps + 3);
    expect(expired).toHaveLength(count);
    expect(changes).toEqual(Array.from({ length: count }, () => 'expired'));
    expect(reclaimer.stats()).toMatchObject({ orphans: count, pruned: count, sessions: 0 });
    expect([...reclaimer.sessions().keys()]).toEqual([]);
    await reclaimer.close();
  });

  it('an entry without its lease is reported only when two reads at least graceMs apart found it so: a lease written in between keeps it', async () => {
    const prefix = 'ghosts';
    const ghosts = Array.from({ length: 50 }, (_, i) => `ghost-${String(i)}`);
    await client.sAdd(`${prefix}:leases`, [...ghosts, 'late']);
    // Swept by hand only.
    const reclaimer: Reclaimer = createReclaimer({ url: redis.url, prefix, sweepIntervalMs: 60_000, graceMs: 200 });
    const expired: string[] = [];
    reclaimer.on('expired', ({ session }) => expired.push(session));
    await reclaimer.sweep();
    await reclaimer.sweep();
    // Twice, but less than graceMs apart: a writer that lists before it writes may be between its two commands.
    expect(expired).toEqual([]);
    expect(await client.sCard(`${prefix}:leases`)).toBe(51);
    // That writer's lease arrives.
    const lease: Lease = { owner: 'slow', busy: false, counts: {}, since: Date.now(), ageMs: 0, renewal: 1, renewMs: 10_000, ttlMs: 30_000 };
    await client.set(`${prefix}:lease:late`, encodeLease(lease), { expiration: { type: 'PX', value: 30_000 } });
    await until('the ghosts reported', async () => {
      await reclaimer.sweep();
      return expired.length;
    }, (n) => n >= ghosts.length);
    expect(new Set(expired)).toEqual(new Set(ghosts));
    expect(reclaimer.sessions().get('late')?.status).toBe('idle');
    expect(await client.sMembers(`${prefix}:leases`)).toEqual(['late']);
    await reclaimer.close();
  });
});

describe('leases nobody should trust', () => {
  it('a 10-year lease, one with no expiry and one whose expiry is 1 000 renewals are reported foreign, not trusted, once each until they change', async () => {
    const prefix = 'absurd';
    const decade = 10 * 365 * 86_400_000;
    const base: Lease = { owner: 'elsewhere', busy: true, counts: { tool_exec: 1 }, since: Date.now(), ageMs: 0, renewal: 1, renewMs: 2_000, ttlMs: 6_000 };
    const px = (value: number) => ({ expiration: { type: 'PX', value } }) as const;
    await client.set(`${prefix}:lease:decade`, encodeLease({ ...base, renewMs: decade, ttlMs: decade }), px(decade));
    await client.set(`${prefix}:lease:forever`, encodeLease(base));
    await client.set(`${prefix}:lease:stretched`, encodeLease({ ...base, ttlMs: 2_000_000 }), px(2_000_000));
    await client.set(`${prefix}:lease:fine`, encodeLease(base), px(6_000));
    await client.sAdd(`${prefix}:leases`, ['decade', 'forever', 'stretched', 'fine']);
    const diagnostics = new Diagnostics();
    const reclaimer = createReclaimer({ url: redis.url, prefix, sweepIntervalMs: 60_000, onDiagnostic: diagnostics.sink });
    await diagnostics.next('redis_ready');
    for (let i = 0; i < 10; i++) await reclaimer.sweep();
    const ignored = (): string[] => diagnostics.all.filter((d) => d.name === 'lease_ignored').map((d) => d.fields.problem as string);
    expect(ignored().sort()).toEqual(['no_expiry', 'out_of_bounds', 'out_of_bounds']);
    expect([...reclaimer.sessions().keys()]).toEqual(['fine']);
    expect(reclaimer.stats()).toMatchObject({ sweeps: 10, ignored: 3 });
    // A new value for the same entry is reported again, once.
    await client.set(`${prefix}:lease:decade`, encodeLease({ ...base, renewal: 2, renewMs: decade, ttlMs: decade }), px(decade));
    for (let i = 0; i < 5; i++) await reclaimer.sweep();
    expect(ignored()).toHaveLength(4);
    // No ids, owners or values in the diagnostics.
    for (const d of diagnostics.all) expect(JSON.stringify(d.fields)).not.toMatch(/decade|forever|stretched|elsewhere|tool_exec/);
    await reclaimer.close();
  });
});
