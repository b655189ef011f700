// The SSE client on Bun or Deno: `createSseClient` from the runtime-neutral entry (dist/index.js: what the bun and
// deno export conditions give) connects to `--url`, keeps its activity busy (so the stream must keep talking, B5) and
// prints what it sees as JSON lines: ready {runtime}, open {attempt}, message {id, event, data}, comment,
// dead-peer {timeoutMs}, reconnecting, error {name}, complete {events} (the `--events`th event came), closed {cause}.
// It reads the events with `client.messages()` (async iteration) and listens with `addEventListener` and `once`, so
// the event API runs on each runtime too.
import { createSseClient } from '../../dist/index.js';

const write = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const list = globalThis.Deno?.args ?? process.argv.slice(2);
const options = { url: '', interval: 200, timeout: 300, connectTimeout: 400, events: 20 };
for (const arg of list) {
  const [key, value] = arg.replace(/^--/, '').split('=');
  options[key] = key === 'url' ? value : Number(value);
}

write({ type: 'ready', runtime: globalThis.Bun ? `bun ${globalThis.Bun.version}` : `deno ${globalThis.Deno.version.deno}` });
const client = createSseClient(options.url, {
  heartbeatIntervalMs: options.interval,
  pongTimeoutMs: options.timeout,
  connectTimeoutMs: options.connectTimeout,
  reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
});
client.addEventListener('open', ({ attempt }) => write({ type: 'open', attempt }));
client.on('comment', () => write({ type: 'comment' }));
client.on('dead-peer', ({ timeoutMs }) => write({ type: 'dead-peer', timeoutMs }));
client.on('reconnecting', () => write({ type: 'reconnecting' }));
client.on('error', (error) => write({ type: 'error', name: error?.name ?? String(error) }));
client.once('closed', ({ cause }) => {
  write({ type: 'closed', cause });
  process.exit(0);
});
client.activity.start('await_answer');
for await (const { lastEventId, event, data } of client.messages()) {
  write({ type: 'message', id: lastEventId, event, data });
  if (Number(lastEventId) === options.events) {
    write({ type: 'complete', events: options.events });
    void client.close();
  }
}
