// @ts-check
import { spawn } from 'node:child_process';

/**
 * @typedef {object} RunOptions
 * @property {string} [cwd]
 * @property {NodeJS.ProcessEnv} [env]
 * @property {number} [timeoutMs] hard limit; the whole process group is killed when it passes (default 120 s)
 * @property {boolean} [capture] collect stdout/stderr instead of streaming them (they are printed on failure)
 */

/** @typedef {{ stdout: string, stderr: string, ms: number }} RunResult */

/** Process groups still running, killed if this process is interrupted. @type {Set<number>} */
const running = new Set();
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => {
    for (const pid of running) killGroup(pid);
    process.exit(130);
  });
}

/** @param {number} pid */
function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Runs a command to completion, bounded by a timeout. Rejects on a non-zero exit, a signal or the timeout.
 *
 * @param {string} command
 * @param {readonly string[]} args
 * @param {RunOptions} [options]
 * @returns {Promise<RunResult>}
 */
export function run(command, args, options = {}) {
  const { cwd = process.cwd(), env = process.env, timeoutMs = 120_000, capture = false } = options;
  const started = performance.now();
  const label = [command, ...args].join(' ');
  return new Promise((resolve, reject) => {
    // detached: the child leads its own process group, so a timeout also ends its children (npx → pnpm → ...).
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk) => (stdout += String(chunk)));
    child.stderr?.setEncoding('utf8').on('data', (chunk) => (stderr += String(chunk)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) killGroup(child.pid);
    }, timeoutMs);
    if (child.pid !== undefined) running.add(child.pid);
    let settled = false;
    const settle = (/** @type {Error | null} */ error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.pid !== undefined) running.delete(child.pid);
      const ms = Math.round(performance.now() - started);
      if (error === null) {
        resolve({ stdout, stderr, ms });
        return;
      }
      if (capture) process.stderr.write(stdout + stderr);
      reject(error);
    };
    child.once('error', (error) => {
      settle(new Error(`${label}: ${error.message} (cwd ${cwd})`));
    });
    child.once('close', (code, signal) => {
      if (timedOut) settle(new Error(`${label}: timed out after ${timeoutMs} ms (cwd ${cwd})`));
      else if (code !== 0) settle(new Error(`${label}: exited with ${code ?? signal ?? 'unknown'} (cwd ${cwd})`));
      else settle(null);
    });
  });
}
