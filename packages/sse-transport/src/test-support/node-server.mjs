// A Node http server streaming the producer's events with the package's Node adapter (built dist).
import { createServer } from 'node:http';
import { createSseStream } from '../../dist/node.js';
import { args, createProducer, write } from './producer.mjs';

const options = args();
const producer = createProducer(options);
const server = createServer((req, res) => {
  producer.adopt(createSseStream(req, res, { heartbeatIntervalMs: options.interval, idleCloseMs: options.idleCloseMs ?? undefined, reconnect: { initialDelayMs: 50 } }));
});
server.listen(0, '127.0.0.1', () => {
  write({ type: 'listening', port: server.address().port });
  setTimeout(() => producer.start(), options.startDelay);
});
process.on('SIGTERM', () => process.exit(0));
