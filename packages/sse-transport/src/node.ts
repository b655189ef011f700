/**
 * @keepalive/sse-transport/node: the server end on Node's `http` (and so
 * Express, Fastify's raw reply, Koa's `ctx.res`, Next.js API routes, and Bun's
 * or Deno's `node:http`). The `node` export condition of the package's main
 * entry includes it too.
 *
 * @example
 * ```ts
 * import { createSseStream } from '@keepalive/sse-transport/node';
 * app.get('/events', (req, res) => {
 *   const stream = createSseStream(req, res, { heartbeatIntervalMs: 15_000 });
 *   void stream.activity.run('api_call', () => produce(stream));
 * });
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
 * import { createSseStream } from '@keepalive/sse-transport/node';
 * createServer((req, res) => {
 *   const stream = createSseStream(req, res);
 *   stream.send({ id: '1', data: 'hello' });
 *   stream.close();
 * }).listen(8080);
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
