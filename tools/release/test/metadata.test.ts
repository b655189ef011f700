import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { metadataProblems } from '../src/metadata.mjs';
import { ROOT, describePackage } from '../src/workspace.mjs';

describe('metadataProblems', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'keepalive-metadata-test-'));
  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it('finds nothing missing in @keepalive/core', () => {
    const core = describePackage(join(ROOT, 'packages/core'), 'packages/core');
    expect(metadataProblems(core, ['package.json', 'README.md', 'LICENSE', 'dist/index.js'])).toEqual([]);
  });

  it('names every missing field and file, types not first, and test files in the tarball', () => {
    writeFileSync(
      join(scratch, 'package.json'),
      JSON.stringify({
        name: '@keepalive/bare',
        version: '0.0.0',
        license: 'ISC',
        exports: { '.': { default: './dist/index.js', types: './dist/index.d.ts' } },
      }),
    );
    const problems = metadataProblems(describePackage(scratch, 'packages/bare'), ['package.json', 'dist/index.test.js', 'smoke/a.mjs']);
    expect(problems).toEqual([
      'package.json: no description',
      'package.json: license is not "MIT"',
      'package.json: no repository.url',
      'package.json: repository.directory is not "packages/bare"',
      'package.json: no keywords',
      'package.json: no engines',
      'package.json: no files list',
      'package.json: sideEffects is not false',
      'package.json: publishConfig.access is not "public"',
      'package.json: exports["."] lists "types" after other conditions',
      'LICENSE: missing or not MIT',
      'README.md: missing',
      'tarball: no README.md',
      'tarball: no LICENSE',
      'tarball: ships dist/index.test.js',
      'tarball: ships smoke/a.mjs',
    ]);
  });

  it('asks the README for the install line, an example importing the package and an API table', () => {
    writeFileSync(join(scratch, 'README.md'), '# @keepalive/bare\n\nNothing here yet.\n');
    const problems = metadataProblems(describePackage(scratch, 'packages/bare'));
    expect(problems.filter((problem) => problem.startsWith('README.md'))).toEqual([
      'README.md: no "npm install @keepalive/bare" line',
      'README.md: no example (a code block importing @keepalive/bare)',
      'README.md: no API table',
    ]);
  });
});
