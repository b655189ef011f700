/**
 * A probe behind the explanations of scenarios 1 and 7 (Node, Bun or Deno):
 * how much of the core's per-event time is the state copy it makes on every
 * event that changes something. `draft()` in @keepalive/core is
 * `{ ...state, now }`; this copies the built core to a temporary folder,
 * rewrites that one function as a field-by-field copy, and times the stock
 * and the rewritten core on the same stream, alternating, in one process.
 * Nothing in the repository is changed. Prints one JSON line; `patched` is
 * false when draft() no longer has that shape.
 *
 *   draft-probe-child.mjs <events> <minCpuMs>
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as stock from '@keepalive/core';
import { measure } from 'mitata';
import { SESSION_OPTIONS, makeStream } from './workload.mjs';

const length = Number(process.argv[2] ?? 10_000);
const minCpuMs = Number(process.argv[3] ?? 500);
const DRAFT = /function draft\(state, now\) \{\s*return \{ \.\.\.state, now \};\s*\}/;

const dist = dirname(fileURLToPath(import.meta.resolve('@keepalive/core')));
const source = readFileSync(join(dist, 'session.js'), 'utf8');
const events = makeStream(length);

async function timeReplay(core) {
  const config = core.defineSessionConfig(SESSION_OPTIONS);
  const out = [];
  let sink = 0;
  const replay = () => {
    let state = core.createSessionState(config, 0);
    for (let i = 0; i < events.length; i++) {
      state = core.step(state, events[i], out);
      out.length = 0;
    }
    sink += state.total;
  };
  for (let i = 0; i < 20; i++) replay();
  const stats = await measure(replay, { min_cpu_time: minCpuMs * 1e6, min_samples: 8 });
  return { ns: stats.p50 / length, sink };
}

let result;
if (!DRAFT.test(source)) {
  result = { patched: false };
} else {
  const folder = mkdtempSync(join(tmpdir(), 'keepalive-draft-probe-'));
  try {
    cpSync(dist, folder, { recursive: true });
    const fields = Object.keys(stock.createSessionState());
    const body = fields.map((key) => (key === 'now' ? 'now' : `${key}: state.${key}`)).join(', ');
    writeFileSync(join(folder, 'session.js'), source.replace(DRAFT, `function draft(state, now) { return { ${body} }; }`));
    const patched = await import(pathToFileURL(join(folder, 'index.js')).href);
    const a1 = await timeReplay(stock);
    const b1 = await timeReplay(patched);
    const a2 = await timeReplay(stock);
    const b2 = await timeReplay(patched);
    result = { patched: true, stockNs: Math.min(a1.ns, a2.ns), explicitNs: Math.min(b1.ns, b2.ns) };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
console.log(JSON.stringify(result));
