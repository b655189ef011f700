import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { runInPage } from './browser.js';
import { runInWorkerd } from './workerd.js';
import { PACKAGE_DIR, type Runtime } from './runtimes.js';

/** A JSON line a scenario printed, with the time (the test's clock) it arrived. */
export interface Line {
  readonly type: string;
  readonly t: number;
  readonly receivedAt: number;
  readonly [field: string]: unknown;
}

/** How a child ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: number;
  readonly timedOut: boolean;
}

/** A scenario running in a child process of a runtime. */
export interface ScenarioChild {
  readonly lines: Line[];
  /** Resolves with the first line of `type` (rejects after `ms`, or if the child exits first). */
  line(type: string, ms?: number): Promise<Line>;
  /** Resolves when the child exits (it is killed when its time limit passes). */
  readonly exited: Promise<Exit>;
  readonly stderr: () => string;
  kill(): void;
  /** Sends `signal` to the child (SIGSTOP / SIGCONT freeze and thaw it). */
  signal(signal: NodeJS.Signals): void;
}

const running = new Set<ChildProcess>();

/** Kills every child still running (test teardown). */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/**
 * Collects the JSON lines a scenario prints (from a child's stdout or a page's console) and answers `line(type)`
 * waits; `describe` names the scenario in failures.
 */
export function lineCollector(
  exited: Promise<Exit>,
  timeoutMs: number,
  describe: (what: string, lines: readonly Line[]) => Error,
): { readonly lines: Line[]; readonly feed: (chunk: string) => void; readonly line: (type: string, ms?: number) => Promise<Line>; readonly noise: () => string } {
  const lines: Line[] = [];
  const waiters: { type: string; resolve: (line: Line) => void }[] = [];
  let buffered = '';
  let noise = '';
  return {
    lines,
    noise: () => noise,
    feed: (chunk) => {
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const text = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (text === '') continue;
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          noise += `[stdout] ${text}\n`;
          continue;
        }
        const line = { ...parsed, receivedAt: performance.now() } as Line;
        lines.push(line);
        for (const waiter of waiters.filter((w) => w.type === line.type)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    },
    line: (type, ms = timeoutMs) => {
      const found = lines.find((line) => line.type === type);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise<Line>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(describe(`no "${type}" line within ${ms} ms`, lines));
        }, ms);
        waiters.push({
          type,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then((exit) => {
          // Lines are parsed before the exit is handled; give the last chunk a turn.
          setTimeout(() => {
            clearTimeout(timer);
            reject(describe(`exited (${exit.timedOut ? 'time limit' : String(exit.code ?? exit.signal)}) before a "${type}" line`, lines));
          }, 20);
        });
      });
    },
  };
}

/**
 * Runs `fixtures/scenario.mjs <scenario> [...args]` on `runtime`, bounded by `timeoutMs`: in a child process, or in a
 * headless Chromium page for the browser, or inside a request of a fresh workerd isolate.
 */
export function runScenario(runtime: Runtime, scenario: string, args: readonly string[] = [], timeoutMs = 15_000): ScenarioChild {
  if (runtime.family === 'browser') return runInPage(runtime, scenario, args, timeoutMs);
  if (runtime.family === 'workerd') return runInWorkerd(runtime, scenario, args, timeoutMs);
  const script = join(PACKAGE_DIR, 'fixtures/scenario.mjs');
  const child = spawn(runtime.command, [...runtime.args, script, scenario, ...args], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, ...runtime.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  let timedOut = false;
  const limit = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      const at = performance.now();
      clearTimeout(limit);
      running.delete(child);
      resolve({ code, signal, at, timedOut });
    });
  });
  const collector = lineCollector(exited, timeoutMs, (what, lines) => new Error(`${runtime.id} ${scenario}: ${what}\nlines: ${JSON.stringify(lines)}\nstderr: ${stderr.slice(-4_000)}`));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    collector.feed(chunk);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return {
    lines: collector.lines,
    stderr: () => collector.noise() + stderr,
    exited,
    kill: () => child.kill('SIGKILL'),
    signal: (signal) => child.kill(signal),
    line: collector.line,
  };
}

/** The result line of a scenario that ends by itself, after checking it exited cleanly. */
export async function resultOf(child: ScenarioChild): Promise<Line> {
  const exit = await child.exited;
  const result = child.lines.find((line) => line.type === 'result');
  if (exit.code !== 0 || result === undefined) {
    throw new Error(`scenario failed (exit ${String(exit.code ?? exit.signal)}${exit.timedOut ? ', time limit' : ''})\nlines: ${JSON.stringify(child.lines)}\nstderr: ${child.stderr().slice(-4_000)}`);
  }
  return result;
}
