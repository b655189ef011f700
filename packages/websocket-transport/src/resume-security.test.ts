import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Diagnostic } from '@keepalive/core';
import { Queue, within } from 'keepalive-test-support';
import { createKeepaliveClient, resumable, type ClientSessionEvent } from './index.node.js';
import { SESSION_HUB_DIAGNOSTICS, type RefusedEvent, type SessionEvent, type SessionHubOptions, type SessionMessage } from './resume-server.js';
import { keepAlive, type WsSessionContext } from './server.js';
import { CONTROL, openRaw, type RawClient } from './test-support/raw-resume-client.js';
import { until } from './test-support/until.js';

/**
 * B17, a session belongs to whoever holds its secret, tried the way issue 23 tried it: an attacker with read access
 * to a proxy's access log, on real `ws` sockets on 127.0.0.1, against `keepAlive(wss, { resume })` and the real
 * client. Every wait is bounded and waits for an event.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Harness {
  readonly url: string;
  readonly wss: WebSocketServer;
  /** Every upgrade request's URL, as an access log keeps it. */
  readonly log: string[];
  readonly sessions: Queue<SessionEvent<WsSessionContext>>;
  readonly refusals: RefusedEvent<WsSessionContext>[];
  readonly diagnostics: Diagnostic[];
  readonly hub: NonNullable<ReturnType<typeof keepAlive>['sessions']>;
  /** The server side of each connection, by upgrade URL order. */
  readonly sockets: WebSocket[];
}

async function server(resume: SessionHubOptions<WsSessionContext> = {}): Promise<Harness> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const diagnostics: Diagnostic[] = [];
  const heartbeat = keepAlive(wss, { pingIntervalMs: 60_000, pongTimeoutMs: 60_000, onDiagnostic: (d) => diagnostics.push(d), resume });
  const log: string[] = [];
  const sockets: WebSocket[] = [];
  wss.on('connection', (ws, request: IncomingMessage) => {
    log.push(request.url ?? '');
    sockets.push(ws);
  });
  const sessions = new Queue<SessionEvent<WsSessionContext>>();
  heartbeat.sessions.on('session', (event) => sessions.push(event));
  const refusals: RefusedEvent<WsSessionContext>[] = [];
  heartbeat.sessions.on('refused', (event) => refusals.push(event));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        heartbeat.close();
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  );
  return { url: `ws://127.0.0.1:${String((wss.address() as AddressInfo).port)}`, wss, log, sessions, refusals, diagnostics, hub: heartbeat.sessions, sockets };
}

async function raw(url: string, query: string, proof: { secret: string; delivered: number } | null = null, options?: WebSocket.ClientOptions): Promise<RawClient> {
  const client = await openRaw(url, query, proof, options);
  cleanups.push(() => client.ws.terminate());
  return client;
}

/** A victim on the real client, with a resumable session that reconnected once (so its URL names the session). */
async function victim(harness: Harness) {
  const client = createKeepaliveClient(harness.url, { resume: resumable(), heartbeatIntervalMs: 60_000, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
  cleanups.push(() => client.close().catch(() => undefined));
  const sessionEvents = new Queue<ClientSessionEvent>();
  const received: string[] = [];
  const closes: number[] = [];
  client.on('session', (event) => sessionEvents.push(event));
  client.on('message', ({ data }) => received.push(String(data)));
  client.on('close', ({ code }) => closes.push(code));
  expect((await sessionEvents.next('new session')).status).toBe('new');
  const first = await harness.sessions.next('server session');
  const session = first.session;
  const got: SessionMessage[] = [];
  session.on('message', (message) => got.push(message));
  // The path drops once: the client comes back with its session named in the URL (what the proxy logs).
  harness.sockets.at(-1)?.terminate();
  expect((await sessionEvents.next('resumed session')).status).toBe('resumed');
  expect((await harness.sessions.next('server resumed')).session).toBe(session);
  closes.length = 0;
  return { client, session, received, got, closes };
}

describe('B17: only its owner can resume a session (real ws sockets)', () => {
  it('B17: the logged reconnect URL, replayed verbatim, with ka_d scanned, with no proof or a wrong one, gets no session and no message, and changes nothing for the victim', async () => {
    const harness = await server({ handshakeTimeoutMs: 300 });
    const v = await victim(harness);
    // What an access log holds: the session's public id, no secret, no count.
    const logged = harness.log.find((url) => url.includes('ka_s='));
    expect(logged).toBeDefined();
    const query = (logged as string).replace(/^\//, '');
    expect([...new URLSearchParams(query.replace(/^\?/, '')).keys()].sort()).toEqual(['ka', 'ka_s'].concat(query.includes('ka_p') ? ['ka_p'] : []).sort());
    expect(query).toContain('ka=2');
    const stats = harness.hub.stats();

    // The attack: the URL verbatim, then with the v1 count scanned, silent; then wrong proofs of every shape.
    const silent = await Promise.all([query, ...[0, 1, 2, 3, 4, 5].map((n) => `${query}&ka_d=${String(n)}`)].map((q) => raw(harness.url, q)));
    const wrong = await Promise.all(
      [0, 1, 2, 5].map((n) => raw(harness.url, query, { secret: globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 22), delivered: n })),
    );
    // And one that writes before proving anything: a protocol error.
    const pushy = await raw(harness.url, query);
    pushy.ws.send('evil');
    const attackers = [...silent, ...wrong, pushy];
    // While they wait and fail, the victim's session carries on both ways.
    for (let i = 0; i < 5; i++) {
      v.session.send(`for the victim ${String(i)}`);
      v.client.send(`from the victim ${String(i)}`);
    }
    // What a refused connection writes afterwards is read by nobody.
    for (const attacker of wrong) attacker.ws.send('evil');
    const codes = await Promise.all(attackers.map((attacker) => within(attacker.closed, 5_000, 'attacker closed').then(({ code }) => code)));
    expect(codes).toEqual([...silent.map(() => 4408), ...wrong.map(() => 4403), 1002]);
    await until(() => v.received.length >= 5 && v.got.length >= 5, 'the victim exchange', 5_000);

    // Each attacker got the challenge and nothing else: no hello, no data, no acknowledgement.
    for (const attacker of attackers) {
      expect(attacker.challenges).toBe(1);
      expect([attacker.hellos.pending, attacker.data.pending, attacker.acks.pending, attacker.others.pending]).toEqual([[], [], [], []]);
    }
    // The victim: still open, same session, every message in order, no close; nothing of the attackers delivered.
    expect(v.received).toEqual([0, 1, 2, 3, 4].map((i) => `for the victim ${String(i)}`));
    expect(v.got).toEqual([0, 1, 2, 3, 4].map((i) => `from the victim ${String(i)}`));
    expect(v.closes).toEqual([]);
    expect(v.client.state).toBe('open');
    expect(v.session.connected).toBe(true);
    expect(harness.sessions.pending).toEqual([]);
    expect(harness.hub.stats()).toMatchObject({ ...stats, wrongProofs: 4, handshakeTimeouts: 7, invalidRequests: 1, replaced: 0 });
    expect(harness.refusals.map((r) => `${r.reason} ${String(r.code)}`).sort()).toEqual(['invalid 1002', ...silent.map(() => 'timeout 4408'), ...wrong.map(() => 'proof 4403')].sort());
    // Reported without the id or the secret (S10).
    const refused = harness.diagnostics.filter((d) => d.name === SESSION_HUB_DIAGNOSTICS.resumeRefused);
    expect(refused.map((d) => d.fields)).toEqual(
      expect.arrayContaining([
        { reason: 'proof', failures: 1 },
        { reason: 'timeout' },
      ]),
    );
    expect(JSON.stringify(harness.diagnostics)).not.toContain(v.session.id);
  });

  it('B17: the admit hook runs after the proof and before anything changes: it refuses the right secret from the wrong user, and the owner keeps its connection', async () => {
    // The application ties each session to the user of the upgrade request that made it (a cookie here).
    const owners = new Map<string, string>();
    const userOf = (context: WsSessionContext): string => /user=(\w+)/.exec(context.request.headers.cookie ?? '')?.[1] ?? '';
    const asked: string[] = [];
    const harness = await server({
      handshakeTimeoutMs: 2_000,
      admit: async ({ kind, session, context }) => {
        asked.push(kind);
        // Asynchronous, like a database lookup.
        await new Promise((resolve) => setImmediate(resolve));
        if (kind === 'new') return userOf(context) !== '';
        return session !== null && owners.get(session.id) === userOf(context) ? true : { code: 4403, reason: 'not your session' };
      },
    });
    harness.hub.on('session', ({ session, resumed, context }) => {
      if (!resumed) owners.set(session.id, userOf(context));
    });
    const alice = await raw(harness.url, '?ka=2', null, { headers: { cookie: 'user=alice' } });
    const hello = await alice.hellos.next('alice hello');
    const event = await harness.sessions.next('alice session');
    const got: SessionMessage[] = [];
    event.session.on('message', (message) => got.push(message));
    alice.ws.send(`${CONTROL}a0`);
    // Mallory has Alice's secret (a leaked device, say) but not her cookie.
    const mallory = await raw(harness.url, `?ka=2&ka_s=${hello.session}`, { secret: hello.secret as string, delivered: 0 }, { headers: { cookie: 'user=mallory' } });
    expect(await within(mallory.closed, 5_000, 'mallory refused')).toEqual({ code: 4403, reason: 'not your session' });
    expect(mallory.hellos.pending).toEqual([]);
    // Alice was never touched: still attached, her frames still delivered, the server's still reaching her.
    expect(event.session.send('still yours')).toBe('sent');
    expect(await alice.data.next('still yours')).toBe('still yours');
    alice.say('mine');
    expect(await alice.barrier(1)).toBe(1);
    expect(got).toEqual(['mine']);
    expect(harness.hub.stats()).toMatchObject({ refusedAdmissions: 1, replaced: 0, resumed: 0 });
    expect(harness.refusals.map((r) => r.reason)).toEqual(['admission']);
    expect(asked).toEqual(['new', 'resume']);
    // No cookie at all: no session is even made.
    const nobody = await raw(harness.url, '?ka=2');
    expect((await within(nobody.closed, 5_000, 'nobody refused')).code).toBe(4403);
    expect(harness.hub.size).toBe(1);
    // Alice herself, coming back on a new connection: admitted, and her old (half-open) one is replaced.
    const back = await raw(harness.url, `?ka=2&ka_s=${hello.session}`, { secret: hello.secret as string, delivered: 1 }, { headers: { cookie: 'user=alice' } });
    expect(await back.hellos.next('alice resumed')).toMatchObject({ status: 'resumed', session: hello.session, delivered: 1 });
    expect((await within(alice.closed, 5_000, 'old connection replaced')).code).toBe(4001);
  });

  it('B17: a hook that throws or answers nonsense refuses (4403, reported); one slower than handshakeTimeoutMs times out (4408); nothing is left behind', async () => {
    let mode: 'throw' | 'nonsense' | 'slow' = 'throw';
    const harness = await server({
      handshakeTimeoutMs: 200,
      admit: () => {
        if (mode === 'throw') throw new Error('database down');
        if (mode === 'nonsense') return { code: 1006 };
        return new Promise<boolean>(() => undefined);
      },
    });
    const closes: number[] = [];
    for (const next of ['throw', 'nonsense', 'slow'] as const) {
      mode = next;
      const client = await raw(harness.url, '?ka=2');
      closes.push((await within(client.closed, 5_000, `${next} refused`)).code);
    }
    expect(closes).toEqual([4403, 4403, 4408]);
    expect(harness.diagnostics.filter((d) => d.name === SESSION_HUB_DIAGNOSTICS.listenerFailed).map((d) => d.fields)).toEqual([
      { event: 'admit', error: 'Error' },
      { event: 'admit', error: 'TypeError' },
    ]);
    expect(harness.hub.stats()).toMatchObject({ sessions: 0, created: 0, refusedAdmissions: 2, handshakeTimeouts: 1 });
  });

  it('B17: the session-table flood: 1,500 bare ka=2 upgrades opened and dropped do not lock others out; unconfirmed sessions make room and expire soon', async () => {
    // Unconfirmed sessions kept a minute here, so that none expires during the flood however slow the machine: every
    // one past 1,000 must make room by eviction.
    const harness = await server({ maxSessions: 1_000, unconfirmedTtlMs: 60_000 });
    // A flood: each takes the hello (a new session) and drops the connection without a word.
    const flood = async (target: Harness, batches: number): Promise<number> => {
      let hellos = 0;
      for (let batch = 0; batch < batches; batch++) {
        const clients = await Promise.all(Array.from({ length: 100 }, () => raw(target.url, '?ka=2')));
        await Promise.all(
          clients.map(async (client) => {
            await client.hellos.next('flood hello');
            hellos++;
            const gone = client.closed;
            client.ws.terminate();
            await gone;
          }),
        );
      }
      return hellos;
    };
    expect(await flood(harness, 15)).toBe(1_500);
    // Generous bounds: 1,500 handshakes on a loaded 2-core machine.
    await until(() => harness.hub.stats().connected === 0, 'the flood detached', 15_000);
    expect(harness.hub.size).toBeLessThanOrEqual(1_000);
    // Past 1,000 the oldest unconfirmed sessions made room (each an expiry, its messages handed back: none here).
    expect(harness.hub.stats().evicted).toBe(500);
    expect(harness.hub.stats().refused).toBe(0);
    // Legitimate clients still get sessions at once, and keep them.
    const legit = await Promise.all(Array.from({ length: 5 }, () => raw(harness.url, '?ka=2')));
    for (const client of legit) {
      expect((await client.hellos.next('legit hello')).status).toBe('new');
      client.ws.send(`${CONTROL}a0`);
      expect(await client.barrier()).toBe(0);
    }
    expect(harness.hub.stats().refused).toBe(0);
    expect(harness.hub.size).toBe(1_000);
    // And they go soon: a flood on a server with the unconfirmed ttl short expires, while sessionTtlMs is two minutes.
    const quick = await server({ unconfirmedTtlMs: 300 });
    expect(await flood(quick, 2)).toBe(200);
    await until(() => quick.hub.size === 0, 'the flood expired', 15_000);
    expect(quick.hub.stats()).toMatchObject({ created: 200, expired: 200, sessions: 0 });
  }, 60_000);

  it('B17: 4001 is not the end: a real client whose connection is closed with 4001 comes back, backing off', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      wss.close(() => resolve());
    }));
    let connections = 0;
    wss.on('connection', (ws) => {
      connections++;
      if (connections === 1) ws.close(4001, 'resumed elsewhere');
    });
    const client = createKeepaliveClient(`ws://127.0.0.1:${String((wss.address() as AddressInfo).port)}`, { reconnect: { initialDelayMs: 50, maxDelayMs: 100 } });
    cleanups.push(() => client.close().catch(() => undefined));
    const delays: number[] = [];
    client.on('reconnecting', ({ delayMs }) => delays.push(delayMs));
    const rejected: number[] = [];
    client.on('rejected', ({ code }) => rejected.push(code));
    await until(() => connections === 2 && client.state === 'open', 'back after 4001', 5_000);
    expect(rejected).toEqual([]);
    // Equal jitter: at least half the first ceiling (50 ms), never an immediate retry.
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(25);
  });
});

