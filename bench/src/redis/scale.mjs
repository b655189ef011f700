/**
 * Session leases at scale (@keepalive/redis), one Redis beside a Redis Cluster of three masters: `sessions` sessions
 * across `workers` worker processes (scale-worker.mjs; every `busyEvery`th busy), intervals compressed (the idle
 * renewal from 60 s to `idleRenewalMs`, the heartbeat from 30 s to `heartbeatMs`: the same factor), each sample on
 * fresh servers, measured by scale-child.mjs. Scenario 13 of `pnpm bench` (run.mjs); this file also runs it alone.
 *
 *   node src/redis/scale.mjs            1,000,000 sessions, 4 workers: writes bench/results/redis-scale.json
 *   node src/redis/scale.mjs --smoke    4,000 sessions, 2 workers: checks the numbers are sane, writes nothing
 *   --sessions=N --workers=N            other sizes (a full run)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_ROOT, runJson } from '../lib/proc.mjs';
import { summarize } from '../lib/stats.mjs';
import { startCluster, startRedis } from './server.mjs';

export const SCALE_SIZES = Object.freeze({
  full: { samples: 1, sessions: 1_000_000, workers: 4, busyEvery: 10, heartbeatMs: 15_000, idleRenewalMs: 30_000, measureMs: 60_000, sweeps: 3 },
  smoke: { samples: 1, sessions: 4_000, workers: 2, busyEvery: 10, heartbeatMs: 400, idleRenewalMs: 800, measureMs: 800, sweeps: 2 },
});

const pick = (list, key) => list.map((value) => (typeof key === 'function' ? key(value) : value[key]));

/** Runs every sample (one Redis, then the cluster, alternating per round); returns the raw figures and their medians. */
export async function redisScale(size, log = () => {}) {
  const { sessions, workers, busyEvery, heartbeatMs, idleRenewalMs, measureMs, sweeps } = size;
  const raw = { single: [], cluster: [] };
  for (let round = 0; round < size.samples; round++) {
    for (const kind of round % 2 === 0 ? ['single', 'cluster'] : ['cluster', 'single']) {
      const backend = kind === 'single' ? await startRedis() : await startCluster();
      const target = kind === 'single' ? backend.url : `cluster:${backend.urls.join(',')}`;
      try {
        const args = ['src/redis/scale-child.mjs', kind, target, sessions, workers, busyEvery, heartbeatMs, idleRenewalMs, measureMs, sweeps].map(String);
        const sample = await runJson(process.execPath, ['--max-old-space-size=8192', ...args], { timeoutMs: 3_600_000 });
        raw[kind].push(sample);
        log(JSON.stringify(sample));
      } finally {
        await backend.stop();
      }
      log(`  ${kind} #${round + 1}`);
    }
  }
  const compression = 60_000 / idleRenewalMs;
  const summary = (list) => ({
    masters: list[0]?.masters,
    // What the server(s) executed per session per second (a lease's SET inside a script counts as one), at the
    // compressed intervals and at the real ones.
    serverCommandsPerSessionPerSecond: summarize(pick(list, 'serverCommandsPerSessionPerSecond')),
    serverCommandsPerSessionPerSecondReal: summarize(pick(list, (v) => v.serverCommandsPerSessionPerSecond / compression)),
    // Script calls on the wire per session per second (one per shard per 1 000 leases of a batch).
    scriptCallsPerSessionPerSecond: summarize(pick(list, 'scriptCallsPerSessionPerSecond')),
    serverCpuPercent: summarize(pick(list, 'serverCpuPercent')),
    memoryBytesPerLease: summarize(pick(list, 'memoryBytesPerLease')),
    sweepMsP50: summarize(pick(list, (v) => v.sweepMs.p50)),
    stalenessP99Ms: { busy: summarize(pick(list, (v) => v.stalenessMs.busy.p99)), idle: summarize(pick(list, (v) => v.stalenessMs.idle.p99)) },
    // Staleness p99 as a share of the session's renewal interval (the heartbeat while busy, the idle renewal).
    stalenessP99Intervals: { busy: summarize(pick(list, (v) => v.stalenessMs.busy.p99 / heartbeatMs)), idle: summarize(pick(list, (v) => v.stalenessMs.idle.p99 / idleRenewalMs)) },
    writtenMs: summarize(pick(list, 'writtenMs')),
    leasesRead: pick(list, 'leasesRead'),
    failedSweeps: pick(list, 'failedSweeps'),
  });
  return { sessions, workers, busyEvery, heartbeatMs, idleRenewalMs, compression, measureMs, sweeps, single: summary(raw.single), cluster: summary(raw.cluster), raw };
}

/** Sanity of the figures (smoke): measured, finite, plausible; not targets. */
export function scaleChecks(r) {
  const checks = [];
  const check = (name, ok, detail = '') => checks.push({ name, ok: Boolean(ok), detail });
  const positive = (value) => typeof value === 'number' && Number.isFinite(value) && value > 0;
  for (const kind of ['single', 'cluster']) {
    const v = r[kind];
    check(`${kind}: every lease read back`, v.leasesRead.every((n) => n === r.sessions), v.leasesRead);
    check(`${kind}: no failed sweep`, v.failedSweeps.every((n) => n === 0), v.failedSweeps);
    check(`${kind}: server commands measured`, positive(v.serverCommandsPerSessionPerSecond.median), v.serverCommandsPerSessionPerSecond.median);
    check(`${kind}: memory per lease measured`, positive(v.memoryBytesPerLease.median) && v.memoryBytesPerLease.median < 10_000, v.memoryBytesPerLease.median);
    check(`${kind}: sweep time measured`, positive(v.sweepMsP50.median), v.sweepMsP50.median);
  }
  check('the cluster has three masters', r.cluster.masters === 3, r.cluster.masters);
  return checks;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const smoke = args.includes('--smoke');
  const size = { ...(smoke ? SCALE_SIZES.smoke : SCALE_SIZES.full) };
  for (const arg of args) {
    const found = /^--(sessions|workers)=(\d+)$/.exec(arg);
    if (found) size[found[1]] = Number(found[2]);
  }
  const log = (line) => process.stderr.write(`${line}\n`);
  const started = performance.now();
  const result = await redisScale(size, log);
  result.elapsedSeconds = (performance.now() - started) / 1_000;
  if (smoke) {
    const checks = scaleChecks(result);
    for (const { name, ok, detail } of checks) log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : `  (${JSON.stringify(detail)})`}`);
    const failed = checks.filter((c) => !c.ok).length;
    console.log(`${checks.length - failed} passed, ${failed} failed`);
    process.exitCode = failed === 0 ? 0 : 1;
  } else {
    mkdirSync(join(BENCH_ROOT, 'results'), { recursive: true });
    writeFileSync(join(BENCH_ROOT, 'results', 'redis-scale.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify({ single: result.single, cluster: result.cluster }, null, 2));
  }
}
