import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSseClient } from '@keepalive/sse-transport';
import { createSseStream } from '@keepalive/sse-transport/node';

// The server: a slow job streams 5 events; a client that comes back with Last-Event-ID gets the rest, not the job again.
const server = createServer((req, res) => {
  if (req.url !== '/events') {
    res.writeHead(404).end();
    return;
  }
  // Keep-alive comments every 100 ms while the job runs; clients reconnect after 200 ms at least (the `retry:` field).
  const stream = createSseStream(req, res, { heartbeatIntervalMs: 100, idleCloseMs: 600_000, reconnect: { initialDelayMs: 200 } });
  const after = Number(stream.lastEventId ?? 0);
  stream.activity
    .run('api_call', async () => {
      for (let id = after + 1; id <= 5; id++) {
        // stream.signal aborts when the client goes away: the job stops with it.
        await sleep(250, undefined, { signal: stream.signal });
        stream.send({ id: String(id), event: 'token', data: `token ${id}` });
      }
    })
    .catch(() => undefined)
    .finally(() => stream.close());
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

// The client (Node ≥ 20, Bun, Deno or a browser): the server keeps alive every 100 ms, so a stream silent for
// 300 ms (a check) + 500 ms (its timeout) has stalled: it is aborted and resumed with Last-Event-ID.
const client = createSseClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, { heartbeatIntervalMs: 300, pongTimeoutMs: 500 });
client.on('message', ({ event, data, lastEventId }) => console.log(lastEventId, event, data));
client.on('dead-peer', ({ timeoutMs }) => console.warn(`stream stalled (${timeoutMs} ms without a byte): resuming`));
client.on('reconnecting', ({ attempt, delayMs }) => console.warn(`attempt ${attempt} in ${Math.round(delayMs)} ms`));
client.on('rejected', ({ status }) => console.error(`the server said ${String(status)}: not retrying`));

await client.activity.run('await_answer', async () => {
  for await (const { lastEventId } of client.messages()) if (lastEventId === '5') break;
});
await client.close();
server.close();
