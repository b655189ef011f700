// An MCP server over Streamable HTTP in its own process, kept alive by the package's server keep-alive (run with
// `node --import keepalive-test-support/ts-register`, so it loads the .ts sources). It prints its port; the test freezes it with SIGSTOP
// while a call is in flight, so that it answers nothing any more (no ping, no progress), and the client must notice
// through ping (spec B5). SIGCONT thaws it.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { createServerKeepalive } from '../index.ts';
import { createSseStreams } from '../http.ts';

const streams = createSseStreams();
const keepalive = createServerKeepalive({ heartbeatIntervalMs: 200, streams });
const server = new McpServer({ name: 'frozen', version: '1.0.0' });
// Runs until the request is cancelled: the client's verdict, or the connection's end.
server.registerTool(
  'wait',
  { description: 'waits until cancelled' },
  keepalive.wrapNoInput(
    (extra) =>
      new Promise((resolve) => {
        extra.signal.addEventListener('abort', () => resolve({ content: [{ type: 'text', text: 'cancelled' }] }), { once: true });
      }),
  ),
);
// Takes `ms` (its workload), for the calls after the server is thawed.
server.registerTool(
  'nap',
  { inputSchema: { ms: z.number() } },
  keepalive.wrap(
    ({ ms }) =>
      new Promise((resolve) => {
        setTimeout(() => resolve({ content: [{ type: 'text', text: 'rested' }] }), ms);
      }),
  ),
);
const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), keepAliveMs: 0 });
await server.connect(transport);
const http = createServer((req, res) => {
  void streams.handleRequest(transport, req, res);
});
http.listen(0, '127.0.0.1', () => {
  process.stdout.write(`port ${http.address().port}\n`);
});
