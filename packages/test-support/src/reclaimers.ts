import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { freePort } from './redis-server.js';

/**
 * Real idle-reclaiming reverse proxies for tests: Debian's nginx (1.22) and HAProxy (2.6), each started by the
 * test as its own process (never the system service) on 127.0.0.1 at a free port, with a short idle timeout, in
 * front of a backend port the test gives. Every wait is bounded; `stop()` kills the process and removes its temp
 * dir; a process still running when the test process exits is killed then.
 */
export type ReclaimerKind = 'nginx' | 'haproxy';

export interface ReclaimerOptions {
  /** The backend, on 127.0.0.1: HTTP/1.1 with WebSocket upgrades and SSE (proxied without buffering). */
  readonly backendPort: number;
  /**
   * The proxy's idle timeout for an established connection, both directions: traffic either way resets it.
   * nginx: `proxy_read_timeout`, `proxy_send_timeout`, `keepalive_timeout`. HAProxy: `timeout client`,
   * `timeout server`, `timeout tunnel` (a WebSocket after the upgrade), `timeout http-keep-alive`.
   * WebSocket pings and pongs are traffic to both. nginx does not move a timer that would move by less than 300 ms
   * (`NGX_TIMER_LAZY_DELAY`), so it may reclaim up to 300 ms before `idleTimeoutMs` after the last traffic; HAProxy
   * reclaims at `idleTimeoutMs`.
   */
  readonly idleTimeoutMs: number;
}

export interface Reclaimer {
  readonly kind: ReclaimerKind;
  /** Where clients connect, on 127.0.0.1. */
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `ws://127.0.0.1:<port>` */
  readonly wsUrl: string;
  /** Kills it (SIGKILL), dropping every connection through it; resolves once it has exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port after `kill()`; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Teardown: kills it for good and removes its temp dir. */
  stop(): Promise<void>;
}

interface Spec {
  /** Debian's package. */
  readonly pkg: string;
  /** Where Debian's package puts the binary (`/usr/sbin` is often not on a non-root PATH); then the PATH. */
  readonly binaries: readonly string[];
  readonly versionArgs: readonly string[];
}

const specs: Record<ReclaimerKind, Spec> = {
  // `nginx-light` is only a transitional package on bookworm (it pulls `nginx` and an echo module).
  nginx: { pkg: 'nginx', binaries: ['/usr/sbin/nginx', 'nginx'], versionArgs: ['-v'] },
  haproxy: { pkg: 'haproxy', binaries: ['/usr/sbin/haproxy', 'haproxy'], versionArgs: ['-v'] },
};

const found = new Map<ReclaimerKind, string>();

function locate(spec: Spec): string | null {
  for (const binary of spec.binaries) {
    try {
      execFileSync(binary, spec.versionArgs, { stdio: 'ignore', timeout: 10_000 });
      return binary;
    } catch {
      // Try the next one.
    }
  }
  return null;
}

/**
 * Makes sure the reclaimer's binary is installed: on a Debian machine run as root it installs Debian's package
 * with apt-get when it is missing (as CI does), elsewhere it throws saying what to install. Should the install
 * start the system service (it does not where `policy-rc.d` forbids it, as in containers), that service is stopped
 * again: the tests run their own processes.
 */
export function ensureReclaimer(kind: ReclaimerKind): void {
  binaryOf(kind);
}

/** {@link ensureReclaimer}, returning the binary's path. */
function binaryOf(kind: ReclaimerKind): string {
  const known = found.get(kind);
  if (known !== undefined) return known;
  const spec = specs[kind];
  let binary = locate(spec);
  if (binary === null && process.getuid?.() === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const run = (file: string, args: string[]): void => {
      execFileSync(file, args, { stdio: 'ignore', timeout: 300_000, env });
    };
    const pidFile = `/run/${spec.pkg}.pid`;
    const serviceWasRunning = existsSync(pidFile);
    try {
      run('apt-get', ['install', '-y', '--no-install-recommends', spec.pkg]);
    } catch {
      try {
        run('apt-get', ['update']);
        run('apt-get', ['install', '-y', '--no-install-recommends', spec.pkg]);
      } catch {
        // Reported below.
      }
    }
    if (!serviceWasRunning && existsSync(pidFile)) {
      try {
        run('service', [spec.pkg, 'stop']);
      } catch {
        // Harmless: the tests' own processes listen on ports of their own.
      }
    }
    binary = locate(spec);
  }
  if (binary === null) {
    throw new Error(`${kind} not found: apt-get install -y --no-install-recommends ${spec.pkg} (the CI script does)`);
  }
  found.set(kind, binary);
  return binary;
}

/** Processes still running and temp dirs not yet removed, cleaned up if the test process exits without `stop()`. */
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
}

function nginxConfig(dir: string, port: number, options: ReclaimerOptions): string {
  const idle = `${options.idleTimeoutMs}ms`;
  return `# keepalive-test-support reclaimer: one process (master_process off), so SIGKILL leaves no worker behind.
master_process off;
worker_processes 1;
error_log ${join(dir, 'error.log')} notice;
pid ${join(dir, 'nginx.pid')};

events {
  worker_connections 1024;
}

http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_timeout ${idle};

  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' close;
  }

  server {
    listen 127.0.0.1:${port};

    location / {
      proxy_pass http://127.0.0.1:${options.backendPort};
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_connect_timeout 2s;
      # An upgraded (WebSocket) tunnel or a response in flight is reclaimed after this long with no traffic
      # either way.
      proxy_read_timeout ${idle};
      proxy_send_timeout ${idle};
    }
  }
}
`;
}

/**
 * The path HAProxy answers itself (`monitor-uri`, 200, never forwarded) once it listens: unique to the temp dir, so
 * a process that took the port first cannot pass for it.
 */
function readyPath(dir: string): string {
  return `/.keepalive-reclaimer-ready/${basename(dir)}`;
}

function haproxyConfig(dir: string, port: number, options: ReclaimerOptions): string {
  const idle = `${options.idleTimeoutMs}ms`;
  return `# keepalive-test-support reclaimer: foreground (-db), no daemon, no stats, no logs.
global
  maxconn 1024

defaults
  mode http
  # Send every chunk at once: without it HAProxy sends with MSG_MORE and the kernel holds each SSE event ~200 ms.
  option http-no-delay
  timeout connect 2s
  timeout http-request 10s
  timeout client ${idle}
  timeout server ${idle}
  # A WebSocket after the upgrade.
  timeout tunnel ${idle}
  timeout http-keep-alive ${idle}

frontend reclaim
  bind 127.0.0.1:${port}
  monitor-uri ${readyPath(dir)}
  default_backend app

backend app
  server s1 127.0.0.1:${options.backendPort}
`;
}

/**
 * One try: whether a TCP connect to the port succeeds and, given a path, whether a `GET` of it is answered 200.
 */
function accepts(port: number, path?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      if (path === undefined) {
        done(true);
        return;
      }
      socket.end(`GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`);
    });
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      answer += chunk;
      if (answer.includes('\r\n')) done(/^HTTP\/1\.[01] 200 /.test(answer));
    });
    socket.once('end', () => done(/^HTTP\/1\.[01] 200 /.test(answer)));
  });
}

const startTimeoutMs = 10_000;

function launch(kind: ReclaimerKind, binary: string, dir: string, port: number): Promise<ChildProcess> {
  const args =
    kind === 'nginx'
      ? ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;']
      : ['-f', join(dir, 'haproxy.cfg'), '-db'];
  const pidFile = join(dir, 'nginx.pid');
  if (kind === 'nginx') rmSync(pidFile, { force: true });
  const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  // A TCP connect alone could reach a process that took the port first. nginx writes its pid file only once its
  // listening socket is bound (it keeps retrying a busy port for seconds); HAProxy answers its monitor-uri.
  const bound = (): boolean => {
    if (kind !== 'nginx') return true;
    try {
      return readFileSync(pidFile, 'utf8').trim() === String(child.pid);
    } catch {
      return false;
    }
  };
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + startTimeoutMs;
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      let log = '';
      try {
        log = kind === 'nginx' ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
      } catch {
        // No log yet.
      }
      reject(new Error(`${kind} on ${port}: ${why}\n${(output + log).slice(-2_000)}`));
    };
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code, signal) => fail(`exited (${String(code ?? signal)})`));
    const over = (): boolean => settled || child.exitCode !== null || child.signalCode !== null;
    const poll = async (): Promise<void> => {
      while (!over()) {
        if (bound() && (await accepts(port, kind === 'haproxy' ? readyPath(dir) : undefined)) && !over()) {
          settled = true;
          resolve(child);
          return;
        }
        if (Date.now() > deadline) {
          fail(`not accepting connections within ${startTimeoutMs} ms`);
          return;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    void poll();
  });
}

function exited(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${String(child.pid)} still running ${timeoutMs} ms after SIGKILL`)), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Starts a reclaimer of the given kind on a free port of 127.0.0.1 in front of `127.0.0.1:<backendPort>` (three
 * tries, in case another process took the port first); resolves once it accepts connections.
 */
export async function startReclaimer(kind: ReclaimerKind, options: ReclaimerOptions): Promise<Reclaimer> {
  if (!Number.isInteger(options.idleTimeoutMs) || options.idleTimeoutMs <= 0) {
    throw new Error(`idleTimeoutMs must be a positive integer, got ${options.idleTimeoutMs}`);
  }
  const binary = binaryOf(kind);
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), `keepalive-${kind}-`));
  dirs.add(dir);
  const removeDir = (): void => {
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
  };
  let port = 0;
  let child: ChildProcess | null = null;
  for (let attempt = 0; attempt < 3 && child === null; attempt++) {
    port = await freePort();
    writeFileSync(
      join(dir, kind === 'nginx' ? 'nginx.conf' : 'haproxy.cfg'),
      kind === 'nginx' ? nginxConfig(dir, port, options) : haproxyConfig(dir, port, options),
    );
    try {
      child = await launch(kind, binary, dir, port);
    } catch (error) {
      if (attempt === 2) {
        removeDir();
        throw error;
      }
    }
  }
  let current = child as ChildProcess;
  let alive = true;
  let stopped = false;
  const kill = async (): Promise<void> => {
    if (!alive) return;
    alive = false;
    current.kill('SIGKILL');
    await exited(current);
  };
  return {
    kind,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    kill,
    start: async () => {
      if (stopped) throw new Error(`${kind} on ${port}: start() after stop()`);
      if (alive) return;
      current = await launch(kind, binary, dir, port);
      alive = true;
    },
    stop: async () => {
      stopped = true;
      await kill();
      removeDir();
    },
  };
}
