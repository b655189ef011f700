import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startDemoServer, type DemoServer } from './server.js';
import { startWorkers, type Workers } from './workers.js';
import { within } from 'keepalive-test-support';

/** The demo server with real sockets on 127.0.0.1, random ports; every wait bounded. */

const TOKEN = 'test-token-123';
const IDLE = 600;
let server: DemoServer | null = null;
let workers: Workers | null = null;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await workers?.shutdown();
  workers = null;
  await server?.close();
  server = null;
});

async function start(): Promise<DemoServer> {
  server = await startDemoServer({ host: '127.0.0.1', port: 0, token: TOKEN, idleLimitMs: IDLE, pongTimeoutMs: 300, maxPayload: 4_096 });
  return server;
}

function open(url: string, headers: Record<string, string> = {}): WebSocket {
  const socket = new WebSocket(url, { headers });
  socket.on('error', () => undefined);
  sockets.push(socket);
  return socket;
}

async function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  const socket = open(url, headers);
  const [, response] = (await within(once(socket, 'unexpected-response'), 2_000, 'refusal')) as [unknown, IncomingMessage];
  return response.statusCode ?? 0;
}

describe('demo server', () => {
  it('an upgrade without the token, or with a wrong one, gets 401', async () => {
    const s = await start();
    expect(await status(s.workerUrl.replace(/\?token=.*/, ''))).toBe(401);
    expect(await status(s.workerUrl.replace(TOKEN, 'wrong-token-12'))).toBe(401);
    expect(await status(s.workerUrl.replace('/worker', '/dashboard'), { origin: 'http://evil.example' })).toBe(403);
    const page = await fetch(s.dashboardUrl.replace(TOKEN, 'nope-nope-nope'));
    expect(page.status).toBe(401);
    const ok = await fetch(s.dashboardUrl);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('<table id="workers">');
  });

  it('an oversized frame gets 1009', async () => {
    const s = await start();
    const socket = open(s.workerUrl);
    await within(once(socket, 'open'), 2_000, 'open');
    const closed = once(socket, 'close');
    socket.send(Buffer.alloc(8_192));
    const [code] = (await within(closed, 2_000, 'close')) as [number];
    expect(code).toBe(1009);
  });

  it('an idle worker is reclaimed with 4000 after the idle limit', async () => {
    const s = await start();
    const socket = open(s.workerUrl);
    await within(once(socket, 'open'), 2_000, 'open');
    const openedAt = performance.now();
    const [code, reason] = (await within(once(socket, 'close'), 10_000, () => `reclaim (server: ${JSON.stringify(s.reclaimer.stats())})`)) as [number, Buffer];
    expect(code).toBe(4000);
    expect(reason.toString()).toBe('idle_timeout');
    expect(performance.now() - openedAt).toBeGreaterThanOrEqual(IDLE - 20);
    expect(s.reclaimer.stats().idleClosed).toBe(1);
  });

  it('a busy worker (the library client) survives well past the idle limit, then is reclaimed once idle', async () => {
    const s = await start();
    workers = startWorkers({ url: s.workerUrl, count: 1, heartbeatIntervalMs: 150, pongTimeoutMs: 300, seed: 1, autoWork: false, withBareWorker: false, idleLimitMs: IDLE });
    const [worker] = workers.list;
    await within(worker!.opened(), 3_000, 'worker open');
    worker!.startLongTool(IDLE * 4);
    await new Promise((resolve) => setTimeout(resolve, IDLE * 4 - 100));
    expect(worker!.view().state).toBe('busy');
    expect(worker!.view().reclaimed).toBe(0);
    expect(worker!.view().keepalivesSent).toBeGreaterThanOrEqual(8);
    await within(worker!.reclaimedOnce(), IDLE * 4, 'reclaim after going idle');
    expect(worker!.view().reclaimed).toBe(1);
    expect(s.reclaimer.stats().idleClosed).toBe(1);
  });
});

describe('demo server under ~1,000 half-finished requests', () => {
  const raw: Socket[] = [];
  afterEach(() => {
    for (const socket of raw.splice(0)) socket.destroy();
  });

  async function halfRequest(port: number): Promise<Socket> {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    // Read what comes (a 408), so the close is seen.
    socket.resume();
    raw.push(socket);
    await within(once(socket, 'connect'), 5_000, 'tcp connect');
    // Headers that never finish (no blank line): the slowloris pattern.
    socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    return socket;
  }

  it('still answers a real request while 1,000 connections dribble headers, then sheds the rest with 503 and recovers', async () => {
    server = await startDemoServer({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      idleLimitMs: IDLE,
      pongTimeoutMs: 300,
      maxPayload: 4_096,
      http: { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000, keepAliveTimeoutMs: 60_000, maxPending: 64, maxConnections: 512 },
    });
    const s = server;
    const port = Number(new URL(s.origin).port);
    for (let i = 0; i < 1_000; i++) await halfRequest(port);
    // Never more than the pending cap waiting for headers: the oldest were evicted to make room.
    expect(s.connections().evicted).toBeGreaterThanOrEqual(1_000 - 64);
    expect(s.connections().pending).toBeLessThanOrEqual(64);
    const page = await within(fetch(s.dashboardUrl), 5_000, 'the dashboard page while under load');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<table id="workers">');

    // The cap on open connections: beyond it, a clear 503 (not a hang); the server keeps serving afterwards.
    const held: Socket[] = [];
    const full = async (): Promise<void> => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      raw.push(socket);
      held.push(socket);
      await within(once(socket, 'connect'), 5_000, 'tcp connect');
      // A finished request on a keep-alive connection: it stays open, not pending.
      socket.write('GET /style.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await within(once(socket, 'data'), 5_000, 'response');
    };
    for (let i = 0; i < 512; i++) await full();
    const over = connect(port, '127.0.0.1');
    over.on('error', () => undefined);
    raw.push(over);
    const [answer] = (await within(once(over, 'data'), 5_000, 'the 503')) as [Buffer];
    expect(answer.toString()).toMatch(/^HTTP\/1.1 503 /);
    expect(s.connections().shed).toBeGreaterThanOrEqual(1);

    for (const socket of held) socket.destroy();
    // Recovers: once the held connections are gone, a request is served again (bounded wait on the count).
    const deadline = performance.now() + 5_000;
    while (s.connections().open > 0 && performance.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    const again = await within(fetch(s.dashboardUrl), 5_000, 'the dashboard page after the load');
    expect(again.status).toBe(200);
  });

  it('drops a connection that never finishes its headers within the header timeout', async () => {
    server = await startDemoServer({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      idleLimitMs: IDLE,
      pongTimeoutMs: 300,
      maxPayload: 4_096,
      http: { headersTimeoutMs: 300, requestTimeoutMs: 600 },
    });
    const socket = await halfRequest(Number(new URL(server.origin).port));
    const openedAt = performance.now();
    await within(once(socket, 'close'), 10_000, 'the server closing the half-finished request');
    expect(performance.now() - openedAt).toBeGreaterThanOrEqual(250);
  });
});
