import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, WebSocket as WsWebSocket, type RawData } from 'ws';
import type { Diagnostic } from '@keepalive/core';
import { Queue, within } from 'keepalive-test-support';
import { ensureReclaimer, startReclaimer, type Reclaimer, type ReclaimerKind } from 'keepalive-test-support/reclaimers';
import {
  classifyMessage,
  createKeepaliveClient,
  keepAlive,
  resumable,
  type ClientCloseEvent,
  type ClientParkedEvent,
  type ClientOpenEvent,
  type ClientReconnectingEvent,
  type ClientSessionEvent,
  type ClientUnconfirmedEvent,
  type KeepaliveClient,
  type KeepaliveClientEvents,
  type KeepaliveClientOptions,
  type ServerKeepalive,
  type ServerKeepaliveOptions,
} from './index.node.js';

/**
 * Issue 24: the client and the server behind REAL idle-reclaiming proxies (nginx and HAProxy, each the test's own
 * process on 127.0.0.1, see `keepalive-test-support/reclaimers`), real sockets end to end: a `ws` server with
 * `keepAlive(wss)` behind the proxy, `createKeepaliveClient(proxy.wsUrl)` in front of it.
 *
 * The proxy's idle timeout is 1 s and the library's timings are scaled to it: the server pings an active client every
 * 300 ms (B16: a quiet one once more, then never), a busy client keeps alive every 250 ms. nginx may reclaim up to
 * 300 ms early (it does not move a timer by less than that), HAProxy a few ms late: the bounds leave room for both.
 * Every wait is for an event and bounded; each test starts and stops its own proxy and servers.
 */

const IDLE_TIMEOUT_MS = 1_000;
/** The server's ping interval to an active client: well below the proxy's timeout. */
const SERVER_PING_MS = 300;
/** The client's keep-alive interval while work is in flight: well below the proxy's timeout. */
const HEARTBEAT_MS = 250;
/**
 * The longest an idle connection can live behind the proxy under B16: the server pings it within one interval of its
 * last word, probes it one interval later, and the proxy reclaims one timeout after that (plus slack for HAProxy's
 * lateness and a loaded machine).
 */
const RECLAIM_BOUND_MS = 2 * SERVER_PING_MS + IDLE_TIMEOUT_MS + 1_000;
/** Long enough to tell "reclaimed" from "kept alive": four idle timeouts. */
const WINDOW_MS = 4 * IDLE_TIMEOUT_MS;

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

/** A received payload as text (the tests send text only). */
function text(data: string | ArrayBuffer | ArrayBufferView | readonly ArrayBufferView[]): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  return Buffer.concat(data.map((part) => Buffer.from(part.buffer, part.byteOffset, part.byteLength))).toString('utf8');
}

function track(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

// ---------------------------------------------------------------------------
// The backend: a ws server on 127.0.0.1 with keepAlive(wss), recording what it receives.

interface Backend {
  readonly port: number;
  readonly heartbeat: ServerKeepalive;
  /** Application messages received (from the socket, or from the sessions with resume on), in order. */
  readonly received: string[];
  /** The same messages as they arrive, to wait on. */
  readonly arrivals: Queue<string>;
  /** Protocol pings received from clients (their keep-alives), over all connections. */
  clientPings: number;
  /** Connections accepted. */
  connections: number;
}

async function startBackend(options: ServerKeepaliveOptions & { readonly echo?: boolean }): Promise<Backend> {
  const { echo = false, ...keepalive } = options;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await within(once(wss, 'listening'), 5_000, 'the backend listening');
  track(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => resolve());
      }),
  );
  const heartbeat = keepAlive(wss, { minPingIntervalMs: 100, pongTimeoutMs: 2_000, ...keepalive });
  track(() => heartbeat.close());
  const backend: Backend = {
    port: (wss.address() as AddressInfo).port,
    heartbeat,
    received: [],
    arrivals: new Queue<string>(5_000),
    clientPings: 0,
    connections: 0,
  };
  const receive = (text: string): void => {
    backend.received.push(text);
    backend.arrivals.push(text);
  };
  wss.on('connection', (ws) => {
    backend.connections++;
    ws.on('error', () => undefined);
    ws.on('ping', () => backend.clientPings++);
    if (heartbeat.sessions !== null) return;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (classifyMessage(data, isBinary) !== 'data') return;
      const received = text(data);
      receive(received);
      if (echo) ws.send(`echo ${received}`);
    });
  });
  heartbeat.sessions?.on('session', ({ session, resumed, restored }) => {
    if (resumed && !restored) return;
    session.on('message', (message) => {
      const received = text(message);
      receive(received);
      if (echo) session.send(`echo ${received}`);
    });
  });
  return backend;
}

async function proxy(kind: ReclaimerKind, backendPort: number): Promise<Reclaimer> {
  const reclaimer = await startReclaimer(kind, { backendPort, idleTimeoutMs: IDLE_TIMEOUT_MS });
  track(() => reclaimer.stop());
  return reclaimer;
}

// ---------------------------------------------------------------------------
// The client, with every event it emits queued (taken in order, each wait bounded) and logged (to count).

interface Watched {
  readonly client: KeepaliveClient;
  readonly open: Queue<ClientOpenEvent>;
  readonly close: Queue<ClientCloseEvent & { readonly at: number }>;
  readonly idle: Queue<ClientParkedEvent>;
  readonly reconnecting: Queue<ClientReconnectingEvent>;
  readonly unconfirmed: Queue<ClientUnconfirmedEvent>;
  readonly message: Queue<string>;
  readonly session: Queue<ClientSessionEvent>;
  readonly log: { readonly type: string; readonly at: number }[];
  readonly diagnostics: Diagnostic[];
  count(type: string): number;
}

function watch(url: string, options: KeepaliveClientOptions): Watched {
  const diagnostics: Diagnostic[] = [];
  const client = createKeepaliveClient(url, {
    heartbeatIntervalMs: HEARTBEAT_MS,
    pongTimeoutMs: 1_000,
    closeTimeoutMs: 1_000,
    connectTimeoutMs: 3_000,
    onDiagnostic: (diagnostic) => diagnostics.push(diagnostic),
    ...options,
  });
  track(() => client.close());
  const log: { type: string; at: number }[] = [];
  const queue = <K extends keyof KeepaliveClientEvents, T = KeepaliveClientEvents[K]>(type: K, map?: (payload: KeepaliveClientEvents[K]) => T): Queue<T> => {
    const items = new Queue<T>(RECLAIM_BOUND_MS);
    client.on(type, (payload) => {
      log.push({ type, at: performance.now() });
      items.push(map === undefined ? (payload as T) : map(payload));
    });
    return items;
  };
  return {
    client,
    open: queue('open'),
    close: queue('close', (payload) => ({ ...payload, at: performance.now() })),
    idle: queue('parked'),
    reconnecting: queue('reconnecting'),
    unconfirmed: queue('unconfirmed'),
    message: queue('message', ({ data }) => text(data)),
    session: queue('session'),
    log,
    diagnostics,
    count: (type) => log.filter((entry) => entry.type === type).length,
  };
}

describe.each(['nginx', 'haproxy'] as const)('behind %s (idle timeout 1 s)', (kind) => {
  beforeAll(() => ensureReclaimer(kind));

  it('S4 B6: a busy client (keep-alives every 250 ms) keeps one connection for 4 s; a plain ws client beside it is cut at about the timeout', async () => {
    const backend = await startBackend({ pingIntervalMs: SERVER_PING_MS });
    const reclaimer = await proxy(kind, backend.port);
    const w = watch(reclaimer.wsUrl, { reconnect: { whenIdle: 'lazy' } });
    await w.open.next('the client open');

    // The control: a plain ws client, no keep-alives. It only answers the server's pings (B16: while it is active,
    // then one probe): it is cut one timeout after the last of them.
    const control = new WsWebSocket(reclaimer.wsUrl);
    track(() => control.terminate());
    control.on('error', () => undefined);
    let lastControlTraffic = 0;
    control.on('ping', () => (lastControlTraffic = performance.now()));
    const controlClosed = new Promise<{ code: number; at: number }>((resolve) => control.once('close', (code: number) => resolve({ code, at: performance.now() })));
    await within(once(control, 'open'), 5_000, 'the control open');
    lastControlTraffic = performance.now();

    const pingsBefore = backend.clientPings;
    const busyFrom = performance.now();
    await w.client.activity.run('api_call', () => sleep(WINDOW_MS));
    const busyFor = performance.now() - busyFrom;
    const keepalives = backend.clientPings - pingsBefore;
    const cut = await within(controlClosed, RECLAIM_BOUND_MS, 'the control cut');
    const silentFor = cut.at - lastControlTraffic;
    console.log(
      `[${kind}] busy: 1 connection for ${Math.round(busyFor)} ms on ${keepalives} keep-alives; control (plain ws, idle): cut with ${cut.code} ${Math.round(silentFor)} ms after its last traffic (timeout ${IDLE_TIMEOUT_MS} ms)`,
    );
    expect(w.count('open')).toBe(1);
    expect(w.count('close')).toBe(0);
    expect(w.client.state).toBe('open');
    expect(backend.connections).toBe(2);
    expect(keepalives).toBeGreaterThanOrEqual(Math.floor(WINDOW_MS / HEARTBEAT_MS) - 2);
    expect(cut.code).toBe(1006);
    expect(cut.at).toBeLessThan(busyFrom + busyFor);
    // nginx: up to 300 ms early; HAProxy: on time. Either way, about the timeout.
    expect(silentFor).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 350);
    expect(silentFor).toBeLessThanOrEqual(IDLE_TIMEOUT_MS + 500);
  }, 20_000);

  it('B16: an idle lazy client is reclaimed (1006, parked) at default server settings; with idlePingIntervalMs (the old behaviour) it is not, over the same 4 s', async () => {
    // Side by side: the same client against a B16 server and against one that probes idle clients every 300 ms.
    const run = async (serverOptions: ServerKeepaliveOptions) => {
      const backend = await startBackend({ pingIntervalMs: SERVER_PING_MS, ...serverOptions });
      const reclaimer = await proxy(kind, backend.port);
      const w = watch(reclaimer.wsUrl, { reconnect: { whenIdle: 'lazy' } });
      await w.open.next('the client open');
      const openedAt = performance.now();
      const parked = w.idle.next('the idle (parked) event', WINDOW_MS).then(
        (event) => ({ event, at: performance.now() }),
        () => null,
      );
      const result = await parked;
      // Nothing is connected once parked; without a park, the whole window was observed.
      return { backend, w, openedAt, result };
    };
    const [quiet, probing] = await Promise.all([run({}), run({ idlePingIntervalMs: SERVER_PING_MS })]);

    const reclaimsWithB16 = quiet.w.count('close');
    const reclaimsWithout = probing.w.count('close');
    const reclaimedAfter = quiet.result === null ? NaN : quiet.result.at - quiet.openedAt;
    console.log(
      `[${kind}] B16: idle client reclaimed ${reclaimsWithB16}× in ${WINDOW_MS} ms with B16 (after ${Math.round(reclaimedAfter)} ms, ${quiet.backend.heartbeat.stats().pingsSent} server pings), ${reclaimsWithout}× without it (idlePingIntervalMs ${SERVER_PING_MS}: ${probing.backend.heartbeat.stats().pingsSent} server pings)`,
    );
    expect(quiet.result).not.toBeNull();
    expect(quiet.result?.event.code).toBe(1006);
    expect(quiet.w.client.state).toBe('parked');
    expect(reclaimsWithB16).toBe(1);
    expect(quiet.w.count('reconnecting')).toBe(0);
    expect(quiet.backend.heartbeat.stats().pingsSent).toBeLessThanOrEqual(3);
    expect(reclaimedAfter).toBeLessThanOrEqual(RECLAIM_BOUND_MS);

    expect(probing.result).toBeNull();
    expect(reclaimsWithout).toBe(0);
    expect(probing.w.client.state).toBe('open');
    expect(probing.backend.heartbeat.stats().pingsSent).toBeGreaterThanOrEqual(Math.floor(WINDOW_MS / SERVER_PING_MS) - 2);
  }, 20_000);

  it.each([
    { resume: false, title: 'plain delivery' },
    { resume: true, title: 'resume (B14)' },
  ])('B16 B6: a lazy client parked by the reclaimer comes back on send() and on activity.start(), $title: delivered once', async ({ resume }) => {
    const backend = await startBackend({ pingIntervalMs: SERVER_PING_MS, ...(resume ? { resume: true } : {}) });
    const reclaimer = await proxy(kind, backend.port);
    const w = watch(reclaimer.wsUrl, { reconnect: { whenIdle: 'lazy' }, ...(resume ? { resume: resumable() } : {}) });
    await w.open.next('the first open');
    if (resume) expect((await w.session.next('the new session')).status).toBe('new');

    // Reclaimed while idle: parked, nothing connected.
    expect((await w.idle.next('parked by the reclaimer')).code).toBe(1006);
    expect(w.client.state).toBe('parked');

    // send() while parked: queued, connects at once (attempt 0, no backoff), delivered.
    expect(w.client.send('m')).toBe('queued');
    expect((await w.open.next('the open on send()')).attempt).toBe(0);
    if (resume) expect((await w.session.next('the resumed session')).status).toBe('resumed');
    expect(await backend.arrivals.next('m at the server')).toBe('m');

    // Reclaimed again, then work starts: connects at once too.
    expect((await w.idle.next('parked again')).code).toBe(1006);
    const release = w.client.activity.start('api_call');
    expect((await w.open.next('the open on activity.start()')).attempt).toBe(0);
    if (resume) {
      const session = await w.session.next('the session resumed again');
      expect(session.status).toBe('resumed');
      // m was acknowledged before the second park: nothing to send again.
      expect(session.retransmitted).toBe(0);
    }
    release();
    // A deliberate close ends the session; everything the server ever received is in `received`.
    const closed = await within(w.client.close(), 5_000, 'the close');
    console.log(
      `[${kind}] lazy ${resume ? 'with resume' : 'plain'}: parked twice (1006), back on send() and on activity.start(); the server received ${JSON.stringify(backend.received)}; unconfirmed events ${w.count('unconfirmed')} (m was sent outside any work)`,
    );
    expect(closed.undelivered).toEqual([]);
    expect(backend.received).toEqual(['m']);
    expect(w.count('reconnecting')).toBe(0);
    expect(w.count('open')).toBe(3);
  }, 20_000);

  it('B16 B6: an eager idle client, reclaimed 10 times, reconnects each time without a growing delay (below initialDelayMs)', async () => {
    const backend = await startBackend({ pingIntervalMs: SERVER_PING_MS });
    const reclaimer = await proxy(kind, backend.port);
    const initialDelayMs = 200;
    const w = watch(reclaimer.wsUrl, { reconnect: { initialDelayMs, maxDelayMs: 30_000 } });
    await w.open.next('the first open');
    const delays: number[] = [];
    const lifetimes: number[] = [];
    let openedAt = performance.now();
    const churn = (): Diagnostic[] => w.diagnostics.filter((diagnostic) => diagnostic.name === 'idle_churn');
    for (let cycle = 0; cycle < 10; cycle++) {
      const close = await w.close.next(`reclaim ${cycle + 1}`);
      // The churn is said in the step of the third reclaim (before its close event), and only then.
      expect(churn(), `idle_churn after reclaim ${cycle + 1}`).toHaveLength(cycle < 2 ? 0 : 1);
      lifetimes.push(close.at - openedAt);
      expect(close.code).toBe(1006);
      expect(close.willReconnect).toBe(true);
      const reconnecting = await w.reconnecting.next(`reconnecting ${cycle + 1}`);
      delays.push(reconnecting.delayMs);
      await w.open.next(`open ${cycle + 2}`);
      openedAt = performance.now();
    }
    console.log(
      `[${kind}] eager, 10 idle reclaims: reconnect delays ${JSON.stringify(delays.map(Math.round))} ms (initialDelayMs ${initialDelayMs}, max ${Math.round(Math.max(...delays))}); connection lifetimes ${JSON.stringify(lifetimes.map(Math.round))} ms`,
    );
    expect(delays).toHaveLength(10);
    for (const delay of delays) expect(delay).toBeLessThan(initialDelayMs);
    for (const lifetime of lifetimes) expect(lifetime).toBeLessThanOrEqual(RECLAIM_BOUND_MS);
    expect(w.count('parked')).toBe(0);
    expect(w.count('unconfirmed')).toBe(0);
    // Visible churn: one warning for the streak, naming the two options that stop it; the counter for a metric.
    expect(churn()).toEqual([{ type: 'diagnostic', level: 'warn', name: 'idle_churn', fields: { cycles: 3, options: 'reconnect.whenIdle,permitWithoutActivity' } }]);
    expect(w.client.idleReclaims).toBe(10);
  }, 45_000);

  it('B16 B7: no idle_churn with lazy (reclaimed once, parked) nor with keep-alive without activity (never reclaimed), over four idle timeouts', async () => {
    const backend = await startBackend({ pingIntervalMs: SERVER_PING_MS });
    const reclaimer = await proxy(kind, backend.port);
    const lazy = watch(reclaimer.wsUrl, { reconnect: { whenIdle: 'lazy' } });
    const kept = watch(reclaimer.wsUrl, { permitWithoutActivity: true });
    await Promise.all([lazy.open.next('the lazy client open'), kept.open.next('the keep-alive client open')]);
    const [parked, cut] = await Promise.all([
      lazy.idle.next('the lazy client parked', RECLAIM_BOUND_MS),
      kept.close.next('a close of the keep-alive client', WINDOW_MS).then(
        (close) => close,
        () => null,
      ),
    ]);
    expect(parked.code).toBe(1006);
    expect(cut).toBeNull();
    // Parked: nothing more happens to the lazy client in the window either.
    await lazy.open.next('a reopen of the lazy client', WINDOW_MS - RECLAIM_BOUND_MS).then(
      () => expect.fail('the lazy client reconnected while idle'),
      () => undefined,
    );
    console.log(`[${kind}] idle_churn: lazy reclaimed ${lazy.client.idleReclaims}× and parked; keep-alive without activity reclaimed ${kept.client.idleReclaims}×`);
    for (const w of [lazy, kept]) expect(w.diagnostics.filter((diagnostic) => diagnostic.name === 'idle_churn')).toEqual([]);
    expect(lazy.client.state).toBe('parked');
    expect(lazy.client.idleReclaims).toBe(1);
    expect(kept.client.state).toBe('open');
    expect(kept.client.idleReclaims).toBe(0);
  }, 30_000);

  it('B16 B14: 10 normal work cycles behind the reclaimer report no unconfirmed; a real loss (the proxy killed mid-work) reports exactly one', async () => {
    const backend = await startBackend({ pingIntervalMs: SERVER_PING_MS, echo: true });
    const reclaimer = await proxy(kind, backend.port);
    const w = watch(reclaimer.wsUrl, { reconnect: { whenIdle: 'lazy', initialDelayMs: 200, maxDelayMs: 1_000 } });
    await w.open.next('the first open');
    const cycles = 10;
    const pingsPerCycle: number[] = [];
    /** Keep-alives the heartbeat owes for the work's length, beside the last one (none: the work is a round trip). */
    const heartbeatsDue: number[] = [];
    for (let cycle = 0; cycle < cycles; cycle++) {
      const release = w.client.activity.start('api_call');
      const startedAt = performance.now();
      if (cycle > 0) expect((await w.open.next(`open ${cycle + 1}`)).attempt).toBe(0);
      const pingsBefore = backend.clientPings;
      w.client.send(`m${cycle}`);
      expect(await w.message.next(`echo ${cycle}`)).toBe(`echo m${cycle}`);
      release();
      heartbeatsDue.push(Math.floor((performance.now() - startedAt) / HEARTBEAT_MS));
      expect((await w.idle.next(`reclaim ${cycle + 1}`)).code).toBe(1006);
      pingsPerCycle.push(backend.clientPings - pingsBefore);
    }
    const normalUnconfirmed = w.count('unconfirmed');
    const confirming = w.diagnostics.filter((d) => d.name === 'confirming').length;

    // A real loss: a message written during work, and the proxy killed before anything confirmed it.
    const release = w.client.activity.start('api_call');
    expect((await w.open.next('the open before the loss')).attempt).toBe(0);
    expect(w.client.send('lost?')).toBe('sent');
    await reclaimer.kill();
    const unconfirmed = await w.unconfirmed.next('the unconfirmed event of the real loss');
    // Still busy: the client reconnects with backoff to a proxy that is gone; one failed attempt, then count again.
    await w.reconnecting.next('the reconnect after the loss');
    await w.reconnecting.next('the reconnect after a failed attempt', 5_000);
    release();
    const lossUnconfirmed = w.count('unconfirmed') - normalUnconfirmed;
    const framesPerItem = pingsPerCycle.map((pings) => 2 * pings);
    console.log(
      `[${kind}] unconfirmed: ${normalUnconfirmed} in ${cycles} normal cycles (${confirming} final keep-alives, client pings per work item ${JSON.stringify(pingsPerCycle)}: ${JSON.stringify(framesPerItem)} frames with the pongs); real loss (proxy SIGKILL): ${lossUnconfirmed} event, messages ${JSON.stringify(unconfirmed.messages.map(text))}`,
    );
    expect(normalUnconfirmed).toBe(0);
    expect(backend.received.slice(0, cycles)).toEqual(Array.from({ length: cycles }, (_, cycle) => `m${cycle}`));
    expect(confirming).toBe(cycles);
    // The cost of B16's confirmation: one ping (and its pong) per work item, beyond the work's own keep-alives.
    expect(pingsPerCycle).toEqual(heartbeatsDue.map((due) => due + 1));
    expect(lossUnconfirmed).toBe(1);
    expect(unconfirmed.messages.length).toBeGreaterThanOrEqual(1);
    expect(unconfirmed.messages.map(text)).toContain('lost?');
  }, 45_000);
});
