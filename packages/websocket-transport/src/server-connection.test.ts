import { describe, expect, it } from 'vitest';
import { KeepaliveOptionError, MAX_HEARTBEAT_BYTES, encodeHeartbeat, type Diagnostic } from '@keepalive/core';
import { createScheduler } from '@keepalive/node-timers';
import { manualPlatform } from 'keepalive-test-support';
import { PeerTracker } from './peer-tracker.js';
import type { ResumableSession, SessionMessage } from './resume-server.js';
import {
  ServerConnections,
  createServerConnections,
  requestQuery,
  type ServerConnection,
  type ServerConnectionsOptions,
  type ServerSocket,
} from './server-connection.js';

/**
 * The one server connection every adapter translates to (`ws`, Bun, Deno), with socket doubles on a manual clock:
 * where each inbound frame goes (plain data, heartbeats, malformed heartbeats, a resuming connection's frames), what
 * the keep-alives and the answers carry, and the options checked once, under the names the user wrote.
 */

const CONTROL = '\u0006';

/** A server socket double that logs what it was asked to do. */
class Socket implements ServerSocket {
  readonly log: string[] = [];
  readyState = 1;
  ping(payload?: string): void {
    this.log.push(payload === undefined ? 'ping' : `ping:${payload}`);
  }
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    this.log.push(typeof data === 'string' ? `send:${JSON.stringify(data)}` : `send:binary:${data.byteLength}`);
  }
  close(code?: number, reason?: string): void {
    this.log.push(`close:${String(code)}:${String(reason)}`);
  }
  terminate(): void {
    this.log.push('terminate');
  }
}

/** A socket that cannot ping or terminate (Deno's, a WHATWG one). */
class MessageSocket implements ServerSocket {
  readonly log: string[] = [];
  readyState = 1;
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    this.log.push(typeof data === 'string' ? `send:${JSON.stringify(data)}` : 'send:binary');
  }
  close(code?: number, reason?: string): void {
    this.log.push(`close:${String(code)}:${String(reason)}`);
  }
}

const sent = (text: string): string => `send:${JSON.stringify(text)}`;

function setup(options: ServerConnectionsOptions = {}) {
  const platform = manualPlatform();
  const diagnostics: Diagnostic[] = [];
  const server = createServerConnections({
    scheduler: createScheduler({ platform }),
    random: () => 0,
    pingIntervalMs: 100,
    pongTimeoutMs: 50,
    onDiagnostic: (diagnostic) => diagnostics.push(diagnostic),
    ...options,
  });
  const open = <S extends ServerSocket>(socket: S, url?: string): ServerConnection<S> => {
    const connection = (server as ServerConnections<unknown, S>).open(socket, url === undefined ? null : requestQuery(url));
    if (connection === null) throw new Error('expected a connection');
    return connection;
  };
  return { platform, server, diagnostics, open };
}

/** A server with resumable sessions, and what its sessions received. */
function resumable(options: ServerConnectionsOptions = {}) {
  const harness = setup({ resume: { ackDelayMs: 1_000 }, ...options });
  const sessions = harness.server.sessions;
  if (sessions === null) throw new Error('expected the hub');
  const got: SessionMessage[] = [];
  const opened: ResumableSession[] = [];
  sessions.on('session', ({ session }) => {
    opened.push(session);
    session.on('message', (message) => got.push(message));
  });
  return { ...harness, sessions, got, opened };
}

/** The KeepaliveOptionError `make` throws. */
function refused(make: () => unknown): KeepaliveOptionError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(KeepaliveOptionError);
    return error as KeepaliveOptionError;
  }
  throw new Error('expected a KeepaliveOptionError');
}

describe('ServerConnection: where an inbound frame goes', () => {
  it('plain data is the application’s, a heartbeat is answered in kind, a malformed one is counted: neither is data', () => {
    const { open, server } = setup();
    const socket = new Socket();
    const connection = open(socket);
    expect(connection.resumable).toBe(false);
    expect(connection.onMessage('hello')).toBe('data');
    expect(connection.onMessage(new Uint8Array([1, 2]), true)).toBe('data');
    expect(socket.log).toEqual([]);
    // The empty text frame (ws delivers text as bytes, with isBinary false) is the heartbeat, answered in kind.
    expect(connection.onMessage('')).toBe('heartbeat');
    expect(connection.onMessage(new Uint8Array(0), false)).toBe('heartbeat');
    expect(socket.log).toEqual([sent(''), sent('')]);
    // An empty binary frame and a few spaces are malformed heartbeats: proof of life, never answered, counted.
    expect(connection.onMessage(new Uint8Array(0), true)).toBe('heartbeat');
    expect(connection.onMessage('  ')).toBe('heartbeat');
    expect(socket.log).toHaveLength(2);
    expect(server.tracker.stats()).toMatchObject({ heartbeatsAnswered: 2, malformedHeartbeats: 2, handlerErrors: 0 });
  });

  it('uses the configured heartbeat message: the default one is then data', () => {
    const { open } = setup({ heartbeatMessage: 'hb' });
    const socket = new Socket();
    const connection = open(socket);
    expect(connection.onMessage('hb')).toBe('heartbeat');
    expect(connection.onMessage('')).toBe('heartbeat');
    expect(connection.onMessage('hbx')).toBe('data');
    // '' is malformed here (whitespace-only, short): not answered.
    expect(socket.log).toEqual([sent('hb')]);
  });

  it('B14: every frame of a resuming connection is the hub’s: data goes to the session, a heartbeat is answered with the hub’s own', () => {
    const { open, got, opened, server } = resumable();
    const socket = new Socket();
    const connection = open(socket, '/ws?ka=2');
    expect(connection.resumable).toBe(true);
    // The hello went out as the connection opened.
    expect(socket.log[0]).toMatch(/^send:"\\u0006H2 new [A-Za-z0-9_-]{22} [A-Za-z0-9_-]{22}"$/);
    expect(opened).toHaveLength(1);
    expect(connection.onMessage('hello')).toBe('session');
    expect(connection.onMessage(new TextEncoder().encode('bytes as text'), false)).toBe('session');
    expect(connection.onMessage(new Uint8Array([7]), true)).toBe('session');
    expect(got).toEqual(['hello', 'bytes as text', new Uint8Array([7])]);
    // Its heartbeat carries the acknowledgement of the three messages: answered with the hub's heartbeat.
    expect(connection.onMessage(encodeHeartbeat(0))).toBe('session');
    expect(socket.log.at(-1)).toBe(sent(encodeHeartbeat(3)));
    // A frame it cannot read is the hub's too (counted there), never the application's.
    expect(connection.onMessage(`${CONTROL}?`)).toBe('session');
    expect(got).toHaveLength(3);
    expect(server.tracker.stats().heartbeatsAnswered).toBe(1);
    expect(server.sessions?.stats().protocolErrors).toBe(1);
  });

  it('B14: before its hello a resuming client’s plain heartbeat is answered plainly; a plain client on a resuming server is untouched', () => {
    const { open, sessions } = resumable({ resume: { admit: () => new Promise(() => undefined) } });
    const waiting = new Socket();
    const connection = open(waiting, '/ws?ka=2');
    // The admit hook has not answered: no hello yet.
    expect(waiting.log).toEqual([]);
    expect(connection.onMessage('')).toBe('session');
    expect(waiting.log).toEqual([sent('')]);
    const plain = new Socket();
    const other = open(plain, '/ws?room=1');
    expect(other.resumable).toBe(false);
    expect(other.onMessage('hi')).toBe('data');
    expect(plain.log).toEqual([]);
    expect(sessions.size).toBe(0);
  });
});

describe('ServerConnection: keep-alives and answers', () => {
  it('B5: a protocol ping every interval; a pong is proof of life; no answer terminates, or closes a socket that cannot terminate', () => {
    const { open, platform, server } = setup();
    const live = new Socket();
    const dead = new Socket();
    const bare: ServerSocket & { log: string[] } = { log: [], ping: () => bare.log.push('ping'), send: () => bare.log.push('send'), close: (code?: number) => bare.log.push(`close:${String(code)}`) };
    const connection = open(live);
    open(dead);
    open(bare);
    platform.advance(1);
    expect(live.log).toEqual(['ping']);
    connection.onPong();
    platform.advance(60);
    expect(dead.log).toEqual(['ping', 'terminate']);
    expect(bare.log).toEqual(['ping', 'close:undefined']);
    expect(live.log).toEqual(['ping']);
    expect(server.tracker.stats()).toMatchObject({ tracked: 1, deadPeers: 2 });
  });

  it('B14: a ping carries the owed acknowledgement to a client that reads ping payloads (ka_p=1), nothing to one that does not; a client ping acknowledges', () => {
    const { open, platform, opened } = resumable({ pingIntervalMs: 10_000, pongTimeoutMs: 10_000, resume: { ackDelayMs: 60_000 } });
    const reads = new Socket();
    const not = new Socket();
    const reading = open(reads, '/?ka=2&ka_p=1');
    const silent = open(not, '/?ka=2');
    for (const connection of [reading, silent]) {
      connection.onMessage(`${CONTROL}a0`);
      connection.onMessage('one');
      connection.onMessage('two');
    }
    platform.advance(10_000);
    expect(reads.log.at(-1)).toBe('ping:2');
    expect(not.log.at(-1)).toBe('ping');
    // The client's ping acknowledges what the server sent.
    const session = opened[0];
    session?.send('out');
    expect(session?.unackedMessages).toBe(1);
    reading.onPing(new TextEncoder().encode('1'));
    expect(session?.unackedMessages).toBe(0);
  });

  it("keepaliveFrame 'message', or a socket that cannot ping: the keep-alive is the heartbeat (the hub’s on a resumed connection), written only while open", () => {
    const { open, platform } = resumable({ keepaliveFrame: 'message', heartbeatMessage: 'hb' });
    const pingable = new Socket();
    const plain = new MessageSocket();
    const resumed = new MessageSocket();
    const closing = new MessageSocket();
    open(pingable);
    const plainConnection = open(plain);
    const session = open(resumed, '/?ka=2');
    session.onMessage(`${CONTROL}a0`);
    session.onMessage('one');
    open(closing);
    closing.readyState = 2;
    platform.advance(1);
    // No protocol ping even where the socket has one: the core expects heartbeats answered in kind.
    expect(pingable.log).toEqual([sent('hb')]);
    expect(plain.log).toEqual([sent('hb')]);
    expect(resumed.log.at(-1)).toBe(sent(encodeHeartbeat(1)));
    expect(closing.log).toEqual([]);
    // The client's answer settles ours: not answered again; its own next heartbeat is.
    expect(plainConnection.onMessage('hb')).toBe('heartbeat');
    expect(plain.log).toEqual([sent('hb')]);
    plainConnection.onMessage('hb');
    expect(plain.log).toEqual([sent('hb'), sent('hb')]);
  });

  it("refuses a socket that cannot ping on a tracker that sends protocol pings (the client's answers would be echoed)", () => {
    const { server } = setup();
    expect(() => server.open(new MessageSocket(), null)).toThrow(/keepaliveFrame 'message'/);
    expect(server.tracker.size).toBe(0);
  });

  it('B8: a ping flood is closed with 1008; a silent connection with 4000', () => {
    const flood = setup({ minPingIntervalMs: 1_000, maxPingStrikes: 2 });
    const flooder = new Socket();
    const flooding = flood.open(flooder);
    for (let i = 0; i < 4; i++) {
      flooding.onPing();
      flood.platform.advance(10);
    }
    expect(flooder.log).toContain('close:1008:ping_flood min_interval_ms=1000');
    const idle = setup({ idleCloseMs: 500, pingIntervalMs: 10_000, minPingIntervalMs: 100, random: () => 0.5 });
    const quiet = new Socket();
    const quieting = idle.open(quiet);
    idle.platform.advance(300);
    expect(quieting.onMessage('still here')).toBe('data');
    idle.platform.advance(300);
    expect(quiet.log).toEqual([]);
    idle.platform.advance(300);
    expect(quiet.log).toEqual(['close:4000:idle_timeout']);
    expect([flood.server.tracker.stats(), idle.server.tracker.stats()]).toMatchObject([
      { floodClosed: 1, tracked: 0 },
      { idleClosed: 1, tracked: 0 },
    ]);
  });
});

describe('ServerConnection: close', () => {
  it('B14: a cut connection leaves its session to wait for the client; 1000 ends it; a second close changes nothing', () => {
    const { open, opened, server } = resumable();
    const cut = open(new Socket(), '/?ka=2');
    cut.onClose();
    expect(server.tracker.size).toBe(0);
    expect(opened[0]?.ended).toBe(false);
    expect(opened[0]?.connected).toBe(false);
    const ended = open(new Socket(), '/?ka=2');
    ended.onClose(1000);
    ended.onClose(1000);
    expect(opened[1]?.ended).toBe(true);
    expect(ended.resumable).toBe(false);
    // Frames after the close go nowhere and count nothing.
    expect(ended.onMessage(new Uint8Array(0), true)).toBe('heartbeat');
    expect(server.tracker.stats()).toMatchObject({ malformedHeartbeats: 0, handlerErrors: 0 });
  });

  it('close() ends every session (1001) and forgets every connection; open() then returns null', () => {
    const { open, server, opened } = resumable();
    const socket = new Socket();
    open(socket, '/?ka=2');
    open(new Socket());
    expect(server.connections()).toHaveLength(2);
    server.close();
    expect(server.closed).toBe(true);
    expect(socket.log.at(-1)).toBe('close:1001:going away');
    expect(opened[0]?.ended).toBe(true);
    expect(server.tracker.size).toBe(0);
    expect(server.connections()).toEqual([]);
    expect(server.open(new Socket(), null)).toBeNull();
    server.close();
  });

  it('connections() lists only the connections of this server, on a tracker shared with others', () => {
    const tracker = new PeerTracker({ scheduler: createScheduler({ platform: manualPlatform() }) });
    const one = new ServerConnections({ tracker });
    const two = new ServerConnections({ tracker });
    const mine = one.open(new Socket(), null);
    two.open(new Socket(), null);
    tracker.track({ ping: () => undefined, reply: () => undefined, close: () => undefined, terminate: () => undefined });
    expect(tracker.size).toBe(3);
    expect(one.connections()).toEqual([mine]);
  });
});

describe('ServerConnection: errors never escape', () => {
  it('a socket that throws is counted in every handler and in every command', () => {
    const { open, platform, server } = setup();
    const socket = new Socket();
    socket.send = () => {
      throw new Error('gone');
    };
    socket.ping = () => {
      throw new Error('gone');
    };
    const connection = open(socket);
    expect(connection.onMessage('')).toBe('heartbeat');
    platform.advance(1);
    expect(server.tracker.stats().handlerErrors).toBe(2);
    const resumeFailing = resumable();
    const failing = resumeFailing.open(new Socket(), '/?ka=2');
    // A handle that throws (as a broken hub would): counted, and the route is still the hub's.
    (failing as unknown as { resume: { message(): never; ping(): never; closed(): never } }).resume = {
      message: () => {
        throw new Error('broken');
      },
      ping: () => {
        throw new Error('broken');
      },
      closed: () => {
        throw new Error('broken');
      },
    };
    expect(failing.onMessage('x')).toBe('session');
    failing.onPing('1');
    failing.onClose(1000);
    expect(resumeFailing.server.tracker.stats().handlerErrors).toBe(3);
  });

  it('a hub whose connect throws leaves a plain connection, counted', () => {
    const { open, sessions, server } = resumable();
    sessions.connect = () => {
      throw new Error('broken');
    };
    const connection = open(new Socket(), '/?ka=2');
    expect(connection.resumable).toBe(false);
    expect(server.tracker.stats().handlerErrors).toBe(1);
  });
});

describe('options, checked once under the names the user wrote', () => {
  it('heartbeatMessage: a string of at most 125 UTF-8 bytes, else KeepaliveOptionError naming heartbeatMessage (resume on or off)', () => {
    const longest = 'h'.repeat(MAX_HEARTBEAT_BYTES);
    expect(setup({ heartbeatMessage: longest }).server.heartbeatMessage).toBe(longest);
    for (const resume of [undefined, true, { sessionTtlMs: 1_000 }]) {
      // A 200-byte message: the hub used to refuse it as `resume.heartbeatMessage`, an option the user never wrote.
      expect(refused(() => createServerConnections({ heartbeatMessage: 'h'.repeat(200), resume }))).toMatchObject({
        option: 'heartbeatMessage',
        expectation: 'a string of at most 125 UTF-8 bytes',
      });
      expect(refused(() => createServerConnections({ heartbeatMessage: 5 as never, resume }))).toMatchObject({ option: 'heartbeatMessage', value: 5 });
    }
    // Bytes, not characters: 63 two-byte characters are 126 bytes.
    expect(refused(() => createServerConnections({ heartbeatMessage: 'é'.repeat(63) }))).toMatchObject({ option: 'heartbeatMessage' });
    const tracker = new PeerTracker({ scheduler: createScheduler({ platform: manualPlatform() }) });
    expect(refused(() => new ServerConnections({ tracker, heartbeatMessage: null as never }))).toMatchObject({ option: 'heartbeatMessage', value: null });
  });

  it('resume: true, false or an object (its own options named resume.<option>); the hub defaults to the server’s heartbeat, scheduler and hook', () => {
    expect(refused(() => createServerConnections({ resume: 5 as never }))).toMatchObject({ option: 'resume', value: 5 });
    expect(refused(() => createServerConnections({ resume: [] as never }))).toMatchObject({ option: 'resume' });
    expect(refused(() => createServerConnections({ resume: { sessionTtlMs: -1 } }))).toMatchObject({ option: 'resume.sessionTtlMs', value: -1 });
    // A heartbeat message the user wrote in the resume options is theirs: named there.
    expect(refused(() => createServerConnections({ resume: { heartbeatMessage: 'h'.repeat(200) } }))).toMatchObject({ option: 'resume.heartbeatMessage' });
    expect(createServerConnections({ resume: false }).sessions).toBeNull();
    const { server } = setup({ heartbeatMessage: 'hb', resume: true });
    expect(server.sessions?.scheduler).toBe(server.tracker.scheduler);
    const socket = new Socket();
    const connection = server.open(socket, requestQuery('/?ka=2'));
    // Before any wire-format frame, the hub reads the server's heartbeat message as the client's plain keep-alive.
    socket.log.length = 0;
    expect(connection?.onMessage('hb')).toBe('session');
    expect(socket.log).toEqual([sent(encodeHeartbeat(0))]);
  });

  it('report(): an adapter’s own diagnostic goes where the hub’s go', () => {
    const own: Diagnostic[] = [];
    const { server } = setup({ resume: { onDiagnostic: (diagnostic) => own.push(diagnostic) } });
    server.report('warn', 'adapter_said', { count: 1 });
    expect(own).toEqual([{ type: 'diagnostic', level: 'warn', name: 'adapter_said', fields: { count: 1 } }]);
    const plain = setup();
    plain.server.report('info', 'adapter_said');
    expect(plain.diagnostics.filter((diagnostic) => diagnostic.name === 'adapter_said')).toEqual([{ type: 'diagnostic', level: 'info', name: 'adapter_said', fields: {} }]);
  });
});

describe('requestQuery and asksForSession', () => {
  it('reads a path or an absolute URL; an unreadable one is null; a server asks its hub only for URLs with ka', () => {
    expect(requestQuery('/ws?ka=2&ka_s=x')?.('ka_s')).toBe('x');
    expect(requestQuery(new URL('http://example.com/?ka=2'))?.('ka')).toBe('2');
    expect(requestQuery('http://[::1')).toBeNull();
    const { server } = resumable();
    expect(server.asksForSession(requestQuery('/?ka=2'))).toBe(true);
    expect(server.asksForSession(requestQuery('/?room=1'))).toBe(false);
    expect(server.asksForSession(null)).toBe(false);
    expect(setup().server.asksForSession(requestQuery('/?ka=2'))).toBe(false);
  });
});
