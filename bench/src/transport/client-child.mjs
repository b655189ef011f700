/**
 * Scenario 4's load: opens `count` WebSocket connections to 127.0.0.1:port
 * from source addresses 127.0.0.<first>.. (round robin, so no one address runs
 * out of ephemeral ports), `concurrency` handshakes at a time, and keeps them
 * open (answering pings: ws does) until stdin closes. Prints `{"open":n}`.
 *
 *   client-child.mjs <port> <count> <firstAddress> <addresses> [concurrency]
 */
import WebSocket from 'ws';

const [port, countArg, firstArg = '2', addressesArg = '8', concurrencyArg = '256'] = process.argv.slice(2);
const count = Number(countArg);
const first = Number(firstArg);
const addresses = Number(addressesArg);
const concurrency = Number(concurrencyArg);
const sockets = [];
let failed = 0;

function open(index) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
      localAddress: `127.0.0.${first + (index % addresses)}`,
      perMessageDeflate: false,
    });
    ws.on('open', () => {
      sockets.push(ws);
      resolve(true);
    });
    ws.on('error', () => {
      failed++;
      resolve(false);
    });
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
console.log(JSON.stringify({ open: sockets.length, failed, ms: Math.round(performance.now() - started) }));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
