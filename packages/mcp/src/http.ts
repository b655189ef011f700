/**
 * @keepalive/mcp/http: the SSE comment fallback for Node's `http` and the SDK's `StreamableHTTPServerTransport`.
 *
 * How the SDK writes a Streamable HTTP response (1.32): the transport answers a POST with a web `Response` whose body
 * is a `ReadableStream`; every `enqueue` on it is one whole SSE event (`event: message\nid: …\ndata: …\n\n`, the
 * priming event, or its own `: keepalive\n\n` comment). `@hono/node-server` copies that stream to the Node
 * `ServerResponse` chunk by chunk, one `res.write(chunk)` per enqueued event, after `res.writeHead`. So between two of
 * its writes the byte stream always sits on an event boundary, and one more `res.write(': keepalive\n\n')` there is a
 * well-formed comment that every SSE parser skips. The tool handler, though, never sees the `ServerResponse`: this
 * module runs the transport's `handleRequest` inside an `AsyncLocalStorage` scope holding it, and the server
 * keep-alive asks for it when a wrapped handler starts (the SDK calls handlers in the async context of the request
 * that carried them).
 *
 * A comment is written only while it is safe: headers sent with status 200 and (when visible) an SSE content type,
 * the response neither ended nor destroyed, and its buffer not backed up. JSON responses (`enableJsonResponse`) send
 * their headers only when complete, so they never get one.
 *
 * @module @keepalive/mcp/http
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SSE_KEEPALIVE_COMMENT, type KeepaliveStream, type SseStreamSource } from './stream.js';

/**
 * What {@link SseStreams.handleRequest} needs of a transport: the SDK's `StreamableHTTPServerTransport`.
 */
export interface StreamableHttpTransportLike {
  /** Handles one HTTP request (a POST, a GET or a DELETE of the Streamable HTTP transport). */
  handleRequest(req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): Promise<void>;
}

/**
 * The registry of response streams: run each request through it, and hand it to `createServerKeepalive({ streams })`.
 */
export interface SseStreams extends SseStreamSource {
  /** `transport.handleRequest(req, res, parsedBody)`, with `res` known to the tool handlers it starts. */
  handleRequest(transport: StreamableHttpTransportLike, req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): Promise<void>;
  /** Runs `fn` (which hands `res` to the transport) with `res` known to the tool handlers it starts: for frameworks. */
  run<T>(res: ServerResponse, fn: () => T): T;
  /** Keep-alive comments written so far, on every stream. */
  readonly commentsWritten: number;
}

class ResponseStream implements KeepaliveStream {
  constructor(
    private readonly res: ServerResponse,
    private readonly owner: Streams,
  ) {}

  comment(): boolean {
    const res = this.res;
    if (!res.headersSent || res.statusCode !== 200 || res.writableEnded || res.destroyed || res.writableNeedDrain) return false;
    // Headers given to writeHead() alone are not visible here; when they are, they must say SSE.
    const type = res.getHeader('content-type');
    if (type !== undefined && !String(type).toLowerCase().startsWith('text/event-stream')) return false;
    try {
      res.write(SSE_KEEPALIVE_COMMENT);
    } catch {
      return false;
    }
    this.owner.commentsWritten += 1;
    return true;
  }
}

class Streams implements SseStreams {
  commentsWritten = 0;
  private readonly storage = new AsyncLocalStorage<ResponseStream>();

  current(): KeepaliveStream | null {
    return this.storage.getStore() ?? null;
  }

  run<T>(res: ServerResponse, fn: () => T): T {
    if (typeof fn !== 'function') throw new TypeError('run(res, fn): expected a function');
    return this.storage.run(new ResponseStream(res, this), fn);
  }

  handleRequest(transport: StreamableHttpTransportLike, req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): Promise<void> {
    if (typeof (transport as Partial<StreamableHttpTransportLike> | null)?.handleRequest !== 'function') {
      throw new TypeError('handleRequest(transport, req, res): expected a StreamableHTTPServerTransport');
    }
    return this.run(res, () => transport.handleRequest(req, res, parsedBody));
  }
}

/**
 * Creates a registry of response streams for the SSE comment fallback (see the module's documentation for how the
 * comment reaches the stream, and when it is withheld).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import type { AddressInfo } from 'node:net';
 * import { setTimeout as delay } from 'node:timers/promises';
 * import { Client } from '@modelcontextprotocol/sdk/client/index.js';
 * import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
 * import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
 * import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
 * import { createClientKeepalive, createServerKeepalive } from '@keepalive/mcp';
 * import { createSseStreams } from '@keepalive/mcp/http';
 * import { z } from 'zod';
 *
 * // The server: a slow tool kept alive (a progress notification every 100 ms while it runs).
 * const streams = createSseStreams();
 * const serverKeepalive = createServerKeepalive({ heartbeatIntervalMs: 100, streams });
 * function mcpServer(): McpServer {
 *   const server = new McpServer({ name: 'slow-tools', version: '1.0.0' });
 *   server.registerTool(
 *     'render',
 *     { description: 'Renders pages, 300 ms each', inputSchema: { pages: z.number().int().min(1).max(100) } },
 *     serverKeepalive.wrap(async ({ pages }, extra, progress) => {
 *       for (let page = 1; page <= pages; page++) {
 *         await delay(300, undefined, { signal: extra.signal }); // the work
 *         progress.report(page, pages, `page ${page} of ${pages}`);
 *       }
 *       return { content: [{ type: 'text' as const, text: `rendered ${pages} pages` }] };
 *     }),
 *   );
 *   return server;
 * }
 * const http = createServer((req, res) => {
 *   void (async () => {
 *     const server = mcpServer();
 *     const transport = new StreamableHTTPServerTransport({}); // stateless: no session ids
 *     res.on('close', () => {
 *       void transport.close();
 *       void server.close();
 *     });
 *     await server.connect(transport);
 *     await streams.handleRequest(transport, req, res); // transport.handleRequest(req, res), with the SSE fallback
 *   })();
 * });
 * await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
 *
 * // The client: progress resets its request timeout; a ping every 200 ms while the call is in flight finds a dead server.
 * const client = new Client({ name: 'agent', version: '1.0.0' });
 * await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`)));
 * const clientKeepalive = createClientKeepalive(client, { pingIntervalMs: 200, pingTimeoutMs: 1_000, requestTimeoutMs: 500 });
 * const result = await clientKeepalive.callTool(
 *   { name: 'render', arguments: { pages: 3 } }, // 900 ms, longer than the 500 ms request timeout
 *   { onprogress: ({ progress, total }) => console.log(`${Math.floor(progress)}/${total ?? '?'}`) },
 * );
 * console.log(result.content); // [ { type: 'text', text: 'rendered 3 pages' } ]
 * clientKeepalive.close();
 * await client.close();
 * serverKeepalive.close();
 * http.closeAllConnections();
 * http.close();
 * ```
 */
export function createSseStreams(): SseStreams {
  return new Streams();
}
