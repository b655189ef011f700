import { Stream, resolveServerOptions, type ResolvedServerOptions, type SseServerOptions, type SseStream } from './server.js';

/**
 * The server end on the Fetch API, runtime-neutral (`Bun.serve`,
 * `Deno.serve`, Hono, Cloudflare Workers, Next.js route handlers, Node with a
 * Fetch adapter): a streaming `Response` whose body is a `ReadableStream`.
 */

/**
 * What {@link createSseResponse} reads from the request: its headers (for
 * `Last-Event-ID`) and, where the runtime has it, its `signal` (aborted when
 * the client disconnects, on Bun and Deno).
 */
export interface SseRequestLike {
  readonly headers: { get(name: string): string | null };
  readonly signal?: AbortSignal | undefined;
}

/**
 * A kept-alive SSE stream whose transport is a Fetch `Response`: return
 * `response` from the request handler, write with `send`.
 */
export interface SseResponseStream extends SseStream {
  /** The streaming response: status 200, `SSE_RESPONSE_HEADERS`, a `ReadableStream` body. */
  readonly response: Response;
}

/** The body's buffer, in bytes, before `send` returns `false`. */
const HIGH_WATER_MARK = 65_536;

/**
 * Creates a kept-alive SSE stream as a Fetch `Response` (status 200,
 * `SSE_RESPONSE_HEADERS`, a `ReadableStream` body that starts with the
 * `retry:` field), with keep-alive comments while the stream's activity is
 * busy (S4). The client is noticed gone when the body is cancelled or the
 * request's signal aborts (a write into a closed body ends the stream too);
 * the stream then releases everything. Bad options throw
 * `KeepaliveOptionError`.
 *
 * @example
 * ```ts
 * import { createSseClient, createSseResponse } from '@keepalive/sse-transport';
 *
 * const server = Bun.serve({
 *   hostname: '127.0.0.1',
 *   port: 0,
 *   // Bun closes a connection quiet for 10 s by default, streams included: off here, or keep alive more often.
 *   idleTimeout: 0,
 *   fetch(request) {
 *     const stream = createSseResponse(request, { heartbeatIntervalMs: 100 });
 *     void stream.activity
 *       .run('api_call', async () => {
 *         for (let id = 1; id <= 5 && !stream.ended; id++) {
 *           await Bun.sleep(200);
 *           stream.send({ id: String(id), data: `token ${id}` });
 *         }
 *       })
 *       .catch(() => undefined)
 *       .finally(() => stream.close());
 *     return stream.response;
 *   },
 * });
 *
 * // Read it back with the client (any runtime): every event, in order.
 * const client = createSseClient(`http://127.0.0.1:${server.port}/`, { heartbeatIntervalMs: 300, pongTimeoutMs: 500 });
 * await client.activity.run('await_answer', async () => {
 *   for await (const { data, lastEventId } of client.messages()) {
 *     console.log(lastEventId, data);
 *     if (lastEventId === '5') break;
 *   }
 * });
 * await client.close();
 * server.stop();
 * ```
 */
export function createSseResponse(request: SseRequestLike, options?: SseServerOptions): SseResponseStream {
  const resolved = resolveServerOptions(options);
  const given: unknown = request;
  if (typeof given !== 'object' || given === null || typeof (given as Partial<SseRequestLike>).headers?.get !== 'function') {
    throw new TypeError('createSseResponse(request): expected a Fetch Request (an object with headers.get())');
  }
  return new ResponseStream(request, resolved);
}

/** A stream whose sink is a `ReadableStream` body. */
class ResponseStream extends Stream implements SseResponseStream {
  readonly response: Response;

  constructor(request: SseRequestLike, options: ResolvedServerOptions) {
    const encoder = new TextEncoder();
    const signal = request.signal;
    const wiring: { body: ReadableStream<Uint8Array> | null } = { body: null };
    super(request.headers.get('last-event-id'), options, (stream) => {
      let controller: ReadableStreamDefaultController<Uint8Array> | null = null;
      wiring.body = new ReadableStream<Uint8Array>(
        {
          start: (c) => {
            controller = c;
          },
          pull: () => {
            stream.drain();
          },
          cancel: () => {
            stream.gone();
          },
        },
        { highWaterMark: HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
      );
      const onAbort = (): void => {
        stream.gone();
      };
      signal?.addEventListener('abort', onAbort);
      // A request aborted before its handler ran: the client is already gone.
      if (signal?.aborted === true) onAbort();
      const open = (): ReadableStreamDefaultController<Uint8Array> => {
        /* c8 ignore next -- start() runs synchronously in the ReadableStream constructor */
        if (controller === null) throw new TypeError('the response body has not started');
        return controller;
      };
      return {
        write: (text) => {
          const sink = open();
          sink.enqueue(encoder.encode(text));
          return (sink.desiredSize ?? 0) > 0;
        },
        end: () => {
          open().close();
        },
        destroy: () => {
          open().error(new TypeError('SSE stream failed'));
        },
        release: () => {
          signal?.removeEventListener('abort', onAbort);
        },
      };
    });
    /* c8 ignore next -- the constructor calls connect synchronously */
    if (wiring.body === null) throw new TypeError('createSseResponse: the body was not created');
    this.response = new Response(wiring.body, { status: 200, headers: options.headers });
  }
}
