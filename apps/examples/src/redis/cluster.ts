import { createCluster } from '@redis/client';
import { createSessionActivity } from '@keepalive/node-timers';
import { createLeaseWriter, createReclaimer } from '@keepalive/redis';

// Some nodes of the cluster (the client finds the others): a configuration endpoint of ElastiCache or Memorystore
// in cluster mode, or nodes of a Valkey cluster.
const rootNodes = (process.env.REDIS_CLUSTER ?? 'redis://127.0.0.1:7000').split(',').map((url) => ({ url }));
// One cluster client for every part of the process. A command to a master that is down fails at once (the part
// retries it with a backoff) instead of waiting in memory.
const cluster = createCluster({ rootNodes, defaults: { disableOfflineQueue: true } });
cluster.on('error', (error: Error) => console.error(`cluster: ${error.name}`));

// The worker: each session's activity mirrored as a lease, in one of 16 shards spread over the masters.
const writer = createLeaseWriter({ client: cluster, owner: 'worker-1' });
const activity = createSessionActivity({ heartbeatIntervalMs: 1_000 });
writer.track('session-1', activity);
const release = activity.start('tool_exec');

// The reclaimer: it reads every shard at each sweep, each on the master that holds it.
const reclaimer = createReclaimer({ client: cluster, sweepIntervalMs: 200, idleLimitMs: 500 });
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
  // The parts never close a client they were given: close it after them.
  void Promise.all([writer.close(), reclaimer.close()]).then(() => cluster.close());
});
