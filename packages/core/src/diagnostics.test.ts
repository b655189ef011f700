import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONNECTION_DIAGNOSTICS, DELIVERY_DIAGNOSTICS, PEER_DIAGNOSTICS, RECONNECT_DIAGNOSTICS, RESUME_DIAGNOSTICS, SESSION_DIAGNOSTICS } from './index.js';

/**
 * S10, one vocabulary: the machines write each diagnostic's name where they emit it (a literal: a bundler cannot drop
 * a table that is read by property), and every name they can emit is one of the documented, exported tables. A name
 * emitted that is in no table (a typo, an undocumented diagnostic) fails here.
 */
describe('S10: every diagnostic the core emits is a documented name', () => {
  it('each `diagnostic(level, name, ...)` in the core names a value of an exported diagnostics table', () => {
    const documented = new Set<string>(
      [CONNECTION_DIAGNOSTICS, SESSION_DIAGNOSTICS, RECONNECT_DIAGNOSTICS, RESUME_DIAGNOSTICS, DELIVERY_DIAGNOSTICS, PEER_DIAGNOSTICS].flatMap((table) => Object.values(table)),
    );
    const dir = new URL('./', import.meta.url);
    const emitted = new Map<string, string>();
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      for (const match of source.matchAll(/diagnostic\(\s*'(?:debug|info|warn)',\s*'([a-z_]+)'/g)) emitted.set(match[1] ?? '', file);
      // Any other way of naming one (a variable, a table read) is checked by the tables' own tests, not here.
    }
    expect(emitted.size).toBeGreaterThan(30);
    expect([...emitted].filter(([name]) => !documented.has(name)).map(([name, file]) => `${name} (${file})`)).toEqual([]);
  });
});
