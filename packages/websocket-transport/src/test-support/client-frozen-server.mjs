// A plain ws server in its own process (it answers pings: ws auto-pongs).
// It prints its port; the test freezes it with SIGSTOP so that it can no
// longer answer, and the client must notice (spec B5).
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('listening', () => {
  process.stdout.write(`port ${wss.address().port}\n`);
});
wss.on('connection', (socket) => {
  socket.on('error', () => undefined);
});
