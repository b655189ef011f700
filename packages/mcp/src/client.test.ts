import { setTimeout as delay } from 'node:timers/promises';
import { KeepaliveOptionError } from '@keepalive/core';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CLIENT_KEEPALIVE_DEFAULTS,
  MCP_DIAGNOSTICS,
  McpDeadPeerError,
  McpKeepaliveClosedError,
  createClientKeepalive,
  createServerKeepalive,
  type ClientKeepalive,
  type ClientKeepaliveOptions,
  type McpClientLike,
} from './index.js';
import { changed, childServer, cleanup, connectClient, onCleanup, recorder, startServer, until } from './test-support/harness.js';

/**
 * The client keep-alive with the real SDK over Streamable HTTP on 127.0.0.1: the ping watch on the session
 * activity's liveness rule (B5) against a server frozen with SIGSTOP in a child process, the ping following the
 * activity (S4), and its options and errors.
 */

afterEach(cleanup);

const text = (value: string): { content: { type: 'text'; text: string }[] } => ({ content: [{ type: 'text', text: value }] });

function clientKeepalive(client: McpClientLike, options: ClientKeepaliveOptions): ClientKeepalive {
  const keepalive = createClientKeepalive(client, options);
  onCleanup(() => keepalive.close());
  return keepalive;
}

describe('dead servers are found through ping (B5)', () => {
  it('B5: a frozen server (SIGSTOP) is declared dead within interval + timeout; the call rejects with McpDeadPeerError', async () => {
    const PING_INTERVAL_MS = 300;
    const PING_TIMEOUT_MS = 300;
    // Scheduling on a loaded 2-core machine; the core's late-timer rule (B15) allows 1 000 ms of lateness.
    const ALLOWANCE_MS = 1_000;
    const child = await childServer();
    const { client, wire } = await connectClient(child.url);
    const seen = recorder();
    const deadPeers: McpDeadPeerError[] = [];
    const keepalive = clientKeepalive(client, {
      pingIntervalMs: PING_INTERVAL_MS,
      pingTimeoutMs: PING_TIMEOUT_MS,
      requestTimeoutMs: 30_000,
      onDiagnostic: seen.onDiagnostic,
      onDeadPeer: (error) => {
        deadPeers.push(error);
        throw new Error('a listener bug');
      },
    });
    let progress = 0;
    let rejectedAt = 0;
    const call = keepalive.callTool({ name: 'wait' }, {
      onprogress: () => {
        progress++;
        changed();
      },
    }).then(
      () => null,
      (error: unknown) => {
        rejectedAt = performance.now();
        return error;
      },
    );
    // Freeze it right at a proof of life (a ping's answer or a progress clearing the liveness deadline): the worst
    // case, since the next ping is then a whole interval away and its answer is owed one timeout after that.
    let owed = false;
    let freezeAtNextProof = false;
    let frozenAt = 0;
    const unsubscribe = keepalive.activity.subscribe((state) => {
      const proof = owed && state.livenessAt === null && state.attached;
      owed = state.livenessAt !== null;
      if (proof && freezeAtNextProof) {
        freezeAtNextProof = false;
        child.freeze();
        frozenAt = performance.now();
      }
      changed();
    });
    onCleanup(unsubscribe);
    // In flight, and the server alive: its progress and the answers to our pings arrive.
    await until(() => progress >= 2 && wire.sent.includes('ping'), 10_000, 'progress and a ping while the call runs');
    freezeAtNextProof = true;
    await until(() => frozenAt > 0, 5_000, 'a proof of life to freeze the server at');
    const error = await call;
    const detectedMs = rejectedAt - frozenAt;
    console.log(`B5: frozen server detected ${Math.round(detectedMs)} ms after SIGSTOP (bound ${PING_INTERVAL_MS} + ${PING_TIMEOUT_MS} ms, allowance ${ALLOWANCE_MS} ms; request timeout 30 000 ms)`);
    expect(error).toBeInstanceOf(McpDeadPeerError);
    expect((error as McpDeadPeerError).verdict).toBe('dead_peer');
    expect((error as McpDeadPeerError).message).toMatch(/declared dead \(dead_peer, spec B5\): no answer to ping within 300 ms/);
    expect(detectedMs).toBeLessThanOrEqual(PING_INTERVAL_MS + PING_TIMEOUT_MS + ALLOWANCE_MS);
    expect(deadPeers).toHaveLength(1);
    // A throwing listener is reported by its error's name, and changes nothing.
    expect(seen.named(MCP_DIAGNOSTICS.listenerFailed).map((diagnostic) => diagnostic.fields)).toEqual([{ listener: 'onDeadPeer', error: 'Error' }]);
    expect(seen.named('dead_peer')).toHaveLength(1);
    expect(seen.named(MCP_DIAGNOSTICS.callsAborted).map((diagnostic) => diagnostic.fields)).toEqual([{ reason: 'dead_peer', calls: 1 }]);
    expect(keepalive.inFlight).toBe(0);
    // The core stops sending into a dead peer (the sender is detached) …
    expect(keepalive.activity.isTrackingActive()).toBe(false);
    expect(keepalive.activity.state.heartbeatAt).toBeNull();

    // … and the next call attaches it again: thawed, the server answers, pings resume, the call completes.
    child.thaw();
    const pingsBefore = wire.sent.filter((method) => method === 'ping').length;
    const result = await keepalive.callTool({ name: 'nap', arguments: { ms: 900 } });
    expect(result.content).toEqual([{ type: 'text', text: 'rested' }]);
    expect(wire.sent.filter((method) => method === 'ping').length).toBeGreaterThan(pingsBefore);
    expect(keepalive.activity.isTrackingActive()).toBe(true);
  });

  it('S4: pings go out only while a call is in flight', async () => {
    const keepalive = createServerKeepalive({ heartbeatIntervalMs: 100 });
    onCleanup(() => keepalive.close());
    const server = await startServer({
      tools: (mcp) => {
        mcp.registerTool('nap', { inputSchema: { ms: z.number() } }, keepalive.wrap(async ({ ms }) => {
          await delay(ms);
          return text('rested');
        }));
      },
    });
    const { client, wire } = await connectClient(server.url);
    const seen = recorder();
    const calls = clientKeepalive(client, { pingIntervalMs: 100, pingTimeoutMs: 1_000, onDiagnostic: seen.onDiagnostic });
    expect(calls.activity.state.heartbeatAt).toBeNull();
    expect(wire.sent.filter((method) => method === 'ping')).toEqual([]);
    await calls.callTool({ name: 'nap', arguments: { ms: 500 } });
    const pings = wire.sent.filter((method) => method === 'ping').length;
    expect(pings).toBeGreaterThanOrEqual(3);
    // Idle: no heartbeat armed, so no ping can go out (S4); nothing owed either.
    expect(calls.activity.state.total).toBe(0);
    expect(calls.activity.state.heartbeatAt).toBeNull();
    expect(calls.activity.state.livenessAt).toBeNull();
    expect(calls.activity.snapshot().keepalivesSent).toBe(pings);
    expect(seen.named('dead_peer')).toEqual([]);
  });

  it('B5: against a server without the helper, pings keep watch but only a longer request timeout saves the call', async () => {
    const server = await startServer({
      tools: (mcp) => {
        mcp.registerTool('plain', { inputSchema: { ms: z.number() } }, async ({ ms }) => {
          await delay(ms);
          return text('plain');
        });
      },
    });
    const { client, wire } = await connectClient(server.url);
    const calls = clientKeepalive(client, { pingIntervalMs: 150, pingTimeoutMs: 1_000, requestTimeoutMs: 500 });
    const failure = await calls.callTool({ name: 'plain', arguments: { ms: 1_200 } }).then(
      () => null,
      (error: unknown) => error,
    );
    // Alive (its pings were answered), yet silent: the SDK's timeout still applies.
    expect(failure).toBeInstanceOf(McpError);
    expect((failure as McpError).code).toBe(-32001);
    // With the ping guarding liveness the request timeout can be long: the call completes.
    const result = await calls.callTool({ name: 'plain', arguments: { ms: 1_200 } }, { requestTimeoutMs: 5_000 });
    expect(result.content).toEqual([{ type: 'text', text: 'plain' }]);
    expect(wire.sent.filter((method) => method === 'ping').length).toBeGreaterThanOrEqual(5);
  });
});

describe('the client keep-alive: closing, listeners, bad input (B1)', () => {
  it('S9: close() aborts calls in flight with McpKeepaliveClosedError and refuses later ones', async () => {
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    onCleanup(() => finish());
    const server = await startServer({
      tools: (mcp) => {
        mcp.registerTool('held', {}, async () => {
          await finished;
          return text('held');
        });
      },
    });
    const { client, wire } = await connectClient(server.url);
    const calls = createClientKeepalive(client, { pingIntervalMs: 100, pingTimeoutMs: 5_000 });
    const call = calls.callTool({ name: 'held' }).then(
      () => null,
      (error: unknown) => error,
    );
    await until(() => calls.inFlight === 1 && wire.sent.includes('tools/call'), 5_000, 'the call to be in flight');
    const report = calls.close();
    expect(report).toMatchObject({ total: 1, active: { tool_call: 1 } });
    expect(calls.close()).toBe(report);
    expect(await call).toBeInstanceOf(McpKeepaliveClosedError);
    await expect(calls.callTool({ name: 'held' })).rejects.toBeInstanceOf(McpKeepaliveClosedError);
    expect(calls.inFlight).toBe(0);
    calls[Symbol.dispose]();
    finish();
  });

  it('the caller’s signal cancels the call, before or while it runs', async () => {
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    onCleanup(() => finish());
    const server = await startServer({
      tools: (mcp) => {
        mcp.registerTool('held', {}, async () => {
          await finished;
          return text('held');
        });
      },
    });
    const { client, wire } = await connectClient(server.url);
    const calls = clientKeepalive(client, { pingIntervalMs: 5_000, pingTimeoutMs: 5_000 });
    const rejection = async (promise: Promise<unknown>): Promise<unknown> => promise.then(() => null, (error: unknown) => error);
    const early = await rejection(calls.callTool({ name: 'held' }, { signal: AbortSignal.abort(new Error('never mind')) }));
    expect(early).toBeInstanceOf(Error);
    expect(early).not.toBeInstanceOf(McpDeadPeerError);
    const controller = new AbortController();
    const late = rejection(calls.callTool({ name: 'held' }, { signal: controller.signal }));
    await until(() => wire.sent.includes('tools/call'), 5_000, 'the call to be sent');
    controller.abort(new Error('changed my mind'));
    expect(await late).toBeInstanceOf(McpError);
    expect(calls.inFlight).toBe(0);
    expect(calls.activity.state.total).toBe(0);
    finish();
  });

  it('a throwing onprogress is reported by its error name and never breaks the call', async () => {
    const keepalive = createServerKeepalive({ heartbeatIntervalMs: 100 });
    onCleanup(() => keepalive.close());
    const server = await startServer({
      tools: (mcp) => {
        mcp.registerTool('nap', { inputSchema: { ms: z.number() } }, keepalive.wrap(async ({ ms }) => {
          await delay(ms);
          return text('rested');
        }));
      },
    });
    const { client } = await connectClient(server.url);
    const seen = recorder();
    const calls = clientKeepalive(client, { pingIntervalMs: 1_000, pingTimeoutMs: 1_000, onDiagnostic: seen.onDiagnostic });
    const result = await calls.callTool(
      { name: 'nap', arguments: { ms: 350 } },
      {
        onprogress: () => {
          throw new SyntaxError('listener bug with private text');
        },
      },
    );
    expect(result.content).toEqual([{ type: 'text', text: 'rested' }]);
    const failures = seen.named(MCP_DIAGNOSTICS.listenerFailed);
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[0]!.fields).toEqual({ listener: 'onprogress', error: 'SyntaxError' });
    expect(JSON.stringify(seen.diagnostics)).not.toContain('private text');
  });

  it('B1: bad options throw KeepaliveOptionError naming the option path and the value', async () => {
    const server = await startServer({ tools: () => undefined });
    const { client } = await connectClient(server.url);
    const refuse = (options: unknown, option: string, value: unknown): void => {
      let thrown: unknown = null;
      try {
        createClientKeepalive(client, options as ClientKeepaliveOptions).close();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(KeepaliveOptionError);
      expect((thrown as KeepaliveOptionError).option).toBe(option);
      expect((thrown as KeepaliveOptionError).value).toEqual(value);
    };
    refuse({ pingIntervalMs: 0 }, 'pingIntervalMs', 0);
    refuse({ pingTimeoutMs: -1 }, 'pingTimeoutMs', -1);
    refuse({ pingTimeoutMs: Number.NaN }, 'pingTimeoutMs', Number.NaN);
    refuse({ requestTimeoutMs: '60s' }, 'requestTimeoutMs', '60s');
    refuse({ requestTimeoutMs: 2_000, maxTotalTimeoutMs: 1_000 }, 'requestTimeoutMs', 2_000);
    refuse({ maxTotalTimeoutMs: 2 ** 31 }, 'maxTotalTimeoutMs', 2 ** 31);
    refuse({ idleDelayMs: 0 }, 'idleDelayMs', 0);
    refuse({ onDeadPeer: 'reconnect' }, 'onDeadPeer', 'reconnect');
    refuse({ pingIntervalMS: 1_000 }, 'pingIntervalMS', 1_000);
    refuse({ logger: {} }, 'logger', {});
    refuse([], 'options', []);
    expect(() => createClientKeepalive({} as McpClientLike)).toThrow(TypeError);
    expect(() => createClientKeepalive(null as unknown as McpClientLike)).toThrow(/expected an MCP Client/);

    // Per call: the path names the call's option; bad params are a TypeError; nothing is sent.
    const calls = clientKeepalive(client, {});
    const rejection = async (promise: Promise<unknown>): Promise<unknown> => promise.then(() => null, (error: unknown) => error);
    const timeout = await rejection(calls.callTool({ name: 'x' }, { requestTimeoutMs: 0 }));
    expect(timeout).toBeInstanceOf(KeepaliveOptionError);
    expect((timeout as KeepaliveOptionError).option).toBe('callTool.requestTimeoutMs');
    expect((timeout as KeepaliveOptionError).value).toBe(0);
    const longer = await rejection(calls.callTool({ name: 'x' }, { requestTimeoutMs: CLIENT_KEEPALIVE_DEFAULTS.maxTotalTimeoutMs + 1 }));
    expect((longer as KeepaliveOptionError).option).toBe('callTool.requestTimeoutMs');
    expect(((await rejection(calls.callTool({ name: 'x' }, { signal: 'stop' as never }))) as KeepaliveOptionError).option).toBe('callTool.signal');
    expect(((await rejection(calls.callTool({ name: 'x' }, { onprogress: 1 as never }))) as KeepaliveOptionError).option).toBe('callTool.onprogress');
    expect(((await rejection(calls.callTool({ name: 'x' }, { timeout: 5 } as never))) as KeepaliveOptionError).option).toBe('callTool.timeout');
    expect(((await rejection(calls.callTool({ name: 'x' }, 5 as never))) as KeepaliveOptionError).option).toBe('callTool');
    expect(await rejection(calls.callTool(null as never))).toBeInstanceOf(TypeError);
    expect(await rejection(calls.callTool({ name: 42 } as never))).toBeInstanceOf(TypeError);
    expect(calls.inFlight).toBe(0);
    expect(calls.activity.state.total).toBe(0);
  });
});
