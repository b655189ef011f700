import {
  CLOSE_CODES,
  wantsSocket,
  type ConnectionUserEvent,
} from '@keepalive/core';
import { ClientShell, type TransportCommand, errorName } from '@keepalive/node-timers';
import { createParser, type EventSourceMessage, type EventSourceParser, type ParseError } from 'eventsource-parser';
import { HTTP_CLOSE_BASE, UNSUPPORTED_DATA, parseUrl, resolveSseClientOptions, type ResolvedSseClientOptions } from './client-options.js';
import {
  SSE_CLIENT_DIAGNOSTICS,
  SseInputError,
  type SseBodyReader,
  type SseClient,
  type SseClientClosedEvent,
  type SseClientEvents,
  type SseClientOptions,
  type SseClientTarget,
  type SseConnectContext,
  type SseFetchResponse,
  type SseMessage,
} from './client-types.js';
import { InputGuard } from './input-guard.js';
import { encodeLastEventId } from './last-event-id.js';

/**
 * The client driver: it translates, the core's connection machine decides
 * (backoff, connect timeout, terminal statuses, stalls, lazy reconnect). The
 * mapping:
 *
 * | connection machine | SSE |
 * | --- | --- |
 * | `open_socket` | `fetch(url, { headers: Last-Event-ID (the id's UTF-8 bytes), ..., signal })` |
 * | `socket_opened` (`canPing: false`) | a 200 response of type `text/event-stream` |
 * | `inbound` `ping` | any bytes (a chunk): proof of life |
 * | `inbound` `data` | each event the parser finds (then `deliver` hands it to the application) |
 * | `retry_after` | the stream's `retry:` field: the least delay before a reconnect |
 * | `socket_closed` | the body ended (1000), failed (1006), went past a limit (1009); a status other than 200 (4000 + status); not `text/event-stream` (1003) |
 * | `keepalive` | nothing is sent: a probe. The session machine arms its liveness deadline when it commands one, so after each tick while busy bytes are due within `pongTimeoutMs` |
 * | `destroy_socket`, `close_socket` | abort the request (`AbortController`); a close is complete at once |
 *
 * HTTP has no close handshake and the client sends nothing after the
 * request, so `reply_heartbeat` never arises (no inbound frame is reported
 * as a heartbeat) and neither do the queue and resume commands (there is no
 * `send`).
 */

/** One request: the attempt it belongs to and the controller that aborts it. */
interface Attempt {
  readonly serial: number;
  readonly controller: AbortController;
}

const EVENT_NAMES: readonly (keyof SseClientEvents)[] = Object.freeze(['open', 'message', 'comment', 'close', 'reconnecting', 'parked', 'idle', 'dead-peer', 'rejected', 'closed', 'error']);

const EVENT_STREAM = /^text\/event-stream\s*(;|$)/i;

class Client extends ClientShell<SseClientEvents, SseMessage> implements SseClient {
  private readonly options: ResolvedSseClientOptions;
  private current: Attempt | null = null;
  private last: string;

  constructor(target: SseClientTarget, given: SseClientOptions | undefined) {
    const options = resolveSseClientOptions(target, given);
    super({ ...options, logger: given?.logger, onDiagnostic: given?.onDiagnostic }, EVENT_NAMES);
    this.options = options;
    this.last = options.lastEventId;
    this.begin();
  }

  /**
   * An event the machine did not take (its stream is gone) is not delivered, and its id is not recorded, so the
   * reconnect's Last-Event-ID asks for it again; said, not dropped silently.
   */
  protected unclaimed(): void {
    this.driver.later(() => {
      this.warn(SSE_CLIENT_DIAGNOSTICS.staleEvent, {});
    });
  }

  get lastEventId(): string {
    return this.last;
  }

  close(): Promise<SseClientClosedEvent> {
    this.dispatch({ type: 'close', now: this.now(), code: 1000, reason: '' });
    return this.whenClosed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // -------------------------------------------------------------------------
  // Commands: carried out during the step; what reaches the application waits for the loop to deliver it.

  protected execute(command: TransportCommand): void {
    switch (command.type) {
      case 'open_socket': {
        const context: SseConnectContext = { attempt: command.attempt, lastEventId: this.last };
        this.driver.later(() => {
          void this.connect(command.serial, context);
        });
        return;
      }
      case 'close_socket':
        // No close handshake in HTTP: the request is aborted and the close is complete.
        this.drop();
        this.driver.enqueue({ type: 'socket_closed', now: this.machine.now, code: command.code, reason: command.reason });
        return;
      case 'destroy_socket':
      case 'abandon_socket':
        this.drop();
        return;
      case 'deliver': {
        const message = this.driver.take();
        // Last-Event-ID is what the application has been given, never more.
        if (message !== null) this.last = message.lastEventId;
        if (message !== null) this.driver.later(() => this.events.emit('message', message));
        return;
      }
      /* c8 ignore next 3 -- the probe: nothing is sent (see the mapping above); the machine armed the liveness deadline */
      case 'keepalive':
      case 'reply_heartbeat':
        return;
      /* c8 ignore next 2 -- no send, queue or resumable session on SSE: the rest never arise */
      default:
        return;
    }
  }

  protected emitUserEvent(event: ConnectionUserEvent): void {
    switch (event.type) {
      case 'open':
        this.events.emit('open', { attempt: event.attempt });
        return;
      case 'close':
        this.events.emit('close', { status: statusOf(event.code), reason: event.reason, willReconnect: event.willReconnect });
        return;
      case 'reconnecting':
        this.events.emit('reconnecting', { attempt: event.attempt, delayMs: event.delayMs });
        return;
      case 'parked':
      case 'idle':
        this.events.emit(event.type, { reason: event.reason });
        return;
      case 'dead-peer':
        this.events.emit('dead-peer', { timeoutMs: event.timeoutMs });
        return;
      case 'rejected':
        this.events.emit('rejected', { status: statusOf(event.code), reason: event.reason });
        return;
      case 'closed': {
        const closed: SseClientClosedEvent = Object.freeze({ cause: event.cause, status: statusOf(event.code), reason: event.reason, report: event.report });
        this.closedWith(closed);
        return;
      }
      /* c8 ignore next 2 -- slowed, session, forgotten, unconfirmed: ping floods, resume and writes do not exist here */
      default:
        return;
    }
  }

  /** Closed for good: the request aborted, then the shell's part. */
  protected override finish(): void {
    this.drop();
    super.finish();
  }

  // -------------------------------------------------------------------------
  // Requests: asked for by `open_socket` (serial), their facts translated.

  /** Aborts the current request and forgets it: what it still reports is stale. */
  private drop(): void {
    const attempt = this.current;
    this.current = null;
    attempt?.controller.abort();
  }

  /** The current request is over (`code`, `reason`): forgotten, then reported to the machine. */
  private lost(attempt: Attempt, code: number, reason: string): void {
    if (this.current !== attempt) return;
    this.drop();
    this.dispatch({ type: 'socket_closed', now: this.now(), code, reason });
  }

  private async connect(serial: number, context: SseConnectContext): Promise<void> {
    if (!wantsSocket(this.machine, serial)) return;
    const attempt: Attempt = { serial, controller: new AbortController() };
    this.current = attempt;
    let response: SseFetchResponse;
    try {
      const url = await resolveUrl(this.options.target, context);
      const given = this.options.headers;
      const headers = typeof given === 'function' ? await given(context) : given;
      if (this.current !== attempt) return;
      const request: Record<string, string> = {};
      for (const [name, value] of Object.entries(headers)) request[name.toLowerCase()] = value;
      request.accept = 'text/event-stream';
      request['cache-control'] = 'no-cache';
      if (this.last !== '') this.resumeHeader(request, this.last);
      response = await this.options.fetch(url, { ...this.options.requestInit, method: 'GET', headers: request, signal: attempt.controller.signal });
    } catch (error) {
      if (this.current !== attempt) return;
      this.driver.later(() => {
        this.warn(SSE_CLIENT_DIAGNOSTICS.fetchFailed, { error: errorName(error) });
        this.emitError(error);
      });
      this.lost(attempt, CLOSE_CODES.abnormal, 'fetch_failed');
      return;
    }
    if (this.current !== attempt) {
      void cancelBody(response);
      return;
    }
    this.respond(attempt, response);
  }

  /**
   * Sets `Last-Event-ID` to the id's UTF-8 bytes, one Latin-1 code unit each, as a browser sends it (a header is a
   * ByteString: `€7` as is would make every `fetch` throw, and every reconnect with it). An id no `fetch` can carry
   * (a control character) is left out, said, rather than failing the request on every reconnect: the server then
   * sees no `Last-Event-ID`.
   */
  private resumeHeader(request: Record<string, string>, id: string): void {
    const value = encodeLastEventId(id);
    if (value !== null) {
      request['last-event-id'] = value;
      return;
    }
    delete request['last-event-id'];
    this.driver.later(() => {
      this.warn(SSE_CLIENT_DIAGNOSTICS.lastEventIdDropped, { length: id.length });
    });
  }

  /** A response: a stream to read (200, `text/event-stream`), else a status the machine retries or not (B12). */
  private respond(attempt: Attempt, response: SseFetchResponse): void {
    const status = response.status;
    if (status !== 200) {
      void cancelBody(response);
      this.driver.later(() => {
        this.warn(SSE_CLIENT_DIAGNOSTICS.httpStatus, { status });
      });
      const valid = Number.isInteger(status) && status >= 100 && status <= 599;
      this.lost(attempt, valid ? HTTP_CLOSE_BASE + status : CLOSE_CODES.abnormal, `http_${String(status)}`);
      return;
    }
    if (!EVENT_STREAM.test(response.headers.get('content-type') ?? '')) {
      void cancelBody(response);
      this.lost(attempt, UNSUPPORTED_DATA, 'content_type');
      return;
    }
    const body = response.body;
    if (body === null) {
      this.lost(attempt, CLOSE_CODES.abnormal, 'no_body');
      return;
    }
    this.dispatch({ type: 'socket_opened', now: this.now(), canPing: false });
    void this.read(attempt, body.getReader());
  }

  /** Reads the open stream until it ends, fails, or is no longer the current one. */
  private async read(attempt: Attempt, reader: SseBodyReader): Promise<void> {
    const guard = new InputGuard(this.options.maxLineBytes, this.options.maxEventBytes);
    const decoder = new TextDecoder();
    const parser = this.parser(attempt);
    try {
      while (this.current === attempt) {
        const { done, value } = await reader.read();
        if (this.current !== attempt) break;
        if (done) {
          this.lost(attempt, 1000, 'end');
          return;
        }
        if (value !== undefined && value.byteLength > 0) this.chunk(attempt, value, guard, decoder, parser);
      }
      // Aborted (a stall, a close, input over a limit): let the body go.
      await reader.cancel().catch(noop);
    } catch (error) {
      if (this.current !== attempt) return;
      this.driver.later(() => {
        this.diagnose({ type: 'diagnostic', level: 'info', name: SSE_CLIENT_DIAGNOSTICS.streamFailed, fields: { error: errorName(error) } });
      });
      this.lost(attempt, CLOSE_CODES.abnormal, 'network_error');
    }
  }

  /** One chunk: within the limits it is proof of life (B5), then parsed; past one the stream is dropped. */
  private chunk(attempt: Attempt, bytes: Uint8Array, guard: InputGuard, decoder: InstanceType<typeof TextDecoder>, parser: EventSourceParser): void {
    const broken = guard.scan(bytes);
    if (broken !== null) {
      const max = broken === 'line' ? this.options.maxLineBytes : this.options.maxEventBytes;
      this.driver.later(() => {
        this.warn(SSE_CLIENT_DIAGNOSTICS.inputTooLarge, { limit: broken, max_bytes: max });
        this.events.emit('error', new SseInputError(broken, max));
      });
      this.lost(attempt, CLOSE_CODES.messageTooBig, broken === 'line' ? 'line_too_long' : 'event_too_large');
      return;
    }
    this.dispatch({ type: 'inbound', now: this.now(), frame: 'ping' });
    parser.feed(decoder.decode(bytes, { stream: true }));
  }

  /** The parser of one stream: what it finds goes to the machine while the stream is the current one. */
  private parser(attempt: Attempt): EventSourceParser {
    // The stream's last event ID buffer (the standard's): it starts from what was asked for.
    let seen = this.last;
    return createParser({
      onEvent: (event: EventSourceMessage) => {
        if (this.current !== attempt) return;
        // The parser ignores an id with a NUL, as the standard says (it could never be sent back); tested.
        if (event.id !== undefined) seen = event.id;
        const message: SseMessage = Object.freeze({ data: event.data, event: event.event ?? 'message', lastEventId: seen });
        this.dispatch({ type: 'inbound', now: this.now(), frame: 'data' }, message);
      },
      onComment: (text: string) => {
        if (this.current !== attempt) return;
        this.driver.later(() => this.events.emit('comment', { text }));
        this.dispatch(null);
      },
      onRetry: (delayMs: number) => {
        if (this.current === attempt) this.dispatch({ type: 'retry_after', now: this.now(), delayMs });
      },
      onError: (error: ParseError) => {
        // Malformed lines are skipped, as the standard says; counted, never thrown.
        this.driver.later(() => {
          this.warn(SSE_CLIENT_DIAGNOSTICS.parseError, { type: error.type });
        });
        this.dispatch(null);
      },
    });
  }
}

/** The HTTP status behind a close code (4000 + status), or `null`. */
function statusOf(code: number): number | null {
  return code >= HTTP_CLOSE_BASE + 100 && code <= HTTP_CLOSE_BASE + 599 ? code - HTTP_CLOSE_BASE : null;
}

async function resolveUrl(target: SseClientTarget, context: SseConnectContext): Promise<string> {
  if (typeof target !== 'function') return String(target);
  const url = parseUrl(await target(context));
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new TypeError('SSE client target: expected the function to return an http: or https: URL');
  return url.href;
}

async function cancelBody(response: SseFetchResponse): Promise<void> {
  try {
    await response.body?.getReader().cancel();
  } catch {
    // A body that cannot be cancelled is already gone.
  }
}

function noop(): void {
  // Nothing to release.
}

/**
 * Creates a Server-Sent Events client on the platform's `fetch` (Node ≥ 20,
 * Bun, Deno, browsers) that keeps the stream honest while its activity is
 * busy: any bytes are proof of life, and a stream silent past
 * `heartbeatIntervalMs` + `pongTimeoutMs` while busy (or `idleReadTimeoutMs`
 * while idle) is stalled: aborted, reported (`dead-peer`) and reconnected
 * with `Last-Event-ID`, with capped, jittered backoff above the server's
 * `retry:` (B5, B6). A response that does not open within `connectTimeoutMs`
 * is abandoned (B10); 204 and 4xx statuses end the client, 5xx, 408 and 429
 * are retried (B12); lines and events are bounded. Every one of these rules
 * is the core's connection machine; this is its driver. Bad options throw
 * `KeepaliveOptionError` naming the option and value.
 */
export function createSseClient(target: SseClientTarget, options?: SseClientOptions): SseClient {
  return new Client(target, options);
}
