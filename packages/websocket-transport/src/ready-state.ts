/**
 * The `readyState` values of a WebSocket that the client and server files read (WHATWG's, which `ws`, Bun and Deno
 * share), written once. Internal: not part of the package's exports.
 */

/** Open: frames may be written. */
export const OPEN = 1;

/** Closing: the close handshake began (a WHATWG socket throws on a send now). */
export const CLOSING = 2;
