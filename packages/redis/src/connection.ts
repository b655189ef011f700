import { createClient, ErrorReply, MultiErrorReply } from 'redis';

/**
 * The Redis connection every part of this package uses, in one copy: a node-redis client that never queues
 * commands while disconnected (`disableOfflineQueue`: a command fails at once instead of piling up in memory),
 * reconnects on its own with a capped backoff, and reports connection changes once each (never its `error`
 * events unhandled, which would crash the process). node-redis times a command out only while it waits to be
 * written; {@link RedisLink.run} also bounds the wait for the answer, and a server that leaves a command
 * unanswered for `commandTimeoutMs` (stopped, or behind a partition) costs its connection: a new one is opened.
 */
export type RedisConnection = ReturnType<typeof newClient>;

function newClient(url: string, commandTimeoutMs: number, reconnectMaxMs: number) {
  return createClient({
    url,
    disableOfflineQueue: true,
    commandOptions: { timeout: commandTimeoutMs },
    socket: {
      connectTimeout: commandTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(25 * 2 ** Math.min(retries, 10), reconnectMaxMs),
    },
  });
}

/** What a connection reports: it became ready, or it lost the server (with the error's name only). */
export type ConnectionEvent = { readonly type: 'ready' } | { readonly type: 'lost'; readonly error: string };

/** Options of {@link RedisLink}. */
export interface LinkOptions {
  readonly url: string;
  readonly commandTimeoutMs: number;
  readonly reconnectMaxMs: number;
  readonly onEvent: (event: ConnectionEvent) => void;
}

/**
 * The class of a failed command's error, for a diagnostic: never its message (a Redis error message may quote a
 * key or a value). An error reply from Redis is named by its prefix, the first word of the reply (`OOM`,
 * `WRONGTYPE`, `READONLY`, `NOSCRIPT`, `ERR`, …); a transaction's by the first failed command's; a system error by
 * its code (`ECONNREFUSED`); any other error by its name, or its constructor's name when the name is the generic
 * `Error` (node-redis's `SocketClosedUnexpectedlyError`).
 */
export function errorClass(error: unknown): string {
  if (error instanceof MultiErrorReply) {
    const first = error.replies[error.errorIndexes[0] ?? -1];
    return first === undefined ? 'MultiErrorReply' : errorClass(first);
  }
  if (error instanceof ErrorReply) {
    const prefix = /^([A-Z][A-Z0-9_]{0,31})(?:\s|$)/.exec(error.message);
    return prefix?.[1] ?? 'ErrorReply';
  }
  if (error instanceof Error) {
    // A system error's code (`ECONNREFUSED`, `ECONNRESET`): a class, not data.
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9_]{1,31}$/.test(code)) return code;
    if (error.name !== 'Error' && error.name !== '') return error.name;
    const constructorName = (error.constructor as { name?: unknown } | undefined)?.name;
    return typeof constructorName === 'string' && constructorName !== '' ? constructorName : 'Error';
  }
  return typeof error;
}

/** Thrown when a command would be sent while the connection is not ready (nothing is queued). */
export class RedisNotConnectedError extends Error {
  constructor() {
    super('Redis is not connected');
    this.name = 'RedisNotConnectedError';
  }
}

/** Thrown by {@link RedisLink.run} when Redis did not answer within `commandTimeoutMs`. */
export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/** One logical connection to Redis: a node-redis client, replaced when it stops answering. */
export class RedisLink {
  private current: RedisConnection;
  private down = false;
  private closed = false;

  constructor(private readonly options: LinkOptions) {
    this.current = this.open();
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return !this.closed && this.current.isReady;
  }

  /**
   * Runs `work` on the client, bounded by `commandTimeoutMs` for the whole of it (one pipelined batch, say). On a
   * timeout the client is dropped (its unanswered commands fail) and a new connection is opened.
   */
  run<T>(work: (client: RedisConnection) => Promise<T>): Promise<T> {
    const client = this.current;
    const ms = this.options.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new RedisTimeoutError(ms));
        this.replace(client, 'RedisTimeoutError');
      }, ms);
      work(client).then(
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

  /** Closes the connection: a graceful QUIT when it is ready, else at once. Never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const client = this.current;
    try {
      if (client.isReady) await client.close();
      else client.destroy();
    } catch {
      drop(client);
    }
  }

  private open(): RedisConnection {
    const { url, commandTimeoutMs, reconnectMaxMs, onEvent } = this.options;
    const client = newClient(url, commandTimeoutMs, reconnectMaxMs);
    client.on('ready', () => {
      if (client !== this.current) return;
      this.down = false;
      onEvent({ type: 'ready' });
    });
    client.on('error', (error: unknown) => {
      // Reported once per outage (the first failed connection counts); node-redis reconnects by itself.
      if (client !== this.current) return;
      this.lost(errorClass(error));
    });
    client.connect().catch(() => {
      // Not connected yet: node-redis keeps retrying; `ready` stays false until it succeeds.
    });
    return client;
  }

  private lost(error: string): void {
    if (this.down) return;
    this.down = true;
    this.options.onEvent({ type: 'lost', error });
  }

  private replace(client: RedisConnection, error: string): void {
    if (this.closed || client !== this.current) return;
    this.lost(error);
    this.current = this.open();
    drop(client);
  }
}

function drop(client: RedisConnection): void {
  try {
    client.destroy();
  } catch {
    // Already closed.
  }
}
