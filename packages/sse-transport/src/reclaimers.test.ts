import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue, within } from 'keepalive-test-support';
import { ensureReclaimer, startReclaimer, type Reclaimer, type ReclaimerKind } from 'keepalive-test-support/reclaimers';
import { createSseClient, type SseClient, type SseClientEvents, type SseClientOptions } from './index.js';
import { createSseStream, type SseServerOptions } from './node.js';

/**
 * Issue 24, SSE: a stream behind REAL idle-reclaiming proxies (nginx and HAProxy, each the test's own process on
 * 127.0.0.1, see `keepalive-test-support/reclaimers`), real sockets end to end: a Node `http` server with
 * `createSseStream` behind the proxy, `createSseClient(proxy.url)` (Node's fetch) in front of it.
 *
 * The proxy's idle timeout is 1 s. The job's events are sparser than that (one every 2.5 s): only the keep-alive
 * comments (every 300 ms while the job runs, S4) carry the stream across the gaps. nginx may reclaim up to 300 ms
 * early, HAProxy a few ms late: the bounds leave room for both. Every wait is for an event and bounded; each test
 * starts and stops its own proxy and server.
 */

const IDLE_TIMEOUT_MS = 1_000;
/** The server's keep-alive comment interval while busy: well below the proxy's timeout. */
const KEEPALIVE_MS = 300;
/** The job's events: 2.5 proxy timeouts apart. */
const EVENT_GAP_MS = 2.5 * IDLE_TIMEOUT_MS;
/** Events of the job: ids 1..EVENTS, the first at once; the stream lasts (EVENTS - 1) × EVENT_GAP_MS. */
const EVENTS = 3;

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // Teardown goes on: a socket already gone is not a failure.
    }
  }
});

function track(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

interface Backend {
  readonly port: number;
  /** Requests received (each one a connection through the proxy: nginx opens one per request upstream). */
  requests: number;
  /** Streams that ended, with how (the client went away: the proxy's cut reaches the server as that). */
  readonly ended: Queue<{ readonly cause: string; readonly events: number }>;
}

/**
 * Our server: per request a stream whose job emits ids 1..EVENTS, EVENT_GAP_MS apart (the first at once); `busy`:
 * the job runs as the stream's activity (keep-alives while it runs, S4), else it runs with the stream idle.
 */
async function startBackend(options: SseServerOptions, busy: boolean): Promise<Backend> {
  const ended = new Queue<{ cause: string; events: number }>(10_000);
  const backend: { port: number; requests: number; ended: typeof ended } = { port: 0, requests: 0, ended };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    backend.requests++;
    const stream = createSseStream(req, res, { heartbeatIntervalMs: KEEPALIVE_MS, reconnect: { initialDelayMs: 200 }, ...options });
    const release = busy ? stream.activity.start('api_call') : () => undefined;
    let id = 0;
    const emit = (): void => {
      if (stream.ended) return;
      id++;
      stream.send({ id: String(id), event: 'tick', data: `event ${id}` });
      if (id === EVENTS) {
        release();
        return;
      }
      timer = setTimeout(emit, EVENT_GAP_MS);
    };
    let timer = setTimeout(emit, 0);
    void stream.closed.then(({ cause, events }) => {
      clearTimeout(timer);
      release();
      ended.push({ cause, events });
    });
  });
  await within(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)), 5_000, 'the backend listening');
  backend.port = (server.address() as AddressInfo).port;
  track(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return backend;
}

async function proxy(kind: ReclaimerKind, backendPort: number): Promise<Reclaimer> {
  const reclaimer = await startReclaimer(kind, { backendPort, idleTimeoutMs: IDLE_TIMEOUT_MS });
  track(() => reclaimer.stop());
  return reclaimer;
}

interface Watched {
  readonly client: SseClient;
  readonly open: Queue<SseClientEvents['open']>;
  readonly message: Queue<SseClientEvents['message']>;
  readonly close: Queue<SseClientEvents['close'] & { readonly at: number }>;
  /** Every event with the time it came. */
  readonly log: { readonly type: keyof SseClientEvents; readonly at: number }[];
  count(type: keyof SseClientEvents): number;
  /** When the last byte came: the last message or comment. */
  lastByteAt(): number;
}

function watch(url: string, options: SseClientOptions): Watched {
  const client = createSseClient(url, { connectTimeoutMs: 3_000, ...options });
  track(() => client.close());
  const log: { type: keyof SseClientEvents; at: number }[] = [];
  for (const type of ['open', 'message', 'comment', 'close', 'reconnecting', 'parked', 'dead-peer', 'rejected', 'closed', 'error'] as const) {
    client.on(type, () => log.push({ type, at: performance.now() }));
  }
  const queue = <K extends keyof SseClientEvents, T = SseClientEvents[K]>(type: K, map?: (payload: SseClientEvents[K]) => T): Queue<T> => {
    const items = new Queue<T>(10_000);
    client.on(type, (payload) => items.push(map === undefined ? (payload as T) : map(payload)));
    return items;
  };
  return {
    client,
    open: queue('open'),
    message: queue('message'),
    close: queue('close', (payload) => ({ ...payload, at: performance.now() })),
    log,
    count: (type) => log.filter((entry) => entry.type === type).length,
    lastByteAt: () => log.filter((entry) => entry.type === 'message' || entry.type === 'comment').at(-1)?.at ?? NaN,
  };
}

describe.each(['nginx', 'haproxy'] as const)('SSE behind %s (idle timeout 1 s)', (kind) => {
  beforeAll(() => ensureReclaimer(kind));

  it('S4 B5: a busy stream with events 2.5 timeouts apart survives on keep-alive comments: one connection for 5 s', async () => {
    const backend = await startBackend({}, true);
    const reclaimer = await proxy(kind, backend.port);
    // The client waits for the job (busy): bytes are due within pongTimeoutMs of each check (B5), which the
    // comments provide; a stall would be a dead-peer and a reconnect.
    const w = watch(`${reclaimer.url}/events`, { heartbeatIntervalMs: 500, pongTimeoutMs: 1_000, reconnect: { whenIdle: 'lazy', initialDelayMs: 200 } });
    const release = w.client.activity.start('await_answer');
    await w.open.next('the stream open');
    const from = performance.now();
    const ids: string[] = [];
    for (let event = 1; event <= EVENTS; event++) {
      const message = await w.message.next(`event ${event}`, EVENT_GAP_MS + 2_000);
      ids.push(message.lastEventId);
    }
    release();
    const lasted = performance.now() - from;
    const comments = w.count('comment');
    console.log(
      `[${kind}] SSE busy: events every ${EVENT_GAP_MS} ms, ${comments} keep-alive comments (every ${KEEPALIVE_MS} ms), ${w.count('open')} connection for ${Math.round(lasted)} ms, ${w.count('close')} cuts, ${w.count('dead-peer')} dead-peer`,
    );
    expect(ids).toEqual(Array.from({ length: EVENTS }, (_, index) => String(index + 1)));
    expect(lasted).toBeGreaterThanOrEqual((EVENTS - 1) * EVENT_GAP_MS - 100);
    expect(w.count('open')).toBe(1);
    expect(w.count('close')).toBe(0);
    expect(w.count('dead-peer')).toBe(0);
    expect(w.count('reconnecting')).toBe(0);
    expect(backend.requests).toBe(1);
    expect(comments).toBeGreaterThanOrEqual(Math.floor(((EVENTS - 1) * EVENT_GAP_MS) / KEEPALIVE_MS) - 3);
  }, 20_000);

  it.each([
    { title: 'busy, keep-alives off', options: { sendKeepalives: false }, busy: true },
    { title: 'idle (B16)', options: {}, busy: false },
  ])('S4 B16: the same sparse stream, $title, is cut at about the timeout after its last byte', async ({ options, busy }) => {
    const backend = await startBackend(options, busy);
    const reclaimer = await proxy(kind, backend.port);
    // The client does not wait (idle, lazy): the proxy is the only one to cut; parked after the cut.
    const w = watch(`${reclaimer.url}/events`, { heartbeatIntervalMs: 500, pongTimeoutMs: 1_000, reconnect: { whenIdle: 'lazy', initialDelayMs: 200 } });
    await w.open.next('the stream open');
    const first = await w.message.next('event 1');
    expect(first.lastEventId).toBe('1');
    const cut = await w.close.next('the cut', EVENT_GAP_MS);
    const silentFor = cut.at - w.lastByteAt();
    const serverSide = await backend.ended.next('the stream ended at the server', 5_000);
    console.log(
      `[${kind}] SSE ${busy ? 'busy, keep-alives off' : 'idle'}: cut ${Math.round(silentFor)} ms after the last byte (timeout ${IDLE_TIMEOUT_MS} ms), ${w.count('comment')} comments, before event 2; server saw '${serverSide.cause}' after ${serverSide.events} event`,
    );
    expect(w.count('comment')).toBe(0);
    expect(w.count('message')).toBe(1);
    expect(w.count('dead-peer')).toBe(0);
    expect(cut.willReconnect).toBe(false);
    expect(silentFor).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 350);
    expect(silentFor).toBeLessThanOrEqual(IDLE_TIMEOUT_MS + 500);
    expect(serverSide.events).toBe(1);
  }, 20_000);
});
