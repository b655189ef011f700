import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RuntimeChild } from 'keepalive-test-support/runtime-child';
import { Queue, within } from 'keepalive-test-support';

/**
 * The `heartbeatMessage` option on a REAL Deno server (`src/test-support/heartbeat-server.ts` in a Deno child process): refused
 * as in every runtime (a `KeepaliveOptionError` naming `heartbeatMessage`, past the core's 125-byte limit too), and
 * the longest message allowed answered in kind over 127.0.0.1. Every wait is for an event or a line, bounded.
 */

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = resolve(PACKAGE_DIR, '../..');
const DENO = process.env.KEEPALIVE_DENO ?? join(ROOT, 'node_modules/deno/deno');
// --no-lock: never write a deno.lock into the package; --no-prompt: a missing permission fails instead of waiting.
const DENO_ARGS = ['run', '-A', '--no-prompt', '--no-lock'];
const DENO_ENV = { DENO_DIR: join(ROOT, 'node_modules/.cache/deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('heartbeatMessage on Deno', () => {
  it('is refused with KeepaliveOptionError naming heartbeatMessage (not a string, or over 125 UTF-8 bytes); 125 bytes are answered in kind', async () => {
    const child = new RuntimeChild(DENO, [...DENO_ARGS, 'src/test-support/heartbeat-server.ts'], { cwd: PACKAGE_DIR, env: DENO_ENV, timeoutMs: 60_000 });
    cleanups.push(() => child.stop());
    const listening = await child.line('listening', undefined, 20_000);
    const refusal = { type: 'refused', name: 'KeepaliveOptionError', option: 'heartbeatMessage', range: true };
    expect(child.all('refused').filter((line) => line.option !== undefined)).toEqual([
      { ...refusal, label: 'not a string' },
      { ...refusal, label: '200 bytes' },
      { ...refusal, label: '126 bytes in 63 characters' },
    ]);
    // The longest message passes the check and reaches Deno.upgradeWebSocket, which refuses a request that is no upgrade.
    expect(child.all('refused').filter((line) => line.option === undefined)).toEqual([{ type: 'refused', label: '125 bytes', name: 'TypeError', range: false }]);

    const ws = new WebSocket(`ws://127.0.0.1:${String(listening.port)}/`);
    cleanups.push(() => ws.terminate());
    const frames = new Queue<string>();
    ws.on('message', (data: Buffer) => frames.push(data.toString()));
    await within(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 10_000, 'the client to open');
    const longest = 'h'.repeat(125);
    ws.send(longest);
    expect(await frames.next('the heartbeat answered in kind')).toBe(longest);
    ws.send('data');
    expect(await frames.next('the echo')).toBe('echo:data');
    // One heartbeat answered, nothing handed to the application as data but the data.
    child.command({ cmd: 'exit' });
    const stats = await child.line('stats');
    expect(stats.tracker).toMatchObject({ heartbeatsAnswered: 1, malformedHeartbeats: 0, handlerErrors: 0 });
    expect(await child.exited).toBe(0);
  });
});
