// @ts-check
/**
 * JSR publishing of @keepalive/deno, from a staged copy of the package:
 *
 *   node packages/deno/scripts/jsr.mjs --dry-run   `deno publish --dry-run` (what the package's test runs; offline)
 *   node packages/deno/scripts/jsr.mjs             `deno publish` (after the npm release of the same version)
 *   node packages/deno/scripts/jsr.mjs --sync      write package.json's version into deno.json (after `changeset version`)
 *
 * Why staged: JSR publishes the TypeScript sources (deno.json `exports: ./src/index.ts`), whose npm dependencies are
 * mapped to `npm:` specifiers by deno.json `imports`. Deno type-checks them from a node_modules folder laid out as npm
 * lays it out (real folders, not pnpm's symlinks into the workspace, which Deno would treat as local modules). The
 * stage is a temporary folder holding the package's publishable files and such a node_modules (the workspace
 * dependencies' package.json and dist, and @types/node, which Deno type-checks npm code against). DENO_DIR is kept
 * outside the package, and the npm registry is pointed at a closed port: nothing is downloaded.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = resolve(PACKAGE_DIR, '../..');
const args = new Set(process.argv.slice(2));

/** @param {string} file */
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** deno.json as it must be for the version in package.json: same version, `^version` ranges for the workspace packages. */
export function expectedDenoJson() {
  const manifest = readJson(join(PACKAGE_DIR, 'package.json'));
  const denoJson = readJson(join(PACKAGE_DIR, 'deno.json'));
  /** @type {Record<string, string>} */
  const imports = {};
  for (const [specifier, target] of Object.entries(/** @type {Record<string, string>} */ (denoJson.imports ?? {}))) {
    imports[specifier] = target.replace(/^npm:(@keepalive\/[^@/]+)@[^/]+/, `npm:$1@^${manifest.version}`);
  }
  return { ...denoJson, version: manifest.version, imports };
}

/** The workspace packages @keepalive/deno depends on, transitively, as folder paths by package name. */
function workspaceDependencies() {
  /** @type {Map<string, string>} */
  const found = new Map();
  /** @param {string} dir */
  const visit = (dir) => {
    const manifest = readJson(join(dir, 'package.json'));
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      if (!name.startsWith('@keepalive/') || found.has(name)) continue;
      const target = realpathSync(join(dir, 'node_modules', name));
      found.set(name, target);
      visit(target);
    }
  };
  visit(PACKAGE_DIR);
  return found;
}

function stage() {
  const dir = mkdtempSync(join(tmpdir(), 'keepalive-jsr-'));
  for (const file of ['README.md', 'LICENSE']) if (existsSync(join(PACKAGE_DIR, file))) cpSync(join(PACKAGE_DIR, file), join(dir, file));
  cpSync(join(PACKAGE_DIR, 'src'), join(dir, 'src'), {
    recursive: true,
    filter: (source) => !source.endsWith('.test.ts') && !source.includes('test-support'),
  });
  writeFileSync(join(dir, 'deno.json'), `${JSON.stringify({ ...expectedDenoJson(), nodeModulesDir: 'manual' }, null, 2)}\n`);
  for (const [name, source] of workspaceDependencies()) {
    const target = join(dir, 'node_modules', name);
    if (!existsSync(join(source, 'dist'))) throw new Error(`${name} is not built (${join(source, 'dist')} is missing): build first`);
    cpSync(join(source, 'package.json'), join(target, 'package.json'));
    cpSync(join(source, 'dist'), join(target, 'dist'), { recursive: true, dereference: true });
  }
  const require = createRequire(join(ROOT, 'package.json'));
  const typesNode = dirname(require.resolve('@types/node/package.json'));
  cpSync(typesNode, join(dir, 'node_modules/@types/node'), { recursive: true, dereference: true });
  const undici = dirname(createRequire(join(realpathSync(typesNode), 'package.json')).resolve('undici-types/package.json'));
  cpSync(undici, join(dir, 'node_modules/undici-types'), { recursive: true, dereference: true });
  return dir;
}

function denoBinary() {
  return process.env.KEEPALIVE_DENO ?? join(ROOT, 'node_modules/deno/deno');
}

if (args.has('--sync')) {
  writeFileSync(join(PACKAGE_DIR, 'deno.json'), `${JSON.stringify(expectedDenoJson(), null, 2)}\n`);
  process.stdout.write(`deno.json: version ${expectedDenoJson().version}\n`);
} else {
  const dir = stage();
  try {
    const result = spawnSync(denoBinary(), ['publish', ...(args.has('--dry-run') ? ['--dry-run'] : []), '--allow-dirty'], {
      cwd: dir,
      stdio: 'inherit',
      timeout: 180_000,
      env: {
        ...process.env,
        DENO_DIR: process.env.DENO_DIR ?? join(ROOT, 'node_modules/.cache/deno'),
        DENO_NO_UPDATE_CHECK: '1',
        NO_COLOR: '1',
        ...(args.has('--dry-run') ? { NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/' } : {}),
      },
    });
    if (result.error) throw result.error;
    process.exitCode = result.status ?? 1;
  } finally {
    if (args.has('--keep')) process.stdout.write(`stage kept: ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
