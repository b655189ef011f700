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
    // 6 s at an idle limit of 1.5 s is shorter than the whole story (11.15 s): it says what it will not show.
    expect(output).toMatch(/note: --duration 6000 ms < 7350 ms: no parked worker will reconnect when work comes back/);
  });

  it('`pnpm start -- --headless` (apps/demo/README.md) runs as long as the whole story: lost work, a reclaim, parking and the lazy reconnect', async () => {
    // The README's command, with a shorter idle limit: the run lasts the whole story (9.15 s, and 2 s for the processes to start).
    const run = start(['--', '--headless', '--idle-limit', '1500', '--heartbeat', '300', '--seed', '3']);
    expect(await run.exited(120_000)).toBe(0);
    const output = run.output();
    expect(output).toMatch(/keepalive demo \(headless\): 4 workers, idle limit 1500 ms, heartbeat 300 ms, seed 3, for 11150 ms/);
    expect(output).not.toMatch(/note:/);
    const story = output.slice(0, output.indexOf('shutting down'));
    expect(story).toMatch(/worker 5: reclaimed by the server in the middle of .* the work is lost/);
    for (let worker = 1; worker <= 4; worker++) {
      const reclaimed = story.search(new RegExp(`worker ${String(worker)}: reclaimed by the server as idle \\(4000`));
      const parked = story.search(new RegExp(`worker ${String(worker)}: parked: stays disconnected until work comes back`));
      const back = story.search(new RegExp(`worker ${String(worker)}: work came back: reconnected at once`));
      expect(reclaimed, `worker ${String(worker)} reclaimed`).toBeGreaterThan(0);
      expect(parked, `worker ${String(worker)} parked`).toBeGreaterThan(reclaimed);
      expect(back, `worker ${String(worker)} back`).toBeGreaterThan(parked);
    }
    expect(output).toMatch(/after 11150 ms: shutting down/);
  });

  it('`pnpm start -- --headless --duration 8000` says at the start that no reclaim will be shown (the idle limit is 8000 ms)', async () => {
    const run = start(['--', '--headless', '--duration', '8000', '--seed', '3']);
    const [line] = await run.waitFor(/note: .*\n/, 60_000);
    expect(line).toMatch(/^note: --duration 8000 ms ≤ idle limit 8000 ms: no reclaim will be shown/);
    // Said before the story starts.
    const firstEvent = run.output().search(/worker \d+: /);
    expect(firstEvent === -1 || run.output().indexOf('note:') < firstEvent).toBe(true);
    expect(await run.exited(120_000)).toBe(0);
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
