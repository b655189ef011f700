/**
 * One trial of scenario 6 (Node): a ws server with one keep-alive and a
 * client in a child process. Once the connection has been up for one ping
 * interval plus a random part of another, the client process is frozen
 * (SIGSTOP); the detection latency is the time from the freeze to the
 * server terminating the connection. The client is always thawed and killed
 * (SIGCONT, SIGKILL) at the end, whatever happens.
 *
 *   ours     keepAlive(wss, { pingIntervalMs, pongTimeoutMs }): bound interval + timeout
 *   readme   the ws README loop at the same interval: detects between one and two intervals
 *
 *   child.mjs <impl> <intervalMs> <timeoutMs> <phase in [0,1)>
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { keepAlive } from '@keepalive/websocket-transport';
import { WebSocketServer } from 'ws';

const [impl = 'ours', intervalArg = '250', timeoutArg = '100', phaseArg = '0.5'] = process.argv.slice(2);
const intervalMs = Number(intervalArg);
const timeoutMs = Number(timeoutArg);
const phase = Number(phaseArg);

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
await once(wss, 'listening');
let stop = () => {};
if (impl === 'ours') {
  // The scenario's clients are quiet: probing them every interval (idlePingIntervalMs, off by default since B16) is
  // the workload measured, the same as the README loop's.
  const heartbeat = keepAlive(wss, { pingIntervalMs: intervalMs, idlePingIntervalMs: intervalMs, pongTimeoutMs: timeoutMs });
  stop = () => heartbeat.close();
} else if (impl === 'readme') {
  wss.on('connection', (ws) => {
    ws.isAlive = true;
    ws.on('error', () => {});
    ws.on('pong', () => {
      ws.isAlive = true;
    });
  });
  const interval = setInterval(() => {
    for (const ws of wss.clients) {
      if (ws.isAlive === false) {
        ws.terminate();
        continue;
      }
      ws.isAlive = false;
      ws.ping();
    }
  }, intervalMs);
  stop = () => clearInterval(interval);
} else {
  throw new Error(`unknown impl ${impl}`);
}

const client = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'client.mjs'), String(wss.address().port)], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const cleanup = () => {
  try {
    process.kill(client.pid, 'SIGCONT');
  } catch {
    // gone already
  }
  try {
    process.kill(client.pid, 'SIGKILL');
  } catch {
    // gone already
  }
};
process.on('exit', cleanup);

let result;
try {
  const [connection] = await once(wss, 'connection');
  const closed = once(connection, 'close');
  // Wait for the client's own line so it is fully up, then one interval and a random part of another.
  await once(client.stdout, 'data');
  await sleep(intervalMs + phase * intervalMs);
  const frozenAt = performance.now();
  process.kill(client.pid, 'SIGSTOP');
  const limit = sleep(10 * (intervalMs + timeoutMs) + 2_000).then(() => 'timeout');
  const outcome = await Promise.race([closed.then(() => 'closed'), limit]);
  const latencyMs = performance.now() - frozenAt;
  result = { impl, intervalMs, timeoutMs, phase, detected: outcome === 'closed', latencyMs, boundMs: intervalMs + timeoutMs };
} finally {
  cleanup();
  stop();
  wss.close();
}
console.log(JSON.stringify(result));
process.exit(0);
