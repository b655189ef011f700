/**
 * A redis-server for scenarios 8 and 11: Debian's `redis-server` on 127.0.0.1, on a free port, with no persistence,
 * killed when the sample is done; and a local Redis Cluster of three of them (scenario 11). (The tests have the same
 * helpers in TypeScript, in keepalive-test-support.)
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** On a Debian machine run as root, installs Debian's redis-server when it is missing (as the tests and CI do). */
function ensureInstalled() {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    if (process.getuid?.() !== 0) throw new Error('redis-server not found: apt-get install -y redis-server');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('sh', ['-c', 'apt-get install -y --no-install-recommends redis-server || (apt-get update && apt-get install -y --no-install-recommends redis-server)'], { stdio: 'ignore', timeout: 300_000, env });
  }
}

/** Starts one (`extra`: more arguments); resolves with `{ url, port, stop }` once it accepts connections (bounded: 10 s). */
export async function startRedis(extra = [], port = 0) {
  ensureInstalled();
  port ||= await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server not ready within 10 s\n${output}`));
    }, 10_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

function portFree(port) {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function redisCli(args) {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: 30_000, encoding: 'utf8' }, (error, stdout, stderr) => (error ? reject(new Error(`redis-cli ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`)) : resolve(stdout)));
  });
}

/**
 * Starts a Redis Cluster of three masters, no replicas (`redis-cli --cluster create`), each on a port whose bus port
 * (plus 10 000) is free too; resolves with `{ urls, stop }` once every node says `cluster_state:ok` (bounded: 20 s).
 */
export async function startCluster() {
  const dir = mkdtempSync(join(tmpdir(), 'keepalive-bench-cluster-'));
  const nodes = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      let port = 0;
      for (let attempt = 0; attempt < 200 && port === 0; attempt++) {
        const candidate = 20_000 + Math.floor(Math.random() * 35_000);
        if (nodes.some((node) => Math.abs(node.port - candidate) === 10_000 || node.port === candidate)) continue;
        if ((await portFree(candidate)) && (await portFree(candidate + 10_000))) port = candidate;
      }
      nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '5000', '--dir', dir], port));
    }
    await redisCli(['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    const started = performance.now();
    for (;;) {
      const infos = await Promise.all(nodes.map((node) => redisCli(['-p', String(node.port), 'cluster', 'info']).catch(() => '')));
      if (infos.every((info) => info.includes('cluster_state:ok'))) break;
      if (performance.now() - started > 20_000) throw new Error('the cluster is not ok within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { urls: nodes.map((node) => node.url), stop };
}
