/**
 * Scenario 11's load: opens `count` idle connections to 127.0.0.1:port from source addresses 127.0.0.<first>..
 * (round robin, so no address runs out of ephemeral ports), `concurrency` handshakes at a time, and keeps them open
 * until stdin closes, sending nothing of their own. Each answers the server's keep-alives as its library does:
 *
 *   ws          a `ws` WebSocket (answers pings with pongs)
 *   resume      @keepalive/websocket-transport's client asking for a resumable session (`resume: resumable()`), on `ws`
 *   socketio    a socket.io-client 4 socket, websocket transport only (answers engine.io's pings)
 *
 * A connection that fails, or whose handshake takes over 30 s, is tried again, at most 3 times. Prints
 * `{"open":n,"failed":n,"ms":n}` once every connection is open (for `resume`, once its session is `new`).
 *
 *   client-child.mjs <kind> <port> <count> <firstAddress> <addresses> [concurrency]
 */
import { createKeepaliveClient, resumable } from '@keepalive/websocket-transport';
import { io } from 'socket.io-client';
import WebSocket from 'ws';

const [kind = 'ws', port, countArg, firstArg = '2', addressesArg = '8', concurrencyArg = '128'] = process.argv.slice(2);
const count = Number(countArg);
const first = Number(firstArg);
const addresses = Number(addressesArg);
const concurrency = Number(concurrencyArg);
const held = [];
let failed = 0;

const addressOf = (index) => `127.0.0.${first + (index % addresses)}`;

/** `ws`'s WebSocket bound to one source address (the keep-alive client takes a constructor). */
function boundSocket(localAddress) {
  return class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { localAddress, perMessageDeflate: false });
    }
  };
}

/** Opens connection `index`, trying again (up to 3 times) when it fails or its handshake takes over 30 s. */
async function open(index) {
  for (let attempt = 0; attempt < 3; attempt++) if (await openOnce(index)) return true;
  failed++;
  return false;
}

function openOnce(index) {
  return new Promise((resolve) => {
    const localAddress = addressOf(index);
    if (kind === 'ws') {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { localAddress, perMessageDeflate: false, handshakeTimeout: 30_000 });
      ws.on('open', () => {
        held.push(ws);
        resolve(true);
      });
      ws.on('error', () => resolve(false));
    } else if (kind === 'resume') {
      const client = createKeepaliveClient(`ws://127.0.0.1:${port}/`, { WebSocket: boundSocket(localAddress), resume: resumable() });
      let done = false;
      client.on('session', () => {
        if (done) return;
        done = true;
        held.push(client);
        resolve(true);
      });
      setTimeout(() => {
        if (done) return;
        done = true;
        void client.close();
        resolve(false);
      }, 30_000).unref();
    } else if (kind === 'socketio') {
      const socket = io(`http://127.0.0.1:${port}`, {
        transports: ['websocket'],
        reconnection: false,
        timeout: 30_000,
        localAddress,
        perMessageDeflate: false,
      });
      socket.on('connect', () => {
        held.push(socket);
        resolve(true);
      });
      socket.on('connect_error', () => {
        socket.close();
        resolve(false);
      });
    } else {
      throw new Error(`unknown kind ${kind}`);
    }
  });
}

let next = 0;
async function worker() {
  while (next < count) {
    const index = next++;
    await open(index);
  }
}
const started = performance.now();
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
console.log(JSON.stringify({ open: held.length, failed, ms: Math.round(performance.now() - started) }));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
