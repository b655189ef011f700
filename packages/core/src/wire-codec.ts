import { encodeHeartbeat, escapeText, readPingAck, readResumeText, type ResumeText } from './wire.js';

/**
 * How an end reads and writes the frames of a connection that asked for the wire format (spec B14, B17,
 * `docs/resume-protocol.md` sections 3 and 5), one copy for both ends: the client's driver (through the resume layer's
 * codec, `resume-layer.ts`) and the server's connection (`server-wire.ts`).
 *
 * Both ends write the same way: until the hello, nothing but the plain heartbeat message and one handshake control
 * frame (the server's challenge, the client's proof); from the hello on, the wire format (control frames, escaped
 * text, heartbeats that carry an acknowledgement). The server switches when it writes its hello, the client when it
 * reads it; so the client reads the server's frames as the wire format from the hello on, while the server reads the
 * client's plain heartbeats after its hello until the client's first wire-format frame (an acknowledgement: it
 * marks where they end).
 */

/**
 * How an end reads its peer's text frames, named for what it waits for:
 * - `plain`: no wire format: the heartbeat message is a keep-alive, the rest application text;
 * - `hello`: a client before the server's hello: the hello (or the challenge) is the only control frame; the rest is
 *   read as `plain` (application text then means that the server does not speak the wire format);
 * - `proof`: a server before its hello: the client's proof is the only control frame; the rest is read as `plain`
 *   (application text then is a protocol error);
 * - `greeted`: a server after its hello, before the client's first wire-format frame: the heartbeat message is still
 *   the client's keep-alive; the rest is the wire format;
 * - `wire`: the wire format: control frames and escaped text (a proof is a protocol error).
 *
 * A client's codec mode (`plain`, `hello`, `wire`) is its reading.
 */
export type FrameReading = 'plain' | 'hello' | 'proof' | 'greeted' | 'wire';

/**
 * A text frame as an end reads it: what {@link readResumeText} reads, or the plain heartbeat message
 * (`heartbeat` without an acknowledgement: `ack` is `null`).
 */
export type FrameRead = ResumeText | { readonly kind: 'heartbeat'; readonly ack: null };

const PLAIN_HEARTBEAT: FrameRead = /* @__PURE__ */ Object.freeze({ kind: 'heartbeat', ack: null });
const INVALID: FrameRead = /* @__PURE__ */ Object.freeze({ kind: 'invalid' });

/** Reads a text frame as `reading` says (`heartbeatMessage`: the plain heartbeat of the connection). */
export function readFrame(reading: FrameReading, text: string, heartbeatMessage: string): FrameRead {
  if (reading === 'plain') return text === heartbeatMessage ? PLAIN_HEARTBEAT : { kind: 'data', text };
  if (reading === 'hello' || reading === 'proof') {
    // The handshake: the peer's one control frame, plain heartbeats, and nothing else of the wire format (a peer
    // that does not speak it does not escape its text).
    const read = readResumeText(text);
    if (read.kind === reading) return read;
    return readFrame('plain', text, heartbeatMessage);
  }
  if (reading === 'greeted' && text === heartbeatMessage) return PLAIN_HEARTBEAT;
  const read = readResumeText(text);
  return read.kind === 'proof' ? INVALID : read;
}

/** Whether an end reading as `reading` has seen the hello (a client) or written it (a server): the wire format is spoken. */
export function isWire(reading: FrameReading): boolean {
  return reading === 'wire' || reading === 'greeted';
}

/** Application text as an end writes it: escaped once the end writes the wire format (it reads as `greeted` or `wire`). */
export function writeText(reading: FrameReading, text: string): string {
  return isWire(reading) ? escapeText(text) : text;
}

/**
 * The heartbeat an end writes: the wire format's (`U+0006 "A" ack`) when it carries an acknowledgement, else the
 * plain heartbeat message (before the hello, and without the wire format).
 */
export function heartbeatText(ack: number | null, heartbeatMessage: string): string {
  return ack === null ? heartbeatMessage : encodeHeartbeat(ack);
}

/** The acknowledgement a protocol ping's payload carries: read only once the wire format is spoken; `null` for none. */
export function pingAck(reading: FrameReading, payload: string): number | null {
  return isWire(reading) ? readPingAck(payload) : null;
}
