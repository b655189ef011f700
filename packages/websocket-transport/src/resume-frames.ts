import type { ResumeFrame, SessionMessage } from './resume-types.js';

/**
 * Reading inbound frames of resuming clients, as runtimes deliver them (a string, bytes, fragments), without `Buffer`:
 * shared by the connection handle and the session.
 */

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The bytes of a binary frame, or of text `ws` delivered as bytes; fragments are joined into one copy. */
export function bytesOf(data: Exclude<ResumeFrame, string>): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let length = 0;
  for (const part of data) length += part.byteLength;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const part of data) {
    joined.set(new Uint8Array(part.buffer, part.byteOffset, part.byteLength), offset);
    offset += part.byteLength;
  }
  return joined;
}

/** Whether `data` is something a frame can be read from (a runtime may hand over a Blob, which cannot be read now). */
export function isFrame(data: unknown): data is ResumeFrame {
  return typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data) || (Array.isArray(data) && data.every((part) => ArrayBuffer.isView(part)));
}

/** A binary inbound frame as the application gets it: `Uint8Array` (ws's Buffer) and `ArrayBuffer` as given. */
export function binaryOf(data: Exclude<ResumeFrame, string>): SessionMessage {
  if (data instanceof ArrayBuffer || data instanceof Uint8Array) return data;
  return bytesOf(data);
}

/** A ping payload as text, when it can be a count (at most 16 ASCII digits); `''` otherwise. */
export function pingText(payload: ResumeFrame): string {
  if (typeof payload === 'string') return payload.length <= 16 ? payload : '';
  const bytes = bytesOf(payload);
  if (bytes.byteLength > 16) return '';
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}


/** A text frame as a string (`ws` delivers text as bytes): `null` when its bytes are not UTF-8. */
export function textOf(data: ResumeFrame): string | null {
  if (typeof data === 'string') return data;
  try {
    return decoder.decode(bytesOf(data));
  } catch {
    return null;
  }
}
