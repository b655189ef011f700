import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createClient } from '@redis/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Diagnostic } from '@keepalive/core';
import { createKeepaliveClient, resumable, type KeepaliveClient } from '@keepalive/websocket-transport';
import { RuntimeChild } from 'keepalive-test-support/runtime-child';
import { freePort, startRedisServer, type RedisServer } from 'keepalive-test-support/redis-server';

// A graceful restart of one process of a fleet (spec B14): worker processes with the Redis session store behind a
// load balancer (a TCP forwarder here), resumable clients exchanging messages both ways, SIGTERM to the first worker
// (which shuts down as the package README's program does), the balancer already pointing at the second: every
// session resumes there, and nothing is lost or repeated. Real redis-server, real processes, real sockets.

const WORKER = fileURLToPath(new URL('./test-support/handover-server.mjs', import.meta.url));
const CWD = fileURLToPath(new URL('..', import.meta.url));
const CLIENTS = 50;

let redis: RedisServer;
const children: RuntimeChild[] = [];
const clients: KeepaliveClient[] = [];
const balancers: Balancer[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close(1000).catch(() => undefined)));
  await Promise.all(children.splice(0).map((child) => child.stop(2_000)));
  await Promise.all(balancers.splice(0).map((balancer) => balancer.close()));
});

afterAll(async () => {
  await redis.stop();
});

/** A TCP load balancer: every new connection goes to the port it points at now. */
interface Balancer {
  readonly url: string;
  point(port: number): void;
  close(): Promise<void>;
}

async function startBalancer(port: number): Promise<Balancer> {
  let target = port;
  const sockets = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    const upstream = connectTcp(target, '127.0.0.1');
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const balancer: Balancer = {
    url: `ws://127.0.0.1:${String(address.port)}/`,
    point: (next) => {
      target = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  balancers.push(balancer);
  return balancer;
}

async function startWorker(port: number, tag: string, prefix: string): Promise<RuntimeChild> {
  const child = new RuntimeChild(process.execPath, [WORKER, redis.url, String(port), tag, prefix], { cwd: CWD, timeoutMs: 90_000 });
  children.push(child);
  await child.line('listening', () => true, 10_000);
  return child;
}

/** Waits (bounded) until `condition()`, checking at each turn of the timers. */
async function until(what: string, condition: () => boolean, ms = 20_000): Promise<void> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > ms) throw new Error(`not within ${String(ms)} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** One resumable client: what it received and the sessions it got, in order. */
interface Peer {
  readonly index: number;
  readonly client: KeepaliveClient;
  readonly received: string[];
  readonly statuses: string[];
  /** Messages sent again on a resume (the client's own count, per `session` event). */
  readonly retransmitted: number[];
  readonly forgotten: number[];
  readonly diagnostics: Diagnostic[];
  /** When its session came back on the second process (performance.now()). */
  resumedAt: number | null;
  sent: number;
  send(upTo: number): void;
}

function startPeer(url: string, index: number): Peer {
  const diagnostics: Diagnostic[] = [];
  const client = createKeepaliveClient(url, {
    resume: resumable(),
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    onDiagnostic: (d) => diagnostics.push(d),
  });
  clients.push(client);
  const peer: Peer = {
    index,
    client,
    received: [],
    statuses: [],
    retransmitted: [],
    forgotten: [],
    diagnostics,
    resumedAt: null,
    sent: 0,
    send(upTo) {
      for (; peer.sent < upTo; ) client.send(`${String(index)}:${String(++peer.sent)}`);
    },
  };
  client.on('message', ({ data }) => peer.received.push(String(data)));
  client.on('session', ({ status, retransmitted }) => {
    peer.statuses.push(status);
    peer.retransmitted.push(retransmitted);
    if (peer.statuses.length === 2) peer.resumedAt = performance.now();
  });
  client.on('forgotten', ({ messages }) => peer.forgotten.push(messages.length));
  return peer;
}

const range = <T>(from: number, to: number, item: (i: number) => T): T[] => Array.from({ length: to - from + 1 }, (_, i) => item(from + i));

describe('graceful hand-over of a fleet process (Redis session store, real redis-server, worker processes)', () => {
  it(`B14: SIGTERM hands every session over: ${String(CLIENTS)} clients mid-stream both ways resume on the next process, nothing lost, nothing duplicated (sequence numbers)`, async () => {
    const prefix = 'handover';
    const [portA, portB] = [await freePort(), await freePort()];
    const first = await startWorker(portA, 'A', prefix);
    const balancer = await startBalancer(portA);
    const peers = Array.from({ length: CLIENTS }, (_, i) => startPeer(balancer.url, i));
    await until('every client has a session', () => peers.every((peer) => peer.statuses.length === 1));
    // Settled traffic first: 20 messages each way, echoed.
    for (const peer of peers) peer.send(20);
    await until('20 echoes each', () => peers.every((peer) => peer.received.length === 20));
    // The next process is up before the first one is told to stop (a rolling restart); the balancer sends new
    // connections to it from now on.
    const second = await startWorker(portB, 'B', prefix);
    balancer.point(portB);
    // Mid-stream: each client writes 10 more and the server writes a burst of 10 to every session, then SIGTERM.
    for (const peer of peers) peer.send(30);
    first.command({ cmd: 'burst', count: 10 });
    await first.line('burst');
    const signalledAt = performance.now();
    first.kill('SIGTERM');
    // The clients go on writing while their sessions move: 5 before the first process starts its shutdown, 5 after
    // (on the way to a hub that no longer reads them, or queued while the client is away).
    for (const peer of peers) peer.send(35);
    const closing = await first.line('closing');
    for (const peer of peers) peer.send(40);
    await until('every session resumed on the second process', () => peers.every((peer) => peer.resumedAt !== null));
    const handOverMs = Math.max(...peers.map((peer) => peer.resumedAt ?? Infinity)) - signalledAt;
    const closed = await first.line('closed');
    expect(await first.exited).toBe(0);
    // After the move: 10 more from each client, and a burst from the second process.
    for (const peer of peers) peer.send(50);
    second.command({ cmd: 'burst', count: 10 });
    await second.line('burst');
    await until('every message of both directions arrived', () => peers.every((peer) => peer.received.length === 50 + 10 + 10), 20_000);

    for (const peer of peers) {
      expect(peer.statuses).toEqual(['new', 'resumed']);
      expect(peer.forgotten).toEqual([]);
      // The server's messages: each stream in order, each message exactly once.
      expect(peer.received.filter((text) => text.startsWith('e'))).toEqual(range(1, 50, (i) => `e${String(peer.index)}:${String(i)}`));
      expect(peer.received.filter((text) => text.startsWith('A'))).toEqual(range(1, 10, (i) => `A${String(i)}`));
      expect(peer.received.filter((text) => text.startsWith('B'))).toEqual(range(1, 10, (i) => `B${String(i)}`));
    }
    // The clients' messages: delivered to the application once each, in order, by one process or the other.
    const delivered = new Map<number, number[]>();
    for (const line of [...first.all('got'), ...second.all('got')]) {
      const [client, seq] = String(line.text).split(':').map(Number) as [number, number];
      delivered.set(client, [...(delivered.get(client) ?? []), seq]);
    }
    for (const peer of peers) expect(delivered.get(peer.index)).toEqual(range(1, 50, (i) => i));
    // Every session was restored from the store by the second process; none was new there.
    expect(second.all('session').filter((line) => line.restored !== true)).toEqual([]);
    const hub = closed.hub as { handedOver: number; ended: number };
    expect(hub).toMatchObject({ handedOver: CLIENTS, ended: 0 });

    second.command({ cmd: 'stats' });
    const stats = await second.line('stats');
    const count = (name: string): number => peers.reduce((sum, peer) => sum + peer.diagnostics.filter((d) => d.name === name).length, 0);
    const figures = {
      clients: CLIENTS,
      handOverMs: Math.round(handOverMs),
      firstProcessClosedMs: Math.round(Number(closed.ms)),
      serverUnackedAtSigterm: closing.unacked,
      serverMessagesSentAgain: stats.retransmitted,
      clientMessagesSentAgain: peers.reduce((sum, peer) => sum + (peer.retransmitted[1] ?? 0), 0),
      duplicatesDroppedByClients: count('duplicate_dropped'),
      duplicatesDroppedBySecondProcess: (stats.diagnostics as Record<string, number>).duplicate_dropped ?? 0,
      lost: 0,
      duplicatedToApplication: 0,
    };
    console.log(`hand-over figures: ${JSON.stringify(figures)}`);
  }, 90_000);

  it('B14: ending for good is explicit: close({ endSessions: true }) ends every session, the store forgets them, and the next process answers new (the clients get their unacknowledged messages back)', async () => {
    const prefix = 'ended';
    const [portA, portB] = [await freePort(), await freePort()];
    const first = await startWorker(portA, 'A', prefix);
    const balancer = await startBalancer(portA);
    const peers = Array.from({ length: 10 }, (_, i) => startPeer(balancer.url, i));
    await until('every client has a session', () => peers.every((peer) => peer.statuses.length === 1));
    for (const peer of peers) peer.send(5);
    await until('5 echoes each', () => peers.every((peer) => peer.received.length === 5));
    // The balancer points at a port nobody listens on yet: the clients retry until the second process is up.
    balancer.point(portB);
    first.command({ cmd: 'end' });
    const closed = await first.line('closed');
    expect(closed.hub).toMatchObject({ handedOver: 0, ended: 10 });
    expect(await first.exited).toBe(0);
    // Nothing left under the prefix in Redis.
    const probe = createClient({ url: redis.url });
    await probe.connect();
    try {
      expect(await probe.keys(`${prefix}:resume:*`)).toEqual([]);
    } finally {
      await probe.close();
    }
    const second = await startWorker(portB, 'B', prefix);
    // The clients come back to the second process, which does not know their sessions: new ones, forgotten.
    await until('every client has a new session', () => peers.every((peer) => peer.statuses.length === 2));
    for (const peer of peers) {
      expect(peer.statuses).toEqual(['new', 'forgotten']);
      expect(peer.forgotten).toHaveLength(1);
    }
    expect(second.all('session').every((line) => line.resumed === false && line.restored === false)).toBe(true);
  }, 60_000);
});
