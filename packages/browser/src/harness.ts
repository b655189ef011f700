import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { keepAlive, isHeartbeatMessage, type ServerKeepalive } from '@keepalive/websocket-transport';
import { build } from 'esbuild';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * The server side of the browser tests: one HTTP server on 127.0.0.1 (port 0) that serves the test page and its
 * bundle, and a `ws` server with `keepAlive(wss)` at /ws that answers the client's heartbeat messages and records,
 * per connection, what arrived and how it closed.
 */

/** What the server saw of one connection. */
export interface SeenConnection {
  readonly socket: WebSocket;
  readonly openedAt: number;
  /** Arrival times (ms, performance.now()) of the client's heartbeat messages. */
  readonly heartbeats: number[];
  readonly messages: string[];
  closeCode: number | null;
}

export interface Harness {
  readonly url: string;
  readonly connections: SeenConnection[];
  /** Calls `onChange` at every server event (for waits driven by events). */
  onChange(listener: () => void): void;
  close(): Promise<void>;
}

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Bundles the test page for the browser: no aliases, externals or polyfills. */
export async function bundlePage(): Promise<string> {
  const result = await build({ entryPoints: [`${FIXTURES}page.js`], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' });
  return new TextDecoder().decode(result.outputFiles[0]?.contents);
}

export async function startHarness(bundle: string, keepalive: Parameters<typeof keepAlive>[1] = {}): Promise<Harness> {
  const listeners = new Set<() => void>();
  const changed = (): void => {
    for (const listener of [...listeners]) listener();
  };
  const server: Server = createServer((request, response) => {
    if (request.url?.startsWith('/app.js') === true) {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      response.end(bundle);
    } else {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<!doctype html><meta charset="utf-8"><title>keepalive</title><script type="module" src="/app.js"></script>');
    }
  });
  const wss = new WebSocketServer({ server, path: '/ws' });
  const heartbeat: ServerKeepalive = keepAlive(wss, { pingIntervalMs: 60_000, pongTimeoutMs: 60_000, minPingIntervalMs: 50, maxPingStrikes: 1_000, ...keepalive });
  const connections: SeenConnection[] = [];
  const harness: Harness = {
    url: '',
    connections,
    onChange: (listener) => {
      listeners.add(listener);
    },
    close: async () => {
      heartbeat.close();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  wss.on('connection', (socket) => {
    const seen: SeenConnection = { socket, openedAt: performance.now(), heartbeats: [], messages: [], closeCode: null };
    connections.push(seen);
    socket.on('error', () => undefined);
    // keepAlive answers the heartbeats itself; a test that wants a silent peer pauses the socket's reading.
    socket.on('message', (data: Buffer, isBinary) => {
      if (isHeartbeatMessage(data, '', isBinary)) seen.heartbeats.push(performance.now());
      else seen.messages.push(data.toString('utf8'));
      changed();
    });
    socket.on('close', (code) => {
      seen.closeCode = code;
      changed();
    });
    changed();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  return Object.assign(harness, { url: `http://127.0.0.1:${address.port}/` });
}
