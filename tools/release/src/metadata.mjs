// @ts-check
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRecord } from './workspace.mjs';

/**
 * The Node releases a package that runs on Node must name in `engines.node`. The packages are ES modules only; these
 * are the releases that load them from `import` and from a CommonJS `require()` alike (require(esm) is on by default
 * from Node 20.19 and 22.12). The smoke run checks `require()` of every entry point on Node 20 and Node 24.
 */
export const NODE_ENGINES = '^20.19.0 || >=22.12.0';

/** Files that must never ship: tests, test support and smoke scripts. */
const UNPUBLISHABLE = /(^|\/)(smoke|test-support|__tests__|test)\/|\.(test|spec)\.[cm]?[jt]sx?$/;

/**
 * What a publishable package still lacks (CONTRIBUTING.md, "What a publishable package contains"): package.json
 * fields, LICENSE, a README with an install line, an example and an API table, and a clean file list.
 *
 * @param {import('./workspace.mjs').PublishablePackage} pkg
 * @param {readonly string[]} [packedFiles] paths inside the tarball, when it has been packed
 * @returns {string[]} one line per problem; empty when complete
 */
export function metadataProblems(pkg, packedFiles) {
  const manifest = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (pkg.manifest));
  const problems = [];
  const need = (/** @type {boolean} */ ok, /** @type {string} */ problem) => {
    if (!ok) problems.push(problem);
  };
  const nonEmptyString = (/** @type {unknown} */ value) => typeof value === 'string' && value.trim() !== '';
  const nonEmpty = (/** @type {unknown} */ value) => (Array.isArray(value) ? value.length > 0 : isRecord(value) && Object.keys(value).length > 0);

  need(nonEmptyString(manifest['name']), 'package.json: no name');
  need(typeof manifest['version'] === 'string' && /^\d+\.\d+\.\d+/.test(manifest['version']), 'package.json: no semver version');
  need(nonEmptyString(manifest['description']), 'package.json: no description');
  need(manifest['license'] === 'MIT', 'package.json: license is not "MIT"');
  const repository = manifest['repository'];
  need(isRecord(repository) && nonEmptyString(repository['url']), 'package.json: no repository.url');
  need(isRecord(repository) && repository['directory'] === pkg.relDir, `package.json: repository.directory is not "${pkg.relDir}"`);
  need(nonEmpty(manifest['keywords']), 'package.json: no keywords');
  need(nonEmpty(manifest['engines']), 'package.json: no engines');
  const engines = manifest['engines'];
  if (isRecord(engines) && engines['node'] !== undefined) {
    need(engines['node'] === NODE_ENGINES, `package.json: engines.node is ${JSON.stringify(engines['node'])}, not "${NODE_ENGINES}" (ES modules only: see CONTRIBUTING.md)`);
  }
  need(nonEmpty(manifest['files']), 'package.json: no files list');
  need(manifest['sideEffects'] === false, 'package.json: sideEffects is not false');
  const publishConfig = manifest['publishConfig'];
  need(isRecord(publishConfig) && publishConfig['access'] === 'public', 'package.json: publishConfig.access is not "public"');
  need(manifest['exports'] !== undefined, 'package.json: no exports map');
  for (const where of conditionsNotTypesFirst(manifest['exports'], 'exports')) problems.push(`package.json: ${where} lists "types" after other conditions`);

  need(existsSync(join(pkg.dir, 'LICENSE')) && /MIT License/.test(readFileSync(join(pkg.dir, 'LICENSE'), 'utf8')), 'LICENSE: missing or not MIT');
  const readmeFile = join(pkg.dir, 'README.md');
  const readme = existsSync(readmeFile) ? readFileSync(readmeFile, 'utf8') : '';
  need(readme !== '', 'README.md: missing');
  if (readme !== '') {
    need(readme.includes(`npm install ${pkg.name}`), `README.md: no "npm install ${pkg.name}" line`);
    const importsItself = [`from '${pkg.name}'`, `from '${pkg.name}/`, `from "${pkg.name}"`, `from "${pkg.name}/`].some((text) => readme.includes(text));
    need(/```(ts|typescript|js|javascript)\n/.test(readme) && importsItself, `README.md: no example (a code block importing ${pkg.name})`);
    need(/^\|.*\|\s*\n\|\s*:?-{3,}/m.test(readme), 'README.md: no API table');
  }

  if (packedFiles !== undefined) {
    for (const file of ['package.json', 'README.md', 'LICENSE']) need(packedFiles.includes(file), `tarball: no ${file}`);
    for (const file of packedFiles.filter((path) => UNPUBLISHABLE.test(path))) problems.push(`tarball: ships ${file}`);
  }
  return problems;
}

/**
 * Paths of condition objects in `exports` whose `types` key is not first.
 *
 * @param {unknown} value
 * @param {string} path
 * @returns {string[]}
 */
function conditionsNotTypesFirst(value, path) {
  if (!isRecord(value)) return [];
  const keys = Object.keys(value);
  const here = keys.includes('types') && keys[0] !== 'types' ? [path] : [];
  return [...here, ...keys.flatMap((key) => conditionsNotTypesFirst(value[key], `${path}["${key}"]`))];
}
