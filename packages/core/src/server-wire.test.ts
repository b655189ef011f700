import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  CONTROL_PREFIX,
  encodeAck,
  encodeHeartbeat,
  encodeHello,
  encodePingAck,
  encodeProof,
  escapeText,
  heartbeatText,
  isWire,
  pingAck,
  readFrame,
  readServerText,
  serverGreeted,
  serverHeartbeat,
  serverPingAck,
  serverReading,
  serverText,
  serverWireAfter,
  writeText,
  type CodecMode,
  type FrameRead,
  type FrameReading,
  type Hello,
  type ServerWireState,
} from './index.js';

/**
 * The framing of a resuming connection (B14, B17): how each end reads and writes text frames as the connection moves
 * from plain to the wire format (`wire-codec.ts`, one copy for both ends), and the server's state (`server-wire.ts`).
 */

const SECRET = 'abcdefghijklmnopqrstuv';
const SESSION = 'sess_1';
const HB = '';
const PLAIN_HEARTBEAT: FrameRead = { kind: 'heartbeat', ack: null };

describe('reading text frames, both ends (wire-codec.ts)', () => {
  it('each reading: the plain heartbeat, the handshake control frame it waits for, the wire format', () => {
    const hello = encodeHello({ status: 'new', session: SESSION, secret: SECRET, delivered: 0 });
    const prove = encodeHello({ status: 'prove' });
    const proof = encodeProof({ secret: SECRET, delivered: 3 });
    const cases: readonly [FrameReading, string, FrameRead][] = [
      ['plain', HB, PLAIN_HEARTBEAT],
      ['plain', 'hi', { kind: 'data', text: 'hi' }],
      // Without the wire format, a text that looks like a control frame is application text, as it came.
      ['plain', encodeHeartbeat(4), { kind: 'data', text: encodeHeartbeat(4) }],
      ['plain', hello, { kind: 'data', text: hello }],
      // A client awaiting the hello: the hello and the challenge are read; the rest is plain (a server that does not
      // speak the wire format does not escape its text).
      ['hello', hello, { kind: 'hello', status: 'new', session: SESSION, secret: SECRET, delivered: 0 }],
      ['hello', prove, { kind: 'hello', status: 'prove' }],
      ['hello', HB, PLAIN_HEARTBEAT],
      ['hello', proof, { kind: 'data', text: proof }],
      ['hello', encodeAck(1), { kind: 'data', text: encodeAck(1) }],
      ['hello', `${CONTROL_PREFIX}${CONTROL_PREFIX}x`, { kind: 'data', text: `${CONTROL_PREFIX}${CONTROL_PREFIX}x` }],
      // A server before its hello: the proof is read; the rest is plain (and the hub refuses plain data).
      ['proof', proof, { kind: 'proof', secret: SECRET, delivered: 3 }],
      ['proof', HB, PLAIN_HEARTBEAT],
      ['proof', hello, { kind: 'data', text: hello }],
      ['proof', encodeHeartbeat(2), { kind: 'data', text: encodeHeartbeat(2) }],
      // A server after its hello: the plain heartbeat still is one; the rest is the wire format.
      ['greeted', HB, PLAIN_HEARTBEAT],
      ['greeted', encodeAck(5), { kind: 'ack', ack: 5 }],
      ['greeted', encodeHeartbeat(5), { kind: 'heartbeat', ack: 5 }],
      ['greeted', escapeText(`${CONTROL_PREFIX}x`), { kind: 'data', text: `${CONTROL_PREFIX}x` }],
      ['greeted', proof, { kind: 'invalid' }],
      // The wire format: the heartbeat message is application text; a proof is a protocol error; a hello is read
      // (the client's connection machine decides what a late one means).
      ['wire', HB, { kind: 'data', text: HB }],
      ['wire', encodeHeartbeat(0), { kind: 'heartbeat', ack: 0 }],
      ['wire', encodeAck(7), { kind: 'ack', ack: 7 }],
      ['wire', proof, { kind: 'invalid' }],
      ['wire', `${CONTROL_PREFIX}Z`, { kind: 'invalid' }],
      ['wire', hello, { kind: 'hello', status: 'new', session: SESSION, secret: SECRET, delivered: 0 }],
    ];
    for (const [reading, text, read] of cases) expect(readFrame(reading, text, HB), `${reading} ${JSON.stringify(text)}`).toEqual(read);
  });

  it('writing: text is escaped, heartbeats carry the acknowledgement and pings are read once the wire format is spoken', () => {
    const text = `${CONTROL_PREFIX}A1`;
    const readings: readonly FrameReading[] = ['plain', 'hello', 'proof', 'greeted', 'wire'];
    expect(readings.filter(isWire)).toEqual(['greeted', 'wire']);
    for (const reading of readings) {
      expect(writeText(reading, text)).toBe(isWire(reading) ? escapeText(text) : text);
      expect(pingAck(reading, encodePingAck(12))).toBe(isWire(reading) ? 12 : null);
      expect(pingAck(reading, 'x')).toBeNull();
    }
    expect(heartbeatText(null, 'ping?')).toBe('ping?');
    expect(heartbeatText(9, 'ping?')).toBe(encodeHeartbeat(9));
  });

  test.prop([fc.string({ unit: fc.constantFrom(CONTROL_PREFIX, 'A', 'a', 'H', 'P', '1', ' ', 'x', 'é') }), fc.constantFrom<FrameReading>('greeted', 'wire')])(
    'B14: any application text survives the wire format exactly (escaped as written, read back unchanged)',
    (text, reading) => {
      // (In `greeted`, text equal to the heartbeat message is a heartbeat: the client's first frame after the hello is
      // an acknowledgement, so no application text is read there; see the agreement below.)
      const read = readFrame(reading, writeText('wire', text), HB);
      expect(read).toEqual(reading === 'greeted' && text === HB ? PLAIN_HEARTBEAT : { kind: 'data', text });
    },
  );
});

describe("the server's framing of a resuming connection (server-wire.ts)", () => {
  it('plain until the hello is written, greeted until the first frame that is not the plain heartbeat, then speaking', () => {
    expect(serverReading('plain')).toBe('proof');
    expect(serverReading('greeted')).toBe('greeted');
    expect(serverReading('speaking')).toBe('wire');
    expect(serverGreeted('plain')).toBe('greeted');
    expect(serverGreeted('speaking')).toBe('speaking');
    const states: readonly ServerWireState[] = ['plain', 'greeted', 'speaking'];
    for (const state of states) {
      expect(serverWireAfter(state, PLAIN_HEARTBEAT)).toBe(state);
      expect(serverWireAfter(state, null)).toBe(state === 'greeted' ? 'speaking' : state);
      expect(serverWireAfter(state, { kind: 'ack', ack: 0 })).toBe(state === 'greeted' ? 'speaking' : state);
      expect(serverWireAfter(state, { kind: 'invalid' })).toBe(state === 'greeted' ? 'speaking' : state);
    }
  });

  it('B17: a hello is a protocol error at the server in every state; the proof is read only before the hello', () => {
    const hello = encodeHello({ status: 'resumed', session: SESSION, delivered: 2 });
    expect(readServerText('plain', hello, HB)).toEqual({ kind: 'data', text: hello });
    expect(readServerText('greeted', hello, HB)).toEqual({ kind: 'invalid' });
    expect(readServerText('speaking', hello, HB)).toEqual({ kind: 'invalid' });
    const proof = encodeProof({ secret: SECRET, delivered: 0 });
    expect(readServerText('plain', proof, HB)).toEqual({ kind: 'proof', secret: SECRET, delivered: 0 });
    expect(readServerText('greeted', proof, HB)).toEqual({ kind: 'invalid' });
  });

  it("writes the plain heartbeat before its hello, the wire format's after it (0 once its session let the connection go)", () => {
    expect(serverHeartbeat('plain', null, 'hb')).toBe('hb');
    expect(serverHeartbeat('greeted', 4, 'hb')).toBe(encodeHeartbeat(4));
    expect(serverHeartbeat('speaking', null, 'hb')).toBe(encodeHeartbeat(0));
    expect(serverText('greeted', `${CONTROL_PREFIX}x`)).toBe(escapeText(`${CONTROL_PREFIX}x`));
    expect(serverPingAck('plain', '3')).toBeNull();
    expect(serverPingAck('speaking', '3')).toBe(3);
  });
});

/** What one end means by a frame it writes (what the other end must read). */
type Meant = { readonly kind: 'binary' } | FrameRead;

/**
 * A heartbeat message as a user may choose it, short of one that starts with U+0006: the server in `greeted` would take
 * a client's acknowledgement equal to it for a plain heartbeat (nothing refuses such a message today).
 */
const heartbeatMessages = fc.oneof(fc.constant(''), fc.string({ maxLength: 12 }).filter((text) => !text.startsWith(CONTROL_PREFIX)));
const texts = fc.oneof(fc.string({ unit: fc.constantFrom(CONTROL_PREFIX, 'A', 'a', 'H', 'P', '1', ' ', 'x'), maxLength: 8 }), fc.string({ maxLength: 8 }));
const counts = fc.nat({ max: 1_000 });

/** What an end writes on the wire format: application text (`heartbeat`: text equal to the heartbeat message), keep-alives, binary. */
const wireFrames = fc.array(
  fc.oneof(
    texts.map<Meant | 'heartbeat'>((text) => ({ kind: 'data', text })),
    fc.constant<Meant | 'heartbeat'>('heartbeat'),
    counts.map<Meant | 'heartbeat'>((ack) => ({ kind: 'heartbeat', ack })),
    counts.map<Meant | 'heartbeat'>((ack) => ({ kind: 'ack', ack })),
    fc.constant<Meant | 'heartbeat'>({ kind: 'binary' }),
  ),
  { maxLength: 16 },
);

/** The frames with the heartbeat message's text filled in. */
function meant(frames: readonly (Meant | 'heartbeat')[], heartbeat: string): Meant[] {
  return frames.map((frame) => (frame === 'heartbeat' ? { kind: 'data', text: heartbeat } : frame));
}

/** The frame an end writes for what it means, as the core's codec writes it in `reading` (`null`: a binary frame). */
function written(meant: Meant, reading: FrameReading, heartbeat: string): string | null {
  switch (meant.kind) {
    case 'binary':
      return null;
    case 'data':
      return writeText(reading, meant.text);
    case 'heartbeat':
      return heartbeatText(meant.ack, heartbeat);
    case 'ack':
      return encodeAck(meant.ack);
    case 'proof':
      return encodeProof(meant);
    case 'hello':
      return encodeHello(meant);
    default:
      throw new Error('nothing writes an invalid frame');
  }
}

describe('B14, B17: a client and a server read every frame as the other meant it', () => {
  test.prop([heartbeatMessages, fc.boolean(), fc.nat({ max: 6 }), fc.nat({ max: 6 }), counts, wireFrames])(
    'client to server: plain heartbeats and the proof before the hello, then the wire format, wherever the server writes its hello',
    (heartbeat, challenged, before, inFlight, delivered, after) => {
      // Before the hello the client writes plain heartbeats, and its proof once when challenged; the server writes its
      // hello after reading `before` of them (and the proof), so `inFlight` more cross it. Once it read the hello, the
      // client writes its acknowledgement first (resume-protocol.md section 3), then anything.
      const plain: Meant[] = Array.from({ length: before }, () => PLAIN_HEARTBEAT);
      if (challenged) plain.push({ kind: 'proof', secret: SECRET, delivered });
      const crossing: Meant[] = Array.from({ length: inFlight }, () => PLAIN_HEARTBEAT);
      const wire: Meant[] = [{ kind: 'ack', ack: delivered }, ...meant(after, heartbeat)];
      let state: ServerWireState = 'plain';
      let confirmed = 0;
      const read = (frame: Meant, clientReading: CodecMode): void => {
        const text = written(frame, clientReading, heartbeat);
        const got = text === null ? null : readServerText(state, text, heartbeat);
        const next = serverWireAfter(state, got);
        if (next !== state) confirmed++;
        state = next;
        expect(got ?? { kind: 'binary' }).toEqual(frame);
      };
      for (const frame of plain) read(frame, 'hello');
      state = serverGreeted(state);
      for (const frame of crossing) read(frame, 'hello');
      expect(state).toBe('greeted');
      for (const frame of wire) read(frame, 'wire');
      // The session is confirmed once, by the acknowledgement that follows the hello.
      expect(state).toBe('speaking');
      expect(confirmed).toBe(1);
    },
  );

  test.prop([heartbeatMessages, fc.boolean(), fc.nat({ max: 6 }), fc.boolean(), wireFrames])(
    "server to client: the challenge and plain heartbeats, the hello, then the wire format; the client's codec switches at the hello",
    (heartbeat, challenged, plainBeats, resumed, after) => {
      // The server answers the client's plain heartbeats plainly before its hello (serverHeartbeat in `plain`), writes
      // the challenge first when challenged, and the wire format from its hello on.
      const hello: Hello = resumed ? { status: 'resumed', session: SESSION, delivered: 3 } : { status: 'new', session: SESSION, secret: SECRET, delivered: 0 };
      const frames: Meant[] = [];
      if (challenged) frames.push({ kind: 'hello', status: 'prove' });
      for (let i = 0; i < plainBeats; i++) frames.push(PLAIN_HEARTBEAT);
      frames.push({ kind: 'hello', ...hello });
      frames.push(...meant(after, heartbeat));
      let server: ServerWireState = 'plain';
      let codec: CodecMode = 'hello';
      for (const frame of frames) {
        const text = frame.kind === 'heartbeat' ? serverHeartbeat(server, frame.ack, heartbeat) : written(frame, serverReading(server), heartbeat);
        if (frame.kind === 'hello' && frame.status !== 'prove') server = serverGreeted(server);
        const got = text === null ? null : readFrame(codec, text, heartbeat);
        expect(got ?? { kind: 'binary' }).toEqual(frame);
        // The resume layer's rule (resume-layer.ts): the wire format from a hello that is not a challenge on.
        if (got?.kind === 'hello' && got.status !== 'prove') codec = 'wire';
      }
      expect(codec).toBe('wire');
    },
  );
});
