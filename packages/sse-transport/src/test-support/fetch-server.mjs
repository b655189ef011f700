// Bun.serve or Deno.serve streaming the producer's events with the package's Fetch adapter, imported from the
// runtime-neutral entry (dist/index.js: what the bun and deno export conditions give).
import { createSseResponse } from '../../dist/index.js';
import { args, createProducer, write } from './producer.mjs';

const options = args();
const producer = createProducer(options);
const handler = (request) => {
  const stream = createSseResponse(request, { heartbeatIntervalMs: options.interval, reconnect: { initialDelayMs: 50 } });
  producer.adopt(stream);
  return stream.response;
};
const ready = (port) => {
  write({ type: 'listening', port, runtime: globalThis.Bun ? `bun ${globalThis.Bun.version}` : `deno ${globalThis.Deno.version.deno}` });
  setTimeout(() => producer.start(), options.startDelay);
};
if (globalThis.Bun) {
  const server = globalThis.Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: handler, idleTimeout: 0 });
  ready(server.port);
} else {
  globalThis.Deno.serve({ port: 0, hostname: '127.0.0.1', onListen: ({ port }) => ready(port) }, handler);
}
