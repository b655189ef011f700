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

/** One Prometheus series: its name, labels and value. */
interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The series of a Prometheus text exposition (comments skipped). */
function parseExposition(body: string): Series[] {
  const series: Series[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a Prometheus series: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    series.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return series;
}

/** The sum of the series named `name` whose labels include `labels`. */
function total(series: readonly Series[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  return series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

/** Scrapes `url` until `done` holds (the readings of the worker processes arrive every second), or throws after `ms`. */
async function scrapeUntil(url: string, done: (series: readonly Series[]) => boolean, ms: number): Promise<{ body: string; series: Series[] }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const response = await fetch(url);
    expect(response.status).toBe(200);
    const body = await response.text();
    const series = parseExposition(body);
    if (done(series)) return { body, series };
    if (Date.now() > deadline) throw new Error(`the scrape did not reach the expected values within ${ms} ms:\n${body}`);
    // Paces the scrapes; what is waited for is the condition above, bounded by the deadline.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('the documented start commands, from the repository root', () => {
  it('`pnpm start -- --help` prints every option, with the HTTP limits, and exits 0', async () => {
    const run = start(['--', '--help']);
    expect(await run.exited(120_000)).toBe(0);
    expect(run.output()).toContain('Usage: keepalive-demo [options]');
    for (const flag of ['--headless', '--duration', '--headers-timeout', '--request-timeout', '--keep-alive-timeout', '--max-connections', '--max-pending', '--metrics', '--metrics-port', 'KEEPALIVE_DEMO_METRICS']) {
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

  it('`pnpm start -- --headless --metrics`: the scrape shows keep-alives while busy (S4) and the idle closes (B16) at the server and the workers (summed), attributes from closed sets only (S10); the run ends with a sample of every instrument', async () => {
    const token = 'metrics-test-token-7f3a9c';
    const run = start(['--', '--headless', '--metrics', '--token', token, '--idle-limit', '1500', '--heartbeat', '300', '--seed', '3']);
    const [, url] = await run.waitFor(/metrics \(Prometheus\) at (http:\/\/127\.0\.0\.1:\d+\/metrics)\n/, 120_000);
    // Busy workers send keep-alives (S4) and each answer is a round-trip sample at both ends; an idle worker goes
    // quiet (B16) and is reclaimed after the idle limit (the server's idle close, the client's idle reclaim), and parks.
    const { body, series } = await scrapeUntil(
      url!,
      (s) =>
        total(s, 'keepalive_server_keepalive_sent_total') > 0 &&
        total(s, 'keepalive_server_rtt_count') > 0 &&
        total(s, 'keepalive_client_keepalive_sent_total') > 0 &&
        total(s, 'keepalive_client_rtt_count') > 0 &&
        total(s, 'keepalive_server_close_count_total', { keepalive_close_reason: 'idle_timeout' }) >= 1 &&
        total(s, 'keepalive_client_idle_reclaim_count_total') >= 1 &&
        total(s, 'keepalive_client_park_count_total') >= 1,
      30_000,
    );
    // Each histogram's +Inf bucket holds every sample.
    expect(total(series, 'keepalive_client_rtt_bucket', { le: '+Inf' })).toBe(total(series, 'keepalive_client_rtt_count'));
    expect(total(series, 'keepalive_client_rtt_sum')).toBeGreaterThan(0);
    // The workers' clients are summed into one series per attribute set: no duplicate series.
    const keys = series.map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`);
    expect(new Set(keys).size).toBe(keys.length);
    // No personal data: the token appears nowhere; every attribute value is a closed-set word, never a URL or an id.
    expect(body).not.toContain(token);
    expect(body).not.toMatch(/:\/\/|worker-\d|127\.0\.0\.1/);
    for (const { name, labels } of series) {
      expect(name).toMatch(/^(keepalive_(client|server)_[a-z_]+|target_info)$/);
      for (const [key, value] of Object.entries(labels)) {
        if (key === 'le') expect(value).toMatch(/^(\d+(\.\d+)?|\+Inf)$/);
        else if (key === 'otel_scope_name') expect(value).toBe('@keepalive/opentelemetry');
        else if (name === 'target_info') expect(key).toMatch(/^(service_name|telemetry_sdk_[a-z]+)$/);
        else expect(value, `${name} ${key}`).toMatch(/^([a-z]+(_[a-z]+)*)$/);
      }
    }
    expect(await run.exited(120_000)).toBe(0);
    // The sample at the end names each instrument with its unit and points.
    const sample = run.output().slice(run.output().indexOf('metrics at the end'));
    expect(sample).toMatch(/keepalive\.client\.rtt \[s\] count=[1-9]\d* sum=/);
    expect(sample).toMatch(/keepalive\.server\.close\.count \[\{connection\}\] \{keepalive\.close\.reason=idle_timeout\} [1-9]/);
    expect(sample).toMatch(/keepalive\.client\.keepalive\.sent \[\{keepalive\}\] [1-9]/);
    expect(sample).not.toContain(token);
  });

  it('`pnpm start -- --redis URL --metrics`: the reclaimer process\'s instruments reach the scrape (sweeps, the sessions it sees)', async () => {
    const redis = await startRedisServer();
    try {
      const run = start(['--', '--redis', redis.url, '--metrics', '--headless', '--duration', '8000', '--idle-limit', '1500', '--heartbeat', '300', '--seed', '3']);
      const [, url] = await run.waitFor(/metrics \(Prometheus\) at (http:\/\/127\.0\.0\.1:\d+\/metrics)\n/, 120_000);
      const { series } = await scrapeUntil(
        url!,
        (s) => total(s, 'keepalive_reclaimer_sweep_count_total', { keepalive_sweep_outcome: 'complete' }) > 0 && total(s, 'keepalive_reclaimer_session_count') === 4,
        30_000,
      );
      expect(total(series, 'keepalive_reclaimer_transition_count_total')).toBeGreaterThanOrEqual(4);
      expect(await run.exited(120_000)).toBe(0);
      expect(run.output().slice(run.output().indexOf('metrics at the end'))).toMatch(/keepalive\.reclaimer\.sweep\.count \[\{sweep\}\] \{keepalive\.sweep\.outcome=complete\} [1-9]/);
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
