import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BUN, DENO, NODE, killAll, runFixture, type Line } from './test-support/children.js';
import { httpServer } from './test-support/net.js';

/**
 * The client on the real runtimes it is for: `src/test-support/client-child.mjs` runs `createSseClient`, imported
 * from the runtime-neutral entry (dist/index.js), on Bun and on Deno, against the Node adapter in a Node child
 * (`node-server.mjs`, so the server can be frozen with SIGSTOP). The client child prints what it sees as JSON lines;
 * their arrival on the test's clock is what is measured.
 */

const INTERVAL = 200;
const TIMEOUT = 300;
/**
 * Allowance over heartbeatIntervalMs + pongTimeoutMs: the timers of two processes on a loaded 2-core machine, and the
 * client child's stdout pipe back to the test (the dead-peer line is timed when it arrives here). Same as scenario (b).
 */
const ALLOWANCE = 200;
const EVENTS = 25;
const FREEZE_AFTER = 10;

const closers: (() => unknown)[] = [];
afterEach(async () => {
  killAll();
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(killAll);

const ofType = (lines: readonly Line[], type: string): Line[] => lines.filter((line) => line.type === type);

describe.each([BUN, DENO])('the client on $id', (runtime) => {
  it(`${runtime.id}: events in order; S4 keep-alive comments while busy; B5 a SIGSTOPped Node server detected within heartbeatIntervalMs + pongTimeoutMs; B6 resumed with Last-Event-ID, nothing lost or duplicated`, async () => {
    const server = runFixture(NODE, 'node-server.mjs', ['--interval=50', '--period=100', `--events=${String(EVENTS)}`]);
    const { port } = (await server.line('listening')) as unknown as { port: number };
    const client = runFixture(runtime, 'client-child.mjs', [
      `--url=http://127.0.0.1:${String(port)}/`,
      `--interval=${String(INTERVAL)}`,
      `--timeout=${String(TIMEOUT)}`,
      '--connectTimeout=400',
      `--events=${String(EVENTS)}`,
    ]);
    const { runtime: name } = (await client.line('ready', 1, 20_000)) as unknown as { runtime: string };
    expect(name.startsWith(runtime.id)).toBe(true);

    // Busy and streaming: wait for the FREEZE_AFTER-th event, then freeze the server.
    await client.line('message', FREEZE_AFTER, 20_000);
    server.signal('SIGSTOP');
    const frozenAt = performance.now();
    const deadPeer = await client.line('dead-peer', 1, 5_000);
    const detection = deadPeer.receivedAt - frozenAt;
    expect(deadPeer.timeoutMs).toBe(TIMEOUT);
    server.signal('SIGCONT');

    await client.line('complete', 1, 15_000);
    const closed = await client.line('closed', 1, 5_000);
    expect(closed.cause).toBe('closed');

    // In order, none lost, none duplicated (across the reconnect).
    const messages = ofType(client.lines, 'message');
    expect(messages.map((line) => Number(line.id))).toEqual(Array.from({ length: EVENTS }, (_, index) => index + 1));
    for (const line of messages) {
      expect(line.event).toBe('tick');
      expect(line.data).toBe(`tick ${String(line.id)}`);
    }

    // S4: while the client was busy and before the freeze, keep-alive comments came between events.
    const beforeFreeze = client.lines.slice(0, client.lines.indexOf(deadPeer));
    const comments = ofType(beforeFreeze, 'comment').length;
    expect(comments).toBeGreaterThanOrEqual(5);

    // B6: every reconnect asked to continue after the last event the client had before it declared the peer dead.
    const lastBeforeDeadPeer = ofType(beforeFreeze, 'message').at(-1)!.id;
    const requests = ofType(server.lines, 'request').map((line) => line.lastEventId);
    expect(requests[0]).toBeNull();
    expect(requests.length).toBeGreaterThanOrEqual(2);
    for (const lastEventId of requests.slice(1)) expect(lastEventId).toBe(lastBeforeDeadPeer);
    expect(ofType(client.lines, 'open').length).toBeGreaterThanOrEqual(2);

    console.log(
      `${name} client: ${String(comments)} keep-alives among the first ${String(ofType(beforeFreeze, 'message').length)} events; ` +
        `SIGSTOP detected in ${String(Math.round(detection))} ms (bound ${String(INTERVAL + TIMEOUT)} + ${String(ALLOWANCE)} ms); ` +
        `${String(requests.length - 1)} reconnect request(s) with Last-Event-ID ${String(lastBeforeDeadPeer)}`,
    );
    expect(detection).toBeLessThanOrEqual(INTERVAL + TIMEOUT + ALLOWANCE);
  });
});

describe.each([BUN, DENO])('Last-Event-ID beyond Latin-1 from the client on $id', (runtime) => {
  it(`${runtime.id}: B6/B14 the lastEventId option and id: €7 go out as their UTF-8 bytes; the reconnect reaches the Node server, which reads €7, and the stream goes on`, async () => {
    // Each request's Last-Event-ID as bytes on the wire (hex; Node reads a header as Latin-1, one code unit per byte).
    const resumes: (string | null)[] = [];
    const server = await httpServer((req, res) => {
      const index = req.rawHeaders.findIndex((name, at) => at % 2 === 0 && name.toLowerCase() === 'last-event-id');
      resumes.push(index < 0 ? null : Buffer.from(req.rawHeaders[index + 1]!, 'latin1').toString('hex'));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (resumes.length === 1) {
        res.end('id: €7\ndata: first\n\n');
        return;
      }
      res.write('id: 8\ndata: done\n\n');
    });
    closers.push(server.close);
    const child = runFixture(runtime, 'resume-client-child.mjs', [`--url=${server.url}`, `--lastEventId=${encodeURIComponent('ключ 😀')}`]);
    const { runtime: name } = (await child.line('ready', 1, 20_000)) as unknown as { runtime: string };
    expect(name.startsWith(runtime.id)).toBe(true);
    const closed = await child.line('closed', 1, 15_000);
    expect(closed.cause).toBe('closed');
    expect(ofType(child.lines, 'message').map((line) => [line.id, line.data])).toEqual([
      ['€7', 'first'],
      ['8', 'done'],
    ]);
    expect(ofType(child.lines, 'error')).toEqual([]);
    expect(ofType(child.lines, 'diagnostic')).toEqual([]);
    expect(resumes).toEqual([Buffer.from('ключ 😀').toString('hex'), 'e282ac37']);
    expect(Buffer.from(resumes[1]!, 'hex').toString('utf8')).toBe('€7');
    console.log(`${name} client: Last-Event-ID bytes on the reconnect after id: €7: ${resumes[1]!}`);
  });
});
