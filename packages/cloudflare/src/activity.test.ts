import { join } from 'node:path';
import { serialize } from 'node:v8';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PreviousActivity } from './index.js';
import { PACKAGE_DIR, bundleWorker, startWorkerd, within } from './test-support/workerd.js';

/**
 * The session activity of a Durable Object across its instances, on the real runtime: workerd (through Miniflare)
 * runs src/test-support/activity-worker.mjs, whose object does work with `createDurableActivity` (heartbeat 100 ms,
 * idle notice 300 ms after the work), and is restarted (`ctx.abort()`) with work in flight or with its idle notice
 * pending.
 */

interface State {
  readonly instance: number;
  readonly previous: PreviousActivity | null;
  readonly snapshot: { total: number; counts: Record<string, number> };
}
interface Logged {
  readonly instance: number;
  readonly at: number;
  readonly name: string;
  readonly fields: Record<string, unknown>;
}

let mf: Miniflare;
let http: string;

beforeAll(async () => {
  const script = await bundleWorker(join(PACKAGE_DIR, 'src/test-support/activity-worker.mjs'));
  ({ mf, http } = await startWorkerd(script, { durableObjects: { WORKING: 'Working' } }));
});

afterAll(async () => {
  await mf.dispose();
});

async function act(object: string, action: string, query = ''): Promise<State> {
  const response = await mf.dispatchFetch(`${http}/${object}?do=${action}${query}`);
  return (await response.json()) as State;
}

async function restart(object: string): Promise<void> {
  await mf.dispatchFetch(`${http}/${object}?do=abort`).catch(() => undefined);
}

async function logged(): Promise<Logged[]> {
  const response = await mf.dispatchFetch(`${http}/__log`);
  return ((await response.json()) as { diagnostics: Logged[] }).diagnostics;
}

describe('createDurableActivity: what an instance was doing outlives it', () => {
  it('S9: an object restarted with work in flight: the next instance gives the shutdown report it never gave, once, with its counts and age', async () => {
    // Taken before the first start: the object's own start time is later, so the age it reports is at most `age`.
    const startedAt = Date.now();
    const first = await act('busy', 'start', '&reason=tool_exec');
    await act('busy', 'start', '&reason=model_call');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await restart('busy');
    const second = await act('busy', 'state');
    const age = Date.now() - startedAt;
    console.log(`workerd, restart with work in flight: the next instance reported ${JSON.stringify(second.previous?.report)} (${String(age)} ms after the work started)`);
    expect(second.instance).toBeGreaterThan(first.instance);
    expect(second.previous?.report).toMatchObject({ total: 2, active: { tool_exec: 1, model_call: 1 } });
    expect(second.previous?.report?.oldestActivityMs).toBeGreaterThanOrEqual(190);
    expect(second.previous?.report?.oldestActivityMs).toBeLessThanOrEqual(age + 50);
    // Its work went with it: the new instance is idle, and a further restart has nothing to report.
    expect(second.snapshot.total).toBe(0);
    await restart('busy');
    const third = await act('busy', 'state');
    expect(third.previous).toEqual({ report: null, idleNotice: false });
    const reports = (await logged()).filter((entry) => entry.name === 'activity_at_shutdown');
    expect(reports).toHaveLength(1);
    expect(reports[0]?.fields).toMatchObject({ total: 2, previous_instance: true });
  });

  it('S6: an object restarted before its idle notice was due: the next instance gives it when due, once, measured from when the work ended', async () => {
    await act('idle', 'start');
    await new Promise((resolve) => setTimeout(resolve, 150));
    await act('idle', 'stop');
    const endedAt = Date.now();
    await restart('idle');
    const next = await act('idle', 'state');
    expect(next.previous).toEqual({ report: null, idleNotice: true });
    const notice = await within(
      (async () => {
        for (let i = 0; i < 200; i++) {
          const found = (await logged()).filter((entry) => entry.name === 'idle');
          if (found.length > 0) return found;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return [];
      })(),
      5_000,
      'the idle notice',
    );
    const given = notice[0] as Logged;
    console.log(`workerd, restart before the idle notice (300 ms): given by instance ${String(given.instance)} ${String(given.at - endedAt)} ms after the work ended, idle_ms ${String(given.fields.idle_ms)}`);
    expect(given.instance).toBe(next.instance);
    expect(given.fields.previous_instance).toBe(true);
    expect(given.at - endedAt).toBeGreaterThanOrEqual(280);
    expect(given.at - endedAt).toBeLessThan(1_000);
    expect(given.fields.idle_ms as number).toBeGreaterThanOrEqual(280);
    // Once: not again by a later instance.
    await restart('idle');
    expect((await act('idle', 'state')).previous).toEqual({ report: null, idleNotice: false });
    expect((await logged()).filter((entry) => entry.name === 'idle')).toHaveLength(1);
  });

  it('the record is bounded: 40 reasons in flight are kept as 32 and `other`, in well under 2 KiB', async () => {
    await act('many', 'start', '&reason=reason_with_a_long_name&n=40');
    const record = (await (await mf.dispatchFetch(`${http}/many?do=storage`)).json()) as { total: number; counts: Record<string, number> };
    const bytes = serialize(record).byteLength;
    console.log(`activity record with 40 reasons in flight: ${String(bytes)} bytes serialized`);
    expect(record.total).toBe(40);
    expect(Object.keys(record.counts)).toHaveLength(33);
    expect(record.counts.other).toBe(8);
    expect(bytes).toBeLessThan(2_048);
    await act('many', 'stop');
  });
});
