import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare, type MiniflareOptions } from 'miniflare';
import WebSocket, { type RawData } from 'ws';

/** The package folder (this file is src/test-support/workerd.ts). */
export const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));

/** The compatibility date the tests run with (workerd answers a client's close itself from 2026-04-07 on). */
export const COMPATIBILITY_DATE = '2026-07-01';

/**
 * Bundles a Worker entry as a Worker's bundler would (esbuild, the `workerd` export condition first, `cloudflare:`
 * and `workerd:` modules left to the runtime): what workerd runs is the published build of this package (its `dist`,
 * through its `exports` map), never its sources.
 */
export async function bundleWorker(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    external: ['cloudflare:*', 'workerd:*'],
    write: false,
    logLevel: 'silent',
    absWorkingDir: PACKAGE_DIR,
  });
  return result.outputFiles[0]?.text ?? '';
}

/** Starts workerd (through Miniflare) on a bundled module Worker; resolves with it and its `ws://` origin. */
export async function startWorkerd(script: string, options: Partial<MiniflareOptions> = {}): Promise<{ mf: Miniflare; origin: string; http: string }> {
  const mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: COMPATIBILITY_DATE,
    // workerd:unsafe (evict an object, as the runtime does when it is idle) is an experimental, test-only module.
    compatibilityFlags: ['unsafe_module', 'experimental'],
    ...options,
  } as MiniflareOptions);
  const url = await mf.ready;
  return { mf, origin: url.href.replace(/^http/, 'ws').replace(/\/$/, ''), http: url.href.replace(/\/$/, '') };
}

/** A frame a test client received, with when (the test's clock: `Date.now()`, the one workerd's alarms use). */
export interface Received {
  readonly data: string;
  readonly binary: boolean;
  readonly at: number;
}

/** A raw `ws` client that records every frame it gets and how it was closed. */
export interface RawClient {
  readonly socket: WebSocket;
  readonly received: Received[];
  /**
   * Resolves when the server's close frame arrives (its code and reason, and when), or when the connection ends
   * without one (code 1006). The close frame is the server's decision; workerd may hold the TCP connection open for
   * seconds after the close handshake (seen on sockets that never got an auto-response), which is when `ws` would
   * emit its own `close`.
   */
  readonly closed: Promise<{ code: number; reason: string; at: number }>;
  /** Resolves with the next frame after those received so far (rejects after `ms`). */
  next(ms?: number): Promise<Received>;
}

export async function connectRaw(url: string): Promise<RawClient> {
  const socket = new WebSocket(url);
  const received: Received[] = [];
  const waiters: ((frame: Received) => void)[] = [];
  socket.on('message', (data, isBinary) => {
    const frame = { data: isBinary ? '' : textOf(data), binary: isBinary, at: Date.now() };
    received.push(frame);
    for (const waiter of waiters.splice(0)) waiter(frame);
  });
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) => {
    socket.once('open', () => {
      // ws 8's receiver (there once open) emits `conclude` for the peer's close frame: the event ws itself answers
      // the close on; ws is pinned.
      const receiver = (socket as unknown as { _receiver?: { on(event: 'conclude', listener: (code: number, reason: Buffer) => void): void } })._receiver;
      receiver?.on('conclude', (code, reason) => resolve({ code, reason: String(reason), at: Date.now() }));
    });
    socket.on('close', (code, reason) => resolve({ code, reason: String(reason), at: Date.now() }));
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    received,
    closed,
    next: (ms = 2_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no frame within ${ms} ms`)), ms);
        waiters.push((frame) => {
          clearTimeout(timer);
          resolve(frame);
        });
      }),
  };
}

/** Resolves with `promise`, or rejects naming `what` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** A `ws` message's payload as text. */
export function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(new Uint8Array(data)).toString('utf8');
}
