import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import { createKeepaliveClient } from '@keepalive/websocket-transport';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HibernatingKeepaliveStats, KeepaliveAttachment, PackedPeer } from './index.js';
import { PACKAGE_DIR, bundleWorker, connectRaw, startWorkerd, within, type RawClient } from './test-support/workerd.js';

/** The README's program and its wrangler.jsonc, kept with the other examples (apps/examples runs it on workerd too). */
const EXAMPLE_DIR = join(PACKAGE_DIR, '../../apps/examples/src/cloudflare');

/**
 * The hibernating server on the real runtime: workerd (through Miniflare) runs the README's program
 * (apps/examples/src/cloudflare/worker.mjs, bundled as a Worker's bundler would, on this package's build) inside a harness that counts
 * every invocation of the object's handlers (a wake) and evicts an object as the runtime does when it is idle
 * (`workerd:unsafe`). Clients are real `ws` sockets from Node. Times are wall-clock milliseconds, the clock workerd's
 * alarms and auto-response times use.
 */

const IDLE_CLOSE_MS = 600;
/** workerd's alarm runs a little after its time; a busy 2-core machine adds to it. */
const ALARM_SLACK_MS = 400;

interface Wake {
  readonly handler: string;
  readonly at: number;
  readonly instance: number;
}
interface Counts {
  readonly constructed: number;
  readonly wakes: Wake[];
  readonly stats: { instance: number; stats: HibernatingKeepaliveStats | null }[];
}

let mf: Miniflare;
let origin: string;
let http: string;
const clients: RawClient[] = [];

beforeAll(async () => {
  const script = await bundleWorker(join(PACKAGE_DIR, 'src/test-support/harness.mjs'));
  ({ mf, origin, http } = await startWorkerd(script, {
    durableObjects: { AGENT: 'CountedAgent', QUIET: 'QuietAgent' },
    bindings: { IDLE_CLOSE_MS: String(IDLE_CLOSE_MS), MIN_PING_INTERVAL_MS: '50' },
  }));
});

afterAll(async () => {
  for (const client of clients) client.socket.terminate();
  await mf.dispose();
});

async function counts(): Promise<Counts> {
  const response = await mf.dispatchFetch(`${http}/__counts`);
  return (await response.json()) as Counts;
}

async function evict(path: string): Promise<void> {
  const response = await mf.dispatchFetch(`${http}/${path}`);
  expect(await response.text()).toBe('evicted');
}

async function raw(path: string): Promise<RawClient> {
  const client = await connectRaw(`${origin}${path}`);
  clients.push(client);
  return client;
}

function wakesSince(all: Counts, before: Counts): Wake[] {
  return all.wakes.slice(before.wakes.length);
}

/** The keep-alive's counters summed over every instance of the objects (each eviction starts a new one). */
function summed(all: Counts): Record<keyof HibernatingKeepaliveStats, number> {
  const total = { accepted: 0, alarms: 0, autoResponsesSeen: 0, heartbeatsAnswered: 0, idleClosed: 0, floodClosed: 0, malformedHeartbeats: 0, closed: 0, handlerErrors: 0, sessionFrames: 0, reattachCloses: 0 };
  for (const { stats } of all.stats) if (stats !== null) for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += stats[key];
  return total;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('a busy client (createKeepaliveClient from Node, heartbeat messages every 100 ms)', () => {
  it('has every keep-alive answered by the runtime: zero wakes while busy and while idle, with the object evicted', async () => {
    const seen: string[] = [];
    const client = createKeepaliveClient(`${origin}/quiet/busy`, {
      // A Durable Object sees heartbeat messages only: workerd answers protocol pings itself, out of the object's sight.
      keepaliveFrame: 'message',
      heartbeatIntervalMs: 100,
      pongTimeoutMs: 250,
      onDiagnostic: (diagnostic) => seen.push(diagnostic.name),
    });
    await within(new Promise((resolve) => client.on('open', resolve)), 5_000, 'the client to open');
    // The object accepted the socket; now it is evicted, as the runtime does after 10 s without an event.
    await evict('__evict-quiet/busy');
    const before = await counts();
    const busyFor = 1_500;
    await client.activity.run('model_call', () => sleep(busyFor));
    const busySent = client.activity.snapshot().keepalivesSent;
    const busy = await counts();
    await sleep(1_000);
    const idleSent = client.activity.snapshot().keepalivesSent - busySent;
    const idle = await counts();
    await client.close();
    const busyWakes = wakesSince(busy, before);
    console.log(`workerd, busy ${busyFor} ms: ${busySent} keep-alives answered by the runtime, ${busyWakes.length} wakes; idle 1000 ms: ${idleSent} keep-alives, ${wakesSince(idle, busy).length} wakes`);
    // About one keep-alive per 100 ms, each answered within 250 ms (else dead_peer), none waking the object.
    expect(busySent).toBeGreaterThanOrEqual(10);
    expect(seen).not.toContain('dead_peer');
    expect(busyWakes).toEqual([]);
    expect(busy.constructed).toBe(before.constructed);
    // Idle: silence at both ends.
    expect(idleSent).toBe(0);
    expect(wakesSince(idle, busy)).toEqual([]);
  });

  it('gets each heartbeat answered in kind, one answer per heartbeat, and data still reaches the object', async () => {
    const client = await raw('/quiet/answers?user=ada');
    await evict('__evict-quiet/answers');
    const before = await counts();
    for (let i = 0; i < 20; i++) {
      client.socket.send('');
      expect((await client.next()).data).toBe('');
    }
    const after = await counts();
    expect(wakesSince(after, before)).toEqual([]);
    client.socket.send('hello');
    // The attachment's application value survived the eviction.
    expect((await client.next()).data).toBe('ada: hello');
    const woke = wakesSince(await counts(), after);
    expect(woke.map((wake) => wake.handler)).toEqual(['webSocketMessage']);
    expect(client.received.filter((frame) => frame.data === '')).toHaveLength(20);
  });
});

describe('the idle close (IDLE_CLOSE_MS = 600) on the object alarm', () => {
  it('closes a silent client with 4000 on the alarm, decided by a new instance from the socket attachment', async () => {
    const before = await counts();
    const client = await raw('/idle?user=idle');
    const openedAt = Date.now();
    await evict('__evict/idle');
    const closed = await within(client.closed, 5_000, 'the idle close');
    const after = await counts();
    const woke = wakesSince(after, before);
    console.log(`workerd idle close: after ${closed.at - openedAt} ms (idleCloseMs ${IDLE_CLOSE_MS}); wakes: ${woke.map((wake) => wake.handler).join(', ')}`);
    expect(closed.code).toBe(4000);
    expect(closed.reason).toBe('idle_timeout');
    expect(closed.at - openedAt).toBeGreaterThanOrEqual(IDLE_CLOSE_MS - 20);
    expect(closed.at - openedAt).toBeLessThan(IDLE_CLOSE_MS + ALARM_SLACK_MS);
    // The upgrade, then nothing until the one alarm that closed it (the client's close reply may wake it once more).
    expect(woke[0]?.handler).toBe('fetch');
    const alarms = woke.filter((wake) => wake.handler === 'alarm');
    expect(alarms).toHaveLength(1);
    expect(woke.filter((wake) => wake.handler === 'webSocketMessage')).toEqual([]);
    // Evicted after the upgrade: the alarm ran in a new instance, with the state the attachment kept.
    expect(alarms[0]?.instance).toBeGreaterThan(woke[0]?.instance ?? Infinity);
    expect(client.received).toEqual([]);
    expect(summed(after).idleClosed - summed(before).idleClosed).toBe(1);
  });

  it('keeps a client that keeps alive, at about one alarm per idleCloseMs and no wake per heartbeat', async () => {
    const client = await raw('/kept?user=kept');
    await evict('__evict/kept');
    const before = await counts();
    const beat = setInterval(() => client.socket.send(''), 100);
    await sleep(2_000);
    clearInterval(beat);
    const busy = await counts();
    const woke = wakesSince(busy, before);
    const answered = client.received.filter((frame) => frame.data === '').length;
    console.log(`workerd, kept alive 2000 ms at 100 ms with idleCloseMs ${IDLE_CLOSE_MS}: ${answered} heartbeats answered, wakes: ${woke.map((w) => w.handler).join(', ') || 'none'}`);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    expect(answered).toBeGreaterThanOrEqual(15);
    expect(woke.every((wake) => wake.handler === 'alarm')).toBe(true);
    // The idle check re-armed from the last keep-alive: about 2000 / 600 of them, never one per heartbeat.
    expect(woke.length).toBeGreaterThanOrEqual(2);
    expect(woke.length).toBeLessThanOrEqual(5);
    client.socket.close(1000);
    await client.closed;
  });
});

describe('a frozen or vanished client', () => {
  it('a client that stops keeping alive (frozen: its TCP connection stays) is closed within idleCloseMs of its last keep-alive (+ the alarm latency)', async () => {
    const client = await raw('/frozen?user=frozen');
    let lastBeatAt = 0;
    const beat = setInterval(() => {
      client.socket.send('');
      lastBeatAt = Date.now();
    }, 100);
    await sleep(700);
    // Frozen from here: nothing more is sent.
    clearInterval(beat);
    await evict('__evict/frozen');
    const closed = await within(client.closed, 5_000, 'the frozen client to be closed');
    const detection = closed.at - lastBeatAt;
    console.log(`workerd frozen client: closed ${detection} ms after its last keep-alive (bound: idleCloseMs ${IDLE_CLOSE_MS} + alarm latency)`);
    expect(closed.code).toBe(4000);
    expect(detection).toBeGreaterThanOrEqual(IDLE_CLOSE_MS - 20);
    expect(detection).toBeLessThan(IDLE_CLOSE_MS + ALARM_SLACK_MS);
  });

  it('a vanished client (its TCP connection destroyed) reaches the object as a close at once, and is forgotten', async () => {
    const client = await raw('/vanished?user=gone');
    const before = await counts();
    client.socket.terminate();
    await within(
      (async () => {
        for (;;) {
          const now = await counts();
          if (wakesSince(now, before).some((wake) => wake.handler === 'webSocketClose' || wake.handler === 'webSocketError')) return;
          await sleep(20);
        }
      })(),
      3_000,
      'the close to reach the object',
    );
    const after = await counts();
    expect(summed(after).closed - summed(before).closed).toBe(1);
    expect(summed(after).handlerErrors).toBe(0);
  });
});

describe('bad frames, answered as the other servers answer them', () => {
  it('a malformed heartbeat (a few spaces, an empty binary frame) is proof of life, not answered and not data; data is data', async () => {
    const client = await raw('/quiet/bad?user=bad');
    const before = await counts();
    client.socket.send('   ');
    client.socket.send(Buffer.alloc(0));
    client.socket.send('after');
    // The echo of `after` is the first frame: the two malformed heartbeats got nothing.
    expect((await client.next()).data).toBe('bad: after');
    client.socket.send(Buffer.from([1, 2, 3]));
    expect((await client.next()).data).toBe('bad: 3 bytes');
    const after = await counts();
    expect(client.received.map((frame) => frame.data)).toEqual(['bad: after', 'bad: 3 bytes']);
    expect(summed(after).malformedHeartbeats - summed(before).malformedHeartbeats).toBe(2);
    expect(summed(after).heartbeatsAnswered).toBe(0);
    expect(summed(after).handlerErrors).toBe(0);
  });

  it('a request that is not an upgrade gets 426', async () => {
    const response = await mf.dispatchFetch(`${http}/quiet/plain`);
    expect(response.status).toBe(426);
    await response.text();
  });
});

describe('the per-socket state in the attachment', () => {
  it('is a fixed-size array: its structured-clone size, as workerd serializes it, is well under the 16 KiB limit', () => {
    const now = Date.now();
    // The largest values each slot can hold (times in ms since the epoch, counters at their bounds).
    const packed: PackedPeer = [1, now + 2_147_483_647, now + 10_000, now + 300_000, now, now - 5, 1_000, 1, 2 ** 31, 2, 2 ** 31, 1, now - 1, now - 86_400_000];
    const attachment: KeepaliveAttachment = { keepalive: packed, app: undefined };
    const bytes = serialize(attachment).byteLength;
    console.log(`attachment: ${bytes} bytes serialized (keep-alive state only; the application's value comes on top)`);
    expect(bytes).toBeLessThanOrEqual(200);
  });
});

describe('the README', () => {
  it('shows the program these tests run and its wrangler.jsonc, verbatim (apps/examples/src/cloudflare, run there on workerd too)', () => {
    const readme = readFileSync(join(PACKAGE_DIR, 'README.md'), 'utf8');
    const program = readFileSync(join(EXAMPLE_DIR, 'worker.mjs'), 'utf8').trimEnd();
    const config = readFileSync(join(EXAMPLE_DIR, 'wrangler.jsonc'), 'utf8').trimEnd();
    expect(readme).toContain(`\`\`\`js\n${program}\n\`\`\`\n`);
    expect(readme).toContain(`\`\`\`jsonc\n${config}\n\`\`\`\n`);
  });
});
