// Smoke test for the published @keepalive/mcp (see CONTRIBUTING.md, "Smoke tests"): a real SDK client and server
// over the SDK's in-memory transport, a wrapped tool that runs until the server keep-alive has sent two progress
// keep-alives (the runtime's real timers, through the shared scheduler), called through the client keep-alive, which
// pings while the call is in flight. Everything is closed at the end, so nothing may keep the process alive.
import { createClientKeepalive, createServerKeepalive, nextProgress } from '@keepalive/mcp';
import { createSseStreams } from '@keepalive/mcp/http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

const serverKeepalive = createServerKeepalive({ heartbeatIntervalMs: 20, streams: createSseStreams() });
const server = new McpServer({ name: 'smoke', version: '1.0.0' });
server.registerTool(
  'work',
  { description: 'runs until two keep-alives went out' },
  serverKeepalive.wrapNoInput(
    (_extra, progress) =>
      new Promise((resolve) => {
        if (!progress.requested) throw new Error('the client keep-alive did not ask for progress');
        const unsubscribe = serverKeepalive.activity.subscribe((state) => {
          if (state.keepalivesSent < 2) return;
          unsubscribe();
          resolve({ content: [{ type: 'text', text: 'done' }] });
        });
      }),
  ),
);

const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
await server.connect(serverSide);
const client = new Client({ name: 'smoke-client', version: '1.0.0' });
await client.connect(clientSide);
const clientKeepalive = createClientKeepalive(client, { pingIntervalMs: 10, pingTimeoutMs: 5_000 });

const seen = [];
const result = await clientKeepalive.callTool({ name: 'work' }, { onprogress: ({ progress }) => seen.push(progress) });
if (result.content?.[0]?.text !== 'done') throw new Error(`unexpected result ${JSON.stringify(result)}`);
if (seen.length < 2) throw new Error(`expected two progress keep-alives, got ${seen.length}`);
if (!(seen[1] > seen[0]) || seen[1] !== nextProgress(seen[0])) throw new Error(`progress did not increase: ${seen.join(', ')}`);
if (clientKeepalive.activity.state.heartbeatAt !== null || serverKeepalive.activity.state.heartbeatAt !== null) {
  throw new Error('a heartbeat is still armed after the call');
}

clientKeepalive.close();
serverKeepalive.close();
await client.close();
await server.close();
console.log(`mcp smoke: ${seen.length} progress keep-alives, ${clientKeepalive.activity.snapshot().keepalivesSent} pings`);
