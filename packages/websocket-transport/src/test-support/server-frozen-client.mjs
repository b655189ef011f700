// A ws client that connects, says 'open' on stdout, and then does nothing:
// the test freezes it with SIGSTOP so it can no longer answer pings.
import WebSocket from 'ws';

const socket = new WebSocket(process.argv[2]);
socket.on('open', () => process.stdout.write('open\n'));
socket.on('error', () => process.exit(1));
socket.on('close', () => process.exit(0));
