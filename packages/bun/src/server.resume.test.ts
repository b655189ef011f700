import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createKeepaliveClient, resumable, type ClientSessionEvent, type KeepaliveClient } from '@keepalive/websocket-transport';
import { RuntimeChild, type ChildLine } from 'keepalive-test-support/runtime-child';
import { Queue, within } from 'keepalive-test-support';

/**
 * Resumable sessions (spec B14) on a REAL Bun server: `src/test-support/resume-server.ts` runs `Bun.serve` with
 * `withKeepalive(handler, { resume })` in a Bun child process; the library's own client (wire format v1, on `ws`)
 * and raw `ws` clients drive it from here over 127.0.0.1. Every wait is for an event or a line, bounded.
 */

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUN = process.env.KEEPALIVE_BUN ?? join(PACKAGE_DIR, '../../node_modules/bun/bin/bun.exe');
const CONTROL = '\u0006';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(resume: Record<string, unknown> = { ackDelayMs: 20 }): Promise<{ child: RuntimeChild; port: number }> {
  const child = new RuntimeChild(BUN, ['run', 'src/test-support/resume-server.ts', JSON.stringify(resume)], { cwd: PACKAGE_DIR, timeoutMs: 60_000 });
  cleanups.push(() => child.stop());
  const listening = await child.line('listening', undefined, 20_000);
  return { child, port: listening.port as number };
}

/** A raw `ws` client: frames as text, in order. */
async function rawClient(url: string): Promise<{ ws: WebSocket; frames: Queue<string> }> {
  const ws = new WebSocket(url);
  const frames = new Queue<string>(10_000);
  ws.on('error', () => undefined);
  ws.on('message', (data: Buffer) => frames.push(data.toString()));
  cleanups.push(() => ws.terminate());
  await within(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 10_000, 'the raw client to open');
  return { ws, frames };
}

/** The library's resuming client; each connection's `ws` socket is kept, so the test can cut it. */
function resumeClient(port: number): { client: KeepaliveClient; sockets: WebSocket[]; sessions: Queue<ClientSessionEvent>; received: string[]; arrived: Queue<string> } {
  const sockets: WebSocket[] = [];
  const client = createKeepaliveClient(
    ({ query }) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws?${query}`);
      sockets.push(socket);
      return socket;
    },
    { resume: resumable({ ackDelayMs: 20 }), heartbeatIntervalMs: 100, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } },
  );
  cleanups.push(() => client.close());
  const sessions = new Queue<ClientSessionEvent>(10_000);
  const received: string[] = [];
  const arrived = new Queue<string>(10_000);
  client.on('session', (event) => sessions.push(event));
  client.on('message', ({ data }) => {
    const text = typeof data === 'string' ? data : `binary:${[...data].join(',')}`;
    received.push(text);
    arrived.push(text);
  });
  return { client, sockets, sessions, received, arrived };
}

const numbered = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
const dataOf = (lines: readonly ChildLine[]): unknown[] => lines.map((line) => line.data);

describe('withKeepalive(handler, { resume }) on a real Bun server (B14)', () => {
  it('B14: every client message arrives exactly once and in order across cuts on either side, and so does every server message', async () => {
    const { child, port } = await startServer();
    const { client, sockets, sessions, received, arrived } = resumeClient(port);
    expect((await sessions.next('the first session')).status).toBe('new');
    await child.line('session', (line) => line.n === 1 && line.resumed === false);
    let clientSent = 0;
    let serverSent = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 25; i++) client.send(`c${++clientSent}`);
      child.command({ cmd: 'send', count: 25 });
      serverSent += 25;
      await child.line('sent', (line) => line.through === serverSent);
      // Cut with frames in flight both ways: the client's socket destroyed, or the server's terminated (no close frame).
      if (round % 2 === 0) sockets.at(-1)?.terminate();
      else child.command({ cmd: 'cut' });
      // Written while the connection is down: kept for the next one.
      for (let i = 0; i < 5; i++) client.send(`c${++clientSent}`);
      const again = await sessions.next(`the session resumed after cut ${round + 1}`);
      expect(again.status).toBe('resumed');
    }
    child.command({ cmd: 'send-binary', bytes: [0, 1, 255] });
    client.send(new Uint8Array([7, 8, 9]));
    await child.line('message', (line) => JSON.stringify(line.data) === JSON.stringify({ binary: [7, 8, 9] }));
    while (received.at(-1) !== 'binary:0,1,255') await arrived.next('the server messages');
    const closed = await client.close();
    const end = await child.line('closed', (line) => line.n === 1);
    expect(end).toMatchObject({ by: 'client', code: 1000 });
    // Exactly once, in order, both ways, in one session.
    expect(dataOf(child.all('message'))).toEqual([...numbered('c', clientSent), { binary: [7, 8, 9] }]);
    expect(received).toEqual([...numbered('s', serverSent), 'binary:0,1,255']);
    expect(closed.undelivered).toEqual([]);
    expect(child.all('session')).toHaveLength(5);
    expect(child.all('session').every((line) => line.n === 1)).toBe(true);
    // The resuming client's frames never reached the app's own message handler.
    expect(child.all('raw')).toEqual([]);
    child.command({ cmd: 'stats' });
    const stats = await child.line('stats');
    expect(stats.hub).toMatchObject({ created: 1, resumed: 4, forgotten: 0, protocolErrors: 0, invalidRequests: 0, socketErrors: 0 });
    expect(stats.tracker).toMatchObject({ handlerErrors: 0 });
  });

  it('B14: a plain client on the same server is unaffected: no hello, heartbeats answered in kind, raw messages to the app', async () => {
    const { child, port } = await startServer();
    // A resuming client speaking the wire format by hand, beside the plain one.
    const resuming = await rawClient(`ws://127.0.0.1:${port}/ws?ka=1`);
    const hello = await resuming.frames.next('the hello');
    expect(hello.slice(0, 8)).toBe(`${CONTROL}H1 new `);
    expect(hello.slice(8)).toMatch(/^[A-Za-z0-9_-]{22} 0$/);
    resuming.ws.send(`${CONTROL}a0`);
    resuming.ws.send('r1');
    resuming.ws.send(`${CONTROL}${CONTROL}escaped`);
    resuming.ws.send(`${CONTROL}A0`);
    // The answer carries the acknowledgement (a standalone one may come first, after ackDelayMs).
    let answer = await resuming.frames.next('the answer to the heartbeat');
    while (answer === `${CONTROL}a2`) answer = await resuming.frames.next('the answer to the heartbeat');
    expect(answer).toBe(`${CONTROL}A2`);
    await child.line('message', (line) => line.data === `${CONTROL}escaped`);

    const plain = await rawClient(`ws://127.0.0.1:${port}/ws?room=1`);
    plain.ws.send('hello');
    expect(await plain.frames.next('the echo')).toBe('echo:hello');
    plain.ws.send('');
    expect(await plain.frames.next('the heartbeat answer')).toBe('');
    plain.ws.send('marker');
    expect(await plain.frames.next('the marker echo')).toBe('echo:marker');
    await child.line('raw', (line) => line.data === 'marker');
    // Only the plain client's frames reached the app's handler; only the resuming one's reached a session.
    expect(dataOf(child.all('raw'))).toEqual(['hello', '', 'marker']);
    expect(dataOf(child.all('message'))).toEqual(['r1', `${CONTROL}escaped`]);
    expect(child.all('session')).toHaveLength(1);
  });

  it('B14: a socket upgraded without data.url is served as a plain client, with one warn diagnostic however many come', async () => {
    const { child, port } = await startServer();
    for (const round of [1, 2]) {
      const client = await rawClient(`ws://127.0.0.1:${port}/nourl?ka=1`);
      client.ws.send(`ping${round}`);
      // The first frame is the app's echo: no hello.
      expect(await client.frames.next('the echo')).toBe(`echo:ping${round}`);
    }
    await child.line('raw', (line) => line.data === 'ping2');
    expect(child.all('diagnostic').filter((line) => line.name === 'resume_url_missing')).toEqual([{ type: 'diagnostic', name: 'resume_url_missing', level: 'warn' }]);
    expect(child.all('session')).toEqual([]);
  });
});
