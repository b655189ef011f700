import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createKeepaliveClient, resumable } from './index.node.js';
import { createSessionHub, type ResumableSession, type ResumeSocket, type SessionMessage } from './resume-server.js';
import { keepAlive } from './server.js';
import { within } from 'keepalive-test-support';
import { until } from './test-support/until.js';

/**
 * Regressions of the resumable session (B14), from a review of the first version: each of these lost or mangled a
 * message before its fix. Real ws sockets on 127.0.0.1 (and the hub alone for a socket that throws).
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function resumableServer() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const heartbeat = keepAlive(wss, { resume: true });
  const sessions: ResumableSession[] = [];
  const received: SessionMessage[] = [];
  heartbeat.sessions.on('session', ({ session, resumed }) => {
    sessions.push(session);
    if (!resumed) session.on('message', (message) => received.push(message));
  });
  cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
  cleanups.push(() => {
    heartbeat.close();
    for (const ws of wss.clients) ws.terminate();
  });
  return { wss, heartbeat, sessions, received, url: `ws://127.0.0.1:${String((wss.address() as AddressInfo).port)}` };
}

describe('B14: resumable sessions, regressions', () => {
  it('B14: text starting with U+0006 sent before the hello is escaped when the session comes up (it was written raw and lost)', async () => {
    const server = await resumableServer();
    const client = createKeepaliveClient(server.url, { resume: resumable() });
    cleanups.push(() => client.close(1000).catch(() => undefined));
    client.send('\u0006x');
    client.send('after');
    await until(() => server.received.length >= 2, 'two messages at the server');
    expect(server.received).toEqual(['\u0006x', 'after']);
  });

  it('B14: a server close crossing the client close is no proof of receipt: what it never read is handed back', async () => {
    const server = await resumableServer();
    server.heartbeat.sessions.on('session', ({ session }) => {
      session.on('message', () => {
        // The application ends the session on the first message (a logout, say).
        if (session.connected) session.close(4000, 'bye');
      });
    });
    const client = createKeepaliveClient(server.url, { resume: resumable() });
    await within(new Promise((resolve) => client.on('session', resolve)), 2_000, 'session');
    client.send('m1');
    client.send('m2');
    const closed = await within(client.close(1000), 2_000, 'closed');
    expect([...server.received, ...closed.undelivered]).toContain('m2');
  });

  it('B14: a client socket whose send throws is given up: the message goes again on the next connection, none misnumbered', async () => {
    const server = await resumableServer();
    let failures = 0;
    const client = createKeepaliveClient(
      ({ query }) => {
        const ws = new WebSocket(`${server.url}/?${query}`);
        const send = ws.send.bind(ws) as (...args: unknown[]) => void;
        (ws as unknown as { send: (...args: unknown[]) => void }).send = (data: unknown, ...rest: unknown[]) => {
          // The first socket refuses 'boom' once (a transient failure).
          if (data === 'boom' && failures === 0) {
            failures++;
            throw new Error('send failed');
          }
          send(data, ...rest);
        };
        return ws;
      },
      { resume: resumable(), reconnect: { initialDelayMs: 10, maxDelayMs: 20 } },
    );
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    await within(new Promise((resolve) => client.on('session', resolve)), 2_000, 'session');
    const resumed = new Promise((resolve) => client.on('session', ({ status }) => status === 'resumed' && resolve(status)));
    client.send('a');
    client.send('boom');
    client.send('c');
    await within(resumed, 3_000, 'resumed after the failed send');
    await until(() => server.received.length >= 3, 'three messages at the server');
    expect(server.received).toEqual(['a', 'boom', 'c']);
    expect(errors.map((error) => error.message)).toEqual(['send failed']);
    await client.close(1000);
  });

  it('B14: a server that speaks the wire format but whose hello is late: the client drops that socket and reconnects without asking; no control frame reaches the application', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
    // A loaded server: it speaks the wire format to clients that ask, but its hello comes after the client's timeout. The
    // hello is held until the client's plain reconnection arrives, so the order does not depend on timer latency
    // (a 200 ms delay raced the 50 ms timeout on a loaded machine).
    const asking: WebSocket[] = [];
    wss.on('connection', (ws, request) => {
      cleanups.push(() => ws.terminate());
      if (request.url?.includes('ka=2') === true) {
        asking.push(ws);
        return;
      }
      for (const late of asking) {
        if (late.readyState !== WebSocket.OPEN) continue;
        late.send(`\u0006H2 new abcdefghijklmnop ${'s'.repeat(22)}`);
        late.send('\u0006a0');
      }
      ws.send('data');
    });
    const client = createKeepaliveClient(`ws://127.0.0.1:${String((wss.address() as AddressInfo).port)}`, { resume: resumable({ helloTimeoutMs: 50 }), reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    cleanups.push(() => client.close(1000).catch(() => undefined));
    const messages: unknown[] = [];
    client.on('message', ({ data }) => messages.push(data));
    const statuses: string[] = [];
    client.on('session', ({ status }) => statuses.push(status));
    await until(() => messages.includes('data'), 'data on the plain connection');
    expect(messages).toEqual(['data']);
    expect(statuses).toEqual(['unsupported']);
  });

  it('B14: close() while waiting for the hello: what the server sends is still read as v1 (unescaped), never handed over raw', async () => {
    const server = await resumableServer();
    const client = createKeepaliveClient(server.url, { resume: resumable(), reconnect: { initialDelayMs: 10, maxDelayMs: 10 } });
    const messages: unknown[] = [];
    client.on('message', ({ data }) => messages.push(data));
    await within(new Promise((resolve) => client.on('session', resolve)), 2_000, 'session');
    const session = server.sessions[0] as ResumableSession;
    for (const ws of server.wss.clients) ws.terminate();
    await until(() => !session.connected, 'detached at the server');
    session.send('\u0006x');
    // The client closes as soon as its next socket opens, before the hello is read.
    const closed = new Promise<void>((resolve) => {
      client.on('open', () => {
        void client.close(1000).then(() => resolve());
      });
    });
    await within(closed, 3_000, 'closed');
    expect(messages.filter((message) => typeof message === 'string' && message.startsWith('\u0006\u0006'))).toEqual([]);
  });

  it('B14: without resume, copies of unconfirmed writes are bounded by maxQueuedBytes; the report counts the rest', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
    const sockets: WebSocket[] = [];
    wss.on('connection', (ws) => sockets.push(ws));
    const client = createKeepaliveClient(`ws://127.0.0.1:${String((wss.address() as AddressInfo).port)}`, { maxQueuedBytes: 65_536 });
    cleanups.push(() => client.close(1000).catch(() => undefined));
    await within(new Promise((resolve) => client.on('open', resolve)), 2_000, 'open');
    const reported = new Promise<{ messages: readonly (string | Uint8Array)[]; uncopied: number }>((resolve) => client.on('unconfirmed', resolve));
    const chunk = 'x'.repeat(10_000);
    for (let i = 0; i < 50; i++) client.send(chunk);
    await until(() => sockets.length === 1, 'server socket');
    sockets[0]?.terminate();
    const { messages, uncopied } = await within(reported, 3_000, 'unconfirmed');
    expect(messages.reduce((sum, message) => sum + message.length, 0)).toBeLessThanOrEqual(65_536);
    expect(messages.length).toBe(6);
    expect(messages.length + uncopied).toBe(50);
  });

  it('B14: a server socket whose send throws is given up (1011): nothing more is written on it, and nothing is released unread', () => {
    const hub = createSessionHub();
    cleanups.push(() => hub.close());
    const written: unknown[] = [];
    const closes: number[] = [];
    const socket: ResumeSocket = {
      send: (data) => {
        if (data === 'boom') throw new Error('send failed');
        written.push(data);
      },
      close: (code) => closes.push(code),
    };
    let session: ResumableSession | null = null;
    hub.on('session', (event) => {
      session = event.session;
    });
    expect(hub.connect(socket, (name) => (name === 'ka' ? '2' : null))).not.toBeNull();
    const s = session as unknown as ResumableSession;
    s.send('a');
    s.send('boom');
    expect(s.send('c')).toBe('queued');
    expect(written.filter((w) => typeof w === 'string' && !w.startsWith('\u0006'))).toEqual(['a']);
    expect(closes).toEqual([1011]);
    expect(s.connected).toBe(false);
    let unacked: readonly SessionMessage[] = [];
    s.on('close', (event) => {
      unacked = event.unacked;
    });
    s.close();
    expect(unacked).toEqual(['a', 'boom', 'c']);
  });
});
