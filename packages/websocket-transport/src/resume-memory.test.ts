import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createScheduler } from '@keepalive/node-timers';
import { manualPlatform } from 'keepalive-test-support';
import { createSessionHub, type ResumeSocket } from './resume-server.js';
import { query } from './test-support/hub-socket.js';

// A full collection on demand, without restarting the worker with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A socket that takes every frame and forgets it. */
const quiet: ResumeSocket = { send: () => undefined, close: () => undefined };

/** Whether `ref`'s target survives a full collection (after the microtasks that might still hold it ran). */
async function survives(ref: WeakRef<object>): Promise<boolean> {
  for (let round = 0; round < 3; round++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() !== undefined;
}

describe('B14 memory: a connection does not hold what its adapter passed for the handshake', () => {
  it('the context (on Node, the socket and the upgrade request) is let go once the session event carried it', async () => {
    const hub = createSessionHub<{ request: object }>({ scheduler: createScheduler({ platform: manualPlatform() }) });
    let seen = 0;
    hub.on('session', (event) => {
      seen++;
      expect(event.context.request).toBeTypeOf('object');
    });
    let refs: WeakRef<object>[] = [];
    const handles = (() => {
      const made = [];
      for (let i = 0; i < 20; i++) {
        const context = { request: { headers: { cookie: 'x'.repeat(256) } } };
        refs.push(new WeakRef(context.request));
        made.push(hub.connect(quiet, query({ ka: '2' }), context));
      }
      return made;
    })();
    expect(seen).toBe(20);
    expect(handles.every((handle) => handle?.attached === true)).toBe(true);
    // The sessions and their connections are alive; the requests are not.
    expect(hub.stats()).toMatchObject({ sessions: 20, connected: 20 });
    const alive = await Promise.all(refs.map((ref) => survives(ref)));
    expect(alive.filter(Boolean)).toHaveLength(0);
    refs = [];
    hub.close();
  });

  it('a refused handshake lets its context go too, after the refused event carried it', async () => {
    const hub = createSessionHub<{ request: object }>({ scheduler: createScheduler({ platform: manualPlatform() }), admit: () => false });
    const reasons: string[] = [];
    hub.on('refused', (event) => {
      reasons.push(event.reason);
      expect(event.context.request).toBeTypeOf('object');
    });
    let request: object | null = {};
    const ref = new WeakRef(request);
    const handle = hub.connect(quiet, query({ ka: '2' }), { request });
    await Promise.resolve();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(reasons).toEqual(['admission']);
    expect(handle).not.toBeNull();
    request = null;
    expect(await survives(ref)).toBe(false);
    hub.close();
  });
});
