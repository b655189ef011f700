/**
 * Child processes: every sample runs in a fresh one. Children print JSON
 * lines on stdout; these helpers read them.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPO_ROOT = join(BENCH_ROOT, '..');

/** The Bun and Deno binaries the root package.json installs. */
export const RUNTIMES = Object.freeze({
  node: process.execPath,
  bun: join(REPO_ROOT, 'node_modules', 'bun', 'bin', 'bun.exe'),
  deno: join(REPO_ROOT, 'node_modules', 'deno', 'deno'),
});

export function runtimeAvailable(name) {
  return existsSync(RUNTIMES[name]);
}

/** Wraps a command so it runs with the open-files limit raised to the hard limit. */
export function withFdLimit(command, args) {
  return ['bash', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'bash', command, ...args]];
}

function parseLines(text) {
  const values = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      values.push(JSON.parse(trimmed));
    } catch {
      // not ours
    }
  }
  return values;
}

/** Runs a command to completion and returns the last JSON line it printed. */
export function runJson(command, args, { timeoutMs = 120_000, cwd = BENCH_ROOT, env = process.env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')}: timed out after ${timeoutMs} ms\n${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const values = parseLines(stdout);
      if (code !== 0 || values.length === 0) {
        reject(new Error(`${command} ${args.join(' ')}: exit ${code ?? signal}\n${stderr.slice(-3000)}${stdout.slice(-1000)}`));
      } else {
        resolve(values[values.length - 1]);
      }
    });
  });
}

/**
 * A long-running child that talks in JSON lines: `next(predicate)` waits for
 * the next line matching it, `send(line)` writes to its stdin, `stop()` ends it.
 */
export function startChild(command, args, { cwd = BENCH_ROOT, env = process.env } = {}) {
  const child = spawn(command, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const queue = [];
  const waiters = [];
  let buffer = '';
  let stderr = '';
  let exited = null;
  child.stdout.on('data', (chunk) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      for (const value of parseLines(line)) {
        const waiter = waiters.findIndex((w) => w.predicate(value));
        if (waiter >= 0) waiters.splice(waiter, 1)[0].resolve(value);
        else queue.push(value);
      }
    }
  });
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  child.stdin.on('error', () => {});
  child.on('exit', (code, signal) => {
    exited = code ?? signal;
    for (const waiter of waiters.splice(0)) waiter.reject(new Error(`${args.join(' ')} exited (${exited})\n${stderr}`));
  });
  return {
    child,
    pid: child.pid,
    next(predicate = () => true, timeoutMs = 120_000) {
      const index = queue.findIndex(predicate);
      if (index >= 0) return Promise.resolve(queue.splice(index, 1)[0]);
      if (exited !== null) return Promise.reject(new Error(`${args.join(' ')} exited (${exited})\n${stderr}`));
      return new Promise((resolve, reject) => {
        const waiter = { predicate, resolve, reject };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`${args.join(' ')}: no answer in ${timeoutMs} ms\n${stderr}`));
        }, timeoutMs);
        waiter.resolve = (value) => {
          clearTimeout(timer);
          resolve(value);
        };
        waiter.reject = (error) => {
          clearTimeout(timer);
          reject(error);
        };
        waiters.push(waiter);
      });
    },
    send(line) {
      if (exited === null) child.stdin.write(`${line}\n`);
    },
    /** Closes stdin, then kills it if it has not gone within `graceMs`. */
    async stop(graceMs = 3_000) {
      if (exited !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
    kill(signal = 'SIGKILL') {
      if (exited === null) child.kill(signal);
    },
    get exited() {
      return exited;
    },
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
