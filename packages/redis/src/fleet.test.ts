import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeChild } from 'keepalive-test-support/runtime-child';
import { startProxy, startRedisServer, type CuttableProxy, type RedisServer } from 'keepalive-test-support/redis-server';
import { createReclaimer, type OrphanChange, type Reclaimer, type StatusChange } from './index.js';
import type { LeaseStatus } from './lease-state.js';

// Three worker processes with many sessions each, one reclaimer (here, in the test process), a real redis-server.
// Short intervals so the suite runs in seconds: busy leases renew every 200 ms (the heartbeat), idle ones every
// 400 ms, and expire after 6 intervals (busy 1 200 ms, idle 2 400 ms); the reclaimer sweeps every 100 ms.
const SESSIONS = 200;
const HEARTBEAT_MS = 200;
const IDLE_RENEWAL_MS = 400;
const LEASE_INTERVALS = 6;
const SWEEP_MS = 100;
const IDLE_LIMIT_MS = 1_500;
const WORKER = fileURLToPath(new URL('./test-support/worker.mjs', import.meta.url));
const CWD = fileURLToPath(new URL('..', import.meta.url));

interface Worker {
  readonly owner: string;
  readonly child: RuntimeChild;
  pid: number;
}

let redis: RedisServer;
let proxy: CuttableProxy;
let reclaimer: Reclaimer;
const workers: Worker[] = [];
const history = new Map<string, LeaseStatus[]>();
const changes: ((StatusChange | OrphanChange) & { readonly at: number })[] = [];
const diagnostics: string[] = [];

async function startWorker(owner: string, url: string): Promise<Worker> {
  const child = new RuntimeChild(process.execPath, [WORKER, url, owner, String(SESSIONS), String(HEARTBEAT_MS), String(IDLE_RENEWAL_MS), String(LEASE_INTERVALS)], {
    cwd: CWD,
    timeoutMs: 120_000,
  });
  const ready = await child.line('ready', () => true, 20_000);
  const worker = { owner, child, pid: ready.pid as number };
  workers.push(worker);
  return worker;
}

interface WorkerStats {
  readonly keepalives: number;
  readonly writer: { readonly pending: number; readonly connected: boolean };
  readonly diagnostics: Readonly<Record<string, number>>;
}

async function command(worker: Worker, cmd: Record<string, unknown>): Promise<void> {
  const before = worker.child.all('done').length;
  worker.child.command(cmd);
  await worker.child.line('done', () => worker.child.all('done').length > before);
}

async function stats(worker: Worker): Promise<WorkerStats> {
  const before = worker.child.all('stats').length;
  worker.child.command({ cmd: 'stats' });
  const line = await worker.child.line('stats', () => worker.child.all('stats').length > before);
  return line as unknown as WorkerStats;
}

/** Waits (bounded) for `condition` over the reclaimer's view, checked after each sweep. */
async function until(what: string, condition: () => boolean, ms = 15_000): Promise<number> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}\n${JSON.stringify(summary())}`);
    await reclaimer.sweep();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return performance.now() - started;
}

function byOwner(owner: string): Worker {
  const worker = workers.find((candidate) => candidate.owner === owner);
  if (worker === undefined) throw new Error(`no worker ${owner}`);
  return worker;
}

function owned(owner: string, status?: LeaseStatus): string[] {
  return [...reclaimer.sessions().values()].filter((view) => view.lease.owner === owner && (status === undefined || view.status === status)).map((view) => view.session);
}

function summary(): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const view of reclaimer.sessions().values()) {
    const row = (out[view.lease.owner] ??= {});
    row[view.status] = (row[view.status] ?? 0) + 1;
  }
  return out;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

beforeAll(async () => {
  redis = await startRedisServer();
  proxy = await startProxy(redis.port);
  reclaimer = createReclaimer({ url: redis.url, sweepIntervalMs: SWEEP_MS, idleLimitMs: IDLE_LIMIT_MS, readStaleMs: 300, graceMs: 300, commandTimeoutMs: 500, reconnectMaxMs: 100, onDiagnostic: (d) => diagnostics.push(d.name) });
  reclaimer.on('change', (change) => {
    changes.push({ ...change, at: performance.now() });
    const seen = history.get(change.session) ?? [];
    seen.push(change.status);
    history.set(change.session, seen);
  });
  // Worker 3 reaches Redis through a proxy the test can cut.
  await Promise.all([startWorker('w0', redis.url), startWorker('w1', redis.url), startWorker('w2', redis.url), startWorker('w3', proxy.url)]);
  // Half of every worker's sessions busy.
  await Promise.all(workers.map((worker) => command(worker, { cmd: 'busy', from: 0, to: SESSIONS / 2 })));
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.child.stop(2_000)));
  await reclaimer.close();
  await proxy.close();
  await redis.stop();
});

describe('a fleet of workers and one reclaimer (real redis-server, child processes)', () => {
  it('S1: busy and idle sessions of three workers reported correctly; idle ones turn reclaimable after the limit, never a busy one', async () => {
    const owners = workers.map((worker) => worker.owner);
    await until('half busy, half reclaimable on every worker', () => owners.every((owner) => owned(owner, 'busy').length === SESSIONS / 2 && owned(owner, 'reclaimable').length === SESSIONS / 2));
    for (const [session, statuses] of history) {
      const index = Number(session.split('-')[1]);
      if (index < SESSIONS / 2) expect(statuses).not.toContain('reclaimable');
    }
    const view = reclaimer.sessions().get('w1-0');
    expect(view?.lease.counts).toEqual({ tool_exec: 1 });
    expect(view?.lease.busy).toBe(true);
    const idle = reclaimer.sessions().get('w1-150');
    expect(idle?.idleMs).toBeGreaterThanOrEqual(IDLE_LIMIT_MS);
  });

  it('busy again: a reclaimable session that starts work is reported busy', async () => {
    const from = changes.length;
    await command(byOwner('w1'), { cmd: 'busy', from: SESSIONS / 2, to: SESSIONS / 2 + 10 });
    await until('ten sessions busy again', () => changes.slice(from).filter((change) => change.status === 'busy' && change.previous === 'reclaimable').length === 10);
    await command(byOwner('w1'), { cmd: 'idle', from: SESSIONS / 2, to: SESSIONS / 2 + 10 });
    await until('idle again', () => owned('w1', 'busy').length === SESSIONS / 2);
  });

  it('Redis restarted mid-run (no persistence): unknown while it is down, leases back within one interval, no busy session ever reclaimable, nothing expired', async () => {
    const from = changes.length;
    const client = createClient({ url: redis.url });
    client.on('error', () => undefined);
    await redis.kill();
    // While Redis is down, nothing is decided: every session turns unknown once the last read is readStaleMs old.
    const unknownMs = await until('every session unknown', () => [...reclaimer.sessions().values()].every((view) => view.status === 'unknown'));
    console.log(`redis down: every session unknown ${unknownMs.toFixed(0)} ms after the kill (readStaleMs 300 ms)`);
    await redis.start();
    const restartedAt = performance.now();
    await client.connect();
    try {
      // Every live worker writes every lease again as soon as its connection is ready.
      const total = SESSIONS * workers.length;
      let back = 0;
      for (let i = 0; i < 500; i++) {
        back = await client.sCard('keepalive:leases');
        if (back === total) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const backMs = performance.now() - restartedAt;
      expect(back).toBe(total);
      console.log(`redis restart: ${total} leases back ${backMs.toFixed(0)} ms after the new server accepted connections (idle renewal interval ${IDLE_RENEWAL_MS} ms)`);
      expect(backMs).toBeLessThanOrEqual(IDLE_RENEWAL_MS + 1_000);
    } finally {
      await client.close();
    }
    await until('all busy and reclaimable again', () => workers.every((worker) => owned(worker.owner, 'busy').length === SESSIONS / 2 && owned(worker.owner, 'reclaimable').length === SESSIONS / 2));
    const during = changes.slice(from);
    expect(during.filter((change) => change.status === 'expired' || change.status === 'ended')).toEqual([]);
    for (const change of during) {
      if (Number(change.session.split('-')[1]) < SESSIONS / 2) expect(change.status).not.toBe('reclaimable');
    }
    console.log(`redis restart: statuses seen meanwhile ${JSON.stringify(countBy(during.map((change) => change.status)))}`);
  });

  it('B5: a worker cut off from Redis keeps its local keep-alives; its sessions go unknown, then expired, at the reclaimer', async () => {
    const worker = byOwner('w3');
    const from = changes.length;
    const before = await stats(worker);
    proxy.cut();
    const cutAt = performance.now();
    await until('every session of the cut-off worker expired', () => owned(worker.owner).length === 0, 20_000);
    const after = await stats(worker);
    // Local keep-alives went on: 100 busy sessions, a heartbeat every 200 ms each.
    expect(after.keepalives - before.keepalives).toBeGreaterThan(SESSIONS / 2);
    // Its batches went unanswered (timed out, reported), and what waits is one lease per session, no more.
    expect(after.diagnostics.lease_batch_failed ?? 0).toBeGreaterThan(0);
    expect(after.writer.pending).toBeLessThanOrEqual(SESSIONS);
    const mine = changes.slice(from).filter((change) => change.session.startsWith(`${worker.owner}-`));
    for (let i = 0; i < SESSIONS; i++) {
      const statuses = mine.filter((change) => change.session === `${worker.owner}-${String(i)}`).map((change) => change.status);
      // Unknown first (the lease stopped being renewed), then expired (its key ran out), once.
      expect(statuses.slice(-2)).toEqual(['unknown', 'expired']);
      expect(statuses.filter((status) => status === 'expired')).toHaveLength(1);
    }
    const expiredAt = mine.filter((change) => change.status === 'expired').map((change) => change.at - cutAt);
    console.log(`cut-off worker: ${SESSIONS} sessions expired ${percentile(expiredAt, 50).toFixed(0)} ms (p50) / ${Math.max(...expiredAt).toFixed(0)} ms (max) after the cut`);
    proxy.restore();
    await until('the cut-off worker is back', () => owned(worker.owner).length === SESSIONS);
  });

  it('a worker killed with SIGKILL: every session reported expired within its lease expiry plus one sweep', async () => {
    const worker = byOwner('w0');
    const from = changes.length;
    process.kill(worker.pid, 'SIGKILL');
    const killedAt = performance.now();
    await until('every session of the killed worker expired', () => owned(worker.owner).length === 0, 20_000);
    const expired = changes.slice(from).filter((change) => change.session.startsWith(`${worker.owner}-`) && change.status === 'expired');
    expect(expired).toHaveLength(SESSIONS);
    const detection = (busy: boolean): number[] => expired.filter((change) => change.lease?.busy === busy).map((change) => change.at - killedAt);
    const busyMs = detection(true);
    const idleMs = detection(false);
    const busyBound = HEARTBEAT_MS * LEASE_INTERVALS + SWEEP_MS;
    const idleBound = IDLE_RENEWAL_MS * LEASE_INTERVALS + SWEEP_MS;
    console.log(
      `SIGKILL detection: busy sessions p50 ${percentile(busyMs, 50).toFixed(0)} ms, max ${Math.max(...busyMs).toFixed(0)} ms (lease ${HEARTBEAT_MS * LEASE_INTERVALS} ms + sweep ${SWEEP_MS} ms); idle sessions p50 ${percentile(idleMs, 50).toFixed(0)} ms, max ${Math.max(...idleMs).toFixed(0)} ms (lease ${IDLE_RENEWAL_MS * LEASE_INTERVALS} ms + sweep ${SWEEP_MS} ms)`,
    );
    // The bound, plus slack for one sweep of 800 leases and this event loop on a loaded 2-core machine.
    expect(Math.max(...busyMs)).toBeLessThanOrEqual(busyBound + 1_000);
    expect(Math.max(...idleMs)).toBeLessThanOrEqual(idleBound + 1_000);
    // The others are untouched.
    expect(changes.slice(from).filter((change) => change.status === 'expired' && !change.session.startsWith('w0-'))).toEqual([]);
  });

  it('a worker that exits cleanly removes its leases: its sessions are reported ended, not expired', async () => {
    const worker = byOwner('w2');
    const from = changes.length;
    await worker.child.stop(5_000);
    await until('every session of the closed worker ended', () => owned(worker.owner).length === 0);
    const mine = changes.slice(from).filter((change) => change.session.startsWith('w2-'));
    // Every session ends as `ended`, none `expired` (a renewal late on a loaded machine may show `unknown` first).
    expect(mine.filter((change) => change.status === 'ended')).toHaveLength(SESSIONS);
    expect(mine.filter((change) => change.status === 'expired')).toEqual([]);
  });
});

function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const value of values) out[value] = (out[value] ?? 0) + 1;
  return out;
}
