import { createSseClient, createSseResponse } from '@keepalive/sse-transport';

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  // Bun closes a connection quiet for 10 s by default, streams included: off here, or keep alive more often.
  idleTimeout: 0,
  fetch(request) {
    const stream = createSseResponse(request, { heartbeatIntervalMs: 100 });
    void stream.activity
      .run('api_call', async () => {
        for (let id = 1; id <= 5 && !stream.ended; id++) {
          await Bun.sleep(200);
          stream.send({ id: String(id), data: `token ${id}` });
        }
      })
      .catch(() => undefined)
      .finally(() => stream.close());
    return stream.response;
  },
});

// Read it back with the client (any runtime): every event, in order.
const client = createSseClient(`http://127.0.0.1:${server.port}/`, { heartbeatIntervalMs: 300, pongTimeoutMs: 500 });
await client.activity.run('await_answer', async () => {
  for await (const { data, lastEventId } of client.messages()) {
    console.log(lastEventId, data);
    if (lastEventId === '5') break;
  }
});
await client.close();
server.stop();
