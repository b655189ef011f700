import {
  KeepaliveOptionError,
  checkBoolean,
  checkKnownKeys,
  defineSessionConfig,
  defineReconnectConfig,
  nestedOptions,
  type Diagnostic,
  type ReconnectOptions,
  type ShutdownReport,
} from '@keepalive/core';
import {
  createDiagnosticSink,
  createSessionActivity,
  defaultScheduler,
  errorName,
  nextInstanceId,
  type ScheduledEntry,
  type Scheduler,
  type SessionActivity,
  type SessionActivityOptions,
  type WorkActivity,
} from '@keepalive/node-timers';
import { formatSseComment, formatSseEvent, formatSseRetry, type SseEvent } from './format.js';
import { decodeLastEventId } from './last-event-id.js';
import {
  createSseStreamState,
  defineSseStreamConfig,
  sseStreamDeadline,
  sseStreamStep,
  type SseCloseCause,
  type SseStreamCommand,
  type SseStreamConfig,
  type SseStreamEvent,
  type SseStreamState,
} from './stream-machine.js';

/**
 * The server end, runtime-neutral: one SSE response kept alive by a session
 * activity (the core's session machine decides: a comment line at the
 * interval while work is in flight, quiet while idle unless keep-alive
 * without activity is on, S4 B7), ended by the stream machine
 * (`stream-machine.ts`: closed, client gone, write failed, idle close). The
 * adapters (Node's `ServerResponse`, the Fetch API's `Response`) only carry
 * bytes and report what their transport says.
 */

/**
 * Options of a server stream ({@link createSseResponse}, and `createSseStream`
 * on Node): the session activity's options (the keep-alive interval is
 * `heartbeatIntervalMs`), or an `activity` of your own, plus the stream's.
 * `pongTimeoutMs` is refused: an SSE client cannot answer a keep-alive, so
 * a client that went away is noticed through the transport (the connection
 * closes, a write fails, the body is cancelled).
 */
export interface SseServerOptions extends Omit<SessionActivityOptions, 'pongTimeoutMs'> {
  /**
   * Keep this activity's work alive instead of a new one per stream. Its sender is the stream's while the stream is
   * open (it replaces any other: S3) and is detached when the stream ends; the activity is not shut down. It must
   * have `pongTimeoutMs: null`. With it, the session options (`heartbeatIntervalMs`, `idleDelayMs`,
   * `sendKeepalives`, `permitWithoutActivity`, `stuckActivityMs`, `lateTimerMs`, `keepProcessAlive`,
   * `reportOnExit`) are refused: the activity has its own.
   */
  readonly activity?: SessionActivity | undefined;
  /**
   * End the response when no application event was written for this long (keep-alives do not count), like the
   * WebSocket server's idle close; the client reconnects when it needs the stream again. `null` (default): never.
   */
  readonly idleCloseMs?: number | null | undefined;
  /**
   * The clients' reconnect policy: its `initialDelayMs` is written once at the start as the `retry:` field (the
   * reconnection time EventSource clients wait; the keepalive client waits at least that plus its jittered
   * backoff). Default `{}` (500 ms); `false` writes no `retry:` field.
   */
  readonly reconnect?: ReconnectOptions | false | undefined;
  /** The keep-alive comment's text. Default `''`: the keep-alive is `:\n`, 2 bytes. No line breaks. */
  readonly keepaliveComment?: string | undefined;
  /** Extra response headers (the SSE ones, {@link SSE_RESPONSE_HEADERS}, are always set). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** The scheduler the stream's activity and idle policy run on. Default: the process-wide one (one OS timer). */
  readonly scheduler?: Scheduler | undefined;
}

/**
 * How a stream ended, delivered once by {@link SseStream.closed}: its cause,
 * the application events written, how long it was open, and the shutdown
 * report of its activity (S9; `null` when the activity was given: it lives on).
 */
export interface SseStreamClosedEvent {
  readonly cause: SseCloseCause;
  readonly events: number;
  readonly openMs: number;
  readonly report: ShutdownReport | null;
}

/**
 * One SSE response on the server. Start work on `activity` (`run`, `start`)
 * and the stream is kept alive while it is in flight; write with `send`.
 */
export interface SseStream extends Disposable {
  /** The work-facing side of the stream's activity: while work is in flight, keep-alives go out (S4). */
  readonly activity: WorkActivity;
  /**
   * The client's `Last-Event-ID` header: resume after this id. Its bytes are decoded as UTF-8, so an id the stream
   * sent as `id: €7` comes back as `€7` (bytes that are not UTF-8 are kept, one character per byte). `null` when
   * absent or unusable (too long, NUL).
   */
  readonly lastEventId: string | null;
  /** Whether the stream has ended (for any cause). */
  readonly ended: boolean;
  /** Aborted when the stream ends, whatever the cause: hand it to the work so it stops with the stream. */
  readonly signal: AbortSignal;
  /** Resolves once, when the stream has ended and released everything. */
  readonly closed: Promise<SseStreamClosedEvent>;
  /**
   * Writes one event (a string is the data of a `message` event). Returns `false` when the transport's buffer is
   * full: wait for {@link SseStream.drained} before writing more. Throws `SseFormatError` for a value the format
   * cannot carry (nothing is written), and {@link SseStreamEndedError} once the stream has ended (never dropped
   * silently).
   */
  send(event: SseEvent | string): boolean;
  /** Resolves when the transport takes more data (at once when it does now, or when the stream has ended). */
  drained(): Promise<void>;
  /** Ends the response (its bytes are flushed) and releases everything. Safe to call more than once. */
  close(): void;
}

/**
 * Thrown by `send` on a stream that has ended; `reason` says why it ended. It is also the `reason` of the stream's
 * aborted `signal`.
 */
export class SseStreamEndedError extends Error {
  /** Why the stream ended. */
  readonly reason: SseCloseCause;
  constructor(reason: SseCloseCause) {
    super(`SSE stream ended (${reason}): nothing more can be written`);
    this.name = 'SseStreamEndedError';
    this.reason = reason;
  }
}

/**
 * The response headers of every stream: the media type, no caching by the
 * browser or proxies, and `X-Accel-Buffering: no` so nginx passes each event
 * (and each keep-alive) on at once instead of buffering the response.
 */
export const SSE_RESPONSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
});

/**
 * The longest `Last-Event-ID` a stream takes from a client, in bytes (UTF-8: `€` is 3); longer ones are refused as
 * unusable, with a diagnostic.
 */
export const MAX_LAST_EVENT_ID_LENGTH = 1_024;

/**
 * Diagnostics of a server stream besides the stream machine's and its
 * activity's: warn `sse_bad_last_event_id` `{length}` (a `Last-Event-ID` over
 * {@link MAX_LAST_EVENT_ID_LENGTH} or with a NUL: taken as absent).
 */
export const SSE_SERVER_DIAGNOSTICS = Object.freeze({ badLastEventId: 'sse_bad_last_event_id' } as const);

// ---------------------------------------------------------------------------
// Internals shared by the adapters.

/** What an adapter reports to its stream. */
export interface SinkHost {
  /** The client went away (connection closed, request aborted, body cancelled). */
  gone(): void;
  /** The transport refused a write. */
  failed(error: unknown): void;
  /** The transport takes data again after a full buffer. */
  drain(): void;
}

/** What a stream asks of its adapter: bytes out, end, destroy, and its listeners removed. */
export interface SseSink {
  /** Writes `text`; `false` when the buffer is full. Throws when the transport refuses it outright. */
  write(text: string): boolean;
  end(): void;
  destroy(): void;
  /** Removes every listener the adapter added. */
  release(): void;
}

/** The server options, validated. */
export interface ResolvedServerOptions {
  readonly stream: SseStreamConfig;
  readonly retryMs: number | null;
  readonly comment: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly scheduler: Scheduler;
  readonly activity: SessionActivity | null;
  readonly activityOptions: SessionActivityOptions;
  readonly logger: SessionActivityOptions['logger'];
  readonly onDiagnostic: ((diagnostic: Diagnostic) => void) | undefined;
}

const SESSION_KEYS = Object.freeze([
  'heartbeatIntervalMs',
  'idleDelayMs',
  'sendKeepalives',
  'permitWithoutActivity',
  'stuckActivityMs',
  'lateTimerMs',
  'keepProcessAlive',
  'reportOnExit',
] as const);
const KNOWN_KEYS: readonly string[] = Object.freeze([...SESSION_KEYS, 'logger', 'onDiagnostic', 'scheduler', 'activity', 'idleCloseMs', 'reconnect', 'keepaliveComment', 'headers']);

/** Validates a stream's options (B1): throws `KeepaliveOptionError` naming the option (by path) and the value. */
export function resolveServerOptions(given: SseServerOptions | undefined): ResolvedServerOptions {
  const raw: unknown = given;
  if (raw === null || (raw !== undefined && typeof raw !== 'object')) throw new KeepaliveOptionError('options', raw, 'an object of SSE server options');
  const options: SseServerOptions = given ?? {};
  if (Object.hasOwn(options, 'pongTimeoutMs')) {
    throw new KeepaliveOptionError('pongTimeoutMs', (options as { pongTimeoutMs?: unknown }).pongTimeoutMs, 'absent: an SSE client cannot answer keep-alives; a client that went away is noticed by the transport');
  }
  checkKnownKeys(options, KNOWN_KEYS, 'SSE server');
  const activity = checkActivity(options);
  const reconnect: unknown = options.reconnect ?? {};
  const retryMs = reconnect === false ? null : nestedOptions('reconnect', reconnect as ReconnectOptions, defineReconnectConfig).initialDelayMs;
  const comment: unknown = options.keepaliveComment ?? '';
  if (typeof comment !== 'string' || /[\r\n]/.test(comment)) throw new KeepaliveOptionError('keepaliveComment', comment, 'a string without line breaks');
  const headers = checkHeaders(options.headers);
  const scheduler: unknown = options.scheduler ?? defaultScheduler();
  if (typeof scheduler !== 'object' || scheduler === null || typeof (scheduler as Partial<Scheduler>).entry !== 'function' || typeof (scheduler as Partial<Scheduler>).now !== 'function') {
    throw new KeepaliveOptionError('scheduler', scheduler, 'a scheduler from createScheduler()');
  }
  const onDiagnostic: unknown = options.onDiagnostic;
  if (onDiagnostic !== undefined && typeof onDiagnostic !== 'function') throw new KeepaliveOptionError('onDiagnostic', onDiagnostic, 'a function');
  const activityOptions: Record<string, unknown> = { scheduler, logger: options.logger, onDiagnostic: options.onDiagnostic };
  for (const key of SESSION_KEYS) if (options[key] !== undefined) activityOptions[key] = options[key];
  const resolved: ResolvedServerOptions = {
    stream: defineSseStreamConfig({ idleCloseMs: options.idleCloseMs }),
    retryMs,
    comment: formatSseComment(comment),
    headers,
    scheduler: scheduler as Scheduler,
    activity,
    activityOptions,
    logger: options.logger,
    onDiagnostic: options.onDiagnostic,
  };
  if (activity === null) checkSessionOptions(options);
  // The logger and hook are validated by building a sink (it does nothing until called).
  createDiagnosticSink({ session: 0, logger: options.logger, onDiagnostic: options.onDiagnostic });
  return resolved;
}

/** The activity's options, validated now rather than at the first request (as `createSessionActivity` would). */
function checkSessionOptions(options: SseServerOptions): void {
  const gate: unknown = options.sendKeepalives ?? true;
  if (typeof gate !== 'boolean' && typeof gate !== 'function') throw new KeepaliveOptionError('sendKeepalives', gate, 'a boolean or a function returning one');
  const hold: unknown = options.keepProcessAlive ?? false;
  if (hold !== false && hold !== 'while-busy') throw new KeepaliveOptionError('keepProcessAlive', hold, "false or 'while-busy'");
  checkBoolean('reportOnExit', options.reportOnExit ?? false);
  const { heartbeatIntervalMs, idleDelayMs, permitWithoutActivity, stuckActivityMs, lateTimerMs } = options;
  defineSessionConfig({ heartbeatIntervalMs, idleDelayMs, permitWithoutActivity, stuckActivityMs, lateTimerMs });
}

function checkActivity(options: SseServerOptions): SessionActivity | null {
  const activity: unknown = options.activity;
  if (activity === undefined) return null;
  const candidate = typeof activity === 'object' && activity !== null ? (activity as Partial<SessionActivity>) : {};
  if (typeof candidate.attach !== 'function' || typeof candidate.detach !== 'function' || typeof candidate.start !== 'function') {
    throw new KeepaliveOptionError('activity', activity, 'a session activity from createSessionActivity()');
  }
  const { state } = activity as SessionActivity;
  if (state.config.pongTimeoutMs !== null) {
    throw new KeepaliveOptionError('activity', activity, 'an activity with pongTimeoutMs: null (an SSE client cannot answer keep-alives)');
  }
  for (const key of SESSION_KEYS) {
    if (options[key] !== undefined) throw new KeepaliveOptionError(key, options[key], 'absent when an activity is given (the activity has its own)');
  }
  return activity as SessionActivity;
}

function checkHeaders(value: unknown): Readonly<Record<string, string>> {
  if (value === undefined) return SSE_RESPONSE_HEADERS;
  const valid = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((item) => typeof item === 'string');
  if (!valid) throw new KeepaliveOptionError('headers', value, 'an object of header names to string values');
  const headers: Record<string, string> = {};
  for (const [name, item] of Object.entries(value as Record<string, string>)) headers[name.toLowerCase()] = item;
  // The SSE headers win: a stream that is cached or buffered is no stream.
  return Object.freeze({ ...headers, ...SSE_RESPONSE_HEADERS });
}

/** The stream each given activity's sender belongs to, so a stream that ends never detaches a newer one's. */
const attachedStreams = new WeakMap<SessionActivity, object>();

/**
 * One server stream: the adapter's sink, its activity's sender, the stream machine, and one scheduler entry. The
 * adapters build on it (the Fetch one adds its `response`); it is not exported from the package.
 */
export class Stream implements SseStream {
  readonly activity: WorkActivity;
  readonly lastEventId: string | null;
  readonly signal: AbortSignal;
  readonly closed: Promise<SseStreamClosedEvent>;
  private machine: SseStreamState;
  private readonly own: SessionActivity | null;
  private readonly given: SessionActivity | null;
  private readonly sink: SseSink;
  private readonly entry: ScheduledEntry;
  private readonly scheduler: Scheduler;
  private readonly diagnose: (diagnostic: Diagnostic) => void;
  private readonly controller = new AbortController();
  private readonly out: SseStreamCommand[] = [];
  private readonly pending: SseStreamEvent[] = [];
  private stepping = false;
  /** Whether the last write found the buffer full (until the transport drains). */
  private full = false;
  private drainWaiters: (() => void)[] = [];
  private resolveClosed: (event: SseStreamClosedEvent) => void = noop;

  constructor(lastEventIdHeader: string | null, options: ResolvedServerOptions, connect: (host: SinkHost) => SseSink) {
    this.scheduler = options.scheduler;
    this.diagnose = createDiagnosticSink({ session: nextInstanceId(), logger: options.logger, onDiagnostic: options.onDiagnostic });
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.signal = this.controller.signal;
    this.lastEventId = this.readLastEventId(lastEventIdHeader);
    this.machine = createSseStreamState(options.stream, this.scheduler.now());
    this.entry = this.scheduler.entry((now) => {
      this.step({ type: 'timeout', now: Math.max(now, this.machine.now) });
    });
    this.given = options.activity;
    this.own = this.given === null ? createSessionActivity(options.activityOptions) : null;
    this.activity = this.activityOf();
    // What the adapter reports while it connects (a client already gone) is stepped once the sink exists.
    this.stepping = true;
    this.sink = connect({
      gone: () => {
        this.step({ type: 'gone', now: this.now() });
      },
      failed: (error) => {
        this.step({ type: 'write_failed', now: this.now(), error: errorName(error) });
      },
      drain: () => {
        this.wakeDrainWaiters();
      },
    });
    this.stepping = false;
    this.run();
    if (options.retryMs !== null && this.machine.phase === 'open') this.write(formatSseRetry(options.retryMs));
    const comment = options.comment;
    // S3, S4: attached for the life of the stream; the session machine decides when a keep-alive goes out.
    if (this.machine.phase === 'open') {
      const sender = {
        sendKeepalive: (): void => {
          if (this.machine.phase === 'open') this.write(comment);
        },
      };
      if (this.given !== null) attachedStreams.set(this.given, this);
      this.activityOf().attach(sender);
    }
    this.schedule();
  }

  /** The activity the stream keeps alive: the given one, or its own. */
  private activityOf(): SessionActivity {
    /* c8 ignore next -- one of the two is always set */
    const activity = this.given ?? this.own;
    if (activity === null) throw new TypeError('SSE stream without an activity');
    return activity;
  }

  get ended(): boolean {
    return this.machine.phase === 'closed';
  }

  send(event: SseEvent | string): boolean {
    if (this.machine.phase === 'closed') throw new SseStreamEndedError(this.machine.cause ?? /* c8 ignore next */ 'closed');
    const text = formatSseEvent(typeof event === 'string' ? { data: event } : event);
    const accepted = this.write(text);
    // A transport that refused the write outright has ended the stream: the event was not written, and says so.
    if (this.ended) throw new SseStreamEndedError(this.machine.cause ?? /* c8 ignore next */ 'write_failed');
    this.step({ type: 'event', now: this.now() });
    return accepted;
  }

  drained(): Promise<void> {
    if (this.machine.phase === 'closed' || !this.full) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  close(): void {
    this.step({ type: 'close', now: this.now() });
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private now(): number {
    return Math.max(this.scheduler.now(), this.machine.now);
  }

  /** Writes through the sink; a refusal is the transport failing (the stream ends with `write_failed`). */
  private write(text: string): boolean {
    try {
      const accepted = this.sink.write(text);
      if (!accepted) this.full = true;
      return accepted;
    } catch (error) {
      this.step({ type: 'write_failed', now: this.now(), error: errorName(error) });
      return false;
    }
  }

  private wakeDrainWaiters(): void {
    this.full = false;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  /** The header's bytes decoded as UTF-8 (a client sends an id's UTF-8 bytes); refused when too long or with a NUL. */
  private readLastEventId(header: string | null): string | null {
    if (header === null) return null;
    if (header.length <= MAX_LAST_EVENT_ID_LENGTH && !header.includes('\0')) return decodeLastEventId(header);
    this.diagnose({ type: 'diagnostic', level: 'warn', name: SSE_SERVER_DIAGNOSTICS.badLastEventId, fields: { length: header.length } });
    return null;
  }

  private step(event: SseStreamEvent): void {
    this.pending.push(event);
    this.run();
  }

  /** Steps the pending events in order (an event reported while stepping waits its turn). */
  private run(): void {
    if (this.stepping) return;
    this.stepping = true;
    try {
      for (let next = this.pending.shift(); next !== undefined; next = this.pending.shift()) {
        this.out.length = 0;
        this.machine = sseStreamStep(this.machine, next, this.out);
        for (const command of [...this.out]) this.execute(command);
      }
    } finally {
      this.stepping = false;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.machine.phase === 'open') this.entry.schedule(sseStreamDeadline(this.machine));
  }

  private execute(command: SseStreamCommand): void {
    switch (command.type) {
      case 'end':
        this.guarded(() => {
          this.sink.end();
        });
        return;
      case 'destroy':
        this.guarded(() => {
          this.sink.destroy();
        });
        return;
      case 'release':
        this.release(command.cause);
        return;
      case 'diagnostic':
        this.diagnose(command);
        return;
    }
  }

  /** A transport that throws while ending has ended all the same: reported, never thrown out of a handler. */
  private guarded(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.diagnose({ type: 'diagnostic', level: 'warn', name: 'sse_end_failed', fields: { error: errorName(error) } });
    }
  }

  /** The stream is over: nothing armed, attached or listened to remains. */
  private release(cause: SseCloseCause): void {
    this.entry.dispose();
    this.sink.release();
    let report: ShutdownReport | null = null;
    if (this.own !== null) report = this.own.shutdown();
    else if (this.given !== null && attachedStreams.get(this.given) === this) {
      attachedStreams.delete(this.given);
      this.given.detach();
    }
    this.wakeDrainWaiters();
    this.controller.abort(new SseStreamEndedError(cause));
    this.resolveClosed(Object.freeze({ cause, events: this.machine.events, openMs: this.machine.now - this.machine.openedAt, report }));
  }
}

function noop(): void {
  // Replaced in the constructor.
}
