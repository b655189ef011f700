// The SSE client on Bun or Deno resuming with ids beyond Latin-1: `createSseClient` from the runtime-neutral entry
// (dist/index.js) connects to `--url` with the `lastEventId` option `--lastEventId` (URI-encoded on the command line)
// and prints what it sees as JSON lines: ready {runtime}, open {attempt}, message {id, data}, error {name},
// diagnostic {name} (the client's own, sse_*), closed {cause} once a message with data `done` came.
import { createSseClient } from '../../dist/index.js';

const write = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const list = globalThis.Deno?.args ?? process.argv.slice(2);
const options = { url: '', lastEventId: '' };
for (const arg of list) {
  const [key, value] = arg.replace(/^--/, '').split('=');
  options[key] = decodeURIComponent(value);
}

write({ type: 'ready', runtime: globalThis.Bun ? `bun ${globalThis.Bun.version}` : `deno ${globalThis.Deno.version.deno}` });
const client = createSseClient(options.url, {
  lastEventId: options.lastEventId,
  reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  onDiagnostic: ({ name }) => {
    if (name.startsWith('sse_')) write({ type: 'diagnostic', name });
  },
});
client.on('open', ({ attempt }) => write({ type: 'open', attempt }));
client.on('error', (error) => write({ type: 'error', name: error?.name ?? String(error) }));
client.on('message', ({ lastEventId, data }) => {
  write({ type: 'message', id: lastEventId, data });
  if (data === 'done') {
    void client.close().then(({ cause }) => {
      write({ type: 'closed', cause });
      process.exit(0);
    });
  }
});
