import { afterEach, describe, expect, it } from 'vitest';
import { EventSource } from 'eventsource';
import { createSseStream } from './node.js';
import { httpServer } from './test-support/net.js';

/** An independent client against the Node adapter: the `eventsource` package (the WHATWG EventSource on fetch). */

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe('the eventsource package against createSseStream', () => {
  it('B6: it waits the retry the server wrote, resumes with Last-Event-ID, and gets every event once; comments are ignored', async () => {
    const lastEventIds: (string | null)[] = [];
    const server = await httpServer((req, res) => {
      const stream = createSseStream(req, res, { heartbeatIntervalMs: 20, reconnect: { initialDelayMs: 100 } });
      lastEventIds.push(stream.lastEventId);
      const after = Number(stream.lastEventId ?? 0);
      if (after >= 9) {
        stream.close();
        return;
      }
      // Three events per connection with keep-alives between them, then the server ends the stream.
      void stream.activity.run('api_call', async () => {
        for (let id = after + 1; id <= after + 3; id++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          stream.send({ id: String(id), event: 'tick', data: `tick ${id}` });
        }
      }).then(() => stream.close());
    });
    closers.push(server.close);
    const source = new EventSource(server.url);
    closers.push(() => source.close());
    const received: string[] = [];
    const reconnectedAfter: number[] = [];
    let lostAt = 0;
    source.addEventListener('error', () => (lostAt = performance.now()));
    source.addEventListener('open', () => {
      if (lostAt > 0) reconnectedAfter.push(performance.now() - lostAt);
    });
    await new Promise<void>((resolve) => {
      source.addEventListener('tick', (event) => {
        received.push(`${event.lastEventId}:${String(event.data)}`);
        if (event.lastEventId === '9') resolve();
      });
    });
    expect(received).toEqual(Array.from({ length: 9 }, (_, index) => `${index + 1}:tick ${index + 1}`));
    expect(lastEventIds.slice(0, 3)).toEqual([null, '3', '6']);
    for (const delay of reconnectedAfter) expect(delay).toBeGreaterThanOrEqual(90);
  });
});
