/**
 * `Last-Event-ID` on the wire. An SSE id is any string without NUL, CR or LF
 * (`id: €7` is legal), but an HTTP header value is bytes, and the Fetch API's
 * `Headers` take only code points up to U+00FF (a ByteString). A browser's
 * `EventSource` sends the id's UTF-8 bytes; so does the client, each byte as
 * one Latin-1 code unit of the header string. A server reads the header as
 * Latin-1 (Node's `http`, and the `Headers` of undici, Bun and Deno alike:
 * one code unit per byte), so the server adapters decode those bytes as UTF-8
 * again: the round trip gives back the id the stream set.
 */

const encoder = new TextEncoder();
// ignoreBOM: an id that starts with U+FEFF keeps it (as Buffer's utf8 decoding does).
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * What every `fetch` sends as a header value: tab, printable ASCII and the
 * bytes 0x80–0xFF. Node's fetch (undici) refuses any other control character;
 * NUL, CR and LF are refused everywhere.
 */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A code unit above U+00FF: the text was decoded already (it is no ByteString). */
const WIDE = /[\u0100-\uffff]/;

/** A byte above 0x7F: UTF-8 to decode (pure ASCII is the same either way). */
const HIGH = /[\x80-\xff]/;

/**
 * The `Last-Event-ID` header value of an id: its UTF-8 bytes, each as one
 * Latin-1 code unit (what a browser sends). `null` when no `fetch` can carry it
 * (a control character other than tab): the request then goes without the
 * header rather than failing on every reconnect.
 */
export function encodeLastEventId(id: string): string | null {
  let value = '';
  for (const byte of encoder.encode(id)) value += String.fromCharCode(byte);
  return HEADER_VALUE.test(value) ? value : null;
}

/**
 * The id a `Last-Event-ID` header carries: its bytes (one Latin-1 code unit
 * each, as servers read headers) decoded as UTF-8, the way
 * `Buffer.from(value, 'latin1').toString('utf8')` does. Bytes that are not
 * UTF-8 (a client that sent Latin-1) and text a runtime already decoded are
 * kept as they are.
 */
export function decodeLastEventId(header: string): string {
  if (!HIGH.test(header) || WIDE.test(header)) return header;
  const bytes = new Uint8Array(header.length);
  for (let index = 0; index < header.length; index++) bytes[index] = header.charCodeAt(index);
  try {
    return decoder.decode(bytes);
  } catch {
    return header;
  }
}
