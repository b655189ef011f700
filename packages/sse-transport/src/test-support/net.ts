import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { SseClient, SseClientEvents } from '../client-types.js';

/** Starts a plain `http` server on 127.0.0.1; resolves with it and its port. */
export async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: HttpServer; port: number; url: string; close: () => Promise<void> }> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A reclaimer in front of a server, like a load balancer's idle timeout: a TCP proxy on 127.0.0.1 that cuts a
 * connection (both sides destroyed) once nothing has crossed it, either way, for `silenceMs`.
 */
export interface Reclaimer {
  readonly port: number;
  /** Connections cut for silence. */
  readonly cuts: number;
  /** Connections accepted. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startReclaimer(targetPort: number, silenceMs: number): Promise<Reclaimer> {
  const sockets = new Set<Socket>();
  let cuts = 0;
  let connections = 0;
  const server: Server = createServer((downstream) => {
    connections++;
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(downstream).add(upstream);
    // The downstream socket sees every byte of the pair (it reads the client's, writes the server's): its idle timer
    // is the silence of the connection.
    downstream.setTimeout(silenceMs, () => {
      cuts++;
      downstream.destroy();
      upstream.destroy();
    });
    downstream.pipe(upstream).pipe(downstream);
    const drop = (): void => {
      downstream.destroy();
      upstream.destroy();
      sockets.delete(downstream);
      sockets.delete(upstream);
    };
    downstream.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get cuts() {
      return cuts;
    },
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw HTTP/1.1 GET on a TCP socket: every byte as it arrived on the wire (headers and chunked encoding included). */
export interface RawStream {
  readonly socket: Socket;
  /** The bytes received so far, in arrival order, one entry per `data` event. */
  readonly chunks: { readonly at: number; readonly bytes: Buffer }[];
  /** Resolves when the received text contains `text` (rejects after `ms`). */
  until(text: string, ms?: number): Promise<void>;
  text(): string;
  close(): void;
}

export function rawGet(port: number, path = '/', headers: Readonly<Record<string, string>> = {}): RawStream {
  const socket = connect(port, '127.0.0.1');
  const chunks: { at: number; bytes: Buffer }[] = [];
  const waiters = new Set<() => void>();
  socket.on('error', () => undefined);
  socket.on('data', (bytes: Buffer) => {
    chunks.push({ at: performance.now(), bytes });
    for (const wake of [...waiters]) wake();
  });
  const lines = Object.entries({ host: `127.0.0.1:${port}`, accept: 'text/event-stream', ...headers }).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.write(`GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`);
  const text = (): string => Buffer.concat(chunks.map((chunk) => chunk.bytes)).toString('latin1');
  return {
    socket,
    chunks,
    text,
    close: () => socket.destroy(),
    until: (wanted, ms = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!text().includes(wanted)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${JSON.stringify(wanted)} within ${ms} ms; got ${JSON.stringify(text().slice(-500))}`));
        }, ms);
        waiters.add(check);
        check();
      }),
  };
}

/** Resolves with the next `event` of the client that `accept` takes (rejects after `ms`). */
export function next<K extends keyof SseClientEvents>(client: SseClient, event: K, accept: (payload: SseClientEvents[K]) => boolean = () => true, ms = 10_000): Promise<SseClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} event within ${ms} ms`));
    }, ms);
    const off = client.on(event, (payload) => {
      if (!accept(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

/** Records every event of a client, with the time it came. */
export function record(client: SseClient): { type: keyof SseClientEvents; at: number; payload: unknown }[] {
  const log: { type: keyof SseClientEvents; at: number; payload: unknown }[] = [];
  for (const type of ['open', 'message', 'comment', 'close', 'reconnecting', 'idle', 'dead-peer', 'rejected', 'closed', 'error'] as const) {
    client.on(type, (payload: unknown) => log.push({ type, at: performance.now(), payload }));
  }
  return log;
}
