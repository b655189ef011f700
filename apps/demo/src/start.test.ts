import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedisServer } from 'keepalive-test-support/redis-server';

/**
 * Every `start` command the READMEs document (README.md, apps/demo/README.md), run as written from the repository
 * root through pnpm, with a short duration where the command runs until Ctrl-C. Each child runs in its own process
 * group, killed in teardown; every wait is bounded.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PNPM = ['-y', 'pnpm@10.34.9'];
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
});

interface Run {
  readonly child: ChildProcess;
  /** Everything written so far (stdout and stderr). */
  output(): string;
  /** Resolves when `pattern` has been written, or rejects after `ms`. */
  waitFor(pattern: RegExp, ms: number): Promise<RegExpExecArray>;
  /** Resolves with the exit code, or rejects after `ms`. */
  exited(ms: number): Promise<number | null>;
}

function start(args: readonly string[], env: Record<string, string> = {}): Run {
  const child = spawn('npx', [...PNPM, 'start', ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', ...env },
  });
  children.push(child);
  let text = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    waitFor: (pattern, ms) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(text);
          if (match === null) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(match);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no ${String(pattern)} within ${ms} ms; output:\n${text}`));
        }, ms);
        listeners.add(check);
        check();
      }),
    exited: (ms) =>
      Promise.race([
        exit,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${ms} ms; output:\n${text}`)), ms).unref()),
      ]),
  };
}

describe('the documented start commands, from the repository root', () => {
  it('`pnpm start -- --help` prints every option, with the HTTP limits, and exits 0', async () => {
    const run = start(['--', '--help']);
    expect(await run.exited(120_000)).toBe(0);
    expect(run.output()).toContain('Usage: keepalive-demo [options]');
    for (const flag of ['--headless', '--duration', '--headers-timeout', '--request-timeout', '--keep-alive-timeout', '--max-connections', '--max-pending']) {
      expect(run.output()).toContain(flag);
    }
  });

  it('`pnpm start -- --headless --duration N` tells the story, shuts down by itself and nobody reconnects at shutdown', async () => {
    const run = start(['--', '--headless', '--duration', '6000', '--idle-limit', '1500', '--heartbeat', '300', '--seed', '3']);
    expect(await run.exited(120_000)).toBe(0);
    const output = run.output();
    expect(output).toContain('keepalive demo (headless)');
    expect(output).toMatch(/worker 1: connected/);
    expect(output).toMatch(/after 6000 ms: shutting down/);
    const shutdown = output.slice(output.indexOf('shutting down'));
    expect(shutdown).toMatch(/worker 5 shutdown report/);
    expect(shutdown).not.toMatch(/reconnect/);
    // Backoff delays are whole milliseconds.
    expect(output).not.toMatch(/in \d+\.\d+ ms/);
  });

  it('`pnpm start -- --redis URL` (apps/demo/README.md, with --headless and a duration): the reclaimer process reads the leases from a real Redis', async () => {
    const redis = await startRedisServer();
    try {
      // 8 s: time for the simulated work to move a worker between idle and busy even when the reclaimer's reads are slow
      // (5 s was seen to pass with no change on a loaded machine).
      const run = start(['--', '--redis', redis.url, '--headless', '--duration', '8000', '--idle-limit', '1500', '--heartbeat', '300', '--seed', '3']);
      expect(await run.exited(120_000)).toBe(0);
      const output = run.output();
      for (let worker = 1; worker <= 4; worker++) expect(output).toMatch(new RegExp(`reclaimer process: worker-${String(worker)} new -> (busy|idle)`));
      // And a change after the first sight: the simulated work moves the workers between idle and busy.
      expect(output).toMatch(/reclaimer process: worker-\d+ (idle|busy|reclaimable) -> (idle|busy|reclaimable)/);
    } finally {
      await redis.stop();
    }
  });

  it('`pnpm start` serves the dashboard at the URL it prints, and stops on SIGINT', async () => {
    const run = start([], { KEEPALIVE_DEMO_DURATION_MS: '60000' });
    const [, url] = await run.waitFor(/open (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/, 120_000);
    const page = await fetch(url!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<table id="workers">');
    process.kill(-run.child.pid!, 'SIGINT');
    await run.exited(30_000);
    expect(run.output()).toMatch(/SIGINT: shutting down/);
    expect(run.output()).toMatch(/worker 1 shutdown report/);
  });
});
