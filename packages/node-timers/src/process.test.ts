import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** Real timers in child processes: exit behaviour and leftover handles. */

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runFixture(name: string, args: string[] = [], timeoutMs = 10_000): Promise<Run> {
  const file = fileURLToPath(new URL(`./test-support/fixtures/${name}`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not exit within ${timeoutMs} ms; stdout: ${stdout}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function mark(out: string, name: string): number {
  const match = new RegExp(`^${name} ([\\d.]+)`, 'm').exec(out);
  if (!match) throw new Error(`no "${name}" line in: ${out}`);
  return Number(match[1]);
}

describe('process lifetime (real timers, child processes)', () => {
  it('a script with a sender attached and heartbeats configured exits by itself within 200 ms of its last work', async () => {
    const run = await runFixture('idle-exit.mjs');
    expect(run.code).toBe(0);
    const idle = mark(run.stdout, 'idle');
    const exit = mark(run.stdout, 'exit');
    expect(Number(/sent (\d+)/.exec(run.stdout)?.[1])).toBeGreaterThanOrEqual(3);
    expect(exit - idle).toBeLessThan(200);
    console.log(`idle-exit: exited ${(exit - idle).toFixed(1)} ms after its last work`);
  });

  it("keepProcessAlive: 'while-busy' holds the process open while busy, then lets it exit", async () => {
    const run = await runFixture('while-busy.mjs', ['500']);
    expect(run.code).toBe(0);
    const busy = mark(run.stdout, 'busy');
    const idle = mark(run.stdout, 'idle');
    const exit = mark(run.stdout, 'exit');
    expect(idle - busy).toBeGreaterThanOrEqual(450);
    expect(exit - idle).toBeLessThan(200);
    console.log(`while-busy: held ${(idle - busy).toFixed(0)} ms while busy, exited ${(exit - idle).toFixed(1)} ms after going idle`);
  });

  it('after dispose no timers, holds or exit listeners remain', async () => {
    const run = await runFixture('dispose-handles.mjs');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout.trim()) as Record<string, unknown>;
    expect(result).toEqual({ exitListenersWhileBusy: 1, exitListenersAfter: 0, liveTimeouts: 0, resources: [], reports: 100 });
  });

  it('100 instances with reportOnExit add one exit listener, raise no MaxListeners warning, and each reports once', async () => {
    const run = await runFixture('report-on-exit.mjs', ['100']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('listeners 1\n');
    expect(run.stdout).toContain('reports 100\n');
    expect(run.stderr).not.toMatch(/MaxListeners/);
  });
});
