import { setTimeout as delay } from 'node:timers/promises';
import { KeepaliveOptionError } from '@keepalive/core';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createSseStreams } from './http.js';
import {
  MCP_DIAGNOSTICS,
  SERVER_KEEPALIVE_DEFAULTS,
  SSE_KEEPALIVE_COMMENT,
  createClientKeepalive,
  createServerKeepalive,
  type ServerKeepalive,
  type ServerKeepaliveOptions,
  type ToolExtra,
} from './index.js';
import { cleanup, connectClient, onCleanup, progressValues, recorder, startServer, until } from './test-support/harness.js';

/**
 * The server keep-alive with the real SDK over Streamable HTTP on 127.0.0.1: tool calls that outlive the client's
 * request timeout, the SSE comment fallback, the measured wire cost, and the keep-alive stopping in every outcome.
 * A tool's run time is its workload (a timer standing for work), never a wait for something to happen: the tests
 * wait on events (`until`).
 */

afterEach(cleanup);

const text = (value: string): { content: { type: 'text'; text: string }[] } => ({ content: [{ type: 'text', text: value }] });

/** A server keep-alive closed in teardown. */
function serverKeepalive(options: ServerKeepaliveOptions): ServerKeepalive {
  const keepalive = createServerKeepalive(options);
  onCleanup(() => keepalive.close());
  return keepalive;
}

describe('tool calls outlive the client request timeout (S4, S5)', () => {
  it('S4 S5: a tool running 3x the request timeout completes with both helpers; without them the SDK times out (-32001)', async () => {
    const REQUEST_TIMEOUT_MS = 1_000;
    const TOOL_MS = 3 * REQUEST_TIMEOUT_MS;
    const seen = recorder();
    const keepalive = serverKeepalive({ heartbeatIntervalMs: 300, onDiagnostic: seen.onDiagnostic });
    const server = await startServer({
      tools: (mcp) => {
        mcp.registerTool('slow', { inputSchema: { ms: z.number() } }, keepalive.wrap(async ({ ms }, extra) => {
          await delay(ms, undefined, { signal: extra.signal });
          return text(`slept ${ms}`);
        }));
        // The same tool without the server helper.
        mcp.registerTool('plain', { inputSchema: { ms: z.number() } }, async ({ ms }, extra) => {
          await delay(ms, undefined, { signal: extra.signal });
          return text(`slept ${ms}`);
        });
      },
    });
    const { client, wire } = await connectClient(server.url);
    const calls = createClientKeepalive(client, { requestTimeoutMs: REQUEST_TIMEOUT_MS, pingIntervalMs: 500, pingTimeoutMs: 2_000 });
    onCleanup(() => calls.close());

    const started = performance.now();
    const progress: number[] = [];
    const result = await calls.callTool({ name: 'slow', arguments: { ms: TOOL_MS } }, { onprogress: ({ progress: value }) => progress.push(value) });
    const elapsed = performance.now() - started;
    expect(result.content).toEqual([{ type: 'text', text: `slept ${TOOL_MS}` }]);
    expect(elapsed).toBeGreaterThanOrEqual(TOOL_MS);
    // About one keep-alive per 300 ms for 3 s, each strictly greater than the one before (the MCP rule).
    expect(progress.length).toBeGreaterThanOrEqual(6);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1]!);
    expect(progressValues(wire)).toEqual(progress);
    console.log(`with both helpers: a ${TOOL_MS} ms tool under a ${REQUEST_TIMEOUT_MS} ms request timeout completed in ${Math.round(elapsed)} ms, ${progress.length} progress keep-alives`);

    // S4: the heartbeat stopped with the call.
    await until(() => keepalive.inFlight === 0, 2_000, 'the call to end on the server');
    expect(keepalive.activity.state.total).toBe(0);
    expect(keepalive.activity.state.heartbeatAt).toBeNull();
    expect(seen.named(MCP_DIAGNOSTICS.toolCallEnded).map((diagnostic) => diagnostic.fields.outcome)).toEqual(['completed']);
    expect(seen.named(MCP_DIAGNOSTICS.progressUnavailable)).toEqual([]);

    // Without the helpers: the same wait fails at the SDK's request timeout.
    const failedAt = performance.now();
    const failure = await client.callTool({ name: 'plain', arguments: { ms: TOOL_MS } }, undefined, { timeout: REQUEST_TIMEOUT_MS }).then(
      () => null,
      (error: unknown) => error,
    );
    const failedAfter = performance.now() - failedAt;
    expect(failure).toBeInstanceOf(McpError);
    expect((failure as McpError).code).toBe(-32001);
    expect((failure as McpError).message).toMatch(/Request timed out/);
    expect(failedAfter).toBeLessThan(TOOL_MS);
    console.log(`without the helpers: rejected after ${Math.round(failedAfter)} ms with "${(failure as McpError).message}"`);
  });

  it('S4: the server helper alone cannot save a client that set no onprogress: the SDK still times out (-32001)', async () => {
    const streams = createSseStreams();
    const keepalive = serverKeepalive({ heartbeatIntervalMs: 200, streams });
    const server = await startServer({
      streams,
      tools: (mcp) => {
        mcp.registerTool('slow', { inputSchema: { ms: z.number() } }, keepalive.wrap(async ({ ms }, extra) => {
          await delay(ms, undefined, { signal: extra.signal });
          return text('done');
        }));
      },
    });
    const { client } = await connectClient(server.url);
    const failure = await client.callTool({ name: 'slow', arguments: { ms: 2_000 } }, undefined, { timeout: 600, resetTimeoutOnProgress: true }).then(
      () => null,
      (error: unknown) => error,
    );
    // resetTimeoutOnProgress needs a progressToken, and only onprogress makes the SDK send one.
    expect((failure as McpError).code).toBe(-32001);
  });
});

describe('no progressToken: the SSE comment fallback (S4, S5, S10)', () => {
  it('S5: a request without progressToken gets SSE comments on its response stream and progress_unavailable once', async () => {
    const seen = recorder();
    const streams = createSseStreams();
    const keepalive = serverKeepalive({ heartbeatIntervalMs: 200, streams, onDiagnostic: seen.onDiagnostic });
    const server = await startServer({
      streams,
      tools: (mcp) => {
        mcp.registerTool('slow', { inputSchema: { ms: z.number() } }, keepalive.wrap(async ({ ms }, extra, progress) => {
          expect(progress.requested).toBe(false);
          progress.report(1, 2, 'nobody asked'); // nothing to send it with: ignored
          await delay(ms, undefined, { signal: extra.signal });
          return text('x'.repeat(10_000));
        }));
      },
    });
    const { client, wire } = await connectClient(server.url);
    // No onprogress: the SDK sends no progressToken. A long request timeout, so the call itself survives.
    const result = await client.callTool({ name: 'slow', arguments: { ms: 1_200 } }, undefined, { timeout: 10_000 });
    // The response arrived whole after the comments (the stream stayed well-formed).
    expect(result.content).toEqual([{ type: 'text', text: 'x'.repeat(10_000) }]);
    expect(wire.comments().length).toBeGreaterThanOrEqual(3);
    expect(wire.comments().every((comment) => comment === SSE_KEEPALIVE_COMMENT)).toBe(true);
    expect(streams.commentsWritten).toBe(wire.comments().length);
    expect(wire.progress()).toEqual([]);
    await until(() => seen.named(MCP_DIAGNOSTICS.toolCallEnded).length === 1, 2_000, 'the call to end');
    // Once per request, naming the fallback; counts only (S10).
    expect(seen.named(MCP_DIAGNOSTICS.progressUnavailable)).toEqual([
      { type: 'diagnostic', level: 'info', name: 'progress_unavailable', fields: { fallback: 'sse_comment' } },
    ]);
    expect(seen.named(MCP_DIAGNOSTICS.toolCallEnded)[0]!.fields).toMatchObject({ outcome: 'completed', progress_sent: 0, comments_sent: wire.comments().length });
    expect(keepalive.activity.state.heartbeatAt).toBeNull();
  });

  it('S5: without a stream registry the fallback is none, and says so', async () => {
    const seen = recorder();
    const keepalive = serverKeepalive({ heartbeatIntervalMs: 100, onDiagnostic: seen.onDiagnostic });
    const server = await startServer({
      tools: (mcp) => {
        mcp.registerTool('slow', { inputSchema: { ms: z.number() } }, keepalive.wrap(async ({ ms }) => {
          await delay(ms);
          return text('done');
        }));
      },
    });
    const { client, wire } = await connectClient(server.url);
    await client.callTool({ name: 'slow', arguments: { ms: 350 } }, undefined, { timeout: 10_000 });
    expect(wire.comments()).toEqual([]);
    expect(seen.named(MCP_DIAGNOSTICS.progressUnavailable).map((diagnostic) => diagnostic.fields)).toEqual([{ fallback: 'none' }]);
  });

  it('S5: a JSON response (enableJsonResponse) never gets a comment: its headers wait for the result', async () => {
    const seen = recorder();
    const streams = createSseStreams();
    const keepalive = serverKeepalive({ heartbeatIntervalMs: 80, streams, onDiagnostic: seen.onDiagnostic });
    const server = await startServer({
      streams,
      jsonResponse: true,
      tools: (mcp) => {
        mcp.registerTool('slow', { inputSchema: { ms: z.number() } }, keepalive.wrap(async ({ ms }) => {
          await delay(ms);
          return text('json');
        }));
      },
    });
    const { client } = await connectClient(server.url);
    const result = await client.callTool({ name: 'slow', arguments: { ms: 400 } }, undefined, { timeout: 10_000 });
    expect(result.content).toEqual([{ type: 'text', text: 'json' }]);
    expect(streams.commentsWritten).toBe(0);
    await until(() => seen.named(MCP_DIAGNOSTICS.toolCallEnded).length === 1, 2_000, 'the call to end');
    expect(seen.named(MCP_DIAGNOSTICS.toolCallEnded)[0]!.fields).toMatchObject({ outcome: 'completed', comments_sent: 0 });
  });

  it('the SDK’s own keep-alive comments (keepAliveMs) and ours share the stream without breaking it', async () => {
    const streams = createSseStreams();
    const keepalive = serverKeepalive({ heartbeatIntervalMs: 70, streams });
    const server = await startServer({
      streams,
      sdkKeepAliveMs: 50,
      tools: (mcp) => {
        mcp.registerTool('slow', { inputSchema: { ms: z.number() } }, keepalive.wrap(async ({ ms }) => {
          await delay(ms);
          return text('intact');
        }));
      },
    });
    const { client, wire } = await connectClient(server.url);
    const result = await client.callTool({ name: 'slow', arguments: { ms: 600 } }, undefined, { timeout: 10_000 });
    expect(result.content).toEqual([{ type: 'text', text: 'intact' }]);
    expect(wire.comments().length).toBeGreaterThan(streams.commentsWritten);
    expect(streams.commentsWritten).toBeGreaterThanOrEqual(3);
  });
});

describe('bytes per keep-alive on the SSE stream', () => {
  it('measures a progress notification against an SSE comment', async () => {
    const streams = createSseStreams();
    const keepalive = serverKeepalive({ heartbeatIntervalMs: 100, streams });
    const server = await startServer({
      streams,
      tools: (mcp) => {
        mcp.registerTool('quiet', {}, keepalive.wrapNoInput(async () => {
          await delay(450);
          return text('done');
        }));
        mcp.registerTool('chatty', {}, keepalive.wrapNoInput(async (_extra, progress) => {
          progress.report(1, 4, 'step 1 of 4');
          await delay(450);
          return text('done');
        }));
      },
    });
    const { client, wire } = await connectClient(server.url);
    const calls = createClientKeepalive(client, { pingIntervalMs: 5_000, pingTimeoutMs: 5_000 });
    onCleanup(() => calls.close());
    const bytes = (event: string): number => Buffer.byteLength(event);
    const sizes = (events: string[]): string => {
      const all = events.map(bytes);
      return `${Math.min(...all)}–${Math.max(...all)} B`;
    };

    await calls.callTool({ name: 'quiet' });
    const quiet = wire.progress();
    await calls.callTool({ name: 'chatty' });
    // The first of chatty's notifications is the handler's report; the rest are keep-alives repeating it.
    const chatty = wire.progress().slice(quiet.length + 1);
    await client.callTool({ name: 'quiet' }, undefined, { timeout: 10_000 });
    const comments = wire.comments();

    expect(quiet.length).toBeGreaterThanOrEqual(3);
    expect(chatty.length).toBeGreaterThanOrEqual(3);
    expect(comments.length).toBeGreaterThanOrEqual(3);
    expect(comments.every((comment) => bytes(comment) === 13)).toBe(true);
    expect(chatty.every((event) => event.includes('"total":4') && event.includes('"message":"step 1 of 4"'))).toBe(true);
    expect(Math.max(...quiet.map(bytes), ...chatty.map(bytes))).toBeLessThan(200);
    // HTTP/1.1 chunked framing adds the size line and a CRLF to each write: hex digits + 4 bytes.
    const framing = (size: number): number => size.toString(16).length + 4;
    console.log(
      [
        'bytes per keep-alive on the SSE stream (the SSE event; HTTP/1.1 chunk framing adds 5-6 B per write):',
        `  SSE comment: ${bytes(comments[0]!)} B (+${framing(13)} B framing)`,
        `  progress notification, token and progress only: ${sizes(quiet)}`,
        `  progress notification repeating total and message ("step 1 of 4"): ${sizes(chatty)}`,
        `  sample: ${JSON.stringify(quiet[1])}`,
      ].join('\n'),
    );
  });
});

describe('the keep-alive stops in every outcome (S4, B4)', () => {
  it('S4: a tool handler that throws still stops the keep-alive; the client gets the tool error', async () => {
    const seen = recorder();
    const keepalive = serverKeepalive({ heartbeatIntervalMs: 100, onDiagnostic: seen.onDiagnostic });
    const server = await startServer({
      tools: (mcp) => {
        mcp.registerTool('broken', { inputSchema: { ms: z.number() } }, keepalive.wrap(async ({ ms }) => {
          await delay(ms);
          throw new Error('tool failed');
        }));
        mcp.registerTool('broken-sync', {}, keepalive.wrapNoInput(() => {
          throw new Error('failed at once');
        }));
      },
    });
    const { client, wire } = await connectClient(server.url);
    const calls = createClientKeepalive(client, { pingIntervalMs: 5_000, pingTimeoutMs: 5_000 });
    onCleanup(() => calls.close());
    const result = await calls.callTool({ name: 'broken', arguments: { ms: 350 } });
    expect(result.isError).toBe(true);
    expect(result.content).toEqual([{ type: 'text', text: 'tool failed' }]);
    expect(wire.progress().length).toBeGreaterThanOrEqual(2);
    const syncResult = await calls.callTool({ name: 'broken-sync' });
    expect(syncResult.isError).toBe(true);
    expect(seen.named(MCP_DIAGNOSTICS.toolCallEnded).map((diagnostic) => diagnostic.fields.outcome)).toEqual(['failed', 'failed']);
    expect(keepalive.inFlight).toBe(0);
    expect(keepalive.activity.state.total).toBe(0);
    expect(keepalive.activity.state.heartbeatAt).toBeNull();
    // No error text or arguments reach a diagnostic (S10).
    expect(JSON.stringify(seen.diagnostics)).not.toContain('tool failed');
  });

  it('S4: a call the client cancels (extra.signal) stops its keep-alive at once, while the handler still runs', async () => {
    const seen = recorder();
    const keepalive = serverKeepalive({ heartbeatIntervalMs: 100, onDiagnostic: seen.onDiagnostic });
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    onCleanup(() => finish());
    const server = await startServer({
      tools: (mcp) => {
        // Ignores its signal: runs until the test lets it finish.
        mcp.registerTool('stubborn', {}, keepalive.wrapNoInput(async () => {
          await finished;
          return text('late');
        }));
      },
    });
    const { client, wire } = await connectClient(server.url);
    const calls = createClientKeepalive(client, { pingIntervalMs: 5_000, pingTimeoutMs: 5_000 });
    onCleanup(() => calls.close());
    const controller = new AbortController();
    const call = calls.callTool({ name: 'stubborn' }, { signal: controller.signal }).then(
      () => null,
      (error: unknown) => error,
    );
    await until(() => wire.progress().length >= 1, 5_000, 'a first keep-alive');
    controller.abort(new Error('user gave up'));
    expect(await call).toBeInstanceOf(McpError);
    await until(() => keepalive.inFlight === 0, 5_000, 'the server to drop the cancelled call');
    expect(seen.named(MCP_DIAGNOSTICS.toolCallEnded).map((diagnostic) => diagnostic.fields.outcome)).toEqual(['aborted']);
    expect(keepalive.activity.state.total).toBe(0);
    expect(keepalive.activity.state.heartbeatAt).toBeNull();
    finish();
  });

  it('S9: close() stops the keep-alives in flight and reports them; later calls run without keep-alives', async () => {
    const seen = recorder();
    const keepalive = serverKeepalive({ heartbeatIntervalMs: 100, onDiagnostic: seen.onDiagnostic });
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    onCleanup(() => finish());
    const server = await startServer({
      tools: (mcp) => {
        mcp.registerTool('held', {}, keepalive.wrapNoInput(async () => {
          await finished;
          return text('held');
        }));
        mcp.registerTool('quick', {}, keepalive.wrapNoInput((_extra, progress) => {
          progress.report(1);
          return text('quick');
        }));
      },
    });
    const { client, wire } = await connectClient(server.url);
    const calls = createClientKeepalive(client, { pingIntervalMs: 5_000, pingTimeoutMs: 5_000 });
    onCleanup(() => calls.close());
    const held = calls.callTool({ name: 'held' });
    await until(() => wire.progress().length >= 1, 5_000, 'a first keep-alive');
    const report = keepalive.close();
    expect(report).toMatchObject({ total: 1, active: { tool_exec: 1 } });
    expect(keepalive.close()).toBe(report);
    expect(keepalive.inFlight).toBe(0);
    const before = wire.progress().length;
    expect(await calls.callTool({ name: 'quick' })).toMatchObject({ content: [{ type: 'text', text: 'quick' }] });
    expect(await calls.callTool({ name: 'quick' })).toMatchObject({ content: [{ type: 'text', text: 'quick' }] });
    finish();
    await held;
    // Nothing was sent after close(), and the closed keep-alive said so once.
    expect(wire.progress().length).toBe(before);
    expect(seen.named(MCP_DIAGNOSTICS.keepaliveClosed)).toHaveLength(1);
    expect(seen.named(MCP_DIAGNOSTICS.toolCallEnded).map((diagnostic) => diagnostic.fields.outcome)).toEqual(['closed']);
  });
});

describe('bad input never throws out of a handler; bad options throw (B1)', () => {
  it('B1: bad reports inside a real call become diagnostics, once per problem; the call completes', async () => {
    const seen = recorder();
    const keepalive = serverKeepalive({ heartbeatIntervalMs: 5_000, onDiagnostic: seen.onDiagnostic });
    const server = await startServer({
      tools: (mcp) => {
        mcp.registerTool('sloppy', {}, keepalive.wrapNoInput((_extra, progress) => {
          const report = progress.report as (...args: unknown[]) => void;
          report(Number.NaN);
          report(-1);
          report('3');
          report(1, 'ten');
          report(1, 10, { text: 'not a string' });
          progress.report(5, 10);
          progress.report(4, 10);
          progress.report(4, 10);
          progress.report(6, 10, 'six');
          return text('ok');
        }));
      },
    });
    const { client, wire } = await connectClient(server.url);
    const calls = createClientKeepalive(client, { pingIntervalMs: 5_000, pingTimeoutMs: 5_000 });
    onCleanup(() => calls.close());
    expect(await calls.callTool({ name: 'sloppy' })).toMatchObject({ content: [{ type: 'text', text: 'ok' }] });
    expect(seen.named(MCP_DIAGNOSTICS.invalidProgress).map((diagnostic) => diagnostic.fields.problem)).toEqual(['progress', 'total', 'message', 'not_increasing']);
    const values = progressValues(wire);
    expect(values).toEqual([5, 5.000000000000001, 5.000000000000002, 6]);
  });

  it('B1: a wrapped handler called without the SDK’s extra runs without keep-alives and says so', async () => {
    const seen = recorder();
    const keepalive = serverKeepalive({ onDiagnostic: seen.onDiagnostic });
    const handler = keepalive.wrap(async (args: { n: number }, _extra, progress) => {
      progress.report(1);
      return Promise.resolve(args.n * 2);
    });
    expect(await handler({ n: 21 }, {} as ToolExtra)).toBe(42);
    expect(await handler({ n: 1 }, null as unknown as ToolExtra)).toBe(2);
    expect(seen.named(MCP_DIAGNOSTICS.invalidExtra)).toHaveLength(2);
    expect(keepalive.activity.state.total).toBe(0);
  });

  it('a failing progress send is reported once by its error name, and the tool goes on', async () => {
    const seen = recorder();
    const keepalive = serverKeepalive({ heartbeatIntervalMs: 5_000, onDiagnostic: seen.onDiagnostic });
    const controller = new AbortController();
    let sends = 0;
    const extra = {
      signal: controller.signal,
      requestId: 1,
      _meta: { progressToken: 'token-1' },
      sendNotification: () => {
        sends++;
        return sends === 1 ? Promise.reject(new TypeError('socket gone')) : Promise.reject(new RangeError('again'));
      },
      sendRequest: () => Promise.reject(new Error('unused')),
    } as unknown as ToolExtra;
    const handler = keepalive.wrapNoInput(async (_extra, progress) => {
      progress.report(1);
      progress.report(2);
      await Promise.resolve();
      return 'done';
    });
    expect(await handler(extra)).toBe('done');
    await until(() => seen.named(MCP_DIAGNOSTICS.progressFailed).length > 0, 2_000, 'the send failure');
    expect(sends).toBe(2);
    expect(seen.named(MCP_DIAGNOSTICS.progressFailed).map((diagnostic) => diagnostic.fields)).toEqual([{ error: 'TypeError' }]);
  });

  it('B1: bad options throw KeepaliveOptionError naming the option and the value', () => {
    const refuse = (options: unknown, option: string, value: unknown): void => {
      let thrown: unknown = null;
      try {
        createServerKeepalive(options as ServerKeepaliveOptions);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(KeepaliveOptionError);
      expect((thrown as KeepaliveOptionError).option).toBe(option);
      expect((thrown as KeepaliveOptionError).value).toEqual(value);
      expect((thrown as Error).message).toContain(option);
    };
    refuse({ heartbeatIntervalMs: 0 }, 'heartbeatIntervalMs', 0);
    refuse({ heartbeatIntervalMs: -5 }, 'heartbeatIntervalMs', -5);
    refuse({ heartbeatIntervalMs: Number.NaN }, 'heartbeatIntervalMs', Number.NaN);
    refuse({ heartbeatIntervalMs: '15s' }, 'heartbeatIntervalMs', '15s');
    refuse({ idleDelayMs: Number.POSITIVE_INFINITY }, 'idleDelayMs', Number.POSITIVE_INFINITY);
    refuse({ stuckActivityMs: 0 }, 'stuckActivityMs', 0);
    refuse({ heartbeatIntervalMS: 1_000 }, 'heartbeatIntervalMS', 1_000);
    refuse({ streams: {} }, 'streams', {});
    refuse({ logger: 42 }, 'logger', 42);
    refuse({ onDiagnostic: 'log' }, 'onDiagnostic', 'log');
    refuse(null, 'options', null);
    const keepalive = serverKeepalive({});
    expect(() => keepalive.wrap('handler' as never)).toThrow(TypeError);
    expect(() => keepalive.wrapNoInput(undefined as never)).toThrow(TypeError);
    expect(SERVER_KEEPALIVE_DEFAULTS.heartbeatIntervalMs).toBe(15_000);
  });
});
