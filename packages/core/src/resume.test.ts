import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { ConnectionSim } from './__tests__/connection-sim.js';
import { ResumeNet } from './__tests__/resume-net.js';
import {
  KeepaliveOptionError,
  RESUME_DEFAULTS,
  connectionTransition,
  defineConnectionConfig,
  encodeAck,
  encodeHeartbeat,
  constantTimeEqual,
  encodeHello,
  encodeProof,
  escapeText,
  openConnection,
  readPingAck,
  readResumeQuery,
  readResumeText,
  resumable,
  resumeQuery,
  type ConnectionCommand,
  type ConnectionUserEvent,
} from './index.js';
import { resumeOf, unconfirmedOf } from './__tests__/slices.js';

/**
 * The resumable session's client end (spec B14) as the connection machine composes it, and wire format v2: examples,
 * and properties over a client and a v1 server end joined by a network that cuts connections (losing what is in
 * flight), delays frames without bound and restarts the server (forgetting its session).
 */

function eventsOf<T extends ConnectionUserEvent['type']>(events: readonly ConnectionUserEvent[], type: T): Extract<ConnectionUserEvent, { type: T }>[] {
  return events.filter((event): event is Extract<ConnectionUserEvent, { type: T }> => event.type === type);
}

function commandsOf<T extends ConnectionCommand['type']>(commands: readonly ConnectionCommand[], type: T): Extract<ConnectionCommand, { type: T }>[] {
  return commands.filter((command): command is Extract<ConnectionCommand, { type: T }> => command.type === type);
}

describe('wire format v2', () => {
  it('B17: URL parameters round-trip with no secret and no count; a plain client asks nothing; v1 is told apart; malformed requests are invalid', () => {
    const get = (query: string) => (name: string) => new URLSearchParams(query).get(name);
    const ask = (request: Parameters<typeof resumeQuery>[0]) => new URLSearchParams(resumeQuery(request) as [string, string][]).toString();
    expect(ask({ session: null, pings: false })).toBe('ka=2');
    expect(ask({ session: 'abc_-9', pings: true })).toBe('ka=2&ka_s=abc_-9&ka_p=1');
    expect(readResumeQuery(get('ka=2&ka_s=abc_-9&ka_p=1'))).toEqual({ session: 'abc_-9', pings: true });
    expect(readResumeQuery(get('ka=2'))).toEqual({ session: null, pings: false });
    expect(readResumeQuery(get('token=x'))).toBeNull();
    // A v1 client's URL (its session id was a bearer credential): told apart, so that the server can say why it refuses.
    expect(readResumeQuery(get('ka=1&ka_s=abc&ka_d=3'))).toBe('legacy');
    expect(readResumeQuery(get('ka=1'))).toBe('legacy');
    for (const bad of ['ka=3', 'ka=', 'ka=2&ka_s=a%20b', 'ka=2&ka_s=', `ka=2&ka_s=${'a'.repeat(65)}`]) {
      expect(readResumeQuery(get(bad)), bad).toBe('invalid');
    }
  });

  it('B17: control frames are read back (hello, challenge, proof); application text starting with the prefix is escaped, never taken for one', () => {
    const secret = 'Zm9vYmFyYmF6cXV4MTIzND';
    expect(readResumeText(encodeHello({ status: 'resumed', session: 'abc', delivered: 7 }))).toEqual({ kind: 'hello', status: 'resumed', session: 'abc', delivered: 7 });
    expect(readResumeText(encodeHello({ status: 'new', session: 'abc', secret, delivered: 0 }))).toEqual({ kind: 'hello', status: 'new', session: 'abc', secret, delivered: 0 });
    expect(readResumeText(encodeHello({ status: 'prove' }))).toEqual({ kind: 'hello', status: 'prove' });
    expect(encodeHello({ status: 'prove' })).toBe('\u0006H2 prove');
    expect(readResumeText(encodeProof({ secret, delivered: 9 }))).toEqual({ kind: 'proof', secret, delivered: 9 });
    expect(encodeProof({ secret, delivered: 9 })).toBe(`\u0006P${secret} 9`);
    expect(readResumeText(encodeHeartbeat(12))).toEqual({ kind: 'heartbeat', ack: 12 });
    expect(readResumeText(encodeAck(0))).toEqual({ kind: 'ack', ack: 0 });
    expect(readResumeText('hello')).toEqual({ kind: 'data', text: 'hello' });
    expect(readResumeText('')).toEqual({ kind: 'data', text: '' });
    const bad = ['\u0006', '\u0006A', '\u0006A-1', '\u0006a1.5', '\u0006H1 new abc 0', '\u0006H2 old abc 0', '\u0006H2 new abc', '\u0006H2 new abc short', '\u0006H2 new a!c ' + secret,
      '\u0006H2 resumed abc', '\u0006H2 resumed abc 01', '\u0006H2 prove abc', '\u0006P', `\u0006P${secret}`, `\u0006P${secret} x`, '\u0006Pshort 1', `\u0006P${secret}! 1`, '\u0006Z'];
    for (const frame of bad) expect(readResumeText(frame).kind, JSON.stringify(frame)).toBe('invalid');
    expect(readPingAck('')).toBeNull();
    expect(readPingAck('17')).toBe(17);
    expect(readPingAck('x')).toBeNull();
  });

  test.prop([fc.string({ minLength: 0, maxLength: 40 }), fc.string({ minLength: 0, maxLength: 40 })])('B17: constantTimeEqual agrees with === on every pair of strings', (a, b) => {
    expect(constantTimeEqual(a, b)).toBe(a === b);
    expect(constantTimeEqual(a, a)).toBe(true);
  });

  test.prop([fc.string({ unit: fc.constantFrom('\u0006', 'A', 'a', 'H', '1', ' ', 'x', 'é') })])('B14: any application text survives escaping exactly', (text) => {
    expect(readResumeText(escapeText(text))).toEqual({ kind: 'data', text });
  });
});

describe('B14: the resumable session, client end', () => {
  it('B1: resume options are validated by path; resumable() takes the defaults; off by default and with false', () => {
    expect(defineConnectionConfig({}).resume).toBeNull();
    expect(defineConnectionConfig({ resume: false }).resume).toBeNull();
    expect(defineConnectionConfig({ resume: resumable() }).resume?.config).toMatchObject({ helloTimeoutMs: RESUME_DEFAULTS.helloTimeoutMs, delivery: { maxUnackedMessages: 1_000 } });
    expect(() => resumable({ helloTimeoutMs: 0 })).toThrow(/resume\.helloTimeoutMs: 0/);
    expect(() => resumable({ maxUnackedMessages: 0 })).toThrow(KeepaliveOptionError);
    expect(() => resumable({ bogus: 1 } as never)).toThrow(/resume\.bogus/);
    expect(() => resumable(7 as never)).toThrow(/Invalid option resume: 7/);
    // What was accepted before the layer (true, an object of options) now says what to pass instead.
    for (const value of [true, 'yes', { helloTimeoutMs: 100 }, null]) {
      expect(() => defineConnectionConfig({ resume: value as never })).toThrow(KeepaliveOptionError);
      expect(() => defineConnectionConfig({ resume: value as never })).toThrow(/Invalid option resume: .*expected false, or resumable\(\)/);
    }
  });

  it('B14: asks in the URL, waits for the hello, numbers what is sent meanwhile, and transmits it once the session is up', () => {
    const [start, commands] = openConnection({ resume: resumable() }, 0, 1);
    expect(commands).toEqual([{ type: 'codec', mode: 'hello' }, { type: 'open_socket', attempt: 0, serial: 1, resume: { session: null } }]);
    let [state, out] = connectionTransition(start, { type: 'socket_opened', now: 1, canPing: true });
    [state, out] = connectionTransition(state, { type: 'send', now: 2, bytes: 5, writable: true });
    expect(out).toEqual([{ type: 'number', seq: 1 }]);
    [state, out] = connectionTransition(state, { type: 'hello', now: 3, hello: { status: 'new', session: 'abc', secret: 'secret_0123456789abcdef', delivered: 0 } });
    expect(commandsOf(out, 'transmit')).toEqual([{ type: 'transmit', seq: 1 }]);
    expect(commandsOf(out, 'codec')).toEqual([{ type: 'codec', mode: 'wire' }]);
    expect(eventsOf(commandsOf(out, 'event').map((c) => c.event), 'session')).toEqual([{ type: 'session', status: 'new', retransmitted: 0 }]);
    [state, out] = connectionTransition(state, { type: 'send', now: 4, bytes: 5, writable: true });
    expect(out).toEqual([{ type: 'number', seq: 2 }, { type: 'transmit', seq: 2 }]);
    // The server's acknowledgement rides on its ping; the client releases what it has.
    [state, out] = connectionTransition(state, { type: 'inbound', now: 5, frame: 'ping', ack: 2 });
    expect(out).toContainEqual({ type: 'release', through: 2 });
    expect(resumeOf(state)?.delivery.unacked).toEqual([]);
  });

  it('B14: the acknowledgement of what the client delivered rides on its next ping, or goes alone after ackDelayMs', () => {
    const sim = new ResumeNet({ resume: resumable({ ackDelayMs: 400 }) });
    sim.open();
    sim.deliverToClient(); // hello
    expect(sim.toServer).toEqual([{ kind: 'ack', through: 0 }]); // the client's first frame after the hello
    sim.deliverToServer();
    sim.server.send(101);
    sim.deliverToClient();
    expect(sim.delivered).toEqual([101]);
    sim.apply({ type: 'start', reason: 'work' });
    sim.advance(100); // the heartbeat fires first (interval 100 ms): the ack rides on it
    expect(sim.toServer).toContainEqual({ kind: 'ping', ack: 1 });
    expect(sim.toServer.filter((frame) => frame.kind === 'ack')).toEqual([]);
    sim.server.send(102);
    sim.deliverToClient();
    sim.apply({ type: 'stop', reason: 'work' });
    sim.toServer = [];
    sim.advance(400); // idle: no keep-alive goes out, so the ack goes alone
    expect(sim.toServer).toEqual([{ kind: 'ack', through: 2 }]);
  });

  it('B14: heartbeat-message sockets carry the acknowledgement in the v1 heartbeat', () => {
    const sim = new ResumeNet({ resume: resumable() }, false);
    sim.open();
    sim.deliverToClient();
    sim.server.send(7);
    sim.deliverToClient();
    sim.apply({ type: 'start', reason: 'work' });
    sim.advance(100);
    expect(sim.toServer).toContainEqual({ kind: 'heartbeat', ack: 1 });
  });

  it('B14: after a cut the client presents its session, and both ends retransmit what the other has not acknowledged', () => {
    const sim = new ResumeNet({ resume: resumable() });
    sim.open();
    sim.deliverToClient();
    sim.deliverToServer(); // the client's first frame after the hello: its acknowledgement
    for (const id of [1, 2, 3]) sim.send(id);
    sim.deliverToServer(); // 1 arrives, 2 and 3 are lost in the cut
    sim.server.send(50);
    sim.server.send(51);
    sim.deliverToClient(); // 50 arrives, 51 is lost
    sim.cut();
    sim.advance(100);
    expect(sim.socket).not.toBeNull();
    sim.settle();
    expect(sim.server.delivered[0]).toEqual([1, 2, 3]);
    expect(sim.delivered).toEqual([50, 51]);
    const sessions = eventsOf(sim.events, 'session');
    expect(sessions.map((event) => event.status)).toEqual(['new', 'resumed']);
    expect(sessions[1]?.retransmitted).toBe(2);
    expect(sim.violations).toEqual([]);
  });

  it('B14: a server that forgot the session (restart): what it had not acknowledged is handed back, once, and a new session starts', () => {
    const sim = new ResumeNet({ resume: resumable() });
    sim.open();
    sim.deliverToClient();
    for (const id of [1, 2]) sim.send(id);
    sim.deliverToServer();
    sim.restartServer();
    sim.advance(100);
    sim.settle();
    expect(eventsOf(sim.events, 'forgotten')).toEqual([{ type: 'forgotten', messages: 2 }]);
    expect(sim.handedBack).toEqual([1, 2]);
    expect(eventsOf(sim.events, 'session').map((event) => event.status)).toEqual(['new', 'forgotten']);
    sim.send(3);
    sim.settle();
    expect(sim.server.delivered[1]).toEqual([3]);
  });

  it('B14: a server that does not speak it (the first frame is no hello, or none within helloTimeoutMs): plain delivery, said once', () => {
    for (const trigger of ['first-frame', 'timeout'] as const) {
      const sim = new ConnectionSim({ resume: resumable({ helloTimeoutMs: 300 }) });
      sim.open();
      expect(sim.send(3)).toBe('enqueue');
      expect(resumeOf(sim.state)?.delivery.unacked).toEqual([3]);
      const out: ConnectionCommand[] = [];
      if (trigger === 'first-frame') out.push(...sim.apply({ type: 'inbound', frame: 'data' }));
      else {
        sim.advance(299);
        expect(resumeOf(sim.state)?.phase).toBe('waiting');
        const before = sim.events.length;
        sim.advance(1);
        out.push({ type: 'event', event: sim.events[before] as ConnectionUserEvent });
      }
      expect(resumeOf(sim.state)?.phase).toBe('unsupported');
      // What was sent while waiting went to the plain queue (`requeue`) and out plainly (`flush`).
      expect(out.some((command) => command.type === 'event')).toBe(true);
      expect(sim.written).toEqual([1]);
      expect(sim.state.queuedMessages).toBe(0);
      expect(sim.diagnostics.filter((d) => d.name === 'resume_unsupported')).toHaveLength(1);
      expect(eventsOf(sim.events, 'session')).toEqual([{ type: 'session', status: 'unsupported', retransmitted: 0 }]);
      if (trigger === 'timeout') {
        // The socket asked for v1 (a slow v1 server would speak it on it): it is dropped, and a new one asks nothing.
        expect(sim.socket).toBeNull();
        sim.advance(1_000);
        expect(sim.socketsOpened).toHaveLength(2);
        sim.open();
      }
      // From now on, plain delivery; the next socket asks for nothing.
      expect(sim.send()).toBe('write');
      sim.closeSocket();
      sim.advance(1_000);
      expect(sim.socketsOpened).toHaveLength(trigger === 'timeout' ? 3 : 2);
      expect(resumeOf(sim.state)?.phase).toBe('unsupported');
    }
  });

  it('B14: messages sent while waiting for a hello that never comes go out plainly, in order, when the client falls back', () => {
    const [start] = openConnection({ resume: resumable({ helloTimeoutMs: 100 }) }, 0, 1);
    let [state, out] = connectionTransition(start, { type: 'socket_opened', now: 0, canPing: true });
    [state] = connectionTransition(state, { type: 'send', now: 1, bytes: 3, writable: true });
    [state] = connectionTransition(state, { type: 'send', now: 2, bytes: 4, writable: true });
    [state, out] = connectionTransition(state, { type: 'timeout', now: 100 });
    expect(out.filter((c) => c.type === 'requeue' || c.type === 'flush' || c.type === 'codec')).toEqual([{ type: 'requeue' }, { type: 'codec', mode: 'plain' }, { type: 'flush' }]);
    expect([state.queuedMessages, state.queuedBytes]).toEqual([2, 7]);
  });

  it('B14: past the replay bound send is refused loudly; nothing already accepted is touched', () => {
    const [start] = openConnection({ resume: resumable({ maxUnackedMessages: 2 }) }, 0, 1);
    let state = start;
    let out: readonly ConnectionCommand[] = [];
    for (let i = 0; i < 2; i++) [state] = connectionTransition(state, { type: 'send', now: i, bytes: 1, writable: false });
    [state, out] = connectionTransition(state, { type: 'send', now: 3, bytes: 1, writable: false });
    expect(out).toContainEqual({ type: 'refuse', reason: 'messages' });
    expect(resumeOf(state)?.delivery.unacked).toHaveLength(2);
  });

  it('B14: closed for good, what the server has not acknowledged is handed back; a completed close handshake proves receipt', () => {
    for (const code of [1000, 1006]) {
      const sim = new ResumeNet({ resume: resumable() });
      sim.open();
      sim.deliverToClient();
      sim.send(1);
      sim.deliverToServer();
      sim.apply({ type: 'close', code: 1000, reason: '' });
      sim.socket = null;
      sim.apply({ type: 'socket_closed', code, reason: '' });
      expect(sim.handedBack, `close code ${code}`).toEqual(code === 1000 ? [] : [1]);
    }
  });

  it('B14, S1: lazy and idle, a client with unacknowledged messages reconnects instead of parking', () => {
    const sim = new ResumeNet({ resume: resumable(), reconnect: { whenIdle: 'lazy', initialDelayMs: 10 } });
    sim.open();
    sim.deliverToClient();
    sim.send(1);
    sim.cut();
    expect(sim.state.phase).toBe('backoff');
    sim.advance(100);
    sim.settle();
    expect(sim.server.delivered[0]).toEqual([1]);
  });
});

describe('B14: without a resumable session, nothing written is lost silently', () => {
  it('B14: the copies are bounded by maxQueuedBytes too (idle, nothing confirms them): the oldest go first, still counted', () => {
    const [start] = openConnection({ maxQueuedBytes: 250 }, 0, 1);
    let [state, out] = connectionTransition(start, { type: 'socket_opened', now: 0, canPing: true });
    const forgotten: number[] = [];
    for (const bytes of [100, 100, 100, 300]) {
      [state, out] = connectionTransition(state, { type: 'send', now: 1, bytes, writable: true });
      for (const command of commandsOf(out, 'forget_copies')) forgotten.push(command.copies);
    }
    // 100 + 100 + 100 is over 250: the oldest goes; then 300 alone is over 250: every copy goes, itself included.
    expect(forgotten).toEqual([1, 3]);
    expect([unconfirmedOf(state).unconfirmed, unconfirmedOf(state).copies.length, unconfirmedOf(state).copyBytes]).toEqual([4, 0, 0]);
    [state, out] = connectionTransition(state, { type: 'send', now: 2, bytes: 50, writable: true });
    expect([unconfirmedOf(state).copies.length, unconfirmedOf(state).copyBytes]).toEqual([1, 50]);
    [state, out] = connectionTransition(state, { type: 'socket_closed', now: 9, code: 1006, reason: '' });
    expect(eventsOf(commandsOf(out, 'event').map((c) => c.event), 'unconfirmed')).toEqual([{ type: 'unconfirmed', messages: 5, copies: 1 }]);
  });

  it('B14: messages written since the last answered keep-alive are reported when the connection is lost, with copies', () => {
    const sim = new ConnectionSim({ heartbeatIntervalMs: 100, pongTimeoutMs: 1_000 });
    sim.open();
    sim.apply({ type: 'start', reason: 'work' });
    sim.send();
    sim.send();
    sim.advance(100); // a ping goes out after both
    sim.send();
    sim.inbound('pong'); // answers the ping: the first two are confirmed
    expect([unconfirmedOf(sim.state).unconfirmed, unconfirmedOf(sim.state).copies.length]).toEqual([1, 1]);
    sim.closeSocket();
    expect(eventsOf(sim.events, 'unconfirmed')).toEqual([{ type: 'unconfirmed', messages: 1, copies: 1 }]);
    expect(sim.diagnosticNames()).toContain('unconfirmed');
  });

  it('B14: the copies are bounded by maxQueuedMessages; the report still counts every unconfirmed message', () => {
    const [start] = openConnection({ maxQueuedMessages: 2 }, 0, 1);
    let [state, out] = connectionTransition(start, { type: 'socket_opened', now: 0, canPing: true });
    const forgotten: number[] = [];
    for (let i = 0; i < 5; i++) {
      [state, out] = connectionTransition(state, { type: 'send', now: i, bytes: 1, writable: true });
      for (const command of commandsOf(out, 'forget_copies')) forgotten.push(command.copies);
    }
    expect(forgotten).toEqual([1, 1, 1]);
    [state, out] = connectionTransition(state, { type: 'socket_closed', now: 9, code: 1006, reason: '' });
    expect(eventsOf(commandsOf(out, 'event').map((c) => c.event), 'unconfirmed')).toEqual([{ type: 'unconfirmed', messages: 5, copies: 2 }]);
  });
});

type Op =
  | { readonly op: 'send' }
  | { readonly op: 'serverSend' }
  | { readonly op: 'toServer' }
  | { readonly op: 'toClient' }
  | { readonly op: 'cut' }
  | { readonly op: 'restart' }
  | { readonly op: 'open' }
  | { readonly op: 'advance'; readonly ms: number }
  | { readonly op: 'work'; readonly on: boolean };

const ops: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Op>({ op: 'send' }) },
  { weight: 3, arbitrary: fc.constant<Op>({ op: 'serverSend' }) },
  { weight: 5, arbitrary: fc.constant<Op>({ op: 'toServer' }) },
  { weight: 5, arbitrary: fc.constant<Op>({ op: 'toClient' }) },
  { weight: 1, arbitrary: fc.constant<Op>({ op: 'cut' }) },
  { weight: 2, arbitrary: fc.constant<Op>({ op: 'open' }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 200 }).map<Op>((ms) => ({ op: 'advance', ms })) },
  { weight: 1, arbitrary: fc.boolean().map<Op>((on) => ({ op: 'work', on })) },
);

function run(net: ResumeNet, sequence: readonly Op[], restarts: boolean): { sent: number[]; serverSent: number[] } {
  const sent: number[] = [];
  const serverSent: number[] = [];
  let next = 1;
  let working = false;
  for (const step of sequence) {
    switch (step.op) {
      case 'send':
        net.send(next);
        sent.push(next++);
        break;
      case 'serverSend':
        net.server.send(1_000_000 + next);
        serverSent.push(1_000_000 + next++);
        break;
      case 'toServer':
        net.deliverToServer();
        break;
      case 'toClient':
        net.deliverToClient();
        break;
      case 'cut':
        net.cut();
        break;
      case 'restart':
        if (restarts) net.restartServer();
        break;
      case 'open':
        net.open();
        break;
      case 'advance':
        net.advance(step.ms);
        break;
      case 'work':
        if (step.on !== working) net.apply({ type: step.on ? 'start' : 'stop', reason: 'work' });
        working = step.on;
        break;
    }
  }
  return { sent, serverSent };
}

describe('B14: properties over a simulated network (client machine and a v1 server end)', () => {
  test.prop([fc.array(ops, { maxLength: 120 }), fc.boolean()])(
    'B14: while the server lives, every accepted message is delivered exactly once and in order both ways; after healing, all are',
    (sequence, canPing) => {
      const net = new ResumeNet({ resume: resumable() }, canPing);
      const { sent, serverSent } = run(net, sequence, false);
      const accepted = net.accepted;
      const delivered = net.server.delivered[0] ?? [];
      // Exactly once, in order: what the server delivered is a prefix of what the client accepted.
      expect(delivered).toEqual(accepted.slice(0, delivered.length));
      expect(net.delivered).toEqual(net.server.accepted.slice(0, net.delivered.length));
      expect(accepted).toEqual(sent.filter((id) => !net.refused.includes(id)));
      expect(net.handedBack).toEqual([]);
      expect(net.violations).toEqual([]);
      net.settle();
      expect(net.server.delivered[0]).toEqual(accepted);
      // The server's messages for a session the client never learnt of (its hello lost in a cut) are handed back at the
      // server end when the client starts a new one.
      expect(net.delivered).toEqual(serverSent.filter((id) => net.server.accepted.includes(id) && !net.server.lostInRestart.includes(id)));
      expect(net.kept.size).toBe(0);
    },
  );

  test.prop([fc.array(fc.oneof({ weight: 12, arbitrary: ops }, { weight: 1, arbitrary: fc.constant<Op>({ op: 'restart' }) }), { maxLength: 120 })])(
    'B14: across server restarts nothing is silent: each accepted message is delivered once per server lifetime, handed back, or still kept',
    (sequence) => {
      const net = new ResumeNet({ resume: resumable() });
      run(net, sequence, true);
      net.settle();
      const deliveredSomewhere = new Set(net.server.delivered.flat());
      for (const lifetime of net.server.delivered) expect(new Set(lifetime).size).toBe(lifetime.length);
      for (const id of net.accepted) expect(deliveredSomewhere.has(id) || net.handedBack.includes(id) || [...net.kept.values()].includes(id)).toBe(true);
      // Every forgotten event handed back exactly the messages counted in it.
      const counted = eventsOf(net.events, 'forgotten').reduce((sum, event) => sum + event.messages, 0);
      expect(net.handedBack).toHaveLength(counted);
      expect(new Set(net.delivered).size).toBe(net.delivered.length);
      expect(net.violations).toEqual([]);
    },
  );
});
