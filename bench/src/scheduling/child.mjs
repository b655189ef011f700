/**
 * One sample of scenario 3 (Node): `sessions` busy, attached sessions whose
 * heartbeat fires every `intervalMs` (the reference 30 s, compressed), each
 * tick doing the same work whatever schedules it: one core tick that fires
 * the heartbeat (diagnostic, send, re-arm) and a call to the session's sender.
 * The tick is the driver path: `stepInPlace` (the session is one object
 * updated where it lies), no debug diagnostic (nobody listens) and no timer
 * commands. Only the scheduling differs:
 *
 *   scheduler   node-timers' createScheduler (one OS timer, deadlines in
 *               lanes); each session is a scheduler entry driving a core
 *               session with `stepInPlace` and re-scheduling at `pollTimeout`
 *   coalesced   the same with `precisionMs: 8` (the OS timer wakes at most
 *               once per 8 ms; no entry early, none more than 8 ms late)
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
 * With a fifth argument (scenario 9, scale mode) every session is created at
 * once with its phase already spread over the interval (its start
 * backdated), and CPU and loop delay are measured together over `windowMs`.
 *
 *   child.mjs <impl> <sessions> <intervalMs> <measureIntervals> [windowMs]
 *
 * Runs on Node, Bun and Deno (scenario 10).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { clearCommands, createSessionState, defineSessionConfig, pollTimeout, step, stepInPlace } from '@keepalive/core';
import { createScheduler, createSessionActivity } from '@keepalive/node-timers';

const [impl = 'scheduler', sessionsArg = '100000', intervalArg = '1000', measureArg = '3', windowArg = ''] = process.argv.slice(2);
const count = Number(sessionsArg);
const intervalMs = Number(intervalArg);
const measureIntervals = Number(measureArg);
// Scale mode (scenario 9): sessions are created at once with their phases already spread over the
// interval (their start backdated), and CPU and loop delay are measured together over `windowMs`.
const windowMs = windowArg === '' ? null : Number(windowArg);
const BATCHES = 50;

const config = defineSessionConfig({ heartbeatIntervalMs: intervalMs, idleDelayMs: intervalMs, sendKeepalives: true });
let fires = 0;
let sent = 0;
const sender = () => {
  sent++;
};
const out = [];
const clock = () => performance.now();

/**
 * The tick every impl runs: the driver path (`stepInPlace`: the session is
 * one object updated where it lies), with nobody listening at debug level
 * and no timer commands (the scheduler impls re-read `pollTimeout`; the
 * others re-arm by themselves).
 */
const TICK = Object.freeze({ debug: false, timerCommands: false });

/** A busy, attached core session whose heartbeat is armed one interval after `now`. */
function coreSession(now) {
  let state = createSessionState(config, now);
  state = step(state, { type: 'attach', now }, out);
  state = step(state, { type: 'start', reason: 'api_call', now }, out);
  clearCommands(out);
  return { ...state };
}

/** When session `index` starts: now, or (scale mode) backdated by its share of the interval. */
function startOf(index, now) {
  return windowMs === null ? now : now - ((index + 0.5) / count) * intervalMs;
}

/** Carries out the commands of one tick: the send (the only effect a heartbeat has besides diagnostics and re-arming). */
function execute() {
  for (let i = 0; i < out.length; i++) if (out[i].type === 'send') sender();
  clearCommands(out);
}

const holders = [];
let readmeSweepMs = [];
let addSession;
let stopAll;

/** The `coalesced` impl's scheduler precision: the OS timer wakes at most once per this many ms. */
const COALESCED_PRECISION_MS = 8;

if (impl === 'scheduler' || impl === 'coalesced') {
  const scheduler = createScheduler({ precisionMs: impl === 'coalesced' ? COALESCED_PRECISION_MS : 0 });
  addSession = () => {
    const holder = { state: coreSession(startOf(holders.length, scheduler.now())), entry: null };
    holder.entry = scheduler.entry((now) => {
      fires++;
      stepInPlace(holder.state, { type: 'timeout', now }, out, TICK);
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
  const tick = (holder) => {
    fires++;
    stepInPlace(holder.state, { type: 'timer', timer: 'heartbeat', now: clock() }, out, TICK);
    execute();
  };
  addSession = () => {
    const now = clock();
    const start = startOf(holders.length, now);
    const holder = { state: coreSession(start), timer: null };
    if (start === now) {
      holder.timer = setInterval(tick, intervalMs, holder);
    } else {
      // Scale mode: the first tick at the session's spread phase, then every interval.
      holder.timer = setTimeout(() => {
        tick(holder);
        holder.timer = setInterval(tick, intervalMs, holder);
      }, start + intervalMs - now);
    }
    holders.push(holder);
  };
  stopAll = () => {
    for (const holder of holders) {
      clearTimeout(holder.timer);
      clearInterval(holder.timer);
    }
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
        stepInPlace(holder.state, { type: 'timer', timer: 'heartbeat', now }, out, TICK);
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

if (windowMs !== null) {
  // Scale mode: every session at once, phases spread; warm up for a tenth of the window, then measure.
  for (let i = 0; i < count; i++) addSession();
  await sleep(Math.max(200, windowMs / 10));
  const firesBefore = fires;
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const cpuBefore = process.cpuUsage();
  const wallBefore = clock();
  await sleep(windowMs);
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = clock() - wallBefore;
  histogram.disable();
  const heapUsed = process.memoryUsage().heapUsed;
  stopAll();
  const cpuUs = cpu.user + cpu.system;
  const measuredFires = fires - firesBefore;
  console.log(
    JSON.stringify({
      impl,
      mode: 'scale',
      sessions: holders.length,
      intervalMs,
      windowMs: wallMs,
      fires: measuredFires,
      expectedFires: Math.round((count * wallMs) / intervalMs),
      cpuMs: cpuUs / 1000,
      cpuMsPerWallSecond: cpuUs / wallMs,
      cpuNsPerFire: (cpuUs * 1000) / Math.max(1, measuredFires),
      loopDelayMs: { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 },
      heapUsed,
      sent,
    }),
  );
  process.exit(0);
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
