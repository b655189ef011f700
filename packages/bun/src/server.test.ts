import { describe, expect, it, vi } from 'vitest';
import { KeepaliveOptionError, type Diagnostic } from '@keepalive/core';
import { manualPlatform } from 'keepalive-test-support';
import { LEGACY_REFUSAL_REASON, type AdmissionVerdict, type ResumableSession, type SessionMessage } from '@keepalive/websocket-transport/peer';
import { createScheduler } from './platform.js';
import { BUN_SERVER_DIAGNOSTICS, withKeepalive, type BunServerWebSocketLike, type BunWebSocketHandlerLike } from './server.js';

/**
 * Unit tests of the Bun.serve wrapper with socket doubles on a manual clock (the real Bun runs in
 * server.resume.test.ts and keepalive-conformance).
 */

const CONTROL = '\u0006';

class ServerSocket implements BunServerWebSocketLike {
  readonly log: string[] = [];
  constructor(readonly data?: unknown) {}
  ping(data?: string): number {
    this.log.push(data === undefined ? 'ping' : `ping:${data}`);
    return 0;
  }
  send(data: string | ArrayBuffer | ArrayBufferView): number {
    this.log.push(typeof data === 'string' ? `send:${JSON.stringify(data)}` : `send:binary:${data.byteLength}`);
    return 1;
  }
  close(code?: number, reason?: string): void {
    this.log.push(`close:${String(code)}:${String(reason)}`);
  }
  terminate(): void {
    this.log.push('terminate');
  }
}

function setup(options: Parameters<typeof withKeepalive>[1] = {}, handler: Partial<BunWebSocketHandlerLike> = {}) {
  const platform = manualPlatform();
  const calls: string[] = [];
  const user: BunWebSocketHandlerLike = {
    message: (_ws, message) => {
      calls.push(`message:${typeof message === 'string' ? JSON.stringify(message) : 'binary'}`);
      return 'message-result';
    },
    open: () => calls.push('open'),
    close: (_ws, code, reason) => calls.push(`close:${code}:${reason}`),
    ping: () => calls.push('ping'),
    pong: () => calls.push('pong'),
    ...handler,
  };
  const websocket = withKeepalive(user, { scheduler: createScheduler({ platform }), random: () => 0, ...options });
  return { platform, calls, websocket };
}

describe('withKeepalive', () => {
  it('keeps the handler and its settings, turning Bun’s own idle timeout and pings off unless set', () => {
    const { websocket } = setup();
    expect(websocket.idleTimeout).toBe(0);
    expect(websocket.sendPings).toBe(false);
    const custom = withKeepalive({ message: () => undefined, idleTimeout: 60, sendPings: true, maxPayloadLength: 1024 });
    expect(custom).toMatchObject({ idleTimeout: 60, sendPings: true, maxPayloadLength: 1024 });
    custom.keepalive.close();
  });

  it('refuses what is not a handler (TypeError), and bad options (KeepaliveOptionError naming the option)', () => {
    expect(() => withKeepalive(null as unknown as BunWebSocketHandlerLike)).toThrow(/message\(\) function/);
    expect(() => withKeepalive({} as BunWebSocketHandlerLike)).toThrow(/message\(\) function/);
    expect(() => withKeepalive(null as unknown as BunWebSocketHandlerLike)).toThrow(TypeError);
    const heartbeat = () => withKeepalive({ message: () => undefined }, { heartbeatMessage: 1 as unknown as string });
    expect(heartbeat).toThrow(KeepaliveOptionError);
    expect(heartbeat).toThrow('Invalid option heartbeatMessage: 1 (expected a string of at most 125 UTF-8 bytes)');
    // Over the core's limit, resume on or off: refused under the name the user wrote, as in every runtime.
    for (const resume of [undefined, true]) {
      expect(() => withKeepalive({ message: () => undefined }, { heartbeatMessage: 'h'.repeat(200), resume })).toThrow(
        expect.objectContaining({ name: 'KeepaliveOptionError', option: 'heartbeatMessage', expectation: 'a string of at most 125 UTF-8 bytes' }),
      );
    }
    const interval = () => withKeepalive({ message: () => undefined }, { pingIntervalMs: -1 });
    expect(interval).toThrow(KeepaliveOptionError);
    expect(interval).toThrow(/^Invalid option pingIntervalMs: -1 \(expected/);
    expect(() => withKeepalive({ message: () => undefined }, { pingIntervalMS: 1_000 } as never)).toThrow(/Invalid option pingIntervalMS: 1000/);
  });

  it('B5: pings each open socket with ws.ping(); a pong is proof of life; no pong terminates it', () => {
    const { platform, calls, websocket } = setup({ pingIntervalMs: 100, pongTimeoutMs: 50 });
    const live = new ServerSocket();
    const dead = new ServerSocket();
    websocket.open?.(live);
    websocket.open?.(dead);
    expect(calls).toEqual(['open', 'open']);
    expect(websocket.keepalive.size).toBe(2);
    platform.advance(1);
    expect(live.log).toEqual(['ping']);
    websocket.pong?.(live, new Uint8Array());
    expect(calls).toContain('pong');
    platform.advance(60);
    expect(dead.log).toEqual(['ping', 'terminate']);
    expect(live.log).toEqual(['ping']);
    platform.advance(45);
    expect(live.log).toEqual(['ping', 'ping']);
    websocket.message(live, 'any message is proof of life too');
    platform.advance(100);
    expect(live.log).toEqual(['ping', 'ping', 'ping']);
    expect(websocket.keepalive.stats()).toMatchObject({ tracked: 1, deadPeers: 1, pingsSent: 4 });
  });

  it('falls back to close() where a socket has no terminate()', () => {
    const { platform, websocket } = setup({ pingIntervalMs: 100, pongTimeoutMs: 50 });
    const log: string[] = [];
    const socket: BunServerWebSocketLike = {
      ping: () => log.push('ping'),
      send: () => log.push('send'),
      close: (code?: number) => log.push(`close:${String(code)}`),
    };
    websocket.open?.(socket);
    platform.advance(60);
    expect(log).toEqual(['ping', 'close:undefined']);
  });

  it('answers heartbeat messages in kind, counts malformed ones, passes every message on', () => {
    const { calls, websocket } = setup();
    const socket = new ServerSocket();
    websocket.open?.(socket);
    expect(websocket.message(socket, '')).toBe('message-result');
    expect(socket.log).toEqual(['send:""']);
    websocket.message(socket, new Uint8Array(0));
    websocket.message(socket, 'hello');
    expect(calls).toEqual(['open', 'message:""', 'message:binary', 'message:"hello"']);
    expect(websocket.keepalive.stats()).toMatchObject({ heartbeatsAnswered: 1, malformedHeartbeats: 1 });
  });

  it('uses the configured heartbeat message', () => {
    const { websocket } = setup({ heartbeatMessage: 'hb' });
    const socket = new ServerSocket();
    websocket.open?.(socket);
    websocket.message(socket, 'hb');
    websocket.message(socket, '');
    expect(socket.log).toEqual(['send:"hb"']);
  });

  it('B8: closes a client that pings too often with 1008', () => {
    const { platform, websocket } = setup({ minPingIntervalMs: 1_000, maxPingStrikes: 2 });
    const socket = new ServerSocket();
    websocket.open?.(socket);
    for (let i = 0; i < 4; i++) {
      websocket.ping?.(socket, new Uint8Array());
      platform.advance(10);
    }
    expect(socket.log).toContain('close:1008:ping_flood min_interval_ms=1000');
    expect(websocket.keepalive.stats()).toMatchObject({ floodClosed: 1, tracked: 0 });
  });

  it('closes connections silent for idleCloseMs with 4000', () => {
    const { platform, websocket } = setup({ idleCloseMs: 500, pingIntervalMs: 10_000, minPingIntervalMs: 100, random: () => 0.5 });
    const socket = new ServerSocket();
    websocket.open?.(socket);
    platform.advance(300);
    websocket.message(socket, 'still here');
    platform.advance(300);
    expect(socket.log).toEqual([]);
    platform.advance(300);
    expect(socket.log).toEqual(['close:4000:idle_timeout']);
    expect(websocket.keepalive.stats().idleClosed).toBe(1);
  });

  it('forgets a socket on close, then calls the user’s close', () => {
    const { platform, calls, websocket } = setup({ pingIntervalMs: 100 });
    const socket = new ServerSocket();
    websocket.open?.(socket);
    websocket.close?.(socket, 1000, 'bye');
    expect(calls).toEqual(['open', 'close:1000:bye']);
    expect(websocket.keepalive.size).toBe(0);
    platform.advance(500);
    expect(socket.log).toEqual([]);
    // Events of an unknown socket only pass through.
    websocket.pong?.(socket, new Uint8Array());
    websocket.close?.(socket, 1000, 'again');
    expect(platform.pending).toBe(0);
  });

  it('works without the optional user handlers', () => {
    const { websocket } = setup({}, { open: undefined, close: undefined, ping: undefined, pong: undefined } as unknown as Partial<BunWebSocketHandlerLike>);
    const socket = new ServerSocket();
    expect(websocket.open?.(socket)).toBeUndefined();
    expect(websocket.ping?.(socket, new Uint8Array())).toBeUndefined();
    expect(websocket.pong?.(socket, new Uint8Array())).toBeUndefined();
    expect(websocket.close?.(socket, 1000, '')).toBeUndefined();
  });

  it('close() and dispose stop tracking every socket; later sockets are not tracked', () => {
    const { platform, websocket } = setup({ pingIntervalMs: 100 });
    const socket = new ServerSocket();
    websocket.open?.(socket);
    websocket.keepalive[Symbol.dispose]();
    websocket.keepalive.close();
    expect(websocket.keepalive.size).toBe(0);
    websocket.open?.(new ServerSocket());
    expect(websocket.keepalive.size).toBe(0);
    platform.advance(500);
    expect(socket.log).toEqual([]);
    expect(websocket.keepalive.tracker.stats().tracked).toBe(0);
  });

  it('counts a socket that throws instead of letting it escape, and still calls the user', () => {
    const { platform, calls, websocket } = setup({ pingIntervalMs: 100, pongTimeoutMs: 1_000 });
    const socket = new ServerSocket();
    socket.ping = () => {
      throw new Error('socket gone');
    };
    websocket.open?.(socket);
    platform.advance(50);
    const opened = new ServerSocket();
    const spy = vi.spyOn(websocket.keepalive.tracker.scheduler, 'entry').mockImplementation(() => {
      throw new Error('scheduler failure');
    });
    websocket.open?.(opened);
    spy.mockRestore();
    expect(calls).toEqual(['open', 'open']);
    expect(websocket.keepalive.stats().handlerErrors).toBe(2);
  });
});

describe('withKeepalive(handler, { resume }) (B14)', () => {
  function resumable(resume: Parameters<typeof withKeepalive>[1] = {}, handler: Partial<BunWebSocketHandlerLike> = {}) {
    const diagnostics: Diagnostic[] = [];
    const { platform, calls, websocket } = setup({ pingIntervalMs: 100, pongTimeoutMs: 1_000, onDiagnostic: (d) => diagnostics.push(d), resume: { ackDelayMs: 20 }, ...resume }, handler);
    const sessions = websocket.keepalive.sessions;
    if (sessions === null) throw new Error('expected the hub');
    const got: SessionMessage[] = [];
    const opened: ResumableSession[] = [];
    sessions.on('session', ({ session, resumed }) => {
      opened.push(session);
      if (!resumed) session.on('message', (message) => got.push(message));
    });
    return { platform, calls, websocket, sessions, diagnostics, got, opened };
  }
  /** The texts a socket was sent. */
  const textsOf = (socket: ServerSocket): string[] => socket.log.filter((entry) => entry.startsWith('send:"')).map((entry) => JSON.parse(entry.slice('send:'.length)) as string);
  /** The session id and secret in the `new` hello a socket was sent (wire format v2: `\u0006H2 new <id> <secret>`). */
  const helloOf = (socket: ServerSocket): { id: string; secret: string } => {
    const [, , id = '', secret = ''] = textsOf(socket).find((text) => text.startsWith(`${CONTROL}H2 new `))?.split(' ') ?? [];
    return { id, secret };
  };
  const sent = (text: string): string => `send:${JSON.stringify(text)}`;
  const PROVE = `${CONTROL}H2 prove`;

  it('B14: is off by default (sessions null); true or options turn it on; bad options throw KeepaliveOptionError naming resume.<option>', () => {
    expect(setup().websocket.keepalive.sessions).toBeNull();
    expect(setup({ resume: false }).websocket.keepalive.sessions).toBeNull();
    const on = setup({ resume: true }).websocket.keepalive.sessions;
    expect(on?.config.sessionTtlMs).toBe(120_000);
    expect(setup({ resume: { sessionTtlMs: 5_000 } }).websocket.keepalive.sessions?.config.sessionTtlMs).toBe(5_000);
    const named = (make: () => unknown): KeepaliveOptionError => {
      try {
        make();
      } catch (error) {
        expect(error).toBeInstanceOf(KeepaliveOptionError);
        return error as KeepaliveOptionError;
      }
      throw new Error('expected a KeepaliveOptionError');
    };
    const handler = { message: () => undefined };
    expect(named(() => withKeepalive(handler, { resume: 5 as never }))).toMatchObject({ option: 'resume', value: 5 });
    expect(named(() => withKeepalive(handler, { resume: null as never }))).toMatchObject({ option: 'resume', value: null });
    expect(named(() => withKeepalive(handler, { resume: [] as never }))).toMatchObject({ option: 'resume' });
    expect(named(() => withKeepalive(handler, { resume: { sessionTtlMs: -1 } }))).toMatchObject({ option: 'resume.sessionTtlMs', value: -1 });
    expect(named(() => withKeepalive(handler, { resume: { maxSessions: 0 } }))).toMatchObject({ option: 'resume.maxSessions', value: 0 });
    expect(named(() => withKeepalive(handler, { resume: { ttl: 1 } as never }))).toMatchObject({ option: 'resume.ttl', value: 1 });
  });

  it('B14: a client asking with ka=2 in data.url gets the hello in open, before the app’s open; its messages go to the session, not the app', () => {
    const order: string[] = [];
    const written = (ws: BunServerWebSocketLike): number => (ws instanceof ServerSocket ? ws.log.length : -1);
    const { calls, websocket, got, opened } = resumable({}, { open: (ws) => order.push(`app-open:${written(ws)}`) });
    const socket = new ServerSocket({ url: 'http://127.0.0.1:3000/ws?ka=2' });
    websocket.open?.(socket);
    expect(order).toEqual(['app-open:1']);
    // A new session's hello carries its id and its secret (B17).
    expect(socket.log[0]).toMatch(/^send:"\\u0006H2 new [A-Za-z0-9_-]{22} [A-Za-z0-9_-]{22}"$/);
    expect(opened).toHaveLength(1);
    expect(websocket.message(socket, `${CONTROL}a0`)).toBeUndefined();
    websocket.message(socket, 'hello');
    websocket.message(socket, new Uint8Array([1, 2]));
    websocket.message(socket, `${CONTROL}${CONTROL}escaped`);
    expect(got).toEqual(['hello', new Uint8Array([1, 2]), `${CONTROL}escaped`]);
    expect(calls).toEqual([]);
    // The session's sends go out on the socket, binary included.
    expect(opened[0]?.send('out')).toBe('sent');
    expect(opened[0]?.send(new Uint8Array([9]))).toBe('sent');
    expect(socket.log.slice(-2)).toEqual(['send:"out"', 'send:binary:1']);
    expect(websocket.keepalive.stats().handlerErrors).toBe(0);
  });

  it('B14: reads the URL as a string, a relative path or a URL object; the app’s own data fields are left alone', () => {
    const { websocket, opened } = resumable();
    for (const url of ['http://127.0.0.1/ws?ka=2', '/ws?ka=2&room=2', new URL('http://127.0.0.1/?ka=2')]) {
      const socket = new ServerSocket({ url, user: 'someone' });
      websocket.open?.(socket);
      expect(socket.log[0]).toMatch(/^send:"\\u0006H2 new /);
    }
    expect(opened).toHaveLength(3);
  });

  it('B14: pings carry the owed ack to clients that read them (ka_p=1); a client ping acknowledges; a client heartbeat is answered with the hub’s', () => {
    const { platform, websocket, opened } = resumable();
    const socket = new ServerSocket({ url: '/?ka=2&ka_p=1' });
    websocket.open?.(socket);
    websocket.message(socket, `${CONTROL}a0`);
    websocket.message(socket, 'one');
    platform.advance(10);
    expect(socket.log.at(-1)).toBe('ping:1');
    const session = opened[0];
    session?.send('s1');
    expect(session?.unackedMessages).toBe(1);
    websocket.ping?.(socket, new TextEncoder().encode('1'));
    expect(session?.unackedMessages).toBe(0);
    websocket.message(socket, `${CONTROL}A1`);
    expect(socket.log.at(-1)).toBe(`send:${JSON.stringify(`${CONTROL}A1`)}`);
    // Without ka_p the pings carry nothing.
    const quiet = new ServerSocket({ url: '/?ka=2' });
    websocket.open?.(quiet);
    websocket.message(quiet, 'x');
    platform.advance(100);
    expect(quiet.log).toContain('ping');
    expect(websocket.keepalive.stats()).toMatchObject({ heartbeatsAnswered: 1, handlerErrors: 0 });
  });

  it('B14, B17: a cut connection leaves the session to be resumed by a client proving its secret; a close with 1000 ends it; the app’s close still runs', () => {
    const { calls, websocket, sessions, got, opened } = resumable();
    const first = new ServerSocket({ url: '/?ka=2' });
    websocket.open?.(first);
    websocket.message(first, `${CONTROL}a0`);
    websocket.message(first, 'm1');
    websocket.close?.(first, 1006, '');
    expect(calls).toEqual(['open', 'close:1006:']);
    expect(sessions.size).toBe(1);
    expect(opened[0]?.connected).toBe(false);
    const { id, secret } = helloOf(first);
    const again = new ServerSocket({ url: `/?ka=2&ka_s=${id}` });
    websocket.open?.(again);
    // A client that names a session is challenged first: nothing about the session changes before its proof.
    expect(again.log).toEqual([sent(PROVE)]);
    expect(opened).toHaveLength(1);
    // Before the hello its plain heartbeat is answered plainly.
    websocket.message(again, '');
    expect(again.log).toEqual([sent(PROVE), sent('')]);
    websocket.message(again, `${CONTROL}P${secret} 0`);
    expect(again.log.slice(2)).toEqual([sent(`${CONTROL}H2 resumed ${id} 1`)]);
    expect(opened).toHaveLength(2);
    // A retransmitted m1 is dropped; m2 is new.
    websocket.message(again, `${CONTROL}a0`);
    websocket.message(again, 'm2');
    expect(got).toEqual(['m1', 'm2']);
    websocket.close?.(again, 1000, 'bye');
    expect(sessions.size).toBe(0);
    expect(opened[1]?.ended).toBe(true);
  });

  it('B17: a wrong proof is closed with 4403 and a missing one with 4408; the owner’s connection and session are untouched', () => {
    const { platform, websocket, sessions, got, opened } = resumable({ resume: { ackDelayMs: 20, handshakeTimeoutMs: 500 } });
    const refused: string[] = [];
    sessions.on('refused', ({ reason, code }) => refused.push(`${reason}:${code}`));
    const owner = new ServerSocket({ url: '/?ka=2' });
    websocket.open?.(owner);
    websocket.message(owner, `${CONTROL}a0`);
    websocket.message(owner, 'm1');
    const { id } = helloOf(owner);
    // The owner's URL, replayed: the id alone resumes nothing.
    const guessers = [0, 1, 7].map((n) => {
      const guesser = new ServerSocket({ url: `/?ka=2&ka_s=${id}` });
      websocket.open?.(guesser);
      expect(websocket.message(guesser, `${CONTROL}P${'x'.repeat(22)} ${n}`)).toBeUndefined();
      return guesser;
    });
    for (const guesser of guessers) expect(guesser.log).toEqual([sent(PROVE), 'close:4403:resume refused']);
    const silent = new ServerSocket({ url: `/?ka=2&ka_s=${id}` });
    websocket.open?.(silent);
    expect(opened[0]?.send('s1')).toBe('sent');
    platform.advance(499);
    // Nothing but the challenge (and the keep-alive's empty protocol pings): no frame of the owner's session.
    expect(silent.log.filter((entry) => entry !== 'ping')).toEqual([sent(PROVE)]);
    platform.advance(1);
    expect(silent.log.filter((entry) => entry !== 'ping')).toEqual([sent(PROVE), 'close:4408:handshake timeout']);
    // The owner kept its connection and got what was sent meanwhile; its messages still arrive.
    expect(opened).toHaveLength(1);
    expect(opened[0]?.connected).toBe(true);
    expect(owner.log.filter((entry) => entry.startsWith('close'))).toEqual([]);
    expect(owner.log).toContain(sent('s1'));
    websocket.message(owner, 'm2');
    expect(got).toEqual(['m1', 'm2']);
    expect(refused).toEqual(['proof:4403', 'proof:4403', 'proof:4403', 'timeout:4408']);
    expect(sessions.stats()).toMatchObject({ wrongProofs: 3, handshakeTimeouts: 1, resumed: 0, connected: 1 });
    expect(websocket.keepalive.stats().handlerErrors).toBe(0);
  });

  it('B17: the admit hook is typed with the Bun context and asked before anything changes; a refusal leaves the owner untouched, an admitted proof takes the session over (4001)', () => {
    const asked: string[] = [];
    const { websocket, sessions, got, opened } = resumable({
      resume: {
        ackDelayMs: 20,
        // Typed by withKeepalive's `resume` option: `context` is a BunSessionContext, no annotation needed.
        admit: ({ kind, session, context }) => {
          const user = (context.ws.data as { readonly user?: string }).user ?? 'nobody';
          asked.push(`${kind}:${user}:${session === null ? 'none' : 'held'}`);
          return kind === 'resume' && user !== 'alice' ? { code: 4403, reason: 'not yours' } : true;
        },
      },
    });
    const owner = new ServerSocket({ url: '/?ka=2', user: 'alice' });
    websocket.open?.(owner);
    websocket.message(owner, `${CONTROL}a0`);
    websocket.message(owner, 'm1');
    const { id, secret } = helloOf(owner);
    // Even the right secret does not get past the application.
    const thief = new ServerSocket({ url: `/?ka=2&ka_s=${id}`, user: 'mallory' });
    websocket.open?.(thief);
    websocket.message(thief, `${CONTROL}P${secret} 1`);
    expect(thief.log).toEqual([sent(PROVE), 'close:4403:not yours']);
    websocket.message(thief, 'stolen');
    expect(opened).toHaveLength(1);
    expect(opened[0]?.connected).toBe(true);
    websocket.message(owner, 'm2');
    expect(got).toEqual(['m1', 'm2']);
    // The owner's own new connection (a half-open old one) is admitted: the old one is closed with 4001.
    const back = new ServerSocket({ url: `/?ka=2&ka_s=${id}`, user: 'alice' });
    websocket.open?.(back);
    websocket.message(back, `${CONTROL}P${secret} 0`);
    expect(textsOf(back)).toEqual([PROVE, `${CONTROL}H2 resumed ${id} 2`]);
    expect(owner.log.at(-1)).toBe('close:4001:resumed elsewhere');
    expect(opened).toEqual([opened[0], opened[0]]);
    expect(asked).toEqual(['new:alice:none', 'resume:mallory:held', 'resume:alice:held']);
    expect(sessions.stats()).toMatchObject({ refusedAdmissions: 1, replaced: 1, resumed: 1 });
  });

  it('B17: with an asynchronous admit hook the hello comes when it answers; meanwhile the plain heartbeat is answered plainly and pings carry nothing', async () => {
    let answer: (verdict: AdmissionVerdict) => void = () => undefined;
    const { platform, websocket, opened, got } = resumable({
      resume: { ackDelayMs: 20, admit: () => new Promise<AdmissionVerdict>((resolve) => (answer = resolve)) },
    });
    const socket = new ServerSocket({ url: '/?ka=2&ka_p=1' });
    websocket.open?.(socket);
    expect(socket.log).toEqual([]);
    websocket.message(socket, '');
    platform.advance(100);
    expect(socket.log).toEqual([sent(''), 'ping']);
    answer(true);
    await Promise.resolve();
    await Promise.resolve();
    expect(textsOf(socket).at(-1)).toMatch(new RegExp(`^${CONTROL}H2 new [A-Za-z0-9_-]{22} [A-Za-z0-9_-]{22}$`));
    expect(opened).toHaveLength(1);
    websocket.message(socket, `${CONTROL}a0`);
    websocket.message(socket, 'after');
    expect(got).toEqual(['after']);
    expect(websocket.keepalive.stats()).toMatchObject({ heartbeatsAnswered: 1, handlerErrors: 0 });
  });

  it('B14: plain clients are untouched: no hello, heartbeats answered in kind, every message to the app', () => {
    const { calls, websocket } = resumable();
    const socket = new ServerSocket({ url: '/ws?room=1' });
    websocket.open?.(socket);
    expect(websocket.message(socket, '')).toBe('message-result');
    websocket.message(socket, 'hello');
    expect(socket.log).toEqual(['send:""']);
    expect(calls).toEqual(['open', 'message:""', 'message:"hello"']);
  });

  it('B14: without data.url (or with one that cannot be read) a client is plain, and a warn diagnostic says so once', () => {
    const { calls, websocket, diagnostics, opened } = resumable();
    const throwing = {
      get url(): string {
        throw new Error('no');
      },
    };
    for (const data of [undefined, 'http://127.0.0.1/?ka=2', { url: 42 }, { url: 'http://[::1' }, throwing, { url: 'http://[bad/?ka=2' }]) {
      const socket = new ServerSocket(data);
      websocket.open?.(socket);
      websocket.message(socket, 'plain');
      expect(socket.log).toEqual([]);
    }
    expect(opened).toEqual([]);
    expect(calls.filter((call) => call === 'message:"plain"')).toHaveLength(6);
    expect(diagnostics.filter((d) => d.name === BUN_SERVER_DIAGNOSTICS.resumeUrlMissing)).toEqual([
      { type: 'diagnostic', level: 'warn', name: 'resume_url_missing', fields: {} },
    ]);
  });

  it('B14: the warning goes to the resume options’ own onDiagnostic and logger when given', () => {
    const own: string[] = [];
    const logged: string[] = [];
    const { websocket } = setup({ resume: { onDiagnostic: (d) => own.push(d.name), logger: (_level, name) => logged.push(name) } });
    websocket.open?.(new ServerSocket());
    expect(own).toEqual(['resume_url_missing']);
    expect(logged).toEqual(['resume_url_missing']);
  });

  it('B14, B17: a request this version cannot read, or a v1 one, is closed with 1002; its frames are read by nobody, never passed to the app', () => {
    const { calls, websocket, sessions } = resumable();
    const refused: unknown[] = [];
    const legacy = new ServerSocket({ url: '/?ka=1&ka_s=abc&ka_d=0' });
    sessions.on('refused', ({ reason, code, context }) => refused.push({ reason, code, own: context.ws === legacy }));
    const socket = new ServerSocket({ url: '/?ka=3' });
    websocket.open?.(socket);
    expect(socket.log).toEqual(['close:1002:invalid resume request']);
    websocket.message(socket, 'late');
    websocket.open?.(legacy);
    expect(legacy.log).toEqual([`close:1002:${LEGACY_REFUSAL_REASON}`]);
    websocket.message(legacy, 'late');
    expect(calls).toEqual(['open', 'open']);
    expect(sessions.stats().invalidRequests).toBe(2);
    expect(refused).toEqual([
      { reason: 'invalid', code: 1002, own: false },
      { reason: 'legacy', code: 1002, own: true },
    ]);
  });

  it('B14: close() ends every session (1001) and stops; a late frame of a resuming socket still never reaches the app', () => {
    const { calls, websocket, sessions } = resumable();
    const socket = new ServerSocket({ url: '/?ka=2' });
    websocket.open?.(socket);
    websocket.keepalive.close();
    expect(socket.log.at(-1)).toBe('close:1001:going away');
    expect(sessions.size).toBe(0);
    websocket.message(socket, 'late');
    websocket.ping?.(socket, new Uint8Array());
    websocket.close?.(socket, 1001, '');
    expect(calls).toEqual(['open', 'ping', 'close:1001:']);
    // After the close event the socket is forgotten: its events only pass through.
    websocket.message(socket, 'after');
    expect(calls).toContain('message:"after"');
    // New connections are not tracked, nor attached.
    const later = new ServerSocket({ url: '/?ka=2' });
    websocket.open?.(later);
    expect(later.log).toEqual([]);
  });

  it('B14: a socket or a hub that throws is counted, never escapes a handler', () => {
    const { websocket, sessions } = resumable();
    const socket = new ServerSocket({ url: '/?ka=2' });
    socket.send = () => {
      throw new Error('gone');
    };
    websocket.open?.(socket);
    expect(sessions.stats().socketErrors).toBe(1);
    const spy = vi.spyOn(sessions, 'connect').mockImplementation(() => {
      throw new Error('hub failure');
    });
    websocket.open?.(new ServerSocket({ url: '/?ka=2' }));
    spy.mockRestore();
    expect(websocket.keepalive.stats().handlerErrors).toBe(1);
  });
});
