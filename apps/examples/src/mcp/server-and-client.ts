import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createClientKeepalive, createServerKeepalive } from '@keepalive/mcp';
import { createSseStreams } from '@keepalive/mcp/http';
import { z } from 'zod';

// The server: a slow tool kept alive (a progress notification every 100 ms while it runs).
const streams = createSseStreams();
const serverKeepalive = createServerKeepalive({ heartbeatIntervalMs: 100, streams });
function mcpServer(): McpServer {
  const server = new McpServer({ name: 'slow-tools', version: '1.0.0' });
  server.registerTool(
    'render',
    { description: 'Renders pages, 300 ms each', inputSchema: { pages: z.number().int().min(1).max(100) } },
    serverKeepalive.wrap(async ({ pages }, extra, progress) => {
      for (let page = 1; page <= pages; page++) {
        await delay(300, undefined, { signal: extra.signal }); // the work
        progress.report(page, pages, `page ${page} of ${pages}`);
      }
      return { content: [{ type: 'text' as const, text: `rendered ${pages} pages` }] };
    }),
  );
  return server;
}
const http = createServer((req, res) => {
  void (async () => {
    const server = mcpServer();
    const transport = new StreamableHTTPServerTransport({}); // stateless: no session ids
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await streams.handleRequest(transport, req, res); // transport.handleRequest(req, res), with the SSE fallback
  })();
});
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));

// The client: progress resets its request timeout; a ping every 200 ms while the call is in flight finds a dead server.
const client = new Client({ name: 'agent', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`)));
const clientKeepalive = createClientKeepalive(client, { pingIntervalMs: 200, pingTimeoutMs: 1_000, requestTimeoutMs: 500 });
const result = await clientKeepalive.callTool(
  { name: 'render', arguments: { pages: 3 } }, // 900 ms, longer than the 500 ms request timeout
  { onprogress: ({ progress, total }) => console.log(`${Math.floor(progress)}/${total ?? '?'}`) },
);
console.log(result.content); // [ { type: 'text', text: 'rendered 3 pages' } ]
clientKeepalive.close();
await client.close();
serverKeepalive.close();
http.closeAllConnections();
http.close();
