/**
 * One sample of scenario 5 (Node): bytes on the wire per keep-alive round
 * trip, counted from both TCP sockets (net.Socket bytesWritten/bytesRead at
 * the server and at the client, after the handshake) over `trips` round trips
 * on 127.0.0.1. A round trip is one keep-alive and its answer, both
 * directions added. Client-to-server frames are masked (RFC 6455 5.3: 4 bytes
 * of key), server-to-client frames are not.
 *
 *   ours-ping       keepAlive(wss): the server pings, the client's ws answers with a pong
 *   ours-heartbeat  the application-level heartbeat for clients that cannot ping: the client
 *                   sends HEARTBEAT_MESSAGE, keepAlive(wss) answers in kind
 *   readme-ping     the ws README loop: the server pings, the client's ws answers
 *   engineio        engine.io protocol v4 over WebSocket: the server sends the text packet "2"
 *                   (ping), the client answers "3" (pong); replayed over ws (engine.io not installed)
 *   graphql-ws      graphql-ws keep-alive: the client sends {"type":"ping"}, the server answers
 *                   {"type":"pong"}; replayed over ws (graphql-ws not installed)
 *
 *   child.mjs <variant> <trips>
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { HEARTBEAT_MESSAGE, keepAlive } from '@keepalive/websocket-transport';
import WebSocket, { WebSocketServer } from 'ws';

const [variant = 'ours-ping', tripsArg = '10'] = process.argv.slice(2);
const trips = Number(tripsArg);
const PING_MS = 40;

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
await once(wss, 'listening');
let serverSocket = null;
let serverWs = null;
let heartbeat = null;
let readmeTimer = null;

wss.on('connection', (ws, request) => {
  serverWs = ws;
  serverSocket = request.socket;
});

if (variant === 'ours-ping') {
  // The quiet client pinged every interval (idlePingIntervalMs, off by default since B16): the bytes measured.
  heartbeat = keepAlive(wss, { pingIntervalMs: PING_MS, idlePingIntervalMs: PING_MS, pongTimeoutMs: 10_000 });
} else if (variant === 'ours-heartbeat') {
  // No server pings in the window; heartbeats every few ms are allowed by the flood policy here.
  heartbeat = keepAlive(wss, { pingIntervalMs: 600_000, pongTimeoutMs: 10_000, minPingIntervalMs: 1, maxPingStrikes: 1_000 });
} else if (variant === 'readme-ping') {
  wss.on('connection', (ws) => {
    ws.isAlive = true;
    ws.on('pong', () => {
      ws.isAlive = true;
    });
  });
  readmeTimer = setInterval(() => {
    for (const ws of wss.clients) {
      if (ws.isAlive === false) {
        ws.terminate();
        continue;
      }
      ws.isAlive = false;
      ws.ping();
    }
  }, PING_MS);
}

const client = new WebSocket(`ws://127.0.0.1:${wss.address().port}/`, { perMessageDeflate: false });
let clientSocket = null;
client.on('upgrade', (response) => {
  clientSocket = response.socket;
});
await once(client, 'open');
while (serverSocket === null) await sleep(1);

function counters() {
  return {
    serverOut: serverSocket.bytesWritten,
    serverIn: serverSocket.bytesRead,
    clientOut: clientSocket.bytesWritten,
    clientIn: clientSocket.bytesRead,
  };
}

/** Resolves after `n` more events `name` on `emitter`. */
function events(emitter, name, n) {
  return new Promise((resolve) => {
    let seen = 0;
    const listener = () => {
      if (++seen === n) {
        emitter.off(name, listener);
        resolve();
      }
    };
    emitter.on(name, listener);
  });
}

let before;
let after;
if (variant === 'ours-ping' || variant === 'readme-ping') {
  // Count from just after one pong has arrived at the server to just after `trips` more.
  await events(serverWs, 'pong', 1);
  await sleep(5);
  before = counters();
  await events(serverWs, 'pong', trips);
  await sleep(5);
  after = counters();
} else if (variant === 'ours-heartbeat') {
  await sleep(20);
  before = counters();
  for (let i = 0; i < trips; i++) {
    const reply = events(client, 'message', 1);
    client.send(HEARTBEAT_MESSAGE);
    await reply;
    await sleep(3);
  }
  await sleep(5);
  after = counters();
} else if (variant === 'engineio') {
  client.on('message', (data) => {
    if (String(data) === '2') client.send('3');
  });
  await sleep(20);
  before = counters();
  for (let i = 0; i < trips; i++) {
    const pong = events(serverWs, 'message', 1);
    serverWs.send('2');
    await pong;
    await sleep(3);
  }
  await sleep(5);
  after = counters();
} else if (variant === 'graphql-ws') {
  serverWs.on('message', (data) => {
    if (String(data) === '{"type":"ping"}') serverWs.send('{"type":"pong"}');
  });
  await sleep(20);
  before = counters();
  for (let i = 0; i < trips; i++) {
    const pong = events(client, 'message', 1);
    client.send('{"type":"ping"}');
    await pong;
    await sleep(3);
  }
  await sleep(5);
  after = counters();
} else {
  throw new Error(`unknown variant ${variant}`);
}

const delta = Object.fromEntries(Object.keys(after).map((key) => [key, after[key] - before[key]]));
const result = {
  variant,
  trips,
  bytesPerRoundTrip: (delta.serverOut + delta.serverIn) / trips,
  serverToClient: delta.serverOut / trips,
  clientToServer: delta.serverIn / trips,
  // Both ends must agree on what crossed the wire.
  consistent: delta.serverOut === delta.clientIn && delta.serverIn === delta.clientOut,
  delta,
  stats: heartbeat?.stats(),
};
heartbeat?.close();
if (readmeTimer !== null) clearInterval(readmeTimer);
client.terminate();
wss.close();
console.log(JSON.stringify(result));
process.exit(0);
