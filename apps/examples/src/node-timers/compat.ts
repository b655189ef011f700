import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket, { WebSocketServer } from 'ws';
import {
  configureSessionActivity,
  registerSessionActivityCallback,
  shutdownSessionActivity,
  startSessionActivity,
  stopSessionActivity,
} from '@keepalive/node-timers/compat';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await new Promise((resolve) => wss.once('listening', resolve));
const socket = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
await new Promise((resolve) => socket.once('open', resolve));

// Sending is OFF by default (as in the reference): turn it on here, or with KEEPALIVE_SEND_KEEPALIVES=1.
configureSessionActivity({
  sendKeepalives: true,
  heartbeatIntervalMs: 100,
  idleAfterMs: 200,
  log: (level, event, data) => console.log(level, event, data), // e.g. logger[level]({ event, ...data })
});
let sent = 0;
registerSessionActivityCallback(() => {
  sent++;
  socket.ping();
});
startSessionActivity('api_call');
await sleep(350); // the work: session_keepalive_heartbeat {refcount: 1} every 100 ms
stopSessionActivity('api_call');
await sleep(250); // session_idle_30s {} after idleAfterMs
console.log(`keep-alives sent: ${sent}`); // 3
shutdownSessionActivity(); // session_activity_at_shutdown {refcount: 0, active: {}, oldest_activity_ms: null}
socket.close();
wss.close();
