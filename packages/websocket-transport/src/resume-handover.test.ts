import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '@keepalive/core';
import { createScheduler } from '@keepalive/node-timers';
import { manualPlatform } from 'keepalive-test-support';
import {
  SESSION_HUB_DIAGNOSTICS,
  SessionEndedError,
  createSessionHub,
  type ResumableSession,
  type SessionCloseEvent,
} from './resume-server.js';
import type { SessionStore, StoredSession } from './resume-store.js';
import { Wire, query } from './test-support/hub-socket.js';

/**
 * How a hub closes (spec B14): by default it hands its sessions over to its store (a graceful restart: the next
 * process resumes them), and ends them only when asked or when it has no store. The hub alone on a manual clock, with
 * a store double that records what the hub hands it (the Redis store runs the same path in `@keepalive/redis`'s tests,
 * across real processes).
 */

/** A store that keeps the latest `read` of each session and lets the test settle its `flush`. */
class RecordingStore implements SessionStore {
  readonly saved = new Map<string, () => StoredSession>();
  readonly removed: string[] = [];
  flushes = 0;
  private release: ((ok: boolean) => void) | null = null;
  proof(id: string): Promise<string | null> {
    return Promise.resolve(this.saved.get(id)?.().proof ?? null);
  }
  load(id: string): Promise<StoredSession | null> {
    return Promise.resolve(this.saved.get(id)?.() ?? null);
  }
  save(id: string, read: () => StoredSession): void {
    this.saved.set(id, read);
  }
  remove(id: string): void {
    this.removed.push(id);
    this.saved.delete(id);
  }
  flush(): Promise<void> {
    this.flushes++;
    return new Promise((resolve, reject) => {
      this.release = (ok) => {
        if (ok) resolve();
        else reject(new Error('not written'));
      };
    });
  }
  /** Settles the pending flush: written (`true`) or failed. */
  settle(ok: boolean): void {
    this.release?.(ok);
    this.release = null;
  }
}

function hubWith(store: SessionStore | null) {
  const platform = manualPlatform();
  const diagnostics: Diagnostic[] = [];
  const hub = createSessionHub({ scheduler: createScheduler({ platform }), onDiagnostic: (d) => diagnostics.push(d), ...(store === null ? {} : { store }) });
  const sessions: ResumableSession[] = [];
  const closes: SessionCloseEvent[] = [];
  const delivered: string[] = [];
  hub.on('session', ({ session }) => {
    sessions.push(session);
    session.on('close', (close) => closes.push(close));
    session.on('message', (message) => delivered.push(typeof message === 'string' ? message : 'binary'));
  });
  /** A client with a new session that wrote `text` (delivered) and was sent `reply` (unacknowledged). */
  const client = (text: string, reply: string) => {
    const wire = new Wire();
    const handle = hub.connect(wire, query({ ka: '2' }));
    if (handle === null) throw new Error('not connected');
    expect(handle.message(text, false)).toBe('data');
    const session = sessions.at(-1) as ResumableSession;
    expect(session.send(reply)).toBe('sent');
    return { wire, handle, session };
  };
  const named = (name: string) => diagnostics.filter((d) => d.name === name);
  return { hub, client, sessions, closes, delivered, named };
}

/** Lets promise callbacks run (bounded). */
async function settled(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('closing a hub: hand-over by default, ending for good on request (B14)', () => {
  it('B14: with a store, close() hands every session over: nothing removed from the store, close says handedOver and hands nothing back, later frames are not read, and the sockets close with 1012 only once the store flushed', async () => {
    const store = new RecordingStore();
    const { hub, client, closes, delivered, named } = hubWith(store);
    const a = client('from a', 'to a');
    const b = client('from b', 'to b');
    // b's client is away (a cut connection): its session waits, and is handed over as well.
    b.handle.closed(1006);
    hub.close();
    expect(store.flushes).toBe(1);
    expect(store.removed).toEqual([]);
    expect(closes).toEqual([
      { by: 'server', code: 1012, reason: 'service restart', unacked: [], handedOver: true },
      { by: 'server', code: 1012, reason: 'service restart', unacked: [], handedOver: true },
    ]);
    expect(a.session.ended).toBe(true);
    expect(() => a.session.send('too late')).toThrow(SessionEndedError);
    // What the store writes is each session's last state, with the messages its client has not acknowledged.
    expect(store.saved.get(a.session.id)?.()).toMatchObject({ deliveredThrough: 1, ackedThrough: 0, transmittedThrough: 1, unacked: ['to a'] });
    expect(store.saved.get(b.session.id)?.()).toMatchObject({ deliveredThrough: 1, unacked: ['to b'] });
    // A frame that arrives now is not read (its client sends it again where it resumes), and the socket is still open.
    expect(a.handle.message('after close', false)).toBe('ignored');
    expect(delivered).toEqual(['from a', 'from b']);
    expect(a.wire.closedWith).toBeNull();
    let done = false;
    void hub.closed.then(() => (done = true));
    await settled();
    expect(done).toBe(false);
    store.settle(true);
    await hub.closed;
    expect(a.wire.closedWith).toEqual([1012, 'service restart']);
    expect(hub.stats()).toMatchObject({ sessions: 0, connected: 0, handedOver: 2, ended: 0 });
    expect(named(SESSION_HUB_DIAGNOSTICS.sessionsHandedOver).map((d) => d.fields)).toEqual([{ sessions: 2, ms: 0 }]);
    expect(named(SESSION_HUB_DIAGNOSTICS.sessionClosed)).toEqual([]);
    // Closed: no more connections; a second close changes nothing.
    expect(hub.connect(new Wire(), query({ ka: '2' }))).toBeNull();
    hub.close({ endSessions: true });
    expect(store.removed).toEqual([]);
  });

  it('B14: close({ endSessions: true }) ends every session for good: 1001 at once, the unacknowledged messages handed back, removed from the store; closed resolves once the store flushed the removals', async () => {
    const store = new RecordingStore();
    const { hub, client, closes, named } = hubWith(store);
    const a = client('from a', 'to a');
    hub.close({ endSessions: true });
    expect(a.wire.closedWith).toEqual([1001, 'going away']);
    expect(closes).toEqual([{ by: 'server', code: 1001, reason: 'going away', unacked: ['to a'], handedOver: false }]);
    expect(store.removed).toEqual([a.session.id]);
    expect(store.flushes).toBe(1);
    let done = false;
    void hub.closed.then(() => (done = true));
    await settled();
    expect(done).toBe(false);
    store.settle(true);
    await hub.closed;
    expect(hub.stats()).toMatchObject({ handedOver: 0, ended: 1 });
    expect(named(SESSION_HUB_DIAGNOSTICS.sessionsHandedOver)).toEqual([]);
  });

  it('B14: without a store close() ends every session (nothing outlives the process): 1001, handed back; closed resolves at once', async () => {
    const { hub, client, closes } = hubWith(null);
    const a = client('from a', 'to a');
    hub.close();
    expect(a.wire.closedWith).toEqual([1001, 'going away']);
    expect(closes).toEqual([{ by: 'server', code: 1001, reason: 'going away', unacked: ['to a'], handedOver: false }]);
    await hub.closed;
    expect(hub.stats()).toMatchObject({ handedOver: 0, ended: 1 });
  });

  it('B14: a store whose flush fails is reported (store_failed, op flush), the sockets are closed with 1012 all the same, and closed resolves', async () => {
    const store = new RecordingStore();
    const { hub, client, named } = hubWith(store);
    const a = client('from a', 'to a');
    hub.close();
    store.settle(false);
    await hub.closed;
    expect(a.wire.closedWith).toEqual([1012, 'service restart']);
    expect(named(SESSION_HUB_DIAGNOSTICS.storeFailed).map((d) => d.fields)).toEqual([{ op: 'flush', error: 'Error' }]);
    expect(named(SESSION_HUB_DIAGNOSTICS.sessionsHandedOver)).toEqual([]);
  });

  it('B14: a store without flush: the sessions are handed over and their sockets closed with 1012 at once', async () => {
    const store = new RecordingStore();
    const { hub, client } = hubWith({ proof: (id) => store.proof(id), load: (id) => store.load(id), save: (id, read) => store.save(id, read), remove: (id) => store.remove(id) });
    const a = client('from a', 'to a');
    hub.close();
    expect(a.wire.closedWith).toEqual([1012, 'service restart']);
    await hub.closed;
    expect(store.removed).toEqual([]);
  });

  it('close(options) refuses options that are not { endSessions?: boolean } (TypeError), and a refused call leaves the hub open', () => {
    const { hub, client } = hubWith(null);
    const a = client('from a', 'to a');
    expect(() => hub.close({ endSessions: 'yes' as unknown as boolean })).toThrow(TypeError);
    expect(() => hub.close(null as unknown as { endSessions: boolean })).toThrow(TypeError);
    expect(a.session.ended).toBe(false);
    hub.close({});
    expect(a.session.ended).toBe(true);
  });
});
