import { spawn } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { KeepaliveOptionError, backoffCeiling, defineReconnectConfig, type Diagnostic, type ReconnectOptions } from '@keepalive/core';
import { createScheduler, createSessionActivity, nodePlatform, type Platform } from '@keepalive/node-timers';
import { WebSocket as UndiciWebSocket } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, WebSocket as WsWebSocket, type RawData } from 'ws';
import {
  CLIENT_DIAGNOSTICS,
  ClientClosedError,
  QueueFullError,
  createKeepaliveClient,
  resumable,
  type ClientCloseEvent,
  type ClientClosedEvent,
  type ClientParkedEvent,
  type ClientReconnectOptions,
  type ClientMessageEvent,
  type ClientReconnectingEvent,
  type KeepaliveClient,
  type KeepaliveClientOptions,
  type SocketEventLike,
  type SocketEventType,
  type WebSocketLike,
} from './index.node.js';
import { HEARTBEAT_MESSAGE, isHeartbeatMessage } from './heartbeat.js';
import { keepAlive } from './server.js';

/** `node --import` this to let a fixture load the package's .ts sources (one copy, in keepalive-test-support). */
const TS_REGISTER = createRequire(import.meta.url).resolve('keepalive-test-support/ts-register');

/**
 * The client against real sockets on 127.0.0.1 (port 0), a plain `ws`
 * WebSocketServer as the peer, child processes for the frozen peer and the
 * dispose check. Every wait is on an event, bounded in time; everything is
 * closed in teardown.
 */

// ---------------------------------------------------------------------------
// Waiting on events: every server, client and diagnostic event calls
// `changed()`; `until` re-checks its predicate then (never polls, never sleeps).

const waiters = new Set<() => void>();

function changed(): void {
  for (const waiter of [...waiters]) waiter();
}

function until(predicate: () => boolean, timeoutMs: number, label: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      waiters.delete(check);
    };
    const check = (): void => {
      if (!predicate()) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}`));
    }, timeoutMs);
    waiters.add(check);
    check();
  });
}

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  waiters.clear();
});

// ---------------------------------------------------------------------------
// A plain ws server as the peer, counting what it receives per connection.

interface Peer {
  readonly socket: WsWebSocket;
  readonly protocol: string;
  pings: number;
  pingBytes: number;
  heartbeats: number;
  /** Application messages: text as is, binary as `bin:<hex>`. */
  readonly messages: string[];
  closeCode: number | null;
  closeReason: string;
}

interface ServerOptions {
  readonly port?: number;
  /** Echo heartbeat messages back (the reply a WHATWG client needs). Default true. */
  readonly replyToHeartbeats?: boolean;
  /** Answer pings with pongs (ws default). */
  readonly autoPong?: boolean;
  /** Sent to every new connection. */
  readonly greeting?: string;
  /** Picks the first subprotocol offered. */
  readonly pickProtocol?: boolean;
}

interface TestServer {
  readonly port: number;
  readonly url: string;
  readonly peers: Peer[];
  close(): Promise<void>;
}

async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: options.port ?? 0,
    autoPong: options.autoPong ?? true,
    ...(options.pickProtocol === true ? { handleProtocols: (protocols: Set<string>) => [...protocols][0] ?? false } : {}),
  });
  await once(wss, 'listening');
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  const peers: Peer[] = [];
  wss.on('connection', (socket) => {
    const peer: Peer = { socket, protocol: socket.protocol, pings: 0, pingBytes: 0, heartbeats: 0, messages: [], closeCode: null, closeReason: '' };
    peers.push(peer);
    socket.on('error', () => undefined);
    socket.on('ping', (data: Buffer) => {
      peer.pings++;
      peer.pingBytes += data.byteLength;
      changed();
    });
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (isHeartbeatMessage(data, HEARTBEAT_MESSAGE, isBinary)) {
        peer.heartbeats++;
        if (options.replyToHeartbeats ?? true) socket.send(HEARTBEAT_MESSAGE);
      } else {
        const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
        peer.messages.push(isBinary ? `bin:${bytes.toString('hex')}` : bytes.toString('utf8'));
      }
      changed();
    });
    socket.on('close', (code: number, reason: Buffer) => {
      peer.closeCode = code;
      peer.closeReason = reason.toString();
      changed();
    });
    if (options.greeting !== undefined) socket.send(options.greeting);
    changed();
  });
  let closed = false;
  const server: TestServer = {
    port: address.port,
    url: `ws://127.0.0.1:${address.port}`,
    peers,
    close: async () => {
      if (closed) return;
      closed = true;
      for (const socket of wss.clients) socket.terminate();
      const done = once(wss, 'close');
      wss.close();
      await done;
    },
  };
  cleanups.push(() => server.close());
  return server;
}

/**
 * The opposite of `until`: resolves after `windowMs` if `predicate` stayed false the whole
 * time, rejects as soon as it turns true. A deliberate, bounded observation window (used to
 * show that something does NOT happen), re-checked on every event, never polled.
 */
function stays(predicate: () => boolean, windowMs: number, label: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      waiters.delete(check);
    };
    const check = (): void => {
      if (!predicate()) return;
      done();
      reject(new Error(`${label} happened within the ${windowMs} ms window`));
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, windowMs);
    waiters.add(check);
    check();
  });
}

/** A free port with nothing listening on it (connections are refused). */
async function refusedPort(): Promise<number> {
  const server = await startServer();
  await server.close();
  return server.port;
}

/** A ws server in a child process, frozen and thawed with SIGSTOP / SIGCONT. */
async function frozenServer(): Promise<{ port: number; freeze(): void; thaw(): void }> {
  const child = spawn(process.execPath, [fixture('client-frozen-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    changed();
  });
  await until(() => /port \d+\n/.test(output), 10_000, 'the child server port');
  return { port: Number(/port (\d+)/.exec(output)![1]), freeze: () => child.kill('SIGSTOP'), thaw: () => child.kill('SIGCONT') };
}

// ---------------------------------------------------------------------------
// The client under test, with every event recorded.

interface Recorded {
  opens: number;
  openAt: number[];
  readonly openAttempts: number[];
  /** `parked` events (the deprecated `idle` alias is checked to follow each one). */
  readonly idles: ClientParkedEvent[];
  readonly idleAliases: ClientParkedEvent[];
  readonly closes: ClientCloseEvent[];
  readonly reconnecting: ClientReconnectingEvent[];
  readonly deadPeerAt: number[];
  readonly messages: ClientMessageEvent[];
  readonly errors: Error[];
  closed: ClientClosedEvent | null;
  readonly diagnostics: Diagnostic[];
}

function connect(target: Parameters<typeof createKeepaliveClient>[0], options: KeepaliveClientOptions = {}): { client: KeepaliveClient; seen: Recorded } {
  const seen: Recorded = { opens: 0, openAt: [], openAttempts: [], idles: [], idleAliases: [], closes: [], reconnecting: [], deadPeerAt: [], messages: [], errors: [], closed: null, diagnostics: [] };
  const client = createKeepaliveClient(target, {
    ...options,
    onDiagnostic: (diagnostic) => {
      seen.diagnostics.push(diagnostic);
      options.onDiagnostic?.(diagnostic);
      changed();
    },
  });
  client.on('open', ({ attempt }) => {
    seen.opens++;
    seen.openAt.push(performance.now());
    seen.openAttempts.push(attempt);
    changed();
  });
  client.on('parked', (event) => {
    seen.idles.push(event);
    changed();
  });
  client.on('idle', (event) => {
    seen.idleAliases.push(event);
  });
  client.on('close', (event) => {
    seen.closes.push(event);
    changed();
  });
  client.on('reconnecting', (event) => {
    seen.reconnecting.push(event);
    changed();
  });
  client.on('dead-peer', () => {
    seen.deadPeerAt.push(performance.now());
    changed();
  });
  client.on('message', (event) => {
    seen.messages.push(event);
    changed();
  });
  client.on('error', (error) => {
    seen.errors.push(error);
    changed();
  });
  client.on('closed', (event) => {
    seen.closed = event;
    changed();
  });
  cleanups.push(() => client.close());
  return { client, seen };
}

function count(seen: Recorded, name: string): number {
  return seen.diagnostics.filter((diagnostic) => diagnostic.name === name).length;
}

function fixture(name: string): string {
  return fileURLToPath(new URL(`./test-support/${name}`, import.meta.url));
}

// ---------------------------------------------------------------------------

describe('keep-alives follow the activity (S4, S5, S6, B7)', () => {
  it('S4, S5: empty protocol pings go out only while busy; S6: silence once idle; S4: they resume with new work', async () => {
    const server = await startServer();
    const { client, seen } = connect(server.url, { heartbeatIntervalMs: 40, idleDelayMs: 150, pongTimeoutMs: 2_000 });
    await until(() => seen.opens === 1, 5_000, 'open');
    const peer = server.peers[0]!;
    expect(client.state).toBe('open');
    // S4: idle and attached: no heartbeat armed.
    expect(client.activity.isTrackingActive()).toBe(true);
    expect(client.activity.state.heartbeatAt).toBeNull();

    const release = client.activity.start('api_call');
    expect(client.activity.state.heartbeatAt).not.toBeNull();
    await until(() => peer.pings >= 5, 5_000, '5 pings while busy');
    release();
    const sentWhileBusy = client.activity.state.keepalivesSent;
    await until(() => count(seen, 'idle') === 1, 5_000, 'the idle diagnostic');
    // A round trip after the idle notice: any ping sent before the stop has arrived by now. The message is written
    // while idle, so exactly one keep-alive follows it to confirm it (B16), and nothing after that.
    client.send('sync');
    await until(() => peer.messages.includes('sync') && peer.pings === sentWhileBusy + 1, 5_000, 'the sync message and the keep-alive that confirms it');
    expect(peer.pings).toBe(sentWhileBusy + 1);
    expect(peer.pingBytes).toBe(0);
    expect(client.activity.state.heartbeatAt).toBeNull();

    await client.activity.run('tool_exec', () => until(() => peer.pings >= sentWhileBusy + 3, 5_000, 'pings after new work'));
    expect(peer.heartbeats).toBe(0);
    expect(seen.deadPeerAt).toHaveLength(0);
  });

  it('B7: permitWithoutActivity keeps the heartbeat running while idle', async () => {
    const server = await startServer();
    const { client, seen } = connect(server.url, { heartbeatIntervalMs: 30, permitWithoutActivity: true });
    await until(() => seen.opens === 1 && server.peers[0]!.pings >= 3, 5_000, '3 pings while idle');
    expect(client.activity.state.total).toBe(0);
  });

  it("S5: keepaliveFrame 'message' sends the heartbeat message even where the socket can ping", async () => {
    const server = await startServer();
    const { client, seen } = connect(server.url, { heartbeatIntervalMs: 30, pongTimeoutMs: 500, keepaliveFrame: 'message' });
    client.activity.start('api_call');
    await until(() => seen.opens === 1 && server.peers[0]!.heartbeats >= 4, 5_000, '4 heartbeat messages');
    expect(server.peers[0]!.pings).toBe(0);
    // The replies are proof of life, never delivered as messages.
    expect(seen.messages).toHaveLength(0);
    expect(seen.deadPeerAt).toHaveLength(0);
  });
});

describe('WHATWG sockets: application-level heartbeats (B5)', () => {
  it("B5: an undici WebSocket stays alive on heartbeat messages; replies are not delivered as messages", async () => {
    const server = await startServer({ greeting: 'hello' });
    const { client, seen } = connect(server.url, { WebSocket: UndiciWebSocket, heartbeatIntervalMs: 50, pongTimeoutMs: 100 });
    const release = client.activity.start('api_call');
    await until(() => seen.opens === 1, 5_000, 'open');
    const peer = server.peers[0]!;
    // 10 heartbeats at 50 ms with a 100 ms timeout: many detection windows passed.
    await until(() => peer.heartbeats >= 10, 5_000, '10 heartbeat messages');
    expect(peer.pings).toBe(0);
    expect(seen.deadPeerAt).toHaveLength(0);
    expect(seen.opens).toBe(1);
    expect(seen.messages).toEqual([{ data: 'hello', binary: false }]);
    expect(client.send(new Uint8Array([1, 2]))).toBe('sent');
    await until(() => peer.messages.includes('bin:0102'), 5_000, 'a binary message');
    release();
  });

  it('B5: heartbeats from a server that cannot ping (Deno) are answered; answers to our own are not echoed back', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const { port } = wss.address() as { port: number };
    let answers = 0;
    let serverSocket: WsWebSocket | null = null;
    wss.on('connection', (socket) => {
      serverSocket = socket;
      changed();
      socket.on('message', (data: Buffer) => {
        if (data.length === 0) answers++;
        changed();
      });
    });
    const { client, seen } = connect(`ws://127.0.0.1:${port}`, { WebSocket: UndiciWebSocket, heartbeatIntervalMs: 60_000 });
    try {
      await until(() => seen.opens === 1 && serverSocket !== null, 5_000, 'open');
      for (let i = 0; i < 5; i++) serverSocket!.send('');
      await until(() => answers === 5, 5_000, 'five answers');
      // Our own heartbeat (message mode: undici cannot ping), answered by the server once: not echoed again.
      const release = client.activity.start('api_call');
      client.activity.signal();
      await until(() => answers === 6, 5_000, 'our heartbeat');
      serverSocket!.send('');
      await stays(() => answers > 6, 150, 'an echo of the reply to our heartbeat');
      expect(seen.messages).toEqual([]);
      release();
    } finally {
      await client.close();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  it('B5: an undici WebSocket whose peer never answers is declared dead within interval + timeout, closed at once, and reconnects (B6)', async () => {
    const server = await startServer({ replyToHeartbeats: false });
    const { client, seen } = connect(server.url, {
      WebSocket: UndiciWebSocket,
      heartbeatIntervalMs: 100,
      pongTimeoutMs: 150,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
    });
    client.activity.start('api_call');
    await until(() => seen.deadPeerAt.length === 1, 5_000, 'dead peer');
    const detection = seen.deadPeerAt[0]! - seen.openAt[0]!;
    expect(detection).toBeLessThanOrEqual(100 + 150 + 150);
    // Treated as dead at once: the close is reported without waiting for a handshake.
    expect(seen.closes[0]).toEqual({ code: 1006, reason: 'dead_peer', willReconnect: true });
    await until(() => seen.opens === 2, 5_000, 'the reconnect');
    console.log(`B5 WHATWG dead peer detected ${detection.toFixed(0)} ms after open (bound 250 + 150)`);
  });

  it('B5: deadPeerDetection: false keeps sending heartbeats to a silent peer without the kill rule (proxies)', async () => {
    const server = await startServer({ replyToHeartbeats: false });
    const { client, seen } = connect(server.url, { WebSocket: UndiciWebSocket, heartbeatIntervalMs: 25, deadPeerDetection: false });
    expect(client.activity.state.config.pongTimeoutMs).toBeNull();
    client.activity.start('api_call');
    await until(() => seen.opens === 1 && server.peers[0]!.heartbeats >= 8, 5_000, '8 unanswered heartbeats');
    expect(seen.deadPeerAt).toHaveLength(0);
    expect(seen.opens).toBe(1);
  });
});

describe('liveness (B5)', () => {
  it('B5: any inbound message is proof of life; when the peer stops answering it is declared dead', async () => {
    let answer = true;
    const server = await startServer({ autoPong: false });
    const { client, seen } = connect(server.url, { heartbeatIntervalMs: 30, pongTimeoutMs: 60, reconnect: { initialDelayMs: 1_000 } });
    client.activity.start('api_call');
    await until(() => seen.opens === 1, 5_000, 'open');
    const peer = server.peers[0]!;
    // No pongs, but a message for every ping: proof of life by inbound traffic.
    peer.socket.on('ping', () => {
      if (answer) peer.socket.send('tick');
    });
    await until(() => peer.pings >= 8, 5_000, '8 pings answered by messages');
    expect(seen.deadPeerAt).toHaveLength(0);
    answer = false;
    const silentFrom = performance.now();
    await until(() => seen.deadPeerAt.length === 1, 5_000, 'dead peer');
    expect(seen.deadPeerAt[0]! - silentFrom).toBeLessThanOrEqual(30 + 60 + 150);
    expect(seen.reconnecting).toHaveLength(1);
  });

  it('B5: a frozen peer (SIGSTOP) is detected within interval + timeout + 150 ms, every time', async () => {
    const server = await frozenServer();
    const port = server.port;
    const interval = 200;
    const timeout = 300;
    const { client, seen } = connect(`ws://127.0.0.1:${port}`, {
      heartbeatIntervalMs: interval,
      pongTimeoutMs: timeout,
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    client.activity.start('tool_exec');
    const detections: number[] = [];
    for (let round = 0; round < 3; round++) {
      await until(() => seen.opens === round + 1, 5_000, `open #${round + 1}`);
      const beats = count(seen, 'heartbeat');
      await until(() => count(seen, 'heartbeat') > beats, 5_000, 'a heartbeat on the new connection');
      const frozenAt = performance.now();
      server.freeze();
      await until(() => seen.deadPeerAt.length === round + 1, 5_000, `dead peer #${round + 1}`);
      detections.push(seen.deadPeerAt[round]! - frozenAt);
      server.thaw();
    }
    console.log(`B5 frozen peer detection times (ms): ${detections.map((ms) => ms.toFixed(0)).join(', ')} (bound ${interval} + ${timeout} + 150)`);
    for (const ms of detections) expect(ms).toBeLessThanOrEqual(interval + timeout + 150);
    await until(() => seen.opens === 4, 5_000, 'the reconnect after the last freeze');
  });
});

describe('reconnect (B6) and the send queue', () => {
  it('B6, S4: a server restarted 5 times mid-activity: reconnect within the backoff bound, heartbeat resumes, queued messages arrive in order exactly once', async () => {
    const reconnect: ReconnectOptions = { initialDelayMs: 20, maxDelayMs: 150 };
    const config = defineReconnectConfig(reconnect);
    let server = await startServer();
    const servers = [server];
    const port = server.port;
    const { client, seen } = connect(server.url, { heartbeatIntervalMs: 50, pongTimeoutMs: 2_000, reconnect });
    client.activity.start('api_call');
    await until(() => seen.opens === 1, 5_000, 'open');
    const expected: string[] = [];
    const reconnectTimes: number[] = [];
    for (let round = 1; round <= 5; round++) {
      const peer = server.peers[0]!;
      await until(() => peer.pings >= 2, 5_000, `heartbeat on connection ${round}`);
      expect(client.send(`live-${round}`)).toBe('sent');
      expected.push(`live-${round}`);
      await until(() => peer.messages.includes(`live-${round}`), 5_000, 'the live message');
      await server.close();
      await until(() => seen.closes.length === round, 5_000, `close #${round}`);
      expect(client.state).toBe('reconnecting');
      for (let i = 0; i < 3; i++) {
        expect(client.send(`queued-${round}-${i}`)).toBe('queued');
        expected.push(`queued-${round}-${i}`);
      }
      // At least one refused attempt while down: handshake failures count as attempts.
      const attempts = seen.reconnecting.length;
      await until(() => seen.reconnecting.length >= attempts + 2, 5_000, 'a failed attempt');
      const restartedAt = performance.now();
      server = await startServer({ port });
      servers.push(server);
      await until(() => seen.opens === round + 1, 5_000, `reconnect #${round}`);
      reconnectTimes.push(seen.openAt[round]! - restartedAt);
      const next = server.peers[0]!;
      // S4: the heartbeat resumes on the new connection; the queue was flushed before 'open'.
      expect(client.queuedMessages).toBe(0);
      await until(() => next.pings >= 1 && next.messages.length === 3, 5_000, 'flush and heartbeat');
    }
    console.log(`B6 reconnect after restart (ms): ${reconnectTimes.map((ms) => ms.toFixed(0)).join(', ')} (bound ${config.maxDelayMs} + 150)`);
    for (const ms of reconnectTimes) expect(ms).toBeLessThanOrEqual(config.maxDelayMs + 150);
    // B6: every delay within [0, cap]; the backoff level (not the attempt number, B11) sets the ceiling.
    for (const { delayMs } of seen.reconnecting) {
      expect(delayMs).toBeGreaterThanOrEqual(0);
      expect(delayMs).toBeLessThanOrEqual(config.maxDelayMs);
    }
    // Every attempt is also a diagnostic with its delay.
    expect(count(seen, CLIENT_DIAGNOSTICS.reconnecting)).toBe(seen.reconnecting.length);
    expect(count(seen, CLIENT_DIAGNOSTICS.connectFailed)).toBeGreaterThanOrEqual(5);
    const delivered = servers.flatMap((s) => s.peers.flatMap((peer) => peer.messages));
    expect(delivered).toEqual(expected);
    expect(seen.deadPeerAt).toHaveLength(0);
  });

  it('queue bound: past maxQueuedBytes or maxQueuedMessages send throws QueueFullError; nothing queued is dropped', async () => {
    const port = await refusedPort();
    const { client, seen } = connect(`ws://127.0.0.1:${port}`, { maxQueuedMessages: 3, maxQueuedBytes: 10, reconnect: { initialDelayMs: 20, maxDelayMs: 40 } });
    const bytes = new Uint8Array([1, 2, 3]);
    expect(client.send('abc')).toBe('queued');
    expect(client.send(bytes)).toBe('queued');
    bytes[0] = 9; // the queue holds a copy
    let error: unknown;
    try {
      client.send('12345');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error).toMatchObject({ name: 'QueueFullError', limit: 'bytes', maxBytes: 10, maxMessages: 3, queuedBytes: 6, queuedMessages: 2, messageBytes: 5 });
    expect((error as Error).message).toContain('maxQueuedBytes 10');
    expect(client.send('1234')).toBe('queued');
    expect(() => client.send('x')).toThrow(/maxQueuedMessages 3/);
    expect(client.queuedMessages).toBe(3);
    await until(() => seen.reconnecting.length >= 1, 5_000, 'a failed attempt');
    const server = await startServer({ port });
    await until(() => server.peers[0]?.messages.length === 3, 5_000, 'the flush');
    expect(server.peers[0]!.messages).toEqual(['abc', 'bin:010203', '1234']);
  });

  it('B6: reconnect.maxAttempts gives up with a closed event (cause exhausted) and hands back the queue', async () => {
    const port = await refusedPort();
    const reconnect = { initialDelayMs: 10, maxDelayMs: 40, maxAttempts: 3 };
    const { client, seen } = connect(`ws://127.0.0.1:${port}`, { reconnect });
    client.send('never-sent');
    await until(() => seen.closed !== null, 5_000, 'giving up');
    expect(seen.closed).toMatchObject({ cause: 'exhausted', code: 1006, undelivered: ['never-sent'] });
    expect(seen.reconnecting.map((event) => event.attempt)).toEqual([1, 2, 3]);
    const config = defineReconnectConfig(reconnect);
    for (const { attempt, delayMs } of seen.reconnecting) expect(delayMs).toBeLessThanOrEqual(backoffCeiling(config, attempt));
    expect(count(seen, CLIENT_DIAGNOSTICS.reconnectExhausted)).toBe(1);
    expect(seen.errors.length).toBeGreaterThanOrEqual(1); // the refused connections
    expect(seen.opens).toBe(0);
    expect(client.state).toBe('closed');
    expect(await client.close()).toBe(seen.closed);
  });
});

describe("reconnect.whenIdle: 'lazy': quiet while idle, back with the work (S4, B6, B7)", () => {
  // An idle reclaimer (like the demo's): closes a connection with 4000 after silence.
  const reclaim = (peer: Peer): void => {
    peer.socket.close(4000, 'idle_timeout');
  };
  const reconnect: ClientReconnectOptions = { initialDelayMs: 20, maxDelayMs: 100, whenIdle: 'lazy' };
  /** Several backoff ceilings: an eager client would have reconnected many times over. */
  const WINDOW = 5 * 100;

  /** A scheduler whose process holds are counted: a parked client must hold nothing. */
  function countingScheduler(): { scheduler: ReturnType<typeof createScheduler>; holds: () => number } {
    let holds = 0;
    const platform: Platform = {
      ...nodePlatform,
      hold: () => {
        holds++;
        const release = nodePlatform.hold?.() ?? (() => undefined);
        let released = false;
        return () => {
          if (released) return;
          released = true;
          holds--;
          release();
        };
      },
    };
    return { scheduler: createScheduler({ platform }), holds: () => holds };
  }

  it('S4, B7 (off), B6: reclaimed while idle, the client parks: no reconnect within 5 backoff ceilings; activity.start() reconnects at once and the heartbeat resumes', async () => {
    const server = await startServer();
    const { scheduler, holds } = countingScheduler();
    const { client, seen } = connect(server.url, { scheduler, heartbeatIntervalMs: 40, pongTimeoutMs: 2_000, reconnect });
    await until(() => seen.opens === 1, 5_000, 'open');
    // S4 with B7 off: no keep-alive while idle, so the reclaimer closes the silent connection.
    reclaim(server.peers[0]!);
    await until(() => seen.idles.length === 1, 5_000, 'the idle event');
    expect(seen.closes).toEqual([{ code: 4000, reason: 'idle_timeout', willReconnect: false }]);
    expect(seen.idles).toEqual([{ code: 4000, reason: 'idle_timeout' }]);
    // The deprecated `idle` event still fires, with the same payload, for one minor version.
    expect(seen.idleAliases).toEqual(seen.idles);
    expect(client.state).toBe('parked');
    // Parked: no socket, no timer, no hold.
    expect(scheduler.size).toBe(0);
    expect(holds()).toBe(0);
    await stays(() => server.peers.length > 1 || seen.reconnecting.length > 0, WINDOW, 'a reconnect while idle');
    expect(client.state).toBe('parked');
    expect(count(seen, CLIENT_DIAGNOSTICS.parked)).toBe(1);

    // Work comes back: connect at once (no backoff delay, no reconnecting event).
    const startedAt = performance.now();
    const release = client.activity.start('api_call');
    expect(client.state).toBe('connecting');
    await until(() => seen.opens === 2, 5_000, 'the reconnect on activity');
    const reconnectMs = seen.openAt[1]! - startedAt;
    expect(seen.openAttempts).toEqual([0, 0]);
    expect(seen.reconnecting).toHaveLength(0);
    expect(seen.diagnostics.find((d) => d.name === CLIENT_DIAGNOSTICS.unparked)?.fields).toMatchObject({ trigger: 'activity' });
    // S4 / B6: the heartbeat resumes on the new connection while the work is in flight.
    const peer = server.peers[1]!;
    await until(() => peer.pings >= 3, 5_000, 'the heartbeat on the new connection');
    release();

    // Idle again and reclaimed again: parks again, still without churn.
    reclaim(peer);
    await until(() => seen.idles.length === 2, 5_000, 'the second park');
    expect(server.peers).toHaveLength(2);
    expect(seen.reconnecting).toHaveLength(0);
    console.log(`lazy: reconnect on activity.start() took ${reconnectMs.toFixed(1)} ms (window with no reconnect: ${WINDOW} ms)`);
  });

  it('B6: send() while parked reconnects at once and delivers the queued messages in order, exactly once', async () => {
    const server = await startServer();
    const { client, seen } = connect(server.url, { reconnect });
    await until(() => seen.opens === 1, 5_000, 'open');
    expect(client.send('one')).toBe('sent');
    await until(() => server.peers[0]!.messages.length === 1, 5_000, 'the first message');
    reclaim(server.peers[0]!);
    await until(() => seen.idles.length === 1, 5_000, 'the park');
    expect(client.send('two')).toBe('queued');
    expect(client.state).toBe('connecting');
    expect(client.send(new Uint8Array([3]))).toBe('queued');
    expect(client.send('four')).toBe('queued');
    await until(() => server.peers[1]?.messages.length === 3, 5_000, 'the flush on the new connection');
    expect(client.queuedMessages).toBe(0);
    expect(server.peers.flatMap((peer) => peer.messages)).toEqual(['one', 'two', 'bin:03', 'four']);
    expect(seen.reconnecting).toHaveLength(0);
    expect(seen.diagnostics.find((d) => d.name === CLIENT_DIAGNOSTICS.unparked)?.fields).toMatchObject({ trigger: 'send' });
    // Exactly once: a round trip later nothing more has arrived anywhere.
    expect(client.send('sync')).toBe('sent');
    await until(() => server.peers[1]!.messages.includes('sync'), 5_000, 'the sync message');
    expect(server.peers.flatMap((peer) => peer.messages)).toEqual(['one', 'two', 'bin:03', 'four', 'sync']);
    expect(server.peers).toHaveLength(2);
  });

  it('B6: lost while busy, a lazy client reconnects with backoff as usual; a backoff delay that ends after the work is done parks instead', async () => {
    let server = await startServer();
    const port = server.port;
    let attempts = 0;
    const { client, seen } = connect(
      () => {
        attempts++;
        return new WsWebSocket(`ws://127.0.0.1:${port}`);
      },
      { heartbeatIntervalMs: 40, pongTimeoutMs: 2_000, reconnect },
    );
    const release = client.activity.start('tool_exec');
    await until(() => seen.opens === 1, 5_000, 'open');
    await server.close();
    await until(() => seen.closes.length === 1, 5_000, 'the loss');
    expect(seen.closes[0]).toMatchObject({ willReconnect: true });
    expect(client.state).toBe('reconnecting');
    // Refused attempts with backoff while the work is in flight, exactly as in eager mode.
    await until(() => seen.reconnecting.length >= 2, 5_000, 'a failed attempt and a new backoff');
    expect(seen.idles).toHaveLength(0);
    release();
    await until(() => seen.idles.length === 1, 5_000, 'the park once the work is done');
    expect(seen.idles[0]).toEqual({ code: 1006, reason: '' });
    expect(client.state).toBe('parked');
    const parkedAfter = attempts;
    await stays(() => attempts > parkedAfter, WINDOW, 'a connection attempt while parked');
    // Work comes back while the server is up again: connected at once.
    server = await startServer({ port });
    await client.activity.run('api_call', () => until(() => seen.opens === 2 && server.peers[0]!.pings >= 1, 5_000, 'reconnect and heartbeat'));
  });

  it("B6: eager (the default) is unchanged: a connection reclaimed while idle reconnects with backoff (the churn 'lazy' removes)", async () => {
    const server = await startServer();
    const { client, seen } = connect(server.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    await until(() => seen.opens === 1, 5_000, 'open');
    reclaim(server.peers[0]!);
    await until(() => seen.opens === 2, 5_000, 'the eager reconnect');
    expect(seen.closes).toEqual([{ code: 4000, reason: 'idle_timeout', willReconnect: true }]);
    expect(seen.reconnecting).toHaveLength(1);
    expect(seen.idles).toHaveLength(0);
    expect(seen.openAttempts).toEqual([0, 1]);
    expect(client.activity.state.total).toBe(0);
    expect(client.state).toBe('open');
  });

  it('B6: close() or abort while parked ends everything: no timer, no hold, no subscriber; later work connects nothing', async () => {
    const server = await startServer();
    const { scheduler, holds } = countingScheduler();
    let attempts = 0;
    const factory = (): WsWebSocket => {
      attempts++;
      return new WsWebSocket(server.url);
    };
    const { client, seen } = connect(factory, { scheduler, heartbeatIntervalMs: 40, pongTimeoutMs: 2_000, reconnect });
    const activity = client.activity;
    let notified = 0;
    activity.subscribe(() => notified++);
    await until(() => seen.opens === 1, 5_000, 'open');
    reclaim(server.peers[0]!);
    await until(() => seen.idles.length === 1, 5_000, 'the park');
    const result = await client.close();
    expect(result).toMatchObject({ cause: 'closed', code: 1000, reason: '', undelivered: [] });
    expect(client.state).toBe('closed');
    expect(scheduler.size).toBe(0);
    expect(holds()).toBe(0);
    const seenBefore = notified;
    activity.start('api_call');
    expect(attempts).toBe(1);
    expect(notified).toBe(seenBefore);
    expect(() => client.send('late')).toThrow(ClientClosedError);

    const controller = new AbortController();
    const aborted = connect(factory, { reconnect, signal: controller.signal });
    await until(() => aborted.seen.opens === 1, 5_000, 'open');
    reclaim(server.peers[1]!);
    await until(() => aborted.seen.idles.length === 1, 5_000, 'the park');
    controller.abort();
    expect(aborted.seen.closed).toMatchObject({ cause: 'aborted' });
    aborted.client.activity.start('api_call');
    expect(attempts).toBe(2);
  });
});

describe('closing (B6: no reconnect after a deliberate close)', () => {
  it('close(code, reason) closes the socket, resolves once closed, never reconnects, and leaves no timer armed', async () => {
    const server = await startServer();
    const scheduler = createScheduler();
    const { client, seen } = connect(server.url, { scheduler, heartbeatIntervalMs: 20, pongTimeoutMs: 500 });
    client.activity.start('api_call');
    await until(() => seen.opens === 1 && server.peers[0]!.pings >= 2, 5_000, 'busy and pinging');
    const result = await client.close(4001, 'bye');
    expect(result).toMatchObject({ cause: 'closed', code: 4001, reason: 'bye', undelivered: [] });
    expect(seen.closed).toBe(result);
    expect(client.state).toBe('closed');
    await until(() => server.peers[0]!.closeCode !== null, 5_000, 'the server-side close');
    expect(server.peers[0]).toMatchObject({ closeCode: 4001, closeReason: 'bye' });
    expect(seen.reconnecting).toHaveLength(0);
    expect(seen.closes).toHaveLength(0);
    // Nothing armed on the scheduler: no reconnect, no heartbeat; the activity it created is shut down.
    expect(scheduler.size).toBe(0);
    expect(scheduler.osTimersArmed).toBe(0);
    expect(client.activity.state.shutdown).toBe(true);
    expect(() => client.send('late')).toThrow(ClientClosedError);
    expect(await client.close()).toBe(result);
    expect(server.peers).toHaveLength(1);
  });

  it('close() while reconnecting resolves at once with the undelivered messages, in order', async () => {
    const port = await refusedPort();
    const scheduler = createScheduler();
    let attempts = 0;
    const { client, seen } = connect(
      () => {
        attempts++;
        return new WsWebSocket(`ws://127.0.0.1:${port}`);
      },
      { scheduler, reconnect: { initialDelayMs: 5_000, maxDelayMs: 5_000 } },
    );
    client.send('one');
    client.send(new Uint8Array([7]));
    await until(() => seen.reconnecting.length === 1, 5_000, 'waiting to reconnect');
    expect(client.state).toBe('reconnecting');
    expect(scheduler.size).toBe(1);
    const result = await client.close();
    expect(result.cause).toBe('closed');
    expect(result.undelivered).toEqual(['one', new Uint8Array([7])]);
    expect(count(seen, CLIENT_DIAGNOSTICS.undelivered)).toBe(1);
    expect(scheduler.size).toBe(0);
    expect(attempts).toBe(1);
  });

  it('an AbortSignal closes the client (cause aborted); an aborted signal never connects', async () => {
    const server = await startServer();
    const controller = new AbortController();
    const { client, seen } = connect(server.url, { signal: controller.signal });
    await until(() => seen.opens === 1, 5_000, 'open');
    controller.abort();
    await until(() => seen.closed !== null, 5_000, 'closed');
    expect(seen.closed).toMatchObject({ cause: 'aborted', code: 1000 });
    await until(() => server.peers[0]!.closeCode === 1000, 5_000, 'the server-side close');
    expect(client.state).toBe('closed');

    let attempts = 0;
    const aborted = createKeepaliveClient(
      () => {
        attempts++;
        return new WsWebSocket(server.url);
      },
      { signal: AbortSignal.abort() },
    );
    expect(aborted.state).toBe('closed');
    expect(await aborted.close()).toMatchObject({ cause: 'aborted', undelivered: [] });
    expect(attempts).toBe(0);
  });

  it('Symbol.asyncDispose closes the client; its activity is shut down with one report (S9) and nothing armed', async () => {
    const server = await startServer();
    const diagnostics: Diagnostic[] = [];
    const { client, seen } = connect(server.url, { heartbeatIntervalMs: 20, pongTimeoutMs: 500, onDiagnostic: (d) => diagnostics.push(d) });
    const activity = client.activity;
    const release = activity.start('api_call');
    await until(() => seen.opens === 1 && server.peers[0]!.pings >= 2, 5_000, 'pings while busy');
    expect(activity.isTrackingActive()).toBe(true);
    await client[Symbol.asyncDispose]();
    expect(client.state).toBe('closed');
    expect(activity.isTrackingActive()).toBe(false);
    expect(activity.state.shutdown).toBe(true);
    expect(activity.state.heartbeatAt).toBeNull();
    const reports = diagnostics.filter((d) => d.name === 'activity_at_shutdown');
    expect(reports).toHaveLength(1);
    expect(reports[0]?.fields).toMatchObject({ total: 1, active: { api_call: 1 } });
    release();
  });
});

describe('robustness: nothing escapes into the event loop', () => {
  it('a throwing factory, a non-socket and throwing listeners become error events; the client still connects', async () => {
    const server = await startServer();
    let calls = 0;
    const { client, seen } = connect(
      (): WebSocketLike => {
        calls++;
        if (calls === 1) throw new Error('factory failed');
        if (calls === 2) return {} as WebSocketLike;
        return new WsWebSocket(server.url);
      },
      { reconnect: { initialDelayMs: 10, maxDelayMs: 20 } },
    );
    client.on('open', () => {
      throw new Error('listener failed');
    });
    client.on('error', () => {
      throw new Error('error listener failed too');
    });
    await until(() => seen.opens === 1 && seen.errors.length >= 3, 5_000, 'open after two failed attempts');
    expect(seen.errors.map((error) => error.message)).toEqual([
      'factory failed',
      expect.stringContaining('did not return a WebSocket') as unknown as string,
      'listener failed',
    ]);
    expect(seen.reconnecting.map((event) => event.attempt)).toEqual([1, 2]);
    expect(count(seen, CLIENT_DIAGNOSTICS.listenerFailed)).toBeGreaterThanOrEqual(2);
    expect(client.state).toBe('open');
  });

  it('send and close refuse bad arguments clearly', async () => {
    const server = await startServer();
    const { client } = connect(server.url);
    expect(() => client.send(42 as unknown as string)).toThrow(TypeError);
    // The heartbeat message is the keep-alive on the wire: refused as data, not sent to be swallowed.
    expect(() => client.send('')).toThrow(/heartbeat message is the keep-alive/);
    const custom = connect(server.url, { heartbeatMessage: 'beat' }).client;
    expect(() => custom.send('beat')).toThrow(TypeError);
    expect(custom.send('')).toMatch(/sent|queued/);
    await custom.close();
    expect(() => client.on('nope' as 'open', () => undefined)).toThrow(/unknown event nope/);
    await expect(client.close(1001)).rejects.toThrow(/invalid code 1001/);
    await expect(client.close(1000, 'x'.repeat(124))).rejects.toThrow(/123 UTF-8 bytes/);
    expect(client.state).not.toBe('closed');
  });
});

/** An in-memory socket: a Bun-like one when `pingable` (ping(), pongs as 'pong' events, no on/terminate). */
class FakeSocket implements WebSocketLike {
  readyState = 1;
  binaryType = 'blob';
  pings = 0;
  readonly sent: unknown[] = [];
  readonly closeCalls: [number | undefined, string | undefined][] = [];
  private readonly listeners = new Map<string, Set<(event: SocketEventLike) => void>>();

  send(data: string | ArrayBuffer | ArrayBufferView): void {
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    // Never completes the close handshake: a peer that does not answer.
    this.closeCalls.push([code, reason]);
    this.readyState = 2;
  }

  addEventListener(type: SocketEventType, listener: (event: SocketEventLike) => void): void {
    let set = this.listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener);
  }

  removeEventListener(type: SocketEventType, listener: (event: SocketEventLike) => void): void {
    this.listeners.get(type)?.delete(listener);
  }

  dispatch(type: string, fields: Omit<SocketEventLike, 'type'> = {}): void {
    for (const listener of [...(this.listeners.get(type) ?? [])]) listener({ type, ...fields });
  }

  listenerCount(): number {
    let total = 0;
    for (const set of this.listeners.values()) total += set.size;
    return total;
  }
}

class FakePingSocket extends FakeSocket {
  ping(): void {
    this.pings++;
    changed();
  }
}

describe('runtime shapes (in-memory sockets)', () => {
  it('B14: a socket whose send() calls back into client.send() synchronously gets a loud refusal, and nothing is lost', async () => {
    const socket = new FakeSocket();
    const { client, seen } = connect(() => socket, {});
    await until(() => seen.opens === 1, 5_000, 'open');
    const inner: unknown[] = [];
    const original = socket.send.bind(socket);
    socket.send = (data) => {
      original(data);
      try {
        client.send('inner');
      } catch (error) {
        inner.push(error);
      }
    };
    expect(client.send('outer')).toBe('sent');
    // B16: written while idle, so a keep-alive (the heartbeat message on this socket) follows to confirm it; each of the
    // two writes called back, and each call was refused.
    expect(socket.sent).toEqual(['outer', '']);
    expect(inner).toHaveLength(2);
    for (const error of inner) expect(String(error)).toMatch(/called synchronously from inside a socket method/);
    expect(client.queuedMessages).toBe(0);
  });

  it('a Bun-like socket (ping() without on()): pings, pongs via addEventListener, already open at creation, binary data as Uint8Array, close gives up after closeTimeoutMs', async () => {
    const socket = new FakePingSocket();
    const { client, seen } = connect(() => socket, { heartbeatIntervalMs: 20, pongTimeoutMs: 1_000, closeTimeoutMs: 50 });
    client.activity.start('api_call');
    await until(() => seen.opens === 1, 5_000, 'open (already open at creation)');
    expect(socket.binaryType).toBe('arraybuffer');
    await until(() => socket.pings >= 1, 5_000, 'a ping');
    expect(client.activity.state.livenessAt).not.toBeNull();
    socket.dispatch('pong');
    expect(client.activity.state.livenessAt).toBeNull();
    socket.dispatch('message', { data: new Uint8Array([1]).buffer });
    socket.dispatch('message', { data: new DataView(new Uint8Array([2, 3]).buffer) });
    socket.dispatch('message', { data: HEARTBEAT_MESSAGE });
    socket.dispatch('message', { data: { unsupported: true } });
    expect(seen.messages).toEqual([
      { data: new Uint8Array([1]), binary: true },
      { data: new Uint8Array([2, 3]), binary: true },
    ]);
    expect(seen.errors.map((error) => error.message)).toEqual([expect.stringContaining('Unsupported message data type')]);
    socket.dispatch('error', { message: 'boom' });
    expect(seen.errors.at(-1)?.message).toBe('boom');
    expect(client.send('hi')).toBe('sent');
    // The unsolicited heartbeat above was answered in kind (a server that cannot ping); then the message.
    expect(socket.sent).toEqual([HEARTBEAT_MESSAGE, 'hi']);
    const result = await client.close(3000, 'done');
    expect(socket.closeCalls).toEqual([[3000, 'done']]);
    expect(result).toMatchObject({ cause: 'closed', code: 1006, reason: 'close_timeout' });
    // Only the no-op error listener is left on the abandoned socket.
    expect(socket.listenerCount()).toBe(1);
  });

  it('a WHATWG-like socket without ping() gets the configured heartbeat message', async () => {
    const socket = new FakeSocket();
    const sockets = [socket];
    const { client, seen } = connect(
      () => {
        if (sockets.length === 1 && seen.opens === 0) return socket;
        const next = new FakeSocket();
        sockets.push(next);
        return next;
      },
      { heartbeatIntervalMs: 20, heartbeatMessage: 'hb', closeTimeoutMs: 20 },
    );
    client.activity.start('api_call');
    await until(() => seen.opens === 1, 5_000, 'open');
    await until(() => count(seen, 'heartbeat') >= 2, 5_000, 'two heartbeats');
    expect(socket.sent.filter((data) => data === 'hb').length).toBeGreaterThanOrEqual(2);
    socket.dispatch('message', { data: 'hb' });
    expect(seen.messages).toHaveLength(0);
    socket.dispatch('close', { code: 1000, reason: 'bye' });
    expect(seen.closes).toEqual([{ code: 1000, reason: 'bye', willReconnect: true }]);
    expect(client.state).toBe('reconnecting');
    await until(() => seen.opens === 2, 5_000, 'the reconnect on a new socket');
    expect(sockets).toHaveLength(2);
  });
});

describe('connection options and diagnostics (S10)', () => {
  it('a URL object with subprotocols connects with the first protocol the server picks', async () => {
    const server = await startServer({ pickProtocol: true });
    const { seen } = connect(new URL(server.url), { protocols: ['chat.v2', 'chat.v1'] });
    await until(() => seen.opens === 1, 5_000, 'open');
    expect(server.peers[0]!.protocol).toBe('chat.v2');
    const undici = connect(server.url, { WebSocket: UndiciWebSocket, protocols: 'chat.v1' });
    await until(() => undici.seen.opens === 1, 5_000, 'undici open');
    expect(server.peers[1]!.protocol).toBe('chat.v1');
  });

  it('S10: diagnostics reach function, console-style and pino-style loggers and the diagnostics channel, without URLs', async () => {
    const port = await refusedPort();
    const lines: string[] = [];
    const consoleLike = { debug: (...args: unknown[]) => lines.push(`console ${String(args[0])}`), info: (...args: unknown[]) => lines.push(`console ${String(args[0])}`), warn: (...args: unknown[]) => lines.push(`console ${String(args[0])}`) };
    const pinoLike = { ...consoleLike, level: 'info', child: () => pinoLike, info: (object: unknown, event: unknown) => lines.push(`pino ${String(event)} ${JSON.stringify(object)}`) };
    const published: unknown[] = [];
    const subscriber = (message: unknown): void => {
      published.push(message);
    };
    diagnosticsChannel.subscribe('keepalive:diagnostics', subscriber);
    cleanups.push(() => diagnosticsChannel.unsubscribe('keepalive:diagnostics', subscriber));
    const reconnect = { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 1 };
    const url = `ws://127.0.0.1:${port}/?token=secret`;
    const runs = [
      connect(url, { reconnect, logger: (level, event) => lines.push(`function ${level} ${event}`) }),
      connect(url, { reconnect, logger: consoleLike }),
      connect(url, { reconnect, logger: pinoLike }),
    ];
    await until(() => runs.every(({ seen }) => seen.closed !== null), 5_000, 'all three to give up');
    expect(lines).toContain('function warn connect_failed');
    expect(lines).toContain('console reconnecting');
    expect(lines.some((line) => line.startsWith('pino reconnecting {"event":"reconnecting","attempt":1,'))).toBe(true);
    expect(published).toContainEqual(expect.objectContaining({ name: 'reconnect_exhausted', level: 'warn', fields: { attempts: 1 } }));
    const everything = JSON.stringify([lines, published, runs.map(({ seen }) => seen.diagnostics)]);
    expect(everything).not.toContain('127.0.0.1');
    expect(everything).not.toContain('secret');
  });
});

describe('option validation (B1)', () => {
  const url = 'ws://127.0.0.1:9';
  const table: [string, Record<string, unknown>][] = [
    ['heartbeatIntervalMs', { heartbeatIntervalMs: 0 }],
    ['pongTimeoutMs', { pongTimeoutMs: -1 }],
    ['maxQueuedMessages', { maxQueuedMessages: 1.5 }],
    ['maxQueuedBytes', { maxQueuedBytes: -1 }],
    ['closeTimeoutMs', { closeTimeoutMs: Number.POSITIVE_INFINITY }],
    ['heartbeatMessage', { heartbeatMessage: 42 }],
    ['heartbeatMessage', { heartbeatMessage: 'x'.repeat(126) }],
    ['keepaliveFrame', { keepaliveFrame: 'pong' }],
    ['deadPeerDetection', { deadPeerDetection: 'no' }],
    ['pongTimeoutMs', { deadPeerDetection: false, pongTimeoutMs: 100 }],
    ['reconnect.initialDelayMs', { reconnect: { initialDelayMs: Number.NaN } }],
    ['reconnect.maxAttempts', { reconnect: { maxAttempts: 0 } }],
    ['reconnect', { reconnect: 5 }],
    ['reconnect.whenIdle', { reconnect: { whenIdle: 'sometimes' } }],
    ['signal', { signal: {} }],
    ['WebSocket', { WebSocket: 'ws' }],
    ['protocols', { protocols: [1] }],
    ['heartbeatIntervalMS', { heartbeatIntervalMS: 1_000 }],
    ['activity', { activity: {} }],
    ['connectTimeoutMs', { connectTimeoutMs: 0 }],
    ['terminalCloseCodes', { terminalCloseCodes: [42] }],
    ['reconnect.maxDelayMs', { reconnect: { maxDelayMs: -1 } }],
    ['maxHeartbeatIntervalMs', { heartbeatIntervalMs: 5_000, maxHeartbeatIntervalMs: 1_000 }],
    ['keepProcessAlive', { keepProcessAlive: 'always' }],
    ['sendKeepalives', { sendKeepalives: 'yes' }],
    ['scheduler', { scheduler: {} }],
    ['logger', { logger: 42 }],
    ['onDiagnostic', { onDiagnostic: 'x' }],
    ['resume', { resume: true }],
    ['resume', { resume: { helloTimeoutMs: 1_000 } }],
  ];
  it.each(table)('B1: refuses %s with an error naming the option and the value', (option, options) => {
    let error: unknown;
    try {
      createKeepaliveClient(url, options);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(KeepaliveOptionError);
    expect((error as KeepaliveOptionError).option).toBe(option);
    expect((error as Error).message).toContain(`Invalid option ${option}`);
  });

  it('B1: an unknown option close to a known one is refused with "did you mean", nested ones by path', () => {
    expect(() => createKeepaliveClient(url, { heartbeatIntervalMS: 1 } as never)).toThrow(
      /^Invalid option heartbeatIntervalMS: 1 \(expected a known client option: .*, signal; did you mean "heartbeatIntervalMs"\?\)$/,
    );
    expect(() => createKeepaliveClient(url, { reconnect: { maxDelay: 1 } } as never)).toThrow(/^Invalid option reconnect\.maxDelay: 1 \(expected .*; did you mean "maxDelayMs"\?\)$/);
    expect(() => createKeepaliveClient(url, { banana: 1 } as never)).toThrow(/^Invalid option banana: 1 \(expected a known client option: [^;]*\)$/);
  });

  it('B1, B14: resume takes a layer, resumable(): what was accepted before says what to pass instead', () => {
    for (const resume of [true, { helloTimeoutMs: 1_000 }]) {
      expect(() => createKeepaliveClient(url, { resume } as never)).toThrow(/Invalid option resume: .*\(expected false, or resumable\(\) or resumable\(options\)/);
    }
    expect(() => resumable({ ackDelayMs: -1 })).toThrow(/Invalid option resume\.ackDelayMs: -1/);
  });

  it('B1: refuses bad targets (without echoing the URL), options that conflict with the target, and a given activity', () => {
    let created = 0;
    const factory = (): WebSocketLike => {
      created++;
      return new WsWebSocket(url);
    };
    expect(() => createKeepaliveClient('not a url?token=secret')).toThrow(/Invalid option target: "<unparsable URL>"/);
    expect(() => createKeepaliveClient('ftp://example.com/?token=secret')).toThrow(/<ftp: URL>/);
    expect(() => createKeepaliveClient(42 as unknown as string)).toThrow(/Invalid option target: 42/);
    expect(() => createKeepaliveClient(factory, { WebSocket: UndiciWebSocket })).toThrow(/Invalid option WebSocket/);
    expect(() => createKeepaliveClient(factory, { protocols: 'chat' })).toThrow(/Invalid option protocols/);
    expect(() => createKeepaliveClient(factory, null as unknown as KeepaliveClientOptions)).toThrow(/Invalid option options: null/);
    const activity = createSessionActivity({ pongTimeoutMs: 100 });
    try {
      // The client owns its activity (one machine decides); a given one is refused with what to do instead.
      expect(() => createKeepaliveClient(factory, { activity } as never)).toThrow(/Invalid option activity: an object \(expected absent: the client owns its activity/);
    } finally {
      activity.shutdown();
    }
    expect(created).toBe(0);
  });
});

describe('dispose leaves nothing behind', () => {
  it('a child process that uses the client against a server, then disposes it while busy, exits by itself', async () => {
    const child = spawn(process.execPath, ['--import', TS_REGISTER, fixture('client-dispose.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let exitAt = 0;
    void exited.then(() => {
      exitAt = performance.now();
      changed();
    });
    await until(() => exitAt > 0, 15_000, `the child to exit by itself (stdout: ${stdout}, stderr: ${stderr})`);
    const [code] = await exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const [json] = stdout.split('\n');
    const result = JSON.parse(json!) as Record<string, unknown>;
    expect(result).toMatchObject({
      events: ['open', 'close', 'reconnecting', 'open', 'closed'],
      state: 'closed',
      schedulerEntries: 0,
      osTimersArmed: 0,
      resources: [],
    });
    expect(result.exitListenersAfter as number).toBeLessThan(result.exitListenersBusy as number);
    expect(result.exitListenersAfter as number).toBeLessThanOrEqual(result.exitListenersBefore as number);
  });
});

describe('the connection rules on real sockets (B10–B13)', () => {
  it('B10: a listener frozen during the handshake and a path frozen while open: attempts time out and back off; after the thaw the client is open within maxDelayMs + connectTimeoutMs', async () => {
    const server = await frozenServer();
    const connectTimeoutMs = 300;
    const maxDelayMs = 200;
    server.freeze();
    const { client, seen } = connect(`ws://127.0.0.1:${server.port}`, {
      heartbeatIntervalMs: 100,
      pongTimeoutMs: 200,
      connectTimeoutMs,
      reconnect: { initialDelayMs: 50, maxDelayMs },
    });
    client.activity.start('tool_exec');
    const recoveries: number[] = [];
    for (let round = 0; round < 2; round++) {
      // Frozen: TCP connects (the kernel's backlog) but the 101 never comes; no attempt may hang.
      const timeouts = count(seen, CLIENT_DIAGNOSTICS.connectTimeout);
      await until(() => count(seen, CLIENT_DIAGNOSTICS.connectTimeout) >= timeouts + 3, 10_000, `three connect timeouts (round ${round})`);
      expect(seen.opens).toBe(round);
      expect(client.state).toBe('reconnecting');
      const thawedAt = performance.now();
      server.thaw();
      await until(() => seen.opens === round + 1, 5_000, `open after the thaw (round ${round})`);
      recoveries.push(seen.openAt[round]! - thawedAt);
      // Then the path freezes while open: a dead peer, and the same recovery.
      const beats = count(seen, 'heartbeat');
      await until(() => count(seen, 'heartbeat') > beats, 5_000, 'a heartbeat on the open connection');
      server.freeze();
      await until(() => seen.deadPeerAt.length === round + 1, 5_000, `dead peer (round ${round})`);
    }
    console.log(`B10 recovery after the thaw (ms): ${recoveries.map((ms) => ms.toFixed(0)).join(', ')} (bound ${maxDelayMs} + ${connectTimeoutMs} + 150)`);
    for (const ms of recoveries) expect(ms).toBeLessThanOrEqual(maxDelayMs + connectTimeoutMs + 150);
    // Every attempt ended: none stayed connecting past its timeout.
    expect(count(seen, CLIENT_DIAGNOSTICS.connectTimeout)).toBeGreaterThanOrEqual(6);
    server.thaw();
  });

  it('B11: an eager client behind an idle reclaimer (150 ms) with maxAttempts 2 never exhausts: every handshake succeeded', async () => {
    const server = await startServer();
    const reclaimers: NodeJS.Timeout[] = [];
    cleanups.push(() => {
      for (const timer of reclaimers) clearTimeout(timer);
    });
    const { client, seen } = connect(server.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 40, maxAttempts: 2 } });
    for (let opened = 1; opened <= 6; opened++) {
      await until(() => seen.opens === opened, 5_000, `handshake #${opened}`);
      const peer = server.peers[opened - 1]!;
      reclaimers.push(setTimeout(() => peer.socket.close(4000, 'idle'), 150));
    }
    expect(seen.closed).toBeNull();
    expect(client.state).not.toBe('closed');
    expect(count(seen, CLIENT_DIAGNOSTICS.reconnectExhausted)).toBe(0);
  });

  it('B12: a server that closes with 4401 is not retried: rejected then closed (cause rejected), one connection in all', async () => {
    const server = await startServer();
    server.peers.length = 0;
    const { client, seen } = connect(server.url, { reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    const rejected: { code: number; reason: string }[] = [];
    client.on('rejected', (event) => rejected.push(event));
    await until(() => server.peers.length === 1, 5_000, 'the connection');
    server.peers[0]!.socket.close(4401, 'token expired');
    await until(() => seen.closed !== null, 5_000, 'closed');
    expect(seen.closed).toMatchObject({ cause: 'rejected', code: 4401, reason: 'token expired' });
    expect(seen.closes).toEqual([{ code: 4401, reason: 'token expired', willReconnect: false }]);
    expect(seen.reconnecting).toEqual([]);
    expect(rejected).toEqual([{ code: 4401, reason: 'token expired' }]);
    expect(client.state).toBe('closed');
    expect(server.peers).toHaveLength(1);
  });

  it('B12: an async target is called anew for every attempt, so each one carries fresh credentials', async () => {
    const server = await startServer();
    const urls: string[] = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => {
      for (const socket of wss.clients) socket.terminate();
      wss.close(() => resolve());
    }));
    wss.on('connection', (socket, request) => {
      urls.push(request.url ?? '');
      changed();
      if (urls.length < 3) socket.close(1011, 'again');
    });
    const address = wss.address() as { port: number };
    let issued = 0;
    const { seen } = connect(async () => {
      await Promise.resolve();
      issued++;
      return new WsWebSocket(`ws://127.0.0.1:${address.port}/?token=t${issued}`);
    }, { reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    await until(() => seen.opens === 3, 5_000, 'three connections');
    expect(urls).toEqual(['/?token=t1', '/?token=t2', '/?token=t3']);
    await server.close();
  });

  it('B13: a client pinging faster than the server allows is closed for ping_flood once, takes the minimum the close says, says so, and then stays connected', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    const server = keepAlive(wss, { pingIntervalMs: 10_000, minPingIntervalMs: 300, maxPingStrikes: 1 });
    cleanups.push(() => new Promise<void>((resolve) => {
      server.close();
      for (const socket of wss.clients) socket.terminate();
      wss.close(() => resolve());
    }));
    const address = wss.address() as { port: number };
    const slowed: { heartbeatIntervalMs: number; previousIntervalMs: number }[] = [];
    const { client, seen } = connect(`ws://127.0.0.1:${address.port}`, {
      heartbeatIntervalMs: 100,
      reconnect: { initialDelayMs: 10, maxDelayMs: 20 },
    });
    client.on('slowed', (event) => {
      slowed.push(event);
      changed();
    });
    client.activity.start('api_call');
    await until(() => client.heartbeatIntervalMs >= 300 && client.state === 'open', 10_000, 'an interval the server accepts');
    // One close, and the ends agree: the minimum (300 ms) and a tenth for the network's jitter.
    expect(slowed.map((event) => event.heartbeatIntervalMs)).toEqual([330]);
    expect(seen.closes.map((close) => [close.code, close.reason, close.willReconnect])).toEqual([[1008, 'ping_flood min_interval_ms=300', true]]);
    expect(count(seen, CLIENT_DIAGNOSTICS.keepaliveSlowed)).toBe(1);
    const closes = seen.closes.length;
    // Five intervals at the new rate: no more flood closes.
    await stays(() => seen.closes.length > closes, 5 * client.heartbeatIntervalMs, 'another ping-flood close');
    expect(client.state).toBe('open');
  });
});
