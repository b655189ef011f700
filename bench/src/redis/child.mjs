/**
 * One sample of scenario 8 (Node): `sessions` busy, attached session activities whose heartbeat fires every
 * `intervalMs` (the reference 30 s, compressed), in one process. `redis` mirrors each to Redis with
 * @keepalive/redis's lease writer (busy leases ride the heartbeat); `none` runs the same sessions without it.
 *
 * Sessions arrive over the first interval (in 50 batches), so their phases are spread. After one more interval of
 * warm-up, the worker's CPU (process.cpuUsage) and Redis's commands and CPU (INFO, from a second connection) are
 * measured over `measureIntervals` intervals. Then (redis): bytes per lease (MEMORY USAGE of 200 sampled lease keys
 * plus their share of the index sets, one per shard), the renewal age of every lease at one read (now minus the write time the lease
 * carries: how stale a reader finds it), and the change lag (1% of the sessions go idle; time until a reader sees
 * each lease say so). Prints one JSON line.
 *
 *   child.mjs <redis|none> <sessions> <intervalMs> <measureIntervals> [redisUrl]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createSessionActivity } from '@keepalive/node-timers';
import { createLeaseWriter, decodeLease, leaseKeys } from '@keepalive/redis';
import { createClient } from 'redis';

const [impl = 'redis', sessionsArg = '100000', intervalArg = '1000', measureArg = '3', url = ''] = process.argv.slice(2);
const count = Number(sessionsArg);
const intervalMs = Number(intervalArg);
const measureIntervals = Number(measureArg);
const BATCHES = 50;
const PREFIX = 'bench';
const keys = leaseKeys(PREFIX);

let sent = 0;
const sessions = [];
const releases = [];
const writer = impl === 'redis' ? createLeaseWriter({ url, prefix: PREFIX, owner: 'bench', idleRenewalMs: intervalMs * 2, commandTimeoutMs: 10_000 }) : null;
const probe = impl === 'redis' ? createClient({ url }) : null;
if (probe !== null) {
  probe.on('error', () => {});
  await probe.connect();
}

async function redisCounters() {
  if (probe === null) return { commands: 0, cpuS: 0 };
  const stats = await probe.info('stats');
  const cpu = await probe.info('cpu');
  const field = (text, name) => Number(new RegExp(`${name}:([0-9.]+)`).exec(text)?.[1] ?? NaN);
  return { commands: field(stats, 'total_commands_processed'), cpuS: field(cpu, 'used_cpu_user') + field(cpu, 'used_cpu_sys') };
}

const perBatch = Math.ceil(count / BATCHES);
for (let b = 0; b < BATCHES; b++) {
  for (let i = b * perBatch; i < Math.min(count, (b + 1) * perBatch); i++) {
    const activity = createSessionActivity({ heartbeatIntervalMs: intervalMs });
    activity.attach(() => sent++);
    releases.push(activity.start('api_call'));
    writer?.track(`s${i}`, activity);
    sessions.push(activity);
  }
  await sleep(intervalMs / BATCHES);
}
await sleep(intervalMs);

const beforeRedis = await redisCounters();
const beforeCpu = process.cpuUsage();
const t0 = performance.now();
const sentBefore = sent;
await sleep(intervalMs * measureIntervals);
const cpu = process.cpuUsage(beforeCpu);
const elapsedMs = performance.now() - t0;
const afterRedis = await redisCounters();
const result = {
  impl,
  sessions: count,
  intervalMs,
  elapsedMs,
  workerCpuMsPerInterval: ((cpu.user + cpu.system) / 1000) * (intervalMs / elapsedMs),
  heartbeatsPerInterval: ((sent - sentBefore) * intervalMs) / elapsedMs,
};

if (writer !== null && probe !== null) {
  result.redisCommandsPerInterval = ((afterRedis.commands - beforeRedis.commands) * intervalMs) / elapsedMs;
  result.redisCpuMsPerInterval = ((afterRedis.cpuS - beforeRedis.cpuS) * 1000 * intervalMs) / elapsedMs;
  result.writer = writer.stats();
  // Bytes per lease: the key (its value, expiry and overhead) plus its share of the index set.
  let keyBytes = 0;
  const sample = Math.min(200, count);
  for (let i = 0; i < sample; i++) keyBytes += (await probe.memoryUsage(keys.lease(`s${Math.floor((i * count) / sample)}`))) ?? 0;
  let indexBytes = 0;
  for (let shard = 0; shard < keys.shards; shard++) indexBytes += (await probe.memoryUsage(keys.index(shard))) ?? 0;
  const value = (await probe.get(keys.lease('s0'))) ?? '';
  result.leaseValueBytes = value.length;
  result.bytesPerLease = keyBytes / sample + indexBytes / count;
  // Renewal age of every lease at one read.
  const ages = [];
  const wall = Date.now();
  for (let i = 0; i < count; i += 1_000) {
    const names = [];
    for (let j = i; j < Math.min(count, i + 1_000); j++) names.push(keys.lease(`s${j}`));
    for (const text of await probe.mGet(names)) {
      const decoded = decodeLease(text ?? '');
      if (decoded.ok) ages.push(wall - (decoded.lease.since + decoded.lease.ageMs));
    }
  }
  ages.sort((a, b) => a - b);
  result.leasesRead = ages.length;
  result.renewalAgeMs = { p50: ages[Math.floor(ages.length * 0.5)], p99: ages[Math.floor(ages.length * 0.99)], max: ages[ages.length - 1] };
  // Change lag: 1% go idle at once; poll until every one of their leases says idle (bounded: 50 intervals).
  const changed = [];
  for (let i = 0; i < count; i += 100) changed.push(i);
  const changedAt = performance.now();
  for (const i of changed) releases[i]();
  const lags = [];
  const waiting = new Set(changed);
  for (let round = 0; round < 10_000 && waiting.size > 0 && performance.now() - changedAt < intervalMs * 50; round++) {
    const ids = [...waiting];
    const texts = await probe.mGet(ids.map((i) => keys.lease(`s${i}`)));
    const seenAt = performance.now();
    texts.forEach((text, k) => {
      const decoded = decodeLease(text ?? '');
      if (decoded.ok && !decoded.lease.busy) {
        waiting.delete(ids[k]);
        lags.push(seenAt - changedAt);
      }
    });
    await sleep(2);
  }
  lags.sort((a, b) => a - b);
  result.changeLagMs = { seen: lags.length, of: changed.length, p50: lags[Math.floor(lags.length * 0.5)], p99: lags[Math.floor(lags.length * 0.99)] };
  await writer.close();
  await probe.close();
}
for (const activity of sessions) activity.shutdown();
console.log(JSON.stringify(result));
