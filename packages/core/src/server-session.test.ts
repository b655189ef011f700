import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  admitConnection,
  canResumeSession,
  createServerSessionState,
  isEvictable,
  serverSessionDeadline,
  serverSessionStep,
  type AdmissionRequest,
  type ServerSessionCommand,
  type ServerSessionEvent,
  type ServerSessionState,
} from './index.js';

/** The server end of a resumable session (B14): admission, and how long a session outlives its connections. */

const TTL = 1_000;
const SHORT = 300;

function run(events: readonly ServerSessionEvent[], state = createServerSessionState(TTL, 0)): { state: ServerSessionState; commands: ServerSessionCommand[] } {
  const commands: ServerSessionCommand[] = [];
  let current = state;
  for (const event of events) current = serverSessionStep(current, event, commands);
  return { state: current, commands };
}

describe('the lifetime of a server-side session (B14)', () => {
  it('a new session is away with nothing armed until its first connection; attached, nothing of its own is armed', () => {
    const created = createServerSessionState(TTL, 5);
    expect(created.phase).toBe('away');
    expect(serverSessionDeadline(created)).toBeNull();
    const { state, commands } = run([{ type: 'attach', now: 5, status: 'new' }], created);
    expect(state.phase).toBe('attached');
    expect(commands).toEqual([]);
    expect(serverSessionDeadline(state)).toBeNull();
  });

  it('B14: a connection lost with any code but 1000 leaves the session waiting ttlMs for its client; it expires then, with how long it was away', () => {
    const { state, commands } = run([
      { type: 'attach', now: 0, status: 'new' },
      { type: 'detach', now: 200, code: 1006 },
    ]);
    expect(state.phase).toBe('away');
    expect(serverSessionDeadline(state)).toBe(200 + TTL);
    expect(commands).toEqual([]);
    const early = run([{ type: 'timeout', now: 200 + TTL - 1 }], state);
    expect(early.state).toBe(state);
    expect(early.commands).toEqual([]);
    const due = run([{ type: 'timeout', now: 200 + TTL + 7 }], state);
    expect(due.state.phase).toBe('ended');
    expect(due.commands).toEqual([{ type: 'expired', awayMs: TTL + 7 }]);
    expect(serverSessionDeadline(due.state)).toBeNull();
  });

  it('B14: the client coming back in time cancels the expiry and is told how long it was away', () => {
    const { state, commands } = run([
      { type: 'attach', now: 0, status: 'new' },
      { type: 'detach', now: 100, code: 1001 },
      { type: 'attach', now: 350, status: 'resumed' },
      { type: 'timeout', now: 100 + TTL },
    ]);
    expect(state.phase).toBe('attached');
    expect(commands).toEqual([{ type: 'resumed', awayMs: 250 }]);
  });

  it('B14: a client that closes with 1000 ends its session at once (nothing waits for it)', () => {
    const { state, commands } = run([
      { type: 'attach', now: 0, status: 'new' },
      { type: 'detach', now: 10, code: 1000 },
    ]);
    expect(state.phase).toBe('ended');
    expect(commands).toEqual([{ type: 'ended', by: 'client' }]);
  });

  it('a newer connection while one is attached (a half-open one) replaces it: away 0 ms', () => {
    const { state, commands } = run([
      { type: 'attach', now: 0, status: 'new' },
      { type: 'attach', now: 500, status: 'resumed' },
    ]);
    expect(state.phase).toBe('attached');
    expect(commands).toEqual([{ type: 'replace' }, { type: 'resumed', awayMs: 0 }]);
  });

  it('the server ends it from any phase but ended; once ended, nothing applies', () => {
    const attached = run([{ type: 'attach', now: 0, status: 'new' }, { type: 'end', now: 1 }]);
    expect(attached.commands).toEqual([{ type: 'ended', by: 'server' }]);
    const away = run([{ type: 'attach', now: 0, status: 'new' }, { type: 'detach', now: 1, code: 1006 }, { type: 'end', now: 2 }]);
    expect(away.commands).toEqual([{ type: 'ended', by: 'server' }]);
    expect(serverSessionDeadline(away.state)).toBeNull();
    const after = run([{ type: 'attach', now: 3, status: 'resumed' }, { type: 'end', now: 4 }, { type: 'timeout', now: 10_000 }], away.state);
    expect(after.state).toBe(away.state);
    expect(after.commands).toEqual([]);
  });

  it('a detach while away (a connection already let go) changes nothing', () => {
    const away = createServerSessionState(TTL, 0);
    expect(run([{ type: 'detach', now: 5, code: 1006 }], away).state).toBe(away);
  });

  it('a client cannot have delivered more than was ever written to it, nor less than it acknowledged', () => {
    const session = { proven: true, written: 4, ackedThrough: 1 };
    expect(canResumeSession(session, 4)).toBe(true);
    expect(canResumeSession(session, 1)).toBe(true);
    expect(canResumeSession(session, 5)).toBe(false);
    expect(canResumeSession({ proven: true, written: 4, ackedThrough: 3 }, 2)).toBe(false);
    // B17: whatever the count, never without the secret.
    expect(canResumeSession({ ...session, proven: false }, 4)).toBe(false);
  });

  it('B17: an unconfirmed session (its client never wrote after the hello) is kept only unconfirmedTtlMs once its connection is lost, and may be evicted', () => {
    const fresh = createServerSessionState(TTL, 0, SHORT);
    const lost = run([{ type: 'attach', now: 0, status: 'new' }, { type: 'detach', now: 10, code: 1006 }], fresh);
    expect(lost.state.expiresAt).toBe(10 + SHORT);
    expect(isEvictable(lost.state)).toBe(true);
    const evicted = run([{ type: 'evict', now: 20 }], lost.state);
    expect(evicted.commands).toEqual([{ type: 'expired', awayMs: 10 }]);
    expect(evicted.state.phase).toBe('ended');
    // Confirmed: the full ttl, and never evicted.
    const kept = run([{ type: 'attach', now: 0, status: 'new' }, { type: 'confirm', now: 1 }, { type: 'detach', now: 10, code: 1006 }, { type: 'evict', now: 20 }], fresh);
    expect(kept.state.expiresAt).toBe(10 + TTL);
    expect(kept.commands).toEqual([]);
    expect(isEvictable(kept.state)).toBe(false);
    // Attached (even unconfirmed) is never evicted; a confirm while away changes nothing.
    const attached = run([{ type: 'attach', now: 0, status: 'new' }, { type: 'evict', now: 20 }], fresh);
    expect(attached.state.phase).toBe('attached');
    expect(run([{ type: 'confirm', now: 1 }], fresh).state).toBe(fresh);
    // Restored sessions start confirmed; the short ttl is never longer than the ttl.
    expect(createServerSessionState(TTL, 0, 5_000, true).confirmed).toBe(true);
    expect(createServerSessionState(1_000, 0, 5_000).unconfirmedTtlMs).toBe(1_000);
  });

  const event: fc.Arbitrary<ServerSessionEvent> = fc.oneof(
    fc.record({ type: fc.constant('attach' as const), now: fc.integer({ min: 0, max: 5_000 }), status: fc.constantFrom('new' as const, 'resumed' as const) }),
    fc.record({ type: fc.constant('detach' as const), now: fc.integer({ min: 0, max: 5_000 }), code: fc.constantFrom(1000, 1001, 1006, 1011, 4001) }),
    fc.record({ type: fc.constant('timeout' as const), now: fc.integer({ min: 0, max: 5_000 }) }),
    fc.record({ type: fc.constant('end' as const), now: fc.integer({ min: 0, max: 5_000 }) }),
    fc.record({ type: fc.constant('confirm' as const), now: fc.integer({ min: 0, max: 5_000 }) }),
    fc.record({ type: fc.constant('evict' as const), now: fc.integer({ min: 0, max: 5_000 }) }),
  );

  test.prop([fc.array(event, { maxLength: 60 })])(
    'B14 for all event sequences: it ends at most once and stays ended; it expires only while away and at or after ttlMs past the loss; an expiry is armed exactly while away after a loss',
    (events) => {
      // Time is monotonic: each event's time is at least the one before.
      let clock = 0;
      const timed = events.map((e) => {
        clock = Math.max(clock, e.now);
        return { ...e, now: clock };
      });
      let state = createServerSessionState(TTL, 0, SHORT);
      let endings = 0;
      let lostAt: number | null = null;
      let confirmed = false;
      for (const e of timed) {
        const out: ServerSessionCommand[] = [];
        const before = state;
        state = serverSessionStep(state, e, out);
        for (const command of out) {
          if (command.type === 'ended' || command.type === 'expired') endings++;
          if (command.type === 'expired') {
            expect(before.phase).toBe('away');
            // B17: only an unconfirmed session is evicted; an expiry waits its ttl after the loss.
            if (e.type === 'evict') expect(before.confirmed).toBe(false);
            else {
              expect(lostAt).not.toBeNull();
              expect(e.now).toBeGreaterThanOrEqual(lostAt! + (confirmed ? TTL : SHORT));
            }
          }
          if (command.type === 'replace') expect(before.phase).toBe('attached');
        }
        if (before.phase === 'ended') {
          expect(state).toBe(before);
          expect(out).toEqual([]);
        }
        if (e.type === 'detach' && before.phase === 'attached') lostAt = e.now;
        if (e.type === 'confirm' && before.phase === 'attached') confirmed = true;
        expect(state.confirmed).toBe(confirmed);
        expect(state.phase === 'ended').toBe(endings > 0);
        expect(serverSessionDeadline(state) !== null).toBe(state.phase === 'away' && lostAt !== null && state.expiresAt !== null);
        if (state.phase === 'away' && state.expiresAt !== null) expect(state.expiresAt).toBe(lostAt! + (confirmed ? TTL : SHORT));
      }
      expect(endings).toBeLessThanOrEqual(1);
    },
  );
});

describe('admission: where a connection goes (B14, B17)', () => {
  const base: AdmissionRequest = { named: true, delivered: 3, held: null, stored: null, sessions: 0, maxSessions: 10, evictable: false };
  const proven = { proven: true, written: 5, ackedThrough: 2 };

  it('a client that names no session gets a new one; a full hub evicts an unconfirmed session for it, or refuses it (1013)', () => {
    expect(admitConnection({ ...base, named: false })).toEqual({ kind: 'new', forgotten: false, unknown: null, evict: false });
    expect(admitConnection({ ...base, named: false, sessions: 10 })).toEqual({ kind: 'refuse', reason: 'full', unknown: null });
    expect(admitConnection({ ...base, named: false, sessions: 10, evictable: true })).toEqual({ kind: 'new', forgotten: false, unknown: null, evict: true });
  });

  it('B17: a held session is resumed only with its secret; a wrong proof is refused and changes nothing, full hub or not', () => {
    expect(admitConnection({ ...base, held: proven })).toEqual({ kind: 'resume' });
    // Resuming needs no room: it is held already.
    expect(admitConnection({ ...base, held: proven, sessions: 10 })).toEqual({ kind: 'resume' });
    expect(admitConnection({ ...base, held: { ...proven, proven: false } })).toEqual({ kind: 'refuse', reason: 'proof', unknown: null });
    expect(admitConnection({ ...base, held: { ...proven, proven: false }, sessions: 10, evictable: true })).toEqual({ kind: 'refuse', reason: 'proof', unknown: null });
    // The secret, with a count the session cannot have: forgotten, with a new one.
    expect(admitConnection({ ...base, held: { proven: true, written: 2, ackedThrough: 0 } })).toEqual({ kind: 'new', forgotten: true, unknown: 'impossible_delivered', evict: false });
  });

  it('B17: a stored session (another process held it) is restored only with its secret, and when there is room', () => {
    expect(admitConnection({ ...base, stored: { proven: true, written: 3, ackedThrough: 3 } })).toEqual({ kind: 'restore', evict: false });
    expect(admitConnection({ ...base, stored: { proven: false, written: 3, ackedThrough: 3 } })).toEqual({ kind: 'refuse', reason: 'proof', unknown: null });
    expect(admitConnection({ ...base, stored: { proven: true, written: 1, ackedThrough: 0 } })).toEqual({ kind: 'new', forgotten: true, unknown: 'unrestorable', evict: false });
    expect(admitConnection({ ...base, stored: 'invalid' })).toEqual({ kind: 'new', forgotten: true, unknown: 'unrestorable', evict: false });
    // Full: try again later (the stored copy is kept for the next try), or make room.
    expect(admitConnection({ ...base, stored: { proven: true, written: 3, ackedThrough: 3 }, sessions: 10 })).toEqual({ kind: 'refuse', reason: 'full', unknown: null });
    expect(admitConnection({ ...base, stored: { proven: true, written: 3, ackedThrough: 3 }, sessions: 10, evictable: true })).toEqual({ kind: 'restore', evict: true });
  });

  it('a named session known nowhere: forgotten, with a new one', () => {
    expect(admitConnection(base)).toEqual({ kind: 'new', forgotten: true, unknown: 'unknown', evict: false });
  });

  const candidate = fc.record({ proven: fc.boolean(), written: fc.integer({ min: 0, max: 20 }), ackedThrough: fc.integer({ min: 0, max: 20 }) });
  test.prop([
    fc.record({
      named: fc.boolean(),
      delivered: fc.integer({ min: 0, max: 25 }),
      held: fc.option(candidate, { nil: null }),
      stored: fc.oneof(fc.constant(null), fc.constant('invalid' as const), candidate),
      sessions: fc.integer({ min: 0, max: 12 }),
      maxSessions: fc.integer({ min: 1, max: 10 }),
      evictable: fc.boolean(),
    }),
  ])(
    'B17 for all requests: a session is resumed or restored only by a client that proved its secret and can be its own; a named session that exists is never replaced by a new one for a wrong proof; a new session never past maxSessions without an eviction; a client that named none is never forgotten',
    (request) => {
      const admission = admitConnection(request);
      const full = request.sessions >= request.maxSessions;
      const exists = request.named && (request.held ?? request.stored) !== null;
      const unproven = request.named && (request.held !== null ? !request.held.proven : request.stored !== null && request.stored !== 'invalid' && !request.stored.proven);
      if (unproven) expect(admission).toEqual({ kind: 'refuse', reason: 'proof', unknown: null });
      if (admission.kind === 'resume') {
        expect(request.named && request.held !== null && canResumeSession(request.held, request.delivered)).toBe(true);
      }
      if (admission.kind === 'restore') {
        const stored = request.stored;
        expect(request.named && request.held === null && (!full || request.evictable) && stored !== null && stored !== 'invalid' && canResumeSession(stored, request.delivered)).toBe(true);
        expect(admission.evict).toBe(full);
      }
      if (admission.kind === 'new') {
        expect(!full || request.evictable).toBe(true);
        expect(admission.evict).toBe(full);
        expect(admission.forgotten).toBe(request.named);
        if (exists) expect(unproven).toBe(false);
      }
      if (admission.kind === 'refuse' && admission.reason === 'full') expect(full && !request.evictable).toBe(true);
    },
  );
});
