import { createKeepaliveClient, resumable, withKeepalive } from '@keepalive/bun';

const websocket = withKeepalive({ message: (ws, message) => ws.send(`echo: ${message}`) }, { resume: { sessionTtlMs: 60_000 } });
websocket.keepalive.sessions.on('session', ({ session, resumed, restored }) => {
  if (resumed && !restored) return; // the same object as before: its listeners are in place
  session.on('message', (message) => session.send(`echo: ${String(message)}`));
  session.on('expired', ({ unacked }) => console.log(`${unacked.length} messages never acknowledged`));
});
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: (request, srv) => (srv.upgrade(request, { data: { url: request.url } }) ? undefined : new Response('upgrade required', { status: 426 })),
  websocket,
});

// A client that asks for a resumable session: what it sends is kept until the server acknowledges it.
const client = createKeepaliveClient(`ws://127.0.0.1:${server.port}`, { resume: resumable() });
const reply = new Promise((resolve) => client.on('message', ({ data }) => resolve(data)));
client.send('hello');
console.log(await reply); // echo: hello
await client.close();
websocket.keepalive.close();
server.stop();
