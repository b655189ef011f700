import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import { encodeProof } from '@keepalive/core';
import { createKeepaliveClient, resumable, type KeepaliveClient } from '@keepalive/websocket-transport';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DurableObjectSessionStoreStats, HibernatingKeepaliveStats, KeepaliveAttachment, PackedPeer } from './index.js';
import { PACKAGE_DIR, bundleWorker, connectRaw, startWorkerd, within, type RawClient } from './test-support/workerd.js';

/**
 * Resumable sessions (B14, B17, wire format v2) on a Durable Object, on the real runtime: workerd (through Miniflare)
 * runs src/test-support/resume-worker.mjs, whose object serves `ka=2` clients through `createHibernatingKeepalive`'s
 * `resume`, their state in the object's storage. The object answers each client message `c:<x>` with one server
 * message `s:<x>`. Clients are `createKeepaliveClient` (with `resumable()`) and raw `ws` sockets from Node.
 */

const IDLE_CLOSE_MS = 1_500;
const ALARM_SLACK_MS = 500;

interface Wake {
  readonly handler: string;
  readonly at: number;
  readonly instance: number;
}
interface Log {
  readonly constructed: number;
  readonly wakes: Wake[];
  readonly received: Record<string, string[]>;
  readonly stats: { instance: number; stats: HibernatingKeepaliveStats | null; store: DurableObjectSessionStoreStats | null }[];
  readonly diagnostics: string[];
  readonly sessions: { instance: number; resumed: boolean; restored: boolean; forgotten: boolean; unacked: number }[];
  readonly restoredMessages: number[];
  readonly endedUnheld: number[];
}

let mf: Miniflare;
let origin: string;
let http: string;
const clients: KeepaliveClient[] = [];
const raws: RawClient[] = [];

beforeAll(async () => {
  const script = await bundleWorker(join(PACKAGE_DIR, 'src/test-support/resume-worker.mjs'));
  ({ mf, origin, http } = await startWorkerd(script, { durableObjects: { RESUMABLE: 'Resumable', SWEEPING: 'Sweeping' }, bindings: { IDLE_CLOSE_MS: String(IDLE_CLOSE_MS) } }));
});

afterAll(async () => {
  for (const client of clients) await client.close(1000).catch(() => undefined);
  for (const raw of raws) raw.socket.terminate();
  await mf.dispose();
});

async function readLog(): Promise<Log> {
  const response = await mf.dispatchFetch(`${http}/__log`);
  return (await response.json()) as Log;
}

async function route(path: string): Promise<string> {
  const response = await mf.dispatchFetch(`${http}${path}`);
  return response.text();
}

/** What the object's application received from the client messages tagged `tag` (`c:<tag>:<n>`), over every session. */
function receivedAtServer(log: Log, tag: string): string[] {
  return Object.values(log.received)
    .flat()
    .filter((text) => text.startsWith(`c:${tag}:`));
}

function summed(log: Log, key: keyof HibernatingKeepaliveStats): number {
  return log.stats.reduce((sum, entry) => sum + (entry.stats?.[key] ?? 0), 0);
}

function resumingClient(path: string, received: string[], closes: number[] = []): KeepaliveClient {
  const client = createKeepaliveClient(`${origin}${path}`, {
    resume: resumable(),
    keepaliveFrame: 'message',
    heartbeatIntervalMs: 100,
    pongTimeoutMs: 1_000,
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  client.on('message', ({ data }) => received.push(typeof data === 'string' ? data : `${data.byteLength} bytes`));
  client.on('close', ({ code }) => closes.push(code));
  clients.push(client);
  return client;
}

/** Resolves once `check()` holds, polling every 10 ms; rejects after `ms` naming `what`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  await within(
    (async () => {
      while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
    })(),
    ms,
    what,
  );
}

/** Messages lost (expected, never received) and duplicated (received more than once) between two lists. */
function tally(expected: readonly string[], received: readonly string[]): { lost: number; duplicated: number; inOrder: boolean } {
  const seen = new Map<string, number>();
  for (const text of received) seen.set(text, (seen.get(text) ?? 0) + 1);
  const lost = expected.filter((text) => !seen.has(text)).length;
  const duplicated = [...seen.values()].reduce((sum, count) => sum + count - 1, 0);
  const order = received.filter((text) => expected.includes(text));
  return { lost, duplicated, inOrder: order.every((text, i) => i === 0 || expected.indexOf(text) > expected.indexOf(order[i - 1] as string)) };
}

const numbered = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${String(from + i)}`);

describe('B14: a resumable session survives a restart of its object (state in the object storage)', () => {
  it('mid-stream (messages both ways, some unacknowledged), the object restarted: the client resumes, 0 lost and 0 duplicated either way', async () => {
    const received: string[] = [];
    const client = resumingClient('/restart', received);
    const sessions: string[] = [];
    client.on('session', ({ status }) => sessions.push(status));
    await until(() => sessions.includes('new'), 5_000, 'the new session');
    const before = await readLog();
    for (let n = 1; n <= 10; n++) client.send(`c:restart:${String(n)}`);
    // Mid-stream: some answers arrived, not all acknowledged.
    await until(() => received.length >= 3, 5_000, 'the first answers');
    // Server messages the client has not acknowledged yet (it acknowledges within its ack delay): in the storage.
    expect(await route('/__send/restart?text=s:restart:push')).toBe('1');
    const restartedAt = Date.now();
    // ctx.abort(): the runtime's restart of the object (a deploy, a crash, a limit); its sockets are dropped.
    await mf.dispatchFetch(`${http}/__abort/restart`).catch(() => undefined);
    for (let n = 11; n <= 20; n++) client.send(`c:restart:${String(n)}`);
    const expected = numbered('s:restart:', 1, 20);
    await until(() => [...expected, 's:restart:push'].every((text) => received.includes(text)), 10_000, 'every answer after the restart');
    const resumedAfter = Date.now() - restartedAt;
    // One more round trip: a late retransmission (a duplicate) would arrive before its answer, on the same socket.
    client.send('c:restart:21');
    await until(() => received.includes('s:restart:21'), 5_000, 'the last answer');
    const log = await readLog();
    const atClient = tally([...expected, 's:restart:21'], received);
    const pushes = received.filter((text) => text === 's:restart:push').length;
    const atServer = tally(numbered('c:restart:', 1, 21), receivedAtServer(log, 'restart'));
    const restored = log.sessions.slice(before.sessions.length).filter((session) => session.restored);
    const takenUpWith = log.restoredMessages.slice(before.restoredMessages.length);
    console.log(
      `workerd, object restarted mid-stream: resumed in ${String(resumedAfter)} ms; client->object lost ${String(atServer.lost)} duplicated ${String(atServer.duplicated)}; object->client lost ${String(atClient.lost + 1 - Math.min(pushes, 1))} duplicated ${String(atClient.duplicated + Math.max(pushes - 1, 0))}; taken up from the storage with ${takenUpWith.join(',')} unacknowledged server messages; statuses ${sessions.join(',')}`,
    );
    expect(atClient).toEqual({ lost: 0, duplicated: 0, inOrder: true });
    expect(pushes).toBe(1);
    expect(atServer).toEqual({ lost: 0, duplicated: 0, inOrder: true });
    expect(sessions).toEqual(['new', 'resumed']);
    await client.close(1000);
    // Taken up from the storage by a new instance.
    expect(restored).toHaveLength(1);
    expect(restored[0]?.instance).toBeGreaterThan(log.sessions[before.sessions.length - 1]?.instance ?? 0);
  });

  it('evicted with its socket open: the next frame gets 1012 (service restart), the client resumes on a new connection, 0 lost and 0 duplicated', async () => {
    const received: string[] = [];
    const closes: number[] = [];
    const client = resumingClient('/evicted', received, closes);
    const sessions: string[] = [];
    client.on('session', ({ status }) => sessions.push(status));
    await until(() => sessions.includes('new'), 5_000, 'the new session');
    for (let n = 1; n <= 5; n++) client.send(`c:evicted:${String(n)}`);
    await until(() => received.length >= 5, 5_000, 'the first answers');
    expect(await route('/__evict/evicted')).toBe('evicted');
    const evicted = await readLog();
    for (let n = 6; n <= 10; n++) client.send(`c:evicted:${String(n)}`);
    const expected = numbered('s:evicted:', 1, 10);
    await until(() => expected.every((text) => received.includes(text)), 10_000, 'every answer after the eviction');
    client.send('c:evicted:11');
    await until(() => received.includes('s:evicted:11'), 5_000, 'the last answer');
    const log = await readLog();
    const atClient = tally([...expected, 's:evicted:11'], received);
    const atServer = tally(numbered('c:evicted:', 1, 11), receivedAtServer(log, 'evicted'));
    console.log(`workerd, evicted with the socket open: closes seen by the client ${closes.join(',')}; lost ${String(atClient.lost + atServer.lost)}, duplicated ${String(atClient.duplicated + atServer.duplicated)}`);
    expect(closes).toEqual([1012]);
    expect(sessions).toEqual(['new', 'resumed']);
    expect(atClient).toEqual({ lost: 0, duplicated: 0, inOrder: true });
    expect(atServer).toEqual({ lost: 0, duplicated: 0, inOrder: true });
    expect(summed(log, 'reattachCloses') - summed(evicted, 'reattachCloses')).toBe(1);
    expect(log.sessions.at(-1)?.restored).toBe(true);
    await client.close(1000);
  });
});

describe('B14: a resumable session survives a restart of the whole runtime (workerd stopped, started again on the same storage)', () => {
  it('the client reconnects to the new process and resumes: 0 lost and 0 duplicated either way', async () => {
    const persist = mkdtempSync(join(tmpdir(), 'keepalive-do-'));
    // A free port, the same for both processes (the client reconnects to the same URL).
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const script = await bundleWorker(join(PACKAGE_DIR, 'src/test-support/resume-worker.mjs'));
    const start = (): ReturnType<typeof startWorkerd> =>
      startWorkerd(script, { durableObjects: { RESUMABLE: 'Resumable', SWEEPING: 'Sweeping' }, durableObjectsPersist: persist, host: '127.0.0.1', port });
    let first: Miniflare | null = null;
    let second: Miniflare | null = null;
    try {
      const started = await start();
      first = started.mf;
      const received: string[] = [];
      const closes: number[] = [];
      const client = createKeepaliveClient(`${started.origin}/process`, {
        resume: resumable(),
        keepaliveFrame: 'message',
        heartbeatIntervalMs: 100,
        pongTimeoutMs: 1_000,
        reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
      });
      clients.push(client);
      client.on('message', ({ data }) => received.push(typeof data === 'string' ? data : 'binary'));
      client.on('close', ({ code }) => closes.push(code));
      const sessions: string[] = [];
      client.on('session', ({ status }) => sessions.push(status));
      await until(() => sessions.includes('new'), 5_000, 'the new session');
      for (let n = 1; n <= 10; n++) client.send(`c:process:${String(n)}`);
      await until(() => received.length >= 10, 5_000, 'the first answers');
      await first.dispose();
      first = null;
      const stoppedAt = Date.now();
      // Sent while no process runs: queued by the client, sent again when it resumes.
      for (let n = 11; n <= 15; n++) client.send(`c:process:${String(n)}`);
      second = (await start()).mf;
      const expected = numbered('s:process:', 1, 16);
      client.send('c:process:16');
      await until(() => expected.every((text) => received.includes(text)), 15_000, 'every answer from the new process');
      const back = Date.now() - stoppedAt;
      const atClient = tally(expected, received);
      const log = (await (await second.dispatchFetch('http://127.0.0.1/__log')).json()) as Log;
      const atServer = tally(numbered('c:process:', 11, 16), receivedAtServer(log, 'process'));
      console.log(`workerd restarted (a new process on the same storage): resumed ${String(back)} ms after the stop; closes ${closes.join(',')}; statuses ${sessions.join(',')}; object->client lost ${String(atClient.lost)} duplicated ${String(atClient.duplicated)}; client->object (new process) got ${String(receivedAtServer(log, 'process').length)}, lost ${String(atServer.lost)} duplicated ${String(atServer.duplicated)}`);
      expect(sessions).toEqual(['new', 'resumed']);
      expect(atClient).toEqual({ lost: 0, duplicated: 0, inOrder: true });
      // The new process's application got exactly the messages the old one had not delivered (the rest were delivered there).
      expect(atServer).toEqual({ lost: 0, duplicated: 0, inOrder: true });
      expect(receivedAtServer(log, 'process')).toEqual(numbered('c:process:', 11, 16));
      await client.close(1000);
    } finally {
      await first?.dispose();
      await second?.dispose();
      rmSync(persist, { recursive: true, force: true });
    }
  });
});

describe('B14: many unacknowledged messages across a restart', () => {
  it('300 server messages the client never acknowledged (more than the 128 keys workerd writes per call) are all sent again, in order, after the object restarted', async () => {
    const raw = await connectRaw(`${origin}/many?ka=2`);
    raws.push(raw);
    const [, status, id = '', secret = ''] = (raw.received[0] ?? (await raw.next())).data.split(' ');
    expect(status).toBe('new');
    // A raw client acknowledges nothing: all 300 stay unacknowledged.
    expect(await route('/__send/many?text=bulk&n=300')).toBe('1');
    await until(() => raw.received.length >= 301, 5_000, 'the 300 messages');
    await mf.dispatchFetch(`${http}/__abort/many`).catch(() => undefined);
    await within(raw.closed, 5_000, 'the drop');
    const back = await connectRaw(`${origin}/many?ka=2&ka_s=${id}`);
    raws.push(back);
    expect((back.received[0] ?? (await back.next())).data).toBe('\u0006H2 prove');
    // It delivered 100 of them before the restart (say): the rest, 101..300, come again.
    back.socket.send(encodeProof({ secret, delivered: 100 }));
    await until(() => back.received.length >= 202, 5_000, 'the hello and 200 messages');
    const log = await readLog();
    expect(back.received[1]?.data).toBe(`\u0006H2 resumed ${id} 0`);
    expect(back.received.slice(2).map((frame) => frame.data)).toEqual(Array.from({ length: 200 }, (_, i) => `bulk:${String(i + 101)}`));
    expect(log.restoredMessages.at(-1)).toBe(300);
  });
});

describe('B17: ownership, and the storage keeps only a digest', () => {
  it('a wrong secret is refused with 4403 (held in memory, then read from the storage after an eviction), changing nothing; the right one resumes', async () => {
    const owner = await connectRaw(`${origin}/proof?ka=2`);
    raws.push(owner);
    const hello = (await owner.next()).data;
    // The hello of a new session: U+0006 "H2 new <id> <secret>".
    const [head, status, id = '', secret = ''] = hello.split(' ');
    expect([head, status]).toEqual(['\u0006H2', 'new']);
    expect(secret.length).toBeGreaterThanOrEqual(22);
    owner.socket.send('c:proof:1');
    expect((await owner.next()).data).toBe('s:proof:1');

    // The storage: the digest, the counters and the unacknowledged message; never the secret.
    const entries = JSON.parse(await route('/__storage/proof')) as [string, unknown][];
    const dump = JSON.stringify(entries);
    expect(dump).not.toContain(secret);
    const digest = entries.find(([key]) => key === `keepalive:p:${id}`)?.[1];
    expect(digest).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const bytes = entries.filter(([key]) => key.includes(id)).reduce((sum, [key, value]) => sum + key.length + serialize(value).byteLength, 0);
    console.log(`storage per session: ${String(entries.filter(([key]) => key.includes(id)).length)} keys, ${String(bytes)} bytes (keys + values, one unacknowledged 9-byte message)`);

    const wrong = `${secret.slice(0, -2)}${secret.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const phase of ['held', 'stored'] as const) {
      if (phase === 'stored') {
        // A new instance holds nothing: the proof is checked against the digest in the storage.
        expect(await route('/__evict/proof')).toBe('evicted');
      }
      const thief = await connectRaw(`${origin}/proof?ka=2&ka_s=${id}`);
      raws.push(thief);
      expect((await thief.next()).data).toBe('\u0006H2 prove');
      thief.socket.send(encodeProof({ secret: wrong, delivered: 0 }));
      const refused = await within(thief.closed, 5_000, 'the refusal');
      expect(refused.code).toBe(4403);
      expect(thief.received.map((frame) => frame.data)).toEqual(['\u0006H2 prove']);
    }
    // The owner's socket was never touched while it was held; after the eviction it is reattached by proving again.
    expect(owner.socket.readyState).toBe(owner.socket.OPEN);
    const rightful = await connectRaw(`${origin}/proof?ka=2&ka_s=${id}`);
    raws.push(rightful);
    expect((await rightful.next()).data).toBe('\u0006H2 prove');
    rightful.socket.send(encodeProof({ secret, delivered: 1 }));
    expect((await rightful.next()).data).toBe(`\u0006H2 resumed ${id} 1`);
    const log = await readLog();
    expect(log.diagnostics.filter((name) => name === 'resume_refused').length).toBeGreaterThanOrEqual(2);
  });
});

describe('the storage is bounded: a session no socket holds leaves it', () => {
  it('B14: a client that ends its session (1000) while the object is evicted: the session leaves the storage, every key of it, its unacknowledged messages counted', async () => {
    const client = await connectRaw(`${origin}/ended?ka=2`);
    raws.push(client);
    const [, status, id = ''] = (await client.next()).data.split(' ');
    expect(status).toBe('new');
    // Two server messages the raw client never acknowledges.
    for (const n of [1, 2]) {
      client.socket.send(`c:ended:${String(n)}`);
      // The object's acknowledgements (U+0006 A<n>) may come in between.
      let data = (await client.next()).data;
      for (let i = 0; i < 5 && data.startsWith('\u0006'); i++) data = (await client.next()).data;
      expect(data).toBe(`s:ended:${String(n)}`);
    }
    const keys = async (): Promise<string[]> => (JSON.parse(await route('/__storage/ended')) as [string, unknown][]).map(([key]) => key).filter((key) => key.includes(id));
    expect((await keys()).length).toBe(4);
    expect(await route('/__evict/ended')).toBe('evicted');
    const before = (await readLog()).endedUnheld.length;
    // No frame first (that would be answered with 1012): the close reaches an instance whose hub never held the socket.
    client.socket.close(1000);
    expect((await within(client.closed, 5_000, 'the close answered')).code).toBe(1000);
    let left = await keys();
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      left = await keys();
    }
    expect(left).toEqual([]);
    expect((await readLog()).endedUnheld.slice(before)).toEqual([2]);
  });

  it('a session whose client vanished while the object was evicted is swept from the storage storeTtlMs after its last write; one whose socket is open is kept', async () => {
    const gone = await connectRaw(`${origin}/sweep-1?ka=2`);
    const kept = await connectRaw(`${origin}/sweep-1?ka=2`);
    raws.push(gone, kept);
    const sessions: { id: string; secret: string }[] = [];
    for (const client of [gone, kept]) {
      // The hello may have arrived while the other client connected.
      const [, status, id = '', secret = ''] = (client.received[0] ?? (await client.next())).data.split(' ');
      expect(status).toBe('new');
      sessions.push({ id, secret });
      client.socket.send('c:sweep:1');
      expect((await client.next()).data).toBe('s:sweep:1');
    }
    const [goneSession, keptSession] = sessions as [{ id: string; secret: string }, { id: string; secret: string }];
    // The instance (and its hub's expiry timers) goes; the sockets stay open.
    expect(await route('/__evict/sweep-1')).toBe('evicted');
    const keys = async (id: string): Promise<number> => (JSON.parse(await route('/__storage/sweep-1')) as [string, unknown][]).filter(([key]) => key.includes(id)).length;
    expect(await keys(goneSession.id)).toBe(3);
    gone.socket.terminate();
    const droppedAt = Date.now();
    let left = 3;
    for (let i = 0; i < 60 && left > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await keys(goneSession.id);
    }
    console.log(`workerd, sweep: the vanished client's session left the storage ${String(Date.now() - droppedAt)} ms after its socket dropped (storeTtlMs 1500 from its last write)`);
    expect(left).toBe(0);
    // The open socket's session was kept (its expiry moved on): its next frame gets 1012, and its client resumes it.
    expect(await keys(keptSession.id)).toBeGreaterThanOrEqual(2);
    kept.socket.send('c:sweep:2');
    expect((await within(kept.closed, 5_000, 'the 1012')).code).toBe(1012);
    const back = await connectRaw(`${origin}/sweep-1?ka=2&ka_s=${keptSession.id}`);
    raws.push(back);
    expect((await back.next()).data).toBe('\u0006H2 prove');
    back.socket.send(encodeProof({ secret: keptSession.secret, delivered: 1 }));
    expect((await back.next()).data).toBe(`\u0006H2 resumed ${keptSession.id} 1`);
    // The swept one is known nowhere: its client would get a new session.
    const late = await connectRaw(`${origin}/sweep-1?ka=2&ka_s=${goneSession.id}`);
    raws.push(late);
    expect((await late.next()).data).toBe('\u0006H2 prove');
    late.socket.send(encodeProof({ secret: goneSession.secret, delivered: 1 }));
    expect((await late.next()).data.split(' ').slice(0, 2)).toEqual(['\u0006H2', 'new']);
  });
});

describe('bad frames and requests, answered as the other servers answer them', () => {
  it('a resume request this version cannot read (ka=3), a wire format v1 one (ka=1), and a frame other than the proof after a challenge are closed with 1002; nothing is delivered', async () => {
    for (const query of ['ka=3', 'ka=1']) {
      const client = await connectRaw(`${origin}/bad?${query}`);
      raws.push(client);
      expect((await within(client.closed, 5_000, `the refusal of ${query}`)).code).toBe(1002);
    }
    const owner = await connectRaw(`${origin}/bad?ka=2`);
    raws.push(owner);
    const [, , id = ''] = (await owner.next()).data.split(' ');
    const intruder = await connectRaw(`${origin}/bad?ka=2&ka_s=${id}`);
    raws.push(intruder);
    expect((await intruder.next()).data).toBe('\u0006H2 prove');
    intruder.socket.send('c:bad:1');
    expect((await within(intruder.closed, 5_000, 'the 1002')).code).toBe(1002);
    // An unreadable control frame on a session is counted, not delivered; data after it still is.
    owner.socket.send('\u0006Z?');
    owner.socket.send('c:bad:2');
    expect((await owner.next()).data).toBe('s:bad:2');
    const log = await readLog();
    expect(receivedAtServer(log, 'bad')).toEqual(['c:bad:2']);
    expect(log.diagnostics).toContain('protocol_error');
  });
});

describe('wakes, detection and state of a resumable client', () => {
  it('busy: one wake per keep-alive (it carries an acknowledgement, no auto-response can answer it); idle: none', async () => {
    const received: string[] = [];
    const client = resumingClient('/wakes', received);
    await within(new Promise((resolve) => client.on('session', resolve)), 5_000, 'the session');
    client.send('c:wakes:1');
    await until(() => received.includes('s:wakes:1'), 5_000, 'the answer');
    const before = await readLog();
    // This object's instance (other tests' clients may still be connected to theirs).
    const instance = before.sessions.at(-1)?.instance;
    const busyMs = 1_500;
    const sentBefore = client.activity.snapshot().keepalivesSent;
    const answeredBefore = client.rtt.answered;
    await client.activity.run('model_call', () => new Promise((resolve) => setTimeout(resolve, busyMs)));
    const busySent = client.activity.snapshot().keepalivesSent - sentBefore;
    // Every keep-alive answered (each one woke the object) before the busy window's wakes are read.
    await until(() => client.rtt.answered - answeredBefore >= busySent, 5_000, 'every keep-alive answered');
    const busy = await readLog();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const idle = await readLog();
    const busyWakes = busy.wakes.slice(before.wakes.length).filter((wake) => wake.instance === instance);
    const idleWakes = idle.wakes.slice(busy.wakes.length).filter((wake) => wake.instance === instance);
    console.log(
      `workerd, resumable client, heartbeat 100 ms: busy ${String(busyMs)} ms: ${String(busySent)} keep-alives, ${String(busyWakes.length)} wakes (${String(Math.round((busyWakes.length * 60_000) / busyMs))}/min); idle 1000 ms: ${String(idleWakes.length)} wakes`,
    );
    // 14 at a 100 ms heartbeat over 1.5 s; fewer when the machine is loaded and late ticks are skipped (B9).
    expect(busySent).toBeGreaterThanOrEqual(5);
    // Each keep-alive reaches the object (it is answered with the acknowledgement), nothing more.
    expect(busyWakes.length).toBeGreaterThanOrEqual(busySent - 1);
    expect(busyWakes.length).toBeLessThanOrEqual(busySent + 2);
    expect(idleWakes).toEqual([]);
    await client.close(1000);
  });

  it('a frozen resumable client (the hello, then nothing) is closed with 4000 within idleCloseMs (+ the alarm latency); its session waits for it', async () => {
    // Before the upgrade: the object starts the socket's idle clock when it accepts it, a little later.
    const openedAt = Date.now();
    const frozen = await connectRaw(`${origin}/frozen?ka=2`);
    raws.push(frozen);
    const [, status, id = '', secret = ''] = (await frozen.next()).data.split(' ');
    expect(status).toBe('new');
    const closed = await within(frozen.closed, IDLE_CLOSE_MS + 5_000, 'the idle close');
    const detection = closed.at - openedAt;
    console.log(`workerd, frozen resumable client: closed ${String(detection)} ms after its upgrade began, its last frame (bound: idleCloseMs ${String(IDLE_CLOSE_MS)} + alarm latency)`);
    expect(closed.code).toBe(4000);
    expect(detection).toBeGreaterThanOrEqual(IDLE_CLOSE_MS - 20);
    expect(detection).toBeLessThan(IDLE_CLOSE_MS + ALARM_SLACK_MS);
    // The session outlived its connection: its client resumes it.
    const back = await connectRaw(`${origin}/frozen?ka=2&ka_s=${id}`);
    raws.push(back);
    expect((await back.next()).data).toBe('\u0006H2 prove');
    back.socket.send(encodeProof({ secret, delivered: 0 }));
    expect((await back.next()).data).toBe(`\u0006H2 resumed ${id} 0`);
  });

  it('the per-socket state of a resumable socket: the packed peer plus the session id, well under the 16 KiB limit', () => {
    const now = Date.now();
    const packed: PackedPeer = [1, now + 2_147_483_647, now + 10_000, now + 300_000, now, now - 5, 1_000, 1, 2 ** 31, 2, 2 ** 31, 1, now - 1, now - 86_400_000];
    // A session id: 128 random bits as base64url (22 characters).
    const attachment: KeepaliveAttachment = { keepalive: packed, app: undefined, session: 'AAAAAAAAAAAAAAAAAAAAAA' };
    const bytes = serialize(attachment).byteLength;
    console.log(`attachment of a resumable socket: ${String(bytes)} bytes serialized`);
    expect(bytes).toBeLessThanOrEqual(240);
  });
});
