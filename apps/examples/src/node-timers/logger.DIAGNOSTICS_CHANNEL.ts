import diagnosticsChannel from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { DIAGNOSTICS_CHANNEL, createSessionActivity } from '@keepalive/node-timers';

// Every diagnostic of every instance in the process, whatever its logger (here none): names, counts and durations.
const counts = new Map<string, number>();
diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNEL, (message) => {
  const { name } = message as { name: string };
  counts.set(name, (counts.get(name) ?? 0) + 1);
});

const activity = createSessionActivity({ heartbeatIntervalMs: 100 });
activity.attach(() => {}); // where the keep-alives would go
await activity.run('tool_exec', () => sleep(250));
activity.shutdown();
console.log(counts); // Map(2) { 'heartbeat' => 2, 'activity_at_shutdown' => 1 }: a heartbeat every 100 ms while busy
