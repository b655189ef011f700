/**
 * The container host's view, in its own process: a reclaimer reading the demo workers' leases from Redis.
 * `node reclaimer-process.js <redisUrl> <prefix> <idleLimitMs> <sweepMs>`. Prints JSON lines: `change` for each
 * status change, `view` after each sweep (every session's status as this process sees it). Ends with its stdin.
 */
import { createReclaimer } from '@keepalive/redis';

const [url = '', prefix = 'keepalive-demo', idleLimit = '8000', sweep = '500'] = process.argv.slice(2);
const print = (line: unknown): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
const reclaimer = createReclaimer({ url, prefix, idleLimitMs: Number(idleLimit), sweepIntervalMs: Number(sweep) });
reclaimer.on('change', ({ session, previous, status, idleMs }) => {
  print({ type: 'change', session, previous, status, idleMs });
});
const timer = setInterval(() => {
  const stats = reclaimer.stats();
  const sessions = [...reclaimer.sessions().values()].map(({ session, status, idleMs, lease }) => ({ session, status, idleMs, owner: lease.owner, counts: lease.counts }));
  print({ type: 'view', sessions, sweeps: stats.sweeps, failedSweeps: stats.failedSweeps, lastReadAgeMs: stats.lastReadAgeMs === null ? null : Math.round(stats.lastReadAgeMs) });
}, Number(sweep));
const stop = (): void => {
  clearInterval(timer);
  void reclaimer.close().then(() => process.exit(0));
};
process.stdin.on('end', stop).resume();
process.once('SIGTERM', stop);
