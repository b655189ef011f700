import {
  createKeepaliveClient,
  createKeepaliveTracker,
  createSessionHub,
  resumable,
  upgradeWithKeepalive,
  type DenoSessionContext,
  type ResumableSession,
} from '@keepalive/deno';

// Who asks: your own authentication of the upgrade request (here a header stands in for it).
const userOf = ({ request }: DenoSessionContext): string | null => request.headers.get('x-user');
const owners = new WeakMap<ResumableSession, string | null>();
const tracker = createKeepaliveTracker({ pingIntervalMs: 30_000, pongTimeoutMs: 10_000 });
const sessions = createSessionHub<DenoSessionContext>({
  sessionTtlMs: 60_000,
  // B17: asked before a session is made or changes hands; a refusal leaves the owner's connection untouched.
  // Only the session's owner resumes it (a session from another process's store, `restore`, is refused here).
  admit: ({ kind, session, context }) => kind === 'new' || (session !== null && owners.get(session) === userOf(context)),
});
sessions.on('session', ({ session, resumed, restored, context }) => {
  if (!resumed) owners.set(session, userOf(context));
  if (resumed && !restored) return; // the same object as before: its listeners are in place
  session.on('message', (message) => session.send(`echo: ${String(message)}`));
  session.on('expired', ({ unacked }) => console.log(`${unacked.length} messages never acknowledged`));
});
sessions.on('refused', ({ reason, code }) => console.log(`refused (${reason}): ${code}`));
const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => undefined }, (request) => {
  const { socket, response, resumable } = upgradeWithKeepalive(request, { tracker, sessions });
  if (!resumable) socket.addEventListener('message', (event) => socket.send(`echo: ${event.data}`));
  return response;
});

// A client that asks for a resumable session: what it sends is kept until the server acknowledges it.
const client = createKeepaliveClient(`ws://127.0.0.1:${server.addr.port}`, { resume: resumable() });
const reply = new Promise((resolve) => client.once('message', ({ data }) => resolve(data)));
client.send('hello');
console.log(await reply); // echo: hello
await client.close();
sessions.close();
await server.shutdown();
