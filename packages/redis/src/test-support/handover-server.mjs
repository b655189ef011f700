// One process of a fleet for the graceful hand-over test: `node handover-server.mjs <redis-url> <port> <tag> <prefix>`.
// keepAlive(wss, { resume: { store } }) with the Redis session store, shut down as the package README's program does:
// on SIGTERM `heartbeat.close()` (hand-over, the default), `await heartbeat.closed`, `wss.close()`, `await store.close()`;
// on {"cmd":"end"} the same with `close({ endSessions: true })` (ending for good).
// Prints JSON lines: {"type":"listening"} once the store is connected and the server listens; {"type":"session",
// resumed, restored}; {"type":"got", text} for every client message (echoed back as `e<text>`); {"type":"burst"} once
// {"cmd":"burst","count":n} sent `<tag>1`..`<tag>n` to every session; {"type":"closing", unacked} when the shutdown
// starts (the server's messages not yet acknowledged, all sessions); {"type":"closed", ms, hub, store, diagnostics}
// when it is done (ms: from the signal until the store wrote the sessions and their sockets were closed);
// {"type":"stats", hub, store, diagnostics, retransmitted} on {"cmd":"stats"} (retransmitted: the server's messages
// written again to resuming clients).
import { createInterface } from 'node:readline';
import { WebSocketServer } from 'ws';
import { keepAlive } from '@keepalive/websocket-transport';
import { createRedisSessionStore } from '../../dist/index.js';

const [url, port, tag, prefix] = process.argv.slice(2);
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const diagnostics = {};
let retransmitted = 0;
const count = (d) => {
  diagnostics[d.name] = (diagnostics[d.name] ?? 0) + 1;
  if (d.name === 'retransmitted') retransmitted += d.fields.messages;
};
let connected;
const ready = new Promise((resolve) => (connected = resolve));
const store = createRedisSessionStore({
  url,
  prefix,
  onDiagnostic: (d) => {
    count(d);
    if (d.name === 'redis_ready') connected();
  },
});
await ready;
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(port) });
const heartbeat = keepAlive(wss, { resume: { store, ackDelayMs: 20, onDiagnostic: count } });
const live = new Set();
heartbeat.sessions.on('session', ({ session, resumed, restored }) => {
  print({ type: 'session', resumed, restored });
  live.add(session);
  if (resumed && !restored) return;
  session.on('message', (message) => {
    const text = String(message);
    print({ type: 'got', text });
    session.send(`e${text}`);
  });
  session.on('close', () => live.delete(session));
  session.on('expired', () => live.delete(session));
});

const input = createInterface({ input: process.stdin });
const shutDown = (endSessions) => {
  const started = performance.now();
  let unacked = 0;
  for (const session of live) unacked += session.unackedMessages;
  print({ type: 'closing', unacked, sessions: live.size });
  // What the README's program does: the hub first (hand-over, or ending for good), then the server, then the store.
  heartbeat.close({ endSessions });
  void heartbeat.closed.then(async () => {
    const ms = performance.now() - started;
    wss.close();
    await store.close();
    print({ type: 'closed', ms, hub: heartbeat.sessions.stats(), store: store.stats(), diagnostics });
    input.close();
  });
};
process.once('SIGTERM', () => shutDown(false));
input.on('line', (text) => {
  const command = JSON.parse(text);
  if (command.cmd === 'burst') {
    for (const session of live) for (let i = 1; i <= command.count; i++) session.send(`${tag}${String(i)}`);
    print({ type: 'burst', sessions: live.size });
  } else if (command.cmd === 'stats') {
    print({ type: 'stats', hub: heartbeat.sessions.stats(), store: store.stats(), diagnostics, retransmitted });
  } else if (command.cmd === 'end') {
    shutDown(true);
  } else if (command.cmd === 'exit') {
    process.exit(0);
  }
});
wss.on('listening', () => print({ type: 'listening' }));
