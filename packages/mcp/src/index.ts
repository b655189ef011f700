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
 * import { createClientKeepalive, createServerKeepalive } from '@keepalive/mcp';
 *
 * const serverKeepalive = createServerKeepalive();
 * server.registerTool('slow', { inputSchema: { seconds: z.number() } }, serverKeepalive.wrap(async ({ seconds }, extra, progress) => {
 *   await work(seconds, extra.signal);
 *   return { content: [{ type: 'text', text: 'done' }] };
 * }));
 *
 * const clientKeepalive = createClientKeepalive(client);
 * await clientKeepalive.callTool({ name: 'slow', arguments: { seconds: 90 } });
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
