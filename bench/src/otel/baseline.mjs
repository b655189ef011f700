/**
 * Scenario 12's baseline: core, node-timers and websocket-transport as they were at a git ref (the commit before the
 * round-trip time was measured), built into a temporary folder beside this checkout's dependencies, so that the
 * child can run the same tick on them (`before`). Read-only on the repository (`git archive`); the folder is removed
 * by the caller.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../lib/proc.mjs';

const PACKAGES = ['core', 'node-timers', 'websocket-transport'];

/** Links `name` in `dir/node_modules` to `target` (creating its scope folder). */
function link(dir, name, target) {
  const path = join(dir, 'node_modules', name);
  if (existsSync(path)) return;
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
}

/** Builds the baseline of `ref`; returns its folder. */
export function buildBaseline(ref) {
  const root = mkdtempSync(join(os.tmpdir(), 'keepalive-baseline-'));
  const archive = execFileSync('git', ['archive', ref, 'tsconfig.base.json', ...PACKAGES.map((name) => `packages/${name}`)], { cwd: REPO_ROOT, maxBuffer: 1 << 28 });
  execFileSync('tar', ['-x', '-C', root], { input: archive });
  for (const name of PACKAGES) {
    const dir = join(root, 'packages', name);
    const modules = join(REPO_ROOT, 'packages', name, 'node_modules');
    // The checkout's third-party dependencies (and types); the workspace's own packages are the baseline's.
    for (const entry of readdirSync(modules)) {
      if (entry === '@keepalive' || entry === '.bin' || entry.startsWith('.')) continue;
      if (entry.startsWith('@')) for (const scoped of readdirSync(join(modules, entry))) link(dir, `${entry}/${scoped}`, realpathSync(join(modules, entry, scoped)));
      else link(dir, entry, realpathSync(join(modules, entry)));
    }
    for (const other of PACKAGES) if (other !== name) link(dir, `@keepalive/${other}`, join(root, 'packages', other));
  }
  for (const name of PACKAGES) {
    // Type errors (none expected) do not stop the emit: the JavaScript is what runs.
    try {
      execFileSync(join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: join(root, 'packages', name), stdio: 'pipe' });
    } catch (error) {
      if (!existsSync(join(root, 'packages', name, 'dist/index.js'))) throw error;
    }
  }
  return root;
}
