import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { KeepaliveOptionError } from '@keepalive/core';
import { createScheduler } from '@keepalive/node-timers';
import { HEARTBEAT_MESSAGE } from './heartbeat.js';
import { createKeepaliveServer, keepAlive, type ServerKeepalive } from './server.js';
import { manualPlatform, within } from 'keepalive-test-support';

/** The server side with real sockets on 127.0.0.1, random ports, every wait bounded. */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options: Parameters<typeof keepAlive>[1] = {}, maxPayload = 1 << 20): Promise<{ wss: WebSocketServer; heartbeat: ServerKeepalive; url: string }> {
  const { wss, heartbeat } = createKeepaliveServer({ host: '127.0.0.1', port: 0, maxPayload, keepalive: { scheduler: createScheduler(), ...options } });
  await once(wss, 'listening');
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('unexpected address');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        heartbeat.close();
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  );
  return { wss, heartbeat, url: `ws://127.0.0.1:${address.port}` };
}

async function client(url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const socket = new WebSocket(url, options);
  socket.on('error', () => undefined);
  cleanups.push(() => socket.terminate());
  await once(socket, 'open');
  return socket;
}

function closeOf(socket: WebSocket): Promise<{ code: number; reason: string; at: number }> {
  return new Promise((resolve) => socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString(), at: performance.now() })));
}

describe('server keep-alive over real sockets', () => {
  it('B5, B16: pings every active connection at the interval (its own keep-alives keep it active); clients that answer stay open', async () => {
    const { url, heartbeat } = await server({ pingIntervalMs: 100, pongTimeoutMs: 80, minPingIntervalMs: 10 });
    const socket = await client(url);
    const pings: number[] = [];
    socket.on('ping', () => pings.push(performance.now()));
    // A busy client: its own keep-alive every 50 ms.
    const busy = setInterval(() => socket.ping(), 50);
    onTestFinished(() => clearInterval(busy));
    await within(
      new Promise<void>((resolve) => socket.on('ping', () => pings.length >= 5 && resolve())),
      2_000,
      '5 pings',
    );
    const gaps = pings.slice(1).map((t, i) => t - pings[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThan(60);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    expect(heartbeat.stats()).toMatchObject({ tracked: 1, deadPeers: 0 });
    expect(heartbeat.stats().pingsSent).toBeGreaterThanOrEqual(5);
  });

  it('B16: an idle client (it sends nothing of its own) gets one ping and one probe, then nothing, so a reclaimer on the path can reclaim it; its first keep-alive brings the pings back', async () => {
    // The server's clock is driven by hand (no pong deadline: B16 alone), the sockets are real. A barrier (the client's
    // ping, answered by the server's pong) shows the client has everything the server wrote before it.
    const platform = manualPlatform();
    const { url, heartbeat } = await server({ scheduler: createScheduler({ platform }), pingIntervalMs: 1_000, terminateDeadPeers: false, minPingIntervalMs: 10, random: () => 0.5 });
    const socket = await client(url);
    let pings = 0;
    socket.on('ping', () => pings++);
    const barrier = async (): Promise<void> => {
      const pong = new Promise<void>((resolve) => socket.once('pong', () => resolve()));
      socket.ping();
      await within(pong, 2_000, 'pong');
    };
    // Idle from the start, for 40 intervals: the ping of its first interval and one probe.
    platform.advance(40_000);
    expect(heartbeat.stats().pingsSent).toBe(2);
    // Its keep-alive (the barrier's ping) makes it active: pinged again within an interval, then left alone again.
    await barrier();
    expect(pings).toBe(2);
    platform.advance(999);
    expect(heartbeat.stats().pingsSent).toBe(2);
    platform.advance(1);
    expect(heartbeat.stats().pingsSent).toBe(3);
    platform.advance(40_000);
    expect(heartbeat.stats().pingsSent).toBe(4);
    await barrier();
    expect(pings).toBe(4);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    expect(heartbeat.stats()).toMatchObject({ tracked: 1, deadPeers: 0 });
  });

  it("B3: with pingPhase 'random', pings of connections opened together are spread across the interval, not one burst", async () => {
    const { url } = await server({ pingIntervalMs: 400, pongTimeoutMs: 400, pingPhase: 'random' });
    const sockets = await Promise.all(Array.from({ length: 20 }, () => client(url)));
    const firstPing = await within(
      Promise.all(sockets.map((s) => new Promise<number>((resolve) => s.once('ping', () => resolve(performance.now()))))),
      3_000,
      'first pings',
    );
    const spread = Math.max(...firstPing) - Math.min(...firstPing);
    expect(spread).toBeGreaterThan(100);
    expect(new Set(firstPing.map((t) => Math.floor(t / 20))).size).toBeGreaterThan(5);
  });

  it('B5: a frozen client (SIGSTOP) is terminated within interval + timeout + allowance', async () => {
    const interval = 200;
    const timeout = 150;
    const { url, heartbeat, wss } = await server({ pingIntervalMs: interval, pongTimeoutMs: timeout });
    const fixture = fileURLToPath(new URL('./test-support/server-frozen-client.mjs', import.meta.url));
    const child: ChildProcess = spawn(process.execPath, [fixture, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    });
    await within(once(child.stdout!, 'data'), 5_000, 'child open');
    const serverSide = await within(
      new Promise<WebSocket>((resolve) => {
        const [first] = wss.clients;
        if (first) resolve(first);
        else wss.once('connection', resolve);
      }),
      2_000,
      'server socket',
    );
    const closed = closeOf(serverSide);
    const frozenAt = performance.now();
    child.kill('SIGSTOP');
    const { at, code } = await within(closed, 5_000, 'dead-peer close');
    const detection = at - frozenAt;
    console.log(`server dead-peer detection: ${detection.toFixed(0)} ms (bound ${interval + timeout} ms)`);
    expect(code).toBe(1006);
    expect(detection).toBeLessThanOrEqual(interval + timeout + 100);
    expect(heartbeat.stats()).toMatchObject({ deadPeers: 1, tracked: 0 });
  });

  it('idle policy: a silent client is closed with 4000; one that sends heartbeats survives and gets replies', async () => {
    const { url, heartbeat } = await server({ pingIntervalMs: 100, pongTimeoutMs: 100, idleCloseMs: 300, minPingIntervalMs: 10 });
    const silent = await client(url);
    const talker = await client(url);
    const replies: number[] = [];
    talker.on('message', (data: Buffer) => data.length === 0 && replies.push(performance.now()));
    const timer = setInterval(() => talker.send(HEARTBEAT_MESSAGE), 100);
    cleanups.push(() => clearInterval(timer));
    const silentClose = await within(closeOf(silent), 5_000, 'idle close');
    expect(silentClose.code).toBe(4000);
    expect(silentClose.reason).toBe('idle_timeout');
    await new Promise((resolve) => talker.once('message', resolve));
    expect(talker.readyState).toBe(WebSocket.OPEN);
    expect(replies.length).toBeGreaterThan(0);
    expect(heartbeat.stats()).toMatchObject({ idleClosed: 1 });
    expect(heartbeat.stats().heartbeatsAnswered).toBeGreaterThan(0);
  });

  it('B8: a ping flood is closed with 1008 while a well-behaved client on the same server is untouched', async () => {
    const { url, heartbeat } = await server({ pingIntervalMs: 1_000, pongTimeoutMs: 1_000, minPingIntervalMs: 200, maxPingStrikes: 2 });
    const flooder = await client(url);
    const polite = await client(url);
    const closed = closeOf(flooder);
    const flood = setInterval(() => {
      if (flooder.readyState === WebSocket.OPEN) flooder.ping();
    }, 5);
    cleanups.push(() => clearInterval(flood));
    polite.ping();
    const { code, reason } = await within(closed, 5_000, 'flood close');
    // B13: the reason says the server's minimum, so a client learns it in one close.
    expect([code, reason]).toEqual([1008, 'ping_flood min_interval_ms=200']);
    polite.send('still here');
    expect(polite.readyState).toBe(WebSocket.OPEN);
    expect(heartbeat.stats()).toMatchObject({ floodClosed: 1, tracked: 1 });
  });

  it('bad input: an oversized frame is refused with 1009; malformed heartbeats are ignored and counted', async () => {
    const { url, heartbeat } = await server({ pingIntervalMs: 5_000 }, 1_024);
    const socket = await client(url);
    socket.send(new Uint8Array(0));
    socket.send(' \n');
    socket.send('real data');
    const closed = closeOf(socket);
    socket.send(new Uint8Array(4_096));
    const { code } = await within(closed, 5_000, '1009 close');
    expect(code).toBe(1009);
    expect(heartbeat.stats()).toMatchObject({ malformedHeartbeats: 2, heartbeatsAnswered: 0, tracked: 0 });
  });

  it('removes all state when a socket closes; close() removes every listener it added', async () => {
    const { url, heartbeat, wss } = await server({ pingIntervalMs: 50, pongTimeoutMs: 50 });
    const a = await client(url);
    await client(url);
    await within(
      new Promise<void>((resolve) => {
        const check = () => (heartbeat.size === 2 ? resolve() : setTimeout(check, 5));
        check();
      }),
      1_000,
      'two tracked',
    );
    // The tracker's list knows both (no Set), and each peer's state is one object updated in place by its pings.
    expect(heartbeat.tracker.peers()).toHaveLength(2);
    const peer = heartbeat.tracker.peers()[0]!;
    const state = peer.state;
    await within(
      new Promise<void>((resolve) => {
        const check = () => (state.pingsSent > 0 ? resolve() : setTimeout(check, 5));
        check();
      }),
      1_000,
      'a ping',
    );
    expect(peer.state).toBe(state);
    const serverSockets = [...wss.clients];
    a.close();
    await within(
      new Promise<void>((resolve) => {
        const check = () => (heartbeat.size === 1 ? resolve() : setTimeout(check, 5));
        check();
      }),
      1_000,
      'one tracked',
    );
    const listenerCounts = () => serverSockets.map((s) => s.listenerCount('pong') + s.listenerCount('message'));
    heartbeat.close();
    expect(heartbeat.size).toBe(0);
    expect(listenerCounts()).toEqual([0, 0]);
    expect(wss.listenerCount('connection')).toBe(0);
  });

  it('a socket made after keepAlive() carries its connection: no listener of the keep-alive on it, the application sees every event after it, an error with no listener is counted and not thrown, and close() puts the socket class back', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
    const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
    const options = (wss as unknown as { options: { WebSocket: unknown } }).options;
    const heartbeat = keepAlive(wss, { scheduler: createScheduler(), pingIntervalMs: 40, pongTimeoutMs: 400 });
    expect(options.WebSocket).not.toBe(WebSocket);
    const seen: string[] = [];
    const serverSide = new Promise<WebSocket>((resolve) =>
      wss.once('connection', (ws: WebSocket) => {
        // What the keep-alive read of each event is already in its state when the application's listener runs.
        ws.on('pong', () => seen.push(`pong ${String(heartbeat.tracker.peers()[0]?.state.keepalivesAnswered)}`));
        ws.on('message', (data: Buffer) => seen.push(`message ${data.toString()}`));
        resolve(ws);
      }),
    );
    const socket = await client(url);
    const ws = await within(serverSide, 1_000, 'server socket');
    expect(ws).toBeInstanceOf(WebSocket);
    for (const event of ['ping', 'error']) expect(ws.listenerCount(event)).toBe(0);
    expect(ws.listenerCount('pong')).toBe(1);
    socket.send('hello');
    await within(
      new Promise<void>((resolve) => {
        const check = () => (seen.includes('message hello') && seen.some((line) => line.startsWith('pong')) ? resolve() : setTimeout(check, 5));
        check();
      }),
      2_000,
      'a message and a pong',
    );
    const firstPong = seen.find((line) => line.startsWith('pong'));
    expect(firstPong).toBe('pong 1');
    expect(heartbeat.size).toBe(1);
    expect(ws.emit('error', new Error('read ECONNRESET'))).toBe(false);
    expect(heartbeat.stats().handlerErrors).toBe(1);
    // The close event reaches the keep-alive: the connection is forgotten.
    const closed = once(ws, 'close');
    socket.close();
    await within(closed, 1_000, 'close');
    expect(heartbeat.size).toBe(0);
    heartbeat.close();
    expect(options.WebSocket).toBe(WebSocket);
  });

  it('tracks clients that were connected before keepAlive() was applied; bad options throw', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
    const address = wss.address() as { port: number };
    await client(`ws://127.0.0.1:${address.port}`);
    await within(
      new Promise<void>((resolve) => {
        const check = () => (wss.clients.size === 1 ? resolve() : setTimeout(check, 5));
        check();
      }),
      1_000,
      'server-side socket',
    );
    const heartbeat = keepAlive(wss, { scheduler: createScheduler() });
    expect(heartbeat.size).toBe(1);
    heartbeat[Symbol.dispose]();
    expect(() => keepAlive(wss, { pingIntervalMs: -1 })).toThrow(KeepaliveOptionError);
    expect(() => keepAlive(wss, { pingIntervalMs: -1 })).toThrow(/Invalid option pingIntervalMs: -1/);
    expect(() => keepAlive(wss, { heartbeatMessage: 5 as never })).toThrow(KeepaliveOptionError);
    expect(() => keepAlive(wss, { heartbeatMessage: 5 as never })).toThrow('Invalid option heartbeatMessage: 5 (expected a string of at most 125 UTF-8 bytes)');
    // Over the core's limit: refused by plain keepAlive too, and under the name the user wrote with resume on.
    for (const resume of [undefined, true]) {
      expect(() => keepAlive(wss, { heartbeatMessage: 'h'.repeat(200), resume })).toThrow(
        expect.objectContaining({ name: 'KeepaliveOptionError', option: 'heartbeatMessage', expectation: 'a string of at most 125 UTF-8 bytes' }),
      );
    }
    expect(wss.listenerCount('connection')).toBe(0);
  });

  it('createKeepaliveServer names a bad keep-alive option by its path and closes the server it made', async () => {
    const refused = (keepalive: unknown): KeepaliveOptionError => {
      let server: WebSocketServer | undefined;
      const error: unknown = (() => {
        try {
          server = createKeepaliveServer({ host: '127.0.0.1', port: 0, keepalive: keepalive as never }).wss;
          return undefined;
        } catch (caught) {
          return caught;
        }
      })();
      if (server !== undefined) cleanups.push(() => new Promise((resolve) => server?.close(resolve)));
      expect(error).toBeInstanceOf(KeepaliveOptionError);
      return error as KeepaliveOptionError;
    };
    const interval = refused({ pingIntervalMs: -1 });
    expect(interval).toBeInstanceOf(RangeError);
    expect(interval).toMatchObject({ option: 'keepalive.pingIntervalMs', value: -1 });
    expect(interval.message).toMatch(/^Invalid option keepalive\.pingIntervalMs: -1 \(expected a finite number of milliseconds/);
    expect(refused({ heartbeatMessage: 5 })).toMatchObject({ option: 'keepalive.heartbeatMessage', value: 5, expectation: 'a string of at most 125 UTF-8 bytes' });
    expect(refused({ pingIntervalMS: 1_000 })).toMatchObject({ option: 'keepalive.pingIntervalMS', value: 1_000 });
    expect(refused(5)).toMatchObject({ option: 'keepalive', value: 5 });
    // Nothing is left listening: the refused servers were closed.
    await new Promise((resolve) => setImmediate(resolve));
    expect(process.getActiveResourcesInfo().filter((kind) => kind === 'TCPServerWrap')).toEqual([]);
  });
});
