import { createKeepaliveClient } from '@keepalive/websocket-transport';

const client = createKeepaliveClient('ws://127.0.0.1:8080', { heartbeatIntervalMs: 15_000, reconnect: { whenIdle: 'lazy' } });
client.on('reconnecting', ({ attempt, delayMs }) => console.log(`attempt ${attempt} in ${delayMs} ms`));
await client.activity.run('api_call', async () => {
  client.send('hello');
});
const { undelivered } = await client.close();
console.log(undelivered.length);
