import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * docs/rules.md is where users look the rules up (S1–S10, B1–B17): every rule there names the files that carry it out
 * and the tests that check it. This keeps it true: each rule has a `Where:` with at least one file and a `Tests:` with
 * at least one test, every file named exists, and every test named mentions the rule's id. A rule without a file or a
 * test fails here.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const text = readFileSync(join(ROOT, 'docs/rules.md'), 'utf8');
const EXPECTED = [...Array.from({ length: 10 }, (_, i) => `S${String(i + 1)}`), ...Array.from({ length: 17 }, (_, i) => `B${String(i + 1)}`)];

interface Rule {
  readonly id: string;
  readonly where: string[];
  readonly tests: string[];
}

function rules(): Rule[] {
  const sections = text.split(/^### /m).slice(1);
  return sections.map((section) => {
    const id = /^([SB]\d+)\b/.exec(section)?.[1] ?? section.slice(0, 10);
    const body = section.replace(/\s+/g, ' ');
    const where = /Where: (.*?)(?: Tests:|$)/.exec(body)?.[1] ?? '';
    const tests = /Tests: (.*)$/.exec(body)?.[1] ?? '';
    const paths = (part: string): string[] => [...part.matchAll(/`([^`]+\.(?:ts|mjs|md))`/g)].map((match) => match[1] as string);
    return { id, where: paths(where), tests: paths(tests) };
  });
}

describe('docs/rules.md', () => {
  const all = rules();

  it('has every rule, S1–S10 and B1–B17, once and in order', () => {
    expect(all.map((rule) => rule.id)).toEqual(EXPECTED);
  });

  it.each(EXPECTED)('%s names the files that carry it out, and they exist', (id) => {
    const rule = all.find((candidate) => candidate.id === id);
    expect(rule?.where.length, `${id} has no Where: file`).toBeGreaterThan(0);
    expect(rule?.where.filter((path) => !existsSync(join(ROOT, path)))).toEqual([]);
  });

  it.each(EXPECTED)('%s names tests that exist and mention it', (id) => {
    const rule = all.find((candidate) => candidate.id === id);
    expect(rule?.tests.length, `${id} has no Tests: file`).toBeGreaterThan(0);
    const word = new RegExp(`\\b${id}\\b`);
    const silent = (rule?.tests ?? []).filter((path) => !existsSync(join(ROOT, path)) || !word.test(readFileSync(join(ROOT, path), 'utf8')));
    expect(silent, `${id}: tests that are missing or never name ${id}`).toEqual([]);
  });
});
