// @ts-check
/**
 * `pnpm run release:dry`: everything a release does except publishing, for every publishable package
 * (packages/* without `private: true`). Run after a build (the root script builds first).
 *
 *   0. check the pending changesets, the CHANGELOG entries to be (changesets-lint.mjs);
 *   1. `pnpm pack` each package into a temporary folder (pnpm rewrites `workspace:` ranges, as publishing would),
 *      and check its metadata, LICENSE, README and file list (metadata.mjs);
 *   2. `publint --strict` on each tarball;
 *   3. `attw --pack` with the profile matching the export style (`esm-only`, else `strict`);
 *   4. `npm install` the tarballs into a fresh project under os.tmpdir(), outside the workspace;
 *   5. on Node (this one), Node 24, Bun and Deno: import every entry point of the `exports` map and run each
 *      package's smoke/*.mjs scripts (see CONTRIBUTING.md).
 *
 * Options: --runtimes=node,node24,bun,deno (default: all), --packages=core,node-timers (folders; default: all),
 * --keep (leave the temporary folder for inspection).
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { lintChangesets } from './changesets-lint.mjs';
import { run } from './exec.mjs';
import { metadataProblems } from './metadata.mjs';
import { runtimes } from './runtimes.mjs';
import { ROOT, pnpmCommand, publishablePackages } from './workspace.mjs';

const { values: options } = parseArgs({
  options: { runtimes: { type: 'string' }, packages: { type: 'string' }, keep: { type: 'boolean', default: false } },
});
const list = (/** @type {string | undefined} */ value) => value?.split(',').map((item) => item.trim());
const selectedRuntimes = list(options.runtimes);
const selectedPackages = list(options.packages);
const bin = (/** @type {string} */ name) => join(ROOT, 'node_modules/.bin', name);
const color = process.stdout.isTTY ? [] : ['--no-color'];

const packages = publishablePackages().filter((pkg) => selectedPackages?.includes(basename(pkg.dir)) ?? true);
if (packages.length === 0) throw new Error('no publishable package under packages/ (or none matches --packages)');
const chosenRuntimes = runtimes().filter((runtime) => selectedRuntimes?.includes(runtime.id) ?? true);
if (selectedRuntimes !== undefined && chosenRuntimes.length !== selectedRuntimes.length) {
  throw new Error(`--runtimes: unknown runtime in "${options.runtimes ?? ''}"; known: ${runtimes().map((r) => r.id).join(', ')}`);
}

const temp = mkdtempSync(join(tmpdir(), 'keepalive-release-'));
try {
  await releaseDry();
} catch (error) {
  console.error(`\nrelease:dry failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  if (options.keep) console.log(`kept ${temp}`);
  else rmSync(temp, { recursive: true, force: true });
}

async function releaseDry() {
  heading(`release:dry: ${packages.map((pkg) => `${pkg.name}@${pkg.version}`).join(', ')}`);

  heading('pending changesets');
  const changesets = lintChangesets();
  if (changesets.problems.length > 0) {
    throw new Error(`changesets that would make a poor CHANGELOG (see CONTRIBUTING.md, "Recording a change"):\n  ${changesets.problems.join('\n  ')}`);
  }
  console.log(`${changesets.files.length} pending changeset(s): names and summaries fit for a CHANGELOG`);
  /** @type {Map<string, string>} package name → tarball path */
  const tarballs = new Map();
  /** @type {string[]} */
  const problems = [];
  for (const pkg of packages) {
    const { filename, files } = await pack(pkg);
    tarballs.set(pkg.name, filename);
    problems.push(...metadataProblems(pkg, files).map((problem) => `${pkg.name}: ${problem}`));
  }
  const tarball = (/** @type {string} */ name) => tarballs.get(name) ?? '';

  heading('package metadata, LICENSE, README, file list');
  if (problems.length > 0) throw new Error(`incomplete packages (see CONTRIBUTING.md):\n  ${problems.join('\n  ')}`);
  console.log(`complete: ${packages.map((pkg) => pkg.name).join(', ')}`);

  heading('publint --strict');
  for (const pkg of packages) await run(bin('publint'), ['run', tarball(pkg.name), '--strict'], { timeoutMs: 60_000 });

  heading('attw --pack');
  for (const pkg of packages) {
    const profile = pkg.exportStyle === 'esm-only' ? 'esm-only' : 'strict';
    console.log(`${pkg.name}: ${pkg.exportStyle} exports, profile ${profile}`);
    await run(bin('attw'), ['--pack', pkg.dir, '--profile', profile, '--format', 'table-flipped', ...color], { env: cleanEnv(), timeoutMs: 120_000 });
  }

  heading('npm install the tarballs into a fresh project');
  const project = join(temp, 'project');
  mkdirSync(project);
  const specs = Object.fromEntries(packages.map((pkg) => [pkg.name, `file:${tarball(pkg.name)}`]));
  // The optional peers a Node user installs beside the packages (ws for the Node server and the client's default
  // socket), at the version the workspace develops against.
  const peers = Object.fromEntries(
    packages.flatMap((pkg) => Object.entries(pkg.manifest.peerDependencies ?? {}).map(([peer, range]) => [peer, pkg.manifest.devDependencies?.[peer] ?? range])),
  );
  // overrides: a package's dependency on a sibling (e.g. "@keepalive/core": "^0.1.0") resolves to the local tarball too.
  writeJson(join(project, 'package.json'), { name: 'keepalive-smoke', private: true, type: 'module', dependencies: { ...peers, ...specs }, overrides: specs });
  const { ms } = await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    cwd: project,
    env: cleanEnv(),
    timeoutMs: 300_000,
  });
  console.log(`installed ${packages.length} tarball(s) in ${ms} ms`);

  copyFileSync(join(ROOT, 'tools/release/src/smoke-runner.mjs'), join(project, 'smoke-runner.mjs'));
  const plan = packages.map((pkg) => {
    const folder = basename(pkg.dir);
    if (pkg.smokeFiles.length > 0) cpSync(join(pkg.dir, 'smoke'), join(project, 'smoke', folder), { recursive: true });
    return {
      name: pkg.name,
      folder,
      families: pkg.families,
      entries: pkg.entryPoints.map(({ specifier, json }) => ({ specifier, json })),
      smoke: pkg.smokeFiles,
    };
  });
  writeJson(join(project, 'plan.json'), { packages: plan });

  const ran = [];
  for (const runtime of chosenRuntimes) {
    if (runtime.command.includes('/') && !existsSync(runtime.command)) {
      throw new Error(`${runtime.id}: ${runtime.command} is missing; run pnpm install (bun and deno need their postinstall)`);
    }
    const { stdout } = await run(runtime.command, runtime.versionArgs, { capture: true, timeoutMs: 30_000 });
    const version = /\d+\.\d+\.\d+\S*/.exec(stdout)?.[0] ?? stdout.trim();
    heading(`smoke: ${runtime.id} (${version})`);
    const result = await run(runtime.command, [...runtime.args, 'smoke-runner.mjs'], { cwd: project, env: cleanEnv(), timeoutMs: 120_000 });
    ran.push(`${runtime.id} ${version} (${result.ms} ms)`);
  }

  heading('release:dry passed');
  for (const pkg of packages) {
    console.log(`${pkg.name}@${pkg.version}: ${kilobytes(tarball(pkg.name))} packed, ${pkg.entryPoints.length} entry point(s), ${pkg.smokeFiles.length} smoke script(s)`);
  }
  console.log(`smoke ran on: ${ran.join(', ')}`);
}

/**
 * `pnpm pack` one package into the temporary folder; returns the tarball's path.
 *
 * @param {import('./workspace.mjs').PublishablePackage} pkg
 */
async function pack(pkg) {
  const [command, leading] = pnpmCommand();
  const { stdout } = await run(command, [...leading, 'pack', '--json', '--pack-destination', join(temp, 'tarballs')], {
    cwd: pkg.dir,
    capture: true,
    timeoutMs: 120_000,
  });
  const { filename, files } = /** @type {{ filename: string, files: { path: string }[] }} */ (JSON.parse(stdout.slice(stdout.indexOf('{'))));
  console.log(`packed ${pkg.name}: ${basename(filename)}, ${files.length} files, ${kilobytes(filename)}`);
  return { filename, files: files.map((file) => file.path) };
}

/** @param {string} file */
function kilobytes(file) {
  return `${(statSync(file).size / 1024).toFixed(1)} kB`;
}

/** The environment without pnpm's npm_* variables, so npm and the runtimes see a plain consumer setup. */
function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
}

/**
 * @param {string} file
 * @param {unknown} value
 */
function writeJson(file, value) {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** @param {string} title */
function heading(title) {
  console.log(`\n── ${title}`);
}
