import { createKeepaliveClient } from '@keepalive/websocket-transport';

// A server to talk to (Deno's own); in a page the URL is your site's, e.g. `wss://${location.host}/ws`.
const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => undefined }, (request) => {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = ({ data }) => socket.send(`echo: ${String(data)}`);
  return response;
});

// A URL target opens the global WebSocket (the page's, Bun's, Deno's); nothing here is Node-only.
const client = createKeepaliveClient(`ws://127.0.0.1:${server.addr.port}/ws`, { reconnect: { whenIdle: 'lazy' } });
const reply = new Promise((resolve) => client.once('message', ({ data }) => resolve(data)));
client.send('hello');
console.log(await reply); // echo: hello
await client.close();
await server.shutdown();
