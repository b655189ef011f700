// server.mjs: node server.mjs (serves until its stdin ends: Ctrl-D, or the process that started it closing the pipe)
import { createServer } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createServerKeepalive } from '@keepalive/mcp';
import { createSseStreams } from '@keepalive/mcp/http';
import { z } from 'zod';

const streams = createSseStreams();
// One for the process: every call in flight, in any server, gets a keep-alive every 200 ms (15 s is usual in production).
const keepalive = createServerKeepalive({ heartbeatIntervalMs: 200, streams, logger: console });

function mcpServer() {
  const server = new McpServer({ name: 'slow-tools', version: '1.0.0' });
  server.registerTool(
    'render',
    { description: 'Renders pages, 300 ms each', inputSchema: { pages: z.number().int().min(1).max(100) } },
    keepalive.wrap(async ({ pages }, extra, progress) => {
      for (let page = 1; page <= pages; page++) {
        await delay(300, undefined, { signal: extra.signal }); // the work
        progress.report(page, pages, `page ${page} of ${pages}`);
      }
      return { content: [{ type: 'text', text: `rendered ${pages} pages` }] };
    }),
  );
  return server;
}

const http = createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/mcp') {
    res.writeHead(405).end();
    return;
  }
  const server = mcpServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await streams.handleRequest(transport, req, res); // transport.handleRequest(req, res), with the SSE fallback
});
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`MCP server on http://127.0.0.1:${http.address().port}/mcp`);
  process.stdin.on('end', () => {
    keepalive.close();
    http.closeAllConnections();
    http.close();
  });
  process.stdin.resume();
});
