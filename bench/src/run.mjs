/**
 * keepalive's benchmark suite.
 *
 *   node src/run.mjs            full run (pnpm bench): writes bench/results/latest.json,
 *                               docs/benchmarks.md and docs/benchmarks.svg
 *   node src/run.mjs --smoke    every scenario at tiny sizes, checks the numbers are sane
 *                               (not the targets), renders the report to a temporary folder;
 *                               the package's `test` script
 *   --only=1,4                  run only those scenarios (a full run merges them into latest.json)
 *   --report-dir=DIR            (smoke) keep the rendered report in DIR
 *   --render                    rewrite docs/benchmarks.md and .svg from bench/results/latest.json, measuring nothing
 *   --size.s11='{"samples":2}'  (any scenario) override some of its sizes for this run, as JSON (a partial run)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { describeMachine } from './machine.mjs';
import { BENCH_ROOT, REPO_ROOT, runtimeAvailable } from './lib/proc.mjs';
import { evaluateTargets, renderMarkdown, renderSvg } from './report.mjs';
import { scaleChecks } from './redis/scale.mjs';
import { SIZES, coreMemory, coreThroughput, crossRuntime, deadPeer, idleServers, instrumentationCost, redisAtScale, redisLeases, scale, scheduling, schedulingRuntimes, transportMemory, wireBytes } from './scenarios.mjs';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const onlyArg = args.find((arg) => arg.startsWith('--only='));
const only = onlyArg ? new Set(onlyArg.slice('--only='.length).split(',').map((n) => `s${n.trim()}`)) : null;
const overrides = Object.fromEntries(
  args.filter((arg) => arg.startsWith('--size.')).map((arg) => {
    const at = arg.indexOf('=');
    return [arg.slice('--size.'.length, at), JSON.parse(arg.slice(at + 1))];
  }),
);
const base = smoke ? SIZES.smoke : SIZES.full;
const sizes = Object.fromEntries(Object.entries(base).map(([key, value]) => [key, overrides[key] ? { ...value, ...overrides[key] } : value]));
const reportDirArg = args.find((arg) => arg.startsWith('--report-dir='));

const SCENARIOS = [
  ['s1', 'core throughput', coreThroughput],
  ['s2', 'core memory', coreMemory],
  ['s3', 'scheduling', scheduling],
  ['s4', 'transport memory', transportMemory],
  ['s5', 'wire bytes', wireBytes],
  ['s6', 'dead-peer detection', deadPeer],
  ['s7', 'cross-runtime', crossRuntime],
  ['s8', 'session leases on Redis', redisLeases],
  ['s9', 'sessions at scale', scale],
  ['s10', 'scheduling on every runtime', schedulingRuntimes],
  ['s11', 'idle servers', idleServers],
  ['s12', 'instrumentation cost', instrumentationCost],
  ['s13', 'session leases at scale, one Redis and a cluster', redisAtScale],
];

const log = (line) => process.stderr.write(`${line}\n`);
const resultsPath = join(BENCH_ROOT, 'results', 'latest.json');
const started = performance.now();

function writeDocs(results, targets) {
  const docs = join(REPO_ROOT, 'docs');
  mkdirSync(docs, { recursive: true });
  writeFileSync(join(docs, 'benchmarks.md'), renderMarkdown(results, targets));
  writeFileSync(join(docs, 'benchmarks.svg'), renderSvg(targets, results.machine));
}

// Figures from before a round of changes, shown beside this run's (bench/results/before-*.json, written by hand from earlier runs).
const beforePath = join(BENCH_ROOT, 'results', 'before-issue-16.json');
const before = existsSync(beforePath) ? JSON.parse(readFileSync(beforePath, 'utf8')) : null;
const before28Path = join(BENCH_ROOT, 'results', 'before-issue-28.json');
const before28 = existsSync(before28Path) ? JSON.parse(readFileSync(before28Path, 'utf8')) : null;

if (args.includes('--render')) {
  const saved = { ...JSON.parse(readFileSync(resultsPath, 'utf8')), before, before28 };
  writeDocs(saved, evaluateTargets(saved));
  log(`rewrote docs/benchmarks.md and docs/benchmarks.svg from ${resultsPath}`);
  process.exit(0);
}

const results = {
  machine: describeMachine(),
  mode: smoke ? 'smoke' : 'full',
  sizes,
  scenarios: {},
  errors: {},
  // The machine is shared: the load average after each scenario shows what else ran meanwhile.
  loadAfter: {},
  before,
  before28,
};
if (!smoke && only !== null && existsSync(resultsPath)) {
  // A partial full run refreshes some scenarios of the last full run.
  const previous = JSON.parse(readFileSync(resultsPath, 'utf8'));
  results.scenarios = previous.scenarios ?? {};
  // What this partial run measured, and where the rest comes from (carried over from run to run).
  const earlier = previous.partial?.earlier ?? { date: previous.machine?.date, commit: previous.machine?.commit };
  results.partial = { measured: [...new Set([...(previous.partial?.measured ?? []), ...only])].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))), earlier };
}

const finite = (value) => typeof value === 'number' && Number.isFinite(value);
const positive = (value) => finite(value) && value > 0;
const checks = [];
const check = (name, ok, detail = '') => checks.push({ name, ok: Boolean(ok), detail });

/** Sanity of one scenario's numbers (smoke): measured, finite, plausible. Not the targets. */
function sanity(id, r) {
  switch (id) {
    case 's1':
      for (const [impl, s] of Object.entries(r.nsPerEvent)) check(`1 ${impl} ns/event is positive`, positive(s.median), s.median);
      check('1 XState machine is equivalent to the core on the stream', r.equivalence.mismatches === 0 && r.equivalence.effects > 0, JSON.stringify(r.equivalence.first));
      for (const [impl, s] of Object.entries(r.noopBytesPerEvent)) check(`1 ${impl} no-op heap bytes measured`, finite(s.median) && s.median >= 0, s.median);
      check('1 paired processes measured', r.paired.processes > 0 && positive(r.paired.ratio.min), r.paired.ratio.min);
      check('1 draft() probe ran', !r.draftProbe.patched || (positive(r.draftProbe.stockNs.median) && positive(r.draftProbe.explicitNs.median)));
      break;
    case 's2':
      for (const [kind, s] of Object.entries(r.bytesPerSession)) check(`2 ${kind} bytes/session is positive`, positive(s.median) && s.median < 1e6, s.median);
      break;
    case 's3':
      for (const [impl, s] of Object.entries(r.cpuNsPerFire)) {
        check(`3 ${impl} CPU per fire is positive`, positive(s.median), s.median);
        check(`3 ${impl} sessions fired`, r.firesShare[impl].median > 0.3, r.firesShare[impl].median);
        check(`3 ${impl} loop delay measured`, positive(r.loopDelayP99Ms[impl].median), r.loopDelayP99Ms[impl].median);
      }
      break;
    case 's4':
      for (const [impl, list] of Object.entries(r.raw)) {
        check(`4 ${impl} reached ${r.high} connections`, list.every((v) => v.atHigh.connections === r.high), list.map((v) => v.atHigh.connections));
        check(`4 ${impl} slopes measured`, list.every((v) => finite(v.rssSlope) && finite(v.heapSlope)));
      }
      break;
    case 's5':
      check('5 both ends agree on the bytes', r.consistent);
      for (const [variant, s] of Object.entries(r.bytes)) check(`5 ${variant} bytes per round trip positive`, positive(s.median), s.median);
      break;
    case 's6':
      for (const impl of ['ours', 'readme']) {
        check(`6 ${impl} detected every frozen peer`, r.detected[impl] === r.trials, r.detected[impl]);
        check(`6 ${impl} latency measured`, positive(r.latencyMs[impl].median), r.latencyMs[impl].median);
      }
      break;
    case 's9':
      check('9 idle bytes/session is positive', positive(r.idleBytesPerSession.median) && r.idleBytesPerSession.median < 1e5, r.idleBytesPerSession.median);
      for (const [impl, v] of Object.entries(r.cpuMsPerWallSecond)) {
        check(`9 ${impl} CPU per wall second is positive`, positive(v.median), v.median);
        check(`9 ${impl} sessions fired`, r.firesShare[impl].median > 0.3, r.firesShare[impl].median);
        check(`9 ${impl} loop delay measured`, positive(r.loopDelayP99Ms[impl].median), r.loopDelayP99Ms[impl].median);
      }
      break;
    case 's10':
      for (const [variant, v] of Object.entries(r.cpuNsPerFire)) {
        check(`10 ${variant} CPU per fire is positive`, positive(v.median), v.median);
        check(`10 ${variant} sessions fired`, r.firesShare[variant].median > 0.3, r.firesShare[variant].median);
      }
      for (const [name, ratio] of Object.entries(r.vsReadme)) check(`10 ${name} ratio computed`, positive(ratio), ratio);
      break;
    case 's11':
      for (const config of r.configs) {
        for (const [impl, list] of Object.entries(config.raw)) {
          const at = `11 ${impl} (${config.connections} connections, ${config.intervalMs} ms)`;
          check(`${at} held every connection`, list.every((v) => v.window.connections === config.connections), list.map((v) => v.window.connections));
          check(`${at} CPU and wakes measured`, positive(config.cpuMsPerSecond[impl].median) && finite(config.wakesPerSecond[impl].median), config.cpuMsPerSecond[impl].median);
          check(`${at} loop delay measured`, positive(config.loopDelayMaxMs[impl].median), config.loopDelayMaxMs[impl].median);
          check(`${at} memory measured`, finite(config.heapPerConnection[impl].median), config.heapPerConnection[impl].median);
        }
        for (const impl of ['ours', 'ours-resume', 'readme']) check(`11 ${impl} sent keep-alives`, positive(config.keepalivesPerSecond[impl].median), config.keepalivesPerSecond[impl].median);
      }
      break;
    case 's12':
      for (const [variant, v] of Object.entries(r.cpuUsPerPing)) check(`12 ${variant} CPU per ping round is positive`, positive(v.median), v.median);
      for (const [variant, list] of Object.entries(r.raw)) check(`12 ${variant} pinged and lost no peer`, list.every((v) => v.pings > 0 && v.deadPeers === 0), list.map((v) => v.pings));
      break;
    case 's13':
      for (const { name, ok, detail } of scaleChecks(r)) check(`13 ${name}`, ok, detail);
      break;
    case 's7':
      for (const [name, s] of Object.entries(r.nsPerEvent)) check(`7 ${name} ns/event is positive`, positive(s.median), s.median);
      check('7 ratio computed', finite(r.ratio) && r.ratio >= 1, r.ratio);
      break;
    case 's8':
      check('8 Redis commands measured', positive(r.redisCommandsPerInterval.median), r.redisCommandsPerInterval.median);
      check('8 bytes per lease measured', positive(r.bytesPerLease.median) && r.bytesPerLease.median < 10_000, r.bytesPerLease.median);
      check('8 every lease read back', r.raw.redis.every((v) => v.leasesRead === r.sessions), r.raw.redis.map((v) => v.leasesRead));
      check('8 every change seen', r.raw.redis.every((v) => v.changeLagMs.seen === v.changeLagMs.of), r.changesSeen);
      check('8 CPU with and without Redis measured', positive(r.workerCpuMsPerInterval.redis.median) && positive(r.workerCpuMsPerInterval.none.median));
      break;
    default:
      break;
  }
}

/** Scenario 11's configurations of an earlier run that this one did not measure, kept beside this run's. */
function mergeIdle(previous, measured) {
  if (!previous?.configs) return measured;
  const key = (config) => `${config.intervalMs}:${config.connections}`;
  const fresh = new Set(measured.configs.map(key));
  const configs = [...previous.configs.filter((config) => !fresh.has(key(config))), ...measured.configs].sort((a, b) => a.intervalMs - b.intervalMs || a.connections - b.connections);
  return {
    ...measured,
    counts: [...new Set(configs.map((config) => config.connections))].sort((a, b) => a - b),
    intervals: [...new Set(configs.map((config) => config.intervalMs))].sort((a, b) => a - b),
    samples: Math.min(previous.samples ?? Infinity, measured.samples),
    configs,
  };
}

function save() {
  if (smoke) return;
  mkdirSync(join(BENCH_ROOT, 'results'), { recursive: true });
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
}

for (const [id, name, run] of SCENARIOS) {
  if (only !== null && !only.has(id)) continue;
  if ((id === 's7' || id === 's10') && !runtimeAvailable('bun') && !runtimeAvailable('deno')) {
    log(`${id} ${name}: skipped (neither Bun nor Deno is installed)`);
    continue;
  }
  const t0 = performance.now();
  log(`${id} ${name}...`);
  try {
    const measured = await run(sizes[id], sizes.samples, smoke ? () => {} : log);
    // Scenario 11 measured in parts (its configurations take long): a partial run keeps the configurations it did not measure.
    results.scenarios[id] = id === 's11' && !smoke && only !== null ? mergeIdle(results.scenarios.s11, measured) : measured;
    results.errors = Object.fromEntries(Object.entries(results.errors).filter(([key]) => key !== id));
    log(`${id} ${name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (smoke) sanity(id, results.scenarios[id]);
  } catch (error) {
    results.errors[id] = String(error?.stack ?? error);
    log(`${id} ${name}: FAILED\n${results.errors[id]}`);
    check(`${id} ${name} ran`, false, String(error?.message ?? error).split('\n')[0]);
  }
  results.loadAfter[id] = os.loadavg().map((value) => Math.round(value * 100) / 100);
  save();
}

results.loadAverageAtEnd = os.loadavg().map((value) => Math.round(value * 100) / 100);
results.elapsedSeconds = (performance.now() - started) / 1000;
const targets = evaluateTargets(results);
results.targets = targets;
save();

const markdown = renderMarkdown(results, targets);
const svg = renderSvg(targets, results.machine);
if (smoke) {
  const folder = reportDirArg ? reportDirArg.slice('--report-dir='.length) : mkdtempSync(join(os.tmpdir(), 'keepalive-bench-smoke-'));
  mkdirSync(folder, { recursive: true });
  try {
    writeFileSync(join(folder, 'benchmarks.md'), markdown);
    writeFileSync(join(folder, 'benchmarks.svg'), svg);
    check('report renders', markdown.includes('## Closing note') && svg.startsWith('<svg') && !markdown.includes('undefined'));
  } finally {
    if (!reportDirArg) rmSync(folder, { recursive: true, force: true });
  }
  for (const { name, ok, detail } of checks) log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : `  (${detail})`}`);
  const failed = checks.filter((c) => !c.ok).length;
  log(`smoke run: ${results.elapsedSeconds.toFixed(1)} s`);
  console.log(`${checks.length - failed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
} else {
  writeDocs(results, targets);
  for (const target of targets) log(`${target.met ? 'met   ' : 'MISSED'} ${target.id}. ${target.label}: ${target.measured} (target ${target.kind === 'min' ? '>=' : '<='} ${target.goal})`);
  log(`wrote ${resultsPath}, docs/benchmarks.md, docs/benchmarks.svg in ${results.elapsedSeconds.toFixed(0)} s`);
  process.exitCode = Object.keys(results.errors).length === 0 ? 0 : 1;
}
