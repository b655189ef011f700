import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { roundTripTime } from '@keepalive/core';
import { createScheduler } from '@keepalive/node-timers';
import { PeerTracker, createKeepaliveClient, createKeepaliveServer, resumable, type KeepaliveClient, type ServerKeepaliveOptions } from '@keepalive/websocket-transport';
import { within } from 'keepalive-test-support';
import { ATTRIBUTES, ATTRIBUTE_VALUES, METRICS, instrumentClient, instrumentServer } from './index.js';
import { Metrics, everyAttribute, histogramOf, valueOf } from './test-support/metrics.js';

/**
 * The server instruments, each from a scenario on real sockets (`createKeepaliveServer` on 127.0.0.1, `ws` clients),
 * read through the real OpenTelemetry metrics SDK. Every wait is on an event, bounded.
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

async function server(keepalive: ServerKeepaliveOptions): Promise<ReturnType<typeof createKeepaliveServer> & { url: string }> {
  const { wss, heartbeat } = createKeepaliveServer({ host: '127.0.0.1', port: 0, keepalive: { scheduler: createScheduler(), ...keepalive } });
  await once(wss, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        heartbeat.close();
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => resolve());
      }),
  );
  return { wss, heartbeat, url: `ws://127.0.0.1:${String((wss.address() as AddressInfo).port)}` };
}

async function socket(url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  ws.on('error', () => undefined);
  cleanups.push(() => {
    ws.terminate();
  });
  await within(once(ws, 'open'), 3_000, 'socket open');
  return ws;
}

function closeOf(ws: WebSocket): Promise<number> {
  return within(
    new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code))),
    3_000,
    'socket close',
  );
}

describe('instrumentServer on real sockets', () => {
  it("B5 B16: pings answered by a live client: keep-alives sent and answered, each connection's round trip in the histogram, connections by state", async () => {
    const m = metrics();
    const { heartbeat, url } = await server({ pingIntervalMs: 30, pongTimeoutMs: 500, minPingIntervalMs: 10 });
    const instrumentation = instrumentServer(heartbeat, { meter: m.meter });
    cleanups.push(() => instrumentation.close());
    const ws = await socket(url);
    // Active: the client speaks between pings, so the server keeps pinging it (B16); five answered pings.
    let pongsSeen = 0;
    await within(
      new Promise<void>((resolve) => {
        ws.on('ping', () => {
          ws.send('still here');
          if (++pongsSeen === 5) resolve();
        });
      }),
      3_000,
      'five pings',
    );
    // The fifth pong is on its way: wait (on the tracker's observer) until every ping the tracker sent is answered.
    const [peer] = heartbeat.tracker.peers();
    await within(
      new Promise<void>((resolve) => {
        if ((peer?.state.keepalivesAnswered ?? 0) >= 5) resolve();
        const off = heartbeat.tracker.observe({
          answered: (state) => {
            if (state.keepalivesAnswered < 5) return;
            off();
            resolve();
          },
        });
      }),
      3_000,
      'five answers',
    );
    // Pings go on while the SDK collects: the figures read lie between the tracker's before and after.
    const figures = (): { samples: number; answered: number; sent: number } => ({
      samples: peer?.state.rttSamples ?? -1,
      answered: peer?.state.keepalivesAnswered ?? -1,
      sent: heartbeat.stats().pingsSent,
    });
    const before = figures();
    const read = await m.read();
    const after = figures();
    const rtt = histogramOf(read, METRICS.serverRtt);
    expect(rtt.count).toBeGreaterThanOrEqual(Math.max(1, before.samples));
    expect(rtt.count).toBeLessThanOrEqual(after.samples);
    expect(rtt.max).toBeLessThan(1);
    const answered = valueOf(read, METRICS.serverKeepalivesAnswered);
    expect(answered).toBeGreaterThanOrEqual(before.answered);
    expect(answered).toBeLessThanOrEqual(after.answered);
    const sent = valueOf(read, METRICS.serverKeepalivesSent);
    expect(sent).toBeGreaterThanOrEqual(before.sent);
    expect(sent).toBeLessThanOrEqual(after.sent);
    expect(valueOf(read, METRICS.serverConnections, { [ATTRIBUTES.connectionState]: 'active' })).toBe(1);
    expect(valueOf(read, METRICS.serverConnections, { [ATTRIBUTES.connectionState]: 'quiet' })).toBe(0);
    expect(peer === undefined ? null : roundTripTime(peer.state).smoothedMs).toBeGreaterThanOrEqual(0);
  });

  it('B5: a client that stops answering (a frozen peer to the server): one dead-peer close, its silence in the detection histogram', async () => {
    const m = metrics();
    const { heartbeat, url } = await server({ pingIntervalMs: 40, pongTimeoutMs: 60, minPingIntervalMs: 10 });
    instrumentServer(heartbeat, { meter: m.meter });
    const ws = await socket(url, { autoPong: false });
    const openedAt = performance.now();
    ws.send('hello');
    expect(await closeOf(ws)).toBe(1006);
    const waited = (performance.now() - openedAt) / 1_000;
    const read = await m.read();
    expect(valueOf(read, METRICS.serverCloses, { [ATTRIBUTES.closeReason]: 'dead_peer' })).toBe(1);
    const detection = histogramOf(read, METRICS.serverDeadPeerDetection);
    expect(detection.count).toBe(1);
    // Silent since its message: at least the pong timeout, at most the whole wait (B5: within interval + timeout + slack).
    expect(detection.sum).toBeGreaterThanOrEqual(0.06);
    expect(detection.sum).toBeLessThanOrEqual(waited);
    expect(histogramOf(read, METRICS.serverRtt).count).toBe(0);
  });

  it('B16: an idle client closed by the idle policy (4000) counts one idle close', async () => {
    const m = metrics();
    const { heartbeat, url } = await server({ pingIntervalMs: 10_000, pongTimeoutMs: 1_000, idleCloseMs: 80, minPingIntervalMs: 10 });
    instrumentServer(heartbeat, { meter: m.meter });
    const ws = await socket(url);
    expect(await closeOf(ws)).toBe(4000);
    const read = await m.read();
    expect(valueOf(read, METRICS.serverCloses, { [ATTRIBUTES.closeReason]: 'idle_timeout' })).toBe(1);
    expect(valueOf(read, METRICS.serverCloses, { [ATTRIBUTES.closeReason]: 'dead_peer' })).toBe(0);
  });

  it('B8: a ping flood closes with 1008 and counts one ping-flood close', async () => {
    const m = metrics();
    const { heartbeat, url } = await server({ pingIntervalMs: 10_000, minPingIntervalMs: 1_000, maxPingStrikes: 1 });
    instrumentServer(heartbeat, { meter: m.meter });
    const ws = await socket(url);
    const closed = closeOf(ws);
    for (let i = 0; i < 3; i++) ws.ping();
    expect(await closed).toBe(1008);
    const read = await m.read();
    expect(valueOf(read, METRICS.serverCloses, { [ATTRIBUTES.closeReason]: 'ping_flood' })).toBe(1);
  });

  it("B13: a client's own heartbeat messages, each answered in kind, are counted as heartbeats answered", async () => {
    const m = metrics();
    const { heartbeat, url } = await server({ pingIntervalMs: 10_000, minPingIntervalMs: 10 });
    instrumentServer(heartbeat, { meter: m.meter });
    const ws = await socket(url);
    for (let i = 0; i < 3; i++) {
      const answer = within(once(ws, 'message') as Promise<[Buffer]>, 2_000, 'the heartbeat answer');
      ws.send('');
      expect(String((await answer)[0])).toBe('');
    }
    const read = await m.read();
    expect(valueOf(read, METRICS.serverHeartbeatsAnswered)).toBe(3);
  });

  it('B14 S10: a resume on both ends: outcomes new and resumed, sessions connected; no attribute anywhere is an id, URL, token or payload', async () => {
    const m = metrics();
    const { wss, heartbeat, url } = await server({ pingIntervalMs: 30, pongTimeoutMs: 500, minPingIntervalMs: 10, resume: true });
    instrumentServer(heartbeat, { meter: m.meter });
    const secretish = 'token=abc123';
    const c: KeepaliveClient = createKeepaliveClient(`${url}/?${secretish}`, { heartbeatIntervalMs: 40, resume: resumable(), reconnect: { initialDelayMs: 20, maxDelayMs: 50 } });
    cleanups.push(() => c.close());
    instrumentClient(c, { meter: m.meter });
    const sessions: string[] = [];
    const twice = within(
      new Promise<void>((resolve) =>
        c.on('session', ({ status }) => {
          sessions.push(status);
          if (sessions.length === 2) resolve();
        }),
      ),
      3_000,
      'two sessions',
    );
    await within(
      new Promise<void>((resolve) => c.on('session', () => resolve())),
      3_000,
      'first session',
    );
    c.send('a payload that must not show');
    // The server drops the connection: the client resumes the same session on a new one.
    for (const connection of wss.clients) connection.terminate();
    await twice;
    expect(sessions).toEqual(['new', 'resumed']);
    const read = await m.read();
    expect(valueOf(read, METRICS.serverResumes, { [ATTRIBUTES.resumeOutcome]: 'new' })).toBe(1);
    expect(valueOf(read, METRICS.serverResumes, { [ATTRIBUTES.resumeOutcome]: 'resumed' })).toBe(1);
    expect(valueOf(read, METRICS.serverResumeSessions, { [ATTRIBUTES.resumeSessionState]: 'connected' })).toBe(1);
    expect(valueOf(read, METRICS.clientResumes, { [ATTRIBUTES.resumeOutcome]: 'resumed' })).toBe(1);

    // S10: every attribute key is one of ours and every value comes from its closed set (or is a boolean).
    const closedSets = ATTRIBUTE_VALUES as Readonly<Record<string, readonly string[]>>;
    const keys = new Set<string>(Object.values(ATTRIBUTES));
    const all = everyAttribute(read);
    expect(all.length).toBeGreaterThan(5);
    for (const [metric, key, value] of all) {
      expect(keys.has(key), `${metric}: attribute ${key}`).toBe(true);
      if (key === ATTRIBUTES.closeReconnect) expect(typeof value).toBe('boolean');
      else expect(closedSets[key], `${metric}: ${key}=${String(value)}`).toContain(value);
    }
    const text = JSON.stringify([...read.values()]);
    for (const forbidden of ['127.0.0.1', 'ws://', secretish, 'abc123', 'payload']) expect(text).not.toContain(forbidden);
  });

  it('takes a bare PeerTracker too; a bad server throws a TypeError naming it', () => {
    const m = metrics();
    const tracker = new PeerTracker({ scheduler: createScheduler() });
    const instrumentation = instrumentServer(tracker, { meter: m.meter });
    instrumentation[Symbol.dispose]();
    tracker.close();
    expect(() => instrumentServer({} as never)).toThrow(/instrumentServer server\.tracker/);
    expect(() => instrumentServer(undefined as never)).toThrow(/instrumentServer server/);
  });
});
