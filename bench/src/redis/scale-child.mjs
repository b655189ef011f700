/**
 * One run of scenario 11 (Node): `scale-child.mjs <kind> <target> <sessions> <workers> <busyEvery> <heartbeatMs>
 * <idleRenewalMs> <measureMs> <sweeps>`. Starts `<workers>` worker processes (scale-worker.mjs) sharing `<sessions>`
 * sessions on `<target>` (one redis-server, or `cluster:` and the URLs of a cluster's masters), waits until every lease
 * is written and one idle renewal interval more, then measures:
 *
 * - commands: what the server(s) executed (`INFO stats` total_commands_processed, summed over the masters; a lease's
 *   `SET` inside a script counts as one) and the script calls the writers sent, over `<measureMs>`, per second and per
 *   session per second; and the servers' CPU (`INFO cpu`);
 * - memory per lease: `INFO memory` used_memory (summed) after every lease is written, minus before, per session;
 * - the reclaimer (in this process, on its own connection or cluster client): the time of `<sweeps>` sweeps of the
 *   whole fleet (every shard, every lease), and at each the staleness of every lease it read (the wall time of the
 *   sweep's start minus the wall time the lease was written), p50/p99/max, busy and idle apart.
 *
 * Prints one JSON line.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createReclaimer } from '@keepalive/redis';
import { createClient, createCluster } from 'redis';
import { startChild } from '../lib/proc.mjs';

const [kind, target, sessionsArg, workersArg, busyEveryArg, heartbeatArg, idleArg, measureArg, sweepsArg] = process.argv.slice(2);
const sessions = Number(sessionsArg);
const workerCount = Number(workersArg);
const busyEvery = Number(busyEveryArg);
const heartbeatMs = Number(heartbeatArg);
const idleRenewalMs = Number(idleArg);
const measureMs = Number(measureArg);
const sweeps = Number(sweepsArg);
const urls = target.startsWith('cluster:') ? target.slice('cluster:'.length).split(',') : [target];

// One plain connection per master, for INFO.
const nodes = [];
for (const url of urls) {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  nodes.push(client);
}
const field = (text, name) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(text)?.[1] ?? NaN);
async function counters() {
  let commands = 0;
  let cpuS = 0;
  let memory = 0;
  for (const node of nodes) {
    const info = await node.info();
    commands += field(info, 'total_commands_processed');
    cpuS += field(info, 'used_cpu_user') + field(info, 'used_cpu_sys');
    memory += field(info, 'used_memory');
  }
  return { commands, cpuS, memory };
}

const empty = await counters();
const t0 = performance.now();
const per = Math.ceil(sessions / workerCount);
const workers = [];
for (let w = 0; w < workerCount; w++) {
  const from = w * per;
  const to = Math.min(sessions, from + per);
  workers.push(startChild(process.execPath, ['--max-old-space-size=4096', 'src/redis/scale-worker.mjs', target, String(from), String(to), String(busyEvery), String(heartbeatMs), String(idleRenewalMs), String(idleRenewalMs)]));
}
try {
  await Promise.all(workers.map((worker) => worker.next((line) => line.type === 'ready', 900_000)));
  const writtenMs = performance.now() - t0;
  // Steady state: one more idle renewal interval.
  await sleep(idleRenewalMs);
  const writerStats = async () => {
    const all = await Promise.all(
      workers.map((worker) => {
        worker.send(JSON.stringify({ cmd: 'stats' }));
        return worker.next((line) => line.type === 'stats', 60_000);
      }),
    );
    return {
      commands: all.reduce((sum, line) => sum + line.stats.commands, 0),
      writes: all.reduce((sum, line) => sum + line.stats.writes, 0),
      failedBatches: all.reduce((sum, line) => sum + line.stats.failedBatches, 0),
      rssBytes: all.reduce((sum, line) => sum + line.rssBytes, 0),
    };
  };
  const before = await counters();
  const writersBefore = await writerStats();
  const m0 = performance.now();
  await sleep(measureMs);
  const elapsedS = (performance.now() - m0) / 1_000;
  const after = await counters();
  const writersAfter = await writerStats();
  const result = {
    kind,
    masters: nodes.length,
    sessions,
    workers: workerCount,
    busy: Math.ceil(sessions / busyEvery),
    heartbeatMs,
    idleRenewalMs,
    writtenMs,
    measuredS: elapsedS,
    serverCommandsPerSecond: (after.commands - before.commands) / elapsedS,
    leaseWritesPerSecond: (writersAfter.writes - writersBefore.writes) / elapsedS,
    scriptCallsPerSecond: (writersAfter.commands - writersBefore.commands) / elapsedS,
    failedBatches: writersAfter.failedBatches,
    serverCpuPercent: ((after.cpuS - before.cpuS) / elapsedS) * 100,
    memoryBytesPerLease: (after.memory - empty.memory) / sessions,
    workerRssBytesPerSession: writersAfter.rssBytes / sessions,
  };
  result.serverCommandsPerSessionPerSecond = result.serverCommandsPerSecond / sessions;
  result.scriptCallsPerSessionPerSecond = result.scriptCallsPerSecond / sessions;

  // The reclaimer: whole-fleet sweeps, by hand.
  let cluster = null;
  if (target.startsWith('cluster:')) {
    cluster = createCluster({ rootNodes: urls.map((url) => ({ url })), defaults: { disableOfflineQueue: true } });
    cluster.on('error', () => {});
  }
  const reclaimer = createReclaimer({ ...(cluster === null ? { url: target } : { client: cluster }), prefix: 'bench', sweepIntervalMs: 3_600_000, commandTimeoutMs: 30_000, idleLimitMs: 3_600_000 });
  for (let i = 0; i < 100 && reclaimer.stats().sweeps === 0; i++) {
    await sleep(100);
    await reclaimer.sweep();
  }
  const sweepMs = [];
  const staleness = { busy: [], idle: [] };
  for (let i = 0; i < sweeps; i++) {
    const wall = Date.now();
    const s0 = performance.now();
    await reclaimer.sweep();
    sweepMs.push(performance.now() - s0);
    if (i === sweeps - 1 || i === 0) {
      for (const view of reclaimer.sessions().values()) {
        const writtenAt = view.lease.since + view.lease.ageMs;
        (view.lease.busy ? staleness.busy : staleness.idle).push(wall - writtenAt);
      }
    }
  }
  const stats = reclaimer.stats();
  const quantiles = (list) => {
    const sorted = [...list].sort((a, b) => a - b);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
    return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
  };
  result.leasesRead = reclaimer.sessions().size;
  result.statuses = {};
  for (const view of reclaimer.sessions().values()) result.statuses[view.status] = (result.statuses[view.status] ?? 0) + 1;
  result.sweepMs = quantiles(sweepMs);
  result.sweeps = stats.sweeps;
  result.failedSweeps = stats.failedSweeps;
  // The readStaleMs in force (left at its default, three of the longest recent sweeps, at least three intervals).
  result.lastSweepMs = stats.lastSweepMs;
  result.readStaleMs = stats.readStaleMs;
  result.stalenessMs = { busy: quantiles(staleness.busy), idle: quantiles(staleness.idle) };
  await reclaimer.close();
  if (cluster !== null) await cluster.close();
  console.log(JSON.stringify(result));
} finally {
  for (const worker of workers) worker.kill();
  for (const node of nodes) await node.close().catch(() => {});
}
