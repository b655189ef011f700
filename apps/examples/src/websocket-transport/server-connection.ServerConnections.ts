import { createServerConnections, requestQuery, type ServerSocket } from '@keepalive/websocket-transport/peer';

// An adapter's socket: anything with send and close, and ping and terminate where the runtime has them.
const written: string[] = [];
const socket: ServerSocket = {
  ping: () => written.push('ping'),
  send: (data) => written.push(String(data)),
  close: (code) => written.push(`close ${String(code)}`),
  terminate: () => written.push('terminate'),
};
const server = createServerConnections({ pingIntervalMs: 30_000, pongTimeoutMs: 10_000, resume: true });
server.sessions?.on('session', ({ session }) => session.on('message', (message) => console.log(`the session got ${String(message)}`)));

// The adapter translates its socket's events (message, ping, pong, close) onto the connection.
const plain = server.open(socket, requestQuery('/ws'));
console.log(plain?.onMessage('hello')); // data: the application's
console.log(plain?.onMessage('')); // heartbeat: answered in kind (an empty text frame written)
const resuming = server.open(socket, requestQuery('/ws?ka=2')); // the hello is written now
console.log(resuming?.onMessage('hi')); // session: the hub's (the session got it)
plain?.onClose(1000);
resuming?.onClose(1000);
server.close();
