// client.mjs: node client.mjs (starts server.mjs beside it, calls its slow tool, then stops it)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpDeadPeerError, createClientKeepalive } from '@keepalive/mcp';

// The server above, as a child process; the line it prints first says where it listens.
const server = spawn(process.execPath, [fileURLToPath(new URL('server.mjs', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  createInterface({ input: server.stdout }).on('line', (line) => {
    const found = /http:\/\/\S+/.exec(line);
    if (found) resolve(found[0]);
  });
  server.once('exit', (code) => reject(new Error(`server.mjs exited with code ${code}`)));
});

const client = new Client({ name: 'agent', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const keepalive = createClientKeepalive(client, {
  pingIntervalMs: 200, // while a call is in flight (15 s is usual in production)
  pingTimeoutMs: 1_000, // a dead server is found within 1.2 s
  requestTimeoutMs: 500, // reset by every progress notification
  maxTotalTimeoutMs: 30_000,
});
try {
  const result = await keepalive.callTool(
    { name: 'render', arguments: { pages: 3 } }, // 900 ms, longer than the 500 ms request timeout
    { onprogress: ({ progress, total, message }) => console.log(`${Math.floor(progress)}/${total ?? '?'} ${message ?? ''}`) },
  );
  console.log(result.content); // [ { type: 'text', text: 'rendered 3 pages' } ]
} catch (error) {
  if (!(error instanceof McpDeadPeerError)) throw error;
  console.error(error.message); // reconnect, retry elsewhere…
  process.exitCode = 1;
} finally {
  keepalive.close();
  await client.close();
  server.stdin.end(); // server.mjs stops when its stdin ends
  if (server.exitCode === null) await once(server, 'exit');
}
