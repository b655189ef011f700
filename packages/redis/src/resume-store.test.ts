import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeepaliveClient, resumable, type KeepaliveClient } from '@keepalive/websocket-transport';
import { RuntimeChild } from 'keepalive-test-support/runtime-child';
import { freePort, startRedisServer, type RedisServer } from 'keepalive-test-support/redis-server';
import { createRedisSessionStore, decodeStoredSession, encodeStoredSession } from './index.js';

const SERVER = fileURLToPath(new URL('./test-support/resume-server.mjs', import.meta.url));
const CWD = fileURLToPath(new URL('..', import.meta.url));

let redis: RedisServer;
const children: RuntimeChild[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await Promise.all(children.map((child) => child.stop(2_000)));
  await redis.stop();
});

async function startServer(port: number): Promise<RuntimeChild> {
  const child = new RuntimeChild(process.execPath, [SERVER, redis.url, String(port)], { cwd: CWD, timeoutMs: 60_000 });
  children.push(child);
  await child.line('listening', () => true, 10_000);
  return child;
}

async function until(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('resume across processes (Redis session store)', () => {
  it('B14: a client resumed on a second process after the first is killed (SIGKILL) loses nothing and duplicates nothing', async () => {
    const port = await freePort();
    const first = await startServer(port);
    const client: KeepaliveClient = createKeepaliveClient(`ws://127.0.0.1:${String(port)}`, { resume: resumable(), reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    const received: string[] = [];
    const statuses: string[] = [];
    client.on('message', ({ data }) => received.push(String(data)));
    client.on('session', ({ status }) => statuses.push(status));
    const forgotten: unknown[] = [];
    client.on('forgotten', (event) => forgotten.push(event));
    try {
      await until('session', () => statuses.length === 1);
      for (let i = 1; i <= 50; i++) client.send(`m${String(i)}`);
      await until('50 echoes', () => received.length === 50);
      // What the first process delivered is in Redis before it dies (the store writes within a few ms).
      first.command({ cmd: 'flush' });
      await first.line('flushed');
      first.kill();
      await first.exited;
      // The client is away: what it sends now is queued and goes to whichever process it resumes on.
      for (let i = 51; i <= 60; i++) client.send(`m${String(i)}`);
      const second = await startServer(port);
      await until('resumed on the second process', () => statuses.length === 2);
      for (let i = 61; i <= 100; i++) client.send(`m${String(i)}`);
      await until('100 echoes', () => received.length >= 100);
      // Settled: nothing more arrives.
      second.command({ cmd: 'flush' });
      await second.line('flushed');
      expect(statuses).toEqual(['new', 'resumed']);
      expect(forgotten).toEqual([]);
      const expected = Array.from({ length: 100 }, (_, i) => `m${String(i + 1)}`);
      expect(received).toEqual(expected.map((text) => `echo:${text}`));
      const delivered = [...first.all('got'), ...second.all('got')].map((line) => line.text);
      expect(delivered).toEqual(expected);
      expect(second.all('session')).toEqual([{ type: 'session', resumed: true, restored: true, unacked: expect.any(Number) as number }]);
    } finally {
      await client.close(1000);
    }
  });

  it('a session taken over by another process: the previous holder can no longer write it (epoch), and ends remove it', async () => {
    const a = createRedisSessionStore({ url: redis.url, prefix: 'takeover' });
    const b = createRedisSessionStore({ url: redis.url, prefix: 'takeover' });
    try {
      await until('ready', () => a.stats().held === 0);
      let counter = 1;
      const read = () => ({ deliveredThrough: counter, ackedThrough: 0, transmittedThrough: 1, unacked: ['x', new Uint8Array([1, 2, 3])] });
      for (let i = 0; i < 200 && (await a.flush().then(() => a.stats().writes)) === 0; i++) {
        a.save('s1', read);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(a.stats().writes).toBeGreaterThan(0);
      const loaded = await b.load('s1');
      expect(loaded).toEqual({ deliveredThrough: 1, ackedThrough: 0, transmittedThrough: 1, unacked: ['x', new Uint8Array([1, 2, 3])] });
      counter = 99;
      a.save('s1', read);
      await a.flush();
      expect(a.stats().conflicts).toBe(1);
      // b holds it: a's stale write did not land.
      b.save('s1', () => ({ deliveredThrough: 2, ackedThrough: 0, transmittedThrough: 0, unacked: [] }));
      await b.flush();
      const probe = createClient({ url: redis.url });
      await probe.connect();
      const stored = decodeStoredSession((await probe.hGet('takeover:resume:s1', 's')) ?? '');
      expect(stored.ok && stored.stored.deliveredThrough).toBe(2);
      b.remove('s1');
      await b.flush();
      expect(await probe.exists('takeover:resume:s1')).toBe(0);
      // Bad data under the prefix: ignored with a diagnostic, the client gets a new session (null).
      await probe.hSet('takeover:resume:bad', { e: '1', s: 'garbage' });
      expect(await b.load('bad')).toBeNull();
      await probe.set('takeover:resume:string', 'not a hash');
      await expect(b.load('string')).rejects.toThrow();
      await probe.close();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('codec: round trip of text and binary; corrupt values named', () => {
    const stored = { deliveredThrough: 3, ackedThrough: 1, transmittedThrough: 2, unacked: ['\u0006x', new Uint8Array([0, 255])] };
    expect(decodeStoredSession(encodeStoredSession(stored))).toEqual({ ok: true, stored });
    expect(decodeStoredSession('x')).toEqual({ ok: false, problem: 'not_json' });
    expect(decodeStoredSession('{"v":1,"d":1,"a":0,"t":0,"m":[[2,"x"]]}')).toEqual({ ok: false, problem: 'bad_field' });
  });
});
