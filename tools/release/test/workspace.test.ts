import { describe, expect, it } from 'vitest';
import { entryPoints, publishablePackages, supportedFamilies } from '../src/workspace.mjs';

describe('publishablePackages', () => {
  it('finds every non-private packages/* with its entry points, including @keepalive/core', () => {
    const packages = publishablePackages();
    const core = packages.find((pkg) => pkg.name === '@keepalive/core');
    expect(core?.relDir).toBe('packages/core');
    expect(core?.exportStyle).toBe('esm-only');
    expect(core?.smokeFiles.map((smoke) => smoke.file)).toContain('heartbeat.mjs');
    expect(packages.every((pkg) => pkg.manifest.private !== true)).toBe(true);
  });
});

describe('entryPoints', () => {
  it('lists subpaths with their specifier and types, skipping wildcards and blocked subpaths', () => {
    const entries = entryPoints({
      name: '@keepalive/x',
      version: '1.0.0',
      exports: {
        '.': { types: './dist/index.d.ts', default: './dist/index.js' },
        './compat': './dist/compat.js',
        './internal/*': './dist/internal/*.js',
        './hidden': null,
        './package.json': './package.json',
      },
    });
    expect(entries).toEqual([
      { subpath: '.', specifier: '@keepalive/x', json: false, types: './dist/index.d.ts' },
      { subpath: './compat', specifier: '@keepalive/x/compat', json: false, types: './dist/compat.d.ts' },
      { subpath: './package.json', specifier: '@keepalive/x/package.json', json: true, types: null },
    ]);
  });

  it('treats a conditions object or a string as the root subpath', () => {
    expect(entryPoints({ name: 'p', version: '1.0.0', exports: './index.mjs' })).toEqual([
      { subpath: '.', specifier: 'p', json: false, types: './index.d.mts' },
    ]);
    expect(entryPoints({ name: 'p', version: '1.0.0', exports: { import: './a.js', require: './a.cjs' } })[0]?.specifier).toBe('p');
  });
});

describe('supportedFamilies', () => {
  it('reads engines: node means every runtime, bun or deno alone means only that one', () => {
    expect(supportedFamilies({ node: '>=20' })).toEqual(['node', 'bun', 'deno']);
    expect(supportedFamilies(undefined)).toEqual(['node', 'bun', 'deno']);
    expect(supportedFamilies({ bun: '>=1.1' })).toEqual(['bun']);
    expect(supportedFamilies({ deno: '>=2' })).toEqual(['deno']);
  });
});
