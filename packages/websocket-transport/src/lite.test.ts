import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { KeepaliveOptionError, backoffCeiling, defineReconnectConfig, idleReadLayer, lazyParkLayer, resumable, type Diagnostic, type ReconnectOptions } from '@keepalive/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer, WebSocket as WsWebSocket, type RawData } from 'ws';
import { createLiteClient, type LiteClient, type LiteClientEvents, type LiteClientOptions } from './lite.js';
import { keepAlive } from './server.js';
import { until } from './test-support/until.js';

/**
 * The kernel client (`@keepalive/websocket-transport/lite`) against real sockets on 127.0.0.1 (port 0): `ws`
 * WebSocketServers (with the package's server keep-alive where heartbeats must be answered), a raw TCP server that
 * never completes the handshake, refused ports. The client gets `WebSocket` from `ws` (Node 20 has no global one).
 * Every wait is bounded (`until`); everything is closed after each test.
 */

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  vi.unstubAllGlobals();
});

// ---------------------------------------------------------------------------
// Peers.

interface Peer {
  readonly socket: WsWebSocket;
  /** Heartbeat messages (empty text frames) received. */
  heartbeats: number;
  /** Application messages: text as is, binary as `bin:<hex>`. */
  readonly messages: string[];
}

interface TestServer {
  readonly url: string;
  readonly peers: Peer[];
}

interface ServerOptions {
  /** Answer heartbeats with the package's server keep-alive (`keepAlive`). Default true. */
  readonly keepalive?: boolean;
  /** Echo application messages (text with an `echo:` prefix, binary as is). */
  readonly echo?: boolean;
  /** Run on every new connection. */
  readonly onConnection?: (socket: WsWebSocket) => void;
}

async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const heartbeat = options.keepalive === false ? null : keepAlive(wss, { pingIntervalMs: 60_000 });
  const peers: Peer[] = [];
  wss.on('connection', (socket) => {
    const peer: Peer = { socket, heartbeats: 0, messages: [] };
    peers.push(peer);
    socket.on('error', () => undefined);
    socket.on('message', (data: RawData, isBinary: boolean) => {
      const bytes = data as Buffer;
      if (!isBinary && bytes.byteLength === 0) {
        peer.heartbeats++;
        return;
      }
      peer.messages.push(isBinary ? `bin:${bytes.toString('hex')}` : bytes.toString('utf8'));
      if (options.echo === true) socket.send(isBinary ? bytes : `echo:${bytes.toString('utf8')}`, { binary: isBinary });
    });
    options.onConnection?.(socket);
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        heartbeat?.close();
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => {
          resolve();
        });
      }),
  );
  const address = wss.address() as { port: number };
  return { url: `ws://127.0.0.1:${String(address.port)}`, peers };
}

/** A TCP server that accepts connections and never answers: a WebSocket handshake against it never completes. */
async function blackHole(): Promise<string> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  );
  return `ws://127.0.0.1:${String((server.address() as { port: number }).port)}`;
}

/** A port with nothing listening on it: connections are refused. */
async function refusedUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `ws://127.0.0.1:${String(port)}`;
}

// ---------------------------------------------------------------------------
// The client under test, with every event recorded.

const EVENTS = ['open', 'message', 'close', 'reconnecting', 'parked', 'idle', 'dead-peer', 'rejected', 'closed', 'error'] as const satisfies readonly (keyof LiteClientEvents)[];

type Seen = { [K in keyof LiteClientEvents]: LiteClientEvents[K][] } & { diagnostics: Diagnostic[] };

function lite(url: string, options: LiteClientOptions = {}): { client: LiteClient; seen: Seen } {
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the deprecated alias is recorded too
  const seen: Seen = { open: [], message: [], close: [], reconnecting: [], parked: [], idle: [], 'dead-peer': [], rejected: [], closed: [], error: [], diagnostics: [] };
  const client = createLiteClient(url, {
    WebSocket: WsWebSocket,
    onDiagnostic: (diagnostic) => seen.diagnostics.push(diagnostic),
    ...options,
  });
  for (const type of EVENTS) client.on(type, (payload: unknown) => (seen[type] as unknown[]).push(payload));
  cleanups.push(() => client.close());
  return { client, seen };
}

function named(diagnostics: readonly Diagnostic[], name: string): number {
  return diagnostics.filter((diagnostic) => diagnostic.name === name).length;
}

/** Resolves after `ms` if `check()` stayed false the whole time (a bounded window to show that something does NOT happen). */
function stays(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (check()) reject(new Error(`${what} happened within the ${String(ms)} ms window`));
      else if (performance.now() >= end) resolve();
      else setImmediate(poll);
    };
    poll();
  });
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

// ---------------------------------------------------------------------------

describe('the lite client: messages', () => {
  it('connects and exchanges text and binary messages both ways; answers the peer heartbeat in kind without delivering it', async () => {
    const server = await startServer({ keepalive: false, echo: true, onConnection: (socket) => socket.send('welcome') });
    const { client, seen } = lite(server.url);
    expect(client.state).toBe('connecting');
    await until(() => seen.open.length === 1 && seen.message.length === 1, 'open and the welcome');
    expect(client.state).toBe('open');
    expect(seen.open[0]).toMatchObject({ attempt: 0 });
    expect(seen.message[0]).toEqual({ data: 'welcome', binary: false });

    expect(client.send('hi')).toBe('sent');
    expect(client.send(new Uint8Array([1, 2, 255]))).toBe('sent');
    expect(client.send(new Uint16Array([0x0102]).buffer)).toBe('sent');
    await until(() => seen.message.length === 4, 'three echoes');
    expect(seen.message[1]).toEqual({ data: 'echo:hi', binary: false });
    expect(seen.message[2]).toEqual({ data: new Uint8Array([1, 2, 255]), binary: true });
    expect(seen.message[3]?.binary).toBe(true);
    expect(server.peers[0]?.messages).toEqual(['hi', 'bin:0102ff', 'bin:0201']);

    // The peer's own heartbeat (the empty text frame): answered once, never delivered as a message.
    server.peers[0]?.socket.send('');
    await until(() => server.peers[0]?.heartbeats === 1, 'the answer to the peer heartbeat');
    client.send('after');
    await until(() => seen.message.length === 5, 'the echo after the heartbeat');
    expect(seen.message.map((message) => message.data)).not.toContain('');

    const closed = await client.close();
    expect(closed).toMatchObject({ type: 'closed', cause: 'closed', code: 1000, undelivered: [] });
    expect(client.state).toBe('closed');
    expect(seen.closed).toHaveLength(1);
  });

  it('queues messages sent while disconnected and writes them in order after the reconnect; binary payloads are copied', async () => {
    const server = await startServer();
    const { client, seen } = lite(server.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 40 } });
    await until(() => seen.open.length === 1, 'open');
    const outcomes: string[] = [];
    client.once('close', () => {
      expect(client.state).toBe('backoff');
      const bytes = new Uint8Array([7, 7]);
      outcomes.push(client.send('a'), client.send(bytes), client.send('c'));
      bytes[0] = 0;
    });
    server.peers[0]?.socket.close(1011, 'restart');
    await until(() => seen.open.length === 2 && server.peers[1]?.messages.length === 3, 'the queued messages on the second connection');
    expect(outcomes).toEqual(['queued', 'queued', 'queued']);
    expect(seen.close[0]).toMatchObject({ code: 1011, reason: 'restart', willReconnect: true });
    expect(seen.reconnecting[0]?.attempt).toBe(1);
    expect(server.peers[1]?.messages).toEqual(['a', 'bin:0707', 'c']);
    expect(named(seen.diagnostics, 'queue_flushed')).toBe(1);
  });

  it('refuses a message past maxQueuedMessages or maxQueuedBytes, and once closed, with an Error saying why; close hands the queue back', async () => {
    const url = await refusedUrl();
    const { client } = lite(url, { maxQueuedMessages: 2, reconnect: { initialDelayMs: 1_000 } });
    expect(client.send('a')).toBe('queued');
    expect(client.send(new ArrayBuffer(2))).toBe('queued');
    expect(() => client.send('c')).toThrow(/queue is full \(maxQueuedMessages\)/);
    // The heartbeat message is the keep-alive on the wire: refused as data, never queued to be read as a keep-alive.
    expect(() => client.send('')).toThrow(TypeError);
    const { client: small } = lite(url, { maxQueuedBytes: 4 });
    expect(() => small.send('hello')).toThrow(/queue is full \(maxQueuedBytes\)/);
    expect(small.send('hé')).toBe('queued');

    const closed = await client.close();
    expect(closed.cause).toBe('closed');
    expect(closed.undelivered).toEqual(['a', new Uint8Array(2)]);
    expect(() => client.send('late')).toThrow(/client is closed/);
    // A second close resolves with the same event.
    await expect(client.close()).resolves.toBe(closed);
    await expect(small.close(999)).rejects.toThrow(RangeError);
    await expect(small.close(4000, 'x'.repeat(124))).rejects.toThrow(RangeError);
  });
});

describe('the lite client: messages() and reconnect()', () => {
  it('messages(): a loop that falls more than maxBuffered behind gets the kept ones, then a RangeError, never a silent drop', async () => {
    const server = await startServer({ onConnection: (socket) => ['1', '2', '3', '4'].forEach((text) => socket.send(text)) });
    const { client, seen } = lite(server.url);
    const iterator = client.messages({ maxBuffered: 2 });
    await until(() => seen.message.length === 4, 'the four messages');
    const read: string[] = [];
    let failure: unknown = null;
    try {
      for await (const { data } of iterator) read.push(String(data));
    } catch (error) {
      failure = error;
    }
    expect(read).toEqual(['1', '2']);
    expect(failure).toBeInstanceOf(RangeError);
    expect((failure as Error).message).toMatch(/more than 2 messages waited \(maxBuffered\)/);
  });

  it('B11: exhausted, then reconnect(): attempt 0 with a fresh count, a new close() promise; while open it is refused with restart_ignored', async () => {
    const refused = await refusedUrl();
    const { client, seen } = lite(refused, { reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 1 } });
    await until(() => seen.closed.length === 1, 'exhausted');
    const first = await client.close();
    expect(first.cause).toBe('exhausted');
    client.reconnect();
    expect(client.state).toBe('connecting');
    expect(named(seen.diagnostics, 'restarted')).toBe(0); // diagnostics arrive after the step, in a microtask
    await until(() => seen.closed.length === 2, 'exhausted again, after a fresh count');
    expect(named(seen.diagnostics, 'restarted')).toBe(1);
    expect(named(seen.diagnostics, 'reconnect_exhausted')).toBe(2);
    expect(await client.close()).not.toBe(first);
    const server = await startServer();
    const open = lite(server.url);
    await until(() => open.seen.open.length === 1, 'open');
    open.client.reconnect();
    await until(() => named(open.seen.diagnostics, 'restart_ignored') === 1, 'restart_ignored');
    expect(open.client.state).toBe('open');
  });
});

describe('the lite client: keep-alives and liveness', () => {
  it('S4 heartbeat only while busy: heartbeat messages go out while an activity runs and stop when it ends', async () => {
    const server = await startServer();
    const { client, seen } = lite(server.url, { heartbeatIntervalMs: 20, pongTimeoutMs: 2_000 });
    await until(() => seen.open.length === 1, 'open');
    const peer = server.peers[0]!;
    const stop = client.activity.start('job');
    await until(() => peer.heartbeats >= 3, '3 heartbeats while busy');
    stop();
    stop();
    // Everything sent before the stop arrives before this message (one socket, in order).
    client.send('sync');
    await until(() => peer.messages.includes('sync'), 'the sync message');
    const whileBusy = peer.heartbeats;
    await stays(() => peer.heartbeats > whileBusy, 10 * 20, 'a heartbeat while idle');

    await client.activity.run('job', () => until(() => peer.heartbeats >= whileBusy + 2, 'heartbeats during run'));
    client.send('sync2');
    await until(() => peer.messages.includes('sync2'), 'the second sync message');
    const afterRun = peer.heartbeats;
    await stays(() => peer.heartbeats > afterRun, 10 * 20, 'a heartbeat after run');
    // The stop was idempotent: no unmatched or second release.
    expect(seen.diagnostics.filter((diagnostic) => diagnostic.level === 'warn')).toEqual([]);
    expect(seen['dead-peer']).toEqual([]);
    // run hands back fn's value and ends the work when fn throws.
    await expect(client.activity.run('job', () => 42)).resolves.toBe(42);
    await expect(
      client.activity.run('job', () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
  });

  it('B5 dead peer: a server that stops answering heartbeats is declared dead and the client reconnects', async () => {
    const server = await startServer();
    const { client, seen } = lite(server.url, { heartbeatIntervalMs: 30, pongTimeoutMs: 100, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    await until(() => seen.open.length === 1, 'open');
    client.activity.start('job');
    await until(() => server.peers[0]!.heartbeats >= 2, 'answered heartbeats');
    server.peers[0]!.socket.pause();
    await until(() => seen['dead-peer'].length === 1 && seen.open.length === 2, 'the dead-peer verdict and the reconnect', 5_000);
    expect(seen['dead-peer'][0]).toMatchObject({ timeoutMs: 100 });
    expect(seen.close[0]).toMatchObject({ willReconnect: true });
    expect(seen.reconnecting).toHaveLength(1);
    // Work is still in flight: the new connection is kept alive too.
    await until(() => server.peers[1]!.heartbeats >= 2, 'heartbeats on the new connection');
  });

  it('B5 with idleReadLayer(ms): an open connection that receives nothing while idle is dead', async () => {
    const server = await startServer();
    const { seen } = lite(server.url, { layers: [idleReadLayer(80)], reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    await until(() => seen['dead-peer'].length >= 1 && seen.open.length >= 2, 'the idle read verdict and the reconnect', 5_000);
    expect(named(seen.diagnostics, 'idle_read_timeout')).toBeGreaterThanOrEqual(1);
  });
});

describe('the lite client: phases, backoff and terminal closes', () => {
  it('B10 phases/connect timeout: a handshake that never completes is abandoned after connectTimeoutMs and retried', async () => {
    const url = await blackHole();
    const { client, seen } = lite(url, { connectTimeoutMs: 80, reconnect: { initialDelayMs: 20, maxDelayMs: 40 } });
    expect(client.state).toBe('connecting');
    // Read in the listener: the jittered delay may be over by the time the test reads it.
    const phases: string[] = [];
    client.once('reconnecting', () => phases.push(client.state));
    await until(() => seen.reconnecting.length === 1, 'the first reconnecting event');
    expect(named(seen.diagnostics, 'connect_timeout')).toBe(1);
    expect(phases).toEqual(['backoff']);
    expect(seen.close).toEqual([]);
    await until(() => named(seen.diagnostics, 'connect_timeout') === 2, 'the second attempt timing out');
    // close while connecting: closed at once, no handshake to wait for.
    await until(() => client.state === 'connecting', 'the third attempt');
    const closed = await client.close();
    expect(closed).toMatchObject({ cause: 'closed' });
    expect(seen.open).toEqual([]);
  });

  it('B10: close waits for the close handshake, and destroys the socket after closeTimeoutMs when the server does not answer', async () => {
    const server = await startServer();
    const { client, seen } = lite(server.url, { closeTimeoutMs: 80 });
    await until(() => seen.open.length === 1, 'open');
    server.peers[0]!.socket.pause();
    const closing = client.close(4000, 'bye');
    expect(client.state).toBe('closing');
    expect(client.send.bind(client, 'x')).toThrow(/closed/);
    const closed = await closing;
    expect(closed).toMatchObject({ cause: 'closed', code: 1006, reason: 'close_timeout' });
    expect(named(seen.diagnostics, 'close_timeout')).toBe(1);
  });

  it('B6 jitter/backoff: each delay is jittered below the ceiling for its attempt, and B11 maxAttempts: the client gives up', async () => {
    const url = await refusedUrl();
    const reconnect: ReconnectOptions = { initialDelayMs: 10, maxDelayMs: 40, multiplier: 2, maxAttempts: 6 };
    const first = lite(url, { reconnect });
    const second = lite(url, { reconnect });
    await until(() => first.seen.closed.length === 1 && second.seen.closed.length === 1, 'both clients giving up', 5_000);
    const config = defineReconnectConfig(reconnect);
    for (const { seen } of [first, second]) {
      expect(seen.reconnecting.map((event) => event.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
      for (const { attempt, delayMs } of seen.reconnecting) {
        expect(delayMs).toBeGreaterThanOrEqual(0);
        expect(delayMs).toBeLessThanOrEqual(backoffCeiling(config, attempt));
      }
      expect(seen.closed[0]).toMatchObject({ cause: 'exhausted', code: 1006 });
      expect(seen.error.length).toBeGreaterThan(0);
      expect(seen.error[0]).toBeInstanceOf(Error);
    }
    // Full jitter from a random seed: the two clients do not wait in lockstep.
    expect(first.seen.reconnecting.map((event) => event.delayMs)).not.toEqual(second.seen.reconnecting.map((event) => event.delayMs));
    expect(first.client.state).toBe('closed');
  });

  it('B12 terminal close codes: a 4403 close is rejected and closes the client for good, with no reconnect', async () => {
    const server = await startServer({ onConnection: (socket) => socket.close(4403, 'forbidden') });
    const { client, seen } = lite(server.url, { reconnect: { initialDelayMs: 10 } });
    await until(() => seen.closed.length === 1, 'closed');
    expect(seen.close).toEqual([{ type: 'close', code: 4403, reason: 'forbidden', willReconnect: false }]);
    expect(seen.rejected).toEqual([{ type: 'rejected', code: 4403, reason: 'forbidden' }]);
    expect(seen.closed[0]).toMatchObject({ cause: 'rejected', code: 4403 });
    expect(seen.reconnecting).toEqual([]);
    expect(client.state).toBe('closed');
    expect(server.peers).toHaveLength(1);
  });

  it('layers: [lazyParkLayer] parks after a loss while idle and reconnects on send', async () => {
    const server = await startServer();
    const { client, seen } = lite(server.url, { layers: [lazyParkLayer] });
    await until(() => seen.open.length === 1, 'open');
    server.peers[0]!.socket.close(1001, 'going away');
    await until(() => seen.parked.length === 1, 'the parked event');
    // The deprecated alias follows it, with the same payload.
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- checking the alias
    await until(() => seen.idle.length === 1, 'the idle alias');
    expect(client.state).toBe('parked');
    expect(seen.close[0]).toMatchObject({ code: 1001, willReconnect: false });
    expect(seen.reconnecting).toEqual([]);
    expect(client.send('wake')).toBe('queued');
    expect(client.state).toBe('connecting');
    await until(() => server.peers[1]?.messages.includes('wake') === true, 'the message on the new connection');
    expect(seen.open.map((event) => event.attempt)).toEqual([0, 0]);
    expect(named(seen.diagnostics, 'unparked')).toBe(1);
  });
});

describe('the lite client: options', () => {
  it('bad options throw KeepaliveOptionError naming the option', () => {
    const option = (options: Record<string, unknown>): unknown => (thrown(() => createLiteClient('ws://127.0.0.1:1', { WebSocket: WsWebSocket, ...options })) as KeepaliveOptionError).option;
    expect(option({ heartbeatIntervalMs: -1 })).toBe('heartbeatIntervalMs');
    expect(option({ reconnect: { maxDelayMs: -1 } })).toBe('reconnect.maxDelayMs');
    expect(option({ heartbeatMessage: 'x'.repeat(126) })).toBe('heartbeatMessage');
    expect(option({ protocols: [1] })).toBe('protocols');
    expect(option({ layers: lazyParkLayer })).toBe('layers');
    expect(option({ layers: [idleReadLayer] })).toBe('layers[0]');
    expect(option({ onDiagnostic: 'log' })).toBe('onDiagnostic');
    expect(option({ WebSocket: 42 })).toBe('WebSocket');
    const error = thrown(() => createLiteClient('ws://127.0.0.1:1', { WebSocket: WsWebSocket, layers: [lazyParkLayer, resumable()] }));
    expect(error).toBeInstanceOf(KeepaliveOptionError);
    expect(error).toMatchObject({ option: 'layers[1]', message: expect.stringMatching(/no wire format/) as unknown });
  });

  it('B1: a target that is not a ws:, wss:, http: or https: URL is refused at construction, without echoing it (S10)', () => {
    for (const target of ['not a url', 'ftp://user:secret@example.com/', 42]) {
      const error = thrown(() => createLiteClient(target as string, { WebSocket: WsWebSocket }));
      expect(error).toBeInstanceOf(KeepaliveOptionError);
      expect((error as KeepaliveOptionError).option).toBe('target');
      expect((error as Error).message).not.toMatch(/secret|not a url/);
    }
  });

  it('refuses an unknown option, with did-you-mean', () => {
    expect(() => createLiteClient('ws://127.0.0.1:1', { WebSocket: WsWebSocket, heartbeatIntervalMS: 10 } as LiteClientOptions)).toThrow(/heartbeatIntervalMS.*did you mean "heartbeatIntervalMs"/);
    expect(() => createLiteClient('ws://127.0.0.1:1', { Websocket: WsWebSocket } as LiteClientOptions)).toThrow(/did you mean "WebSocket"/);
  });

  it('without a global WebSocket and none passed, construction throws naming the WebSocket option', () => {
    vi.stubGlobal('WebSocket', undefined);
    expect(thrown(() => createLiteClient('ws://127.0.0.1:1'))).toMatchObject({ option: 'WebSocket', message: expect.stringMatching(/no global WebSocket/) as unknown });
  });

  it('takes the global WebSocket by default, offers the protocols given, and off / once remove listeners', async () => {
    const protocols: string[] = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (offered: Set<string>) => [...offered][1] ?? false });
    wss.on('connection', (socket) => {
      protocols.push(socket.protocol);
      socket.send('one');
      socket.send('two');
    });
    await once(wss, 'listening');
    cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
    vi.stubGlobal('WebSocket', WsWebSocket);
    const client = createLiteClient(new URL(`ws://127.0.0.1:${String((wss.address() as { port: number }).port)}`), { protocols: ['a', 'b'] });
    cleanups.push(() => client.close());
    const all: unknown[] = [];
    const first: unknown[] = [];
    const removed: unknown[] = [];
    const listener = (event: unknown): number => removed.push(event);
    client.on('message', listener);
    client.off('message', listener);
    const unsubscribe = client.on('message', listener);
    unsubscribe();
    client.once('message', ({ data }) => first.push(data));
    client.on('message', ({ data }) => all.push(data));
    await until(() => all.length === 2, 'two messages');
    expect(first).toEqual(['one']);
    expect(removed).toEqual([]);
    expect(protocols).toEqual(['b']);
  });
});
