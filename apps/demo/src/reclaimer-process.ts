/**
 * The container host's view, in its own process: a reclaimer reading the demo workers' leases from Redis.
 * `node reclaimer-process.js <redisUrl> <prefix> <idleLimitMs> <sweepMs> [metrics]`. Prints JSON lines: `change` for
 * each status change, `view` after each sweep (every session's status as this process sees it) and, with `metrics`
 * (`--metrics`), `metrics`: the readings of its instrumented reclaimer, after each view and once more at the end.
 * Ends with its stdin.
 */
import { createReclaimer } from '@keepalive/redis';
import { instrumentReclaimer } from '@keepalive/opentelemetry';

const [url = '', prefix = 'keepalive-demo', idleLimit = '8000', sweep = '500', withMetrics = ''] = process.argv.slice(2);
const print = (line: unknown): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
const reclaimer = createReclaimer({ url, prefix, idleLimitMs: Number(idleLimit), sweepIntervalMs: Number(sweep) });
const metrics = withMetrics === 'metrics' ? (await import('./metrics-process.js')).processMetrics() : null;
if (metrics !== null) instrumentReclaimer(reclaimer, { meterProvider: metrics.meterProvider });
const printMetrics = async (): Promise<void> => {
  if (metrics === null) return;
  try {
    print({ type: 'metrics', metrics: await metrics.read() });
  } catch {
    // Skipped: the next reading replaces it (they are cumulative).
  }
};
reclaimer.on('change', ({ session, previous, status, idleMs }) => {
  print({ type: 'change', session, previous, status, idleMs });
});
const timer = setInterval(() => {
  const stats = reclaimer.stats();
  const sessions = [...reclaimer.sessions().values()].map(({ session, status, idleMs, lease }) => ({ session, status, idleMs, owner: lease.owner, counts: lease.counts }));
  print({ type: 'view', sessions, sweeps: stats.sweeps, failedSweeps: stats.failedSweeps, lastReadAgeMs: stats.lastReadAgeMs === null ? null : Math.round(stats.lastReadAgeMs) });
  void printMetrics();
}, Number(sweep));
const stop = (): void => {
  clearInterval(timer);
  void (async () => {
    await printMetrics();
    await reclaimer.close();
    await metrics?.close();
    process.exit(0);
  })();
};
process.stdin.on('end', stop).resume();
process.once('SIGTERM', stop);
