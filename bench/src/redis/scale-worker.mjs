/**
 * One worker of scenario 11: `scale-worker.mjs <target> <from> <to> <busyEvery> <heartbeatMs> <idleRenewalMs> <spreadMs>`.
 * It runs the sessions `s<from>` … `s<to - 1>` (every `busyEvery`th one busy, its heartbeat every `heartbeatMs`; the
 * others idle), created in 50 batches over `spreadMs` so that their renewals are spread, and mirrors them with one
 * lease writer on `<target>` (a redis:// URL, or `cluster:` and the root nodes' URLs joined by commas: a
 * `createCluster` client). Prints `{"type":"ready"}` once every lease is written; answers `{"cmd":"stats"}` with the
 * writer's counters and the process's memory; `{"cmd":"exit"}` exits at once (the leases stay: the server is dropped).
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSessionActivity } from '@keepalive/node-timers';
import { createLeaseWriter } from '@keepalive/redis';
import { createCluster } from 'redis';

const [target, fromArg, toArg, busyEveryArg, heartbeatArg, idleArg, spreadArg] = process.argv.slice(2);
const from = Number(fromArg);
const to = Number(toArg);
const busyEvery = Number(busyEveryArg);
const heartbeatMs = Number(heartbeatArg);
const spreadMs = Number(spreadArg);
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

let connection;
if (target.startsWith('cluster:')) {
  const client = createCluster({ rootNodes: target.slice('cluster:'.length).split(',').map((url) => ({ url })), defaults: { disableOfflineQueue: true } });
  client.on('error', () => {});
  connection = { client };
} else {
  connection = { url: target };
}
const writer = createLeaseWriter({ ...connection, prefix: 'bench', owner: `w${from}`, idleRenewalMs: Number(idleArg), commandTimeoutMs: 10_000 });
let sent = 0;
const sessions = [];
const BATCHES = 50;
const perBatch = Math.ceil((to - from) / BATCHES);
for (let b = 0; b < BATCHES; b++) {
  for (let i = from + b * perBatch; i < Math.min(to, from + (b + 1) * perBatch); i++) {
    const activity = createSessionActivity({ heartbeatIntervalMs: heartbeatMs });
    activity.attach(() => sent++);
    if (i % busyEvery === 0) activity.start('api_call');
    writer.track(`s${i}`, activity);
    sessions.push(activity);
  }
  await sleep(spreadMs / BATCHES);
}
// Ready once every lease is written (bounded: 10 minutes).
for (let i = 0; i < 6_000; i++) {
  await writer.flush();
  const stats = writer.stats();
  if (stats.connected && stats.pending === 0 && stats.writes >= sessions.length) break;
  await sleep(100);
}
print({ type: 'ready', stats: writer.stats() });

createInterface({ input: process.stdin }).on('line', (text) => {
  const command = JSON.parse(text);
  if (command.cmd === 'stats') print({ type: 'stats', stats: writer.stats(), heartbeats: sent, rssBytes: process.memoryUsage().rss });
  if (command.cmd === 'exit') process.exit(0);
});
