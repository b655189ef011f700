/**
 * @keepalive/sse-transport/node: the server end on Node's `http` (and so
 * Express, Fastify's raw reply, Koa's `ctx.res`, Next.js API routes, and Bun's
 * or Deno's `node:http`). The `node` export condition of the package's main
 * entry includes it too.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import type { AddressInfo } from 'node:net';
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { createSseClient } from '@keepalive/sse-transport';
 * import { createSseStream } from '@keepalive/sse-transport/node';
 *
 * // The server: a slow job streams 5 events; a client that comes back with Last-Event-ID gets the rest, not the job again.
 * const server = createServer((req, res) => {
 *   if (req.url !== '/events') {
 *     res.writeHead(404).end();
 *     return;
 *   }
 *   // Keep-alive comments every 100 ms while the job runs; clients reconnect after 200 ms at least (the `retry:` field).
 *   const stream = createSseStream(req, res, { heartbeatIntervalMs: 100, idleCloseMs: 600_000, reconnect: { initialDelayMs: 200 } });
 *   const after = Number(stream.lastEventId ?? 0);
 *   stream.activity
 *     .run('api_call', async () => {
 *       for (let id = after + 1; id <= 5; id++) {
 *         // stream.signal aborts when the client goes away: the job stops with it.
 *         await sleep(250, undefined, { signal: stream.signal });
 *         stream.send({ id: String(id), event: 'token', data: `token ${id}` });
 *       }
 *     })
 *     .catch(() => undefined)
 *     .finally(() => stream.close());
 * });
 * await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
 *
 * // The client (Node ≥ 20, Bun, Deno or a browser): the server keeps alive every 100 ms, so a stream silent for
 * // 300 ms (a check) + 500 ms (its timeout) has stalled: it is aborted and resumed with Last-Event-ID.
 * const client = createSseClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, { heartbeatIntervalMs: 300, pongTimeoutMs: 500 });
 * client.on('message', ({ event, data, lastEventId }) => console.log(lastEventId, event, data));
 * client.on('dead-peer', ({ timeoutMs }) => console.warn(`stream stalled (${timeoutMs} ms without a byte): resuming`));
 * client.on('reconnecting', ({ attempt, delayMs }) => console.warn(`attempt ${attempt} in ${Math.round(delayMs)} ms`));
 * client.on('rejected', ({ status }) => console.error(`the server said ${String(status)}: not retrying`));
 *
 * await client.activity.run('await_answer', async () => {
 *   for await (const { lastEventId } of client.messages()) if (lastEventId === '5') break;
 * });
 * await client.close();
 * server.close();
 * ```
 *
 * @module @keepalive/sse-transport/node
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Stream, resolveServerOptions, type SseServerOptions, type SseStream } from './server.js';

export { SSE_RESPONSE_HEADERS, SseStreamEndedError, type SseServerOptions, type SseStream, type SseStreamClosedEvent } from './server.js';
export type { SseCloseCause } from './stream-machine.js';
export type { SseEvent } from './format.js';

/**
 * Turns a Node `ServerResponse` into a kept-alive SSE stream: status 200 with
 * `SSE_RESPONSE_HEADERS` (and `options.headers`), headers flushed at
 * once, the `retry:` field, then keep-alive comments while the stream's
 * activity is busy (S4). The client is noticed gone through the response's
 * and the request's `close` and through write errors; the stream then
 * releases everything (its activity, its scheduler entry, its listeners).
 * Bad options throw `KeepaliveOptionError` before the response is touched; a
 * response that has already started throws a `TypeError`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import type { AddressInfo } from 'node:net';
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { createSseClient } from '@keepalive/sse-transport';
 * import { createSseStream } from '@keepalive/sse-transport/node';
 *
 * // The server: a slow job streams 5 events; a client that comes back with Last-Event-ID gets the rest, not the job again.
 * const server = createServer((req, res) => {
 *   if (req.url !== '/events') {
 *     res.writeHead(404).end();
 *     return;
 *   }
 *   // Keep-alive comments every 100 ms while the job runs; clients reconnect after 200 ms at least (the `retry:` field).
 *   const stream = createSseStream(req, res, { heartbeatIntervalMs: 100, idleCloseMs: 600_000, reconnect: { initialDelayMs: 200 } });
 *   const after = Number(stream.lastEventId ?? 0);
 *   stream.activity
 *     .run('api_call', async () => {
 *       for (let id = after + 1; id <= 5; id++) {
 *         // stream.signal aborts when the client goes away: the job stops with it.
 *         await sleep(250, undefined, { signal: stream.signal });
 *         stream.send({ id: String(id), event: 'token', data: `token ${id}` });
 *       }
 *     })
 *     .catch(() => undefined)
 *     .finally(() => stream.close());
 * });
 * await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
 *
 * // The client (Node ≥ 20, Bun, Deno or a browser): the server keeps alive every 100 ms, so a stream silent for
 * // 300 ms (a check) + 500 ms (its timeout) has stalled: it is aborted and resumed with Last-Event-ID.
 * const client = createSseClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, { heartbeatIntervalMs: 300, pongTimeoutMs: 500 });
 * client.on('message', ({ event, data, lastEventId }) => console.log(lastEventId, event, data));
 * client.on('dead-peer', ({ timeoutMs }) => console.warn(`stream stalled (${timeoutMs} ms without a byte): resuming`));
 * client.on('reconnecting', ({ attempt, delayMs }) => console.warn(`attempt ${attempt} in ${Math.round(delayMs)} ms`));
 * client.on('rejected', ({ status }) => console.error(`the server said ${String(status)}: not retrying`));
 *
 * await client.activity.run('await_answer', async () => {
 *   for await (const { lastEventId } of client.messages()) if (lastEventId === '5') break;
 * });
 * await client.close();
 * server.close();
 * ```
 */
export function createSseStream(req: IncomingMessage, res: ServerResponse, options?: SseServerOptions): SseStream {
  const resolved = resolveServerOptions(options);
  if (res.headersSent || res.writableEnded) throw new TypeError('createSseStream(req, res): the response has already started');
  const header = req.headers['last-event-id'];
  return new Stream(typeof header === 'string' ? header : null, resolved, (host) => {
    // After the stream is over the transport may still report errors; they are its cause's aftermath, never a crash.
    res.on('error', ignore);
    res.writeHead(200, resolved.headers);
    res.flushHeaders();
    const onGone = (): void => {
      host.gone();
    };
    const onError = (error: unknown): void => {
      host.failed(error);
    };
    const onDrain = (): void => {
      host.drain();
    };
    const written = (error: Error | null | undefined): void => {
      if (error) host.failed(error);
    };
    res.on('close', onGone);
    req.on('close', onGone);
    res.on('error', onError);
    res.on('drain', onDrain);
    // A client that left before the handler ran (its request waited in a backlog) is already gone.
    if (req.socket.destroyed) onGone();
    return {
      write: (text) => res.write(text, written),
      end: () => res.end(),
      destroy: () => res.destroy(),
      release: () => {
        res.off('close', onGone);
        req.off('close', onGone);
        res.off('error', onError);
        res.off('drain', onDrain);
      },
    };
  });
}

function ignore(): void {
  // See the comment where it is added.
}
