import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LEGACY_REFUSAL_REASON, createKeepaliveClient, resumable, type ClientSessionEvent, type KeepaliveClient } from '@keepalive/websocket-transport';
import { RuntimeChild, type ChildLine } from 'keepalive-test-support/runtime-child';
import { Queue, within } from 'keepalive-test-support';

/**
 * Resumable sessions (spec B14, B17) on a REAL Bun server: `src/test-support/resume-server.ts` runs `Bun.serve` with
 * `withKeepalive(handler, { resume })` in a Bun child process; the library's own client (wire format v2, on `ws`)
 * and raw `ws` clients speaking wire format v2 by hand (and an attacker that only knows the victim's URL) drive it
 * from here over 127.0.0.1. Every wait is for an event or a line, bounded.
 */

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUN = process.env.KEEPALIVE_BUN ?? join(PACKAGE_DIR, '../../node_modules/bun/bin/bun.exe');
const CONTROL = '\u0006';
/** A new session's hello (wire format v2): its id and its secret. */
const NEW_HELLO = new RegExp(`^${CONTROL}H2 new ([A-Za-z0-9_-]{22}) ([A-Za-z0-9_-]{22})$`);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(resume: Record<string, unknown> = { ackDelayMs: 20 }): Promise<{ child: RuntimeChild; port: number }> {
  const child = new RuntimeChild(BUN, ['run', 'src/test-support/resume-server.ts', JSON.stringify(resume)], { cwd: PACKAGE_DIR, timeoutMs: 60_000 });
  cleanups.push(() => child.stop());
  const listening = await child.line('listening', undefined, 20_000);
  return { child, port: listening.port as number };
}

interface Closed {
  readonly code: number;
  readonly reason: string;
}

interface RawClient {
  readonly ws: WebSocket;
  readonly frames: Queue<string>;
  /** Resolves when the server closed the connection (its close code and reason). */
  readonly closed: Promise<Closed>;
  /** Whether the connection has closed yet. */
  isClosed(): boolean;
}

/** A raw `ws` client (`headers`: the upgrade request's, e.g. who the app thinks is asking): frames as text, in order. */
async function rawClient(url: string, headers: Record<string, string> = {}): Promise<RawClient> {
  const ws = new WebSocket(url, { headers });
  const frames = new Queue<string>(10_000);
  let done = false;
  const closed = new Promise<Closed>((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => {
      done = true;
      resolve({ code, reason: reason.toString() });
    });
  });
  ws.on('error', () => undefined);
  ws.on('message', (data: Buffer) => frames.push(data.toString()));
  cleanups.push(() => ws.terminate());
  await within(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 10_000, 'the raw client to open');
  return { ws, frames, closed, isClosed: () => done };
}

/** A raw client speaking wire format v2 by hand, on a new session: the id and the secret of its `new` hello, acknowledged. */
async function rawSession(port: number, headers: Record<string, string> = {}): Promise<RawClient & { id: string; secret: string }> {
  const raw = await rawClient(`ws://127.0.0.1:${port}/ws?ka=2`, headers);
  const hello = await raw.frames.next('the hello');
  const [, id, secret] = NEW_HELLO.exec(hello) ?? [];
  if (id === undefined || secret === undefined) throw new Error(`expected a new session's hello, got ${JSON.stringify(hello)}`);
  raw.ws.send(`${CONTROL}a0`);
  return { ...raw, id, secret };
}

/** A closed connection's code and reason, bounded. */
const closeOf = (raw: RawClient, what: string): Promise<Closed> => within(raw.closed, 10_000, what);

/** 22 random characters of base64url: a secret's shape, not the secret. */
const guess = (): string => randomBytes(16).toString('base64url');

/** The library's resuming client; each connection's `ws` socket and URL are kept, so the test can cut it, or replay its URL. */
function resumeClient(port: number): {
  client: KeepaliveClient;
  sockets: WebSocket[];
  urls: string[];
  sessions: Queue<ClientSessionEvent>;
  received: string[];
  arrived: Queue<string>;
  events: string[];
} {
  const sockets: WebSocket[] = [];
  const urls: string[] = [];
  const client = createKeepaliveClient(
    ({ query }) => {
      const url = `ws://127.0.0.1:${port}/ws?${query}`;
      const socket = new WebSocket(url);
      urls.push(url);
      sockets.push(socket);
      return socket;
    },
    { resume: resumable({ ackDelayMs: 20 }), heartbeatIntervalMs: 100, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } },
  );
  cleanups.push(() => client.close());
  const sessions = new Queue<ClientSessionEvent>(10_000);
  const received: string[] = [];
  const arrived = new Queue<string>(10_000);
  // What happened to the connection, in order (a victim's must not change while it is attacked).
  const events: string[] = [];
  client.on('session', (event) => {
    events.push(`session:${event.status}`);
    sessions.push(event);
  });
  client.on('close', ({ code }) => events.push(`close:${code}`));
  client.on('reconnecting', () => events.push('reconnecting'));
  client.on('rejected', () => events.push('rejected'));
  client.on('forgotten', () => events.push('forgotten'));
  client.on('message', ({ data }) => {
    const text = typeof data === 'string' ? data : `binary:${[...data].join(',')}`;
    received.push(text);
    arrived.push(text);
  });
  return { client, sockets, urls, sessions, received, arrived, events };
}

const numbered = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
const dataOf = (lines: readonly ChildLine[]): unknown[] => lines.map((line) => line.data);

describe('withKeepalive(handler, { resume }) on a real Bun server (B14)', () => {
  it('B14: every client message arrives exactly once and in order across cuts on either side, and so does every server message', async () => {
    const { child, port } = await startServer();
    const { client, sockets, sessions, received, arrived } = resumeClient(port);
    expect((await sessions.next('the first session')).status).toBe('new');
    await child.line('session', (line) => line.n === 1 && line.resumed === false);
    let clientSent = 0;
    let serverSent = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 25; i++) client.send(`c${++clientSent}`);
      child.command({ cmd: 'send', count: 25 });
      serverSent += 25;
      await child.line('sent', (line) => line.through === serverSent);
      // Cut with frames in flight both ways: the client's socket destroyed, or the server's terminated (no close frame).
      if (round % 2 === 0) sockets.at(-1)?.terminate();
      else child.command({ cmd: 'cut' });
      // Written while the connection is down: kept for the next one.
      for (let i = 0; i < 5; i++) client.send(`c${++clientSent}`);
      const again = await sessions.next(`the session resumed after cut ${round + 1}`);
      expect(again.status).toBe('resumed');
    }
    child.command({ cmd: 'send-binary', bytes: [0, 1, 255] });
    client.send(new Uint8Array([7, 8, 9]));
    await child.line('message', (line) => JSON.stringify(line.data) === JSON.stringify({ binary: [7, 8, 9] }));
    while (received.at(-1) !== 'binary:0,1,255') await arrived.next('the server messages');
    const closed = await client.close();
    const end = await child.line('closed', (line) => line.n === 1);
    expect(end).toMatchObject({ by: 'client', code: 1000 });
    // Exactly once, in order, both ways, in one session.
    expect(dataOf(child.all('message'))).toEqual([...numbered('c', clientSent), { binary: [7, 8, 9] }]);
    expect(received).toEqual([...numbered('s', serverSent), 'binary:0,1,255']);
    expect(closed.undelivered).toEqual([]);
    expect(child.all('session')).toHaveLength(5);
    expect(child.all('session').every((line) => line.n === 1)).toBe(true);
    // The resuming client's frames never reached the app's own message handler.
    expect(child.all('raw')).toEqual([]);
    child.command({ cmd: 'stats' });
    const stats = await child.line('stats');
    expect(stats.hub).toMatchObject({ created: 1, resumed: 4, forgotten: 0, protocolErrors: 0, invalidRequests: 0, socketErrors: 0 });
    expect(stats.tracker).toMatchObject({ handlerErrors: 0 });
  });

  it('B14: a plain client on the same server is unaffected: no hello, heartbeats answered in kind, raw messages to the app', async () => {
    const { child, port } = await startServer();
    // A resuming client speaking the wire format by hand, beside the plain one.
    const resuming = await rawClient(`ws://127.0.0.1:${port}/ws?ka=2`);
    const hello = await resuming.frames.next('the hello');
    expect(hello.slice(0, 8)).toBe(`${CONTROL}H2 new `);
    // A new session's hello carries its id and its secret (B17).
    expect(hello.slice(8)).toMatch(/^[A-Za-z0-9_-]{22} [A-Za-z0-9_-]{22}$/);
    resuming.ws.send(`${CONTROL}a0`);
    resuming.ws.send('r1');
    resuming.ws.send(`${CONTROL}${CONTROL}escaped`);
    resuming.ws.send(`${CONTROL}A0`);
    // The answer carries the acknowledgement (a standalone one may come first, after ackDelayMs).
    let answer = await resuming.frames.next('the answer to the heartbeat');
    while (answer === `${CONTROL}a2`) answer = await resuming.frames.next('the answer to the heartbeat');
    expect(answer).toBe(`${CONTROL}A2`);
    await child.line('message', (line) => line.data === `${CONTROL}escaped`);

    const plain = await rawClient(`ws://127.0.0.1:${port}/ws?room=1`);
    plain.ws.send('hello');
    expect(await plain.frames.next('the echo')).toBe('echo:hello');
    plain.ws.send('');
    expect(await plain.frames.next('the heartbeat answer')).toBe('');
    plain.ws.send('marker');
    expect(await plain.frames.next('the marker echo')).toBe('echo:marker');
    await child.line('raw', (line) => line.data === 'marker');
    // Only the plain client's frames reached the app's handler; only the resuming one's reached a session.
    expect(dataOf(child.all('raw'))).toEqual(['hello', '', 'marker']);
    expect(dataOf(child.all('message'))).toEqual(['r1', `${CONTROL}escaped`]);
    expect(child.all('session')).toHaveLength(1);
  });

  it('B14: a socket upgraded without data.url is served as a plain client, with one warn diagnostic however many come', async () => {
    const { child, port } = await startServer();
    for (const round of [1, 2]) {
      const client = await rawClient(`ws://127.0.0.1:${port}/nourl?ka=2`);
      client.ws.send(`ping${round}`);
      // The first frame is the app's echo: no hello.
      expect(await client.frames.next('the echo')).toBe(`echo:ping${round}`);
    }
    await child.line('raw', (line) => line.data === 'ping2');
    expect(child.all('diagnostic').filter((line) => line.name === 'resume_url_missing')).toEqual([{ type: 'diagnostic', name: 'resume_url_missing', level: 'warn' }]);
    expect(child.all('session')).toEqual([]);
  });

  it('B17, B14: an attacker replaying the victim’s URL gets no session and no frame of it: no proof is closed with 4408, a wrong proof with 4403, a frame before the proof with 1002; the victim stays connected, same session, messages flowing both ways', async () => {
    const { child, port } = await startServer({ ackDelayMs: 20, handshakeTimeoutMs: 600 });
    const victim = resumeClient(port);
    expect((await victim.sessions.next('the victim’s session')).status).toBe('new');
    let clientSent = 0;
    let serverSent = 0;
    const exchange = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) victim.client.send(`c${++clientSent}`);
      child.command({ cmd: 'send', count });
      serverSent += count;
      await child.line('message', (line) => line.data === `c${clientSent}`);
      while (victim.received.at(-1) !== `s${serverSent}`) await victim.arrived.next(`s${serverSent} at the victim`);
    };
    await exchange(5);
    // The victim reconnects once (a cut): its URL now names its session, as a proxy's log would show it.
    victim.sockets.at(-1)?.terminate();
    expect((await victim.sessions.next('the victim’s session resumed')).status).toBe('resumed');
    await exchange(5);
    const url = victim.urls.at(-1) ?? '';
    expect(url).toMatch(/\?ka=2&ka_s=[A-Za-z0-9_-]{22}(&ka_p=1)?$/);
    const before = { sockets: victim.sockets.length, events: victim.events.length, sessions: child.all('session').length };

    // (a) No proof: challenged, then closed with 4408 after handshakeTimeoutMs; the victim's traffic meanwhile is not its.
    const silent = await rawClient(url);
    expect(await silent.frames.next('the challenge')).toBe(`${CONTROL}H2 prove`);
    await exchange(3);
    expect(await closeOf(silent, 'the silent attacker to be closed')).toEqual({ code: 4408, reason: 'handshake timeout' });
    // (b) A wrong proof, whatever count it claims: 4403.
    for (const n of [0, 1, serverSent, serverSent + 1, 1_000_000]) {
      const guesser = await rawClient(url);
      expect(await guesser.frames.next('the challenge')).toBe(`${CONTROL}H2 prove`);
      guesser.ws.send(`${CONTROL}P${guess()} ${n}`);
      expect(await closeOf(guesser, `the guesser claiming ${n} to be closed`)).toEqual({ code: 4403, reason: 'resume refused' });
      expect(guesser.frames.pending).toEqual([]);
    }
    // Data (or an ack) instead of the proof: a protocol error, never delivered into the victim's session.
    const injector = await rawClient(url);
    expect(await injector.frames.next('the challenge')).toBe(`${CONTROL}H2 prove`);
    injector.ws.send('injected');
    expect(await closeOf(injector, 'the injector to be closed')).toEqual({ code: 1002, reason: 'proof expected' });
    await exchange(3);
    // Not one frame of the victim's session reached an attacker: only the challenge, each.
    expect(silent.frames.pending).toEqual([]);
    expect(injector.frames.pending).toEqual([]);

    // The victim: same socket, open, no close, no reconnect, no new session; its messages keep flowing both ways.
    expect(victim.sockets.length).toBe(before.sockets);
    expect(victim.sockets.at(-1)?.readyState).toBe(WebSocket.OPEN);
    expect(victim.events.slice(before.events)).toEqual([]);
    expect(victim.client.state).toBe('open');
    expect(child.all('session')).toHaveLength(before.sessions);
    expect(child.all('session').every((line) => line.n === 1)).toBe(true);
    expect(child.all('refused').map((line) => `${String(line.reason)}:${String(line.code)}`)).toEqual([
      'timeout:4408',
      'proof:4403',
      'proof:4403',
      'proof:4403',
      'proof:4403',
      'proof:4403',
      'invalid:1002',
    ]);
    child.command({ cmd: 'stats' });
    const stats = await child.line('stats');
    expect(stats.hub).toMatchObject({ created: 1, resumed: 1, connected: 1, sessions: 1, wrongProofs: 5, handshakeTimeouts: 1, invalidRequests: 1, replaced: 0 });
    const closed = await victim.client.close();
    expect(await child.line('closed', (line) => line.n === 1)).toMatchObject({ by: 'client', code: 1000 });
    // Exactly once, in order, both ways, in one session: the attack cost the victim nothing.
    expect(dataOf(child.all('message'))).toEqual(numbered('c', clientSent));
    expect(victim.received).toEqual(numbered('s', serverSent));
    expect(closed.undelivered).toEqual([]);
    expect(child.all('raw')).toEqual([]);
  });

  it('B17, B14: the admit hook (typed with the Bun context) refuses a resume by another user even with the right secret, without touching the owner; the owner’s own proven connection takes the session over (4001)', async () => {
    const { child, port } = await startServer({ ackDelayMs: 20, resumeOnlyBy: 'alice' });
    const owner = await rawSession(port, { 'x-user': 'alice' });
    owner.ws.send('o1');
    await child.line('message', (line) => line.data === 'o1');
    child.command({ cmd: 'send', count: 1 });
    // Acknowledgements of the owner's messages may come first (standalone: B16, no pings to a quiet client).
    let s1Frame = await owner.frames.next('s1');
    while (s1Frame.startsWith(`${CONTROL}a`)) s1Frame = await owner.frames.next('s1');
    expect(s1Frame).toBe('s1');
    const url = `ws://127.0.0.1:${port}/ws?ka=2&ka_s=${owner.id}`;
    // The secret leaked too: the application still says no (4403), and nothing changed.
    const thief = await rawClient(url, { 'x-user': 'mallory' });
    expect(await thief.frames.next('the challenge')).toBe(`${CONTROL}H2 prove`);
    thief.ws.send(`${CONTROL}P${owner.secret} 1`);
    expect(await closeOf(thief, 'the thief to be refused')).toEqual({ code: 4403, reason: 'not yours' });
    expect(thief.frames.pending).toEqual([]);
    child.command({ cmd: 'send', count: 1 });
    // Acknowledgements of the owner's messages may come first (standalone: B16, no pings to a quiet client).
    let s2Frame = await owner.frames.next('s2');
    while (s2Frame.startsWith(`${CONTROL}a`)) s2Frame = await owner.frames.next('s2');
    expect(s2Frame).toBe('s2');
    owner.ws.send('o2');
    await child.line('message', (line) => line.data === 'o2');
    expect(owner.isClosed()).toBe(false);
    expect(child.all('session')).toEqual([{ type: 'session', n: 1, resumed: false, forgotten: false, user: 'alice' }]);
    expect(child.all('refused')).toEqual([{ type: 'refused', reason: 'admission', code: 4403, user: 'mallory' }]);

    // The owner's new connection (say its old one is half-open) proves the secret and is admitted: the old one is
    // closed with 4001 (a connection that proved the secret took the session over), and nothing is lost.
    const back = await rawClient(url, { 'x-user': 'alice' });
    expect(await back.frames.next('the challenge')).toBe(`${CONTROL}H2 prove`);
    back.ws.send(`${CONTROL}P${owner.secret} 2`);
    expect(await back.frames.next('the resumed hello')).toBe(`${CONTROL}H2 resumed ${owner.id} 2`);
    expect(await closeOf(owner, 'the old connection to be replaced')).toEqual({ code: 4001, reason: 'resumed elsewhere' });
    back.ws.send(`${CONTROL}a2`);
    back.ws.send('o3');
    await child.line('message', (line) => line.data === 'o3');
    expect(dataOf(child.all('message'))).toEqual(['o1', 'o2', 'o3']);
    expect(child.all('admit').map((line) => `${String(line.kind)}:${String(line.user)}`)).toEqual(['new:alice', 'resume:mallory', 'resume:alice']);
    expect(child.all('session').at(-1)).toEqual({ type: 'session', n: 1, resumed: true, forgotten: false, user: 'alice' });
    child.command({ cmd: 'stats' });
    expect((await child.line('stats')).hub).toMatchObject({ created: 1, resumed: 1, refusedAdmissions: 1, replaced: 1, wrongProofs: 0 });
  });

  it('B17: a wire format v1 client (ka=1, even naming a live session) is closed with 1002 and the legacy reason; the session is untouched', async () => {
    const { child, port } = await startServer();
    const owner = await rawSession(port);
    const legacy = await rawClient(`ws://127.0.0.1:${port}/ws?ka=1&ka_s=${owner.id}&ka_d=0`);
    expect(await closeOf(legacy, 'the v1 client to be refused')).toEqual({ code: 1002, reason: LEGACY_REFUSAL_REASON });
    expect(legacy.frames.pending).toEqual([]);
    owner.ws.send('still mine');
    await child.line('message', (line) => line.data === 'still mine');
    expect(owner.isClosed()).toBe(false);
    expect(child.all('session')).toHaveLength(1);
    expect(child.all('refused')).toEqual([{ type: 'refused', reason: 'legacy', code: 1002, user: null }]);
  });

  // Regression: while it awaits a hello the client took any inbound frame (the server's keep-alives included) for
  // proof that the server does not speak the wire format, and fell back for good. In v2 the hello may come a round
  // trip (the proof) or an `admit` hook later, with the server keeping the connection alive meanwhile.
  it('B17: keep-alive frames before a late hello (an admit hook slower than the keep-alive) decide nothing: the session comes up, new and then resumed', async () => {
    const { child, port } = await startServer({ ackDelayMs: 20, admitDelayMs: 400 });
    const victim = resumeClient(port);
    expect((await victim.sessions.next('the first session')).status).toBe('new');
    victim.client.send('c1');
    await child.line('message', (line) => line.data === 'c1');
    victim.sockets.at(-1)?.terminate();
    expect((await victim.sessions.next('the session after the cut')).status).toBe('resumed');
  });
});
