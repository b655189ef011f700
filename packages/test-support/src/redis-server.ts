import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real `redis-server` (Debian's, 7.0) for tests: on 127.0.0.1, on a free port, with no persistence
 * (`--save '' --appendonly no`), so a restart comes back empty. Every wait is bounded; `stop()` kills it.
 */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Kills it (SIGKILL) and starts a new, empty one on the same port; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Kills it (SIGKILL); resolves once it has exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port after `kill()`. */
  start(): Promise<void>;
  /** SIGSTOP: the process holds its sockets open and answers nothing. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** Kills it for good (teardown). */
  stop(): Promise<void>;
}

/** A port the kernel had free a moment ago (a listener on port 0, closed). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

let checked = false;

/**
 * Makes sure `redis-server` is on the PATH: on a Debian machine run as root it installs Debian's package with
 * apt-get when it is missing (as CI does), elsewhere it throws saying what to install.
 */
export function ensureRedisServer(): void {
  if (checked) return;
  const found = (): boolean => {
    try {
      execFileSync('redis-server', ['--version'], { stdio: 'ignore', timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  };
  if (!found() && process.getuid?.() === 0) {
    const apt = (args: string[]): void => {
      execFileSync('apt-get', args, { stdio: 'ignore', timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    };
    try {
      apt(['install', '-y', '--no-install-recommends', 'redis-server']);
    } catch {
      try {
        apt(['update']);
        apt(['install', '-y', '--no-install-recommends', 'redis-server']);
      } catch {
        // Reported below.
      }
    }
  }
  if (!found()) throw new Error('redis-server not found: apt-get install -y redis-server (the CI script does)');
  checked = true;
}

function launch(port: number, timeoutMs: number, extra: readonly string[] = []): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'notice', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`redis-server on ${port}: ${why}\n${output.slice(-2_000)}`));
    };
    const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms`), timeoutMs);
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code) => fail(`exited (${String(code)})`));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(child);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts a `redis-server` on a free port of 127.0.0.1 (three tries, in case another process took the port first). */
export async function startRedisServer(timeoutMs = 10_000): Promise<RedisServer> {
  ensureRedisServer();
  let port = 0;
  let child: ChildProcess | null = null;
  for (let attempt = 0; attempt < 3 && child === null; attempt++) {
    port = await freePort();
    try {
      child = await launch(port, timeoutMs);
    } catch (error) {
      if (attempt === 2) throw error;
    }
  }
  return control(port, child as ChildProcess, () => launch(port, timeoutMs));
}

/** The {@link RedisServer} handle of a running server, started again by `relaunch` after a kill. */
function control(port: number, child: ChildProcess, relaunch: () => Promise<ChildProcess>): RedisServer {
  let current = child;
  let alive = true;
  const kill = async (): Promise<void> => {
    if (!alive) return;
    alive = false;
    current.kill('SIGCONT');
    current.kill('SIGKILL');
    await exited(current);
  };
  const start = async (): Promise<void> => {
    if (alive) return;
    current = await relaunch();
    alive = true;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    restart: async () => {
      await kill();
      await start();
    },
    pause: () => current.kill('SIGSTOP'),
    resume: () => current.kill('SIGCONT'),
    stop: kill,
  };
}

/**
 * A local Redis Cluster of three masters (no replicas), for tests: three `redis-server`s with
 * `--cluster-enabled yes` on 127.0.0.1, joined by `redis-cli --cluster create`, each on a port the launcher picked
 * (its cluster bus on that port plus 10 000), with no persistence. A node killed and started again reads its
 * `nodes-<port>.conf` and rejoins with the same slots, empty. Every wait is bounded; `stop()` kills every node and
 * removes the temporary folder.
 */
export interface RedisCluster {
  /** The masters, in the order of their slot ranges (0-5460, 5461-10922, 10923-16383). */
  readonly nodes: readonly RedisServer[];
  /** `redis://127.0.0.1:<port>` of each node: root nodes for `createCluster`. */
  readonly urls: readonly string[];
  /** Resolves once every node says `cluster_state:ok` with every slot served (bounded by `timeoutMs`, default 20 s). */
  ready(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the temporary folder (teardown). */
  stop(): Promise<void>;
}

/** Runs `redis-cli` (bounded by `timeoutMs`); resolves with what it printed. */
function redisCli(args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', [...args], { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`redis-cli ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Whether `port` can be listened on now, on 127.0.0.1. */
function portFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port below 55 536 whose cluster bus port (plus 10 000) is free too (bounded: 200 tries). */
async function clusterPort(taken: ReadonlySet<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 35_000);
    if (taken.has(port) || taken.has(port + 10_000) || taken.has(port - 10_000)) continue;
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
  throw new Error('no free pair of ports for a cluster node');
}

/** Starts a {@link RedisCluster} of three masters (three tries per node in case a port was taken meanwhile). */
export async function startRedisCluster(timeoutMs = 20_000): Promise<RedisCluster> {
  ensureRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'keepalive-redis-cluster-'));
  const nodes: RedisServer[] = [];
  const taken = new Set<number>();
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      let started: RedisServer | null = null;
      for (let attempt = 0; attempt < 3 && started === null; attempt++) {
        const port = await clusterPort(taken);
        // A master killed for longer than the node timeout (5 s) is marked failed, and the cluster with it (no
        // replicas); one started again sooner rejoins with its slots, and the other masters serve theirs meanwhile.
        const args = ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${String(port)}.conf`), '--cluster-node-timeout', '5000', '--dir', dir];
        try {
          const child = await launch(port, timeoutMs, args);
          started = control(port, child, () => launch(port, timeoutMs, args));
          taken.add(port);
        } catch (error) {
          if (attempt === 2) throw error;
        }
      }
      nodes.push(started as RedisServer);
    }
    await redisCli(['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${String(node.port)}`), '--cluster-replicas', '0', '--cluster-yes'], timeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  const ready = async (ms = timeoutMs): Promise<void> => {
    const started = performance.now();
    let last = '';
    for (let round = 0; round < 2_000; round++) {
      const states = await Promise.all(nodes.map((node) => redisCli(['-h', '127.0.0.1', '-p', String(node.port), 'cluster', 'info'], 5_000).catch((error: unknown) => String(error))));
      last = states.map((info) => /cluster_state:(\w+)/.exec(info)?.[1] ?? info.slice(0, 200)).join(', ');
      if (states.every((info) => info.includes('cluster_state:ok') && info.includes('cluster_slots_ok:16384'))) return;
      if (performance.now() - started > ms) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the cluster is not ok within ${String(ms)} ms: ${last}`);
  };
  try {
    await ready();
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, urls: nodes.map((node) => node.url), ready, stop };
}

/**
 * A TCP proxy in front of a port, to cut one client off from a server the others still reach, as a network
 * partition does: `cut()` stops forwarding on every open connection (nothing is read either way: the client's
 * commands go unanswered, its socket stays open) and refuses new connections; `restore()` forwards again, the
 * held bytes first.
 */
export interface CuttableProxy {
  readonly port: number;
  readonly url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

function forward(pair: Pair): void {
  pair.client.pipe(pair.upstream);
  pair.upstream.pipe(pair.client);
}

function hold(pair: Pair): void {
  pair.client.unpipe(pair.upstream);
  pair.upstream.unpipe(pair.client);
  pair.client.pause();
  pair.upstream.pause();
}

/** Starts a {@link CuttableProxy} on a free port of 127.0.0.1 in front of `target`. */
export async function startProxy(target: number): Promise<CuttableProxy> {
  const pairs = new Set<Pair>();
  let forwarding = true;
  const server: Server = createServer((client) => {
    client.on('error', () => client.destroy());
    if (!forwarding) {
      client.destroy();
      return;
    }
    const upstream = connect(target, '127.0.0.1');
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    upstream.on('error', () => upstream.destroy());
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    upstream.on('close', drop);
    client.on('close', drop);
    forward(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    url: `redis://127.0.0.1:${address.port}`,
    cut: () => {
      forwarding = false;
      for (const pair of pairs) hold(pair);
    },
    restore: () => {
      forwarding = true;
      for (const pair of pairs) forward(pair);
    },
    close: async () => {
      for (const pair of [...pairs]) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
