import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createKeepaliveClient, resumable, type ClientSessionEvent, type KeepaliveClient } from '@keepalive/websocket-transport';
import { RuntimeChild, type ChildLine } from 'keepalive-test-support/runtime-child';
import { Queue, within } from 'keepalive-test-support';

/**
 * Resumable sessions (spec B14) on a REAL Deno server: `src/test-support/resume-server.ts` runs `Deno.serve` with
 * `upgradeWithKeepalive(request, { tracker, sessions })` in a Deno child process; the library's own client (wire
 * format v1, on `ws`) and raw `ws` clients drive it from here over 127.0.0.1. Every wait is for an event or a line,
 * bounded.
 */

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = resolve(PACKAGE_DIR, '../..');
const DENO = process.env.KEEPALIVE_DENO ?? join(ROOT, 'node_modules/deno/deno');
// --no-lock: never write a deno.lock into the package; --no-prompt: a missing permission fails instead of waiting.
const DENO_ARGS = ['run', '-A', '--no-prompt', '--no-lock'];
const DENO_ENV = { DENO_DIR: join(ROOT, 'node_modules/.cache/deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
const CONTROL = '\u0006';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(resume: Record<string, unknown> = { ackDelayMs: 20 }): Promise<{ child: RuntimeChild; port: number }> {
  const child = new RuntimeChild(DENO, [...DENO_ARGS, 'src/test-support/resume-server.ts', JSON.stringify(resume)], { cwd: PACKAGE_DIR, env: DENO_ENV, timeoutMs: 60_000 });
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

/** Takes frames until `wanted` arrives; resolves with the frames before it. */
async function framesUntil(frames: Queue<string>, wanted: string, what: string): Promise<string[]> {
  const before: string[] = [];
  for (let frame = await frames.next(what); frame !== wanted; frame = await frames.next(what)) before.push(frame);
  return before;
}

const numbered = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
const dataOf = (lines: readonly ChildLine[]): unknown[] => lines.map((line) => line.data);

describe('upgradeWithKeepalive(request, { sessions }) on a real Deno server (B14)', () => {
  it('B14: every client message arrives exactly once and in order across cuts, and so does every server message', async () => {
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
      // Cut with frames in flight both ways: the client's socket destroyed (no close frame; Deno's server sockets
      // cannot terminate).
      sockets.at(-1)?.terminate();
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
    expect(stats.tracker).toMatchObject({ handlerErrors: 0, deadPeers: 0 });
  });

  it('B14: the keep-alive of a resuming connection is the hub heartbeat, carrying the acknowledgement', async () => {
    const { child, port } = await startServer();
    const resuming = await rawClient(`ws://127.0.0.1:${port}/ws?ka=1`);
    expect((await resuming.frames.next('the hello')).slice(0, 8)).toBe(`${CONTROL}H1 new `);
    resuming.ws.send(`${CONTROL}a0`);
    resuming.ws.send('r1');
    await child.line('message', (line) => line.data === 'r1');
    // The server's own keep-alive (every 100 ms) is a heartbeat frame carrying what it delivered: 0 before r1, 1 after
    // (a standalone acknowledgement may come between, after ackDelayMs).
    const before = await framesUntil(resuming.frames, `${CONTROL}A1`, 'the keep-alive acknowledging r1');
    expect(before.filter((frame) => frame !== `${CONTROL}A0` && frame !== `${CONTROL}a1`)).toEqual([]);
    // The client answers in kind (its heartbeat acknowledges too): the server takes it as the answer to its own and
    // does not reply (no echo loop).
    resuming.ws.send(`${CONTROL}A0`);
    resuming.ws.send('r2');
    await child.line('message', (line) => line.data === 'r2');
    child.command({ cmd: 'stats' });
    const stats = await child.line('stats');
    expect(stats.tracker).toMatchObject({ heartbeatsAnswered: 0, deadPeers: 0, handlerErrors: 0 });
    expect((stats.tracker as { pingsSent: number }).pingsSent).toBeGreaterThan(0);
    expect(dataOf(child.all('message'))).toEqual(['r1', 'r2']);
  });

  it('B14: a plain client on the same server is unaffected: no hello, the plain heartbeat as keep-alive, raw messages to the app', async () => {
    const { child, port } = await startServer();
    // A resuming client speaking the wire format by hand, beside the plain one.
    const resuming = await rawClient(`ws://127.0.0.1:${port}/ws?ka=1`);
    const hello = await resuming.frames.next('the hello');
    expect(hello.slice(0, 8)).toBe(`${CONTROL}H1 new `);
    expect(hello.slice(8)).toMatch(/^[A-Za-z0-9_-]{22} 0$/);
    resuming.ws.send(`${CONTROL}a0`);
    resuming.ws.send('r1');
    resuming.ws.send(`${CONTROL}${CONTROL}escaped`);
    await child.line('message', (line) => line.data === `${CONTROL}escaped`);

    const plain = await rawClient(`ws://127.0.0.1:${port}/ws?room=1`);
    plain.ws.send('hello');
    // Before the echo, only the server's plain keep-alives (the empty text frame): no hello.
    expect((await framesUntil(plain.frames, 'echo:hello', 'the echo')).filter((frame) => frame !== '')).toEqual([]);
    plain.ws.send('marker');
    expect((await framesUntil(plain.frames, 'echo:marker', 'the marker echo')).filter((frame) => frame !== '')).toEqual([]);
    await child.line('raw', (line) => line.data === 'marker');
    // Only the plain client's frames reached the app's listener; only the resuming one's reached a session.
    expect(dataOf(child.all('raw'))).toEqual(['hello', 'marker']);
    expect(dataOf(child.all('message'))).toEqual(['r1', `${CONTROL}escaped`]);
    expect(child.all('session')).toHaveLength(1);
  });
});
