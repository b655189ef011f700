// A resumable WebSocket server for the cross-process resume test: `node resume-server.mjs <target> <port>` (<target>: a
// redis:// URL or a cluster's JSON, see target.mjs).
// keepAlive(wss, { resume: { store } }) with the Redis session store (listening once it is connected); every client message is printed
// ({"type":"got","text":…}) and echoed back as `echo:<text>`. Prints {"type":"listening"} once it listens and
// {"type":"persisted", delivered} when asked ({"cmd":"persisted"}): what the store wrote for the one session.
import { createInterface } from 'node:readline';
import { WebSocketServer } from 'ws';
import { keepAlive } from '@keepalive/websocket-transport';
import { createRedisSessionStore } from '../../dist/index.js';
import { connectTo } from './target.mjs';

const [target, port] = process.argv.slice(2);
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
// Listening once the store is connected (a cluster client discovers its nodes first): a client that resumes at
// once finds its session.
let connected;
const ready = new Promise((resolve) => (connected = resolve));
const store = createRedisSessionStore({
  ...connectTo(target).options,
  commandTimeoutMs: 1_000,
  reconnectMaxMs: 100,
  coalesceMs: 2,
  onDiagnostic: (d) => {
    if (d.name === 'redis_ready') connected();
  },
});
await ready;
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(port) });
const heartbeat = keepAlive(wss, { pingIntervalMs: 200, resume: { store, sessionTtlMs: 30_000, ackDelayMs: 20 } });
heartbeat.sessions.on('session', ({ session, resumed, restored }) => {
  print({ type: 'session', resumed, restored, unacked: session.unackedMessages });
  if (resumed && !restored) return;
  session.on('message', (message) => {
    const text = String(message);
    print({ type: 'got', text });
    session.send(`echo:${text}`);
  });
});
createInterface({ input: process.stdin }).on('line', (text) => {
  const command = JSON.parse(text);
  if (command.cmd === 'flush') void store.flush().then(() => print({ type: 'flushed', stats: store.stats() }));
  if (command.cmd === 'exit') process.exit(0);
});
wss.on('listening', () => print({ type: 'listening' }));
