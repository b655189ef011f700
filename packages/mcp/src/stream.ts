/**
 * The transport fallback of the server keep-alive, as the runtime-neutral entry sees it: a stream that can carry a
 * comment, found for the request being handled. `@keepalive/mcp/http` provides one for Node's `http` and the SDK's
 * `StreamableHTTPServerTransport`; anything else can implement the two small interfaces below.
 */

/**
 * The SSE comment line a keep-alive writes when the request carries no `progressToken`: the same 13 bytes the SDK's
 * own transport keep-alive (`keepAliveMs`) writes. SSE parsers, the SDK client's included, skip comment lines.
 */
export const SSE_KEEPALIVE_COMMENT = ': keepalive\n\n';

/**
 * One response stream that can carry a keep-alive comment.
 */
export interface KeepaliveStream {
  /**
   * Writes one keep-alive comment if the stream can take one now (headers sent, not ended, not backed up); returns
   * whether it did. Never throws.
   */
  comment(): boolean;
}

/**
 * Finds the stream of the request whose tool handler is running: called once, synchronously, when a wrapped
 * handler starts, in the handler's own async context.
 */
export interface SseStreamSource {
  /** The stream carrying the current request, or `null` when there is none (another transport, JSON responses). */
  current(): KeepaliveStream | null;
}
