import { once } from 'node:events';
import { connect as tcpConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createKeepaliveClient, resumable } from './index.node.js';
import { keepAlive } from './server.js';

/**
 * What resume costs on the wire (B14), measured: the same traffic (the client and the server each send 50 messages,
 * one every 20 ms, while the client is busy) with resume off and on, through a TCP proxy that parses every WebSocket
 * frame after the upgrade. The figures are printed; the bounds are the documented ones (docs/resume-protocol.md).
 */

interface FrameCount {
  frames: number;
  bytes: number;
  byOpcode: Record<string, { frames: number; bytes: number }>;
}

const OPCODES: Record<number, string> = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };

/** Counts WebSocket frames in one direction of a connection (after the HTTP upgrade). */
function frameCounter(): { feed: (chunk: Buffer) => void; count: FrameCount; controlTexts: string[] } {
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
