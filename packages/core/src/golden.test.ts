import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SCENARIOS, type GoldenScenario } from './__tests__/golden/scenarios.js';
import { connectionDeadline, connectionStep, openConnection, type ConnectionCommand, type ConnectionEvent, type ConnectionOptions, type ConnectionPhase } from './index.js';

/**
 * Golden traces of the client connection machine (before the kernel-and-layers refactor, issue 25): each scenario of
 * `__tests__/golden/scenarios.ts` is run through `openConnection` and `connectionStep`, and its full trace (for each
 * event: the event, the commands in order, the phase and `connectionDeadline` after it) must equal the checked-in
 * `__tests__/golden/<name>.json`.
 *
 * `UPDATE_GOLDEN=1 npx vitest run src/golden.test.ts` (in `packages/core`) rewrites the files instead of comparing;
 * review the diff before committing it. Without it a missing file fails.
 */

const GOLDEN_DIR = fileURLToPath(new URL('./__tests__/golden/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface TraceStep {
  readonly event: ConnectionEvent;
  readonly commands: readonly ConnectionCommand[];
  readonly phase: ConnectionPhase;
  readonly deadline: number | null;
}

interface Trace {
  readonly name: string;
  readonly rules: string;
  readonly options: unknown;
  readonly seed: number;
  readonly start: number;
  /** What `openConnection` returned. */
  readonly opened: Omit<TraceStep, 'event'>;
  readonly steps: readonly TraceStep[];
}

/**
 * Fails loudly unless `value` is plain JSON data: `null`, booleans, strings, finite numbers (not -0), arrays and
 * plain objects of those, with no `undefined` member. Anything else (a function, a class instance, a Map, NaN)
 * would be lost or changed by a JSON round trip, so a command holding it could not be pinned by a golden file.
 */
function assertPlainData(value: unknown, path: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Object.is(value, -0)) throw new Error(`${path} is ${String(value)}: not representable in JSON`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      assertPlainData(item, `${path}[${String(i)}]`);
    });
    return;
  }
  if (typeof value === 'object') {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw new Error(`${path} is not a plain object (${Object.prototype.toString.call(value)})`);
    for (const [key, member] of Object.entries(value)) assertPlainData(member, `${path}.${key}`);
    return;
  }
  throw new Error(`${path} is a ${typeof value}: not plain data`);
}

/** The commands, checked to be plain data and to survive a JSON round trip unchanged. */
function plainCommands(commands: readonly ConnectionCommand[], where: string): readonly ConnectionCommand[] {
  commands.forEach((command, i) => {
    assertPlainData(command, `${where} command ${String(i)} (${command.type})`);
  });
  const copy = JSON.parse(JSON.stringify(commands)) as ConnectionCommand[];
  expect(copy, `${where}: commands change in a JSON round trip`).toStrictEqual([...commands]);
  return copy;
}

/** The options as JSON: the resume layer (functions) is named by its validated config. */
function describeOptions(options: ConnectionOptions): unknown {
  const { resume, ...rest } = options;
  const described = resume === undefined || resume === false ? rest : { ...rest, resume: { layer: 'resumable', config: resume.config } };
  return JSON.parse(JSON.stringify(described)) as unknown;
}

function runScenario(scenario: GoldenScenario): Trace {
  const [initial, openCommands] = openConnection(scenario.options, scenario.start, scenario.seed);
  let state = initial;
  const opened = { commands: plainCommands(openCommands, 'openConnection'), phase: state.phase, deadline: connectionDeadline(state) };
  const steps: TraceStep[] = [];
  scenario.events.forEach((event, i) => {
    assertPlainData(event, `event ${String(i)}`);
    const out: ConnectionCommand[] = [];
    state = connectionStep(state, event, out);
    steps.push({ event, commands: plainCommands(out, `event ${String(i)} (${event.type})`), phase: state.phase, deadline: connectionDeadline(state) });
  });
  return { name: scenario.name, rules: scenario.rules, options: describeOptions(scenario.options), seed: scenario.seed, start: scenario.start, opened, steps };
}

const json = (value: unknown): string => JSON.stringify(value);

/** One command (or event) per line: small files whose diffs read as traces. */
function formatTrace(trace: Trace): string {
  const commands = (list: readonly ConnectionCommand[], indent: string): string =>
    list.length === 0 ? '[]' : `[\n${list.map((command) => `${indent}  ${json(command)}`).join(',\n')}\n${indent}]`;
  const step = (s: TraceStep): string =>
    ['    {', `      "event": ${json(s.event)},`, `      "commands": ${commands(s.commands, '      ')},`, `      "phase": ${json(s.phase)},`, `      "deadline": ${json(s.deadline)}`, '    }'].join('\n');
  return [
    '{',
    `  "name": ${json(trace.name)},`,
    `  "rules": ${json(trace.rules)},`,
    `  "options": ${json(trace.options)},`,
    `  "seed": ${json(trace.seed)},`,
    `  "start": ${json(trace.start)},`,
    '  "opened": {',
    `    "commands": ${commands(trace.opened.commands, '    ')},`,
    `    "phase": ${json(trace.opened.phase)},`,
    `    "deadline": ${json(trace.opened.deadline)}`,
    '  },',
    `  "steps": [\n${trace.steps.map(step).join(',\n')}\n  ]`,
    '}',
    '',
  ].join('\n');
}

describe('golden traces of the connection machine', () => {
  it('scenario names are unique file names, and every golden file belongs to a scenario', () => {
    const names = SCENARIOS.map((scenario) => scenario.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    if (UPDATE) return;
    const orphans = readdirSync(GOLDEN_DIR)
      .filter((file) => file.endsWith('.json'))
      .filter((file) => !names.includes(file.slice(0, -'.json'.length)));
    expect(orphans, 'golden files without a scenario (delete them)').toEqual([]);
  });

  for (const scenario of SCENARIOS) {
    it(`golden trace ${scenario.rules} ${scenario.title} (${scenario.name})`, () => {
      const trace = runScenario(scenario);
      const file = `${GOLDEN_DIR}${scenario.name}.json`;
      const text = formatTrace(trace);
      if (UPDATE) {
        const before = existsSync(file) ? readFileSync(file, 'utf8') : null;
        if (before !== text) writeFileSync(file, text);
        console.info(`UPDATE_GOLDEN=1: ${before === null ? 'wrote' : before === text ? 'unchanged' : 'rewrote'} ${scenario.name}.json`);
        return;
      }
      if (!existsSync(file)) {
        throw new Error(`golden file ${scenario.name}.json is missing: run \`UPDATE_GOLDEN=1 npx vitest run src/golden.test.ts\` in packages/core and review it`);
      }
      const expected = JSON.parse(readFileSync(file, 'utf8')) as Trace;
      const actual = JSON.parse(text) as Trace;
      expect({ ...actual, opened: undefined, steps: undefined }, 'scenario header (options, seed, start)').toEqual({ ...expected, opened: undefined, steps: undefined });
      expect(actual.opened, 'openConnection').toEqual(expected.opened);
      const count = Math.max(actual.steps.length, expected.steps.length);
      for (let i = 0; i < count; i++) {
        const got = actual.steps[i];
        const want = expected.steps[i];
        const event = json((got ?? want)?.event);
        expect(got, `step ${String(i)} ${event}`).toEqual(want);
      }
    });
  }
});
