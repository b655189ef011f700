import { createHash } from 'node:crypto';
import { createClient, ErrorReply, MultiErrorReply } from '@redis/client';

/**
 * The Redis connection every part of this package uses, in one copy, on a single Redis or a Redis Cluster:
 *
 * - from a `url`, a node-redis client of its own that never queues commands while disconnected
 *   (`disableOfflineQueue`: a command fails at once instead of piling up in memory), reconnects on its own with a
 *   capped backoff, and is replaced when it leaves a command unanswered for `commandTimeoutMs` (a stopped server,
 *   a partition: node-redis times a command out only while it waits to be written);
 * - or a client the user passes (`client`): a node-redis client (`createClient`) or cluster (`createCluster`) of
 *   `@redis/client`, used as it is (connected here if it is not open yet, never closed here: the user owns it).
 *   Every answer is still awaited at most `commandTimeoutMs`.
 *
 * Connection changes are reported once each (never its `error` events unhandled, which would crash the process).
 * Only commands a cluster routes by their first key are sent: scripts with their keys (`EVALSHA`, and `EVAL` when
 * the server does not have the script yet), `HMGET`, `DEL` of one key.
 */

/** The commands this package sends, as node-redis's clients and clusters name them. */
export interface RedisCommands {
  evalSha(sha1: string, options: { readonly keys: string[]; readonly arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { readonly keys: string[]; readonly arguments: string[] }): Promise<unknown>;
  hmGet(key: string, fields: string[]): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

/**
 * What this package needs of a Redis connection the user passes: a node-redis client from `createClient`, or a
 * cluster from `createCluster` (of `@redis/client`, or the `redis` package, which re-exports them), version 5 or 6,
 * with any RESP version, modules, scripts or type mapping (replies are read with the default type mapping).
 */
export interface RedisClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  withTypeMapping(typeMapping: Record<string, never>): RedisCommands;
}

/** Whether `value` looks like a node-redis client or cluster (a {@link RedisClientLike}). */
export function isRedisClientLike(value: unknown): value is RedisClientLike {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.connect === 'function' &&
    typeof candidate.on === 'function' &&
    typeof candidate.off === 'function' &&
    typeof candidate.withTypeMapping === 'function' &&
    typeof candidate.isOpen === 'boolean' &&
    typeof candidate.isReady === 'boolean'
  );
}

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

type OwnedClient = ReturnType<typeof newClient>;

/** What a connection reports: it became ready, or it lost the server (with the error's name only). */
export type ConnectionEvent = { readonly type: 'ready' } | { readonly type: 'lost'; readonly error: string };

/** Options of {@link RedisLink}: a `url` (a client of its own) or a `client` (the user's). */
export interface LinkOptions {
  readonly url: string | null;
  readonly client: RedisClientLike | null;
  readonly commandTimeoutMs: number;
  readonly reconnectMaxMs: number;
  readonly onEvent: (event: ConnectionEvent) => void;
}

/**
 * The class of a failed command's error, for a diagnostic: never its message (a Redis error message may quote a
 * key or a value). An error reply from Redis is named by its prefix, the first word of the reply (`OOM`,
 * `WRONGTYPE`, `READONLY`, `NOSCRIPT`, `CLUSTERDOWN`, `ERR`, …); a transaction's by the first failed command's; a
 * system error by its code (`ECONNREFUSED`); any other error by its name, or its constructor's name when the name
 * is the generic `Error` (node-redis's `SocketClosedUnexpectedlyError`, `ClientOfflineError`).
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

/** A Lua script, sent by its SHA1 (`EVALSHA`), and whole (`EVAL`) only when the server answers `NOSCRIPT`. */
export class LuaScript {
  readonly sha1: string;
  constructor(readonly source: string) {
    this.sha1 = createHash('sha1').update(source, 'utf8').digest('hex');
  }

  /**
   * Runs the script on `commands` with `keys` (on a cluster, routed by the first; every key must be in its slot)
   * and `args`.
   */
  async run(commands: RedisCommands, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await commands.evalSha(this.sha1, { keys, arguments: args });
    } catch (error) {
      // Not in this server's script cache yet (a new or restarted server, a failover): sent whole once.
      if (error instanceof ErrorReply && error.message.startsWith('NOSCRIPT')) return commands.eval(this.source, { keys, arguments: args });
      throw error;
    }
  }
}

/** Events of a client or a cluster that mean "ready" and "lost". */
const READY_EVENTS = ['ready', 'connect', 'node-ready'] as const;
const LOST_EVENTS = ['error', 'node-error'] as const;

/** One logical connection to Redis (or a cluster): a node-redis client or cluster, with bounded waits. */
export class RedisLink {
  /** The client of its own (from a url), replaced when it stops answering; `null` for a given client. */
  private owned: OwnedClient | null = null;
  private readonly given: RedisClientLike | null;
  private commands: RedisCommands;
  /** `null` before the first report. */
  private up: boolean | null = null;
  private closed = false;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners: [event: string, listener: (...args: unknown[]) => void][] = [];

  constructor(private readonly options: LinkOptions) {
    this.given = options.client;
    if (this.given === null) {
      this.owned = this.open();
      this.commands = this.owned;
    } else {
      this.commands = this.adopt(this.given);
    }
  }

  /** Whether commands can be sent now (a cluster: once its topology is known, whatever each node's state). */
  get ready(): boolean {
    return !this.closed && (this.given ?? this.owned)?.isReady === true;
  }

  /**
   * Runs `work` on the connection, bounded by `commandTimeoutMs` for the whole of it (one pipelined batch, say). On
   * a timeout, a client of its own is dropped (its unanswered commands fail) and a new connection is opened; a
   * given client is kept (its commands may still be answered later).
   */
  run<T>(work: (commands: RedisCommands) => Promise<T>): Promise<T> {
    const commands = this.commands;
    const owned = this.owned;
    const ms = this.options.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new RedisTimeoutError(ms));
        if (owned !== null) this.replace(owned, 'RedisTimeoutError');
      }, ms);
      work(commands).then(
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

  /** Closes a connection of its own (a graceful QUIT when it is ready, else at once); leaves a given one open. Never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    if (this.given !== null) {
      for (const [event, listener] of this.listeners) this.given.off(event, listener);
      return;
    }
    const client = this.owned;
    if (client === null) return;
    try {
      if (client.isReady) await client.close();
      else client.destroy();
    } catch {
      drop(client);
    }
  }

  private report(up: boolean, error: string): void {
    if (this.closed || this.up === up) return;
    this.up = up;
    this.options.onEvent(up ? { type: 'ready' } : { type: 'lost', error });
  }

  /** A given client: listened to, connected if it is not open (retried until it opens), read with default types. */
  private adopt(client: RedisClientLike): RedisCommands {
    const ready = (): void => {
      // A cluster says `connect` once its topology is known (then it is ready); a client says it before `ready`.
      if (client.isReady) {
        // A node of a cluster back (a master restarted, perhaps empty): reported even while up, so leases are
        // written again at once.
        if (this.up === true && !this.closed) this.options.onEvent({ type: 'ready' });
        else this.report(true, '');
      }
    };
    const lost = (error: unknown): void => {
      this.report(false, errorClass(error));
    };
    for (const event of READY_EVENTS) this.listeners.push([event, ready]);
    for (const event of LOST_EVENTS) this.listeners.push([event, lost]);
    for (const [event, listener] of this.listeners) client.on(event, listener);
    if (client.isReady) {
      queueMicrotask(() => this.report(true, ''));
    } else if (!client.isOpen) {
      const attempt = (): void => {
        this.connectTimer = null;
        if (this.closed || client.isOpen) return;
        client.connect().catch((error: unknown) => {
          // A cluster whose root nodes are all unreachable gives up (a client retries on its own): tried again.
          this.report(false, errorClass(error));
          if (!this.closed && !client.isOpen) this.connectTimer = setTimeout(attempt, this.options.reconnectMaxMs);
        });
      };
      attempt();
    }
    return client.withTypeMapping({});
  }

  private open(): OwnedClient {
    const { url, commandTimeoutMs, reconnectMaxMs } = this.options;
    const client = newClient(url ?? '', commandTimeoutMs, reconnectMaxMs);
    client.on('ready', () => {
      if (client !== this.owned) return;
      this.report(true, '');
    });
    client.on('error', (error: unknown) => {
      // Reported once per outage (the first failed connection counts); node-redis reconnects by itself.
      if (client !== this.owned) return;
      this.report(false, errorClass(error));
    });
    client.connect().catch(() => {
      // Not connected yet: node-redis keeps retrying; `ready` stays false until it succeeds.
    });
    return client;
  }

  private replace(client: OwnedClient, error: string): void {
    if (this.closed || client !== this.owned) return;
    this.report(false, error);
    this.owned = this.open();
    this.commands = this.owned;
    drop(client);
  }
}

function drop(client: OwnedClient): void {
  try {
    client.destroy();
  } catch {
    // Already closed.
  }
}
