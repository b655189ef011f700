import { createKeepaliveClient, resumable, withKeepalive, type BunSessionContext, type ResumableSession } from '@keepalive/bun';

// Who asks: what your own authentication put in `data.user` at the upgrade (below, a header stands in for it).
const userOf = ({ ws }: BunSessionContext): unknown => (ws.data as { readonly user?: unknown }).user;
const owners = new WeakMap<ResumableSession, unknown>();
const websocket = withKeepalive(
  { message: (ws, message) => ws.send(`echo: ${message}`) },
  {
    resume: {
      sessionTtlMs: 60_000,
      // B17: asked before a session is made or changes hands; a refusal leaves the owner's connection untouched.
      // Only the session's owner resumes it (a session from another process's store, `restore`, is refused here).
      admit: ({ kind, session, context }) => kind === 'new' || (session !== null && owners.get(session) === userOf(context)),
    },
  },
);
websocket.keepalive.sessions.on('session', ({ session, resumed, restored, context }) => {
  if (!resumed) owners.set(session, userOf(context));
  if (resumed && !restored) return; // the same object as before: its listeners are in place
  session.on('message', (message) => session.send(`echo: ${String(message)}`));
  session.on('expired', ({ unacked }) => console.log(`${unacked.length} messages never acknowledged`));
});
websocket.keepalive.sessions.on('refused', ({ reason, code }) => console.log(`refused (${reason}): ${code}`));
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: (request, srv) =>
    srv.upgrade(request, { data: { url: request.url, user: request.headers.get('x-user') } }) ? undefined : new Response('upgrade required', { status: 426 }),
  websocket,
});

// A client that asks for a resumable session: what it sends is kept until the server acknowledges it.
const client = createKeepaliveClient(`ws://127.0.0.1:${server.port}`, { resume: resumable() });
const reply = new Promise((resolve) => client.once('message', ({ data }) => resolve(data)));
client.send('hello');
console.log(await reply); // echo: hello
await client.close();
websocket.keepalive.close();
server.stop();
