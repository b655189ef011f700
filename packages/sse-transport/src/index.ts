/**
 * @keepalive/sse-transport: Server-Sent Events kept alive at both ends. This
 * entry is runtime-neutral (browsers, Bun, Deno, Node, workers: no `node:`
 * module): the reconnecting, stall-detecting client on `fetch`, the server
 * end as a Fetch API `Response` (`Bun.serve`, `Deno.serve`, Hono), and the
 * event formatter. On Node the `node` export condition adds
 * `createSseStream(req, res)` for `http.ServerResponse` (also at
 * `@keepalive/sse-transport/node`).
 *
 * @module @keepalive/sse-transport
 */
export { createSseClient } from './client.js';
export { BufferOverflowError, type ClientMessagesOptions, type EmitterListener, type EmitterListenerOptions } from '@keepalive/node-timers';
export {
  SSE_CLIENT_DEFAULTS,
  SSE_CLIENT_DIAGNOSTICS,
  SseInputError,
  type SseBodyReader,
  type SseClient,
  type SseClientClosedEvent,
  type SseClientEvents,
  type SseClientHeaders,
  type SseClientOptions,
  type SseClientState,
  type SseClientTarget,
  type SseConnectContext,
  type SseFetch,
  type SseFetchInit,
  type SseFetchResponse,
  type SseMessage,
} from './client-types.js';
export type { SseInputLimit } from './input-guard.js';
export { KEEPALIVE_COMMENT, SseFormatError, formatSseComment, formatSseEvent, formatSseRetry, type SseEvent } from './format.js';
export { createSseResponse, type SseRequestLike, type SseResponseStream } from './fetch-server.js';
export {
  MAX_LAST_EVENT_ID_LENGTH,
  SSE_RESPONSE_HEADERS,
  SSE_SERVER_DIAGNOSTICS,
  SseStreamEndedError,
  type SseServerOptions,
  type SseStream,
  type SseStreamClosedEvent,
} from './server.js';
export {
  SSE_STREAM_DIAGNOSTICS,
  createSseStreamState,
  defineSseStreamConfig,
  sseStreamDeadline,
  sseStreamStep,
  type SseCloseCause,
  type SseStreamCommand,
  type SseStreamConfig,
  type SseStreamEvent,
  type SseStreamState,
} from './stream-machine.js';
