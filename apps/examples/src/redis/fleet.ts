import { createSessionActivity } from '@keepalive/node-timers';
import { createLeaseWriter, createReclaimer } from '@keepalive/redis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// The worker: each session's activity mirrored to Redis as a lease.
const writer = createLeaseWriter({ url, owner: 'worker-1' });
const activity = createSessionActivity({ heartbeatIntervalMs: 1_000 });
writer.track('session-1', activity);
const release = activity.start('tool_exec');

// The reclaimer: normally its own process (the container host's view of the fleet).
const reclaimer = createReclaimer({ url, sweepIntervalMs: 200, idleLimitMs: 500 });
reclaimer.on('busy', ({ session, lease }) => {
  console.log(`${session} busy on ${lease.owner}: ${JSON.stringify(lease.counts)}`);
  release();
});
reclaimer.on('reclaimable', ({ session, idleMs }) => {
  console.log(`${session} idle for ${idleMs} ms or more: reclaimable`);
  activity.shutdown(); // the session ends: its lease is removed
});
reclaimer.on('ended', ({ session }) => {
  console.log(`${session} ended`);
  void Promise.all([writer.close(), reclaimer.close()]);
});
