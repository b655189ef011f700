/**
 * @keepalive/sse-transport on Node (the `node` export condition): everything
 * of the runtime-neutral entry, plus `createSseStream(req, res)` for Node's
 * `http.ServerResponse` (Express, Fastify, plain `http`).
 *
 * @module @keepalive/sse-transport
 */
export * from './index.js';
export { createSseStream } from './node.js';
