import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES } from '@keepalive/core';
import { classifyMessage, keepAlive, type ServerKeepalive } from '@keepalive/websocket-transport';

/**
 * The demo's server: one HTTP server on loopback with
 * - `/` the dashboard page (and its static assets), token required;
 * - `/worker` the endpoint workers connect to, played as an idle reclaimer:
 *   any connection silent longer than the idle limit is closed (4000), dead
 *   peers are terminated, ping floods closed (1008), frames over maxPayload
 *   refused (1009);
 * - `/dashboard` the dashboard's own live socket, token and Origin checked.
 * An upgrade without the token gets 401.
 *
 * Hardened against connections that hold sockets without finishing a request (slowloris): headers must arrive
 * within `headersTimeoutMs`, the whole request within `requestTimeoutMs`, an idle keep-alive connection is closed
 * after `keepAliveTimeoutMs`; at most `maxPending` connections may be waiting for their request's headers (a new
 * one evicts the oldest, so a real request still gets through), and beyond `maxConnections` a new connection gets
 * a 503 and is closed.
 */

/** The HTTP limits (defaults in {@link HTTP_LIMITS}). */
export interface HttpLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxPending: number;
}

/** The demo server's default HTTP limits. */
export const HTTP_LIMITS: HttpLimits = Object.freeze({
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 512,
  maxPending: 64,
});

/** How the server closed a worker's connection. */
export type WorkerCloseVerdict = 'dead_peer' | 'idle_timeout' | 'other';

export interface DemoServerOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly idleLimitMs: number;
  readonly pongTimeoutMs: number;
  readonly maxPayload: number;
  readonly http?: Partial<HttpLimits> | undefined;
}

/** The server's view of one worker (measured in the server's process, whatever state the worker's process is in). */
export interface ServerWorkerView {
  /** Whether the server holds a connection from this worker. */
  readonly connected: boolean;
  /** How long ago the server last heard from the worker (any frame: a message, a ping, a pong); `null`: never. */
  readonly lastHeardMsAgo: number | null;
  /** How the server's side of the worker's last connection ended; `null` while none has. */
  readonly lastClose: WorkerCloseVerdict | null;
  /** How long ago that was. */
  readonly lastCloseMsAgo: number | null;
}

/** A command from the dashboard. */
export interface DashboardCommand {
  readonly action: 'long-tool' | 'cut' | 'freeze' | 'resume';
  readonly worker: number;
}

export interface DemoServer {
  readonly origin: string;
  readonly dashboardUrl: string;
  readonly workerUrl: string;
  readonly reclaimer: ServerKeepalive;
  /** Sends a JSON message to every connected dashboard. */
  broadcast(message: unknown): void;
  /** Registers the handler for dashboard commands. */
  onCommand(handler: (command: DashboardCommand) => void): void;
  /** Registers the handler called when a worker's connection ends, with the server's verdict. */
  onWorkerClose(handler: (worker: number, verdict: WorkerCloseVerdict) => void): void;
  /** Connections open now (HTTP and WebSocket), and how many were shed over the cap or evicted while pending. */
  connections(): { open: number; pending: number; shed: number; evicted: number };
  /** Worker ids of the worker connections currently open, server side. */
  connectedWorkers(): number[];
  /** The server's view of worker `id`: its connection, when it was last heard from, how its last connection ended. */
  workerView(id: number): ServerWorkerView;
  /** Closes every socket with 1001 (going away) and stops listening. */
  close(): Promise<void>;
}

const DASHBOARD_DIR = fileURLToPath(new URL('../src/dashboard/', import.meta.url));
/** The dashboard's script as the build bundled it (scripts/bundle-dashboard.mjs). */
const DASHBOARD_BUNDLE = fileURLToPath(new URL('../dist/dashboard/', import.meta.url));
const require = createRequire(import.meta.url);

const STATIC: Readonly<Record<string, { file: () => string; type: string }>> = {
  '/': { file: () => `${DASHBOARD_DIR}index.html`, type: 'text/html; charset=utf-8' },
  '/app.js': { file: () => `${DASHBOARD_BUNDLE}app.js`, type: 'text/javascript; charset=utf-8' },
  '/app.js.map': { file: () => `${DASHBOARD_BUNDLE}app.js.map`, type: 'application/json; charset=utf-8' },
  '/style.css': { file: () => `${DASHBOARD_DIR}style.css`, type: 'text/css; charset=utf-8' },
  '/vendor/uPlot.min.css': { file: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

function tokenOk(given: string | null, expected: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function refuse(socket: Duplex, status: 401 | 403 | 404, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function isCommand(value: unknown): value is DashboardCommand {
  if (typeof value !== 'object' || value === null) return false;
  const { action, worker } = value as Record<string, unknown>;
  return (action === 'long-tool' || action === 'cut' || action === 'freeze' || action === 'resume') && Number.isInteger(worker);
}

/** Starts the demo server and resolves once it listens. */
export async function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const workers = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload });
  const dashboards = new WebSocketServer({ noServer: true, maxPayload: 4_096 });
  const workerIds = new Map<WebSocket, number>();
  // What the server has heard from each worker (by id), for the dashboard's "server's view".
  const heard = new Map<number, { heardAt: number | null; closedAt: number | null; verdict: WorkerCloseVerdict | null }>();
  const heardOf = (id: number): { heardAt: number | null; closedAt: number | null; verdict: WorkerCloseVerdict | null } => {
    let entry = heard.get(id);
    if (entry === undefined) {
      entry = { heardAt: null, closedAt: null, verdict: null };
      heard.set(id, entry);
    }
    return entry;
  };
  let deadSeen = 0;
  let commandHandler: (command: DashboardCommand) => void = () => undefined;
  let workerCloseHandler: (worker: number, verdict: WorkerCloseVerdict) => void = () => undefined;
  const limits: HttpLimits = { ...HTTP_LIMITS, ...options.http };

  // The reclaimer: no traffic either way for the idle limit means closed, like a container host or a load balancer
  // (keep-alives both ways count, as on a real proxy). The server's own liveness pings go only to busy workers, and
  // one probe after a worker goes quiet (B16): an idle worker is left quiet, so the reclaimer can reclaim it.
  const reclaimer = keepAlive(workers, {
    idleCloseMs: options.idleLimitMs,
    pingIntervalMs: Math.max(100, Math.floor(options.idleLimitMs / 2)),
    pongTimeoutMs: options.pongTimeoutMs,
    minPingIntervalMs: 50,
    maxPingStrikes: 5,
  });

  // The dashboard's own socket: pinged so a dashboard that went away is noticed (the browser answers pings itself).
  const dashboardKeepalive = keepAlive(dashboards, { pingIntervalMs: 15_000, pongTimeoutMs: 10_000 });

  const http: Server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often Node checks the two timeouts above (default 30 s).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    (request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const asset = STATIC[url.pathname];
      if (request.method !== 'GET' || asset === undefined) {
        response.writeHead(404).end();
        return;
      }
      if (url.pathname === '/' && !tokenOk(url.searchParams.get('token'), options.token)) {
        response.writeHead(401, { 'content-type': 'text/plain' }).end('401: a token is required (see the URL the demo printed)\n');
        return;
      }
      try {
        const body = await readFile(asset.file());
        response.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }).end(body);
      } catch {
        response.writeHead(500).end();
      }
    })();
    },
  );

  // Connections waiting for their first request's headers, oldest first; and every open connection.
  const pending = new Set<Socket>();
  const open = new Set<Socket>();
  let shed = 0;
  let evicted = 0;
  http.on('connection', (socket: Socket) => {
    socket.on('error', () => undefined);
    if (open.size >= limits.maxConnections) {
      shed++;
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroySoon();
      return;
    }
    if (pending.size >= limits.maxPending) {
      const [oldest] = pending;
      if (oldest !== undefined) {
        evicted++;
        pending.delete(oldest);
        oldest.destroy();
      }
    }
    open.add(socket);
    pending.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      pending.delete(socket);
    });
  });
  const started = (request: IncomingMessage): void => {
    pending.delete(request.socket);
  };
  http.on('request', started);
  http.on('upgrade', started);

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('the demo server has no TCP address');
  const origin = `http://${options.host}:${address.port}`;
  const wsOrigin = `ws://${options.host}:${address.port}`;

  http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (!tokenOk(url.searchParams.get('token'), options.token)) {
      refuse(socket, 401, 'Unauthorized');
      return;
    }
    if (url.pathname === '/worker') {
      const id = Number(url.searchParams.get('worker'));
      workers.handleUpgrade(request, socket, head, (ws) => {
        const worker = Number.isInteger(id) ? id : -1;
        workerIds.set(ws, worker);
        ws.on('close', (code: number) => {
          workerIds.delete(ws);
          // The tracker counts its verdict before it terminates (dead peer) or closes (4000) the socket.
          const { deadPeers } = reclaimer.stats();
          const verdict: WorkerCloseVerdict = deadPeers > deadSeen ? 'dead_peer' : code === CLOSE_CODES.idleTimeout ? 'idle_timeout' : 'other';
          deadSeen = deadPeers;
          const entry = heardOf(worker);
          entry.closedAt = performance.now();
          entry.verdict = verdict;
          workerCloseHandler(worker, verdict);
        });
        workers.emit('connection', ws, request);
      });
      return;
    }
    if (url.pathname === '/dashboard') {
      // The dashboard socket only accepts the dashboard page's own origin.
      if (request.headers.origin !== origin) {
        refuse(socket, 403, 'Forbidden');
        return;
      }
      dashboards.handleUpgrade(request, socket, head, (ws) => {
        ws.on('error', () => undefined);
        ws.on('message', (data: Buffer, isBinary: boolean) => {
          // Heartbeat messages are the keep-alive's business (keepAlive answers them).
          if (classifyMessage(data, isBinary) !== 'data') return;
          try {
            const command: unknown = JSON.parse(data.toString('utf8'));
            if (isCommand(command)) commandHandler(command);
          } catch {
            // Malformed dashboard input is ignored.
          }
        });
      });
      return;
    }
    refuse(socket, 404, 'Not Found');
  });
  workers.on('connection', (ws: WebSocket) => {
    ws.on('error', () => undefined);
    const entry = heardOf(workerIds.get(ws) ?? -1);
    const alive = (): void => {
      entry.heardAt = performance.now();
    };
    alive();
    ws.on('ping', alive);
    ws.on('pong', alive);
    ws.on('message', alive);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      // Workers report results; the demo echoes an acknowledgement (application data).
      if (!isBinary && data.length > 1 && ws.readyState === ws.OPEN) ws.send(`ack:${data.length}`);
    });
  });

  return {
    origin,
    dashboardUrl: `${origin}/?token=${options.token}`,
    workerUrl: `${wsOrigin}/worker?token=${options.token}`,
    reclaimer,
    broadcast(message: unknown): void {
      const text = JSON.stringify(message);
      for (const ws of dashboards.clients) if (ws.readyState === ws.OPEN) ws.send(text);
    },
    onCommand(handler: (command: DashboardCommand) => void): void {
      commandHandler = handler;
    },
    onWorkerClose(handler: (worker: number, verdict: WorkerCloseVerdict) => void): void {
      workerCloseHandler = handler;
    },
    connections: () => ({ open: open.size, pending: pending.size, shed, evicted }),
    connectedWorkers(): number[] {
      return [...workerIds.values()].sort((a, b) => a - b);
    },
    workerView(id: number): ServerWorkerView {
      const entry = heard.get(id);
      const now = performance.now();
      return {
        connected: [...workerIds.values()].includes(id),
        lastHeardMsAgo: entry?.heardAt == null ? null : now - entry.heardAt,
        lastClose: entry?.verdict ?? null,
        lastCloseMsAgo: entry?.closedAt == null ? null : now - entry.closedAt,
      };
    },
    async close(): Promise<void> {
      reclaimer.close();
      dashboardKeepalive.close();
      for (const ws of [...workers.clients, ...dashboards.clients]) ws.close(CLOSE_CODES.goingAway, 'server shutting down');
      // Peers that do not finish the close handshake (a frozen worker) are terminated after 2 s.
      const force = setTimeout(() => {
        for (const ws of [...workers.clients, ...dashboards.clients]) ws.terminate();
      }, 2_000);
      await Promise.all([
        new Promise<void>((resolve) => workers.close(() => resolve())),
        new Promise<void>((resolve) => dashboards.close(() => resolve())),
      ]);
      clearTimeout(force);
      const closing = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      for (const socket of open) socket.destroy();
      await closing;
    },
  };
}
