/**
 * The real SDK over real loopback HTTP for the tests: an `McpServer` behind a `StreamableHTTPServerTransport` on a
 * Node `http` server at 127.0.0.1 (port 0), and a `Client` on a `StreamableHTTPClientTransport` whose fetch is
 * tapped, so a test sees every SSE event (comments included) as the bytes that arrived, and every request it sent.
 * Every wait is on an event (`changed()` wakes `until`), bounded in time; everything is closed by `cleanup()`.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Diagnostic } from '@keepalive/core';
import type { SseStreams } from '../http.js';

/** `node --import` this to let a fixture load the package's .ts sources (one copy, in keepalive-test-support). */
const TS_REGISTER = createRequire(import.meta.url).resolve('keepalive-test-support/ts-register');

// ---------------------------------------------------------------------------
// Waiting on events.

const waiters = new Set<() => void>();

/** Wakes every `until`: called by every observed event (an SSE event, a diagnostic, a progress, a request). */
export function changed(): void {
  for (const waiter of [...waiters]) waiter();
}

/** Resolves once `predicate` holds, re-checked at every `changed()`; rejects after `timeoutMs`. */
export function until(predicate: () => boolean, timeoutMs: number, label: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      waiters.delete(check);
    };
    const check = (): void => {
      if (!predicate()) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}`));
    }, timeoutMs);
    waiters.add(check);
    check();
  });
}

const cleanups: (() => unknown)[] = [];

/** Registers a teardown step (run in reverse order by `cleanup()`). */
export function onCleanup(step: () => unknown): void {
  cleanups.push(step);
}

/** Runs every teardown step, newest first. */
export async function cleanup(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) await step();
  waiters.clear();
}

/** Diagnostics recorded by `record`, waking waiters. */
export function recorder(): { readonly diagnostics: Diagnostic[]; readonly onDiagnostic: (diagnostic: Diagnostic) => void; named(name: string): Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  return {
    diagnostics,
    onDiagnostic: (diagnostic) => {
      diagnostics.push(diagnostic);
      changed();
    },
    named: (name) => diagnostics.filter((diagnostic) => diagnostic.name === name),
  };
}

// ---------------------------------------------------------------------------
// The server.

export interface TestServer {
  readonly url: URL;
  readonly mcp: McpServer;
  readonly transport: StreamableHTTPServerTransport;
  close(): Promise<void>;
}

export interface ServerSetup {
  /** Registers the tools. */
  readonly tools: (server: McpServer) => void;
  /** Routes requests through the SSE stream registry (the comment fallback). */
  readonly streams?: SseStreams;
  /** The SDK's own SSE comment interval; 0 (off, the default here) so that every comment seen is the package's. */
  readonly sdkKeepAliveMs?: number;
  /** Answer POSTs with JSON instead of an SSE stream (`enableJsonResponse`). */
  readonly jsonResponse?: boolean;
}

/** A stateful Streamable HTTP MCP server on 127.0.0.1 (one session: one client per test). */
export async function startServer(setup: ServerSetup): Promise<TestServer> {
  const mcp = new McpServer({ name: 'keepalive-test', version: '1.0.0' });
  setup.tools(mcp);
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    keepAliveMs: setup.sdkKeepAliveMs ?? 0,
    enableJsonResponse: setup.jsonResponse ?? false,
  });
  await mcp.connect(transport);
  const streams = setup.streams;
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (streams === undefined ? transport.handleRequest(req, res) : streams.handleRequest(transport, req, res));
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  let closed = false;
  const server: TestServer = {
    url: new URL(`http://127.0.0.1:${port}/mcp`),
    mcp,
    transport,
    close: async () => {
      if (closed) return;
      closed = true;
      await mcp.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  onCleanup(() => server.close());
  return server;
}

// ---------------------------------------------------------------------------
// The client, with its fetch tapped.

/** What the tap saw: SSE events as they arrived (raw text, comments included) and JSON-RPC methods sent. */
export interface Wire {
  readonly events: string[];
  readonly sent: string[];
  comments(): string[];
  progress(): string[];
}

export interface TestClient {
  readonly client: Client;
  readonly wire: Wire;
}

/** An SDK client connected over Streamable HTTP through a tapped fetch. */
export async function connectClient(url: URL): Promise<TestClient> {
  const events: string[] = [];
  const sent: string[] = [];
  const wire: Wire = {
    events,
    sent,
    comments: () => events.filter((event) => event.startsWith(':')),
    progress: () => events.filter((event) => event.includes('"notifications/progress"')),
  };
  const tapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    if (typeof init?.body === 'string') {
      const body = JSON.parse(init.body) as { method?: string } | { method?: string }[];
      for (const message of Array.isArray(body) ? body : [body]) if (typeof message.method === 'string') sent.push(message.method);
      changed();
    }
    const response = await fetch(input, init);
    if (response.body === null || !(response.headers.get('content-type') ?? '').includes('text/event-stream')) return response;
    const decoder = new TextDecoder();
    let buffer = '';
    const tap = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        buffer += decoder.decode(chunk, { stream: true });
        // Bounded: each turn removes one complete event from the buffer.
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          events.push(buffer.slice(0, end + 2));
          buffer = buffer.slice(end + 2);
        }
        controller.enqueue(chunk);
        changed();
      },
    });
    return new Response(response.body.pipeThrough(tap), { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  const client = new Client({ name: 'keepalive-test-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(url, { fetch: tapped });
  await client.connect(transport);
  onCleanup(() => client.close());
  return { client, wire };
}

/** The `progress` values of progress notifications, in the order they arrived. */
export function progressValues(wire: Wire): number[] {
  return wire.progress().map((event) => {
    const data = event.split('\n').find((line) => line.startsWith('data: '));
    const message = JSON.parse((data ?? 'data: {}').slice('data: '.length)) as { params?: { progress?: number } };
    return message.params?.progress ?? Number.NaN;
  });
}

// ---------------------------------------------------------------------------
// The frozen server: a child process.

export interface FrozenServer {
  readonly url: URL;
  freeze(): void;
  thaw(): void;
}

/** The MCP server of `frozen-server.mjs` in a child process, frozen with SIGSTOP, thawed with SIGCONT, killed in teardown. */
export async function childServer(): Promise<FrozenServer> {
  const fixture = (name: string): string => fileURLToPath(new URL(`./${name}`, import.meta.url));
  const child = spawn(process.execPath, ['--import', TS_REGISTER, fixture('frozen-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  onCleanup(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    changed();
  });
  await until(() => /port \d+\n/.test(output), 15_000, 'the child server port');
  const port = Number(/port (\d+)/.exec(output)?.[1]);
  return { url: new URL(`http://127.0.0.1:${port}/mcp`), freeze: () => child.kill('SIGSTOP'), thaw: () => child.kill('SIGCONT') };
}
