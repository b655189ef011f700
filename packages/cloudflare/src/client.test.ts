import { once } from 'node:events';
import { join } from 'node:path';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { PACKAGE_DIR, bundleWorker, startWorkerd, textOf, within } from './test-support/workerd.js';

/**
 * The reconnecting client (`createKeepaliveClient` from @keepalive/websocket-transport, bundled for workerd) inside a
 * Durable Object (src/test-support/client-worker.mjs), on workerd's global WebSocket, calling a backend: a `ws`
 * server in this process that answers heartbeat messages in kind and records what it gets.
 */

interface Connection {
  readonly socket: WebSocket;
  readonly heartbeats: number[];
  readonly messages: string[];
  readonly closed: Promise<{ code: number; at: number }>;
}

interface ObjectState {
  readonly instance: number;
  readonly state: string | null;
  readonly keepalivesSent: number | null;
  readonly diagnostics: string[];
}

let mf: Miniflare;
let http: string;
let wss: WebSocketServer;
let backend: string;
const connections: Connection[] = [];
const arrivals: ((connection: Connection) => void)[] = [];

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  backend = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
  wss.on('connection', (socket) => {
    const connection: Connection = {
      socket,
      heartbeats: [],
      messages: [],
      closed: new Promise((resolve) => socket.on('close', (code) => resolve({ code, at: Date.now() }))),
    };
    socket.on('message', (data) => {
      const text = textOf(data);
      if (text === '') {
        connection.heartbeats.push(Date.now());
        socket.send('');
      } else connection.messages.push(text);
    });
    connections.push(connection);
    for (const arrived of arrivals.splice(0)) arrived(connection);
  });
  const script = await bundleWorker(join(PACKAGE_DIR, 'src/test-support/client-worker.mjs'));
  ({ mf, http } = await startWorkerd(script, { durableObjects: { CALLER: 'Caller' } }));
});

afterAll(async () => {
  await mf.dispose();
  for (const client of wss.clients) client.terminate();
  wss.close();
});

async function act(object: string, action: string): Promise<ObjectState> {
  const response = await mf.dispatchFetch(`${http}/${object}?do=${action}&backend=${encodeURIComponent(backend)}`);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${action}: ${response.status} ${text}`);
  return JSON.parse(text) as ObjectState;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('createKeepaliveClient in a Durable Object (workerd)', () => {
  it('keeps its connection alive while its work is in flight (heartbeat messages, each answered), and is silent when idle', async () => {
    const arrived = new Promise<Connection>((resolve) => arrivals.push(resolve));
    const started = await act('busy', 'start');
    const connection = await within(arrived, 5_000, 'the connection at the backend');
    expect(started.state).toBe('open');
    await sleep(1_000);
    const busy = await act('busy', 'idle');
    const atIdle = connection.heartbeats.length;
    await sleep(600);
    const idle = await act('busy', 'state');
    console.log(`workerd client: ${busy.keepalivesSent ?? 0} keep-alives in 1000 ms busy (${atIdle} at the backend), ${connection.heartbeats.length - atIdle} in 600 ms idle`);
    expect(connection.messages).toEqual([`hello from instance ${started.instance}`]);
    // Every 100 ms on workerd's timers, and each answered within 250 ms (no dead_peer).
    expect(busy.keepalivesSent).toBeGreaterThanOrEqual(7);
    expect(busy.keepalivesSent).toBeLessThanOrEqual(16);
    expect(idle.diagnostics).not.toContain('dead_peer');
    expect(idle.state).toBe('open');
    expect(connection.heartbeats.length - atIdle).toBeLessThanOrEqual(1);
    expect(idle.keepalivesSent).toBe(busy.keepalivesSent);
  });

  it('goes with its object: an object reset while its client is busy drops the connection at once, and the next instance starts without it', async () => {
    const arrived = new Promise<Connection>((resolve) => arrivals.push(resolve));
    const started = await act('reset', 'start');
    const connection = await within(arrived, 5_000, 'the connection at the backend');
    await sleep(300);
    const resetAt = Date.now();
    await expect(act('reset', 'abort')).rejects.toThrow(/reset by the test/);
    const closed = await within(connection.closed, 3_000, 'the backend to see the connection drop');
    const heartbeatsAtClose = connection.heartbeats.length;
    await sleep(300);
    const after = await act('reset', 'state');
    console.log(`workerd client in a reset object: the backend saw ${closed.code} ${closed.at - resetAt} ms after the reset; new instance ${after.instance} has no client`);
    expect(heartbeatsAtClose).toBeGreaterThanOrEqual(1);
    expect(closed.code).toBe(1006);
    expect(closed.at - resetAt).toBeLessThan(1_000);
    // Nothing of the old client runs on: no keep-alive after the drop, no reconnect from the old instance.
    expect(connection.heartbeats.length).toBe(heartbeatsAtClose);
    expect(connections.filter((c) => c !== connection && c.messages.includes(`hello from instance ${started.instance}`))).toEqual([]);
    expect(after.instance).toBeGreaterThan(started.instance);
    expect(after.state).toBeNull();
  });
});
