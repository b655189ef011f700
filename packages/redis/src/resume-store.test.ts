import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createClient } from '@redis/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Diagnostic } from '@keepalive/core';
import { createKeepaliveClient, keepAlive, resumable, type KeepaliveClient, type RefusedEvent, type SessionEvent } from '@keepalive/websocket-transport';
import { Queue, within } from 'keepalive-test-support';
import { RuntimeChild } from 'keepalive-test-support/runtime-child';
import { freePort, startRedisServer, type RedisServer } from 'keepalive-test-support/redis-server';
import { createRedisSessionStore, decodeStoredSession, encodeStoredSession, SESSION_STORE_DIAGNOSTICS, type RedisSessionStore } from './index.js';
import { startBackend, type Backend } from './test-support/backends.js';

const SERVER = fileURLToPath(new URL('./test-support/resume-server.mjs', import.meta.url));
const CWD = fileURLToPath(new URL('..', import.meta.url));

let redis: RedisServer;
const children: RuntimeChild[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await Promise.all(children.map((child) => child.stop(2_000)));
  await redis.stop();
});

async function startServer(port: number, target: string = redis.url): Promise<RuntimeChild> {
  const child = new RuntimeChild(process.execPath, [SERVER, target, String(port)], { cwd: CWD, timeoutMs: 60_000 });
  children.push(child);
  await child.line('listening', () => true, 10_000);
  return child;
}

async function until(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A digest as the hub keeps it (`secretDigest` of websocket-transport): SHA-256 of the secret, unpadded base64url. */
const digestOf = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('base64url');
/** Some digest, for the store's own tests. */
const PROOF = digestOf('a-secret-of-the-right-shape');
const CONTROL = '\u0006';

/** The bits of `ws` these tests use (the package has no `@types/ws`: `ws` is loaded untyped and described here). */
interface RawSocket {
  readonly readyState: number;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  once(event: 'close', listener: (code: number, reason: Buffer) => void): unknown;
  once(event: 'open', listener: () => void): unknown;
  send(data: string): void;
  terminate(): void;
}
type WsServer = Parameters<typeof keepAlive>[0];
const ws = createRequire(import.meta.url)('ws') as {
  readonly WebSocket: new (url: string) => RawSocket;
  readonly WebSocketServer: new (options: { readonly host: string; readonly port: number }) => WsServer;
};

/**
 * A resuming client written by hand from wire format v2 (the hello carries the secret, a named session is
 * challenged): it keeps every text frame the server wrote, in order.
 */
class RawPeer {
  /** Every text frame received, as written. */
  readonly frames: string[] = [];
  private readonly incoming = new Queue<string>(5_000);
  closedWith: { code: number; reason: string } | null = null;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: RawSocket) {
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString() };
        resolve(this.closedWith);
      }),
    );
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? `binary:${data.toString('hex')}` : data.toString();
      this.frames.push(text);
      this.incoming.push(text);
    });
  }

  static async open(url: string): Promise<RawPeer> {
    const peer = new RawPeer(new ws.WebSocket(url));
    peers.push(peer);
    await within(new Promise<void>((resolve) => peer.socket.once('open', resolve)), 5_000, `open ${url}`);
    return peer;
  }

  /** The next frame, whatever it is. */
  next(what: string): Promise<string> {
    return this.incoming.next(what);
  }

  /** The next application message (acknowledgements and other control frames skipped), unescaped. */
  async data(what: string): Promise<string> {
    for (;;) {
      const text = await this.incoming.next(what);
      if (text.startsWith(CONTROL + CONTROL)) return text.slice(1);
      if (!text.startsWith(CONTROL)) return text;
    }
  }

  /** The hello of a new session: `U+0006 "H2 new" id secret`. */
  async hello(): Promise<{ id: string; secret: string }> {
    const text = await this.next('hello');
    const match = text.startsWith(CONTROL) ? /^H2 new ([A-Za-z0-9_-]{1,64}) ([A-Za-z0-9_-]{22,128})$/.exec(text.slice(1)) : null;
    if (match === null) throw new Error(`not a new session's hello: ${JSON.stringify(text)}`);
    return { id: match[1] as string, secret: match[2] as string };
  }

  send(text: string): void {
    this.socket.send(text);
  }

  get open(): boolean {
    return this.socket.readyState === 1;
  }
}
const peers: RawPeer[] = [];

/** A hub (as one process of a fleet runs it): `keepAlive(wss, { resume: { store } })` with its own Redis session store, echoing. */
interface HubNode {
  readonly url: string;
  readonly store: RedisSessionStore;
  readonly sessions: SessionEvent[];
  readonly refused: RefusedEvent[];
  /** Every client message delivered to the application here. */
  readonly got: string[];
  readonly diagnostics: Diagnostic[];
  close(): Promise<void>;
}

async function startHub(prefix: string): Promise<HubNode> {
  const diagnostics: Diagnostic[] = [];
  const store = createRedisSessionStore({ url: redis.url, prefix, coalesceMs: 2, commandTimeoutMs: 2_000, reconnectMaxMs: 100, onDiagnostic: (d) => diagnostics.push(d) });
  await until('store ready', () => diagnostics.some((d) => d.name === SESSION_STORE_DIAGNOSTICS.ready));
  const wss = new ws.WebSocketServer({ host: '127.0.0.1', port: 0 });
  await within(once(wss, 'listening'), 5_000, 'listening');
  const heartbeat = keepAlive(wss, { resume: { store, onDiagnostic: (d) => diagnostics.push(d) } });
  const sessions: SessionEvent[] = [];
  const refused: RefusedEvent[] = [];
  const got: string[] = [];
  heartbeat.sessions.on('session', (event) => {
    sessions.push(event);
    if (event.resumed && !event.restored) return;
    event.session.on('message', (message) => {
      const text = typeof message === 'string' ? message : `binary:${String(new Uint8Array(message).length)}`;
      got.push(text);
      event.session.send(`echo:${text}`);
    });
  });
  heartbeat.sessions.on('refused', (event) => refused.push(event));
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  let closed = false;
  const node: HubNode = {
    url: `ws://127.0.0.1:${String(address.port)}/`,
    store,
    sessions,
    refused,
    got,
    diagnostics,
    close: async () => {
      if (closed) return;
      closed = true;
      heartbeat.close();
      await new Promise((resolve) => wss.close(resolve));
      await store.close();
    },
  };
  hubs.push(node);
  return node;
}
const hubs: HubNode[] = [];

afterEach(async () => {
  for (const peer of peers.splice(0)) peer.socket.terminate();
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

async function readHash(key: string): Promise<Record<string, string>> {
  const probe = createClient({ url: redis.url });
  await probe.connect();
  try {
    return { ...(await probe.hGetAll(key)) };
  } finally {
    await probe.close();
  }
}

/** Waits until the hash of `key` holds a state that `done` accepts (the store writes within a few ms). */
async function storedState(key: string, done: (state: { d: number; t: number }) => boolean): Promise<Record<string, string>> {
  const started = performance.now();
  for (;;) {
    const hash = await readHash(key);
    const decoded = decodeStoredSession(hash.s ?? '');
    if (decoded.ok && done({ d: decoded.stored.deliveredThrough, t: decoded.stored.transmittedThrough })) return hash;
    if (performance.now() - started > 10_000) throw new Error(`not stored within 10 s: ${JSON.stringify(hash)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe.each(['redis-server', 'cluster'] as const)('resume across processes on a %s (Redis session store)', (kind) => {
  let backend: Backend;

  beforeAll(async () => {
    backend = await startBackend(kind);
  });

  afterAll(async () => {
    await backend.stop();
  });

  it('B14: a client resumed on a second process after the first is killed (SIGKILL) loses nothing and duplicates nothing', async () => {
    const port = await freePort();
    const first = await startServer(port, backend.target);
    const client: KeepaliveClient = createKeepaliveClient(`ws://127.0.0.1:${String(port)}`, { resume: resumable(), reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    const received: string[] = [];
    const statuses: string[] = [];
    client.on('message', ({ data }) => received.push(String(data)));
    client.on('session', ({ status }) => statuses.push(status));
    const forgotten: unknown[] = [];
    client.on('forgotten', (event) => forgotten.push(event));
    try {
      await until('session', () => statuses.length === 1);
      for (let i = 1; i <= 50; i++) client.send(`m${String(i)}`);
      await until('50 echoes', () => received.length === 50);
      // What the first process delivered is in Redis before it dies (the store writes within a few ms).
      first.command({ cmd: 'flush' });
      await first.line('flushed');
      first.kill();
      await first.exited;
      // The client is away: what it sends now is queued and goes to whichever process it resumes on.
      for (let i = 51; i <= 60; i++) client.send(`m${String(i)}`);
      const second = await startServer(port, backend.target);
      await until('resumed on the second process', () => statuses.length === 2);
      for (let i = 61; i <= 100; i++) client.send(`m${String(i)}`);
      await until('100 echoes', () => received.length >= 100);
      // Settled: nothing more arrives.
      second.command({ cmd: 'flush' });
      await second.line('flushed');
      expect(statuses).toEqual(['new', 'resumed']);
      expect(forgotten).toEqual([]);
      const expected = Array.from({ length: 100 }, (_, i) => `m${String(i + 1)}`);
      expect(received).toEqual(expected.map((text) => `echo:${text}`));
      const delivered = [...first.all('got'), ...second.all('got')].map((line) => line.text);
      expect(delivered).toEqual(expected);
      expect(second.all('session')).toEqual([{ type: 'session', resumed: true, restored: true, unacked: expect.any(Number) as number }]);
    } finally {
      await client.close(1000);
    }
  });

  it('a session taken over by another process: the previous holder can no longer write it (epoch), and ends remove it', async () => {
    const ready: string[] = [];
    const onDiagnostic = (name: string) => (d: Diagnostic) => {
      if (d.name === SESSION_STORE_DIAGNOSTICS.ready) ready.push(name);
    };
    const a = createRedisSessionStore({ ...backend.options(), prefix: 'takeover', onDiagnostic: onDiagnostic('a') });
    const b = createRedisSessionStore({ ...backend.options(), prefix: 'takeover', onDiagnostic: onDiagnostic('b') });
    try {
      await until('both connected', () => ready.includes('a') && ready.includes('b'));
      let counter = 1;
      const read = () => ({ deliveredThrough: counter, ackedThrough: 0, transmittedThrough: 1, unacked: ['x', new Uint8Array([1, 2, 3])], proof: PROOF });
      for (let i = 0; i < 200 && (await a.flush().then(() => a.stats().writes)) === 0; i++) {
        a.save('s1', read);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(a.stats().writes).toBeGreaterThan(0);
      const loaded = await b.load('s1');
      expect(loaded).toEqual({ deliveredThrough: 1, ackedThrough: 0, transmittedThrough: 1, unacked: ['x', new Uint8Array([1, 2, 3])], proof: PROOF });
      counter = 99;
      a.save('s1', read);
      await a.flush();
      expect(a.stats().conflicts).toBe(1);
      // b holds it: a's stale write did not land.
      b.save('s1', () => ({ deliveredThrough: 2, ackedThrough: 0, transmittedThrough: 0, unacked: [], proof: PROOF }));
      await b.flush();
      const probe = await backend.probe();
      const stored = decodeStoredSession((await probe.hGet('takeover:resume:s1', 's')) ?? '');
      expect(stored.ok && stored.stored.deliveredThrough).toBe(2);
      b.remove('s1');
      await b.flush();
      expect(await probe.exists('takeover:resume:s1')).toBe(0);
      // Bad data under the prefix: ignored with a diagnostic, the client gets a new session (null).
      await probe.hSet('takeover:resume:bad', { e: '1', s: 'garbage' });
      expect(await b.load('bad')).toBeNull();
      await probe.set('takeover:resume:string', 'not a hash');
      await expect(b.load('string')).rejects.toThrow();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('resume across processes (Redis session store)', () => {
  it('codec: round trip of text and binary; corrupt values named', () => {
    const stored = { deliveredThrough: 3, ackedThrough: 1, transmittedThrough: 2, unacked: ['\u0006x', new Uint8Array([0, 255])], proof: PROOF };
    expect(decodeStoredSession(encodeStoredSession(stored))).toEqual({ ok: true, stored });
    expect(decodeStoredSession('x')).toEqual({ ok: false, problem: 'not_json' });
    expect(decodeStoredSession('[]')).toEqual({ ok: false, problem: 'not_an_object' });
    expect(decodeStoredSession(`{"v":2,"p":"${PROOF}","d":1,"a":0,"t":0,"m":[[2,"x"]]}`)).toEqual({ ok: false, problem: 'bad_field' });
    expect(decodeStoredSession(`{"v":2,"p":"${PROOF}","d":-1,"a":0,"t":0,"m":[]}`)).toEqual({ ok: false, problem: 'bad_field' });
  });

  it('B17 codec: version 2 carries the digest ("p"); a version 1 value (no digest) is unknown_version, never a session without a digest', () => {
    const stored = { deliveredThrough: 1, ackedThrough: 0, transmittedThrough: 0, unacked: [], proof: PROOF };
    const text = encodeStoredSession(stored);
    expect(JSON.parse(text)).toMatchObject({ v: 2, p: PROOF });
    // What the previous version wrote: no digest.
    expect(decodeStoredSession('{"v":1,"d":1,"a":0,"t":0,"m":[]}')).toEqual({ ok: false, problem: 'unknown_version' });
    expect(decodeStoredSession(`{"v":1,"p":"${PROOF}","d":1,"a":0,"t":0,"m":[]}`)).toEqual({ ok: false, problem: 'unknown_version' });
    // Version 2 without a digest, or with something that is not one (a 22-character secret, padding, a wrong alphabet).
    expect(decodeStoredSession('{"v":2,"d":1,"a":0,"t":0,"m":[]}')).toEqual({ ok: false, problem: 'bad_proof' });
    for (const p of [PROOF.slice(0, 22), `${PROOF.slice(0, 42)}=`, `${PROOF.slice(0, 42)}+`, `${PROOF}A`, 42]) {
      expect(decodeStoredSession(JSON.stringify({ v: 2, p, d: 1, a: 0, t: 0, m: [] }))).toEqual({ ok: false, problem: 'bad_proof' });
    }
    // Encoding refuses anything but a digest: a secret never reaches Redis by mistake.
    expect(() => encodeStoredSession({ ...stored, proof: PROOF.slice(0, 22) })).toThrow(TypeError);
  });
});

describe('B17: a session belongs to whoever holds its secret (Redis session store)', () => {
  it('B17: the stored hash keeps the digest of the secret as its own field p, and no field or value holds the secret', async () => {
    const node = await startHub('secret');
    const peer = await RawPeer.open(`${node.url}?ka=2`);
    const { id, secret } = await peer.hello();
    peer.send('one');
    peer.send(`with ${CONTROL} inside`);
    expect(await peer.data('echo one')).toBe('echo:one');
    expect(await peer.data('echo two')).toBe(`echo:with ${CONTROL} inside`);
    const key = `secret:resume:${id}`;
    const hash = await storedState(key, (state) => state.d === 2 && state.t === 2);
    expect(Object.keys(hash).sort()).toEqual(['e', 'p', 's']);
    expect(hash.p).toBe(digestOf(secret));
    expect(hash.e).toBe('1');
    const decoded = decodeStoredSession(hash.s ?? '');
    expect(decoded.ok && decoded.stored).toEqual({ deliveredThrough: 2, ackedThrough: expect.any(Number) as number, transmittedThrough: 2, unacked: expect.any(Array) as unknown[], proof: digestOf(secret) });
    expect(JSON.parse(hash.s ?? '')).toMatchObject({ v: 2, p: digestOf(secret) });
    // Nowhere in Redis: no field name or value of any key, nor any key name (nor anything the store or hub reported).
    const probe = createClient({ url: redis.url });
    await probe.connect();
    try {
      const keys = await probe.keys('*');
      expect(keys).toContain(key);
      for (const name of keys) {
        expect(name).not.toContain(secret);
        const type = await probe.type(name);
        const values = type === 'hash' ? Object.entries(await probe.hGetAll(name)).flat() : type === 'string' ? [(await probe.get(name)) ?? ''] : [];
        for (const value of values) expect(value).not.toContain(secret);
      }
    } finally {
      await probe.close();
    }
    expect(JSON.stringify(node.diagnostics)).not.toContain(secret);
    // `proof` reads the digest back, and nothing else.
    expect(await node.store.proof(id)).toBe(digestOf(secret));
    expect(node.store.stats().proofReads).toBe(1);
    expect((await readHash(key)).e).toBe('1');
  });

  it('B17: a session read out of Redis cannot be resumed: everything stored, presented as the proof on another process, is refused (4403), the epoch is not bumped, the owner keeps writing and its client keeps receiving', async () => {
    const owner = await startHub('attack');
    const other = await startHub('attack');
    const victim = await RawPeer.open(`${owner.url}?ka=2`);
    const { id, secret } = await victim.hello();
    victim.send('v1');
    expect(await victim.data('echo v1')).toBe('echo:v1');
    const key = `attack:resume:${id}`;
    // The attacker reads the whole hash out of Redis (a replica, a backup, a leaked dump, a MONITOR).
    const stolen = await storedState(key, (state) => state.d === 1 && state.t === 1);
    const epochBefore = stolen.e;
    expect(epochBefore).toBe('1');
    const digest = stolen.p ?? '';
    expect(digest).toBe(digestOf(secret));
    const writesBefore = owner.store.stats().writes;

    // Every string of the shape of a secret readable from Redis (the digest, its halves, the id in the key's name):
    // proved and refused with 4403, before anything changes.
    const guesses = [digest, digest.slice(0, 22), digest.slice(-22), id];
    for (const guess of guesses) {
      const attacker = await RawPeer.open(`${other.url}?ka=2&ka_s=${id}`);
      expect(await attacker.next('challenge')).toBe(`${CONTROL}H2 prove`);
      attacker.send(`${CONTROL}P${guess} 1`);
      expect((await within(attacker.closed, 5_000, 'attacker closed')).code).toBe(4403);
      expect(attacker.frames).toEqual([`${CONTROL}H2 prove`]);
    }
    // What is stored but not of a secret's shape (the epoch, the state) is not even a proof: a protocol error (1002).
    for (const guess of [stolen.e ?? '', stolen.s ?? '']) {
      const attacker = await RawPeer.open(`${other.url}?ka=2&ka_s=${id}`);
      expect(await attacker.next('challenge')).toBe(`${CONTROL}H2 prove`);
      attacker.send(`${CONTROL}P${guess} 1`);
      expect((await within(attacker.closed, 5_000, 'attacker closed')).code).toBe(1002);
      expect(attacker.frames).toEqual([`${CONTROL}H2 prove`]);
    }
    expect(other.sessions).toEqual([]);
    expect(other.got).toEqual([]);
    expect(other.refused.map(({ reason, code }) => [reason, code])).toEqual([...guesses.map(() => ['proof', 4403]), ['invalid', 1002], ['invalid', 1002]]);
    // The other process only read the digest, once (the hub keeps it: later wrong proofs cost no store read), and
    // took nothing over.
    expect(other.store.stats()).toMatchObject({ proofReads: 1, loaded: 0, held: 0, writes: 0 });
    // Nothing changed in Redis: not the epoch, not the state, not the digest.
    const after = await readHash(key);
    expect(after).toEqual(stolen);
    expect(after.e).toBe(epochBefore);

    // The owner's client is still connected and served; the owner's next save lands (it still holds the epoch).
    expect(victim.open).toBe(true);
    expect(victim.closedWith).toBeNull();
    victim.send('v2');
    expect(await victim.data('echo v2')).toBe('echo:v2');
    const written = await storedState(key, (state) => state.d === 2 && state.t === 2);
    expect(written.e).toBe(epochBefore);
    // Redis may show the write before the store has read its reply: let the batch settle before reading its counters.
    await owner.store.flush();
    expect(owner.store.stats()).toMatchObject({ conflicts: 0, held: 1 });
    expect(owner.store.stats().writes).toBeGreaterThan(writesBefore);
    expect(owner.got).toEqual(['v1', 'v2']);
    expect(owner.sessions.map(({ resumed, restored }) => [resumed, restored])).toEqual([[false, false]]);
    expect(victim.frames.filter((frame) => frame.startsWith(`${CONTROL}H`))).toHaveLength(1);

    // Control: the holder of the secret does resume on the other process (restored), taking the epoch over.
    const holder = await RawPeer.open(`${other.url}?ka=2&ka_s=${id}`);
    expect(await holder.next('challenge')).toBe(`${CONTROL}H2 prove`);
    holder.send(`${CONTROL}P${secret} 2`);
    expect(await holder.next('resumed')).toBe(`${CONTROL}H2 resumed ${id} 2`);
    expect(other.sessions.map(({ resumed, restored }) => [resumed, restored])).toEqual([[true, true]]);
    expect((await readHash(key)).e).toBe('2');
    holder.send('v3');
    expect(await holder.data('echo v3')).toBe('echo:v3');
    expect(other.got).toEqual(['v3']);
  });

  it('B17: proof(id) reads the digest without taking the session over: the holder keeps writing (no conflict); missing, pre-secret and malformed values are null, reported', async () => {
    const diagnostics: Diagnostic[] = [];
    const a = createRedisSessionStore({ url: redis.url, prefix: 'proofread' });
    const b = createRedisSessionStore({ url: redis.url, prefix: 'proofread', onDiagnostic: (d) => diagnostics.push(d) });
    const probe = createClient({ url: redis.url });
    await probe.connect();
    try {
      await until('ready', () => diagnostics.some((d) => d.name === SESSION_STORE_DIAGNOSTICS.ready));
      let counter = 1;
      const read = () => ({ deliveredThrough: counter, ackedThrough: 0, transmittedThrough: 0, unacked: [], proof: PROOF });
      for (let i = 0; i < 200 && (await a.flush().then(() => a.stats().writes)) === 0; i++) {
        a.save('s1', read);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(a.stats().writes).toBe(1);
      expect(await b.proof('missing')).toBeNull();
      for (let i = 0; i < 3; i++) expect(await b.proof('s1')).toBe(PROOF);
      expect(await probe.hGet('proofread:resume:s1', 'e')).toBe('1');
      expect(b.stats()).toMatchObject({ proofReads: 4, loaded: 0, held: 0 });
      // The holder's next save lands: proof() took nothing over.
      counter = 2;
      a.save('s1', read);
      await a.flush();
      expect(a.stats()).toMatchObject({ writes: 2, conflicts: 0, held: 1 });
      const stored = decodeStoredSession((await probe.hGet('proofread:resume:s1', 's')) ?? '');
      expect(stored.ok && stored.stored.deliveredThrough).toBe(2);
      expect(diagnostics.filter((d) => d.name === SESSION_STORE_DIAGNOSTICS.ignored)).toEqual([]);

      // A session the previous version wrote (an epoch and a state of version 1, no digest): no proof, reported; and
      // should a hub load it anyway, it is not a session (unknown_version), never one without a digest.
      await probe.hSet('proofread:resume:old', { e: '3', s: '{"v":1,"d":1,"a":0,"t":0,"m":[]}' });
      expect(await b.proof('old')).toBeNull();
      expect(await b.load('old')).toBeNull();
      expect(diagnostics.filter((d) => d.name === SESSION_STORE_DIAGNOSTICS.ignored).map((d) => d.fields)).toEqual([{ problem: 'unknown_version' }, { problem: 'unknown_version' }]);
      diagnostics.length = 0;
      // A `p` that is not a digest (the secret's length, garbage): reported, no proof.
      for (const p of [PROOF.slice(0, 22), 'x', `${PROOF.slice(0, 42)}=`]) {
        await probe.hSet('proofread:resume:bad', { e: '1', p });
        expect(await b.proof('bad')).toBeNull();
      }
      expect(diagnostics.filter((d) => d.name === SESSION_STORE_DIAGNOSTICS.ignored).map((d) => d.fields)).toEqual([{ problem: 'bad_proof' }, { problem: 'bad_proof' }, { problem: 'bad_proof' }]);
      // A save whose proof is not a digest is refused before Redis (reported), so a secret is never written.
      a.save('s2', () => ({ deliveredThrough: 0, ackedThrough: 0, transmittedThrough: 0, unacked: [], proof: 'the-secret-itself-22ch' }));
      await a.flush();
      expect(await probe.exists('proofread:resume:s2')).toBe(0);
      // A closed store answers null without asking Redis.
      await b.close();
      expect(await b.proof('s1')).toBeNull();
    } finally {
      await probe.close();
      await a.close();
      await b.close();
    }
  });
});
