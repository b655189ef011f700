import { createClient } from 'redis';
import { errorName } from '@keepalive/node-timers';

/**
 * The Redis connection every part of this package uses, in one copy: a node-redis client that never queues
 * commands while disconnected (`disableOfflineQueue`: a command fails at once instead of piling up in memory),
 * times every command out (`commandTimeoutMs`: a Redis that stopped answering cannot hold a batch forever),
 * reconnects on its own with a capped backoff, and reports connection changes once each (never its `error`
 * events unhandled, which would crash the process).
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

/** Options of {@link openConnection}. */
export interface ConnectionOptions {
  readonly url: string;
  readonly commandTimeoutMs: number;
  readonly reconnectMaxMs: number;
  readonly onEvent: (event: ConnectionEvent) => void;
}

/** Creates the client and starts connecting (in the background: a server that is down now is retried). */
export function openConnection(options: ConnectionOptions): RedisConnection {
  const { url, commandTimeoutMs, reconnectMaxMs, onEvent } = options;
  const client = newClient(url, commandTimeoutMs, reconnectMaxMs);
  let down = false;
  client.on('ready', () => {
    down = false;
    onEvent({ type: 'ready' });
  });
  client.on('error', (error: unknown) => {
    // Reported once per outage (the first failed connection counts); node-redis reconnects by itself.
    if (down) return;
    down = true;
    onEvent({ type: 'lost', error: errorName(error) });
  });
  client.connect().catch(() => {
    // The first connection failed for good (reconnectStrategy gave up): commands fail; the caller sees isReady false.
  });
  return client;
}

/** Closes the client: a graceful QUIT when it is connected, else at once. Never throws. */
export async function closeConnection(client: RedisConnection): Promise<void> {
  try {
    if (client.isReady) await client.close();
    else client.destroy();
  } catch {
    try {
      client.destroy();
    } catch {
      // Already closed.
    }
  }
}
