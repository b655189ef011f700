// `pnpm run check`: lint, typecheck and build every package (turbo), the tests one package at a time, the release
// dry run and the API reference, in that order, stopping at the first failure. Each step's output goes through as it
// comes; the run ends with one line saying what ran and passed (or where it stopped), with the test totals read from
// the runners' own summaries (vitest's `Tests  N passed (N)`, the bench smoke's `N passed, 0 failed`).
//
// `.ci/run` adds its own `ci: N passed, M failed` line by reading the same output; the closing line here is worded so
// that its parser does not count it twice.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TURBO = `${ROOT}node_modules/.bin/turbo`;
// The pnpm that runs this script (`npm_execpath`), else the pinned one through npx.
const PNPM = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npx', '-y', 'pnpm@10.34.9'];

const STEPS = [
  { name: 'lint, typecheck, build', command: [TURBO, 'run', 'lint', 'typecheck', 'build'] },
  { name: 'test', command: [TURBO, 'run', 'test', '--concurrency=1'] },
  { name: 'release:dry', command: [...PNPM, 'run', 'release:dry'] },
  { name: 'docs:api', command: [...PNPM, 'run', 'docs:api'] },
];

/** Runs one step, passing its output through; resolves with its exit code and its output (colours stripped). */
function run(command) {
  return new Promise((resolve) => {
    const [file, ...args] = command;
    const child = spawn(file, args, { cwd: ROOT, stdio: ['inherit', 'pipe', 'pipe'] });
    let text = '';
    const pass = (stream) => (chunk) => {
      stream.write(chunk);
      text += chunk.toString('utf8');
    };
    child.stdout.on('data', pass(process.stdout));
    child.stderr.on('data', pass(process.stderr));
    for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => child.kill(signal));
    child.on('error', (error) => resolve({ code: 127, text: `${text}\n${error.message}` }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), text: text.replace(/\x1b\[[0-9;]*m/g, '') }));
  });
}

/** Test totals and turbo task counts read from a step's output. */
function tally(text) {
  let tests = 0;
  let files = 0;
  let tasks = 0;
  for (const line of text.split('\n')) {
    const vitest = /Tests\s+(.*)\(\d+\)/.exec(line);
    const vitestFiles = /Test Files\s+(.*)\(\d+\)/.exec(line);
    const plain = /(\d+) passed, (\d+) failed/.exec(line);
    const turbo = /Tasks:\s+(\d+) successful/.exec(line);
    if (vitestFiles) files += Number(/(\d+) passed/.exec(vitestFiles[1])?.[1] ?? 0);
    else if (vitest) tests += Number(/(\d+) passed/.exec(vitest[1])?.[1] ?? 0);
    else if (plain) tests += Number(plain[1]);
    if (turbo) tasks += Number(turbo[1]);
  }
  return { tests, files, tasks };
}

function duration(ms) {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

const started = performance.now();
const done = [];
let totals = { tests: 0, files: 0, tasks: 0 };
for (const step of STEPS) {
  const { code, text } = await run(step.command);
  const counts = tally(text);
  totals = { tests: totals.tests + counts.tests, files: totals.files + counts.files, tasks: totals.tasks + counts.tasks };
  const detail =
    step.name === 'test' ? `test (${totals.tests} tests in ${totals.files} files)` : step.name.startsWith('lint') ? `${step.name} (${counts.tasks} turbo tasks)` : step.name;
  if (code !== 0) {
    const before = done.length > 0 ? `; passed before it: ${done.join(', ')}` : '';
    console.log(`\ncheck FAILED at ${step.name} (exit ${code}) after ${duration(performance.now() - started)}${before}`);
    process.exit(code);
  }
  done.push(detail);
}
console.log(`\ncheck passed in ${duration(performance.now() - started)}: ${done.join(', ')}`);
