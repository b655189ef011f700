/**
 * One sample of scenario 3 (Node): `sessions` busy, attached sessions whose
 * heartbeat fires every `intervalMs` (the reference 30 s, compressed), each
 * tick doing the same work whatever schedules it: one core `step` that fires
 * the heartbeat (diagnostic, send, re-arm) and a call to the session's sender.
 * Only the scheduling differs:
 *
 *   scheduler   node-timers' createScheduler (one OS timer, a min-heap of
 *               deadlines); each session is a scheduler entry driving a core
 *               session with `step` and re-scheduling at `pollTimeout`
 *   activity    the same scheduler driving full createSessionActivity
 *               instances (the adapter: diagnostics channel, gate, re-schedule)
 *   interval    one setInterval per session
 *   readme      the ws README loop: one setInterval walking every session
 *
 * Sessions arrive over the first interval (in 50 batches), as connections
 * do, so their phases are spread; the README loop ticks them all at once
 * anyway. After one more interval of warm-up, CPU (process.cpuUsage) is
 * measured over `measureIntervals` intervals without any probe, then the
 * event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution) over
 * one more interval. Prints one JSON line.
 *
 *   child.mjs <impl> <sessions> <intervalMs> <measureIntervals>
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSessionState, defineSessionConfig, pollTimeout, step } from '@keepalive/core';
import { createScheduler, createSessionActivity } from '@keepalive/node-timers';

const [impl = 'scheduler', sessionsArg = '100000', intervalArg = '1000', measureArg = '3'] = process.argv.slice(2);
const count = Number(sessionsArg);
const intervalMs = Number(intervalArg);
const measureIntervals = Number(measureArg);
const BATCHES = 50;

const config = defineSessionConfig({ heartbeatIntervalMs: intervalMs, idleDelayMs: intervalMs, sendKeepalives: true });
let fires = 0;
let sent = 0;
const sender = () => {
  sent++;
};
const out = [];
const clock = () => performance.now();

/** A busy, attached core session whose heartbeat is armed one interval from now. */
function coreSession(now) {
  let state = createSessionState(config, now);
  state = step(state, { type: 'attach', now }, out);
  state = step(state, { type: 'start', reason: 'api_call', now }, out);
  out.length = 0;
  return state;
}

/** Carries out the commands of one tick: the send (the only effect a heartbeat has besides diagnostics and re-arming). */
function execute() {
  for (let i = 0; i < out.length; i++) if (out[i].type === 'send') sender();
  out.length = 0;
}

const holders = [];
let readmeSweepMs = [];
let addSession;
let stopAll;

if (impl === 'scheduler') {
  const scheduler = createScheduler();
  addSession = () => {
    const holder = { state: coreSession(scheduler.now()), entry: null };
    holder.entry = scheduler.entry((now) => {
      fires++;
      holder.state = step(holder.state, { type: 'timeout', now }, out);
      execute();
      holder.entry.schedule(pollTimeout(holder.state));
    });
    holder.entry.schedule(pollTimeout(holder.state));
    holders.push(holder);
  };
  stopAll = () => {
    for (const holder of holders) holder.entry.dispose();
  };
} else if (impl === 'activity') {
  const scheduler = createScheduler();
  addSession = () => {
    const activity = createSessionActivity({ scheduler, heartbeatIntervalMs: intervalMs, idleDelayMs: intervalMs });
    activity.attach(() => {
      fires++;
      sender();
    });
    activity.start('api_call');
    holders.push(activity);
  };
  stopAll = () => {
    for (const activity of holders) activity.shutdown();
  };
} else if (impl === 'interval') {
  addSession = () => {
    const holder = { state: coreSession(clock()), timer: null };
    holder.timer = setInterval(() => {
      fires++;
      holder.state = step(holder.state, { type: 'timer', timer: 'heartbeat', now: clock() }, out);
      execute();
    }, intervalMs);
    holders.push(holder);
  };
  stopAll = () => {
    for (const holder of holders) clearInterval(holder.timer);
  };
} else if (impl === 'readme') {
  // https://github.com/websockets/ws#how-to-detect-and-close-broken-connections: one interval walks every client.
  let sweep = null;
  addSession = () => {
    holders.push({ state: coreSession(clock()) });
    sweep ??= setInterval(() => {
      const started = clock();
      const now = started;
      for (const holder of holders) {
        fires++;
        holder.state = step(holder.state, { type: 'timer', timer: 'heartbeat', now }, out);
        execute();
      }
      readmeSweepMs.push(clock() - started);
    }, intervalMs);
  };
  stopAll = () => {
    clearInterval(sweep);
  };
} else {
  throw new Error(`unknown impl ${impl}`);
}

// Sessions arrive over the first interval.
const perBatch = Math.ceil(count / BATCHES);
for (let batch = 0; batch < BATCHES; batch++) {
  for (let i = 0; i < perBatch && holders.length < count; i++) addSession();
  await sleep(intervalMs / BATCHES);
}
// Warm-up interval.
await sleep(intervalMs);

// CPU window: nothing but the sessions runs.
readmeSweepMs = [];
const firesBefore = fires;
const cpuBefore = process.cpuUsage();
const wallBefore = clock();
await sleep(intervalMs * measureIntervals);
const cpu = process.cpuUsage(cpuBefore);
const wallMs = clock() - wallBefore;
const measuredFires = fires - firesBefore;
const sweepsInCpuWindow = readmeSweepMs.slice();

// Event-loop delay window.
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
await sleep(intervalMs + 50);
histogram.disable();
stopAll();

const cpuUs = cpu.user + cpu.system;
console.log(
  JSON.stringify({
    impl,
    sessions: holders.length,
    intervalMs,
    fires: measuredFires,
    expectedFires: Math.round((count * wallMs) / intervalMs),
    cpuMs: cpuUs / 1000,
    wallMs,
    cpuNsPerFire: (cpuUs * 1000) / Math.max(1, measuredFires),
    loopDelayMs: {
      p50: histogram.percentile(50) / 1e6,
      p99: histogram.percentile(99) / 1e6,
      max: histogram.max / 1e6,
    },
    readmeSweepMs: sweepsInCpuWindow,
    sent,
  }),
);
process.exit(0);
