// @ts-check
/**
 * `node tools/release/src/changesets-lint.mjs [--dir=<folder>]`: checks the pending changesets (`.changeset/*.md`)
 * before they become CHANGELOG entries. A changeset is refused when it
 *
 *   - does not parse (frontmatter mapping package names to major / minor / patch / none),
 *   - names a package that is not a publishable package under `packages/` (no `"private": true`),
 *   - has an empty summary,
 *   - reads like a work log rather than release notes: outside code spans and code blocks it names a source file
 *     (`kernel.ts`), refers to an issue or pull request (`issue 12`, `#12`), or speaks as "I" or "we".
 *
 * It prints one line per problem and exits with 1 when there is any. `release-dry.mjs` runs it first;
 * CONTRIBUTING.md ("Recording a change") says what a changeset should read like.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ROOT, isRecord, readJson } from './workspace.mjs';

/**
 * @typedef {object} ParsedChangeset
 * @property {{ name: string, type: string }[]} releases
 * @property {string} summary
 */

/** Names that look like source files but are products, not files of this repository. */
const PRODUCT_NAMES = new Set(['node.js', 'next.js', 'nuxt.js', 'vue.js', 'express.js', 'deno.js', 'bun.js']);

/** @type {{ pattern: RegExp, problem: (match: string) => string }[]} */
const WORK_LOG = [
  { pattern: /\b[\w-]+\.(?:[cm]?[jt]s|[jt]sx)\b/g, problem: (match) => `names the source file "${match}" (say what changed for the user)` },
  { pattern: /\b(?:issues?|PRs?|pull requests?)\s+#?\d+\b/gi, problem: (match) => `refers to "${match}" (release notes stand on their own)` },
  { pattern: /(?<![&\w])(?:[\w.-]+\/[\w.-]+)?#\d+\b/g, problem: (match) => `refers to "${match}" (release notes stand on their own)` },
  { pattern: /(?<![\w/-])I(?=\s|['’](?:m|ve|d|ll)\b)/g, problem: () => 'speaks as "I" (write what the package does)' },
  { pattern: /\b[Ww]e(?=\s|['’](?:ve|re|d|ll)\b)/g, problem: () => 'speaks as "we" (write what the package does)' },
];

/**
 * The changeset parser the CLI uses (`@changesets/parse`, resolved from `@changesets/cli`), or `null` when it cannot
 * be resolved; the fallback below reads the same simple frontmatter.
 *
 * @param {string} root
 * @returns {((contents: string) => ParsedChangeset) | null}
 */
function changesetsParser(root) {
  try {
    const cli = realpathSync(join(root, 'node_modules/@changesets/cli/package.json'));
    const parse = /** @type {{ default?: unknown }} */ (createRequire(cli)('@changesets/parse'));
    const fn = typeof parse.default === 'function' ? parse.default : parse;
    return typeof fn === 'function' ? /** @type {(contents: string) => ParsedChangeset} */ (fn) : null;
  } catch {
    return null;
  }
}

/**
 * A minimal reading of a changeset: `---`, lines of `"name": type`, `---`, then the summary.
 *
 * @param {string} contents
 * @returns {ParsedChangeset}
 */
function parseSimply(contents) {
  const match = /^\s*---\r?\n([\s\S]*?)\r?\n\s*---(?:\r?\n|$)([\s\S]*)$/.exec(contents);
  if (match === null) throw new Error('missing or invalid frontmatter (expected lines of "name": bump between --- lines)');
  const releases = (match[1] ?? '')
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const release = /^\s*(["']?)([^"':]+)\1\s*:\s*(\w+)\s*$/.exec(line);
      if (release === null) throw new Error(`invalid frontmatter line: ${line.trim()}`);
      return { name: release[2] ?? '', type: release[3] ?? '' };
    });
  for (const { name, type } of releases) {
    if (!['major', 'minor', 'patch', 'none'].includes(type)) throw new Error(`invalid bump "${type}" for ${name}`);
  }
  return { releases, summary: (match[2] ?? '').trim() };
}

/**
 * The names of the publishable packages: `packages/<folder>/package.json` without `"private": true`. Read directly
 * (not through `describePackage`), so that a package still being written cannot make this check throw.
 *
 * @param {string} root
 * @returns {Set<string>}
 */
export function publishableNames(root = ROOT) {
  const packagesDir = join(root, 'packages');
  const names = new Set();
  for (const entry of readdirSync(packagesDir, { withFileTypes: true })) {
    const manifestPath = join(packagesDir, entry.name, 'package.json');
    if (!entry.isDirectory() || !existsSync(manifestPath)) continue;
    const manifest = readJson(manifestPath);
    if (isRecord(manifest) && typeof manifest['name'] === 'string' && manifest['private'] !== true) names.add(manifest['name']);
  }
  return names;
}

/**
 * The summary with fenced code blocks and inline code spans blanked out (line breaks kept, so line numbers hold).
 *
 * @param {string} summary
 * @returns {string}
 */
export function proseOf(summary) {
  const blank = (/** @type {string} */ text) => text.replace(/[^\n]/g, ' ');
  const lines = summary.split('\n');
  /** @type {string | null} */
  let fence = null;
  const outsideBlocks = lines.map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === null && marker !== undefined) {
      fence = marker;
      return '';
    }
    if (fence !== null) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = null;
      return '';
    }
    return line;
  });
  return outsideBlocks.join('\n').replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (span) => blank(span));
}

/**
 * What is wrong with one changeset's text, as messages without the file name.
 *
 * @param {string} contents
 * @param {ReadonlySet<string>} publishable
 * @param {((contents: string) => ParsedChangeset) | null} [parse]
 * @returns {string[]}
 */
export function changesetProblems(contents, publishable, parse = null) {
  /** @type {ParsedChangeset} */
  let parsed;
  try {
    parsed = (parse ?? parseSimply)(contents);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return [`does not parse: ${message.split('\n').slice(0, 2).join(' ')}`];
  }
  const problems = [];
  if (parsed.releases.length === 0) problems.push('names no package');
  for (const { name } of parsed.releases) {
    if (!publishable.has(name)) problems.push(`names "${name}", which is not a publishable package under packages/`);
  }
  if (parsed.summary.trim() === '') {
    problems.push('has an empty summary');
    return problems;
  }
  const prose = proseOf(parsed.summary);
  // Line numbers in the file: the summary starts after the frontmatter.
  const start = contents.indexOf(parsed.summary);
  const before = start < 0 ? 0 : contents.slice(0, start).split('\n').length - 1;
  /** @type {[number, string][]} */
  const found = [];
  for (const { pattern, problem } of WORK_LOG) {
    for (const match of prose.matchAll(pattern)) {
      if (PRODUCT_NAMES.has(match[0].toLowerCase())) continue;
      found.push([before + prose.slice(0, match.index).split('\n').length, problem(match[0].replace(/\s+/g, ' '))]);
    }
  }
  found.sort((a, b) => a[0] - b[0]);
  return [...problems, ...found.map(([line, problem]) => `line ${line}: ${problem}`)];
}

/**
 * Checks every pending changeset in `dir` (every `.md` file but `README.md`, as changesets reads them).
 *
 * @param {{ dir?: string, root?: string }} [options]
 * @returns {{ files: string[], problems: string[] }}
 */
export function lintChangesets({ root = ROOT, dir = join(root, '.changeset') } = {}) {
  const publishable = publishableNames(root);
  const parse = changesetsParser(root);
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((file) => file.endsWith('.md') && file.toLowerCase() !== 'readme.md')
        .sort()
    : [];
  const shown = relative(process.cwd(), dir) || '.';
  const problems = files.flatMap((file) =>
    changesetProblems(readFileSync(join(dir, file), 'utf8'), publishable, parse).map((problem) => `${join(shown, file)}: ${problem}`),
  );
  return { files, problems };
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { dir: { type: 'string' } } });
  const { files, problems } = lintChangesets(values.dir === undefined ? {} : { dir: values.dir });
  if (problems.length > 0) {
    console.error(`${problems.length} problem(s) in ${files.length} pending changeset(s):\n  ${problems.join('\n  ')}`);
    console.error('A changeset is a CHANGELOG entry for users: what changed for them, breaking changes first (CONTRIBUTING.md).');
    process.exitCode = 1;
  } else {
    console.log(`${files.length} pending changeset(s): names and summaries fit for a CHANGELOG`);
  }
}
