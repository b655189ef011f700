import { afterEach, describe, expect, it } from 'vitest';
import { get, type IncomingMessage, type ServerResponse } from 'node:http';
import { KeepaliveOptionError, type Diagnostic } from '@keepalive/core';
import { createScheduler, createSessionActivity } from '@keepalive/node-timers';
import { manualPlatform } from 'keepalive-test-support';
import { SSE_RESPONSE_HEADERS, SseFormatError, SseStreamEndedError, createSseResponse, type SseServerOptions, type SseStream } from './index.js';
import { createSseStream } from './node.js';
import { httpServer, rawGet } from './test-support/net.js';

/**
 * The server end. Timing rules (S4, B7, idle close) on the Fetch adapter under a manual clock, reading the real
 * ReadableStream body; the Node adapter on real sockets on 127.0.0.1.
 */

const closers: (() => unknown)[] = [];
const responses = new WeakMap<SseStream, { res: ServerResponse }>();
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function manual(options: SseServerOptions = {}, headers: Record<string, string> = {}) {
  const platform = manualPlatform();
  const scheduler = createScheduler({ platform });
  const diagnostics: Diagnostic[] = [];
  const stream = createSseResponse(new Request('http://127.0.0.1/events', { headers }), { scheduler, heartbeatIntervalMs: 100, onDiagnostic: (d) => diagnostics.push(d), ...options });
  /** Everything the body carried, once the stream has ended. */
  const body = async (): Promise<string> => new Response(stream.response.body).text();
  return { platform, scheduler, stream, diagnostics, body };
}

describe('the Fetch adapter (createSseResponse), on a manual clock', () => {
  it('S4: a comment at the interval exactly while work is in flight; quiet while idle; retry written once at the start', async () => {
    const { platform, stream, body } = manual({ reconnect: { initialDelayMs: 250 } });
    expect(stream.response.status).toBe(200);
    expect(Object.fromEntries(stream.response.headers)).toMatchObject(SSE_RESPONSE_HEADERS);
    const release = stream.activity.start('api_call');
    platform.advance(350);
    stream.send('busy');
    release();
    platform.advance(1_000);
    stream.send({ id: '1', event: 'done', data: 'idle' });
    stream.close();
    expect(await body()).toBe('retry: 250\n\n:\n:\n:\ndata: busy\n\nid: 1\nevent: done\ndata: idle\n\n');
  });

  it('B7: with permitWithoutActivity the comments go on while idle; with sendKeepalives false only the diagnostics do (S5)', async () => {
    const permitted = manual({ permitWithoutActivity: true, keepaliveComment: 'ka', reconnect: false });
    permitted.platform.advance(300);
    permitted.stream.close();
    expect(await permitted.body()).toBe(': ka\n: ka\n: ka\n');
    const gated = manual({ sendKeepalives: false, reconnect: false });
    gated.stream.activity.start('api_call');
    gated.platform.advance(300);
    gated.stream.close();
    expect(await gated.body()).toBe('');
    expect(gated.diagnostics.filter((d) => d.name === 'heartbeat')).toHaveLength(3);
  });

  it('idle close: a stream with no application event for idleCloseMs ends (keep-alives do not count) and releases everything', async () => {
    const { platform, scheduler, stream, diagnostics, body } = manual({ idleCloseMs: 1_000, reconnect: false });
    stream.activity.start('api_call');
    platform.advance(600);
    stream.send('x');
    platform.advance(999);
    expect(stream.ended).toBe(false);
    platform.advance(1);
    const closed = await stream.closed;
    expect(closed).toMatchObject({ cause: 'idle_timeout', events: 1, openMs: 1_600 });
    // The own activity was shut down (S9: its report is in the event), and nothing is left on the scheduler.
    expect(closed.report).toMatchObject({ total: 1, active: { api_call: 1 } });
    expect(stream.activity.state.shutdown).toBe(true);
    expect(scheduler.size).toBe(0);
    expect(diagnostics.map((d) => d.name)).toContain('sse_idle_closed');
    expect(stream.signal.aborted).toBe(true);
    expect(stream.signal.reason).toBeInstanceOf(SseStreamEndedError);
    expect(await body()).toMatch(/^(:\n){6}data: x\n\n(:\n){10}$/);
  });

  it('the client went away (body cancelled, request aborted): released at once; send then throws, never drops silently', async () => {
    const { scheduler, stream } = manual({ idleCloseMs: 5_000 });
    await stream.response.body?.cancel();
    expect(await stream.closed).toMatchObject({ cause: 'client_gone' });
    expect(scheduler.size).toBe(0);
    expect(() => stream.send('late')).toThrow(SseStreamEndedError);
    expect(() => stream.send('late')).toThrow('SSE stream ended (client_gone): nothing more can be written');
    stream.close();
    const controller = new AbortController();
    const aborted = createSseResponse(new Request('http://127.0.0.1/', { signal: controller.signal }), { scheduler });
    controller.abort();
    expect(await aborted.closed).toMatchObject({ cause: 'client_gone' });
    const early = new AbortController();
    early.abort();
    expect(await createSseResponse(new Request('http://127.0.0.1/', { signal: early.signal }), { scheduler }).closed).toMatchObject({ cause: 'client_gone' });
  });

  it('backpressure: send returns false past the body buffer; drained() resolves when the reader catches up', async () => {
    const { stream } = manual({ reconnect: false });
    const big = 'x'.repeat(20_000);
    const accepted = [stream.send(big), stream.send(big), stream.send(big), stream.send(big)];
    expect(accepted).toEqual([true, true, true, false]);
    let drained = false;
    const wait = stream.drained().then(() => (drained = true));
    expect(drained).toBe(false);
    const reader = stream.response.body!.getReader();
    await reader.read();
    await wait;
    expect(drained).toBe(true);
    stream.close();
    await expect(stream.drained()).resolves.toBeUndefined();
  });

  it('Last-Event-ID: read from the request; one too long (or with NUL) is taken as absent and diagnosed by its length only (S10)', () => {
    expect(manual({}, { 'last-event-id': '42' }).stream.lastEventId).toBe('42');
    expect(manual().stream.lastEventId).toBeNull();
    const long = manual({}, { 'last-event-id': 'x'.repeat(2_000) });
    expect(long.stream.lastEventId).toBeNull();
    expect(long.diagnostics.find((d) => d.name === 'sse_bad_last_event_id')?.fields).toEqual({ length: 2_000 });
  });

  it('B6/B14: Last-Event-ID is read as UTF-8 (its bytes, one Latin-1 code unit each in Headers): €7 comes back as €7', () => {
    // What a browser (and the client) sends for id: €7, as a Request's Headers hold it.
    const euro = manual({}, { 'last-event-id': '\xe2\x82\xac7' });
    expect(euro.stream.lastEventId).toBe('€7');
    expect(euro.diagnostics.filter((d) => d.name === 'sse_bad_last_event_id')).toEqual([]);
    // Not UTF-8 (a client that sent Latin-1): kept, one character per byte.
    expect(manual({}, { 'last-event-id': 'caf\xe9' }).stream.lastEventId).toBe('café');
    // A request-like object whose headers hold decoded text already: kept.
    const decoded = createSseResponse({ headers: { get: (name) => (name === 'last-event-id' ? '€7' : null) } }, { sendKeepalives: false });
    expect(decoded.lastEventId).toBe('€7');
    decoded.close();
  });

  it('S3: streams sharing a given activity: the newest one keeps alive; one that ends never detaches another; the activity lives on', async () => {
    const platform = manualPlatform();
    const scheduler = createScheduler({ platform });
    const activity = createSessionActivity({ scheduler, heartbeatIntervalMs: 100 });
    const first = createSseResponse(new Request('http://127.0.0.1/'), { activity, scheduler, reconnect: false });
    const second = createSseResponse(new Request('http://127.0.0.1/'), { activity, scheduler, reconnect: false });
    first.close();
    expect(activity.isTrackingActive()).toBe(true);
    activity.start('api_call');
    platform.advance(200);
    second.close();
    expect(activity.isTrackingActive()).toBe(false);
    expect(activity.state.shutdown).toBe(false);
    expect((await first.closed).report).toBeNull();
    expect(await new Response(first.response.body).text()).toBe('');
    expect(await new Response(second.response.body).text()).toBe(':\n:\n');
    activity.shutdown();
  });

  it('send: a string is a message event; a value the format cannot carry throws SseFormatError and writes nothing', async () => {
    const { stream, body } = manual({ reconnect: false });
    expect(() => stream.send({ event: 'a\nb', data: 'x' })).toThrow(SseFormatError);
    stream.send('ok');
    stream[Symbol.dispose]();
    expect(await body()).toBe('data: ok\n\n');
    expect(stream.ended).toBe(true);
  });

  it('B1: bad options throw KeepaliveOptionError naming the option path and value; a non-request is a TypeError', () => {
    const request = new Request('http://127.0.0.1/');
    const cases: [SseServerOptions, RegExp][] = [
      [{ pongTimeoutMs: 1_000 } as SseServerOptions, /^Invalid option pongTimeoutMs: 1000 \(expected absent: an SSE client cannot answer keep-alives/],
      [{ heartbeatIntervalMS: 5 } as SseServerOptions, /^Invalid option heartbeatIntervalMS: 5/],
      [{ heartbeatIntervalMs: 0 }, /^Invalid option heartbeatIntervalMs: 0/],
      [{ idleCloseMs: -1 }, /^Invalid option idleCloseMs: -1/],
      [{ reconnect: { initialDelayMs: -5 } }, /^Invalid option reconnect\.initialDelayMs: -5/],
      [{ keepaliveComment: 'a\nb' }, /^Invalid option keepaliveComment: "a\\nb"/],
      [{ headers: { 'x-a': 1 as unknown as string } }, /^Invalid option headers/],
      [{ scheduler: {} as never }, /^Invalid option scheduler/],
      [{ logger: 5 as never }, /^Invalid option logger: 5/],
      [{ sendKeepalives: 'yes' as never }, /^Invalid option sendKeepalives: "yes"/],
      [{ keepProcessAlive: true as never }, /^Invalid option keepProcessAlive: true/],
      [{ reportOnExit: 1 as never }, /^Invalid option reportOnExit: 1/],
      [{ onDiagnostic: 1 as never }, /^Invalid option onDiagnostic: 1/],
      [{ activity: {} as never }, /^Invalid option activity: an object/],
      [{ activity: createSessionActivity({ pongTimeoutMs: 1_000 }) }, /pongTimeoutMs: null/],
      [{ activity: createSessionActivity(), heartbeatIntervalMs: 1_000 }, /^Invalid option heartbeatIntervalMs: 1000 \(expected absent when an activity is given/],
    ];
    for (const [options, message] of cases) {
      expect(() => createSseResponse(request, options)).toThrow(KeepaliveOptionError);
      expect(() => createSseResponse(request, options)).toThrow(message);
    }
    expect(() => createSseResponse(request, null as never)).toThrow(/^Invalid option options: null/);
    expect(() => createSseResponse({} as never)).toThrow(TypeError);
  });
});

describe('the Node adapter (createSseStream), on real sockets', () => {
  async function serve(options: SseServerOptions, onStream: (stream: SseStream, req: IncomingMessage) => void = () => undefined) {
    const streams: SseStream[] = [];
    const scheduler = createScheduler();
    const server = await httpServer((req, res) => {
      const stream = createSseStream(req, res, { scheduler, ...options });
      streams.push(stream);
      responses.set(stream, { res });
      onStream(stream, req);
    });
    closers.push(server.close);
    return { ...server, streams, scheduler };
  }

  it('S4: headers flushed at once (before any event), retry, keep-alives while busy, quiet while idle', async () => {
    const { port, streams } = await serve({ heartbeatIntervalMs: 50, headers: { 'x-app': 'demo', 'Cache-Control': 'max-age=60' } }, (stream) => {
      const release = stream.activity.start('api_call');
      stream.closed.then(release, release);
    });
    const raw = rawGet(port, '/', { 'last-event-id': '9' });
    closers.push(() => {
      raw.close();
    });
    await raw.until('retry: 500\n\n');
    const head = raw.text().split('\r\n\r\n')[0] ?? '';
    expect(head).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(head).toMatch(/content-type: text\/event-stream/i);
    expect(head).toMatch(/cache-control: no-cache/i);
    expect(head).toMatch(/x-accel-buffering: no/i);
    expect(head).toMatch(/x-app: demo/i);
    expect(head).toMatch(/transfer-encoding: chunked/i);
    await raw.until('2\r\n:\n\r\n2\r\n:\n\r\n');
    expect(streams[0]?.lastEventId).toBe('9');
    streams[0]?.close();
    await raw.until('0\r\n\r\n');
  });

  it('B6/B14: a Last-Event-ID of UTF-8 bytes on the wire (id €7: e2 82 ac 37) is read back as €7', async () => {
    const { port, streams } = await serve({ sendKeepalives: false });
    // rawGet writes its request as UTF-8: the bytes a browser sends for the id.
    const raw = rawGet(port, '/', { 'last-event-id': '€7' });
    closers.push(() => {
      raw.close();
    });
    await raw.until('retry: 500\n\n');
    expect(streams[0]?.lastEventId).toBe('€7');
  });

  it('a client that goes away is noticed (close) and everything is removed: activity shut down, no scheduler entry left', async () => {
    const { port, streams, scheduler } = await serve({ heartbeatIntervalMs: 50, idleCloseMs: 60_000 }, (stream) => {
      stream.activity.start('api_call');
    });
    const raw = rawGet(port);
    await raw.until('retry');
    expect(scheduler.size).toBeGreaterThan(0);
    raw.close();
    const closed = await streams[0]!.closed;
    expect(closed.cause).toBe('client_gone');
    expect(closed.report).toMatchObject({ total: 1 });
    expect(scheduler.size).toBe(0);
    expect(streams[0]!.signal.aborted).toBe(true);
  });

  it('a write the transport refuses ends the stream as write_failed, reported by the error name only (S10); later sends throw', async () => {
    const diagnostics: Diagnostic[] = [];
    const { port, streams } = await serve({ onDiagnostic: (d) => diagnostics.push(d) });
    const raw = rawGet(port);
    closers.push(() => {
      raw.close();
    });
    await raw.until('retry');
    const stream = streams[0]!;
    // The application (or a framework) ended the response behind the stream's back; the next write fails.
    responses.get(stream)!.res.end();
    stream.send('after the end');
    expect(await stream.closed).toMatchObject({ cause: 'write_failed' });
    expect(diagnostics.find((d) => d.name === 'sse_write_failed')?.fields).toEqual({ error: 'Error' });
    expect(() => stream.send('again')).toThrow(SseStreamEndedError);
  });

  it('backpressure: a client that stops reading fills the buffer (send returns false); drained() resolves once it reads again', async () => {
    const { port, streams } = await serve({ reconnect: false });
    const raw = rawGet(port);
    closers.push(() => {
      raw.close();
    });
    await raw.until('\r\n\r\n');
    raw.socket.pause();
    const stream = streams[0]!;
    const big = 'z'.repeat(65_536);
    let writes = 0;
    // Bounded: the kernel's and Node's buffers fill within a few MiB.
    while (stream.send(big) && writes < 4_096) writes++;
    expect(writes).toBeLessThan(4_096);
    let drained = false;
    const waiting = stream.drained().then(() => (drained = true));
    expect(drained).toBe(false);
    raw.socket.resume();
    await waiting;
    expect(stream.ended).toBe(false);
    stream.close();
    expect(await stream.closed).toMatchObject({ cause: 'closed', events: writes + 1 });
  });

  it('a client that left before the handler ran (a request from the backlog) is gone at once: nothing written, nothing armed', async () => {
    const scheduler = createScheduler();
    let stream: SseStream | null = null;
    const server = await httpServer((req, res) => {
      req.socket.destroy();
      stream = createSseStream(req, res, { scheduler, idleCloseMs: 60_000 });
    });
    closers.push(server.close);
    const raw = rawGet(server.port);
    closers.push(() => {
      raw.close();
    });
    await new Promise<void>((resolve) => raw.socket.once('close', () => resolve()));
    expect(await (stream as SseStream | null)?.closed).toMatchObject({ cause: 'client_gone', events: 0 });
    expect(scheduler.size).toBe(0);
  });

  it('a response that has already started is refused with a TypeError', async () => {
    let refused: unknown = null;
    const started = await httpServer((req, res) => {
      res.writeHead(200);
      try {
        createSseStream(req, res);
      } catch (error) {
        refused = error;
      }
      res.end();
    });
    closers.push(started.close);
    await new Promise<void>((resolve) => get(started.url, (res) => res.resume().on('end', resolve)));
    expect(refused).toBeInstanceOf(TypeError);
  });
});
