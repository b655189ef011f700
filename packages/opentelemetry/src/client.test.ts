import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { createKeepaliveClient, keepAlive, resumable, type KeepaliveClient, type KeepaliveClientOptions } from '@keepalive/websocket-transport';
import { within } from 'keepalive-test-support';
import { ATTRIBUTES, METRICS, instrumentClient } from './index.js';
import { Metrics, histogramOf, valueOf } from './test-support/metrics.js';

/**
 * The client instruments, each from a scenario on real sockets (a `ws` server on 127.0.0.1), read through the real
 * OpenTelemetry metrics SDK (a periodic reader exporting to its in-memory exporter when flushed). Every wait is on an
 * event, bounded.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function metrics(): Metrics {
  const m = new Metrics();
  cleanups.push(() => m.shutdown());
  return m;
}

async function wsServer(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<{ wss: WebSocketServer; url: string }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  await once(wss, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => resolve());
      }),
  );
  return { wss, url: `ws://127.0.0.1:${String((wss.address() as AddressInfo).port)}` };
}

function client(url: string, options: KeepaliveClientOptions = {}): KeepaliveClient {
  const c = createKeepaliveClient(url, { heartbeatIntervalMs: 40, pongTimeoutMs: 150, reconnect: { initialDelayMs: 20, maxDelayMs: 50 }, ...options });
  cleanups.push(() => c.close());
  return c;
}

function next<T>(c: KeepaliveClient, event: Parameters<KeepaliveClient['on']>[0], ms = 3_000): Promise<T> {
  return within(
    new Promise<T>((resolve) => {
      const off = c.on(event, (payload: unknown) => {
        off();
        resolve(payload as T);
      });
    }),
    ms,
    `client event ${event}`,
  );
}

/** Resolves once the client has taken `count` round-trip samples (told by its activity's state changes). */
function samples(c: KeepaliveClient, count: number): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      if (c.rtt.samples >= count) resolve();
      const off = c.activity.subscribe(() => {
        if (c.rtt.samples < count) return;
        off();
        resolve();
      });
    }),
    3_000,
    `${String(count)} round-trip samples`,
  );
}

describe('instrumentClient on real sockets', () => {
  it('B5 S4: a busy client: sessions by state, keep-alives sent and answered, every round-trip sample in the histogram (seconds)', async () => {
    const m = metrics();
    const { url } = await wsServer();
    const c = client(url);
    const instrumentation = instrumentClient(c, { meter: m.meter });
    cleanups.push(() => instrumentation.close());
    await next(c, 'open');
    let read = await m.read();
    expect(valueOf(read, METRICS.clientSessions, { [ATTRIBUTES.sessionState]: 'idle' })).toBe(1);
    expect(valueOf(read, METRICS.clientSessions, { [ATTRIBUTES.sessionState]: 'busy' })).toBe(0);
    expect(read.get(METRICS.clientConnectDuration)?.descriptor.unit).toBe('s');
    expect(histogramOf(read, METRICS.clientConnectDuration, { [ATTRIBUTES.connectKind]: 'on_demand' }).count).toBe(1);

    const release = c.activity.start('job');
    await samples(c, 3);
    // Keep-alives go on while the SDK collects: the figures read lie between the client's before and after.
    const before = { ...c.rtt, sent: c.activity.snapshot().keepalivesSent };
    read = await m.read();
    const after = { ...c.rtt, sent: c.activity.snapshot().keepalivesSent };
    expect(valueOf(read, METRICS.clientSessions, { [ATTRIBUTES.sessionState]: 'busy' })).toBe(1);
    expect(valueOf(read, METRICS.clientSessions, { [ATTRIBUTES.sessionState]: 'idle' })).toBe(0);
    const rtt = histogramOf(read, METRICS.clientRtt);
    expect(rtt.count).toBeGreaterThanOrEqual(before.samples);
    expect(rtt.count).toBeLessThanOrEqual(after.samples);
    // Loopback: each answer well under a second, and the histogram holds the client's own samples.
    expect(rtt.max).toBeLessThan(1);
    expect(rtt.min).toBeGreaterThanOrEqual(0);
    expect(rtt.min * 1_000).toBeGreaterThanOrEqual(after.minMs ?? Number.POSITIVE_INFINITY);
    expect(rtt.min * 1_000).toBeLessThanOrEqual(before.minMs ?? -1);
    expect(read.get(METRICS.clientRtt)?.descriptor.unit).toBe('s');
    const sent = valueOf(read, METRICS.clientKeepalivesSent);
    expect(sent).toBeGreaterThanOrEqual(before.sent);
    expect(sent).toBeLessThanOrEqual(after.sent);
    const answered = valueOf(read, METRICS.clientKeepalivesAnswered);
    expect(answered).toBeGreaterThanOrEqual(Math.max(3, before.answered));
    expect(answered).toBeLessThanOrEqual(after.answered);
    release();
  });

  it('B5: a peer that stops answering: one dead peer, its silence in the detection histogram, a reconnect and an abnormal close that reconnects', async () => {
    const m = metrics();
    // The server never answers pings (autoPong off): from the client's side, a frozen peer.
    const { url } = await wsServer({ autoPong: false });
    const startedAt = performance.now();
    const c = client(url);
    instrumentClient(c, { meter: m.meter });
    await next(c, 'open');
    c.activity.start('job');
    await next(c, 'dead-peer');
    const waited = (performance.now() - startedAt) / 1_000;
    await next(c, 'open');
    const read = await m.read();
    // One dead peer by now (a slow machine may have seen the next socket die too: every count agrees).
    const dead = valueOf(read, METRICS.clientDeadPeers);
    expect(dead).toBeGreaterThanOrEqual(1);
    const detection = histogramOf(read, METRICS.clientDeadPeerDetection);
    expect(detection.count).toBe(dead);
    // Silent since the socket opened: at least the pong timeout; the first one at most the whole wait.
    expect(detection.min).toBeGreaterThanOrEqual(0.15);
    expect(detection.min).toBeLessThanOrEqual(waited);
    expect(valueOf(read, METRICS.clientReconnects)).toBeGreaterThanOrEqual(dead);
    // Lost while busy: not a reclaim.
    expect(valueOf(read, METRICS.clientIdleReclaims)).toBe(0);
    expect(valueOf(read, METRICS.clientCloses, { [ATTRIBUTES.closeClass]: 'abnormal', [ATTRIBUTES.closeReconnect]: true })).toBe(dead);
    expect(histogramOf(read, METRICS.clientConnectDuration, { [ATTRIBUTES.connectKind]: 'retry' }).count).toBeGreaterThanOrEqual(1);
    // No round trip was ever answered.
    expect(histogramOf(read, METRICS.clientRtt).count).toBe(0);
  });

  it('B12: a terminal close (4403) counts one rejection of class forbidden, never the code itself; the client is no longer counted', async () => {
    const m = metrics();
    const { wss, url } = await wsServer();
    wss.on('connection', (socket) => {
      socket.close(4403, 'user 42 is not allowed');
    });
    const c = client(url);
    instrumentClient(c, { meter: m.meter });
    await next(c, 'closed');
    const read = await m.read();
    expect(valueOf(read, METRICS.clientRejections, { [ATTRIBUTES.closeClass]: 'forbidden' })).toBe(1);
    expect(valueOf(read, METRICS.clientCloses, { [ATTRIBUTES.closeClass]: 'forbidden', [ATTRIBUTES.closeReconnect]: false })).toBe(1);
    for (const state of ['busy', 'idle', 'parked', 'connecting', 'reconnecting', 'closing']) {
      expect(valueOf(read, METRICS.clientSessions, { [ATTRIBUTES.sessionState]: state })).toBe(0);
    }
    expect(JSON.stringify([...read.values()])).not.toContain('user 42');
  });

  it('B16: a reclaim (the server cuts an idle client with 4000): a close of class idle_timeout, a park, the session counted parked', async () => {
    const m = metrics();
    const { wss, url } = await wsServer();
    const c = client(url, { reconnect: { whenIdle: 'lazy', initialDelayMs: 20, maxDelayMs: 50 } });
    instrumentClient(c, { meter: m.meter });
    const [socket] = (await Promise.all([once(wss, 'connection'), next(c, 'open')]))[0] as [WebSocket];
    const parked = next(c, 'parked');
    socket.close(4000, 'idle_timeout');
    await parked;
    let read = await m.read();
    expect(valueOf(read, METRICS.clientCloses, { [ATTRIBUTES.closeClass]: 'idle_timeout', [ATTRIBUTES.closeReconnect]: false })).toBe(1);
    expect(valueOf(read, METRICS.clientParks)).toBe(1);
    expect(valueOf(read, METRICS.clientIdleReclaims)).toBe(1);
    expect(valueOf(read, METRICS.clientSessions, { [ATTRIBUTES.sessionState]: 'parked' })).toBe(1);
    // Work coming back unparks: an on-demand connect, timed from the unpark.
    c.activity.start('job');
    await next(c, 'open');
    read = await m.read();
    expect(valueOf(read, METRICS.clientSessions, { [ATTRIBUTES.sessionState]: 'busy' })).toBe(1);
    expect(histogramOf(read, METRICS.clientConnectDuration, { [ATTRIBUTES.connectKind]: 'on_demand' }).count).toBe(2);
  });

  it('B13: a ping-flood close (1008 ping_flood) counts one slow-down, and the client keeps keep-alives going slower', async () => {
    const m = metrics();
    const { wss, url } = await wsServer();
    let connections = 0;
    wss.on('connection', (socket) => {
      // The first connection is closed as a ping flood, as a server whose minimum interval the client undercut would.
      if (++connections === 1) socket.close(1008, 'ping_flood min_interval_ms=100');
    });
    const c = client(url, { maxHeartbeatIntervalMs: 1_000 });
    instrumentClient(c, { meter: m.meter });
    const slowed = next(c, 'slowed');
    c.activity.start('job');
    await slowed;
    await next(c, 'open');
    const read = await m.read();
    expect(valueOf(read, METRICS.clientSlowdowns)).toBe(1);
    expect(valueOf(read, METRICS.clientRejections)).toBe(0);
    expect(c.heartbeatIntervalMs).toBeGreaterThanOrEqual(100);
  });

  it('B14: a resumable session: outcome new on the first connection, resumed after a loss', async () => {
    const m = metrics();
    const { wss, url } = await wsServer();
    const heartbeat = keepAlive(wss, { resume: true });
    cleanups.push(() => {
      heartbeat.close();
    });
    const c = client(url, { resume: resumable() });
    instrumentClient(c, { meter: m.meter });
    await next(c, 'session');
    const resumed = next<{ status: string }>(c, 'session');
    for (const socket of wss.clients) socket.terminate();
    expect((await resumed).status).toBe('resumed');
    const read = await m.read();
    expect(valueOf(read, METRICS.clientResumes, { [ATTRIBUTES.resumeOutcome]: 'new' })).toBe(1);
    expect(valueOf(read, METRICS.clientResumes, { [ATTRIBUTES.resumeOutcome]: 'resumed' })).toBe(1);
  });

  it('S9: messages queued and never sent are counted as handed back (undelivered) when the client closes', async () => {
    const m = metrics();
    // Nothing listens: every attempt fails, the messages wait in the queue.
    const { wss, url } = await wsServer();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    const c = client(url);
    instrumentClient(c, { meter: m.meter });
    c.send('one');
    c.send('two');
    const closed = await c.close();
    expect(closed.undelivered).toHaveLength(2);
    const read = await m.read();
    expect(valueOf(read, METRICS.clientMessagesHandedBack, { [ATTRIBUTES.handBackReason]: 'undelivered' })).toBe(2);
  });

  it('instruments sum every client of a meter; closing an instrumentation keeps what was counted (counters never go down)', async () => {
    const m = metrics();
    const { url } = await wsServer();
    const a = client(url);
    const b = client(url);
    const ia = instrumentClient(a, { meter: m.meter });
    instrumentClient(b, { meter: m.meter });
    await Promise.all([next(a, 'open'), next(b, 'open')]);
    const release = a.activity.start('job');
    await samples(a, 2);
    release();
    let read = await m.read();
    expect(valueOf(read, METRICS.clientSessions, { [ATTRIBUTES.sessionState]: 'idle' })).toBe(2);
    const sent = valueOf(read, METRICS.clientKeepalivesSent);
    expect(sent).toBeGreaterThanOrEqual(2);
    ia.close();
    ia.close();
    read = await m.read();
    expect(valueOf(read, METRICS.clientSessions, { [ATTRIBUTES.sessionState]: 'idle' })).toBe(1);
    expect(valueOf(read, METRICS.clientKeepalivesSent)).toBe(sent);
  });

  it('B1: a bad client or option throws a TypeError naming it', () => {
    expect(() => instrumentClient(null as unknown as KeepaliveClient)).toThrow(/instrumentClient client/);
    const fake = { on: () => () => undefined, activity: {} } as unknown as KeepaliveClient;
    expect(() => instrumentClient(fake, { meter: {} as never })).toThrow(/options\.meter/);
    expect(() => instrumentClient(fake, { meterProvider: 3 as never })).toThrow(/options\.meterProvider/);
  });
});
