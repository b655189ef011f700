// Uses the client against an in-process ws server: connects, goes busy,
// keeps alive, survives a server-side kill (reconnect with backoff), queues
// and flushes, then disposes while still busy. After that nothing may keep
// the process alive: it must exit by itself. Prints one JSON line of checks.
import { once } from 'node:events';
import { clearTimeout, setTimeout } from 'node:timers';
import { WebSocketServer } from 'ws';
import { defaultScheduler } from '@keepalive/node-timers';
import { createKeepaliveClient } from '../index.node.ts';

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}
const guard = setTimeout(() => fail('fixture timed out'), 8_000);

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await once(wss, 'listening');
const { port } = wss.address();
const sockets = [];
let pings = 0;
const received = [];
const waiters = new Set();
function notify() {
  for (const waiter of [...waiters]) waiter();
}
/** Resolves once `predicate` holds, re-checked on every server-side event (no polling). */
function until(predicate) {
  return new Promise((resolve) => {
    const check = () => {
      if (!predicate()) return;
      waiters.delete(check);
      resolve();
    };
    waiters.add(check);
    check();
  });
}
wss.on('connection', (socket) => {
  sockets.push(socket);
  socket.on('ping', () => {
    pings++;
    notify();
  });
  socket.on('message', (data) => {
    received.push(data.toString());
    notify();
  });
});
const exitListenersBefore = process.listenerCount('exit');

const client = createKeepaliveClient(`ws://127.0.0.1:${port}`, {
  heartbeatIntervalMs: 20,
  pongTimeoutMs: 1_000,
  reconnect: { initialDelayMs: 20, maxDelayMs: 40 },
  reportOnExit: true,
});
const events = [];
for (const name of ['open', 'close', 'reconnecting', 'closed']) client.on(name, () => events.push(name));
await new Promise((resolve) => client.on('open', resolve));
client.activity.start('api_call');
await until(() => pings >= 3);
sockets[0].terminate();
await new Promise((resolve) => client.on('close', resolve));
client.send('queued-while-down');
await new Promise((resolve) => client.on('open', resolve));
const pingsBefore = pings;
await until(() => pings >= pingsBefore + 2 && received.includes('queued-while-down'));
const exitListenersBusy = process.listenerCount('exit');

// Dispose while still busy (the activity is never released).
await client[Symbol.asyncDispose]();
const scheduler = defaultScheduler();
for (const socket of wss.clients) socket.terminate();
wss.close();
await once(wss, 'close');
clearTimeout(guard);
setImmediate(() => setImmediate(() => {
  const result = {
    events,
    state: client.state,
    schedulerEntries: scheduler.size,
    osTimersArmed: scheduler.osTimersArmed,
    exitListenersBefore,
    exitListenersBusy,
    exitListenersAfter: process.listenerCount('exit'),
    resources: process.getActiveResourcesInfo().filter((name) => name !== 'PipeWrap' && name !== 'TTYWrap'),
  };
  process.stdout.write(`${JSON.stringify(result)}\ndisposed ${performance.now().toFixed(1)}\n`);
}));
