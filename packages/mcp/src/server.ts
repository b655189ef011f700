import { KeepaliveOptionError, checkDuration, checkKnownKeys, checkOptionalDuration, optionOr, type Diagnostic, type DiagnosticFields, type DiagnosticLevel } from '@keepalive/core';
import {
  createDiagnosticSink,
  createSessionActivity,
  defaultScheduler,
  errorName,
  type Logger,
  type Scheduler,
  type SessionActivity,
  type ShutdownReport,
  type WorkActivity,
} from '@keepalive/node-timers';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ProgressToken, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { MCP_DIAGNOSTICS } from './diagnostics.js';
import { ProgressTrack, type ProgressValue, type ReportProblem } from './progress.js';
import type { KeepaliveStream, SseStreamSource } from './stream.js';

/**
 * What the SDK hands a tool handler as its last argument (`RequestHandlerExtra` of a server): the request's
 * `_meta.progressToken`, `sendNotification`, `signal` and `requestId` are what the keep-alive uses.
 */
export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * The small progress API a wrapped handler receives as its last argument.
 */
export interface ToolProgress {
  /** Whether the client asked for progress (its request carried a `progressToken`). */
  readonly requested: boolean;
  /**
   * Sends a progress notification now (when the client asked for progress). `progress` must be a finite number ≥ 0
   * and should grow; `total` (≥ 0) holds until another is given; `message` belongs to this report. A bad report
   * never throws: it is ignored and reported once as `invalid_progress`. A report that does not grow is sent raised
   * to the next representable value (the MCP rule), with `invalid_progress` `{ problem: 'not_increasing' }` once.
   * Later keep-alives repeat the last report. Calls after the tool ended are ignored. A plain function: it may be
   * passed around detached (`const { report } = progress`).
   */
  readonly report: (progress: number, total?: number, message?: string) => void;
}

/**
 * Options of {@link createServerKeepalive}.
 */
export interface ServerKeepaliveOptions {
  /**
   * Time between keep-alives for every tool call in flight (spec S4, S5). Keep it below the client's request timeout
   * (the SDK's default is 60 s) and below every idle limit on the way (60 s for nginx and ALB). Default 15 000 ms.
   */
  readonly heartbeatIntervalMs?: number | undefined;
  /** Delay after the last tool call ends before the `idle` diagnostic (S6). Default 30 000 ms. */
  readonly idleDelayMs?: number | undefined;
  /** Warn once for a tool call still running after this long (`stuck_activity`). Default `null` (off). */
  readonly stuckActivityMs?: number | null | undefined;
  /**
   * Where to find the response stream of a request without a `progressToken`, for the SSE comment fallback:
   * `createSseStreams()` from `@keepalive/mcp/http`. Without it such a request gets no keep-alive from this package
   * (the SDK's own `keepAliveMs` comments still flow on Streamable HTTP).
   */
  readonly streams?: SseStreamSource | undefined;
  /** Where diagnostics go (the session activity's and this package's). Default: silent. */
  readonly logger?: Logger | undefined;
  /** Called with every diagnostic after the logger. */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
  /** The scheduler to run on. Default: the process-wide shared one (one OS timer for every session). */
  readonly scheduler?: Scheduler | undefined;
}

/**
 * The server-side keep-alive: wraps tool handlers so that each call, while it runs, counts as activity (reason
 * `tool_exec`) on one session activity, and gets a keep-alive every `heartbeatIntervalMs`: a
 * `notifications/progress` when its request carries a `progressToken`, else an SSE comment on its response stream.
 */
export interface ServerKeepalive extends Disposable {
  /**
   * Wraps the handler of a tool that has an input schema: the SDK calls it with `(args, extra)`; the handler gets
   * `(args, extra, progress)`. Keep-alives stop when the handler returns or throws, or when `extra.signal` aborts
   * (the client cancelled), whichever comes first. What the handler returns or throws passes through unchanged.
   */
  wrap<A, R>(handler: (args: A, extra: ToolExtra, progress: ToolProgress) => R | PromiseLike<R>): (args: A, extra: ToolExtra) => Promise<R>;
  /** The same for a tool without an input schema, which the SDK calls with `(extra)` alone. */
  wrapNoInput<R>(handler: (extra: ToolExtra, progress: ToolProgress) => R | PromiseLike<R>): (extra: ToolExtra) => Promise<R>;
  /** The session activity the calls count on (reason `tool_exec`): observe it with `snapshot()` or `subscribe()`. */
  readonly activity: WorkActivity;
  /** Tool calls being kept alive now. */
  readonly inFlight: number;
  /**
   * Stops every keep-alive and shuts the activity down (its report, S9). Handlers still running go on without
   * keep-alives; wrapped handlers started later run without them (`keepalive_closed`, once). Later calls return the
   * same report.
   */
  close(): ShutdownReport;
}

/**
 * The defaults of {@link ServerKeepaliveOptions}.
 */
export const SERVER_KEEPALIVE_DEFAULTS = Object.freeze({
  heartbeatIntervalMs: 15_000,
  idleDelayMs: 30_000,
  stuckActivityMs: null,
} as const);

const SERVER_OPTION_KEYS: readonly string[] = Object.freeze([
  'heartbeatIntervalMs',
  'idleDelayMs',
  'stuckActivityMs',
  'streams',
  'logger',
  'onDiagnostic',
  'scheduler',
]);

/** The reason every tool call counts under (the reference module's name for tool work, spec S1). */
const REASON = 'tool_exec';

type Emit = (level: DiagnosticLevel, name: string, fields: DiagnosticFields) => void;
type Outcome = 'completed' | 'failed' | 'aborted' | 'closed';

const NO_FIELDS: DiagnosticFields = Object.freeze({});

/** The progress API of a call that gets no keep-alive (closed keep-alive, or no usable `extra`). */
const INERT_PROGRESS: ToolProgress = Object.freeze({
  requested: false,
  report: () => undefined,
});

/** One tool call in flight. */
class Call {
  readonly token: ProgressToken | null;
  readonly progress: ToolProgress;
  private readonly track = new ProgressTrack();
  private readonly problems = new Set<ReportProblem>();
  private readonly release: () => void;
  private readonly startedAt: number;
  private comments = 0;
  private notifications = 0;
  private failed = false;
  private ended = false;

  constructor(
    private readonly extra: ToolExtra,
    private readonly stream: KeepaliveStream | null,
    private readonly owner: Server,
  ) {
    const token: unknown = extra._meta?.progressToken;
    this.token = typeof token === 'string' || (typeof token === 'number' && Number.isFinite(token)) ? token : null;
    this.startedAt = owner.now();
    this.release = owner.session.start(REASON);
    this.progress = {
      requested: this.token !== null,
      report: (progress, total, message) => {
        this.report(progress, total, message);
      },
    };
    extra.signal.addEventListener('abort', this.onAbort, { once: true });
    if (this.token === null) {
      owner.emit('info', MCP_DIAGNOSTICS.progressUnavailable, { fallback: stream === null ? 'none' : 'sse_comment' });
    }
  }

  /** One keep-alive: progress when asked for, else a comment on the stream (once per stream and tick). */
  heartbeat(commented: Set<KeepaliveStream>): void {
    if (this.ended) return;
    if (this.token !== null) {
      const value = this.track.heartbeat();
      if (value !== null) this.send(value);
      return;
    }
    const stream = this.stream;
    if (stream === null || commented.has(stream)) return;
    let written = false;
    try {
      written = stream.comment();
    } catch {
      // A stream must not throw (KeepaliveStream says so); one that does is treated as unwritable.
    }
    if (written) {
      commented.add(stream);
      this.comments += 1;
    }
  }

  end(outcome: Outcome): void {
    if (this.ended) return;
    this.ended = true;
    this.extra.signal.removeEventListener('abort', this.onAbort);
    this.owner.forget(this);
    if (outcome !== 'closed') this.release();
    this.owner.emit('debug', MCP_DIAGNOSTICS.toolCallEnded, {
      outcome,
      duration_ms: this.owner.now() - this.startedAt,
      progress_sent: this.notifications,
      comments_sent: this.comments,
    });
  }

  private readonly onAbort = (): void => {
    // The client cancelled (or the connection went): the SDK sends nothing more for this request, and neither do we.
    this.end('aborted');
  };

  private report(progress: unknown, total: unknown, message: unknown): void {
    if (this.ended) return;
    const { value, problem } = this.track.report(progress, total, message);
    if (problem !== null && !this.problems.has(problem)) {
      this.problems.add(problem);
      this.owner.emit('warn', MCP_DIAGNOSTICS.invalidProgress, { problem });
    }
    if (value !== null && this.token !== null) this.send(value);
  }

  private send(value: ProgressValue): void {
    const token = this.token;
    if (token === null) return;
    const notification: ServerNotification = { method: 'notifications/progress', params: { progressToken: token, ...value } };
    this.notifications += 1;
    try {
      this.extra.sendNotification(notification).then(undefined, (error: unknown) => {
        this.sendFailed(error);
      });
    } catch (error) {
      this.sendFailed(error);
    }
  }

  private sendFailed(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.owner.emit('warn', MCP_DIAGNOSTICS.progressFailed, { error: errorName(error) });
  }
}

class Server implements ServerKeepalive {
  readonly session: SessionActivity;
  readonly emit: Emit;
  private readonly calls = new Set<Call>();
  private readonly streams: SseStreamSource | null;
  private readonly scheduler: Scheduler;
  private report: ShutdownReport | null = null;
  private warnedClosed = false;

  constructor(options: ServerKeepaliveOptions) {
    const given: unknown = options;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      throw new KeepaliveOptionError('options', given, 'an object of server keep-alive options');
    }
    checkKnownKeys(options, SERVER_OPTION_KEYS, 'server keep-alive');
    const heartbeatIntervalMs = checkDuration('heartbeatIntervalMs', optionOr(options, 'heartbeatIntervalMs', SERVER_KEEPALIVE_DEFAULTS.heartbeatIntervalMs));
    const idleDelayMs = checkDuration('idleDelayMs', optionOr(options, 'idleDelayMs', SERVER_KEEPALIVE_DEFAULTS.idleDelayMs));
    const stuckActivityMs = checkOptionalDuration('stuckActivityMs', optionOr(options, 'stuckActivityMs', SERVER_KEEPALIVE_DEFAULTS.stuckActivityMs));
    const streams: unknown = options.streams;
    if (streams !== undefined && (typeof streams !== 'object' || streams === null || typeof (streams as Partial<SseStreamSource>).current !== 'function')) {
      throw new KeepaliveOptionError('streams', streams, 'an SseStreamSource such as createSseStreams() from @keepalive/mcp/http');
    }
    this.streams = (streams as SseStreamSource | undefined) ?? null;
    // The activity validates logger, onDiagnostic and scheduler, naming them.
    this.session = createSessionActivity({
      heartbeatIntervalMs,
      idleDelayMs,
      stuckActivityMs,
      logger: options.logger,
      onDiagnostic: options.onDiagnostic,
      scheduler: options.scheduler,
    });
    this.scheduler = options.scheduler ?? defaultScheduler();
    const sink = createDiagnosticSink({ session: this.session.id, logger: options.logger, onDiagnostic: options.onDiagnostic });
    this.emit = (level, name, fields) => {
      sink({ type: 'diagnostic', level, name, fields });
    };
    // Always attached: the heartbeat runs exactly while a tool call is in flight (S4).
    this.session.attach(() => {
      this.heartbeat();
    });
  }

  get activity(): WorkActivity {
    return this.session;
  }

  get inFlight(): number {
    return this.calls.size;
  }

  now(): number {
    return this.scheduler.now();
  }

  wrap<A, R>(handler: (args: A, extra: ToolExtra, progress: ToolProgress) => R | PromiseLike<R>): (args: A, extra: ToolExtra) => Promise<R> {
    if (typeof handler !== 'function') throw new TypeError('wrap(handler): expected a tool handler function (args, extra, progress)');
    return (args, extra) => this.run(extra, (progress) => handler(args, extra, progress));
  }

  wrapNoInput<R>(handler: (extra: ToolExtra, progress: ToolProgress) => R | PromiseLike<R>): (extra: ToolExtra) => Promise<R> {
    if (typeof handler !== 'function') throw new TypeError('wrapNoInput(handler): expected a tool handler function (extra, progress)');
    return (extra) => this.run(extra, (progress) => handler(extra, progress));
  }

  forget(call: Call): void {
    this.calls.delete(call);
  }

  close(): ShutdownReport {
    if (this.report !== null) return this.report;
    for (const call of [...this.calls]) call.end('closed');
    this.report = this.session.shutdown();
    return this.report;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private async run<R>(extra: unknown, body: (progress: ToolProgress) => R | PromiseLike<R>): Promise<R> {
    const call = this.begin(extra);
    if (call === null) return await body(INERT_PROGRESS);
    let outcome: Outcome = 'failed';
    try {
      const result = await body(call.progress);
      outcome = 'completed';
      return result;
    } finally {
      call.end(outcome);
    }
  }

  /** Registers a call, or says why it runs without keep-alives (`null`). Never throws. */
  private begin(extra: unknown): Call | null {
    if (this.report !== null) {
      if (!this.warnedClosed) {
        this.warnedClosed = true;
        this.emit('warn', MCP_DIAGNOSTICS.keepaliveClosed, NO_FIELDS);
      }
      return null;
    }
    if (!isToolExtra(extra)) {
      this.emit('warn', MCP_DIAGNOSTICS.invalidExtra, NO_FIELDS);
      return null;
    }
    // Cancelled before it started: nothing will be sent for it, so nothing to keep alive.
    if (extra.signal.aborted) return null;
    let stream: KeepaliveStream | null = null;
    try {
      stream = this.streams?.current() ?? null;
    } catch {
      // A stream source must not throw; one that does provides no stream.
    }
    const call = new Call(extra, stream, this);
    this.calls.add(call);
    return call;
  }

  private heartbeat(): void {
    const commented = new Set<KeepaliveStream>();
    for (const call of [...this.calls]) call.heartbeat(commented);
  }
}

function isToolExtra(extra: unknown): extra is ToolExtra {
  if (typeof extra !== 'object' || extra === null) return false;
  const candidate = extra as Partial<Record<keyof ToolExtra, unknown>>;
  const signal = candidate.signal as Partial<AbortSignal> | null | undefined;
  return (
    typeof candidate.sendNotification === 'function' &&
    typeof signal === 'object' &&
    signal !== null &&
    typeof signal.aborted === 'boolean' &&
    typeof signal.addEventListener === 'function' &&
    typeof signal.removeEventListener === 'function'
  );
}

/**
 * Creates the server-side keep-alive. Use one per `McpServer`: for a server per session (the SDK's stateful
 * Streamable HTTP pattern) that is one per session, closed with the session; one shared by many servers works too
 * (one heartbeat then serves every call in flight). Either way every keep-alive rides the shared scheduler: one OS
 * timer for the whole process, armed only while a call is in flight. Options are validated here: a bad one throws
 * {@link KeepaliveOptionError} naming it and its value.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import type { AddressInfo } from 'node:net';
 * import { setTimeout as delay } from 'node:timers/promises';
 * import { Client } from '@modelcontextprotocol/sdk/client/index.js';
 * import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
 * import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
 * import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
 * import { createClientKeepalive, createServerKeepalive } from '@keepalive/mcp';
 * import { createSseStreams } from '@keepalive/mcp/http';
 * import { z } from 'zod';
 *
 * // The server: a slow tool kept alive (a progress notification every 100 ms while it runs).
 * const streams = createSseStreams();
 * const serverKeepalive = createServerKeepalive({ heartbeatIntervalMs: 100, streams });
 * function mcpServer(): McpServer {
 *   const server = new McpServer({ name: 'slow-tools', version: '1.0.0' });
 *   server.registerTool(
 *     'render',
 *     { description: 'Renders pages, 300 ms each', inputSchema: { pages: z.number().int().min(1).max(100) } },
 *     serverKeepalive.wrap(async ({ pages }, extra, progress) => {
 *       for (let page = 1; page <= pages; page++) {
 *         await delay(300, undefined, { signal: extra.signal }); // the work
 *         progress.report(page, pages, `page ${page} of ${pages}`);
 *       }
 *       return { content: [{ type: 'text' as const, text: `rendered ${pages} pages` }] };
 *     }),
 *   );
 *   return server;
 * }
 * const http = createServer((req, res) => {
 *   void (async () => {
 *     const server = mcpServer();
 *     const transport = new StreamableHTTPServerTransport({}); // stateless: no session ids
 *     res.on('close', () => {
 *       void transport.close();
 *       void server.close();
 *     });
 *     await server.connect(transport);
 *     await streams.handleRequest(transport, req, res); // transport.handleRequest(req, res), with the SSE fallback
 *   })();
 * });
 * await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
 *
 * // The client: progress resets its request timeout; a ping every 200 ms while the call is in flight finds a dead server.
 * const client = new Client({ name: 'agent', version: '1.0.0' });
 * await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`)));
 * const clientKeepalive = createClientKeepalive(client, { pingIntervalMs: 200, pingTimeoutMs: 1_000, requestTimeoutMs: 500 });
 * const result = await clientKeepalive.callTool(
 *   { name: 'render', arguments: { pages: 3 } }, // 900 ms, longer than the 500 ms request timeout
 *   { onprogress: ({ progress, total }) => console.log(`${Math.floor(progress)}/${total ?? '?'}`) },
 * );
 * console.log(result.content); // [ { type: 'text', text: 'rendered 3 pages' } ]
 * clientKeepalive.close();
 * await client.close();
 * serverKeepalive.close();
 * http.closeAllConnections();
 * http.close();
 * ```
 */
export function createServerKeepalive(options: ServerKeepaliveOptions = {}): ServerKeepalive {
  return new Server(options);
}
