import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/** The package is ready for JSR: deno.json in step with package.json, and `deno publish --dry-run` passes offline. */

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const readJson = (file: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`../${file}`, import.meta.url), 'utf8')) as Record<string, unknown>;

describe('JSR', () => {
  it('deno.json names the package, its version, license and exports, with npm: ranges at the same version', () => {
    const manifest = readJson('package.json');
    const denoJson = readJson('deno.json');
    const version = manifest.version as string;
    expect(denoJson.name).toBe(manifest.name);
    // After `changeset version`, run `node packages/deno/scripts/jsr.mjs --sync`.
    expect(denoJson.version).toBe(version);
    expect(denoJson.license).toBe('MIT');
    expect(denoJson.exports).toBe('./src/index.ts');
    expect(denoJson.imports).toEqual({
      '@keepalive/node-timers': `npm:@keepalive/node-timers@^${version}`,
      '@keepalive/websocket-transport': `npm:@keepalive/websocket-transport@^${version}`,
      '@keepalive/websocket-transport/peer': `npm:@keepalive/websocket-transport@^${version}/peer`,
    });
  });

  it('deno publish --dry-run passes, offline, publishing the sources without tests', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['scripts/jsr.mjs', '--dry-run'], {
      cwd: packageDir,
      timeout: 120_000,
    });
    const out = stdout + stderr;
    expect(out).toContain('Success Dry run complete');
    expect(out).toMatch(/src\/index\.ts/);
    expect(out).not.toMatch(/\.test\.ts|test-support/);
  }, 130_000);
});
