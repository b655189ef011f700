/**
 * Scenario 4's server (Node, --expose-gc): a `ws` WebSocketServer on
 * 127.0.0.1 with one keep-alive, and nothing else per connection:
 *
 *   ours     keepAlive(wss) from @keepalive/websocket-transport (30 s pings, 10 s pong timeout: the defaults)
 *   readme   the ws README's heartbeat: isAlive flag, an error and a pong listener per socket, one 30 s interval
 *
 * Prints `{"ready":true,"port":N}`, then answers each `measure` line on stdin
 * with the connection count, RSS and heap after full collections.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { keepAlive } from '@keepalive/websocket-transport';
import { WebSocketServer } from 'ws';

const [impl = 'ours'] = process.argv.slice(2);
const gc = globalThis.gc;
if (typeof gc !== 'function') throw new Error('server-child needs --expose-gc');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, backlog: 4096, perMessageDeflate: false });
let stop;
if (impl === 'ours') {
  // Every connection pinged every 30 s like the README loop's (idle connections too: idlePingIntervalMs, off by default
  // since B16), so the two do the same work.
  const heartbeat = keepAlive(wss, { idlePingIntervalMs: 30_000 });
  stop = () => heartbeat.close();
} else if (impl === 'readme') {
  // https://github.com/websockets/ws#how-to-detect-and-close-broken-connections
  function heartbeat() {
    this.isAlive = true;
  }
  wss.on('connection', function connection(ws) {
    ws.isAlive = true;
    ws.on('error', () => {});
    ws.on('pong', heartbeat);
  });
  const interval = setInterval(function ping() {
    wss.clients.forEach(function each(ws) {
      if (ws.isAlive === false) return ws.terminate();
      ws.isAlive = false;
      ws.ping();
    });
  }, 30_000);
  stop = () => clearInterval(interval);
} else {
  throw new Error(`unknown impl ${impl}`);
}

async function measure() {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  gc();
  const usage = process.memoryUsage();
  return { connections: wss.clients.size, rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external };
}

wss.on('listening', () => {
  console.log(JSON.stringify({ ready: true, port: wss.address().port }));
});
const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  if (line.trim() === 'measure') console.log(JSON.stringify({ measure: await measure() }));
});
lines.on('close', () => {
  stop();
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  process.exit(0);
});
