import { afterAll, describe, expect, it } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, fetch as undiciFetch, errors as undiciErrors } from 'undici';
import type { Diagnostic } from '@keepalive/core';
import { SseInputError, createSseClient, formatSseEvent, type SseClient, type SseClientOptions, type SseFetch } from './index.js';
import { createSseStream } from './node.js';
import { NODE, killAll, runFixture } from './test-support/children.js';
import { httpServer, next, rawGet, record, startReclaimer } from './test-support/net.js';

/**
 * The scenarios on real sockets on 127.0.0.1: (a) a stream behind a reclaimer, (b) a server frozen with
 * SIGSTOP, (c) undici with a 2 s bodyTimeout, (d) bad input, (e) the bytes of one keep-alive.
 */

/** Registers a teardown of the running test (its own: the long tests run side by side). */
type Track = (close: () => unknown) => void;

afterAll(killAll);

function tracker(onTestFinished: (fn: () => Promise<void>) => void): Track {
  return (close) => {
    onTestFinished(async () => {
      await close();
    });
  };
}

function client(track: Track, url: string, options: SseClientOptions): SseClient {
  const created = createSseClient(url, options);
  track(() => created.close());
  return created;
}

/**
 * Our server: a stream per request, busy for `busyMs` (a simulated job) that ends with a `done` event, then idle (the
 * stream stays open); `workDone` resolves at the end of the job.
 */
async function busyServer(track: Track, busyMs: number, options: Parameters<typeof createSseStream>[2] = {}) {
  let resolveDone: () => void = () => undefined;
  const workDone = new Promise<void>((resolve) => (resolveDone = resolve));
  const server = await httpServer((req: IncomingMessage, res: ServerResponse) => {
    const stream = createSseStream(req, res, { heartbeatIntervalMs: 500, ...options });
    stream.send({ id: '1', data: 'started' });
    const release = stream.activity.start('api_call');
    // The job: busy for busyMs, then done (the stream stays open, idle).
    const job = setTimeout(() => {
      stream.send({ event: 'done', data: '' });
      release();
      resolveDone();
    }, busyMs);
    void stream.closed.then(() => clearTimeout(job));
  });
  track(server.close);
  return { ...server, workDone };
}

describe.concurrent('long streams (run side by side)', () => {
  it('(a) S4 B5: behind a reclaimer that cuts 2 s of silence, a 6 s busy stream survives on keep-alives, then goes quiet when idle', async ({ onTestFinished }) => {
    const track = tracker(onTestFinished);
    const server = await busyServer(track, 6_000);
    const reclaimer = await startReclaimer(server.port, 2_000);
    track(() => reclaimer.close());
    const sseClient = client(track, `http://127.0.0.1:${reclaimer.port}/`, { heartbeatIntervalMs: 500, pongTimeoutMs: 1_000, reconnect: { whenIdle: 'lazy' } });
    const log = record(sseClient);
    // The client waits for the answer: busy until the server's done event.
    const release = sseClient.activity.start('await_answer');
    const done = next(sseClient, 'message', (m) => m.event === 'done', 10_000);
    await next(sseClient, 'open');
    await done;
    release();
    const idleFrom = performance.now();
    const busyComments = log.filter((e) => e.type === 'comment').length;
    const busyCuts = reclaimer.cuts;
    // Idle: no keep-alive, so the reclaimer cuts the stream 2 s after its last byte; the lazy client parks.
    const parked = next(sseClient, 'parked', () => true, 5_000);
    const closed = await next(sseClient, 'close', () => true, 5_000);
    const cutAfter = performance.now() - idleFrom;
    await parked;
    const lastComment = log.filter((e) => e.type === 'comment').at(-1)!.at;
    const idleComments = log.filter((e) => e.type === 'comment' && e.at > idleFrom + 50).length;
    console.log(`(a) reclaimer: ${busyComments} keep-alive comments in 6 s busy (interval 500 ms), ${busyCuts} cut while busy; idle: ${idleComments} comments, cut ${Math.round(cutAfter)} ms into idle (${Math.round(performance.now() - lastComment)} ms after the last keep-alive)`);
    expect(busyComments).toBeGreaterThanOrEqual(10);
    expect(busyComments).toBeLessThanOrEqual(13);
    expect(idleComments).toBe(0);
    expect(busyCuts).toBe(0);
    expect(reclaimer.connections).toBe(1);
    expect(reclaimer.cuts).toBe(1);
    expect(closed.willReconnect).toBe(false);
    expect(log.filter((e) => e.type === 'dead-peer')).toEqual([]);
    expect(cutAfter).toBeGreaterThanOrEqual(1_400);
    expect(sseClient.state).toBe('parked');
  });

  it('(c) undici fetch with Agent({ bodyTimeout: 2_000 }) reads a busy 6 s stream to its end on keep-alives alone', async ({ onTestFinished }) => {
    const track = tracker(onTestFinished);
    const server = await busyServer(track, 6_000);
    const agent = new Agent({ bodyTimeout: 2_000 });
    track(() => agent.close());
    const started = performance.now();
    const response = await undiciFetch(server.url, { dispatcher: agent });
    const reader: ReadableStreamDefaultReader<Uint8Array> = response.body!.getReader();
    let comments = 0;
    let text = '';
    const decoder = new TextDecoder();
    // The server goes idle after 6 s; its last keep-alive is then the last byte, and the body timeout ends the read.
    let failure: unknown = null;
    for (let reads = 0; reads < 1_000; reads++) {
      try {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        comments = text.split(':\n').length - 1;
      } catch (error) {
        failure = error;
        break;
      }
    }
    const readFor = performance.now() - started;
    console.log(`(c) undici bodyTimeout 2 s: read ${Math.round(readFor)} ms with ${comments} keep-alives, then ${failure instanceof Error ? failure.name : 'end'} once the server was idle`);
    expect(comments).toBeGreaterThanOrEqual(10);
    expect(text.startsWith('retry: 500\n\nid: 1\ndata: started\n\n')).toBe(true);
    expect(text).toContain('event: done\ndata: \n\n');
    // Cut by the body timeout only after the busy 6 s, 2 s after the last keep-alive.
    expect(readFor).toBeGreaterThanOrEqual(6_000 + 1_400);
    expect((failure as { cause?: unknown } | null)?.cause ?? failure).toBeInstanceOf(undiciErrors.BodyTimeoutError);
  });

  it('(c) control: the same busy stream without keep-alives (sendKeepalives: false) is cut by the 2 s bodyTimeout', async ({ onTestFinished }) => {
    const track = tracker(onTestFinished);
    const server = await busyServer(track, 6_000, { sendKeepalives: false });
    const agent = new Agent({ bodyTimeout: 2_000 });
    track(() => agent.close());
    const started = performance.now();
    const response = await undiciFetch(server.url, { dispatcher: agent });
    const failure = await response.text().then(
      () => null,
      (error: unknown) => error,
    );
    const cutAt = performance.now() - started;
    console.log(`(c) control: no keep-alives, cut by bodyTimeout after ${Math.round(cutAt)} ms`);
    expect((failure as { cause?: unknown }).cause ?? failure).toBeInstanceOf(undiciErrors.BodyTimeoutError);
    expect(cutAt).toBeLessThan(4_000);
  });

  it('(c) the keepalive client on undici fetch with a 2 s bodyTimeout: one connection for the whole busy 6 s', async ({ onTestFinished }) => {
    const track = tracker(onTestFinished);
    const server = await busyServer(track, 6_000);
    const agent = new Agent({ bodyTimeout: 2_000 });
    track(() => agent.close());
    const fetcher: SseFetch = (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
    const sseClient = client(track, server.url, { fetch: fetcher, heartbeatIntervalMs: 500, pongTimeoutMs: 1_000 });
    const log = record(sseClient);
    const release = sseClient.activity.start('await_answer');
    const done = next(sseClient, 'message', (m) => m.event === 'done', 10_000);
    await next(sseClient, 'open');
    await done;
    release();
    expect(log.filter((e) => e.type === 'open')).toHaveLength(1);
    expect(log.filter((e) => e.type === 'close' || e.type === 'dead-peer' || e.type === 'error')).toEqual([]);
    expect(log.filter((e) => e.type === 'comment').length).toBeGreaterThanOrEqual(10);
  });
});

describe('(b) a frozen server (SIGSTOP)', () => {
  it('B5 B6: detected within heartbeatIntervalMs + pongTimeoutMs (+ allowance), then resumed with Last-Event-ID: no event lost or duplicated', async ({ onTestFinished }) => {
    const track = tracker(onTestFinished);
    const interval = 200;
    const timeout = 300;
    const child = runFixture(NODE, 'node-server.mjs', ['--interval=100', '--period=100', '--events=40']);
    const { port } = (await child.line('listening')) as unknown as { port: number };
    const sseClient = client(track, `http://127.0.0.1:${String(port)}/`, { heartbeatIntervalMs: interval, pongTimeoutMs: timeout, connectTimeoutMs: 400, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const ids: number[] = [];
    sseClient.on('message', ({ lastEventId }) => ids.push(Number(lastEventId)));
    sseClient.activity.start('await_answer');
    await next(sseClient, 'message', () => ids.length >= 8);
    child.signal('SIGSTOP');
    const frozenAt = performance.now();
    const lastBeforeFreeze = ids.at(-1)!;
    await next(sseClient, 'dead-peer', () => true, 5_000);
    const detection = performance.now() - frozenAt;
    console.log(`(b) SIGSTOP: dead server detected in ${Math.round(detection)} ms (bound heartbeatIntervalMs + pongTimeoutMs = ${interval + timeout} ms)`);
    expect(detection).toBeLessThanOrEqual(interval + timeout + 200);
    child.signal('SIGCONT');
    await next(sseClient, 'message', (m) => m.lastEventId === '40', 15_000);
    expect(ids).toEqual(Array.from({ length: 40 }, (_, index) => index + 1));
    const requests = child.lines.filter((line) => line.type === 'request').map((line) => line.lastEventId);
    expect(requests[0]).toBeNull();
    expect(requests.length).toBeGreaterThanOrEqual(2);
    // Every reconnect asked to continue after the last event received before the freeze.
    for (const lastEventId of requests.slice(1)) expect(lastEventId).toBe(String(lastBeforeFreeze));
    child.kill();
  });
});

describe('(d) bad input', () => {
  /** The real global fetch, with the bytes each body delivered counted (instrumentation, not a stand-in). */
  function countingFetch(): { fetch: SseFetch; bytes: () => number } {
    let bytes = 0;
    return {
      bytes: () => bytes,
      fetch: async (url, init) => {
        const response = await fetch(url, init);
        const body = response.body;
        if (body === null) return response;
        const counted = body.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform: (chunk, controller) => {
              bytes += chunk.byteLength;
              controller.enqueue(chunk);
            },
          }),
        );
        return { status: response.status, headers: response.headers, body: counted };
      },
    };
  }

  it('malformed SSE: unknown fields, a bad retry, bare CR line ends, a BOM, invalid UTF-8: valid events delivered, the rest diagnosed, nothing thrown', async ({ onTestFinished }) => {
    const track = tracker(onTestFinished);
    const server = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      res.write(Buffer.from([0xef, 0xbb, 0xbf]));
      res.write('bogus: field\nretry: soon\ndata\n\n');
      res.write('data: cr\rdata: only\r\r');
      res.write(Buffer.concat([Buffer.from('id: 7\ndata: bad '), Buffer.from([0xff, 0xfe]), Buffer.from(' bytes\n\n')]));
      res.write('id: a\0b\ndata: nul id ignored\n\n:comment without space\n');
      res.end('data: unterminated at the end');
    });
    track(server.close);
    const diagnostics: Diagnostic[] = [];
    const sseClient = client(track, server.url, { onDiagnostic: (d) => diagnostics.push(d), reconnect: { whenIdle: 'lazy' } });
    const log = record(sseClient);
    await next(sseClient, 'parked');
    expect(log.filter((e) => e.type === 'message').map((e) => e.payload)).toEqual([
      { data: '', event: 'message', lastEventId: '' },
      { data: 'cr\nonly', event: 'message', lastEventId: '' },
      { data: 'bad \uFFFD\uFFFD bytes', event: 'message', lastEventId: '7' },
      { data: 'nul id ignored', event: 'message', lastEventId: '7' },
    ]);
    expect(diagnostics.filter((d) => d.name === 'sse_parse_error').map((d) => d.fields)).toEqual([{ type: 'unknown-field' }, { type: 'invalid-retry' }]);
    expect(log.filter((e) => e.type === 'error')).toEqual([]);
  });

  it('an endless line: SseInputError (line), the stream aborted, what the client read bounded by maxLineBytes plus a chunk', async ({ onTestFinished }) => {
    const track = tracker(onTestFinished);
    let written = 0;
    const server = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const piece = 'x'.repeat(65_536);
      const pump = (): void => {
        // Bounded: at most 64 MiB, and only while the client reads.
        while (written < 64 * 1_048_576 && !res.destroyed) {
          written += piece.length;
          if (!res.write(written === piece.length ? `data: ${piece}` : piece)) {
            res.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    track(server.close);
    const counting = countingFetch();
    const sseClient = client(track, server.url, { fetch: counting.fetch, maxLineBytes: 262_144, reconnect: { whenIdle: 'lazy' } });
    const parked = next(sseClient, 'parked');
    const error = await next(sseClient, 'error');
    expect(error).toBeInstanceOf(SseInputError);
    expect(error).toMatchObject({ limit: 'line' });
    await parked;
    console.log(`(d) endless line: aborted after the client read ${counting.bytes()} bytes (maxLineBytes 262144; the server had written ${written})`);
    expect(counting.bytes()).toBeLessThanOrEqual(262_144 + 65_536 * 4);
    expect(written).toBeLessThan(64 * 1_048_576);
  });

  it('a huge event (many short data lines, no blank line): SseInputError (event), bounded the same way', async ({ onTestFinished }) => {
    const track = tracker(onTestFinished);
    const server = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const line = `data: ${'y'.repeat(1_000)}\n`;
      for (let i = 0; i < 2_000 && !res.destroyed; i++) res.write(line);
    });
    track(server.close);
    const counting = countingFetch();
    const sseClient = client(track, server.url, { fetch: counting.fetch, maxEventBytes: 524_288, reconnect: { whenIdle: 'lazy' } });
    const closed = next(sseClient, 'close');
    const error = await next(sseClient, 'error');
    expect(error).toMatchObject({ limit: 'event', maxBytes: 524_288 });
    expect((await closed).reason).toBe('event_too_large');
    expect(counting.bytes()).toBeLessThanOrEqual(524_288 + 65_536 * 4);
  });

  it('a server that sends every event twice over many reconnects never breaks the client: every message is an event the server sent', async ({ onTestFinished }) => {
    const track = tracker(onTestFinished);
    const server = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`${formatSseEvent({ id: '1', data: 'x' })}${formatSseEvent({ id: '1', data: 'x' })}garbage without newline`);
    });
    track(server.close);
    const sseClient = client(track, server.url, { reconnect: { initialDelayMs: 1, maxDelayMs: 5 } });
    const log = record(sseClient);
    await next(sseClient, 'message', () => log.filter((e) => e.type === 'message').length >= 20);
    expect(new Set(log.filter((e) => e.type === 'message').map((e) => JSON.stringify(e.payload)))).toEqual(new Set([JSON.stringify({ data: 'x', event: 'message', lastEventId: '1' })]));
  });
});

describe('(e) the bytes of one keep-alive', () => {
  it('S4: 2 bytes of SSE (":\\n"), 7 on the wire with HTTP/1.1 chunked encoding ("2\\r\\n:\\n\\r\\n"), from the Node adapter', async ({ onTestFinished }) => {
    const track = tracker(onTestFinished);
    const server = await httpServer((req, res) => {
      const stream = createSseStream(req, res, { heartbeatIntervalMs: 50, reconnect: false });
      stream.activity.start('api_call');
    });
    track(server.close);
    const raw = rawGet(server.port);
    track(() => {
      raw.close();
    });
    await raw.until('\r\n\r\n');
    const headerBytes = raw.chunks.reduce((sum, chunk) => sum + chunk.bytes.length, 0);
    const keepalive = '2\r\n:\n\r\n';
    await raw.until(keepalive.repeat(10));
    const body = raw.text().slice(raw.text().indexOf('\r\n\r\n') + 4);
    const count = body.split(keepalive).length - 1;
    const bytes = Buffer.byteLength(body, 'latin1');
    console.log(`(e) keep-alive: 2 bytes of SSE; on the wire ${bytes / count} bytes each over ${count} (HTTP/1.1 chunked), after ${headerBytes} bytes of response head`);
    expect(body).toBe(keepalive.repeat(count));
    expect(bytes / count).toBe(7);
  });
});
