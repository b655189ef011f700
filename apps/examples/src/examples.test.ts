import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKeepaliveClient, resumable } from '@keepalive/websocket-transport';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from 'keepalive-test-support/redis-server';

/**
 * Every JSDoc `@example` in published source (`packages/<name>/src`, tests aside) is one of the files here, character
 * for character, and so is every README example that starts with an import (after `//` comment lines, such as a file
 * name): the two never drift, and no fragment passes for an example. Every file here is shown somewhere. Each file is
 * a complete program: the workspace's typecheck type-checks the Node TypeScript ones (`src/bun` and `src/deno` are
 * run by their runtimes, which have their own globals; the workspace carries no Bun or Deno types; `.mjs` files are
 * the JavaScript a README shows, run as they are), and this test runs every one on its runtime (Node 20, from the
 * build for TypeScript; Bun; Deno), against the loopback servers it starts itself (the `src/redis` ones get a real
 * `redis-server`, started here on a free port, as `REDIS_URL`; `src/redis/cluster*` ones a local Redis Cluster of
 * three masters, as `REDIS_CLUSTER`, its nodes' URLs joined by commas); it must exit 0 by itself within the time
 * limit (nothing left open). A Worker (`src/cloudflare/*.mjs`) is not a program that exits: it is bundled as a
 * Worker's bundler would and run on workerd (Miniflare) with the bindings of its `wrangler.jsonc`, and clients from
 * here talk to it (a keep-alive answered, a plain message and a resumable session's message answered).
 */

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '../../../');
const DIST = join(HERE, '../dist/');
const BIN = join(ROOT, 'node_modules/.bin/');
const TIME_LIMIT_MS = 30_000;

function walk(dir: string, keep: (path: string) => boolean, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) walk(path, keep, out);
    else if (keep(path)) out.push(path);
  }
  return out;
}

interface Block {
  /** `path:line` of the block. */
  readonly where: string;
  readonly code: string;
}

/** The fenced TypeScript/JavaScript blocks of a README that start with an import, or with `//` lines and then one. */
function readmeBlocks(path: string): Block[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript|js|javascript)\s*$/.test(lines[i] ?? '')) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i] ?? '');
    const code = body.join('\n');
    if (/^(?:\/\/.*\n)*import\b/.test(code)) blocks.push({ where: `${relative(ROOT, path)}:${start + 1}`, code });
  }
  return blocks;
}

/**
 * Every `@example` tag of a source file's JSDoc, as the code of its fenced block (the whole tag's text when it has no
 * fenced block, so that it cannot match a file), whatever it starts with.
 */
function jsdocBlocks(path: string): Block[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    // Any comment line that names the tag (on a line of its own, or after other text, or in a one-line comment).
    if (!/^\s*(?:\/\*\*|\*).*@example\b/.test(lines[i] ?? '')) continue;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !(lines[i] ?? '').includes('*/') && !/^\s*\*\/|^\s*\* @/.test(lines[j] ?? ''); j++) body.push((lines[j] ?? '').replace(/^\s*\* ?/, ''));
    const open = body.findIndex((line) => line.startsWith('```'));
    const close = body.findIndex((line, k) => k > open && line.startsWith('```'));
    const where = `${relative(ROOT, path)}:${i + 1}`;
    if (open >= 0 && close > open) blocks.push({ where, code: body.slice(open + 1, close).join('\n') });
    else blocks.push({ where, code: `(no fenced block) ${lines.slice(i, j).join('\n')}` });
    i = Math.max(i, j - 1);
  }
  return blocks;
}

const readmes = [
  join(ROOT, 'README.md'),
  ...['packages', 'apps'].flatMap((dir) =>
    readdirSync(join(ROOT, dir))
      .map((name) => join(ROOT, dir, name, 'README.md'))
      .filter((path) => existsSync(path)),
  ),
];
const sources = readdirSync(join(ROOT, 'packages')).flatMap((name) => {
  const src = join(ROOT, 'packages', name, 'src');
  return existsSync(src) ? walk(src, (path) => path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.includes('/test-support/')) : [];
});
const readmeExamples = readmes.flatMap(readmeBlocks);
const jsdocExamples = sources.flatMap(jsdocBlocks);
const blocks = [...readmeExamples, ...jsdocExamples];
const files = walk(HERE, (path) => /\.(ts|js|mjs)$/.test(path) && !path.endsWith('.test.ts') && !path.endsWith('.d.ts')).sort();
const content = new Map(files.map((path) => [path, readFileSync(path, 'utf8').trimEnd()]));

let redis: Promise<RedisServer> | null = null;
let cluster: Promise<RedisCluster> | null = null;
afterAll(async () => {
  if (redis !== null) await (await redis).stop();
  if (cluster !== null) await (await cluster).stop();
});

describe('examples', () => {
  const known = new Set(content.values());
  const strays = (list: readonly Block[]): string[] => list.filter((block) => !known.has(block.code.trimEnd())).map((block) => block.where);

  it('every README example that starts with an import (after // lines) is an example file, verbatim', () => {
    expect(strays(readmeExamples)).toEqual([]);
    expect(readmeExamples.length).toBeGreaterThan(10);
    expect(readmeExamples.some((block) => block.code.startsWith('//'))).toBe(true);
  });

  it('every JSDoc @example in published source is an example file, verbatim (a complete program run here, never a fragment)', () => {
    expect(strays(jsdocExamples)).toEqual([]);
    expect(jsdocExamples.length).toBeGreaterThan(20);
  });

  it('every example file is shown in a README or a JSDoc comment', () => {
    const shown = new Set(blocks.map((block) => block.code.trimEnd()));
    expect(files.filter((path) => !shown.has(content.get(path) ?? '')).map((path) => relative(HERE, path))).toEqual([]);
  });

  for (const path of files) {
    const name = relative(HERE, path);
    if (name.startsWith('cloudflare/')) {
      it(`${name} runs on workerd: a keep-alive answered, a message answered, a resumable session's message answered`, async () => {
        const result = await runWorker(path);
        expect(result.code, result.output).toBe(0);
      });
      continue;
    }
    it(`${name} runs to completion and exits 0 by itself`, async () => {
      const command: [string, string[]] = name.startsWith('bun/')
        ? [join(BIN, 'bun'), [path]]
        : name.startsWith('deno/')
          ? [join(BIN, 'deno'), ['run', '-A', '--quiet', path]]
          : name.endsWith('.mjs')
            ? [process.execPath, [path]]
            : [process.execPath, [join(DIST, name.replace(/\.ts$/, '.js'))]];
      const env: NodeJS.ProcessEnv = {};
      if (name.startsWith('redis/cluster')) {
        cluster ??= startRedisCluster();
        env.REDIS_CLUSTER = (await cluster).urls.join(',');
      } else if (name.startsWith('redis/')) {
        redis ??= startRedisServer();
        env.REDIS_URL = (await redis).url;
      }
      const result = await run(...command, env);
      expect(result.code, result.output).toBe(0);
    });
  }
});

/** Runs a program with a time limit; resolves with its exit code (null if killed) and what it wrote. */
function run(file: string, args: string[], extra: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: join(HERE, '..'), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...extra, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      output += `\n(killed after ${TIME_LIMIT_MS} ms: still running)`;
      child.kill('SIGKILL');
    }, TIME_LIMIT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The parts of a `wrangler.jsonc` the examples use. */
interface WranglerConfig {
  readonly compatibility_date: string;
  readonly durable_objects?: { readonly bindings: readonly { readonly name: string; readonly class_name: string }[] };
}

/**
 * Runs a Worker example on workerd (Miniflare): bundled as a Worker's bundler would (the `workerd` export condition
 * first, `cloudflare:` modules left to the runtime), with the Durable Object bindings and compatibility date of the
 * `wrangler.jsonc` beside it. Clients from here: a raw socket whose keep-alive (the empty message) and message are
 * answered, and a resumable client (`resume: resumable()`) whose message is answered on its session. Resolves with
 * code 0 when all three were, else 1 and what went wrong.
 */
async function runWorker(path: string): Promise<{ code: number | null; output: string }> {
  const config = JSON.parse(readFileSync(join(dirname(path), 'wrangler.jsonc'), 'utf8').replace(/^\s*\/\/.*$/gm, '')) as WranglerConfig;
  const bundled = await build({
    entryPoints: [path],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    external: ['cloudflare:*'],
    write: false,
    logLevel: 'silent',
  });
  const durableObjects = Object.fromEntries((config.durable_objects?.bindings ?? []).map((binding) => [binding.name, binding.class_name]));
  const mf = new Miniflare({ modules: true, script: bundled.outputFiles[0]?.text ?? '', compatibilityDate: config.compatibility_date, durableObjects });
  const steps: string[] = [];
  try {
    const origin = (await mf.ready).href.replace(/^http/, 'ws').replace(/\/$/, '');
    const socket = new WebSocket(`${origin}/room-1?user=ada`);
    const frames: string[] = [];
    socket.on('message', (data: Buffer) => frames.push(data.toString('utf8')));
    await within(new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject)), 'the socket to open');
    socket.send('');
    await within(waitUntil(() => frames.length >= 1), 'the keep-alive to be answered');
    steps.push(`keep-alive answered with ${JSON.stringify(frames[0])}`);
    socket.send('hello');
    await within(waitUntil(() => frames.length >= 2), 'the message to be answered');
    steps.push(`message answered with ${JSON.stringify(frames[1])}`);
    socket.close(1000);
    const client = createKeepaliveClient(`${origin}/room-1?user=grace`, { keepaliveFrame: 'message', resume: resumable() });
    const replies: string[] = [];
    client.on('message', ({ data }) => replies.push(typeof data === 'string' ? data : `${String(data.byteLength)} bytes`));
    const session = await within(new Promise<string>((resolve) => client.on('session', ({ status }) => resolve(status))), 'the resumable session');
    client.send('hello');
    await within(waitUntil(() => replies.length >= 1), 'the session message to be answered');
    steps.push(`resumable session ${session}, message answered with ${JSON.stringify(replies[0])}`);
    await client.close(1000);
    const ok = frames[0] === '' && frames[1] !== undefined && frames[1] !== '' && session === 'new' && replies.length === 1;
    return { code: ok ? 0 : 1, output: steps.join('\n') };
  } catch (error) {
    return { code: 1, output: `${steps.join('\n')}\n${String(error)}` };
  } finally {
    await mf.dispose();
  }
}

/** Resolves once `check()` holds (polled every 10 ms, for at most 10 s: `within` gives up then). */
async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Resolves with `promise`, or rejects naming `what` after 10 s. */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10_000);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}
