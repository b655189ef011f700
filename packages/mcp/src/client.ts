import {
  KeepaliveOptionError,
  checkDuration,
  checkKnownKeys,
  nestedOptions,
  optionOr,
  type Diagnostic,
  type DiagnosticFields,
  type DiagnosticLevel,
} from '@keepalive/core';
import {
  createDiagnosticSink,
  createSessionActivity,
  errorName,
  type KeepaliveSender,
  type Logger,
  type Scheduler,
  type SessionActivity,
  type ShutdownReport,
  type WorkActivity,
} from '@keepalive/node-timers';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { MCP_DIAGNOSTICS } from './diagnostics.js';
import { McpDeadPeerError, McpKeepaliveClosedError } from './errors.js';

/**
 * What the client keep-alive needs of an MCP client: the SDK's `Client` (its `callTool` and `ping`).
 */
export type McpClientLike = Pick<Client, 'callTool' | 'ping'>;

/**
 * The parameters of a tool call: `{ name, arguments?, _meta? }`, as for the SDK's `client.callTool`.
 */
export type CallToolParams = Parameters<Client['callTool']>[0];

/**
 * What a tool call resolves to: the SDK's `callTool` result.
 */
export type CallToolResponse = Awaited<ReturnType<Client['callTool']>>;

/**
 * Options of {@link createClientKeepalive}.
 */
export interface ClientKeepaliveOptions {
  /** Time between MCP pings while at least one call is in flight (the heartbeat, S4). Default 15 000 ms. */
  readonly pingIntervalMs?: number | undefined;
  /**
   * How long a ping may go unanswered before the server is declared dead and every call in flight is aborted with
   * {@link McpDeadPeerError} (B5). Any progress notification also counts as proof of life. Default 10 000 ms.
   */
  readonly pingTimeoutMs?: number | undefined;
  /**
   * The SDK's per-request `timeout`, reset by every progress notification (`resetTimeoutOnProgress: true`). A server
   * that sends no progress still fails at this timeout, ping or not; for such servers raise it and let the ping
   * find dead ones. Default 60 000 ms (the SDK's).
   */
  readonly requestTimeoutMs?: number | undefined;
  /** The SDK's `maxTotalTimeout`: no call lasts longer, progress or not. At least `requestTimeoutMs`. Default 600 000 ms. */
  readonly maxTotalTimeoutMs?: number | undefined;
  /** Delay after the last call ends before the `idle` diagnostic (S6). Default 30 000 ms. */
  readonly idleDelayMs?: number | undefined;
  /**
   * Called once per dead-server verdict, after the calls were aborted: close the client there, or reconnect (the
   * SDK's `notifications/cancelled` for the aborted calls waits on the dead connection until its transport closes).
   */
  readonly onDeadPeer?: ((error: McpDeadPeerError) => void) | undefined;
  /** Where diagnostics go (the session activity's and this package's). Default: silent. */
  readonly logger?: Logger | undefined;
  /** Called with every diagnostic after the logger. */
  readonly onDiagnostic?: ((diagnostic: Diagnostic) => void) | undefined;
  /** The scheduler to run on. Default: the process-wide shared one (one OS timer for every session). */
  readonly scheduler?: Scheduler | undefined;
}

/**
 * Per-call options of {@link ClientKeepalive.callTool}.
 */
export interface CallToolOptions {
  /** Overrides the keep-alive's `requestTimeoutMs` for this call. */
  readonly requestTimeoutMs?: number | undefined;
  /** Overrides the keep-alive's `maxTotalTimeoutMs` for this call. */
  readonly maxTotalTimeoutMs?: number | undefined;
  /** Called with every progress notification of this call (the keep-alive asks for progress either way). */
  readonly onprogress?: ((progress: Progress) => void) | undefined;
  /** Aborts this call (the SDK sends `notifications/cancelled`). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * The client-side keep-alive of one MCP client.
 */
export interface ClientKeepalive extends Disposable {
  /**
   * Calls a tool with a `progressToken` (so the server can keep the call alive), `resetTimeoutOnProgress: true`, the
   * request and total timeouts, and the ping watch: while it is in flight the server is pinged every
   * `pingIntervalMs`, and a server that leaves a ping unanswered for `pingTimeoutMs` is declared dead, the call
   * rejecting with {@link McpDeadPeerError}. Other failures (the SDK's timeout, a tool error, a cancel) reject as the
   * SDK rejects them. Bad options reject with `KeepaliveOptionError` naming `callTool.<option>`.
   */
  callTool(params: CallToolParams, options?: CallToolOptions): Promise<CallToolResponse>;
  /** The session activity the calls count on (reason `tool_call`). */
  readonly activity: WorkActivity;
  /** Calls in flight. */
  readonly inFlight: number;
  /**
   * Aborts the calls in flight with {@link McpKeepaliveClosedError}, stops the pings and shuts the activity down
   * (its report, S9); later calls reject with the same error. Does not close the MCP client. Later calls of
   * `close()` return the same report.
   */
  close(): ShutdownReport;
}

/**
 * The defaults of {@link ClientKeepaliveOptions}.
 */
export const CLIENT_KEEPALIVE_DEFAULTS = Object.freeze({
  pingIntervalMs: 15_000,
  pingTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  maxTotalTimeoutMs: 600_000,
  idleDelayMs: 30_000,
} as const);

const CLIENT_OPTION_KEYS: readonly string[] = Object.freeze([
  'pingIntervalMs',
  'pingTimeoutMs',
  'requestTimeoutMs',
  'maxTotalTimeoutMs',
  'idleDelayMs',
  'onDeadPeer',
  'logger',
  'onDiagnostic',
  'scheduler',
]);
const CALL_OPTION_KEYS: readonly string[] = Object.freeze(['requestTimeoutMs', 'maxTotalTimeoutMs', 'onprogress', 'signal']);

/** The reason every call counts under. */
const REASON = 'tool_call';

interface Timeouts {
  readonly requestTimeoutMs: number;
  readonly maxTotalTimeoutMs: number;
}

interface ValidCallOptions extends Timeouts {
  readonly onprogress: ((progress: Progress) => void) | undefined;
  readonly signal: AbortSignal | undefined;
}

interface InFlight {
  readonly controller: AbortController;
  /** Why this keep-alive aborted the call, if it did. */
  abortedWith: Error | null;
}

/** Checks the two timeouts and that the total is not shorter than one request's window. */
function checkTimeouts(options: object, defaults: Timeouts): Timeouts {
  const requestTimeoutMs = checkDuration('requestTimeoutMs', optionOr(options, 'requestTimeoutMs', defaults.requestTimeoutMs));
  const maxTotalTimeoutMs = checkDuration('maxTotalTimeoutMs', optionOr(options, 'maxTotalTimeoutMs', defaults.maxTotalTimeoutMs));
  if (requestTimeoutMs > maxTotalTimeoutMs) {
    throw new KeepaliveOptionError('requestTimeoutMs', requestTimeoutMs, `at most maxTotalTimeoutMs (${maxTotalTimeoutMs} ms)`);
  }
  return { requestTimeoutMs, maxTotalTimeoutMs };
}

function checkFunction(option: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') throw new KeepaliveOptionError(option, value, 'a function');
}

function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<AbortSignal>;
  return typeof candidate.aborted === 'boolean' && typeof candidate.addEventListener === 'function' && typeof candidate.removeEventListener === 'function';
}

class ClientKeepaliveImpl implements ClientKeepalive {
  private readonly session: SessionActivity;
  private readonly emit: (level: DiagnosticLevel, name: string, fields: DiagnosticFields) => void;
  private readonly calls = new Set<InFlight>();
  private readonly pings = new Set<AbortController>();
  private readonly timeouts: Timeouts;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;
  private readonly onDeadPeer: ((error: McpDeadPeerError) => void) | undefined;
  private readonly sender: KeepaliveSender;
  private report: ShutdownReport | null = null;

  constructor(
    private readonly client: McpClientLike,
    options: ClientKeepaliveOptions,
  ) {
    const target: unknown = client;
    if (typeof target !== 'object' || target === null || typeof (target as Partial<McpClientLike>).callTool !== 'function' || typeof (target as Partial<McpClientLike>).ping !== 'function') {
      throw new TypeError('createClientKeepalive(client): expected an MCP Client (with callTool() and ping())');
    }
    const given: unknown = options;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      throw new KeepaliveOptionError('options', given, 'an object of client keep-alive options');
    }
    checkKnownKeys(options, CLIENT_OPTION_KEYS, 'client keep-alive');
    this.pingIntervalMs = checkDuration('pingIntervalMs', optionOr(options, 'pingIntervalMs', CLIENT_KEEPALIVE_DEFAULTS.pingIntervalMs));
    this.pingTimeoutMs = checkDuration('pingTimeoutMs', optionOr(options, 'pingTimeoutMs', CLIENT_KEEPALIVE_DEFAULTS.pingTimeoutMs));
    this.timeouts = checkTimeouts(options, CLIENT_KEEPALIVE_DEFAULTS);
    const idleDelayMs = checkDuration('idleDelayMs', optionOr(options, 'idleDelayMs', CLIENT_KEEPALIVE_DEFAULTS.idleDelayMs));
    checkFunction('onDeadPeer', options.onDeadPeer);
    this.onDeadPeer = options.onDeadPeer;
    // The liveness rule is the core's (B5, B15): a ping is the keep-alive, its answer (or any progress) the proof of
    // life, and the core's dead-peer verdict arrives as closeTransport.
    this.session = createSessionActivity({
      heartbeatIntervalMs: this.pingIntervalMs,
      pongTimeoutMs: this.pingTimeoutMs,
      idleDelayMs,
      logger: options.logger,
      onDiagnostic: options.onDiagnostic,
      scheduler: options.scheduler,
    });
    const sink = createDiagnosticSink({ session: this.session.id, logger: options.logger, onDiagnostic: options.onDiagnostic });
    this.emit = (level, name, fields) => {
      sink({ type: 'diagnostic', level, name, fields });
    };
    this.sender = {
      sendKeepalive: () => {
        this.ping();
      },
      closeTransport: () => {
        this.deadPeer();
      },
    };
    this.session.attach(this.sender);
  }

  get activity(): WorkActivity {
    return this.session;
  }

  get inFlight(): number {
    return this.calls.size;
  }

  async callTool(params: CallToolParams, options: CallToolOptions = {}): Promise<CallToolResponse> {
    if (this.closed()) throw new McpKeepaliveClosedError();
    const given: unknown = params;
    if (typeof given !== 'object' || given === null || typeof (given as { name?: unknown }).name !== 'string') {
      throw new TypeError('callTool(params): expected { name: string, arguments?: object }');
    }
    const call = nestedOptions('callTool', options, (values) => this.callOptions(values));
    const entry: InFlight = { controller: new AbortController(), abortedWith: null };
    // The caller's signal aborts the call through ours (one signal for the SDK, whichever aborts first).
    const outer = call.signal;
    const forward = (): void => {
      if (outer !== undefined) entry.controller.abort(outer.reason);
    };
    if (outer?.aborted === true) forward();
    else outer?.addEventListener('abort', forward, { once: true });
    this.calls.add(entry);
    // A dead-peer verdict detaches the sender (the core stops sending into a dead peer); a new call attaches it again.
    if (!this.session.isTrackingActive()) this.session.attach(this.sender);
    const release = this.session.start(REASON);
    try {
      return await this.client.callTool(params, undefined, {
        onprogress: (progress) => {
          this.progressed(progress, call.onprogress);
        },
        resetTimeoutOnProgress: true,
        timeout: call.requestTimeoutMs,
        maxTotalTimeout: call.maxTotalTimeoutMs,
        signal: entry.controller.signal,
      });
    } catch (error) {
      // The SDK turns an abort reason into its own McpError; the caller gets the verdict itself.
      if (entry.abortedWith !== null) throw entry.abortedWith;
      throw error;
    } finally {
      outer?.removeEventListener('abort', forward);
      this.calls.delete(entry);
      // After close() the activity has reported what was in flight (S9); nothing is released into it.
      if (!this.closed()) release();
    }
  }

  close(): ShutdownReport {
    if (this.report !== null) return this.report;
    for (const entry of this.calls) this.abort(entry, new McpKeepaliveClosedError());
    this.stopPings();
    this.report = this.session.shutdown();
    return this.report;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private closed(): boolean {
    return this.report !== null;
  }

  private callOptions(options: CallToolOptions): ValidCallOptions {
    checkKnownKeys(options, CALL_OPTION_KEYS, 'callTool');
    const timeouts = checkTimeouts(options, this.timeouts);
    checkFunction('onprogress', options.onprogress);
    const onprogress = options.onprogress;
    const signal: unknown = options.signal;
    if (signal !== undefined && !isAbortSignal(signal)) throw new KeepaliveOptionError('signal', signal, 'an AbortSignal');
    return { ...timeouts, onprogress, signal };
  }

  private progressed(progress: Progress, listener: ((progress: Progress) => void) | undefined): void {
    // Inbound traffic from the server is proof of life (B5).
    if (!this.closed()) this.session.alive();
    if (listener === undefined) return;
    try {
      listener(progress);
    } catch (error) {
      this.emit('warn', MCP_DIAGNOSTICS.listenerFailed, { listener: 'onprogress', error: errorName(error) });
    }
  }

  private ping(): void {
    const controller = new AbortController();
    this.pings.add(controller);
    const settled = (): void => {
      this.pings.delete(controller);
    };
    let answer: Promise<unknown>;
    try {
      // The SDK's own timeout ends a ping nobody answers; the verdict is the liveness deadline's, not this one's.
      answer = this.client.ping({ timeout: this.pingTimeoutMs, signal: controller.signal });
    } catch (error) {
      settled();
      this.emit('debug', MCP_DIAGNOSTICS.pingFailed, { error: errorName(error) });
      return;
    }
    answer.then(
      () => {
        settled();
        if (!this.closed()) this.session.alive();
      },
      (error: unknown) => {
        settled();
        if (!controller.signal.aborted) this.emit('debug', MCP_DIAGNOSTICS.pingFailed, { error: errorName(error) });
      },
    );
  }

  private deadPeer(): void {
    const calls = [...this.calls];
    this.emit('warn', MCP_DIAGNOSTICS.callsAborted, { reason: 'dead_peer', calls: calls.length });
    for (const entry of calls) this.abort(entry, new McpDeadPeerError(this.pingIntervalMs, this.pingTimeoutMs));
    // Pings still waiting went to the dead server.
    this.stopPings();
    const listener = this.onDeadPeer;
    if (listener === undefined) return;
    try {
      listener(new McpDeadPeerError(this.pingIntervalMs, this.pingTimeoutMs));
    } catch (error) {
      this.emit('warn', MCP_DIAGNOSTICS.listenerFailed, { listener: 'onDeadPeer', error: errorName(error) });
    }
  }

  private abort(entry: InFlight, reason: Error): void {
    if (entry.abortedWith !== null) return;
    entry.abortedWith = reason;
    entry.controller.abort(reason);
  }

  private stopPings(): void {
    for (const controller of [...this.pings]) controller.abort();
    this.pings.clear();
  }
}

/**
 * Creates the client-side keep-alive for one MCP client: tool calls that ask for progress and reset their timeout on
 * it, and an MCP `ping` every `pingIntervalMs` while any call is in flight, on the session activity's liveness rule
 * (B5): a server that stops answering is declared dead within `pingIntervalMs + pingTimeoutMs` and the calls in
 * flight reject with {@link McpDeadPeerError}, instead of waiting out the request timeout. No ping goes out while no
 * call is in flight. Options are validated here: a bad one throws `KeepaliveOptionError` naming it and its value.
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
export function createClientKeepalive(client: McpClientLike, options: ClientKeepaliveOptions = {}): ClientKeepalive {
  return new ClientKeepaliveImpl(client, options);
}
