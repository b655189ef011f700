import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '@keepalive/core';
import { createScheduler } from '@keepalive/node-timers';
import { manualPlatform } from 'keepalive-test-support';
import { RESUME_CLOSE_CODES, RESUME_CLOSE_REASONS, SESSION_HUB_DIAGNOSTICS, createSessionHub, isApplicationCloseCode, type SessionEvent } from './resume-server.js';
import type { SessionStore, StoredSession } from './resume-store.js';
import { secretDigest } from './resume-secret.js';
import { Wire } from './test-support/hub-socket.js';

/**
 * A socket of a session the hub holds no connection for (it proved the session before this process or instance
 * started: a Durable Object's socket after an eviction): the hub decides what its frame and its close mean (B14). On a
 * manual clock, with an in-memory store; every wait is a bounded run of microtasks.
 */

const ID = 'u'.repeat(22);
const SECRET = 'the-secret-of-the-owner';

/** A store holding one session (`ID`, two messages unacknowledged) whose loads are answered when `answer()` says so, or at once. */
function memoryStore(held = true, manual = false) {
  const stored = new Map<string, StoredSession>();
  if (held) stored.set(ID, { deliveredThrough: 3, ackedThrough: 1, transmittedThrough: 3, unacked: ['two', 'three'], proof: secretDigest(SECRET) });
  const removed: string[] = [];
  const loads: string[] = [];
  const pending: (() => void)[] = [];
  const store: SessionStore = {
    proof: (id) => Promise.resolve(stored.get(id)?.proof ?? null),
    load: (id) => {
      loads.push(id);
      const value = stored.get(id) ?? null;
      if (!manual) return Promise.resolve(value);
      return new Promise((resolve) => pending.push(() => resolve(value)));
    },
    save: () => undefined,
    remove: (id) => {
      removed.push(id);
      stored.delete(id);
    },
  };
  return { store, stored, removed, loads, answer: () => pending.splice(0).forEach((resolve) => resolve()) };
}

function hubWith(store: SessionStore | undefined) {
  const diagnostics: Diagnostic[] = [];
  const hub = createSessionHub({ scheduler: createScheduler({ platform: manualPlatform() }), onDiagnostic: (d) => diagnostics.push(d), ...(store === undefined ? {} : { store }) });
  return { hub, diagnostics, named: (name: string) => diagnostics.filter((d) => d.name === name) };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 30; i++) await Promise.resolve();
}

describe('SessionHub: sockets of sessions it holds no connection for (after an eviction)', () => {
  it('B14: a frame on such a socket hands it over: closed with 1012 (service restart); a socket that throws on close is reported, not thrown', () => {
    const { hub, named } = hubWith(memoryStore().store);
    const wire = new Wire();
    hub.unheldFrame(wire);
    expect(wire.closedWith).toEqual([RESUME_CLOSE_CODES.serviceRestart, RESUME_CLOSE_REASONS.serviceRestart]);
    expect(wire.sent).toEqual([]);
    const broken = new Wire();
    broken.failClose = true;
    expect(() => hub.unheldFrame(broken)).not.toThrow();
    expect(named(SESSION_HUB_DIAGNOSTICS.socketFailed).map((d) => d.fields)).toEqual([{ op: 'close', error: 'Error' }]);
    hub.close();
  });

  it('B14: the client ends the session (1000): the stored copy is read, then removed for good, reported with its unacknowledged count', async () => {
    const memory = memoryStore();
    const { hub, named } = hubWith(memory.store);
    expect(await hub.unheldClosed(ID, 1000)).toBe('ended');
    expect(memory.loads).toEqual([ID]);
    expect(memory.removed).toEqual([ID]);
    expect(memory.stored.has(ID)).toBe(false);
    expect(named(SESSION_HUB_DIAGNOSTICS.sessionEndedUnheld)).toEqual([{ type: 'diagnostic', level: 'warn', name: 'session_ended_unheld', fields: { code: 1000, messages: 2 } }]);
    expect(hub.stats()).toMatchObject({ ended: 1, sessions: 0 });
    // A client that comes back to it finds nothing: a new session.
    const events: SessionEvent[] = [];
    hub.on('session', (event) => events.push(event));
    hub.connect(new Wire(), (name) => ({ ka: '2', ka_s: ID })[name] ?? null)?.message(`\u0006P${SECRET} 3`, false);
    await settle();
    expect(events.map(({ resumed, restored }) => ({ resumed, restored }))).toEqual([{ resumed: false, restored: false }]);
    hub.close();
  });

  it('B14: any other close code keeps the session in the store for the client, reading and writing nothing', async () => {
    const memory = memoryStore();
    const { hub, diagnostics } = hubWith(memory.store);
    for (const code of [1001, 1005, 1006, 1011, 1012, 3000, 4000, 4999]) expect(await hub.unheldClosed(ID, code)).toBe('kept');
    expect(memory.loads).toEqual([]);
    expect(memory.removed).toEqual([]);
    expect(diagnostics).toEqual([]);
    expect(hub.stats().ended).toBe(0);
    hub.close();
  });

  it('B14: a socket that never proved a session, a hub without a store, and a closed hub decide nothing', async () => {
    const memory = memoryStore();
    const { hub } = hubWith(memory.store);
    expect(await hub.unheldClosed(null, 1000)).toBe('none');
    const plain = hubWith(undefined);
    expect(await plain.hub.unheldClosed(ID, 1000)).toBe('none');
    hub.close();
    expect(await hub.unheldClosed(ID, 1000)).toBe('none');
    expect(memory.loads).toEqual([]);
    expect(memory.removed).toEqual([]);
    plain.hub.close();
  });

  it('B14: a session the store does not have is removed anyway (nothing left behind) and reported as nothing ended; a store that fails is reported, never thrown', async () => {
    const empty = memoryStore(false);
    const { hub, diagnostics } = hubWith(empty.store);
    expect(await hub.unheldClosed(ID, 1000)).toBe('unknown');
    expect(empty.removed).toEqual([ID]);
    expect(diagnostics).toEqual([]);
    hub.close();
    const failing = hubWith({ ...memoryStore().store, load: () => Promise.reject(new TypeError('down')) });
    await expect(failing.hub.unheldClosed(ID, 1000)).resolves.toBe('unknown');
    expect(failing.named(SESSION_HUB_DIAGNOSTICS.storeFailed).map((d) => d.fields)).toEqual([{ op: 'load', error: 'TypeError' }]);
    failing.hub.close();
  });

  it('B17: a session held here (a newer connection proved it) is not the old socket\'s to end: kept, before or while the store answers', async () => {
    const memory = memoryStore(true, true);
    const { hub } = hubWith(memory.store);
    // The close of the old socket starts reading the store; meanwhile the client resumes on a new connection.
    const verdict = hub.unheldClosed(ID, 1000);
    const events: SessionEvent[] = [];
    hub.on('session', (event) => events.push(event));
    const fresh = new Wire();
    hub.connect(fresh, (name) => ({ ka: '2', ka_s: ID })[name] ?? null)?.message(`\u0006P${SECRET} 3`, false);
    for (let i = 0; i < 10 && events.length === 0; i++) {
      memory.answer();
      await settle();
    }
    expect(events.map(({ resumed, restored }) => ({ resumed, restored }))).toEqual([{ resumed: true, restored: true }]);
    expect(await verdict).toBe('kept');
    // Held now: a later close of another stale socket is kept without a read.
    const loads = memory.loads.length;
    expect(await hub.unheldClosed(ID, 1000)).toBe('kept');
    expect(memory.loads.length).toBe(loads);
    expect(memory.removed).toEqual([]);
    expect(fresh.closedWith).toBeNull();
    hub.close({ endSessions: true });
  });

  it('the close codes an application may send: 1000 and 3000–4999, integers only', () => {
    expect([1000, 3000, 4000, 4999].every((code) => isApplicationCloseCode(code))).toBe(true);
    expect([999, 1001, 1005, 1006, 1012, 2999, 5000, 3000.5, Number.NaN, '1000', null].some((code) => isApplicationCloseCode(code))).toBe(false);
  });
});
