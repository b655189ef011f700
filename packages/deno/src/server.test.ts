import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeSocket, manualPlatform } from 'keepalive-test-support';
import {
  LEGACY_REFUSAL_REASON,
  PeerTracker,
  createSessionHub,
  type AdmissionVerdict,
  type ResumableSession,
  type SessionHubOptions,
  type SessionMessage,
} from '@keepalive/websocket-transport/peer';
import type { DenoLike, DenoUpgradeOptions, DenoWebSocketLike } from './deno-like.ts';
import { createScheduler } from './platform.ts';
import { createKeepaliveTracker, upgradeWithKeepalive, type DenoSessionContext } from './server.ts';

/**
 * Unit tests of the Deno.upgradeWebSocket integration with socket doubles on a manual clock (the real Deno runs in
 * server.resume.test.ts and keepalive-conformance).
 */

const CONTROL = '\u0006';

afterEach(() => {
  vi.unstubAllGlobals();
});

function fakeDeno() {
  const upgrades: { request: Request; options: DenoUpgradeOptions | undefined; socket: FakeSocket }[] = [];
  const deno: DenoLike = {
    unrefTimer: () => undefined,
    refTimer: () => undefined,
    version: { deno: '2.9.6' },
    upgradeWebSocket: (request, options) => {
      const socket = new FakeSocket();
      upgrades.push({ request, options, socket });
      return { socket, response: new Response(null, { status: 200 }) };
    },
  };
  return { deno, upgrades };
}

function setup(options: ConstructorParameters<typeof PeerTracker>[0] = {}) {
  const platform = manualPlatform();
  const tracker = new PeerTracker({ scheduler: createScheduler({ platform }), random: () => 0, keepaliveFrame: 'message', ...options });
  const { deno, upgrades } = fakeDeno();
  const upgrade = (extra: Parameters<typeof upgradeWithKeepalive>[1] = {}) => {
    const result = upgradeWithKeepalive(new Request('http://127.0.0.1/'), { tracker, deno, ...extra });
    const socket = upgrades.at(-1)!.socket;
    return { ...result, socket };
  };
  return { platform, tracker, upgrade, upgrades };
}

describe('upgradeWithKeepalive', () => {
  it('upgrades with Deno’s own idle timeout off unless set, and the subprotocol given', () => {
    const { upgrade, upgrades, tracker } = setup();
    const result = upgrade();
    expect(result.tracker).toBe(tracker);
    expect(result.response.status).toBe(200);
    upgrade({ protocol: 'chat', idleTimeout: 30 });
    expect(upgrades.map((u) => u.options)).toEqual([{ idleTimeout: 0 }, { protocol: 'chat', idleTimeout: 30 }]);
  });

  it('refuses a tracker together with peer options, a bad heartbeat message, and a missing Deno', () => {
    const { tracker, deno, upgrades } = { ...setup(), ...fakeDeno() };
    const request = new Request('http://127.0.0.1/');
    expect(() => upgradeWithKeepalive(request, { tracker, pingIntervalMs: 1_000, deno })).toThrow(/either a tracker or peer options \(pingIntervalMs\)/);
    // Refused as in every runtime: a KeepaliveOptionError naming heartbeatMessage (a string of at most 125 UTF-8 bytes), before any upgrade.
    for (const heartbeatMessage of [1 as unknown as string, 'h'.repeat(200)]) {
      expect(() => upgradeWithKeepalive(request, { heartbeatMessage, deno })).toThrow(
        expect.objectContaining({ name: 'KeepaliveOptionError', option: 'heartbeatMessage', expectation: 'a string of at most 125 UTF-8 bytes' }),
      );
      expect(() => upgradeWithKeepalive(request, { tracker, heartbeatMessage, deno })).toThrow(RangeError);
    }
    expect(upgrades).toHaveLength(0);
    expect(() => upgradeWithKeepalive(request)).toThrow(/not running on Deno/);
    vi.stubGlobal('Deno', deno);
    const own = upgradeWithKeepalive(request, { pingIntervalMs: 1_000 });
    expect(own.tracker).not.toBe(tracker);
    expect(own.tracker.config.pingIntervalMs).toBe(1_000);
    expect(own.tracker.config.keepaliveFrame).toBe('message');
  });

  it('refuses a tracker whose peers expect protocol pings (Deno sends heartbeat messages), and peer options asking for them', () => {
    const { deno } = fakeDeno();
    const request = new Request('http://127.0.0.1/');
    const pinging = new PeerTracker({ scheduler: createScheduler({ platform: manualPlatform() }) });
    expect(() => upgradeWithKeepalive(request, { tracker: pinging, deno })).toThrow(/Invalid option tracker: ping \(expected a tracker with keepaliveFrame 'message'/);
    expect(() => upgradeWithKeepalive(request, { keepaliveFrame: 'ping', deno })).toThrow(/Invalid option keepaliveFrame: ping/);
    expect(() => createKeepaliveTracker({ keepaliveFrame: 'ping' })).toThrow(/keepaliveFrame/);
  });

  it('sends the heartbeat message as the keep-alive from open on; an answer is proof of life, silence closes (B5)', () => {
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 100, pongTimeoutMs: 50 });
    const live = upgrade().socket;
    const dead = upgrade().socket;
    platform.advance(10);
    expect(live.sent).toEqual([]);
    live.emit('open');
    dead.emit('open');
    platform.advance(1);
    expect(live.sent).toEqual(['']);
    // The answer to our heartbeat: like a pong, not answered again (the core counts what it owes).
    expect(tracker.stats().tracked).toBe(2);
    live.emit('message', { data: '' });
    platform.advance(60);
    expect(dead.closes).toEqual([{ code: undefined, reason: undefined }]);
    expect(live.closes).toEqual([]);
    expect(live.sent).toEqual(['']);
    platform.advance(45);
    expect(live.sent).toEqual(['', '']);
    live.emit('message', { data: 'any message' });
    platform.advance(100);
    expect(live.closes).toEqual([]);
    expect(tracker.stats()).toMatchObject({ tracked: 1, deadPeers: 1, heartbeatsAnswered: 0 });
  });

  it('answers a client’s own heartbeat in kind, counts malformed ones, and uses the configured message', () => {
    const { upgrade, tracker } = setup({ pingIntervalMs: 10_000 });
    const { socket } = upgrade({ heartbeatMessage: 'hb' });
    socket.emit('message', { data: 'hb' });
    socket.emit('open');
    socket.emit('message', { data: 'hb' });
    socket.emit('message', { data: new ArrayBuffer(0) });
    socket.emit('message', { data: '' });
    expect(socket.sent).toEqual(['hb']);
    expect(tracker.stats()).toMatchObject({ heartbeatsAnswered: 1, malformedHeartbeats: 2 });
  });

  it('B8: closes a client flooding heartbeats with 1008; idle clients with 4000', () => {
    // B13: the idle close must be above minPingIntervalMs, or a client keeping alive as slowly as allowed would be closed.
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 10_000, minPingIntervalMs: 100, maxPingStrikes: 2, idleCloseMs: 500, random: () => 0.5 });
    const flood = upgrade().socket;
    const idle = upgrade().socket;
    flood.emit('open');
    idle.emit('open');
    for (let i = 0; i < 4; i++) {
      flood.emit('message', { data: '' });
      platform.advance(10);
    }
    expect(flood.closes).toEqual([{ code: 1008, reason: 'ping_flood min_interval_ms=100' }]);
    platform.advance(500);
    expect(idle.closes).toEqual([{ code: 4000, reason: 'idle_timeout' }]);
    expect(tracker.stats()).toMatchObject({ floodClosed: 1, idleClosed: 1, tracked: 0 });
  });

  it('forgets the connection on close and removes its listeners; sends nothing into a closing socket', () => {
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 100 });
    const closing = upgrade().socket;
    closing.emit('open');
    closing.readyState = 2;
    platform.advance(150);
    expect(closing.sent).toEqual([]);
    closing.emit('message', { data: '' });
    expect(closing.sent).toEqual([]);
    closing.emit('close');
    expect(tracker.size).toBe(0);
    expect(closing.listenerCount()).toBe(0);
    const never = upgrade().socket;
    never.emit('close');
    expect(tracker.size).toBe(0);
  });

  it('counts a socket that throws instead of letting it escape', () => {
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 100, pongTimeoutMs: 1_000 });
    const socket = upgrade().socket;
    socket.send = () => {
      throw new Error('socket gone');
    };
    socket.emit('open');
    platform.advance(50);
    expect(tracker.stats().handlerErrors).toBe(1);
    const spy = vi.spyOn(tracker.scheduler, 'entry').mockImplementation(() => {
      throw new Error('scheduler failure');
    });
    upgrade().socket.emit('open');
    spy.mockRestore();
    expect(tracker.stats().handlerErrors).toBe(2);
  });
});

describe('createKeepaliveTracker', () => {
  it('makes a tracker on the Deno scheduler unless given one', () => {
    const scheduler = createScheduler({ platform: manualPlatform() });
    expect(createKeepaliveTracker({ scheduler }).scheduler).toBe(scheduler);
    expect(createKeepaliveTracker().config.pingIntervalMs).toBe(30_000);
  });

  it('makes a tracker whose keep-alives are heartbeat messages, counted by the core', () => {
    expect(createKeepaliveTracker().config.keepaliveFrame).toBe('message');
    expect(createKeepaliveTracker({ keepaliveFrame: 'message' }).config.keepaliveFrame).toBe('message');
  });

  it('B13: refuses an idle close not above the minimum ping interval, naming both options', () => {
    expect(() => createKeepaliveTracker({ idleCloseMs: 500, minPingIntervalMs: 1_000 })).toThrow(/idleCloseMs: 500 \(expected a duration above minPingIntervalMs \(1000\)\)/);
    expect(() => upgradeWithKeepalive(new Request('http://127.0.0.1/'), { idleCloseMs: 5_000, deno: fakeDeno().deno })).toThrow(/minPingIntervalMs \(5000\)/);
  });
});

describe('heartbeat messages on both ends (the core decides)', () => {
  it('B5: crossing heartbeats settle each other; a client heartbeat after ours was answered is the client’s own and answered once', () => {
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 100, pongTimeoutMs: 50, minPingIntervalMs: 10 });
    const { socket } = upgrade();
    socket.emit('open');
    platform.advance(1);
    expect(socket.sent).toEqual(['']);
    // The client's own heartbeat crosses ours: the core takes it as the answer, nothing is echoed.
    socket.emit('message', { data: '' });
    expect(socket.sent).toEqual(['']);
    // Nothing owed any more: the next one is the client's own, answered once.
    platform.advance(20);
    socket.emit('message', { data: '' });
    expect(socket.sent).toEqual(['', '']);
    expect(tracker.stats()).toMatchObject({ heartbeatsAnswered: 1, pingsSent: 1, deadPeers: 0 });
  });

  it('B8: answers to our heartbeats are not counted as a flood, however fast the server pings', () => {
    const { platform, upgrade, tracker } = setup({ pingIntervalMs: 20, idlePingIntervalMs: 20, pongTimeoutMs: 10, minPingIntervalMs: 1_000, maxPingStrikes: 0 });
    const { socket } = upgrade();
    socket.emit('open');
    platform.advance(1);
    for (let i = 0; i < 20; i++) {
      // The client answers each heartbeat at once: 20 answers in 400 ms, far faster than minPingIntervalMs.
      socket.emit('message', { data: '' });
      platform.advance(20);
    }
    expect(socket.closes).toEqual([]);
    expect(tracker.stats()).toMatchObject({ floodClosed: 0, deadPeers: 0, heartbeatsAnswered: 0, pingsSent: 21 });
    expect(socket.sent).toHaveLength(21);
  });
});

describe('upgradeWithKeepalive(request, { sessions }) (B14)', () => {
  function resumable(options: ConstructorParameters<typeof PeerTracker>[0] = {}, hub: SessionHubOptions<DenoSessionContext> = {}) {
    const { platform, tracker } = setup({ pingIntervalMs: 100, pongTimeoutMs: 1_000, ...options });
    const { deno, upgrades } = fakeDeno();
    const sessions = createSessionHub<DenoSessionContext>({ scheduler: createScheduler({ platform }), ackDelayMs: 20, ...hub });
    const got: SessionMessage[] = [];
    const opened: ResumableSession[] = [];
    sessions.on('session', ({ session, resumed }) => {
      opened.push(session);
      if (!resumed) session.on('message', (message) => got.push(message));
    });
    const upgrade = (url: string, extra: Parameters<typeof upgradeWithKeepalive>[1] = {}, init?: RequestInit) => {
      const result = upgradeWithKeepalive(new Request(url, init), { tracker, deno, sessions, ...extra });
      return { ...result, socket: upgrades.at(-1)!.socket };
    };
    return { platform, tracker, sessions, upgrade, got, opened };
  }
  const closeEvent = (code?: number): { data?: unknown } => (code === undefined ? {} : ({ code } as { data?: unknown }));
  /** The session id and secret in the `new` hello a socket was sent (wire format v2: `\u0006H2 new <id> <secret>`). */
  const helloOf = (socket: FakeSocket): { id: string; secret: string } => {
    const [, , id = '', secret = ''] = socket.sent.find((frame) => frame.startsWith(`${CONTROL}H2 new `))?.split(' ') ?? [];
    return { id, secret };
  };
  const PROVE = `${CONTROL}H2 prove`;

  it('B14: refuses a sessions option that is not a hub', () => {
    const { deno } = fakeDeno();
    const request = new Request('http://127.0.0.1/?ka=2');
    expect(() => upgradeWithKeepalive(request, { deno, sessions: {} as never })).toThrow(/Invalid option sessions: expected a SessionHub/);
    expect(() => upgradeWithKeepalive(request, { deno, sessions: 5 as never })).toThrow(TypeError);
    expect(() => upgradeWithKeepalive(request, { deno, sessions: null as never })).toThrow(TypeError);
  });

  it('B14: resumable only with a hub and ka in the URL; a resumable socket reads binary as ArrayBuffer', () => {
    const { upgrade } = resumable();
    const asked = upgrade('http://127.0.0.1/ws?ka=2');
    expect(asked.resumable).toBe(true);
    expect((asked.socket as DenoWebSocketLike).binaryType).toBe('arraybuffer');
    const plain = upgrade('http://127.0.0.1/ws?room=1');
    expect(plain.resumable).toBe(false);
    expect((plain.socket as DenoWebSocketLike).binaryType).toBeUndefined();
    expect(upgrade('http://127.0.0.1/ws?ka=2', { sessions: undefined }).resumable).toBe(false);
  });

  it('B14: the hello goes out when the socket opens; the client’s messages go to the session; the session’s sends to the socket', () => {
    const { upgrade, got, opened } = resumable();
    const socket = upgrade('http://127.0.0.1/ws?ka=2').socket;
    expect(socket.sent).toEqual([]);
    expect(opened).toEqual([]);
    socket.emit('open');
    expect(socket.sent).toHaveLength(1);
    // A new session's hello carries its id and its secret (B17).
    expect(socket.sent[0]).toMatch(new RegExp(`^${CONTROL}H2 new [A-Za-z0-9_-]{22} [A-Za-z0-9_-]{22}$`));
    socket.emit('message', { data: `${CONTROL}a0` });
    socket.emit('message', { data: 'hello' });
    socket.emit('message', { data: new Uint8Array([1, 2]).buffer });
    socket.emit('message', { data: `${CONTROL}${CONTROL}escaped` });
    expect(got).toEqual(['hello', new Uint8Array([1, 2]).buffer, `${CONTROL}escaped`]);
    expect(opened[0]?.send('out')).toBe('sent');
    expect(socket.sent.at(-1)).toBe('out');
  });

  it('B14: the keep-alive is the hub heartbeat, carrying the acknowledgement; an answer is not echoed; the client’s own is answered in kind', () => {
    const { platform, upgrade, tracker } = resumable({ minPingIntervalMs: 10 });
    const socket = upgrade('http://127.0.0.1/ws?ka=2').socket;
    socket.emit('open');
    socket.emit('message', { data: `${CONTROL}a0` });
    socket.emit('message', { data: 'one' });
    platform.advance(1);
    expect(socket.sent.slice(1)).toEqual([`${CONTROL}A1`]);
    // The answer to ours: settles it, not answered again.
    socket.emit('message', { data: `${CONTROL}A0` });
    expect(socket.sent).toHaveLength(2);
    // Nothing owed now: the client's own heartbeat is answered with the hub's.
    platform.advance(20);
    socket.emit('message', { data: 'two' });
    socket.emit('message', { data: `${CONTROL}A0` });
    expect(socket.sent.at(-1)).toBe(`${CONTROL}A2`);
    expect(tracker.stats()).toMatchObject({ heartbeatsAnswered: 1, deadPeers: 0, handlerErrors: 0 });
    // A standalone acknowledgement is proof of life too; nothing is sent into a closing socket.
    socket.readyState = 2;
    platform.advance(100);
    expect(socket.sent.at(-1)).toBe(`${CONTROL}A2`);
  });

  it('B14, B17: a cut connection leaves the session to be resumed by a client proving its secret (a close without a code counts as 1006); a close with 1000 ends it', () => {
    const { upgrade, sessions, got, opened } = resumable();
    const first = upgrade('http://127.0.0.1/ws?ka=2').socket;
    first.emit('open');
    first.emit('message', { data: `${CONTROL}a0` });
    first.emit('message', { data: 'm1' });
    first.emit('close', closeEvent());
    expect(first.listenerCount()).toBe(0);
    expect(sessions.size).toBe(1);
    expect(opened[0]?.connected).toBe(false);
    const { id, secret } = helloOf(first);
    const again = upgrade(`http://127.0.0.1/ws?ka=2&ka_s=${id}`).socket;
    again.emit('open');
    // A client that names a session is challenged first: nothing about the session changes before its proof.
    expect(again.sent).toEqual([PROVE]);
    expect(opened).toHaveLength(1);
    // Before the hello, its plain heartbeat is answered plainly.
    again.emit('message', { data: '' });
    expect(again.sent).toEqual([PROVE, '']);
    again.emit('message', { data: `${CONTROL}P${secret} 0` });
    expect(again.sent.slice(2)).toEqual([`${CONTROL}H2 resumed ${id} 1`]);
    expect(opened).toHaveLength(2);
    again.emit('message', { data: `${CONTROL}a0` });
    again.emit('message', { data: 'm2' });
    expect(got).toEqual(['m1', 'm2']);
    again.emit('close', closeEvent(1000));
    expect(sessions.size).toBe(0);
    expect(opened[1]?.ended).toBe(true);
  });

  it('B14, B17: a request this version cannot read, or a v1 one, is closed with 1002; one after the hub closed with 1001; their frames reach no session', () => {
    const { upgrade, sessions, got } = resumable();
    const refused: string[] = [];
    sessions.on('refused', ({ reason, code, context }) => refused.push(`${reason}:${code}:${new URL(context.request.url).search}`));
    const invalid = upgrade('http://127.0.0.1/ws?ka=3').socket;
    invalid.emit('open');
    expect(invalid.closes).toEqual([{ code: 1002, reason: 'invalid resume request' }]);
    invalid.emit('message', { data: 'late' });
    const legacy = upgrade('http://127.0.0.1/ws?ka=1&ka_s=abc&ka_d=0');
    expect(legacy.resumable).toBe(true);
    legacy.socket.emit('open');
    expect(legacy.socket.closes).toEqual([{ code: 1002, reason: LEGACY_REFUSAL_REASON }]);
    expect(legacy.socket.sent).toEqual([]);
    legacy.socket.emit('message', { data: 'late' });
    expect(refused).toEqual(['invalid:1002:?ka=3', 'legacy:1002:?ka=1&ka_s=abc&ka_d=0']);
    sessions.close();
    const late = upgrade('http://127.0.0.1/ws?ka=2');
    expect(late.resumable).toBe(true);
    late.socket.emit('open');
    expect(late.socket.closes).toEqual([{ code: 1001, reason: 'going away' }]);
    late.socket.emit('message', { data: 'late' });
    expect(got).toEqual([]);
    expect(sessions.stats().invalidRequests).toBe(2);
  });

  it('B17: a wrong proof is closed with 4403 and a missing one with 4408; the owner’s connection and session are untouched', () => {
    const { platform, upgrade, sessions, tracker, got, opened } = resumable({}, { handshakeTimeoutMs: 500 });
    const refused: string[] = [];
    sessions.on('refused', ({ reason, code }) => refused.push(`${reason}:${code}`));
    const owner = upgrade('http://127.0.0.1/ws?ka=2').socket;
    owner.emit('open');
    owner.emit('message', { data: `${CONTROL}a0` });
    owner.emit('message', { data: 'm1' });
    const { id } = helloOf(owner);
    // The owner's URL, replayed: the id alone resumes nothing.
    const guessers = [0, 1, 7].map((n) => {
      const guesser = upgrade(`http://127.0.0.1/ws?ka=2&ka_s=${id}`).socket;
      guesser.emit('open');
      guesser.emit('message', { data: `${CONTROL}P${'x'.repeat(22)} ${n}` });
      return guesser;
    });
    for (const guesser of guessers) {
      expect(guesser.sent).toEqual([PROVE]);
      expect(guesser.closes).toEqual([{ code: 4403, reason: 'resume refused' }]);
    }
    const silent = upgrade(`http://127.0.0.1/ws?ka=2&ka_s=${id}`).socket;
    silent.emit('open');
    expect(opened[0]?.send('s1')).toBe('sent');
    platform.advance(499);
    // Nothing but the challenge and the plain keep-alive (the empty text frame): no frame of the owner's session.
    expect(silent.sent.filter((frame) => frame !== '')).toEqual([PROVE]);
    expect(silent.closes).toEqual([]);
    platform.advance(1);
    expect(silent.closes).toEqual([{ code: 4408, reason: 'handshake timeout' }]);
    // The owner kept its connection and got what was sent meanwhile; its messages still arrive.
    expect(opened).toHaveLength(1);
    expect(opened[0]?.connected).toBe(true);
    expect(owner.closes).toEqual([]);
    expect(owner.sent).toContain('s1');
    owner.emit('message', { data: 'm2' });
    expect(got).toEqual(['m1', 'm2']);
    expect(refused).toEqual(['proof:4403', 'proof:4403', 'proof:4403', 'timeout:4408']);
    expect(sessions.stats()).toMatchObject({ wrongProofs: 3, handshakeTimeouts: 1, resumed: 0, connected: 1 });
    expect(tracker.stats().handlerErrors).toBe(0);
  });

  it('B17: the admit hook is typed with the Deno context and asked before anything changes; a refusal leaves the owner untouched, an admitted proof takes the session over (4001)', () => {
    const asked: string[] = [];
    const { upgrade, sessions, got, opened } = resumable(
      {},
      {
        // Typed by the hub's options (createSessionHub<DenoSessionContext>): `context` is a DenoSessionContext.
        admit: ({ kind, session, context }) => {
          const user = context.request.headers.get('x-user') ?? 'nobody';
          asked.push(`${kind}:${user}:${session === null ? 'none' : 'held'}`);
          return kind === 'resume' && user !== 'alice' ? { code: 4403, reason: 'not yours' } : true;
        },
      },
    );
    const as = (user: string): RequestInit => ({ headers: { 'x-user': user } });
    const owner = upgrade('http://127.0.0.1/ws?ka=2', {}, as('alice')).socket;
    owner.emit('open');
    owner.emit('message', { data: `${CONTROL}a0` });
    owner.emit('message', { data: 'm1' });
    const { id, secret } = helloOf(owner);
    // Even the right secret does not get past the application.
    const thief = upgrade(`http://127.0.0.1/ws?ka=2&ka_s=${id}`, {}, as('mallory')).socket;
    thief.emit('open');
    thief.emit('message', { data: `${CONTROL}P${secret} 1` });
    expect(thief.sent).toEqual([PROVE]);
    expect(thief.closes).toEqual([{ code: 4403, reason: 'not yours' }]);
    thief.emit('message', { data: 'stolen' });
    expect(opened).toHaveLength(1);
    expect(opened[0]?.connected).toBe(true);
    owner.emit('message', { data: 'm2' });
    expect(got).toEqual(['m1', 'm2']);
    // The owner's own new connection (a half-open old one) is admitted: the old one is closed with 4001.
    const back = upgrade(`http://127.0.0.1/ws?ka=2&ka_s=${id}`, {}, as('alice')).socket;
    back.emit('open');
    back.emit('message', { data: `${CONTROL}P${secret} 0` });
    expect(back.sent).toEqual([PROVE, `${CONTROL}H2 resumed ${id} 2`]);
    expect(owner.closes).toEqual([{ code: 4001, reason: 'resumed elsewhere' }]);
    expect(opened).toEqual([opened[0], opened[0]]);
    expect(asked).toEqual(['new:alice:none', 'resume:mallory:held', 'resume:alice:held']);
    expect(sessions.stats()).toMatchObject({ refusedAdmissions: 1, replaced: 1, resumed: 1 });
  });

  it('B17: with an asynchronous admit hook the hello comes when it answers; meanwhile the keep-alive is the plain heartbeat, and its answer settles it', async () => {
    let answer: (verdict: AdmissionVerdict) => void = () => undefined;
    const { platform, upgrade, tracker, opened, got } = resumable(
      { minPingIntervalMs: 10 },
      { admit: () => new Promise<AdmissionVerdict>((resolve) => (answer = resolve)) },
    );
    const socket = upgrade('http://127.0.0.1/ws?ka=2').socket;
    socket.emit('open');
    expect(socket.sent).toEqual([]);
    platform.advance(1);
    // The client reads nothing but a hello as a control frame yet: the keep-alive is the plain heartbeat.
    expect(socket.sent).toEqual(['']);
    socket.emit('message', { data: '' });
    expect(socket.sent).toEqual(['']);
    answer(true);
    await Promise.resolve();
    await Promise.resolve();
    expect(socket.sent.at(-1)).toMatch(new RegExp(`^${CONTROL}H2 new [A-Za-z0-9_-]{22} [A-Za-z0-9_-]{22}$`));
    expect(opened).toHaveLength(1);
    socket.emit('message', { data: `${CONTROL}a0` });
    socket.emit('message', { data: 'after' });
    expect(got).toEqual(['after']);
    // After the hello, the keep-alive is the hub's heartbeat.
    platform.advance(100);
    expect(socket.sent.at(-1)).toBe(`${CONTROL}A1`);
    expect(tracker.stats()).toMatchObject({ heartbeatsAnswered: 0, deadPeers: 0, handlerErrors: 0 });
  });

  it('B14: plain clients beside resuming ones are untouched: no hello, the plain heartbeat as keep-alive', () => {
    const { platform, upgrade, opened } = resumable();
    const socket = upgrade('http://127.0.0.1/ws').socket;
    socket.emit('open');
    platform.advance(1);
    expect(socket.sent).toEqual(['']);
    expect(opened).toEqual([]);
  });
});
