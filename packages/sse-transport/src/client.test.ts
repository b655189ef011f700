import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fetch as undiciFetch } from 'undici';
import { KeepaliveOptionError, type Diagnostic } from '@keepalive/core';
import { createScheduler } from '@keepalive/node-timers';
import { manualPlatform } from 'keepalive-test-support';
import { SseInputError, createSseClient, formatSseEvent, type SseClient, type SseClientOptions, type SseFetch } from './index.js';
import { createSseStream } from './node.js';
import { httpServer, next, record } from './test-support/net.js';

/** The client against real servers on 127.0.0.1: what it delivers, what it resumes, what it retries, what it gives up. */

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const fast: SseClientOptions = { heartbeatIntervalMs: 100, pongTimeoutMs: 250, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } };

function client(url: string, options: SseClientOptions = {}): SseClient {
  const created = createSseClient(url, { ...fast, ...options });
  closers.push(() => created.close());
  return created;
}

async function serve(handler: (req: IncomingMessage, res: ServerResponse, request: number) => void) {
  let requests = 0;
  const requestHeaders: IncomingMessage['headers'][] = [];
  const server = await httpServer((req, res) => {
    requests++;
    requestHeaders.push(req.headers);
    handler(req, res, requests);
  });
  closers.push(server.close);
  return { ...server, requestHeaders, requests: () => requests };
}

/** A plain SSE response written by hand (the client under test must not depend on our server). */
function sse(res: ServerResponse, body = ''): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(body);
}

describe('delivery and resume', () => {
  it('delivers events (type, data, id), comments; resumes with Last-Event-ID after the stream ends, after the server retry (B6)', async () => {
    const server = await serve((req, res, request) => {
      sse(res, request === 1 ? `retry: 150\n\n: hello\n${formatSseEvent({ id: '1', data: 'one' })}${formatSseEvent({ event: 'note', data: 'a\nb' })}` : formatSseEvent({ id: '2', data: 'two' }));
      if (request === 1) res.end();
    });
    const sseClient = client(server.url);
    const log = record(sseClient);
    const resumed = await next(sseClient, 'message', (m) => m.data === 'two');
    expect(resumed).toEqual({ data: 'two', event: 'message', lastEventId: '2' });
    const messages = log.filter((e) => e.type === 'message').map((e) => e.payload);
    expect(messages).toEqual([
      { data: 'one', event: 'message', lastEventId: '1' },
      { data: 'a\nb', event: 'note', lastEventId: '1' },
      { data: 'two', event: 'message', lastEventId: '2' },
    ]);
    expect(log.find((e) => e.type === 'comment')?.payload).toEqual({ text: 'hello' });
    expect(server.requestHeaders[0]).toMatchObject({ accept: 'text/event-stream', 'cache-control': 'no-cache' });
    expect(server.requestHeaders[0]?.['last-event-id']).toBeUndefined();
    expect(server.requestHeaders[1]?.['last-event-id']).toBe('1');
    // The server's retry (150 ms) is the floor of the delay; the jitter comes on top.
    const reconnecting = log.find((e) => e.type === 'reconnecting')!.payload as { delayMs: number };
    expect(reconnecting.delayMs).toBeGreaterThanOrEqual(150);
    expect(log.find((e) => e.type === 'close')?.payload).toEqual({ status: null, reason: 'end', willReconnect: true });
    expect(sseClient.lastEventId).toBe('2');
  });

  it('a function target and headers are called anew for every attempt, with the attempt and the last id (B12)', async () => {
    const server = await serve((req, res, request) => {
      sse(res, formatSseEvent({ id: String(request), data: String(req.headers.authorization) }));
      res.end();
    });
    const contexts: unknown[] = [];
    const sseClient = createSseClient((context) => {
      contexts.push(context);
      return Promise.resolve(new URL(server.url));
    }, { ...fast, headers: ({ attempt }) => Promise.resolve({ Authorization: `token-${attempt}` }), lastEventId: 'start' });
    closers.push(() => sseClient.close());
    const third = await next(sseClient, 'message', (m) => m.lastEventId === '3');
    expect(third.data).toBe('token-1');
    expect(contexts.slice(0, 3)).toEqual([{ attempt: 0, lastEventId: 'start' }, { attempt: 1, lastEventId: '1' }, { attempt: 1, lastEventId: '2' }]);
    expect(server.requestHeaders[0]?.['last-event-id']).toBe('start');
  });
});

/** The `Last-Event-ID` a request carried: its bytes on the wire (hex) and what they say as UTF-8; `null` when absent. */
function resumeHeader(req: IncomingMessage): { hex: string; id: string } | null {
  const index = req.rawHeaders.findIndex((name, at) => at % 2 === 0 && name.toLowerCase() === 'last-event-id');
  if (index < 0) return null;
  // Node's http reads a header as Latin-1: one code unit per byte.
  const bytes = Buffer.from(req.rawHeaders[index + 1]!, 'latin1');
  return { hex: bytes.toString('hex'), id: bytes.toString('utf8') };
}

describe('Last-Event-ID beyond Latin-1 (issue 24)', () => {
  /**
   * Request 1 sends `id: €7` and ends the stream; request 2 (the reconnect) is answered by our Node adapter, which
   * decodes the header; the raw bytes are recorded too.
   */
  async function euroServer() {
    const resumes: ({ hex: string; id: string } | null)[] = [];
    const adapterIds: (string | null)[] = [];
    const server = await serve((req, res, request) => {
      resumes.push(resumeHeader(req));
      if (request === 1) {
        sse(res, 'id: €7\ndata: first\n\n');
        res.end();
        return;
      }
      const stream = createSseStream(req, res, { heartbeatIntervalMs: 50 });
      adapterIds.push(stream.lastEventId);
      stream.send({ id: `after ${String(stream.lastEventId)}`, data: 'second' });
      stream.send({ id: '9', data: 'third' });
    });
    return { ...server, resumes, adapterIds };
  }

  for (const [name, fetcher] of [
    ['the platform fetch', undefined],
    ["undici's fetch", ((url, init) => undiciFetch(url, init)) as SseFetch],
  ] as const) {
    it(`B6/B14 (${name}): after id: €7 the reconnect reaches the server with Last-Event-ID e2 82 ac 37 (UTF-8), read back as €7; the client keeps receiving`, async () => {
      const server = await euroServer();
      const diagnostics: Diagnostic[] = [];
      const sseClient = client(server.url, { fetch: fetcher, onDiagnostic: (d) => diagnostics.push(d) });
      const log = record(sseClient);
      const third = await next(sseClient, 'message', (m) => m.data === 'third');
      expect(third.lastEventId).toBe('9');
      const messages = log.filter((e) => e.type === 'message').map((e) => e.payload);
      expect(messages).toEqual([
        { data: 'first', event: 'message', lastEventId: '€7' },
        { data: 'second', event: 'message', lastEventId: 'after €7' },
        { data: 'third', event: 'message', lastEventId: '9' },
      ]);
      expect(server.requests()).toBe(2);
      expect(server.resumes).toEqual([null, { hex: 'e282ac37', id: '€7' }]);
      // Our Node adapter decodes the header: the round trip gives back the id the stream set.
      expect(server.adapterIds).toEqual(['€7']);
      expect(sseClient.state).toBe('open');
      expect(log.filter((e) => e.type === 'error')).toEqual([]);
      expect(diagnostics.filter((d) => d.name === 'sse_fetch_failed' || d.name === 'sse_last_event_id_dropped')).toEqual([]);
    });
  }

  it('B6/B14: the lastEventId option beyond Latin-1 goes out as its UTF-8 bytes on the first request and on the reconnect', async () => {
    const resumes: ({ hex: string; id: string } | null)[] = [];
    const server = await serve((req, res, request) => {
      resumes.push(resumeHeader(req));
      // No id: the reconnect asks again for what the option said.
      sse(res, formatSseEvent({ data: `request ${String(request)}` }));
      if (request === 1) res.end();
    });
    const contexts: unknown[] = [];
    const sseClient = client(server.url, { lastEventId: 'ключ €7 😀', headers: (context) => (contexts.push(context), {}) });
    await next(sseClient, 'message', (m) => m.data === 'request 2');
    const bytes = Buffer.from('ключ €7 😀', 'utf8').toString('hex');
    expect(resumes).toEqual([
      { hex: bytes, id: 'ключ €7 😀' },
      { hex: bytes, id: 'ключ €7 😀' },
    ]);
    // The client's own view is the id itself, not its bytes.
    expect(sseClient.lastEventId).toBe('ключ €7 😀');
    expect(contexts[0]).toEqual({ attempt: 0, lastEventId: 'ключ €7 😀' });
  });

  it('B6/B14: an id with a control character (legal in SSE, refused as a header by Node\'s fetch) is left out, said (sse_last_event_id_dropped): no reconnect loop', async () => {
    const resumes: ({ hex: string; id: string } | null)[] = [];
    const server = await serve((req, res, request) => {
      resumes.push(resumeHeader(req));
      sse(res, request === 1 ? 'id: a\x01b\ndata: first\n\n' : formatSseEvent({ id: '2', data: 'second' }));
      if (request === 1) res.end();
    });
    const diagnostics: Diagnostic[] = [];
    const sseClient = client(server.url, { onDiagnostic: (d) => diagnostics.push(d) });
    const log = record(sseClient);
    expect((await next(sseClient, 'message', (m) => m.data === 'second')).lastEventId).toBe('2');
    expect(resumes).toEqual([null, null]);
    expect(diagnostics.filter((d) => d.name === 'sse_last_event_id_dropped').map((d) => [d.level, d.fields])).toEqual([['warn', { length: 3 }]]);
    expect(diagnostics.filter((d) => d.name === 'sse_fetch_failed')).toEqual([]);
    expect(log.filter((e) => e.type === 'error')).toEqual([]);
  });

  it('B6/B14: an id with a NUL is ignored, as the standard says: the reconnect asks for the id before it', async () => {
    const resumes: ({ hex: string; id: string } | null)[] = [];
    const server = await serve((req, res, request) => {
      resumes.push(resumeHeader(req));
      sse(res, request === 1 ? 'id: €5\ndata: first\n\nid: x\0y\ndata: nul\n\n' : formatSseEvent({ id: '6', data: 'second' }));
      if (request === 1) res.end();
    });
    const sseClient = client(server.url);
    const log = record(sseClient);
    await next(sseClient, 'message', (m) => m.data === 'second');
    expect(log.filter((e) => e.type === 'message').map((e) => (e.payload as { lastEventId: string }).lastEventId)).toEqual(['€5', '€5', '6']);
    expect(resumes).toEqual([null, { hex: 'e282ac35', id: '€5' }]);
  });

  it('B1: lastEventId is any string without NUL, CR or LF (beyond Latin-1 too); anything else throws KeepaliveOptionError naming it', () => {
    for (const bad of ['a\0b', 'a\rb', 'a\nb', 7, {}]) {
      expect(() => createSseClient('http://127.0.0.1:9/', { lastEventId: bad as string })).toThrow(KeepaliveOptionError);
      expect(() => createSseClient('http://127.0.0.1:9/', { lastEventId: bad as string })).toThrow(/^Invalid option lastEventId/);
    }
    const good = createSseClient('http://127.0.0.1:9/', { ...fast, lastEventId: '€7', reconnect: { whenIdle: 'lazy' } });
    closers.push(() => good.close());
    expect(good.lastEventId).toBe('€7');
  });
});

describe('HTTP statuses and responses (B12)', () => {
  for (const status of [204, 401, 403, 404]) {
    it(`B12: ${status} ends the client (rejected), with no retry`, async () => {
      const server = await serve((req, res) => {
        res.writeHead(status);
        res.end();
      });
      const sseClient = client(server.url);
      const rejected = await next(sseClient, 'rejected');
      expect(rejected).toEqual({ status, reason: `http_${status}` });
      const closed = await sseClient.close();
      expect(closed).toMatchObject({ cause: 'rejected', status });
      expect(server.requests()).toBe(1);
    });
  }

  it('B12: a 200 that is not text/event-stream is rejected (the standard fails such a connection)', async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<p>login</p>');
    });
    const sseClient = client(server.url);
    expect(await next(sseClient, 'rejected')).toEqual({ status: null, reason: 'content_type' });
  });

  it('B6: 503 and 429 are retried with backoff until the stream opens', async () => {
    const server = await serve((req, res, request) => {
      if (request <= 2) {
        res.writeHead(request === 1 ? 503 : 429);
        res.end();
        return;
      }
      sse(res, formatSseEvent({ data: 'finally' }));
    });
    const sseClient = client(server.url);
    const log = record(sseClient);
    await next(sseClient, 'message');
    expect(log.filter((e) => e.type === 'reconnecting').map((e) => (e.payload as { attempt: number }).attempt)).toEqual([1, 2]);
    expect(server.requests()).toBe(3);
  });

  it('B11: maxAttempts consecutive failures exhaust the client; retryStatuses is configurable', async () => {
    const server = await serve((req, res) => {
      res.writeHead(503);
      res.end();
    });
    const sseClient = client(server.url, { reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 2 } });
    const closed = await next(sseClient, 'closed');
    expect(closed).toMatchObject({ cause: 'exhausted', status: 503 });
    expect(server.requests()).toBe(3);
    const notRetried = client(server.url, { retryStatuses: [429] });
    expect(await next(notRetried, 'rejected')).toEqual({ status: 503, reason: 'http_503' });
  });

  it('B10: a server that never answers is abandoned at connectTimeoutMs and tried again; a refused connection backs off', async () => {
    const server = await serve(() => {
      // Accepts the request and never responds.
    });
    const sseClient = client(server.url, { connectTimeoutMs: 150 });
    const started = performance.now();
    const reconnecting = await next(sseClient, 'reconnecting');
    expect(reconnecting.attempt).toBe(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    await server.close();
    const diagnostics: Diagnostic[] = [];
    const refused = client(server.url, { onDiagnostic: (d) => diagnostics.push(d) });
    const error = await next(refused, 'error');
    expect(error).toBeInstanceOf(TypeError);
    await next(refused, 'reconnecting');
    expect(diagnostics.find((d) => d.name === 'sse_fetch_failed')?.fields).toEqual({ error: 'TypeError' });
  });
});

describe('stalls (B5) and the idle limit', () => {
  it('B5: busy, a stream that goes silent is detected within heartbeatIntervalMs + pongTimeoutMs, aborted and resumed', async () => {
    let silentAt = 0;
    const server = await serve((req, res, request) => {
      sse(res, formatSseEvent({ id: String(request), data: 'then silence' }));
      silentAt = performance.now();
    });
    const sseClient = client(server.url);
    sseClient.activity.start('await_answer');
    await next(sseClient, 'message');
    const deadPeer = await next(sseClient, 'dead-peer');
    const detected = performance.now() - silentAt;
    expect(deadPeer).toEqual({ timeoutMs: 250 });
    expect(detected).toBeLessThanOrEqual(100 + 250 + 150);
    expect((await next(sseClient, 'message')).lastEventId).toBe('2');
    expect(server.requestHeaders[1]?.['last-event-id']).toBe('1');
  });

  it('B5: busy, keep-alive comments alone keep the stream alive; idle, a quiet stream is not a stall', async () => {
    const server = await serve((req, res) => {
      const stream = createSseStream(req, res, { heartbeatIntervalMs: 80 });
      stream.activity.start('api_call');
    });
    const sseClient = client(server.url);
    const log = record(sseClient);
    sseClient.activity.start('await_answer');
    await next(sseClient, 'comment', () => log.filter((e) => e.type === 'comment').length >= 10);
    expect(log.filter((e) => e.type === 'dead-peer' || e.type === 'close')).toEqual([]);
    // Idle with no idle limit: no verdict however long the quiet lasts (ten simulated minutes on a real open stream).
    const quiet = await serve((req, res) => sse(res));
    const platform = manualPlatform();
    const idle = client(quiet.url, { scheduler: createScheduler({ platform }) });
    const idleLog = record(idle);
    await next(idle, 'open');
    for (let minute = 0; minute < 10; minute++) platform.advance(60_000);
    expect(idle.state).toBe('open');
    expect(idleLog.filter((e) => e.type === 'dead-peer' || e.type === 'close')).toEqual([]);
    // Busy on the same clock, the quiet stream is a stall at the next check plus pongTimeoutMs.
    idle.activity.start('await_answer');
    platform.advance(100 + 250);
    expect(idleLog.filter((e) => e.type === 'dead-peer').map((e) => e.payload)).toEqual([{ timeoutMs: 250 }]);
  });

  it('idleReadTimeoutMs: idle, a stream silent for the limit is stalled (timeoutMs is the limit), aborted and reconnected', async () => {
    const server = await serve((req, res) => sse(res, ': open\n'));
    const sseClient = client(server.url, { idleReadTimeoutMs: 300 });
    await next(sseClient, 'comment');
    const started = performance.now();
    const closed = next(sseClient, 'close');
    const reopened = next(sseClient, 'open');
    expect(await next(sseClient, 'dead-peer')).toEqual({ timeoutMs: 300 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    expect((await closed).reason).toBe('idle_read_timeout');
    await reopened;
  });
});

describe('the client itself', () => {
  it('lazy: a stream lost while idle parks (no request) until work starts, then connects at once', async () => {
    const server = await serve((req, res) => {
      sse(res, formatSseEvent({ data: 'bye' }));
      res.end();
    });
    const sseClient = client(server.url, { reconnect: { whenIdle: 'lazy', initialDelayMs: 20 } });
    await next(sseClient, 'parked');
    expect(sseClient.state).toBe('parked');
    expect(server.requests()).toBe(1);
    sseClient.activity.start('api_call');
    await next(sseClient, 'open');
    expect(server.requests()).toBe(2);
  });

  it('close() and an abort signal end it for good with the shutdown report (S9); a listener that throws is reported', async () => {
    const server = await serve((req, res) => sse(res, formatSseEvent({ data: 'x' })));
    const diagnostics: Diagnostic[] = [];
    const sseClient = client(server.url, { onDiagnostic: (d) => diagnostics.push(d) });
    sseClient.on('message', () => {
      throw new RangeError('listener bug');
    });
    const error = await next(sseClient, 'error');
    expect(error).toBeInstanceOf(RangeError);
    expect(diagnostics.find((d) => d.name === 'listener_failed')?.fields).toEqual({ event: 'message', error: 'RangeError' });
    sseClient.activity.start('api_call');
    const closed = await sseClient.close();
    expect(closed).toMatchObject({ cause: 'closed', report: { total: 1, active: { api_call: 1 } } });
    expect(sseClient.state).toBe('closed');
    expect(await sseClient.close()).toBe(closed);
    const controller = new AbortController();
    const aborted = createSseClient(server.url, { ...fast, signal: controller.signal });
    await next(aborted, 'open');
    controller.abort();
    expect(await aborted.close()).toMatchObject({ cause: 'aborted' });
    const early = new AbortController();
    early.abort();
    expect(await createSseClient(server.url, { signal: early.signal }).close()).toMatchObject({ cause: 'aborted' });
    await using disposed = createSseClient(server.url, fast);
    expect(disposed.state).toBe('connecting');
  });

  it('input over a limit: SseInputError, the stream aborted and resumed; nothing thrown out of a handler', async () => {
    const server = await serve((req, res, request) => sse(res, request === 1 ? `data: ${'x'.repeat(5_000)}` : formatSseEvent({ data: 'small' })));
    const sseClient = client(server.url, { maxLineBytes: 1_024 });
    const error = await next(sseClient, 'error');
    expect(error).toBeInstanceOf(SseInputError);
    expect(error).toMatchObject({ limit: 'line', maxBytes: 1_024, message: 'SSE line longer than maxLineBytes (1024 bytes): stream aborted' });
    expect((await next(sseClient, 'message')).data).toBe('small');
  });

  it('B1: bad options throw KeepaliveOptionError naming the option path and value; URLs are never echoed (S10)', () => {
    const cases: [unknown, SseClientOptions, RegExp][] = [
      ['ftp://host/x', {}, /^Invalid option target: "<ftp: URL>"/],
      ['not a url', {}, /^Invalid option target: "<unparsable URL>"/],
      ['http://h/', { sendKeepalives: true } as SseClientOptions, /^Invalid option sendKeepalives: true \(expected absent/],
      ['http://h/', { pongTimeoutMS: 5 } as SseClientOptions, /^Invalid option pongTimeoutMS: 5/],
      ['http://h/', { heartbeatIntervalMs: -1 }, /^Invalid option heartbeatIntervalMs: -1/],
      ['http://h/', { reconnect: { maxDelayMs: 0 } }, /^Invalid option reconnect\.maxDelayMs: 0/],
      ['http://h/', { idleReadTimeoutMs: 0 }, /^Invalid option idleReadTimeoutMs: 0/],
      ['http://h/', { retryStatuses: [200] }, /^Invalid option retryStatuses/],
      ['http://h/', { fetch: 1 as never }, /^Invalid option fetch: 1/],
      ['http://h/', { headers: [] as never }, /^Invalid option headers: an array/],
      ['http://h/', { requestInit: { signal: null } }, /^Invalid option requestInit\.signal: null/],
      ['http://h/', { requestInit: 'x' as never }, /^Invalid option requestInit: "x"/],
      ['http://h/', { lastEventId: 'a\nb' }, /^Invalid option lastEventId/],
      ['http://h/', { maxLineBytes: 0 }, /^Invalid option maxLineBytes: 0/],
      ['http://h/', { maxEventBytes: 1.5 }, /^Invalid option maxEventBytes: 1.5/],
      ['http://h/', { keepProcessAlive: true as never }, /^Invalid option keepProcessAlive: true/],
      ['http://h/', { signal: {} as never }, /^Invalid option signal/],
      ['http://h/', { scheduler: {} as never }, /^Invalid option scheduler/],
      ['http://h/', { logger: 3 as never }, /^Invalid option logger: 3/],
      ['http://h/', { reportOnExit: 'yes' as never }, /^Invalid option reportOnExit/],
    ];
    for (const [target, options, message] of cases) {
      expect(() => createSseClient(target as string, options)).toThrow(KeepaliveOptionError);
      expect(() => createSseClient(target as string, options)).toThrow(message);
    }
    expect(() => createSseClient('http://h/', null as never)).toThrow(/^Invalid option options: null/);
    // The platform's fetch is an SseFetch as it is (checked by the compiler).
    const platform: SseFetch = fetch;
    expect(typeof platform).toBe('function');
  });
});

describe('the event API and reconnect()', () => {
  it('B12: rejected (401), then reconnect(): attempt 0 again with its listeners; messages() reads the events in order and ends with the close', async () => {
    const server = await serve((req, res, request) => {
      if (request === 1) {
        res.writeHead(401);
        res.end();
        return;
      }
      sse(res, `${formatSseEvent({ id: '1', data: 'one' })}${formatSseEvent({ id: '2', data: 'two' })}`);
    });
    const sseClient = client(server.url);
    const opens: number[] = [];
    sseClient.on('open', ({ attempt }) => opens.push(attempt));
    let rejections = 0;
    sseClient.addEventListener('rejected', () => rejections++, { once: true });
    expect((await next(sseClient, 'closed')).cause).toBe('rejected');
    expect(sseClient.state).toBe('closed');
    // Closed by a rejection: close() answers with that close (nothing else happens).
    expect((await sseClient.close()).cause).toBe('rejected');
    const iterator = sseClient.messages({ maxBuffered: 5 });
    sseClient.reconnect();
    expect(sseClient.state).toBe('connecting');
    const read: string[] = [];
    for await (const message of iterator) {
      read.push(message.data);
      if (read.length === 2) break;
    }
    expect(read).toEqual(['one', 'two']);
    expect(opens).toEqual([0]);
    expect(rejections).toBe(1);
    expect(server.requests()).toBe(2);
    const tail = sseClient.messages();
    expect((await sseClient.close()).cause).toBe('closed');
    expect(await tail.next()).toEqual({ value: undefined, done: true });
    // Closed on purpose: reconnect() is refused, quietly for the caller.
    sseClient.reconnect();
    expect(sseClient.state).toBe('closed');
  });
});
