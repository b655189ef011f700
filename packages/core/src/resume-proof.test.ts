import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { ResumeNet } from './__tests__/resume-net.js';
import {
  BACK_OFF_CLOSE_CODES,
  TERMINAL_CLOSE_CODES,
  backoffCeiling,
  connectionDeadline,
  connectionStep,
  openConnection,
  resumable,
  type ConnectionCommand,
  type ConnectionEvent,
  type ConnectionState,
} from './index.js';
import { resumeOf } from './__tests__/slices.js';

/**
 * The client end of B17 (a session belongs to whoever holds its secret): the secret arrives in the hello that made
 * the session, never goes in a URL, and is written only in-band when the server challenges; 4001 and 1013 mean
 * "not now", so the client comes back, backing off.
 */

type Input = ConnectionEvent extends infer E ? (E extends unknown ? Omit<E, 'now'> & { now?: number } : never) : never;

class Driver {
  state: ConnectionState;
  now = 0;
  constructor(options: Parameters<typeof openConnection>[0]) {
    [this.state] = openConnection(options, 0, 1);
  }
  step(event: Input): ConnectionCommand[] {
    this.now = Math.max(this.now + 1, event.now ?? 0);
    const out: ConnectionCommand[] = [];
    this.state = connectionStep(this.state, { ...event, now: this.now }, out);
    return out;
  }
  fire(): ConnectionCommand[] {
    const at = connectionDeadline(this.state);
    if (at === null) throw new Error('nothing armed');
    return this.step({ type: 'timeout', now: at, random: 0.999 });
  }
}

const SECRET = 'c2VjcmV0LXNlY3JldC14eA';
const of = <T extends ConnectionCommand['type']>(out: readonly ConnectionCommand[], type: T) => out.filter((c): c is Extract<ConnectionCommand, { type: T }> => c.type === type);

describe('B17: the client proves its session in-band', () => {
  it('B17: the URL names the session and nothing else; the secret goes out once, in the proof, when challenged; the verdict hello brings the session up', () => {
    const d = new Driver({ resume: resumable(), reconnect: { initialDelayMs: 10, maxDelayMs: 10 } });
    d.step({ type: 'socket_opened', canPing: true });
    d.step({ type: 'hello', hello: { status: 'new', session: 'abc', secret: SECRET, delivered: 0 } });
    d.step({ type: 'inbound', frame: 'data' });
    d.step({ type: 'socket_closed', code: 1006, reason: '', random: 0 });
    const reopen = d.fire();
    // The ticket of the next URL: the public id only.
    expect(of(reopen, 'open_socket')[0]?.resume).toEqual({ session: 'abc' });
    expect(JSON.stringify(reopen)).not.toContain(SECRET);
    const opened = d.step({ type: 'socket_opened', canPing: true });
    expect(of(opened, 'send_proof')).toEqual([]);
    const challenged = d.step({ type: 'hello', hello: { status: 'prove' } });
    expect(of(challenged, 'send_proof')).toEqual([{ type: 'send_proof', secret: SECRET, delivered: 1 }]);
    // Not the session yet: still reading only hellos, nothing numbered is written.
    expect(of(challenged, 'codec')).toEqual([]);
    expect(of(challenged, 'transmit')).toEqual([]);
    expect(resumeOf(d.state)?.phase).toBe('waiting');
    const resumed = d.step({ type: 'hello', hello: { status: 'resumed', session: 'abc', delivered: 0 } });
    expect(of(resumed, 'codec')).toEqual([{ type: 'codec', mode: 'wire' }]);
    expect(of(resumed, 'event').map((c) => c.event)).toContainEqual({ type: 'session', status: 'resumed', retransmitted: 0 });
    // Diagnostics and user events never carry the secret (S10).
    const said = [...challenged, ...resumed].filter((c) => c.type === 'diagnostic' || c.type === 'event');
    expect(JSON.stringify(said)).not.toContain(SECRET);
  });

  it('B17: keep-alives while the client awaits the hello (pings, pongs, the plain heartbeat) decide nothing; application data means the server does not speak it', () => {
    const d = new Driver({ resume: resumable() });
    d.step({ type: 'socket_opened', canPing: true });
    for (const frame of ['ping', 'pong', 'heartbeat'] as const) {
      const out = d.step({ type: 'inbound', frame });
      expect(of(out, 'diagnostic').map((c) => c.name)).not.toContain('resume_unsupported');
      expect(resumeOf(d.state)?.phase).toBe('waiting');
    }
    const hello = d.step({ type: 'hello', hello: { status: 'new', session: 'abc', secret: SECRET, delivered: 0 } });
    expect(of(hello, 'event').map((c) => c.event)).toContainEqual({ type: 'session', status: 'new', retransmitted: 0 });
    // Against a server that does not speak it, data first: the fallback.
    const plain = new Driver({ resume: resumable() });
    plain.step({ type: 'socket_opened', canPing: true });
    const out = plain.step({ type: 'inbound', frame: 'data' });
    expect(of(out, 'diagnostic').map((c) => c.name)).toContain('resume_unsupported');
    expect(resumeOf(plain.state)?.phase).toBe('unsupported');
  });

  it('B17: no verdict within helloTimeoutMs after the proof (a slow admit hook or store) gives that connection up and reconnects, still resuming; it never falls back to plain delivery', () => {
    const d = new Driver({ resume: resumable({ helloTimeoutMs: 1_000 }), reconnect: { initialDelayMs: 10, maxDelayMs: 10 } });
    d.step({ type: 'socket_opened', canPing: true });
    d.step({ type: 'hello', hello: { status: 'new', session: 'abc', secret: SECRET, delivered: 0 } });
    d.step({ type: 'socket_closed', code: 1006, reason: '', random: 0 });
    d.fire();
    d.step({ type: 'socket_opened', canPing: true });
    d.step({ type: 'hello', hello: { status: 'prove' } });
    const stalled = d.fire();
    expect(of(stalled, 'diagnostic').map((c) => c.name)).toEqual(expect.arrayContaining(['verdict_timeout']));
    expect(of(stalled, 'diagnostic').map((c) => c.name)).not.toContain('resume_unsupported');
    expect(of(stalled, 'destroy_socket')).toHaveLength(1);
    expect(d.state.phase).toBe('backoff');
    // The next socket names the session again, and a prompt verdict resumes it.
    const reopen = d.fire();
    expect(of(reopen, 'open_socket')[0]?.resume).toEqual({ session: 'abc' });
    d.step({ type: 'socket_opened', canPing: true });
    expect(of(d.step({ type: 'hello', hello: { status: 'prove' } }), 'send_proof')).toHaveLength(1);
    const resumed = d.step({ type: 'hello', hello: { status: 'resumed', session: 'abc', delivered: 0 } });
    expect(of(resumed, 'event').map((c) => c.event)).toContainEqual({ type: 'session', status: 'resumed', retransmitted: 0 });
  });

  it('B17: a challenge to a client with no session, or a second hello, is a protocol error reported; no proof goes out', () => {
    const d = new Driver({ resume: resumable() });
    d.step({ type: 'socket_opened', canPing: true });
    const out = d.step({ type: 'hello', hello: { status: 'prove' } });
    expect(of(out, 'send_proof')).toEqual([]);
    expect(of(out, 'diagnostic').map((c) => c.name)).toContain('unexpected_hello');
  });

  it('B17: a forgotten session (the server knows it nowhere) hands the client a new secret; the next challenge is answered with it', () => {
    const sim = new ResumeNet({ resume: resumable() });
    sim.settle();
    sim.send(1);
    sim.settle();
    sim.restartServer();
    sim.settle();
    sim.cut();
    sim.settle();
    expect(sim.server.wrongProofs).toBe(0);
    const statuses = sim.events.flatMap((e) => (e.type === 'session' ? [e.status] : []));
    expect(statuses).toEqual(['new', 'forgotten', 'resumed']);
  });
});

describe('B17: 4001 and 1013 mean "not now": the client comes back, backing off', () => {
  it('B17: 4001 and 1013 are not terminal by default; 4401 and 4403 are', () => {
    expect(TERMINAL_CLOSE_CODES).not.toContain(4001);
    expect(TERMINAL_CLOSE_CODES).toEqual(expect.arrayContaining([4401, 4403]));
    expect(BACK_OFF_CLOSE_CODES).toEqual([1013, 4001]);
  });

  test.prop([fc.constantFrom(1013, 4001), fc.integer({ min: 1, max: 8 }), fc.double({ min: 0, max: 0.999_999, noNaN: true })])(
    'B17: after k closes with 1013 or 4001 the delay is at least half the backoff ceiling (equal jitter), whatever the draw; the client never ends rejected',
    (code, closes, random) => {
      const initialDelayMs = 100;
      const d = new Driver({ resume: resumable(), reconnect: { initialDelayMs, maxDelayMs: 10_000 } });
      for (let k = 1; k <= closes; k++) {
        d.step({ type: 'socket_opened', canPing: true });
        const out = d.step({ type: 'socket_closed', code, reason: 'not now', random });
        expect(of(out, 'event').map((c) => c.event.type)).not.toContain('rejected');
        const waiting = of(out, 'event').find((c) => c.event.type === 'reconnecting');
        const delay = waiting?.event.type === 'reconnecting' ? waiting.event.delayMs : -1;
        const ceiling = backoffCeiling(d.state.backoff.config, k);
        expect(delay).toBeGreaterThanOrEqual(Math.ceil(ceiling / 2));
        expect(delay).toBeLessThan(ceiling + 1);
        d.fire();
      }
    },
  );

  it('B6: any other loss keeps full jitter: a draw of 0 reconnects at once', () => {
    const d = new Driver({ reconnect: { initialDelayMs: 100, maxDelayMs: 10_000 } });
    d.step({ type: 'socket_opened', canPing: true });
    const out = d.step({ type: 'socket_closed', code: 1006, reason: '', random: 0 });
    expect(of(out, 'event').map((c) => c.event)).toContainEqual({ type: 'reconnecting', attempt: 1, delayMs: 0 });
  });
});
