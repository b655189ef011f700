// A worker process for the fleet tests: `node worker.mjs <target> <owner> <sessions> <heartbeatMs> <idleRenewalMs> <leaseIntervals>`
// (<target>: a redis:// URL or a cluster's JSON, see target.mjs).
// It runs <sessions> session activities (each with a keep-alive sender that counts), mirrors them to Redis with a lease
// writer, prints JSON lines on stdout and takes JSON commands on stdin:
//   {"cmd":"busy","from":0,"to":10}  start a 'tool_exec' activity on sessions [from, to)
//   {"cmd":"idle","from":0,"to":10}  release them
//   {"cmd":"stats"}                  print {"type":"stats", keepalives, writer}
//   {"cmd":"exit"}                   close the writer (removes every lease), then exit
import { createInterface } from 'node:readline';
import { createSessionActivity } from '@keepalive/node-timers';
import { createLeaseWriter } from '../../dist/index.js';
import { connectTo } from './target.mjs';

const [target, owner, count, heartbeatMs, idleRenewalMs, leaseIntervals] = process.argv.slice(2);
const connection = connectTo(target);
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const diagnostics = {};
const writer = createLeaseWriter({
  ...connection.options,
  owner,
  idleRenewalMs: Number(idleRenewalMs),
  leaseIntervals: Number(leaseIntervals),
  commandTimeoutMs: 500,
  reconnectMaxMs: 100,
  // Compressed like the intervals: a writer that failed (a cut, a restart) retries within 400 ms of the fault's end.
  retryMaxMs: 400,
  onDiagnostic: (d) => {
    diagnostics[d.name] = (diagnostics[d.name] ?? 0) + 1;
  },
});
let keepalives = 0;
const sessions = [];
const releases = new Map();
for (let i = 0; i < Number(count); i++) {
  const activity = createSessionActivity({ heartbeatIntervalMs: Number(heartbeatMs) });
  activity.attach(() => keepalives++);
  sessions.push(activity);
  writer.track(`${owner}-${i}`, activity);
}

createInterface({ input: process.stdin }).on('line', (text) => {
  const command = JSON.parse(text);
  if (command.cmd === 'busy') {
    for (let i = command.from; i < command.to; i++) if (!releases.has(i)) releases.set(i, sessions[i].start('tool_exec'));
    print({ type: 'done', cmd: 'busy' });
  } else if (command.cmd === 'idle') {
    for (let i = command.from; i < command.to; i++) {
      releases.get(i)?.();
      releases.delete(i);
    }
    print({ type: 'done', cmd: 'idle' });
  } else if (command.cmd === 'stats') {
    print({ type: 'stats', keepalives, writer: writer.stats(), diagnostics });
  } else if (command.cmd === 'exit') {
    void writer.close().then(async () => {
      await connection.close();
      for (const activity of sessions) activity.shutdown();
      print({ type: 'closed' });
      process.exit(0);
    });
  }
});

// Ready once every lease is written (bounded: 10 s; the test fails on the missing line otherwise).
for (let i = 0; i < 500; i++) {
  await writer.flush();
  const stats = writer.stats();
  if (stats.connected && stats.pending === 0 && stats.writes >= sessions.length) break;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
print({ type: 'ready', pid: process.pid });
