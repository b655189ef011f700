import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createSseClient, type SseClient } from './index.js';
import { BUN, DENO, killAll, runFixture } from './test-support/children.js';
import { next, rawGet, record } from './test-support/net.js';

/**
 * The Fetch adapter on the real runtimes it is for: `Bun.serve` and `Deno.serve` run
 * `src/test-support/fetch-server.mjs`, which serves the producer's numbered events with `createSseResponse`
 * imported from the runtime-neutral entry (dist/index.js); the client under test connects from Node.
 */

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  killAll();
});
afterAll(killAll);

function client(url: string): SseClient {
  const created = createSseClient(url, { heartbeatIntervalMs: 200, pongTimeoutMs: 300, connectTimeoutMs: 400, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
  closers.push(() => created.close());
  return created;
}

describe.each([BUN, DENO])('the Fetch adapter on $id', (runtime) => {
  it(`${runtime.id}: S4 keep-alives between events while busy; B5 a SIGSTOPped server detected; B6 resumed with Last-Event-ID, nothing lost or duplicated; the client's leaving noticed`, async () => {
    const child = runFixture(runtime, 'fetch-server.mjs', ['--interval=100', '--period=150', '--events=30']);
    const { port, runtime: name } = (await child.line('listening', 1, 20_000)) as unknown as { port: number; runtime: string };
    expect(name.startsWith(runtime.id)).toBe(true);
    const sseClient = client(`http://127.0.0.1:${String(port)}/`);
    const log = record(sseClient);
    const ids: number[] = [];
    sseClient.on('message', ({ lastEventId, event }) => {
      expect(event).toBe('tick');
      ids.push(Number(lastEventId));
    });
    sseClient.activity.start('await_answer');
    await next(sseClient, 'message', () => ids.length >= 8);
    const comments = log.filter((e) => e.type === 'comment').length;
    expect(comments).toBeGreaterThanOrEqual(5);
    child.signal('SIGSTOP');
    const frozenAt = performance.now();
    const lastBeforeFreeze = ids.at(-1)!;
    await next(sseClient, 'dead-peer', () => true, 5_000);
    const detection = performance.now() - frozenAt;
    console.log(`${name}: ${comments} keep-alives among the first ${ids.length} events; SIGSTOP detected in ${Math.round(detection)} ms (bound 500 ms)`);
    expect(detection).toBeLessThanOrEqual(200 + 300 + 200);
    child.signal('SIGCONT');
    await next(sseClient, 'message', (m) => m.lastEventId === '30', 15_000);
    expect(ids).toEqual(Array.from({ length: 30 }, (_, index) => index + 1));
    const requests = child.lines.filter((line) => line.type === 'request').map((line) => line.lastEventId);
    expect(requests[0]).toBeNull();
    for (const lastEventId of requests.slice(1)) expect(lastEventId).toBe(String(lastBeforeFreeze));
    // The client leaves: the server notices (the body is cancelled or the request aborted) and releases the stream.
    const closedBefore = child.lines.filter((line) => line.type === 'closed').length;
    await sseClient.close();
    const closed = await child.line('closed', closedBefore + 1);
    expect(closed.cause).toBe('client_gone');
  });

  it(`${runtime.id}: B6/B14 a Last-Event-ID of UTF-8 bytes (id €7: e2 82 ac 37, as a browser sends it) is read back as €7`, async () => {
    const child = runFixture(runtime, 'fetch-server.mjs', ['--interval=50', '--period=100000', '--events=1']);
    const { port } = (await child.line('listening', 1, 20_000)) as unknown as { port: number };
    // rawGet writes its request as UTF-8.
    const raw = rawGet(port, '/', { 'last-event-id': '€7' });
    closers.push(() => {
      raw.close();
    });
    const request = await child.line('request');
    expect(request.lastEventId).toBe('€7');
  });

  it(`${runtime.id}: a keep-alive is 2 bytes of SSE and 7 on the wire (HTTP/1.1 chunked)`, async () => {
    // One event in 100 s: the stream is busy and carries keep-alives only.
    const child = runFixture(runtime, 'fetch-server.mjs', ['--interval=50', '--period=100000', '--events=1']);
    const { port } = (await child.line('listening', 1, 20_000)) as unknown as { port: number };
    const raw = rawGet(port);
    closers.push(() => {
      raw.close();
    });
    await raw.until('\r\n\r\n');
    await raw.until('retry: 50\n\n');
    const keepalive = '2\r\n:\n\r\n';
    await raw.until(keepalive.repeat(8));
    const text = raw.text();
    const body = text.slice(text.indexOf('retry: 50\n\n\r\n') + 'retry: 50\n\n\r\n'.length);
    const count = body.split(keepalive).length - 1;
    console.log(`${runtime.id}: keep-alive on the wire: ${Buffer.byteLength(body, 'latin1') / count} bytes each over ${count}`);
    expect(body).toBe(keepalive.repeat(count));
  });
});
