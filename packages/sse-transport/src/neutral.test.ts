import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What the browser, bun, deno and default export conditions give (dist/index.js) imports no `node:` module, through
 * every file it reaches; only the Node entries do.
 */

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../dist');

function graph(entry: string): { files: Set<string>; bare: Set<string> } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const pending = [join(DIST, entry)];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const [, specifier] of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) {
      if (specifier!.startsWith('.')) pending.push(resolve(dirname(file), specifier!));
      else bare.add(specifier!);
    }
  }
  return { files, bare };
}

describe('the runtime-neutral entry', () => {
  it('reaches no node: module, only the core, the runtime package and eventsource-parser', () => {
    const { files, bare } = graph('index.js');
    expect([...bare].sort()).toEqual(['@keepalive/core', '@keepalive/node-timers', 'eventsource-parser']);
    expect([...files].some((file) => file.endsWith('/node.js'))).toBe(false);
    for (const file of files) expect(readFileSync(file, 'utf8')).not.toMatch(/['"]node:/);
  });

  it('the Node entries add the http adapter, which imports node:http for its types only (no node: import at run time)', () => {
    const node = graph('index.node.js');
    expect(node.files.has(join(DIST, 'node.js'))).toBe(true);
    expect([...node.bare].filter((specifier) => specifier.startsWith('node:'))).toEqual([]);
  });
});
