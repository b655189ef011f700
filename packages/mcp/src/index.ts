/**
 * @keepalive/mcp: keep MCP tool calls alive with the official TypeScript SDK (`@modelcontextprotocol/sdk`).
 *
 * - Server side, {@link createServerKeepalive}: wrap a tool handler and, while it runs, it counts as activity on a
 *   session activity and gets a keep-alive every `heartbeatIntervalMs`: a `notifications/progress` when the client
 *   asked for progress, else an SSE comment on its Streamable HTTP response (with `@keepalive/mcp/http`).
 * - Client side, {@link createClientKeepalive}: tool calls with a `progressToken`, `resetTimeoutOnProgress` and a
 *   `maxTotalTimeout`, and an MCP `ping` every `pingIntervalMs` while a call is in flight, so a dead server is found
 *   within `pingIntervalMs + pingTimeoutMs` (spec B5) instead of at the request timeout.
 *
 * This entry is runtime-neutral and imports nothing from the SDK at run time (its types only).
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
 *
 * @module @keepalive/mcp
 */
export {
  SERVER_KEEPALIVE_DEFAULTS,
  createServerKeepalive,
  type ServerKeepalive,
  type ServerKeepaliveOptions,
  type ToolExtra,
  type ToolProgress,
} from './server.js';
export {
  CLIENT_KEEPALIVE_DEFAULTS,
  createClientKeepalive,
  type CallToolOptions,
  type CallToolParams,
  type CallToolResponse,
  type ClientKeepalive,
  type ClientKeepaliveOptions,
  type McpClientLike,
} from './client.js';
export { McpDeadPeerError, McpKeepaliveClosedError } from './errors.js';
export { MCP_DIAGNOSTICS } from './diagnostics.js';
export { ProgressTrack, nextProgress, type ProgressValue, type ReportProblem } from './progress.js';
export { SSE_KEEPALIVE_COMMENT, type KeepaliveStream, type SseStreamSource } from './stream.js';
