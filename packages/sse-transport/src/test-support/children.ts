import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package folder: children run here, so they resolve the package's dependencies from its node_modules. */
export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ROOT = resolve(PACKAGE_DIR, '../..');

/** A runtime a fixture runs on: the Node running the tests, and the root's Bun and Deno binaries. */
export interface Runtime {
  readonly id: 'node' | 'bun' | 'deno';
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

export const NODE: Runtime = { id: 'node', command: process.execPath, args: [], env: {} };
export const BUN: Runtime = { id: 'bun', command: process.env.KEEPALIVE_BUN ?? join(ROOT, 'node_modules/bun/bin/bun.exe'), args: ['run'], env: {} };
export const DENO: Runtime = {
  id: 'deno',
  command: process.env.KEEPALIVE_DENO ?? join(ROOT, 'node_modules/deno/deno'),
  // --no-lock: never write a deno.lock into the package; --no-prompt: a missing permission fails instead of waiting.
  args: ['run', '-A', '--no-prompt', '--no-lock'],
  env: { DENO_DIR: join(ROOT, 'node_modules/.cache/deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
};

/** A JSON line a fixture printed, with the time (the test's clock) it arrived. */
export interface Line {
  readonly type: string;
  readonly receivedAt: number;
  readonly [field: string]: unknown;
}

/** A fixture running in a child process. */
export interface Child {
  readonly lines: Line[];
  /** Resolves with the `nth` (1-based) line of `type`, rejects after `ms` or if the child exits first. */
  line(type: string, nth?: number, ms?: number): Promise<Line>;
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
  stderr(): string;
  signal(signal: NodeJS.Signals): void;
  kill(): void;
}

const running = new Set<ChildProcess>();

/** Kills every child still running (each test file's teardown). */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** Runs `src/test-support/<script>` on `runtime`; killed after `limitMs` at the latest. */
export function runFixture(runtime: Runtime, script: string, args: readonly string[] = [], limitMs = 30_000): Child {
  const child = spawn(runtime.command, [...runtime.args, join(PACKAGE_DIR, 'src/test-support', script), ...args], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, ...runtime.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const limit = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const lines: Line[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let buffered = '';
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => {
      clearTimeout(limit);
      running.delete(child);
      done = true;
      for (const wake of [...waiters]) wake();
      resolveExit({ code, signal });
    });
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const text = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (text === '') continue;
      try {
        lines.push({ ...(JSON.parse(text) as Record<string, unknown>), receivedAt: performance.now() } as Line);
      } catch {
        stderr += `[stdout] ${text}\n`;
      }
    }
    for (const wake of [...waiters]) wake();
  });
  const line = (type: string, nth = 1, ms = 15_000): Promise<Line> =>
    new Promise<Line>((resolveLine, reject) => {
      const check = (): void => {
        const found = lines.filter((item) => item.type === type)[nth - 1];
        if (found !== undefined) finish(() => resolveLine(found));
        else if (done) finish(() => reject(new Error(`${runtime.id} ${script}: exited before line ${nth} of "${type}"\nlines: ${JSON.stringify(lines)}\nstderr: ${stderr.slice(-3_000)}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`${runtime.id} ${script}: no line ${nth} of "${type}" within ${ms} ms\nlines: ${JSON.stringify(lines)}\nstderr: ${stderr.slice(-3_000)}`))), ms);
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });
  return {
    lines,
    line,
    exited,
    stderr: () => stderr,
    signal: (signal) => child.kill(signal),
    kill: () => child.kill('SIGKILL'),
  };
}
