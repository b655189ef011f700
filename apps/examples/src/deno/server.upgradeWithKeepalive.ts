import { createKeepaliveClient, createKeepaliveTracker, createSessionHub, resumable, upgradeWithKeepalive, type DenoSessionContext } from '@keepalive/deno';

const tracker = createKeepaliveTracker({ pingIntervalMs: 30_000, pongTimeoutMs: 10_000 });
// Typed with the context, so an `admit` hook (B17) reads `context.request` (see the README).
const sessions = createSessionHub<DenoSessionContext>({ sessionTtlMs: 60_000 });
sessions.on('session', ({ session, resumed, restored }) => {
  if (resumed && !restored) return; // the same object as before: its listeners are in place
  session.on('message', (message) => session.send(`echo: ${String(message)}`));
  session.on('expired', ({ unacked }) => console.log(`${unacked.length} messages never acknowledged`));
});
const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => undefined }, (request) => {
  const { socket, response, resumable } = upgradeWithKeepalive(request, { tracker, sessions });
  if (!resumable) socket.addEventListener('message', (event) => socket.send(`echo: ${event.data}`));
  return response;
});

// A client that asks for a resumable session: what it sends is kept until the server acknowledges it.
const client = createKeepaliveClient(`ws://127.0.0.1:${server.addr.port}`, { resume: resumable() });
const reply = new Promise((resolve) => client.on('message', ({ data }) => resolve(data)));
client.send('hello');
console.log(await reply); // echo: hello
await client.close();
sessions.close();
await server.shutdown();
