/**
 * Scenario 6's peer-to-be-frozen: a plain ws client that connects, answers
 * pings (ws does), prints `{"open":true}`, and stays until its parent closes
 * stdin. The parent freezes it with SIGSTOP: the kernel still acknowledges
 * TCP, but nothing answers a ping any more.
 */
import WebSocket from 'ws';

const ws = new WebSocket(`ws://127.0.0.1:${process.argv[2]}/`, { perMessageDeflate: false });
ws.on('open', () => console.log(JSON.stringify({ open: true })));
ws.on('error', () => process.exit(1));
ws.on('close', () => process.exit(0));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
