import { heartbeatText, pingAck, readFrame, writeText, type FrameRead, type FrameReading } from './wire-codec.js';

/**
 * The server's framing of one resuming connection (spec B14, B17, `docs/resume-protocol.md` sections 3 and 5):
 * which of the client's frames are control frames, when the plain heartbeat is a heartbeat, and which heartbeat the
 * server writes. The session machines (`delivery.ts`, `server-session.ts`) decide what the frames mean; the rules
 * of reading and writing them are the ones the client uses (`wire-codec.ts`). Pure: a hub's connection keeps the
 * state and carries the rest out.
 *
 * | state | the server has | it reads the client's text as | it writes as its heartbeat | leaves on |
 * | --- | --- | --- | --- | --- |
 * | `plain` | written no hello | `proof`: the proof, the plain heartbeat; the rest is a protocol error | the plain heartbeat message | its hello written → `greeted` |
 * | `greeted` | written its hello | `greeted`: the plain heartbeat (the client's, written before it read the hello), else the wire format | `U+0006 "A" delivered` | a frame other than the plain heartbeat (binary too) → `speaking` |
 * | `speaking` | read a wire-format frame after its hello | `wire` | `U+0006 "A" delivered` | never |
 *
 * The client's first frame after the hello is an acknowledgement, so the switch to `speaking` comes before any
 * application text that could equal the heartbeat message; that frame also confirms the session (B17).
 */

/** Where a resuming connection's framing is at the server. See the table in this module's documentation. */
export type ServerWireState = 'plain' | 'greeted' | 'speaking';

const INVALID: FrameRead = /* @__PURE__ */ Object.freeze({ kind: 'invalid' });
const READING: Readonly<Record<ServerWireState, FrameReading>> = /* @__PURE__ */ Object.freeze({ plain: 'proof', greeted: 'greeted', speaking: 'wire' });

/** How a server in `state` reads the client's text frames (the reading both ends share, `wire-codec.ts`). */
export function serverReading(state: ServerWireState): FrameReading {
  return READING[state];
}

/**
 * Reads one of the client's text frames. Besides the shared reading, a hello is a protocol error at the server
 * (only servers write one).
 */
export function readServerText(state: ServerWireState, text: string, heartbeatMessage: string): FrameRead {
  const read = readFrame(READING[state], text, heartbeatMessage);
  return read.kind === 'hello' ? INVALID : read;
}

/** The state once the server wrote its hello on the connection. */
export function serverGreeted(state: ServerWireState): ServerWireState {
  return state === 'plain' ? 'greeted' : state;
}

/**
 * The state after the server read `frame` on the connection (`null`: a binary frame): the first frame after the hello
 * that is not the plain heartbeat says the client writes the wire format. When the state changes, the session is
 * confirmed.
 */
export function serverWireAfter(state: ServerWireState, frame: FrameRead | null): ServerWireState {
  if (state !== 'greeted' || (frame !== null && frame.kind === 'heartbeat' && frame.ack === null)) return state;
  return 'speaking';
}

/**
 * The heartbeat the server writes (its keep-alive where it cannot ping, and its answer to the client's): the plain
 * heartbeat message before its hello (the client reads only a hello as a control frame then), the wire format's
 * after it, carrying `delivered` (`null` on a connection no longer attached to its session: 0, which never lowers a
 * cumulative acknowledgement).
 */
export function serverHeartbeat(state: ServerWireState, delivered: number | null, heartbeatMessage: string): string {
  return heartbeatText(state === 'plain' ? null : (delivered ?? 0), heartbeatMessage);
}

/** Application text as the server writes it in `state` (escaped from its hello on). */
export function serverText(state: ServerWireState, text: string): string {
  return writeText(READING[state], text);
}

/** The acknowledgement the payload of the client's protocol ping carries (read from the hello on), or `null`. */
export function serverPingAck(state: ServerWireState, payload: string): number | null {
  return pingAck(READING[state], payload);
}
