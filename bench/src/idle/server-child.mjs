/**
 * Scenario 11's server (Node, --expose-gc): one WebSocket server on 127.0.0.1 holding idle connections, each
 * kept alive at `intervalMs` by one of:
 *
 *   ours          keepAlive(wss) from @keepalive/websocket-transport (every connection pinged every interval, idle
 *                 ones too: `idlePingIntervalMs`, since B16 leaves quiet peers alone by default)
 *   ours-resume   the same with `resume: true` (the clients ask for resumable sessions)
 *   readme        the ws README's heartbeat: an isAlive flag, an error and a pong listener per socket, one setInterval
 *   socketio      a socket.io 4 server (websocket transport only; engine.io's heartbeat at the same interval)
 *
 * The pong timeout is the interval, capped at 10 s (keepAlive's default), for ours and socket.io alike; the README
 * loop's is one interval by construction. Prints `{"ready":true,"port":N}`, then answers lines on stdin:
 *
 *   memory          connections, RSS and heap after full collections
 *   window <ms>     CPU (process.cpuUsage), wall time, the event-loop thread's context switches (/proc), the
 *                   event-loop utilization and the keep-alives sent, over <ms> with no probe running
 *   delay <ms>      monitorEventLoopDelay (1 ms resolution) over <ms>: p50, p99, max
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeHeapSnapshot } from 'node:v8';
import { keepAlive } from '@keepalive/websocket-transport';
import { Server as SocketIoServer } from 'socket.io';
import { WebSocketServer } from 'ws';

const [impl = 'ours', intervalArg = '1000', shareArg = ''] = process.argv.slice(2);
const intervalMs = Number(intervalArg);
const timeoutMs = Math.min(intervalMs, 10_000);
const gc = globalThis.gc;
if (typeof gc !== 'function') throw new Error('idle server-child needs --expose-gc');

let connections = () => 0;
let keepalivesSent = () => null;
let stop = () => {};
let port;
const listening = new Promise((resolve) => {
  if (impl === 'ours' || impl === 'ours-resume') {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, backlog: 4096, perMessageDeflate: false }, resolve);
    const heartbeat = keepAlive(wss, {
      pingIntervalMs: intervalMs,
      idlePingIntervalMs: intervalMs,
      pongTimeoutMs: timeoutMs,
      // The default precision unless a share is given (to compare precisions by hand).
      ...(shareArg === '' ? {} : { precision: { share: Number(shareArg) } }),
      ...(impl === 'ours-resume' ? { resume: { maxSessions: 100_000 } } : {}),
    });
    connections = () => wss.clients.size;
    keepalivesSent = () => heartbeat.stats().pingsSent;
    stop = () => {
      heartbeat.close();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    };
    port = () => wss.address().port;
  } else if (impl === 'readme') {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, backlog: 4096, perMessageDeflate: false }, resolve);
    // https://github.com/websockets/ws#how-to-detect-and-close-broken-connections
    function heartbeat() {
      this.isAlive = true;
    }
    wss.on('connection', function connection(ws) {
      ws.isAlive = true;
      ws.on('error', console.error);
      ws.on('pong', heartbeat);
    });
    let sent = 0;
    const interval = setInterval(function ping() {
      wss.clients.forEach(function each(ws) {
        if (ws.isAlive === false) return ws.terminate();
        ws.isAlive = false;
        sent++;
        ws.ping();
      });
    }, intervalMs);
    connections = () => wss.clients.size;
    keepalivesSent = () => sent;
    stop = () => {
      clearInterval(interval);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    };
    port = () => wss.address().port;
  } else if (impl === 'socketio') {
    const http = createServer();
    const io = new SocketIoServer(http, { transports: ['websocket'], pingInterval: intervalMs, pingTimeout: timeoutMs, perMessageDeflate: false, serveClient: false });
    http.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve);
    connections = () => io.engine.clientsCount;
    stop = () => {
      io.close();
      http.close();
    };
    port = () => http.address().port;
  } else {
    throw new Error(`unknown impl ${impl}`);
  }
});

/** The event-loop thread's context switches (the main thread's own line in /proc; 0 where there is no /proc). */
function switches() {
  try {
    const status = readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8');
    const of = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { voluntary: of('voluntary_ctxt_switches'), involuntary: of('nonvoluntary_ctxt_switches') };
  } catch {
    return { voluntary: Number.NaN, involuntary: Number.NaN };
  }
}

/** CPU time (ms) of each of the process's threads by name, from /proc (clock ticks of 10 ms); {} where there is none. */
function threadCpu() {
  const out = {};
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = tid === String(process.pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, close).replace(/[0-9]+$/, '').trim();
      const fields = stat.slice(close + 2).split(' ');
      // utime and stime are fields 14 and 15 of stat (12 and 13 after the name).
      out[name] = (out[name] ?? 0) + ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    }
  } catch {
    // not Linux
  }
  return out;
}

async function memory() {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  gc();
  const usage = process.memoryUsage();
  return { connections: connections(), rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external };
}

async function window(ms) {
  const sentBefore = keepalivesSent();
  const elu = performance.eventLoopUtilization();
  const switchesBefore = switches();
  const threadsBefore = threadCpu();
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  await sleep(ms);
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - wallBefore;
  const switchesAfter = switches();
  const threadsAfter = threadCpu();
  const utilization = performance.eventLoopUtilization(elu).utilization;
  const sentAfter = keepalivesSent();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    connections: connections(),
    wallMs,
    cpuMs,
    cpuMsPerSecond: (cpuMs * 1000) / wallMs,
    userMs: cpu.user / 1000,
    systemMs: cpu.system / 1000,
    wakesPerSecond: ((switchesAfter.voluntary - switchesBefore.voluntary) * 1000) / wallMs,
    involuntaryPerSecond: ((switchesAfter.involuntary - switchesBefore.involuntary) * 1000) / wallMs,
    loopUtilization: utilization,
    // Per second of wall time, by thread: the event loop ('main'), V8's and libuv's helpers.
    threadCpuMsPerSecond: Object.fromEntries(Object.entries(threadsAfter).map(([name, ms]) => [name, ((ms - (threadsBefore[name] ?? 0)) * 1000) / wallMs])),
    keepalivesPerSecond: sentBefore === null ? null : ((sentAfter - sentBefore) * 1000) / wallMs,
  };
}

async function delay(ms) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await sleep(ms);
  histogram.disable();
  return { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6, samples: histogram.count };
}

await listening;
console.log(JSON.stringify({ ready: true, port: port() }));
const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const [command, arg] = line.trim().split(/\s+/);
  if (command === 'memory') console.log(JSON.stringify({ memory: await memory() }));
  else if (command === 'window') console.log(JSON.stringify({ window: await window(Number(arg)) }));
  else if (command === 'delay') console.log(JSON.stringify({ delay: await delay(Number(arg)) }));
  else if (command === 'snapshot') {
    // A heap snapshot (by hand, to see what a connection holds): written to the path given.
    gc();
    console.log(JSON.stringify({ snapshot: writeHeapSnapshot(arg) }));
  }
});
lines.on('close', () => {
  stop();
  process.exit(0);
});
