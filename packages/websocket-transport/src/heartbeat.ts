/**
 * The application-level heartbeat, for sockets that cannot send protocol
 * pings (WHATWG WebSockets in browsers, Deno, Bun, undici). Runtime-neutral:
 * no Node Buffer, only typed arrays.
 */

/**
 * The default heartbeat message: an empty text frame. It is the smallest
 * frame there is (2 bytes from a server, 6 masked bytes from a client), and
 * it cannot be mistaken for application data because it carries none.
 */
export const HEARTBEAT_MESSAGE = '';

/**
 * Message payloads as the `ws` library (Buffer, ArrayBuffer, Buffer[]) and
 * WHATWG sockets (string, ArrayBuffer, Blob) deliver them.
 */
export type MessagePayload = string | ArrayBuffer | ArrayBufferView | readonly ArrayBufferView[] | Blob;

/**
 * How an inbound message relates to the heartbeat protocol:
 * - `heartbeat`: exactly the heartbeat message;
 * - `malformed`: an empty binary frame or a whitespace-only text frame of at
 *   most 8 bytes, the usual shapes of naive keep-alives: proof of life, not
 *   answered, not application data, counted;
 * - `data`: application data.
 */
export type HeartbeatKind = 'heartbeat' | 'malformed' | 'data';

const encoder = /* @__PURE__ */ new TextEncoder();
const encoded = new Map<string, Uint8Array>();

function bytesOf(message: string): Uint8Array {
  let bytes = encoded.get(message);
  if (bytes === undefined) {
    bytes = encoder.encode(message);
    if (encoded.size < 16) encoded.set(message, bytes);
  }
  return bytes;
}

function views(data: Exclude<MessagePayload, string | Blob>): Uint8Array[] {
  if (data instanceof ArrayBuffer) return [new Uint8Array(data)];
  if (ArrayBuffer.isView(data)) return [new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
  return data.map((part) => new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
}

function isBlob(data: MessagePayload): data is Blob {
  return typeof Blob !== 'undefined' && data instanceof Blob;
}

/**
 * Classifies an inbound message. `isBinary` is the `ws` library's flag (text
 * frames arrive there as bytes); WHATWG sockets deliver text as strings, so
 * leave it out for them.
 */
export function classifyMessage(data: MessagePayload, isBinary?: boolean, message: string = HEARTBEAT_MESSAGE): HeartbeatKind {
  if (typeof data === 'string') return classifyText(data, message);
  if (isBlob(data)) return data.size === 0 ? 'malformed' : 'data';
  const parts = views(data);
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const binary = isBinary ?? true;
  if (binary) return length === 0 ? 'malformed' : 'data';
  const expected = bytesOf(message);
  if (length === expected.byteLength && sameBytes(parts, expected)) return 'heartbeat';
  if (length > 8) return 'data';
  for (const part of parts) for (const byte of part) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return 'data';
  return 'malformed';
}

function classifyText(text: string, message: string): HeartbeatKind {
  if (isHeartbeatText(text, message)) return 'heartbeat';
  return text.length <= 8 && text.trim() === '' ? 'malformed' : 'data';
}

function sameBytes(parts: Uint8Array[], expected: Uint8Array): boolean {
  let offset = 0;
  for (const part of parts) {
    for (const byte of part) {
      if (byte !== expected[offset]) return false;
      offset++;
    }
  }
  return offset === expected.byteLength;
}

/**
 * Whether a text message is the heartbeat `message` (the rule {@link classifyMessage} applies to text; a binary frame
 * never is): what a client that reads text frames as strings needs, without the rest of the classification.
 */
export function isHeartbeatText(text: string, message: string = HEARTBEAT_MESSAGE): boolean {
  return text === message;
}

/**
 * Whether an inbound message is exactly the heartbeat `message`.
 */
export function isHeartbeatMessage(data: MessagePayload, message: string = HEARTBEAT_MESSAGE, isBinary?: boolean): boolean {
  return classifyMessage(data, isBinary, message) === 'heartbeat';
}
