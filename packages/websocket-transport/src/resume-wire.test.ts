import { once } from 'node:events';
import { connect as tcpConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { Queue } from 'keepalive-test-support';
import { createKeepaliveClient, resumable, type ClientSessionEvent } from './index.node.js';
import type { ResumableSession, SessionEvent } from './resume-server.js';
import { keepAlive } from './server.js';

/**
 * What resume costs on the wire (B14), measured: the same traffic (the client and the server each send 50 messages,
 * one every 20 ms, while the client is busy) with resume off and on, through a TCP proxy that parses every WebSocket
 * frame after the upgrade. The figures are printed; the bounds are the documented ones (docs/resume-protocol.md).
 * Then one resume (B14, B17): what the resumed connection costs before its first application frame (the URL, the
 * challenge, the proof, the hello, the first acknowledgement) and how many round trips the hello waits for.
 */

interface FrameCount {
  frames: number;
  bytes: number;
  byOpcode: Record<string, { frames: number; bytes: number }>;
}

const OPCODES: Record<number, string> = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };

/** A frame as the proxy saw it: its opcode, its size on the wire (header, mask and payload) and its unmasked payload. */
interface SeenFrame {
  opcode: string;
  bytes: number;
  payload: Buffer;
}

/**
 * Counts WebSocket frames in one direction of a connection (after the HTTP upgrade). `onHead` gets the HTTP head (the
 * upgrade request, or the 101 response), `onFrame` every frame, in order.
 */
function frameCounter(onHead?: (head: string) => void, onFrame?: (frame: SeenFrame) => void): { feed: (chunk: Buffer) => void; count: FrameCount; controlTexts: string[] } {
  const count: FrameCount = { frames: 0, bytes: 0, byOpcode: {} };
  const controlTexts: string[] = [];
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  return {
    count,
    controlTexts,
    feed: (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        onHead?.(buffer.subarray(0, end + 4).toString('latin1'));
        buffer = buffer.subarray(end + 4);
        upgraded = true;
      }
      for (;;) {
        if (buffer.length < 2) return;
        const first = buffer[0] as number;
        const second = buffer[1] as number;
        const masked = (second & 0x80) !== 0;
        let length = second & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) return;
          length = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        const total = offset + (masked ? 4 : 0) + length;
        if (buffer.length < total) return;
        const opcode = OPCODES[first & 0x0f] ?? 'other';
        let payload = buffer.subarray(offset + (masked ? 4 : 0), total);
        if (masked) {
          const mask = buffer.subarray(offset, offset + 4);
          payload = Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] as number)));
        }
        if (opcode === 'text' && payload[0] === 0x06) controlTexts.push(payload.toString('utf8'));
        onFrame?.({ opcode, bytes: total, payload });
        count.frames++;
        count.bytes += total;
        const slot = (count.byOpcode[opcode] ??= { frames: 0, bytes: 0 });
        slot.frames++;
        slot.bytes += total;
        buffer = buffer.subarray(total);
      }
    },
  };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function measure(resume: boolean): Promise<{ up: ReturnType<typeof frameCounter>; down: ReturnType<typeof frameCounter>; delivered: number; received: number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const heartbeat = keepAlive(wss, { pingIntervalMs: 100, pongTimeoutMs: 1_000, minPingIntervalMs: 50, ...(resume ? { resume: true } : {}) });
  cleanups.push(() => new Promise<void>((resolve) => {
    heartbeat.close();
    for (const client of wss.clients) client.terminate();
    wss.close(() => resolve());
  }));
  let delivered = 0;
  const serverSends: ((text: string) => void)[] = [];
  let unackedAtServer = (): number => 0;
  if (resume) {
    heartbeat.sessions?.on('session', ({ session }) => {
      session.on('message', () => delivered++);
      serverSends.push((text) => session.send(text));
      unackedAtServer = () => session.unackedMessages;
    });
  } else {
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer) => {
        if (data.byteLength > 0) delivered++;
      });
      serverSends.push((text) => ws.send(text));
    });
  }
  const up = frameCounter();
  const down = frameCounter();
  const target = (wss.address() as AddressInfo).port;
  const proxy = createServer((client: Socket) => {
    const upstream = tcpConnect(target, '127.0.0.1');
    client.on('data', (chunk: Buffer) => {
      up.feed(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      down.feed(chunk);
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  const client = createKeepaliveClient(`ws://127.0.0.1:${String((proxy.address() as AddressInfo).port)}`, { heartbeatIntervalMs: 100, resume: resume && resumable() });
  cleanups.push(() => client.close());
  let received = 0;
  client.on('message', () => received++);
  await new Promise<void>((resolve) => client.on(resume ? 'session' : 'open', () => resolve()));
  const release = client.activity.start('stream');
  for (let i = 0; i < 50; i++) {
    client.send(`client message ${String(i)}`);
    serverSends[0]?.(`server message ${String(i)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Until everything is delivered and acknowledged both ways (bounded).
  for (let i = 0; i < 300 && (delivered < 50 || received < 50 || client.queuedMessages > 0 || unackedAtServer() > 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  release();
  await client.close();
  return { up, down, delivered, received };
}

describe('B14: what resume costs on the wire', () => {
  it('B14: no bytes per message; acknowledgements ride on keep-alives or go at most once per ackDelayMs; a hello and one ack per connection', async () => {
    const off = await measure(false);
    const on = await measure(true);
    expect([off.delivered, off.received, on.delivered, on.received]).toEqual([50, 50, 50, 50]);
    const row = (name: string, m: typeof on): string =>
      `  ${name}: client→server ${String(m.up.count.frames)} frames / ${String(m.up.count.bytes)} B ${JSON.stringify(m.up.count.byOpcode)}; server→client ${String(m.down.count.frames)} frames / ${String(m.down.count.bytes)} B ${JSON.stringify(m.down.count.byOpcode)}`;
    const controls = [...on.up.controlTexts.map((text) => `up ${JSON.stringify(text)}`), ...on.down.controlTexts.map((text) => `down ${JSON.stringify(text)}`)];
    console.log(`resume on the wire (50 messages each way, 20 ms apart, 100 ms keep-alives):\n${row('off', off)}\n${row('on ', on)}\n  control frames: ${controls.join(', ')}`);
    // Data frames are the same: no header per message.
    expect(on.up.count.byOpcode.text?.bytes ?? 0).toBeGreaterThanOrEqual(off.up.count.byOpcode.text?.bytes ?? 0);
    const dataBytes = (m: typeof on, direction: 'up' | 'down'): number => (m[direction].count.byOpcode.text?.bytes ?? 0) - m[direction].controlTexts.reduce((sum, text) => sum + Buffer.byteLength(text) + (direction === 'up' ? 6 : 2), 0);
    expect(dataBytes(on, 'up')).toBe(dataBytes(off, 'up'));
    expect(dataBytes(on, 'down')).toBe(dataBytes(off, 'down'));
    // Control frames: the hello, the client's first ack, and acknowledgements that found no keep-alive to ride on.
    expect(on.down.controlTexts.filter((text) => text.startsWith('\u0006H2 new '))).toHaveLength(1);
    expect(on.up.controlTexts[0]).toBe('\u0006a0');
    // Acks ride on pings (ping payloads are counted in the ping bytes): at most a few stand alone in a 1 s run.
    expect(on.up.controlTexts.filter((text) => text.startsWith('\u0006a')).length).toBeLessThanOrEqual(1 + 3);
    expect(on.down.controlTexts.filter((text) => text.startsWith('\u0006a')).length).toBeLessThanOrEqual(3);
  });
});

/** An HTTP head or a frame of one proxied connection, in the order the proxy saw them (both directions). */
type WireEvent = { readonly dir: 'up' | 'down'; readonly head: string } | ({ readonly dir: 'up' | 'down'; readonly head: null } & SeenFrame);

interface ProxiedConnection {
  /** The upgrade request's head: its request line (with the URL) and headers. */
  requestHead: string;
  readonly events: WireEvent[];
  /** Destroys both of the proxy's sockets of this connection: a cut, no close frame either way. */
  cut(): void;
}

/**
 * A TCP proxy that records every connection's heads and frames in order. `hold()` keeps new connections from reaching
 * the server until the function it returns is called (their bytes wait in the paused socket).
 */
async function recordingProxy(target: number): Promise<{ port: number; connections: ProxiedConnection[]; hold: () => () => void }> {
  const connections: ProxiedConnection[] = [];
  let gate: Promise<void> = Promise.resolve();
  const proxy = createServer((client: Socket) => {
    client.pause();
    client.on('error', () => undefined);
    void gate.then(() => {
      const upstream = tcpConnect(target, '127.0.0.1');
      const connection: ProxiedConnection = {
        requestHead: '',
        events: [],
        cut: () => {
          client.destroy();
          upstream.destroy();
        },
      };
      connections.push(connection);
      const up = frameCounter(
        (head) => {
          connection.requestHead = head;
          connection.events.push({ dir: 'up', head });
        },
        (frame) => connection.events.push({ dir: 'up', head: null, ...frame }),
      );
      const down = frameCounter(
        (head) => connection.events.push({ dir: 'down', head }),
        (frame) => connection.events.push({ dir: 'down', head: null, ...frame }),
      );
      client.on('data', (chunk: Buffer) => {
        up.feed(chunk);
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        down.feed(chunk);
        client.write(chunk);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      upstream.on('error', () => undefined);
      client.resume();
    });
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  return {
    port: (proxy.address() as AddressInfo).port,
    connections,
    hold: () => {
      let open = (): void => undefined;
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      return open;
    },
  };
}

const CONTROL = '\u0006';

/** Whether a frame carries application data: binary, or text that is not a control frame and not the empty plain heartbeat. */
function isData(frame: SeenFrame): boolean {
  if (frame.opcode === 'binary') return true;
  if (frame.opcode !== 'text' || frame.payload.length === 0) return false;
  return frame.payload[0] !== 0x06 || frame.payload[1] === 0x06;
}

/** The frames one way of a connection before the first application frame that way. */
function beforeData(connection: ProxiedConnection, dir: 'up' | 'down'): SeenFrame[] {
  const frames: SeenFrame[] = [];
  for (const event of connection.events) {
    if (event.dir !== dir || event.head !== null) continue;
    if (isData(event)) return frames;
    frames.push(event);
  }
  throw new Error(`no application frame ${dir}`);
}

/**
 * Round trips from the socket's opening (the 101 response) to the hello that gives the client its session (`H2 new` or
 * `H2 resumed`), counted from the order of frames: each time the server writes after the client wrote (down after
 * up), the server waited for the client.
 */
function roundTripsToHello(connection: ProxiedConnection): number {
  let open = false;
  let last: 'up' | 'down' = 'down';
  let trips = 0;
  for (const event of connection.events) {
    if (event.head !== null) {
      if (event.dir === 'down') open = true;
      continue;
    }
    if (!open) continue;
    if (event.dir === 'down' && last === 'up') trips++;
    last = event.dir;
    const text = event.opcode === 'text' ? event.payload.toString('utf8') : '';
    if (event.dir === 'down' && (text.startsWith(`${CONTROL}H2 new `) || text.startsWith(`${CONTROL}H2 resumed `))) return trips;
  }
  throw new Error('no hello');
}

/** The query string of an upgrade request's URL, with its `?` (what the resume parameters add to the request line). */
function queryOf(requestHead: string): string {
  const target = requestHead.split('\r\n')[0]?.split(' ')[1] ?? '';
  const at = target.indexOf('?');
  return at < 0 ? '' : target.slice(at);
}

async function take<T>(queue: Queue<T>, count: number, what: string): Promise<T[]> {
  const items: T[] = [];
  for (let i = 0; i < count; i++) items.push(await queue.next(what));
  return items;
}

describe('B14, B17: what one resume costs on the wire', () => {
  it('B17: a resume costs a challenge, a proof and one round trip; the URL names the session only; the secret travels once, in the proof', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    // Keep-alives far apart: the resumed connection carries only the handshake and the messages (acknowledgements go
    // in the proof, the hello and the client's first acknowledgement).
    const heartbeat = keepAlive(wss, { pingIntervalMs: 60_000, pongTimeoutMs: 60_000, resume: {} });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          heartbeat.close();
          for (const socket of wss.clients) socket.terminate();
          wss.close(() => resolve());
        }),
    );
    const serverSessions = new Queue<SessionEvent>();
    const delivered: string[] = [];
    const deliveries = new Queue<string>();
    heartbeat.sessions.on('session', (event) => {
      if (!event.resumed) {
        event.session.on('message', (data) => {
          const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
          delivered.push(text);
          deliveries.push(text);
        });
      }
      serverSessions.push(event);
    });
    // What the server had delivered when each of its sockets closed.
    const serverCloses = new Queue<number>();
    wss.on('connection', (socket) => socket.on('close', () => serverCloses.push(delivered.length)));
    const proxy = await recordingProxy((wss.address() as AddressInfo).port);
    const client = createKeepaliveClient(`ws://127.0.0.1:${String(proxy.port)}`, { heartbeatIntervalMs: 60_000, resume: resumable(), reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    cleanups.push(() => client.close().catch(() => undefined));
    const clientSessions = new Queue<ClientSessionEvent>();
    client.on('session', (event) => clientSessions.push(event));
    const received: string[] = [];
    const receipts = new Queue<string>();
    client.on('message', ({ data }) => {
      received.push(String(data));
      receipts.push(String(data));
    });
    // What the client had received when each of its sockets closed.
    const clientCloses = new Queue<number>();
    client.on('close', () => clientCloses.push(received.length));

    expect((await clientSessions.next('the new session')).status).toBe('new');
    const session: ResumableSession = (await serverSessions.next('the server session')).session;
    // Some traffic: five messages each way, all delivered.
    for (let i = 0; i < 5; i++) {
      client.send(`client ${String(i)}`);
      session.send(`server ${String(i)}`);
    }
    await take(deliveries, 5, 'the client messages');
    await take(receipts, 5, 'the server messages');

    // The cut: both of the proxy's sockets destroyed (no close frame); the reconnect is held at the proxy until both
    // ends have seen the loss, so that what each side sends meanwhile waits for the resume.
    const release = proxy.hold();
    proxy.connections[0]?.cut();
    const receivedAtCut = await clientCloses.next('the client to see the cut');
    const deliveredAtCut = await serverCloses.next('the server to see the cut');
    expect([receivedAtCut, deliveredAtCut]).toEqual([5, 5]);
    for (let i = 0; i < 3; i++) {
      expect(session.send(`server away ${String(i)}`)).toBe('queued');
      client.send(`client away ${String(i)}`);
    }
    release();
    expect(await clientSessions.next('the resumed session')).toEqual({ status: 'resumed', retransmitted: 0 });
    const again = await serverSessions.next('the server to resume');
    expect([again.resumed, again.session]).toEqual([true, session]);
    await take(deliveries, 3, 'the client messages sent while away');
    await take(receipts, 3, 'the server messages sent while away');
    // B14: exactly once, in order, across the cut.
    const names = (who: string): string[] => [...[0, 1, 2, 3, 4].map((i) => `${who} ${String(i)}`), ...[0, 1, 2].map((i) => `${who} away ${String(i)}`)];
    expect(delivered).toEqual(names('client'));
    expect(received).toEqual(names('server'));

    expect(proxy.connections).toHaveLength(2);
    const [first, resumed] = proxy.connections as [ProxiedConnection, ProxiedConnection];
    const newHello = beforeData(first, 'down').map((frame) => frame.payload.toString('utf8'));
    expect(newHello).toHaveLength(1);
    const [, , id = '', secret = ''] = (newHello[0] ?? '').split(' ');
    expect(newHello[0]).toBe(`${CONTROL}H2 new ${id} ${secret}`);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{22}$/);

    // The URL: the version, the session id (public) and `ka_p`; never the secret, never `ka_d`.
    const newQuery = queryOf(first.requestHead);
    const resumeQuery = queryOf(resumed.requestHead);
    expect(newQuery).toBe('?ka=2&ka_p=1');
    expect(resumeQuery).toBe(`?ka=2&ka_s=${id}&ka_p=1`);
    for (const { requestHead } of proxy.connections) {
      expect(requestHead).not.toContain(secret);
      expect(requestHead).not.toContain('ka_d');
    }

    // Before the first application frame each way: one challenge and one `resumed` hello down, one proof and the
    // first acknowledgement up; nothing else (no ping, no plain heartbeat).
    const down = beforeData(resumed, 'down');
    const up = beforeData(resumed, 'up');
    expect(down.map((frame) => [frame.opcode, frame.payload.toString('utf8')])).toEqual([
      ['text', `${CONTROL}H2 prove`],
      ['text', `${CONTROL}H2 resumed ${id} 5`],
    ]);
    expect(up.map((frame) => [frame.opcode, frame.payload.toString('utf8')])).toEqual([
      ['text', `${CONTROL}P${secret} 5`],
      ['text', `${CONTROL}a5`],
    ]);
    // The proof is the only frame of the resumed connection, either way, that contains the secret.
    const withSecret = resumed.events.filter((event) => (event.head ?? event.payload.toString('utf8')).includes(secret));
    expect(withSecret.map((event) => [event.dir, event.head === null ? event.payload.toString('utf8') : 'head'])).toEqual([['up', `${CONTROL}P${secret} 5`]]);
    // Nothing was sent twice: the proof's and the hello's counts acknowledged everything delivered before the cut.
    const dataOf = (dir: 'up' | 'down'): string[] => resumed.events.flatMap((event) => (event.dir === dir && event.head === null && isData(event) ? [event.payload.toString('utf8')] : []));
    expect([dataOf('up'), dataOf('down')]).toEqual([names('client').slice(5), names('server').slice(5)]);
    // Round trips from the socket's opening to the hello: none for a new session, one (challenge, proof) to resume.
    expect(roundTripsToHello(first)).toBe(0);
    expect(roundTripsToHello(resumed)).toBe(1);

    const requestLine = (head: string): string => head.split('\r\n')[0] ?? '';
    const shown = (frame: SeenFrame): string => `${JSON.stringify(frame.payload.toString('utf8').replace(secret, '<secret>').replace(id, '<id>'))} ${String(frame.bytes)} B`;
    const sum = (frames: SeenFrame[]): number => frames.reduce((total, frame) => total + frame.bytes, 0);
    console.log(
      [
        'one resume on the wire (5 messages each way, a cut, 3 more each way while away):',
        `  URL: resume parameters ${String(Buffer.byteLength(resumeQuery))} B on the resumed connection (request line ${String(Buffer.byteLength(requestLine(resumed.requestHead)))} B), ${String(Buffer.byteLength(newQuery))} B on a new one`,
        `  server→client before data: ${down.map(shown).join(', ')} (${String(down.length)} frames, ${String(sum(down))} B)`,
        `  client→server before data: ${up.map(shown).join(', ')} (${String(up.length)} frames, ${String(sum(up))} B)`,
        `  new session for comparison: server→client ${beforeData(first, 'down').map(shown).join(', ')}; client→server ${beforeData(first, 'up').map(shown).join(', ')}`,
        `  round trips from the socket's opening to the hello: ${String(roundTripsToHello(resumed))} to resume (challenge → proof → hello), ${String(roundTripsToHello(first))} for a new session`,
      ].join('\n'),
    );
  });
});
