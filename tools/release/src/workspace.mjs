// @ts-check
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is tools/release/src/workspace.mjs). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Runtime families a package can be smoke-tested on; `node` covers every Node version. */
export const FAMILIES = /** @type {const} */ (['node', 'bun', 'deno']);
/** @typedef {(typeof FAMILIES)[number]} Family */

/**
 * @typedef {object} Manifest
 * @property {string} name
 * @property {string} version
 * @property {boolean} [private]
 * @property {string} [type]
 * @property {unknown} [exports]
 * @property {Record<string, string>} [engines]
 * @property {{ url?: string }} [repository]
 * @property {Record<string, string>} [peerDependencies]
 * @property {Record<string, string>} [devDependencies]
 */

/**
 * @typedef {object} EntryPoint
 * @property {string} subpath the key in `exports`, e.g. `.` or `./compat`
 * @property {string} specifier what a consumer imports, e.g. `@keepalive/node-timers/compat`
 * @property {boolean} json the subpath is a JSON file (imported `with { type: 'json' }`)
 * @property {string | null} types the `types` target, if any
 */

/**
 * @typedef {object} SmokeFile
 * @property {string} file path relative to the package's `smoke/` folder
 * @property {Family[]} families runtimes it runs on
 */

/**
 * @typedef {object} PublishablePackage
 * @property {string} name
 * @property {string} version
 * @property {string} dir absolute path
 * @property {string} relDir path from the repository root, e.g. `packages/core`
 * @property {Manifest} manifest
 * @property {EntryPoint[]} entryPoints
 * @property {'esm-only' | 'dual'} exportStyle `esm-only` when no export offers a `require` condition
 * @property {Family[]} families runtimes the package supports, from `engines`
 * @property {SmokeFile[]} smokeFiles
 */

/**
 * @param {string} file
 * @returns {unknown}
 */
export function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * Every `packages/<name>/package.json` that is not `private: true`, sorted by folder name.
 *
 * @param {string} [root]
 * @returns {PublishablePackage[]}
 */
export function publishablePackages(root = ROOT) {
  const packagesDir = join(root, 'packages');
  return readdirSync(packagesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(packagesDir, entry.name, 'package.json')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => describePackage(join(packagesDir, name), `packages/${name}`))
    .filter((pkg) => pkg.manifest.private !== true);
}

/**
 * @param {string} dir
 * @param {string} relDir
 * @returns {PublishablePackage}
 */
export function describePackage(dir, relDir) {
  const manifest = /** @type {Manifest} */ (readJson(join(dir, 'package.json')));
  const families = supportedFamilies(manifest.engines);
  return {
    name: manifest.name,
    version: manifest.version,
    dir,
    relDir,
    manifest,
    entryPoints: entryPoints(manifest),
    exportStyle: JSON.stringify(manifest.exports ?? null).includes('"require"') || manifest.type !== 'module' ? 'dual' : 'esm-only',
    families,
    smokeFiles: smokeFiles(join(dir, 'smoke'), families),
  };
}

/**
 * `engines.node` means "runs on Node and on the Node-compatible runtimes" (Bun, Deno); a package that lists only
 * `bun` or `deno` is smoke-tested on that runtime alone. No `engines` at all means everywhere.
 *
 * @param {Record<string, string> | undefined} engines
 * @returns {Family[]}
 */
export function supportedFamilies(engines) {
  if (engines === undefined || 'node' in engines || !FAMILIES.some((family) => family in engines)) return [...FAMILIES];
  return FAMILIES.filter((family) => family in engines);
}

/**
 * The entry points a consumer can import, from the `exports` map (wildcard and `null` subpaths are skipped).
 *
 * @param {Manifest} manifest
 * @returns {EntryPoint[]}
 */
export function entryPoints(manifest) {
  const { exports } = manifest;
  /** @type {Record<string, unknown>} */
  let subpaths;
  if (exports === undefined) subpaths = { '.': null };
  else if (isRecord(exports) && Object.keys(exports).some((key) => key.startsWith('.'))) subpaths = exports;
  else subpaths = { '.': exports };
  return Object.entries(subpaths)
    .filter(([subpath, target]) => !subpath.includes('*') && (target !== null || exports === undefined))
    .map(([subpath, target]) => {
      const runtimeTarget = pickTarget(target, ['import', 'default', 'node']);
      const json = runtimeTarget?.endsWith('.json') ?? false;
      return {
        subpath,
        specifier: subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`,
        json,
        types: json ? null : typesOf(target, runtimeTarget),
      };
    });
}

/**
 * TypeScript's rule: an explicit `types` condition, else the declaration file next to the JavaScript.
 *
 * @param {unknown} target
 * @param {string | null} runtimeTarget
 * @returns {string | null}
 */
function typesOf(target, runtimeTarget) {
  const declared = pickTarget(target, ['types']);
  if (declared !== null && /\.d\.[cm]?ts$/.test(declared)) return declared;
  if (runtimeTarget === null || !/\.[cm]?js$/.test(runtimeTarget)) return null;
  return runtimeTarget.replace(/\.([cm]?)js$/, '.d.$1ts');
}

/**
 * The first target a resolver using `conditions` would pick.
 *
 * @param {unknown} target
 * @param {readonly string[]} conditions
 * @returns {string | null}
 */
function pickTarget(target, conditions) {
  if (typeof target === 'string') return target;
  if (Array.isArray(target)) {
    for (const item of target) {
      const picked = pickTarget(item, conditions);
      if (picked !== null) return picked;
    }
    return null;
  }
  if (!isRecord(target)) return null;
  for (const [condition, value] of Object.entries(target)) {
    if (!conditions.includes(condition)) continue;
    const picked = pickTarget(value, conditions);
    if (picked !== null) return picked;
  }
  return null;
}

/**
 * Top-level `*.mjs` files in `smoke/`; `name.<family>.mjs` runs on that runtime family only.
 *
 * @param {string} smokeDir
 * @param {readonly Family[]} families
 * @returns {SmokeFile[]}
 */
export function smokeFiles(smokeDir, families) {
  if (!existsSync(smokeDir)) return [];
  return readdirSync(smokeDir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.mjs'))
    .map((entry) => entry.name)
    .sort()
    .map((file) => {
      const suffix = /\.(node|bun|deno)\.mjs$/.exec(file)?.[1];
      return { file, families: families.filter((family) => suffix === undefined || family === suffix) };
    });
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
export function isRecord(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The pnpm that runs this script (`npm_execpath` under `pnpm run`), else the pinned `packageManager` through npx.
 *
 * @returns {[string, string[]]} command and leading arguments
 */
export function pnpmCommand() {
  const execPath = process.env['npm_execpath'];
  if (execPath !== undefined && /pnpm(\.c?js)?$/.test(execPath)) return [process.execPath, [execPath]];
  const { packageManager } = /** @type {{ packageManager: string }} */ (readJson(join(ROOT, 'package.json')));
  return ['npx', ['-y', packageManager]];
}
