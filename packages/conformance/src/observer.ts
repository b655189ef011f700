import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';

/**
 * The test's side of the wire, in the test process (Node, `ws`): an observer server for the client scenarios, and
 * healthy or frozen peers for the server scenarios. It speaks both keep-alive dialects: protocol pings (answered with
 * pongs) and the heartbeat message, the empty text frame (answered in kind).
 */

/** What arrived on a connection, in order. `mark` frames are the scenario's own text messages (`mark:<name>`). */
export interface Frame {
  readonly kind: 'ping' | 'heartbeat' | 'mark';
  readonly name?: string;
  readonly at: number;
}

export interface ObservedConnection {
  readonly path: string;
  readonly frames: Frame[];
  readonly openedAt: number;
  closedAt: number | null;
  closeCode: number | null;
}

export interface Observer {
  readonly url: string;
  readonly connections: ObservedConnection[];
  /** Resolves when a connection has received the mark `name`. */
  mark(connection: ObservedConnection, name: string, ms?: number): Promise<Frame>;
  close(): Promise<void>;
}

/**
 * A server that records every keep-alive frame and answers it, except on paths starting with `/silent`, where it
 * answers nothing (a server that stopped responding). On `/events?key=<key>` the first connection of each key is
 * refused at once with 4401 (a terminal code: the client is rejected), and every later one echoes each `echo:` text
 * message back.
 */
export async function startObserver(): Promise<Observer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false });
  const connections: ObservedConnection[] = [];
  const waiters = new Set<() => void>();
  const eventKeys = new Set<string>();
  wss.on('connection', (socket, request) => {
    const path = request.url ?? '/';
    const eventKey = path.startsWith('/events') ? (new URL(path, 'http://observer').searchParams.get('key') ?? '') : null;
    if (eventKey !== null && !eventKeys.has(eventKey)) {
      eventKeys.add(eventKey);
      socket.on('error', () => undefined);
      socket.close(4401, 'unauthorized');
      return;
    }
    const answering = !path.startsWith('/silent');
    // `/reclaim?after=<ms>`: closed with 4000 once silent (no frame at all) that long, like a container host or a load balancer.
    const reclaimAfter = path.startsWith('/reclaim') ? Number(new URL(path, 'http://observer').searchParams.get('after') ?? '2000') : null;
    let reclaim: NodeJS.Timeout | null = null;
    const heard = (): void => {
      if (reclaimAfter === null) return;
      if (reclaim !== null) clearTimeout(reclaim);
      reclaim = setTimeout(() => {
        socket.close(4000, 'idle');
      }, reclaimAfter);
    };
    const connection: ObservedConnection = { path, frames: [], openedAt: performance.now(), closedAt: null, closeCode: null };
    connections.push(connection);
    socket.on('error', () => undefined);
    heard();
    socket.on('ping', (data) => {
      heard();
      connection.frames.push({ kind: 'ping', at: performance.now() });
      if (answering) socket.pong(data);
    });
    socket.on('message', (data, isBinary) => {
      heard();
      const text = isBinary ? null : (data as Buffer).toString('utf8');
      if (text === '') {
        connection.frames.push({ kind: 'heartbeat', at: performance.now() });
        if (answering) socket.send('');
      } else if (text?.startsWith('mark:') === true) {
        connection.frames.push({ kind: 'mark', name: text.slice(5), at: performance.now() });
      } else if (eventKey !== null && text?.startsWith('echo:') === true) {
        socket.send(text);
      }
      for (const wake of waiters) wake();
    });
    socket.on('close', (code) => {
      if (reclaim !== null) clearTimeout(reclaim);
      connection.closedAt = performance.now();
      connection.closeCode = code;
    });
  });
  await once(wss, 'listening');
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('unexpected address');
  return {
    url: `ws://127.0.0.1:${address.port}`,
    connections,
    mark: (connection, name, ms = 5_000) =>
      new Promise<Frame>((resolve, reject) => {
        const check = (): boolean => {
          const frame = connection.frames.find((f) => f.kind === 'mark' && f.name === name);
          if (frame === undefined) return false;
          waiters.delete(wake);
          clearTimeout(timer);
          resolve(frame);
          return true;
        };
        const wake = (): void => {
          check();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`no mark:${name} within ${ms} ms; frames: ${JSON.stringify(connection.frames)}`));
        }, ms);
        waiters.add(wake);
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => {
          resolve();
        });
      }),
  };
}

/** Keep-alive frames (pings and heartbeats) between two marks on a connection. */
export function keepalivesBetween(connection: ObservedConnection, from: string, to: string): Frame[] {
  const start = connection.frames.findIndex((f) => f.kind === 'mark' && f.name === from);
  const end = connection.frames.findIndex((f) => f.kind === 'mark' && f.name === to);
  if (start < 0 || end < 0) throw new Error(`marks ${from}/${to} missing: ${JSON.stringify(connection.frames)}`);
  return connection.frames.slice(start + 1, end).filter((f) => f.kind !== 'mark');
}

/** A client peer for the server scenarios. */
export interface Peer {
  readonly socket: WebSocket;
  readonly openedAt: number;
  /** Keep-alives received: protocol pings and heartbeat messages. */
  readonly keepalives: number[];
  readonly closed: Promise<{ code: number; at: number }>;
}

/**
 * Opens a client to a server under test. A `healthy` peer answers pings (automatically) and heartbeat messages (in
 * kind); a `frozen` one answers nothing, like a process that stopped reading.
 */
export async function connectPeer(url: string, mode: 'healthy' | 'frozen'): Promise<Peer> {
  const socket = new WebSocket(url, { autoPong: mode === 'healthy' });
  socket.on('error', () => undefined);
  const keepalives: number[] = [];
  socket.on('ping', () => keepalives.push(performance.now()));
  socket.on('message', (data, isBinary) => {
    if (isBinary || (data as Buffer).length !== 0) return;
    keepalives.push(performance.now());
    if (mode === 'healthy') socket.send('');
  });
  const closed = new Promise<{ code: number; at: number }>((resolve) => {
    socket.once('close', (code) => {
      resolve({ code, at: performance.now() });
    });
  });
  await once(socket, 'open');
  return { socket, openedAt: performance.now(), keepalives, closed };
}

/** Resolves with `promise`, or rejects after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
