import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { ROOT } from '../src/workspace.mjs';

/** pnpm's own commands: `pnpm <one of these>` is not a script. Anything else after `pnpm` must be a root script. */
const PNPM_COMMANDS = new Set(['install', 'i', 'add', 'remove', 'update', 'exec', 'dlx', 'pack', 'publish', 'store', 'audit', 'config', 'why', 'list']);
/** pnpm options that take a value, skipped with it. */
const OPTIONS_WITH_VALUE = new Set(['--filter', '-F', '--dir', '-C']);

const rootScripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

function loadWorkflow(name: string): unknown {
  const document = parseDocument(readFileSync(join(ROOT, '.github/workflows', name), 'utf8'));
  expect(document.errors.map((error) => error.message)).toEqual([]);
  expect(document.warnings.map((warning) => warning.message)).toEqual([]);
  return document.toJS();
}

/** Every string anywhere in a parsed YAML value (`run:` steps, `with:` inputs such as changesets' `publish`). */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(strings);
  return [];
}

/** The script each `pnpm run X` / `pnpm X` in a shell string names (pnpm's own commands excluded). */
function scriptsNamed(shell: string): string[] {
  const named: string[] = [];
  for (const match of shell.matchAll(/(?:^|[\s;&|(])pnpm((?:[ \t]+[^\s;&|)]+)+)/g)) {
    const words = (match[1] ?? '').trim().split(/[ \t]+/);
    let index = 0;
    while (words[index]?.startsWith('-') === true) index += OPTIONS_WITH_VALUE.has(words[index] ?? '') ? 2 : 1;
    const command = words[index];
    if (command === undefined || PNPM_COMMANDS.has(command)) continue;
    const script = command === 'run' ? words[index + 1] : command;
    if (script !== undefined) named.push(script);
  }
  return named;
}

describe('scriptsNamed', () => {
  it('finds `pnpm run X` and `pnpm X`, and skips pnpm commands and options', () => {
    expect(scriptsNamed('pnpm install --frozen-lockfile && pnpm run check')).toEqual(['check']);
    expect(scriptsNamed('pnpm release:dry --runtimes=bun\npnpm --filter x run build')).toEqual(['release:dry', 'build']);
    expect(scriptsNamed('npx -y pnpm@10.34.9 install')).toEqual([]);
  });
});

describe.each(['ci.yml', 'release.yml'])('.github/workflows/%s', (name) => {
  const workflow = loadWorkflow(name) as { on?: unknown; jobs?: Record<string, { steps?: unknown[] }> };

  it('parses as a workflow with triggers and jobs that have steps', () => {
    expect(workflow.on).toBeDefined();
    const jobs = Object.values(workflow.jobs ?? {});
    expect(jobs.length).toBeGreaterThan(0);
    for (const job of jobs) expect(job.steps?.length).toBeGreaterThan(0);
  });

  it('names only scripts that exist in the root package.json', () => {
    const named = strings(workflow).flatMap(scriptsNamed);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((script) => !(script in rootScripts))).toEqual([]);
  });
});

describe('the hosted flow', () => {
  it('ci.yml has Node, Bun and Deno jobs', () => {
    const { jobs } = loadWorkflow('ci.yml') as { jobs: Record<string, unknown> };
    expect(Object.keys(jobs)).toEqual(expect.arrayContaining(['node', 'bun', 'deno']));
  });

  it('release.yml versions and publishes through changesets/action with the root scripts', () => {
    const { jobs } = loadWorkflow('release.yml') as { jobs: Record<string, { steps: { uses?: string; with?: Record<string, string> }[] }> };
    const step = Object.values(jobs)
      .flatMap((job) => job.steps)
      .find((candidate) => candidate.uses?.startsWith('changesets/action@') === true);
    expect(step?.with?.version).toBe('pnpm run version');
    expect(step?.with?.publish).toBe('pnpm run release');
  });

  it('the root scripts (and tools/check.mjs, which `check` runs) name only scripts that exist', () => {
    // check.mjs runs pnpm as `[...PNPM, 'run', 'name']`.
    const check = readFileSync(join(ROOT, 'tools/check.mjs'), 'utf8');
    const fromCheck = [...check.matchAll(/\.\.\.PNPM, 'run', '([^']+)'/g)].map((match) => match[1] ?? '');
    expect(rootScripts.check).toBe('node tools/check.mjs');
    const named = [...Object.values(rootScripts).flatMap(scriptsNamed), ...fromCheck];
    expect(named).toEqual(expect.arrayContaining(['release:dry', 'docs:api', 'build']));
    expect(named.filter((script) => !(script in rootScripts))).toEqual([]);
  });
});
